//! The one implementation behind every queue type: a [`Store`] that
//! decides the order, and the [`Core`] that parks and serves greenlets.

use std::cell::{Cell, RefCell};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::rc::Rc;

use super::error::{PutError, ShutdownMode, TaskDoneError, TryGetError, TryPutError};
use crate::error::{Closed, Error, Result};
use crate::hub::task::{WaitQueue, Waiter};
use crate::hub::{self, Deadline};
use crate::sync::handoff::Handoff;

/// The order a [`GenericQueue`](super::GenericQueue) hands its items out
/// in: [`Fifo`], [`Lifo`], [`Priority`] or [`Rendezvous`]. Sealed: these
/// four are the only ones.
pub trait Order<T>: Store<T> {}

impl<T, S: Store<T>> Order<T> for S {}

/// What an order does (not nameable outside the crate, which seals
/// [`Order`]).
pub trait Store<T>: Default {
    /// The queue type's name, for `Debug`.
    const NAME: &'static str;
    /// The capacity every queue of this order has (`Some(0)` for a
    /// rendezvous), or `None` when the constructor decides.
    const FIXED_MAXSIZE: Option<usize> = None;
    fn push(&mut self, item: T);
    fn pop(&mut self) -> Option<T>;
    fn peek(&self) -> Option<&T>;
    fn len(&self) -> usize;
    fn drain_all(&mut self) -> Vec<T>;
}

/// First in, first out: the order of [`Queue`](super::Queue).
#[derive(Debug)]
pub struct Fifo<T>(VecDeque<T>);

impl<T> Default for Fifo<T> {
    fn default() -> Self {
        Fifo(VecDeque::new())
    }
}

