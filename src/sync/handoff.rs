//! A FIFO of parked greenlets that are woken by *handing* them something:
//! a permit, an item, or the news that their item was taken.
//!
//! A plain `WaitQueue` wakes a waiter and lets it race everyone else for
//! the resource; a newcomer that never blocked can win and the woken
//! greenlet goes back to the end of the line. Handing the resource over at
//! release time instead gives strict FIFO fairness: the first greenlet to
//! block is the first served, whatever happens between the release and the
//! moment it runs again.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;

use crate::error::Error;
use crate::hub::task::Waiter;
use crate::hub::{self, Deadline, Wake};

/// One parked greenlet and its payload slot.
///
/// # Invariant
/// `done` is set exactly once, by [`Handoff::complete_first`] (or
/// [`Handoff::complete_all`]), at the same moment the ticket leaves the
/// queue; a ticket that is not done is either in the queue or being
/// removed by its own greenlet.
struct Ticket<P> {
    done: Cell<bool>,
    payload: RefCell<Option<P>>,
    /// The token of the holder's current park (refreshed before each park).
    waiter: RefCell<Option<Waiter>>,
}

/// A FIFO of [`Ticket`]s with payloads of type `P`.
pub(crate) struct Handoff<P> {
    queue: RefCell<VecDeque<Rc<Ticket<P>>>>,
}

impl<P> Default for Handoff<P> {
    fn default() -> Self {
        Handoff {
            queue: RefCell::new(VecDeque::new()),
        }
    }
}

impl<P> fmt::Debug for Handoff<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handoff").field("waiting", &self.len()).finish()
    }
}

impl<P> Handoff<P> {
    /// Greenlets waiting in line.
    pub(crate) fn len(&self) -> usize {
        self.queue.borrow().len()
    }

    /// True if nobody waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.queue.borrow().is_empty()
    }

    /// Serves the first greenlet in line: `f` gets its payload slot (to
    /// take the item out of it or put one in), then the greenlet is woken.
    /// Returns false (without calling `f`) if nobody waits.
    pub(crate) fn complete_first(&self, f: impl FnOnce(&mut Option<P>)) -> bool {
        let ticket = self.queue.borrow_mut().pop_front();
        match ticket {
            None => false,
            Some(t) => {
                f(&mut t.payload.borrow_mut());
                finish(&t);
                true
            }
        }
    }

    /// Wakes every greenlet in line without touching their payloads.
    pub(crate) fn complete_all(&self) {
        let all: Vec<_> = self.queue.borrow_mut().drain(..).collect();
        for t in &all {
            finish(t);
        }
    }

    /// Reads the payload of the first greenlet in line.
    pub(crate) fn with_first<R>(&self, f: impl FnOnce(Option<&P>) -> R) -> R {
        let q = self.queue.borrow();
        match q.front() {
            Some(t) => f(t.payload.borrow().as_ref()),
            None => f(None),
        }
    }

    /// Parks the current greenlet at the back of the line with `payload`
    /// until it is served (then `Ok(payload slot)`), `deadline` passes, or
    /// it is killed / its timeout scope expires (then `Err` with the error
    /// and the untouched payload).
    ///
    /// Being served wins over any error that arrives in the same park: the
    /// operation has happened, and the interrupt surfaces at the next
    /// blocking call instead (it is sticky).
    pub(crate) fn wait(
        &self,
        payload: Option<P>,
        deadline: Option<Deadline>,
    ) -> Result<Option<P>, (Error, Option<P>)> {
        let ticket = Rc::new(Ticket {
            done: Cell::new(false),
            payload: RefCell::new(payload),
            waiter: RefCell::new(None),
        });
        self.queue.borrow_mut().push_back(ticket.clone());
        loop {
            *ticket.waiter.borrow_mut() = Some(hub::waiter());
            let outcome = hub::park(deadline);
            if ticket.done.get() {
                return Ok(ticket.payload.borrow_mut().take());
            }
            let err = match outcome.result {
                Ok(Wake::Signaled) => continue,
                Ok(Wake::Deadline) => hub::deadline_error(deadline),
                Err(e) => e,
            };
            self.queue.borrow_mut().retain(|t| !Rc::ptr_eq(t, &ticket));
            return Err((err, ticket.payload.borrow_mut().take()));
        }
    }
}

fn finish<P>(t: &Ticket<P>) {
    t.done.set(true);
    if let Some(w) = t.waiter.borrow_mut().take() {
        w.wake();
    }
}
