//! Queues between greenlets (gevent's `gevent.queue`): [`Queue`] (FIFO),
//! [`LifoQueue`], [`PriorityQueue`] and the rendezvous [`Channel`].
//!
//! All four are one type, [`GenericQueue`], with one API; they differ in
//! the [`Order`] they hand items out in:
//!
//! * `put` / `get` park the calling greenlet while the queue is full /
//!   empty; `put_timeout` / `get_timeout` give up after a duration and
//!   `put_deadline` / `get_deadline` at an instant; `try_put` / `try_get`
//!   never park and fail with [`TryPutError::Full`] / [`TryGetError::Empty`]
//!   instead. Every failed put hands its item back.
//! * Waiting getters and putters are served first come, first served: an
//!   item put while getters wait goes straight to the one that has waited
//!   longest, and the space freed by a `get` goes to the putter that has
//!   waited longest. A greenlet that did not wait can never overtake one
//!   that does. A waiter that was served and interrupted (killed, timed
//!   out) in the same turn keeps the outcome: its item was taken, or it got
//!   one, and the interrupt fails its next blocking call instead.
//! * `task_done` / `join` make every queue joinable (gevent's
//!   `JoinableQueue`): `join` waits until every item put has been marked
//!   done.
//! * `shutdown` closes the queue: later puts fail, parked putters get
//!   their items back, parked getters wake with
//!   `Error::Closed(Closed::QueueShutDown)`. With
//!   [`ShutdownMode::Drain`] the items already queued can still be taken;
//!   with [`ShutdownMode::Immediate`] they are returned by `shutdown`
//!   itself. Nothing is lost either way.
//!
//! Queues are cheap `Rc` handles: clones share the same queue. They are
//! not `Send`; greenlets of one thread share them.

mod core;
mod error;

use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use self::core::Core;
pub use self::core::{Fifo, Lifo, Order, Priority, Rendezvous};
pub use self::error::{PutError, ShutdownMode, TaskDoneError, TryGetError, TryPutError};
use crate::error::Result;
use crate::hub::Deadline;
use crate::hub::task::Waiter;

/// A queue between greenlets whose items come out in the order `O`:
/// [`Queue`] ([`Fifo`]), [`LifoQueue`] ([`Lifo`]), [`PriorityQueue`]
/// ([`Priority`]) or [`Channel`] ([`Rendezvous`]). Use those names; this
/// type is where their shared methods live.
///
/// A cheap `Rc` handle: clones share the queue.
pub struct GenericQueue<T, O> {
    core: Rc<Core<T, O>>,
}

impl<T, O> Clone for GenericQueue<T, O> {
    fn clone(&self) -> Self {
        GenericQueue {
            core: self.core.clone(),
        }
    }
}

impl<T, O: Order<T>> fmt::Debug for GenericQueue<T, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(O::NAME)
            .field("len", &self.len())
            .field("maxsize", &self.core.maxsize)
            .field("getters", &self.waiting_getters())
            .field("putters", &self.waiting_putters())
            .field("shut_down", &self.is_shut_down())
            .finish()
    }
}

impl<T, O: Order<T>> GenericQueue<T, O> {
    /// An unbounded queue (a [`Channel`] is always of size 0); `bounded`
    /// makes a bounded one.
    pub fn new() -> Self {
        Self::with_maxsize(O::FIXED_MAXSIZE)
    }

    fn with_maxsize(maxsize: Option<usize>) -> Self {
        GenericQueue {
            core: Core::new(maxsize),
        }
    }

    /// Puts `item`, parking while the queue is full. Fails, handing the
    /// item back, if the caller is killed, its `Timeout` scope expires, or
    /// the queue is shut down.
    ///
    /// On a channel (size 0), `put` returns only once a getter has taken
    /// the item and run: handing it to a waiting getter switches to that
    /// getter first.
    pub fn put(&self, item: T) -> std::result::Result<(), PutError<T>> {
        self.core.put(item, None)
    }

    /// [`put`](Self::put), giving up after `timeout` (then the error is
    /// `Error::Timeout`, gevent's `Full`).
    pub fn put_timeout(&self, item: T, timeout: Duration) -> std::result::Result<(), PutError<T>> {
        self.core.put(item, Some(Deadline::after(timeout)))
    }

