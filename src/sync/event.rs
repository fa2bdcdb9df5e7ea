//! [`Event`]: a flag that greenlets wait on, settable from other threads
//! through an [`EventSetter`].

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::RemoteLink;
use crate::error::Result;
use crate::hub::task::{WaitQueue, Waiter};
use crate::hub::{self, Deadline, HubHandle, Wake};

#[derive(Default)]
struct EventState {
    flag: Cell<bool>,
    /// How many times the flag was raised (by [`Event::set`] or by
    /// absorbing a remote set). A waiter that sees it change since it
    /// subscribed was woken by a set, even if the flag is clear again.
    sets: Cell<u64>,
    waiters: WaitQueue,
    /// Created by the first [`Event::setter`] call.
    remote: RefCell<Option<EventRemote>>,
}

struct EventRemote {
    link: RemoteLink,
    /// Set by other threads; folded into `flag` by the hub's thread.
    pending: Arc<AtomicBool>,
}

impl EventState {
    /// Folds a set made by another thread into the flag.
    fn absorb(&self) {
        if let Some(r) = &*self.remote.borrow() {
            if r.pending.swap(false, Ordering::AcqRel) {
                self.raise();
            }
        }
    }

    fn raise(&self) {
        self.flag.set(true);
        self.sets.set(self.sets.get().wrapping_add(1));
    }

    fn subscribe(&self, w: &Waiter) {
        self.waiters.push(w.clone());
        if let Some(r) = &*self.remote.borrow() {
            r.link.slot.waiters.push(w.clone());
        }
    }
}

/// A flag that greenlets can wait on (gevent's `Event`).
///
/// [`set`](Self::set) raises the flag and wakes every waiting greenlet
/// (all of them, in the order they started waiting); while it is raised,
/// [`wait`](Self::wait) returns at once. [`clear`](Self::clear) lowers it
/// again.
///
/// Every greenlet that was waiting when `set` was called returns success,
/// even if `clear` lowered the flag before it ran (as in gevent and
/// Python's `threading.Event`): a `set` immediately followed by `clear`
/// releases the current waiters, and only later waits block. A waiter
/// that `set` woke and that is killed, or whose `Timeout` scope expires,
/// before it runs keeps the success too; the interrupt fails its next
/// blocking call instead.
///
/// An `Event` is a cheap handle (clones share the flag) and is not `Send`.
/// Other OS threads set it through an [`EventSetter`] from
/// [`setter`](Self::setter), which wakes the hub.
///
/// # Examples
///
/// ```
/// use zgreen::sync::Event;
///
/// let evt = Event::new();
/// let waiters: Vec<_> = (0..3)
///     .map(|i| {
///         let evt = evt.clone();
///         zgreen::spawn(move || evt.wait().map(|_| i))
///     })
///     .collect();
/// zgreen::sleep(std::time::Duration::from_millis(5)).unwrap();
/// evt.set();
/// for w in &waiters {
///     assert!(w.get().unwrap().is_ok());
/// }
/// ```
#[derive(Clone, Default)]
pub struct Event {
    state: Rc<EventState>,
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event").field("set", &self.is_set()).finish()
    }
}

impl Event {
    /// A lowered flag.
    pub fn new() -> Event {
        Event::default()
    }

    /// Raises the flag and wakes every waiter.
    pub fn set(&self) {
        let st = &self.state;
        st.raise();
        st.waiters.notify_all();
        if let Some(r) = &*st.remote.borrow() {
            r.link.slot.waiters.notify_all();
        }
    }

    /// Lowers the flag. Greenlets that a `set` already woke still return
    /// success.
    pub fn clear(&self) {
        self.state.absorb();
        self.state.flag.set(false);
    }

    /// True while the flag is raised (including by an [`EventSetter`]
    /// whose wakeup the hub has not processed yet).
    pub fn is_set(&self) -> bool {
        self.state.absorb();
        self.state.flag.get()
    }

    /// Waits until the flag is raised. Returns at once if it is.
    pub fn wait(&self) -> Result<()> {
        self.wait_until(None)
    }

    /// [`wait`](Self::wait), failing with `Error::Timeout` after `timeout`
    /// (gevent's `wait(timeout)` returns `False` instead; here a timeout
    /// is an error, as for every `_timeout` call).
    pub fn wait_timeout(&self, timeout: Duration) -> Result<()> {
        self.wait_until(Some(Deadline::after(timeout)))
    }

    /// [`wait`](Self::wait), failing with `Error::Timeout` at `deadline`.
    pub fn wait_deadline(&self, deadline: Instant) -> Result<()> {
        self.wait_until(Some(Deadline::at(deadline)))
    }

    fn wait_until(&self, d: Option<Deadline>) -> Result<()> {
        hub::check_interrupt()?;
        loop {
            if self.is_set() {
                return Ok(());
            }
            let sets = self.state.sets.get();
            let w = hub::waiter();
            self.state.subscribe(&w);
            let outcome = hub::park(d);
            // A set since this greenlet subscribed served it, whatever
            // happened next: the flag may be clear again, and an
            // interrupt of the same turn is sticky (it fails the next
            // blocking call).
            self.state.absorb();
            if self.state.sets.get() != sets {
                return Ok(());
            }
            match outcome.result? {
                Wake::Signaled => {}
                Wake::Deadline => return Err(hub::deadline_error(d)),
            }
        }
    }

    /// A thread-safe handle that sets this event from any OS thread,
    /// waking this thread's hub.
    ///
    /// ```
    /// use zgreen::sync::Event;
    ///
    /// let evt = Event::new();
    /// let setter = evt.setter();
    /// std::thread::spawn(move || setter.set());
    /// evt.wait().unwrap();
    /// ```
    pub fn setter(&self) -> EventSetter {
        let st = &self.state;
        let mut remote = st.remote.borrow_mut();
        let r = remote.get_or_insert_with(|| EventRemote {
            link: RemoteLink::new(),
            pending: Arc::new(AtomicBool::new(false)),
        });
        let setter = EventSetter {
            pending: r.pending.clone(),
            key: r.link.key,
            handle: hub::with_hub(|h| h.handle()),
        };
        drop(remote);
        // Greenlets already waiting subscribed before the slot existed:
        // wake them so they subscribe to it too.
        st.waiters.notify_all();
        setter
    }

    pub(crate) fn subscribe(&self, w: &Waiter) {
        self.state.subscribe(w);
    }
}

/// Sets an [`Event`] from any OS thread (obtained with
/// [`Event::setter`]). While a setter exists, the event's hub does not
/// report [`WouldBlockForever`](crate::Error::WouldBlockForever): the
/// setter might still fire.
#[derive(Clone)]
pub struct EventSetter {
    pending: Arc<AtomicBool>,
    key: u64,
    handle: HubHandle,
}

impl fmt::Debug for EventSetter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventSetter").field("key", &self.key).finish()
    }
}

impl EventSetter {
    /// Raises the event and wakes its waiters. Returns false if the
    /// event's hub (its thread) is gone.
    pub fn set(&self) -> bool {
        self.pending.store(true, Ordering::Release);
        self.handle.notify(self.key)
    }
}