impl<T> Store<T> for Fifo<T> {
    const NAME: &'static str = "Queue";
    fn push(&mut self, item: T) {
        self.0.push_back(item);
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop_front()
    }
    fn peek(&self) -> Option<&T> {
        self.0.front()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn drain_all(&mut self) -> Vec<T> {
        self.0.drain(..).collect()
    }
}

/// Last in, first out: the order of [`LifoQueue`](super::LifoQueue).
#[derive(Debug)]
pub struct Lifo<T>(Vec<T>);

impl<T> Default for Lifo<T> {
    fn default() -> Self {
        Lifo(Vec::new())
    }
}

impl<T> Store<T> for Lifo<T> {
    const NAME: &'static str = "LifoQueue";
    fn push(&mut self, item: T) {
        self.0.push(item);
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop()
    }
    fn peek(&self) -> Option<&T> {
        self.0.last()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn drain_all(&mut self) -> Vec<T> {
        std::mem::take(&mut self.0)
    }
}

/// Smallest first, equal items in the order they were put: the order of
/// [`PriorityQueue`](super::PriorityQueue).
#[derive(Debug)]
pub struct Priority<T> {
    heap: BinaryHeap<Reverse<(T, u64)>>,
    seq: u64,
}

impl<T: Ord> Default for Priority<T> {
    fn default() -> Self {
        Priority {
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }
}

impl<T: Ord> Store<T> for Priority<T> {
    const NAME: &'static str = "PriorityQueue";
    fn push(&mut self, item: T) {
        self.seq += 1;
        self.heap.push(Reverse((item, self.seq)));
    }
    fn pop(&mut self) -> Option<T> {
        self.heap.pop().map(|Reverse((t, _))| t)
    }
    fn peek(&self) -> Option<&T> {
        self.heap.peek().map(|Reverse((t, _))| t)
    }
    fn len(&self) -> usize {
        self.heap.len()
    }
    fn drain_all(&mut self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.heap.len());
        while let Some(t) = self.pop() {
            out.push(t);
        }
        out
    }
}

/// No buffer at all, every put meets a get: the order of
/// [`Channel`](super::Channel).
#[derive(Debug)]
pub struct Rendezvous<T>(Fifo<T>);

impl<T> Default for Rendezvous<T> {
    fn default() -> Self {
        Rendezvous(Fifo::default())
    }
}

impl<T> Store<T> for Rendezvous<T> {
    const NAME: &'static str = "Channel";
    const FIXED_MAXSIZE: Option<usize> = Some(0);
    fn push(&mut self, item: T) {
        self.0.push(item);
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop()
    }
    fn peek(&self) -> Option<&T> {
        self.0.peek()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn drain_all(&mut self) -> Vec<T> {
        self.0.drain_all()
    }
}

/// The shared state of every queue type.
///
/// # Invariant
/// * Greenlets wait in `getters` only while `store` is empty, and in
///   `putters` only while the queue is full (always, for a channel): an
///   item put while getters wait is handed to the first of them, and the
///   room freed by a get is filled from the first putter at once.
/// * `unfinished` counts items accepted (stored, or handed to a getter)
///   and not yet marked with `task_done`.
pub(super) struct Core<T, S> {
    pub(super) store: RefCell<S>,
    /// `None`: unbounded. `Some(0)`: a channel (no buffer at all).
    pub(super) maxsize: Option<usize>,
    /// Parked getters; a getter is served by filling its empty slot.
    pub(super) getters: Handoff<T>,
    /// Parked putters; a putter is served by taking its item.
    pub(super) putters: Handoff<T>,
    pub(super) unfinished: Cell<usize>,
    pub(super) joiners: WaitQueue,
    /// Woken when a get could succeed without waiting (for `wait`/`iwait`).
    pub(super) watchers: WaitQueue,
    pub(super) shut_down: Cell<bool>,
}

impl<T, S: Store<T> + Default> Core<T, S> {
    pub(super) fn new(maxsize: Option<usize>) -> Rc<Core<T, S>> {
        Rc::new(Core {
            store: RefCell::new(S::default()),
            maxsize: S::FIXED_MAXSIZE.or(maxsize),
            getters: Handoff::default(),
            putters: Handoff::default(),
            unfinished: Cell::new(0),
            joiners: WaitQueue::default(),
            watchers: WaitQueue::default(),
            shut_down: Cell::new(false),
        })
    }
}

impl<T, S: Store<T>> Core<T, S> {
    pub(super) fn len(&self) -> usize {
        self.store.borrow().len()
    }

    pub(super) fn has_room(&self) -> bool {
        match self.maxsize {
            None => true,
            Some(max) => self.len() < max,
        }
    }

    pub(super) fn accept(&self) {
        self.unfinished.set(self.unfinished.get() + 1);
    }

    pub(super) fn try_put(&self, item: T) -> std::result::Result<(), TryPutError<T>> {
        if self.shut_down.get() {
            return Err(TryPutError::ShutDown(item));
        }
        let mut slot = Some(item);
        if self.getters.complete_first(|p| *p = slot.take()) {
            self.accept();
            return Ok(());
        }
        let item = slot
            .take()
            .expect("the item is still here when no getter took it");
        if !self.has_room() {
            return Err(TryPutError::Full(item));
        }
        self.store.borrow_mut().push(item);
        self.accept();
        self.watchers.notify_all();
        Ok(())
    }

    pub(super) fn put(&self, item: T, d: Option<Deadline>) -> std::result::Result<(), PutError<T>> {
        if let Err(error) = hub::check_interrupt() {
            return Err(PutError { item, error });
        }
        let item = match self.try_put(item) {
            Ok(()) => {
                if self.maxsize == Some(0) {
                    // A channel hands the item to a waiting getter: switch
                    // to it before returning (a rendezvous, as gevent's
                    // `Channel.put`). The put has happened, so an
                    // interrupt met here is left for the next blocking
                    // call (it is sticky).
                    let _ = hub::yield_now();
                }
                return Ok(());
            }
            Err(TryPutError::ShutDown(item)) => return Err(shut_down(item)),
            Err(TryPutError::Full(item)) => item,
        };
        if self.len() == 0 {
            // A channel: this very putter makes a get possible.
            self.watchers.notify_all();
        }
        match self.putters.wait(Some(item), d) {
            // Taken by a getter (who counted it).
            Ok(None) => Ok(()),
            // Handed back by `shutdown`.
            Ok(Some(item)) => Err(shut_down(item)),
            Err((error, item)) => Err(PutError {
                item: item.expect("a putter that was not served still holds its item"),
                error,
            }),
        }
    }