    /// [`put`](Self::put), giving up with `Error::Timeout` at `deadline`.
    pub fn put_deadline(&self, item: T, deadline: Instant) -> std::result::Result<(), PutError<T>> {
        self.core.put(item, Some(Deadline::at(deadline)))
    }

    /// Puts `item` if that needs no waiting (gevent's `put_nowait`).
    /// Never parks, not even on a channel with a waiting getter: the
    /// getter gets the item and runs later (gevent's `Channel.put_nowait`
    /// switches to it first; zgreen's `try_*` calls never switch).
    pub fn try_put(&self, item: T) -> std::result::Result<(), TryPutError<T>> {
        self.core.try_put(item)
    }

    /// Takes the next item, parking while the queue is empty. Fails with
    /// `Killed` or a timeout error if the caller is killed or its
    /// `Timeout` scope expires, and with
    /// `Error::Closed(Closed::QueueShutDown)` once the queue is shut down
    /// (and drained).
    pub fn get(&self) -> Result<T> {
        self.core.get(None)
    }

    /// [`get`](Self::get), giving up with `Error::Timeout` (gevent's
    /// `Empty`) after `timeout`.
    pub fn get_timeout(&self, timeout: Duration) -> Result<T> {
        self.core.get(Some(Deadline::after(timeout)))
    }

    /// [`get`](Self::get), giving up with `Error::Timeout` at `deadline`.
    pub fn get_deadline(&self, deadline: Instant) -> Result<T> {
        self.core.get(Some(Deadline::at(deadline)))
    }

    /// Takes the next item if that needs no waiting (gevent's
    /// `get_nowait`).
    pub fn try_get(&self) -> std::result::Result<T, TryGetError> {
        self.core.try_get()
    }

    /// A copy of the item the next `get` would return, without taking it
    /// (and without waiting).
    pub fn peek(&self) -> Option<T>
    where
        T: Clone,
    {
        self.core.peek()
    }

    /// Items queued now (a channel's is always 0).
    pub fn len(&self) -> usize {
        self.core.len()
    }

    /// True if no item is queued (gevent's `empty()`).
    pub fn is_empty(&self) -> bool {
        self.core.len() == 0
    }

    /// True if the queue holds `maxsize` items (gevent's `full()`): never,
    /// for an unbounded queue; always, for a channel, even while a getter
    /// waits (a channel never holds an item, and its `put` always waits
    /// for the rendezvous).
    pub fn is_full(&self) -> bool {
        !self.core.has_room()
    }

    /// The most items the queue holds; `None` if unbounded.
    pub fn maxsize(&self) -> Option<usize> {
        self.core.maxsize
    }

    /// Greenlets parked in `get`.
    pub fn waiting_getters(&self) -> usize {
        self.core.getters.len()
    }

    /// Greenlets parked in `put`.
    pub fn waiting_putters(&self) -> usize {
        self.core.putters.len()
    }

    /// Marks one item taken with `get` as processed (for
    /// [`join`](Self::join)). Fails if every item is already marked.
    pub fn task_done(&self) -> std::result::Result<(), TaskDoneError> {
        self.core.task_done()
    }

    /// Items put and not yet marked with [`task_done`](Self::task_done).
    pub fn unfinished_tasks(&self) -> usize {
        self.core.unfinished.get()
    }

    /// Waits until every item put has been marked with
    /// [`task_done`](Self::task_done).
    pub fn join(&self) -> Result<()> {
        self.core.join(None)
    }

    /// [`join`](Self::join), giving up with `Error::Timeout` after
    /// `timeout`.
    pub fn join_timeout(&self, timeout: Duration) -> Result<()> {
        self.core.join(Some(Deadline::after(timeout)))
    }

    /// [`join`](Self::join), giving up with `Error::Timeout` at
    /// `deadline`.
    pub fn join_deadline(&self, deadline: Instant) -> Result<()> {
        self.core.join(Some(Deadline::at(deadline)))
    }

    /// Shuts the queue down: later puts fail with their item handed back,
    /// parked putters wake with their item handed back, parked getters
    /// wake with `Error::Closed(Closed::QueueShutDown)`. Returns the queued
    /// items in [`ShutdownMode::Immediate`] (they also stop counting for
    /// `join`); in [`ShutdownMode::Drain`] they stay and getters keep
    /// taking them until the queue is empty.
    pub fn shutdown(&self, mode: ShutdownMode) -> Vec<T> {
        self.core.shutdown(mode)
    }

    /// True once [`shutdown`](Self::shutdown) was called.
    pub fn is_shut_down(&self) -> bool {
        self.core.shut_down.get()
    }

    pub(crate) fn ready_for_get(&self) -> bool {
        self.core.ready_for_get()
    }

    pub(crate) fn subscribe(&self, w: &Waiter) {
        self.core.subscribe(w)
    }
}

/// A first-in, first-out queue (gevent's `Queue`, also joinable like its
/// `JoinableQueue`). Unbounded with [`new`](Self::new), holding at most
/// `maxsize` items with [`bounded`](Self::bounded).
///
/// # Examples
///
/// ```
/// use zgreen::queue::Queue;
///
/// let tasks = Queue::bounded(2);
/// let worker = {
///     let tasks = tasks.clone();
///     zgreen::spawn(move || -> zgreen::Result<Vec<u32>> {
///         let mut got = Vec::new();
///         for _ in 0..5 {
///             got.push(tasks.get()?);
///         }
///         Ok(got)
///     })
/// };
/// for i in 0..5 {
///     tasks.put(i).unwrap(); // parks while 2 items wait
/// }
/// assert_eq!(worker.get().unwrap().unwrap(), vec![0, 1, 2, 3, 4]);
/// ```
pub type Queue<T> = GenericQueue<T, Fifo<T>>;

impl<T> Queue<T> {
    /// A queue that holds at most `maxsize` items (`put` parks beyond).
    /// `bounded(0)` is a [`Channel`]-like rendezvous queue (its `put`
    /// also switches to the getter it feeds).
    pub fn bounded(maxsize: usize) -> Queue<T> {
        Queue::with_maxsize(Some(maxsize))
    }
}

/// A last-in, first-out queue (gevent's `LifoQueue`).
///
/// ```
/// use zgreen::queue::LifoQueue;
///
/// let q = LifoQueue::new();
/// for i in 1..=3 {
///     q.try_put(i).unwrap();
/// }
/// assert_eq!(q.get().unwrap(), 3);
/// ```
pub type LifoQueue<T> = GenericQueue<T, Lifo<T>>;

impl<T> LifoQueue<T> {
    /// A LIFO queue that holds at most `maxsize` items.
    pub fn bounded(maxsize: usize) -> LifoQueue<T> {
        LifoQueue::with_maxsize(Some(maxsize))
    }
}

/// A queue that hands out its smallest item first (gevent's
/// `PriorityQueue`); equal items come out in the order they were put. Wrap
/// items in [`std::cmp::Reverse`] for largest first.
///
/// ```
/// use zgreen::queue::PriorityQueue;
///
/// let q = PriorityQueue::new();
/// for (prio, job) in [(2, "later"), (1, "first"), (2, "last")] {
///     q.try_put((prio, job)).unwrap();
/// }
/// assert_eq!(q.get().unwrap(), (1, "first"));
/// assert_eq!(q.get().unwrap(), (2, "last")); // tuples compare whole
/// ```
pub type PriorityQueue<T> = GenericQueue<T, Priority<T>>;

impl<T: Ord> PriorityQueue<T> {
    /// A priority queue that holds at most `maxsize` items.
    pub fn bounded(maxsize: usize) -> PriorityQueue<T> {
        PriorityQueue::with_maxsize(Some(maxsize))
    }
}

impl<T, O: Order<T>> Default for GenericQueue<T, O> {
    fn default() -> Self {
        Self::new()
    }
}

/// A rendezvous channel (gevent's `Channel`, a queue of `maxsize` 0): a
/// `put` waits until a getter takes its item, a `get` until a putter
/// offers one. As in gevent, a `put` to a waiting getter switches to that
/// getter and returns only after it has run (until it blocks or ends).
/// `try_put` succeeds only if a getter is already waiting; unlike
/// gevent's, it returns without switching (zgreen's `try_*` calls never
/// park). [`is_full`](Self::is_full) and [`is_empty`](Self::is_empty) are
/// always true, as gevent's `full()` and `empty()`.
///
/// ```
/// use zgreen::queue::Channel;
///
/// let ch = Channel::new();
/// let rx = ch.clone();
/// let g = zgreen::spawn(move || rx.get());
/// ch.put("hello").unwrap(); // returns once the greenlet took it
/// assert_eq!(g.get().unwrap().unwrap(), "hello");
/// ```
pub type Channel<T> = GenericQueue<T, Rendezvous<T>>;