    /// Takes the first parked putter's item, if any.
    pub(super) fn take_from_putter(&self) -> Option<T> {
        let mut got = None;
        if self.putters.complete_first(|p| got = p.take()) {
            self.accept();
        }
        got
    }

    pub(super) fn try_get(&self) -> std::result::Result<T, TryGetError> {
        let popped = self.store.borrow_mut().pop();
        if let Some(item) = popped {
            while self.has_room() {
                match self.take_from_putter() {
                    Some(next) => self.store.borrow_mut().push(next),
                    None => break,
                }
            }
            return Ok(item);
        }
        if let Some(item) = self.take_from_putter() {
            return Ok(item);
        }
        if self.shut_down.get() {
            Err(TryGetError::ShutDown)
        } else {
            Err(TryGetError::Empty)
        }
    }

    pub(super) fn get(&self, d: Option<Deadline>) -> Result<T> {
        hub::check_interrupt()?;
        match self.try_get() {
            Ok(item) => return Ok(item),
            Err(TryGetError::ShutDown) => return Err(Error::Closed(Closed::QueueShutDown)),
            Err(TryGetError::Empty) => {}
        }
        match self.getters.wait(None, d) {
            Ok(Some(item)) => Ok(item),
            Ok(None) => Err(Error::Closed(Closed::QueueShutDown)),
            Err((e, _)) => Err(e),
        }
    }

    pub(super) fn peek(&self) -> Option<T>
    where
        T: Clone,
    {
        if let Some(t) = self.store.borrow().peek() {
            return Some(t.clone());
        }
        self.putters.with_first(|p| p.cloned())
    }

    pub(super) fn task_done(&self) -> std::result::Result<(), TaskDoneError> {
        let n = self.unfinished.get();
        if n == 0 {
            return Err(TaskDoneError);
        }
        self.unfinished.set(n - 1);
        if n == 1 {
            self.joiners.notify_all();
        }
        Ok(())
    }

    pub(super) fn join(&self, d: Option<Deadline>) -> Result<()> {
        hub::check_interrupt()?;
        while self.unfinished.get() > 0 {
            self.joiners.wait(d)?;
        }
        Ok(())
    }

    pub(super) fn shutdown(&self, mode: ShutdownMode) -> Vec<T> {
        self.shut_down.set(true);
        let drained = match mode {
            ShutdownMode::Drain => Vec::new(),
            ShutdownMode::Immediate => self.store.borrow_mut().drain_all(),
        };
        if !drained.is_empty() {
            let n = self.unfinished.get().saturating_sub(drained.len());
            self.unfinished.set(n);
            if n == 0 {
                self.joiners.notify_all();
            }
        }
        // Putters get their items back; getters (only parked while the
        // store is empty) get nothing: both see the shutdown.
        self.putters.complete_all();
        self.getters.complete_all();
        self.watchers.notify_all();
        drained
    }

    pub(super) fn ready_for_get(&self) -> bool {
        self.len() > 0 || !self.putters.is_empty() || self.shut_down.get()
    }

    pub(super) fn subscribe(&self, w: &Waiter) {
        self.watchers.push(w.clone());
    }
}

fn shut_down<T>(item: T) -> PutError<T> {
    PutError {
        item,
        error: Error::Closed(Closed::QueueShutDown),
    }
}
