//! Queues between greenlets (gevent's `gevent.queue`): [`Queue`] (FIFO),
//! [`LifoQueue`], [`PriorityQueue`] and the rendezvous [`Channel`].
//!
//! All four share one implementation and one API:
//!
//! * `put` / `get` park the calling greenlet while the queue is full /
//!   empty; `put_timeout` / `get_timeout` give up after a duration;
//!   `put_nowait` / `get_nowait` never park and fail with
//!   [`TryPutError::Full`] / [`TryGetError::Empty`] instead. Every failed
//!   put hands its item back.
//! * Waiting getters and putters are served first come, first served: an
//!   item put while getters wait goes straight to the one that has waited
//!   longest, and the space freed by a `get` goes to the putter that has
//!   waited longest. A greenlet that did not wait can never overtake one
//!   that does.
//! * `task_done` / `join` make every queue joinable (gevent's
//!   `JoinableQueue`): `join` waits until every item put has been marked
//!   done.
//! * `shutdown` closes the queue: later puts fail, parked putters get
//!   their items back, parked getters wake with `Error::Closed`. With
//!   [`ShutdownMode::Drain`] the items already queued can still be taken;
//!   with [`ShutdownMode::Immediate`] they are returned by `shutdown`
//!   itself. Nothing is lost either way.
//!
//! Queues are cheap `Rc` handles: clones share the same queue. They are
//! not `Send`; greenlets of one thread share them.

use std::cell::{Cell, RefCell};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::hub::task::{WaitQueue, Waiter};
use crate::hub::{self, Deadline};
use crate::sync::handoff::Handoff;

/// The message of the `Error::Closed` that getters receive from a queue
/// that is shut down (and empty, in [`ShutdownMode::Drain`]).
pub const SHUT_DOWN: &str = "the queue is shut down";

/// How [`Queue::shutdown`] treats the items still queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ShutdownMode {
    /// Keep them: getters take them until the queue is empty, and only
    /// then fail (Python's `shutdown(immediate=False)`).
    #[default]
    Drain,
    /// Take them out at once and return them from `shutdown`; getters fail
    /// from now on (Python's `shutdown(immediate=True)`).
    Immediate,
}

/// Why `put_nowait` failed; the item is handed back.
pub enum TryPutError<T> {
    /// The queue is full (gevent's `Full`).
    Full(T),
    /// The queue is shut down.
    ShutDown(T),
}

impl<T> TryPutError<T> {
    /// The item that was not put.
    pub fn into_inner(self) -> T {
        match self {
            TryPutError::Full(t) | TryPutError::ShutDown(t) => t,
        }
    }

    /// True if the queue was full.
    pub fn is_full(&self) -> bool {
        matches!(self, TryPutError::Full(_))
    }

    /// True if the queue is shut down.
    pub fn is_shut_down(&self) -> bool {
        matches!(self, TryPutError::ShutDown(_))
    }
}

impl<T> fmt::Debug for TryPutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryPutError::Full(_) => f.write_str("Full(..)"),
            TryPutError::ShutDown(_) => f.write_str("ShutDown(..)"),
        }
    }
}

impl<T> fmt::Display for TryPutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryPutError::Full(_) => f.write_str("the queue is full"),
            TryPutError::ShutDown(_) => f.write_str(SHUT_DOWN),
        }
    }
}

impl<T> std::error::Error for TryPutError<T> {}

impl<T> From<TryPutError<T>> for Error {
    fn from(e: TryPutError<T>) -> Error {
        match e {
            TryPutError::Full(_) => Error::failed(TryPutError::Full(())),
            TryPutError::ShutDown(_) => Error::Closed(SHUT_DOWN),
        }
    }
}

/// Why `get_nowait` failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TryGetError {
    /// The queue is empty (gevent's `Empty`).
    Empty,
    /// The queue is shut down and (in [`ShutdownMode::Drain`]) empty.
    ShutDown,
}

impl fmt::Display for TryGetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryGetError::Empty => f.write_str("the queue is empty"),
            TryGetError::ShutDown => f.write_str(SHUT_DOWN),
        }
    }
}

impl std::error::Error for TryGetError {}

impl From<TryGetError> for Error {
    fn from(e: TryGetError) -> Error {
        match e {
            TryGetError::Empty => Error::failed(TryGetError::Empty),
            TryGetError::ShutDown => Error::Closed(SHUT_DOWN),
        }
    }
}

/// Why a blocking `put` failed (its own timeout, a kill, an expired
/// `Timeout` scope, or a shutdown); the item is handed back.
pub struct PutError<T> {
    item: T,
    error: Error,
}

impl<T> PutError<T> {
    /// The item that was not put.
    pub fn into_inner(self) -> T {
        self.item
    }

    /// The item that was not put, by reference.
    pub fn item(&self) -> &T {
        &self.item
    }

    /// What went wrong: `Error::Timeout`, `Error::Killed` or
    /// `Error::Closed` (shutdown).
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// True if a timeout (the call's own or a scope's) expired.
    pub fn is_timeout(&self) -> bool {
        self.error.is_timeout()
    }

    /// True if the queue is shut down.
    pub fn is_shut_down(&self) -> bool {
        matches!(self.error, Error::Closed(_))
    }
}

impl<T> fmt::Debug for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PutError")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Display for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "put failed: {}", self.error)
    }
}

impl<T> std::error::Error for PutError<T> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl<T> From<PutError<T>> for Error {
    fn from(e: PutError<T>) -> Error {
        e.error
    }
}

/// `task_done` was called more times than items were put.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskDoneError;

impl fmt::Display for TaskDoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task_done() called too many times")
    }
}

impl std::error::Error for TaskDoneError {}

impl From<TaskDoneError> for Error {
    fn from(e: TaskDoneError) -> Error {
        Error::failed(e)
    }
}

/// The order a queue hands its items out in.
trait Store<T> {
    fn push(&mut self, item: T);
    fn pop(&mut self) -> Option<T>;
    fn peek(&self) -> Option<&T>;
    fn len(&self) -> usize;
    fn drain_all(&mut self) -> Vec<T>;
}

/// First in, first out.
struct Fifo<T>(VecDeque<T>);

impl<T> Default for Fifo<T> {
    fn default() -> Self {
        Fifo(VecDeque::new())
    }
}

impl<T> Store<T> for Fifo<T> {
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

/// Last in, first out.
struct Lifo<T>(Vec<T>);

impl<T> Default for Lifo<T> {
    fn default() -> Self {
        Lifo(Vec::new())
    }
}

impl<T> Store<T> for Lifo<T> {
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

/// Smallest first; equal items in the order they were put.
struct Prio<T> {
    heap: BinaryHeap<Reverse<(T, u64)>>,
    seq: u64,
}

impl<T: Ord> Default for Prio<T> {
    fn default() -> Self {
        Prio {
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }
}

impl<T: Ord> Store<T> for Prio<T> {
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

/// The shared state of every queue type.
///
/// # Invariant
/// * Greenlets wait in `getters` only while `store` is empty, and in
///   `putters` only while the queue is full (always, for a channel): an
///   item put while getters wait is handed to the first of them, and the
///   room freed by a get is filled from the first putter at once.
/// * `unfinished` counts items accepted (stored, or handed to a getter)
///   and not yet marked with `task_done`.
struct Core<T, S> {
    store: RefCell<S>,
    /// `None`: unbounded. `Some(0)`: a channel (no buffer at all).
    maxsize: Option<usize>,
    /// Parked getters; a getter is served by filling its empty slot.
    getters: Handoff<T>,
    /// Parked putters; a putter is served by taking its item.
    putters: Handoff<T>,
    unfinished: Cell<usize>,
    joiners: WaitQueue,
    /// Woken when a get could succeed without waiting (for `wait`/`iwait`).
    watchers: WaitQueue,
    shut_down: Cell<bool>,
}

impl<T, S: Store<T> + Default> Core<T, S> {
    fn new(maxsize: Option<usize>) -> Rc<Core<T, S>> {
        Rc::new(Core {
            store: RefCell::new(S::default()),
            maxsize,
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
    fn len(&self) -> usize {
        self.store.borrow().len()
    }

    fn has_room(&self) -> bool {
        match self.maxsize {
            None => true,
            Some(max) => self.len() < max,
        }
    }

    fn accept(&self) {
        self.unfinished.set(self.unfinished.get() + 1);
    }

    fn try_put(&self, item: T) -> std::result::Result<(), TryPutError<T>> {
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

    fn put(&self, item: T, d: Option<Deadline>) -> std::result::Result<(), PutError<T>> {
        if let Err(error) = hub::check_interrupt() {
            return Err(PutError { item, error });
        }
        let item = match self.try_put(item) {
            Ok(()) => return Ok(()),
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
    fn take_from_putter(&self) -> Option<T> {
        let mut got = None;
        if self.putters.complete_first(|p| got = p.take()) {
            self.accept();
        }
        got
    }

    fn try_get(&self) -> std::result::Result<T, TryGetError> {
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

    fn get(&self, d: Option<Deadline>) -> Result<T> {
        hub::check_interrupt()?;
        match self.try_get() {
            Ok(item) => return Ok(item),
            Err(TryGetError::ShutDown) => return Err(Error::Closed(SHUT_DOWN)),
            Err(TryGetError::Empty) => {}
        }
        match self.getters.wait(None, d) {
            Ok(Some(item)) => Ok(item),
            Ok(None) => Err(Error::Closed(SHUT_DOWN)),
            Err((e, _)) => Err(e),
        }
    }

    fn peek(&self) -> Option<T>
    where
        T: Clone,
    {
        if let Some(t) = self.store.borrow().peek() {
            return Some(t.clone());
        }
        self.putters.with_first(|p| p.cloned())
    }

    fn task_done(&self) -> std::result::Result<(), TaskDoneError> {
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

    fn join(&self, d: Option<Deadline>) -> Result<()> {
        hub::check_interrupt()?;
        while self.unfinished.get() > 0 {
            self.joiners.wait(d)?;
        }
        Ok(())
    }

    fn shutdown(&self, mode: ShutdownMode) -> Vec<T> {
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

    fn ready_for_get(&self) -> bool {
        self.len() > 0 || !self.putters.is_empty() || self.shut_down.get()
    }

    fn subscribe(&self, w: &Waiter) {
        self.watchers.push(w.clone());
    }
}

fn shut_down<T>(item: T) -> PutError<T> {
    PutError {
        item,
        error: Error::Closed(SHUT_DOWN),
    }
}

macro_rules! queue_api {
    ($name:ident, $store:ident, $bound:path) => {
        impl<T> Clone for $name<T> {
            fn clone(&self) -> Self {
                $name {
                    core: self.core.clone(),
                }
            }
        }

        impl<T: $bound> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("len", &self.len())
                    .field("maxsize", &self.core.maxsize)
                    .field("getters", &self.waiting_getters())
                    .field("putters", &self.waiting_putters())
                    .field("shut_down", &self.is_shut_down())
                    .finish()
            }
        }

        impl<T: $bound> $name<T> {
            /// Puts `item`, parking while the queue is full. Fails, handing
            /// the item back, if the caller is killed, its `Timeout` scope
            /// expires, or the queue is shut down.
            pub fn put(&self, item: T) -> std::result::Result<(), PutError<T>> {
                self.core.put(item, None)
            }

            /// [`put`](Self::put), giving up after `timeout` (then the
            /// error is `Error::Timeout`, gevent's `Full`).
            pub fn put_timeout(&self, item: T, timeout: Duration) -> std::result::Result<(), PutError<T>> {
                self.core.put(item, Some(Deadline::after(timeout)))
            }

            /// Puts `item` if that needs no waiting.
            pub fn put_nowait(&self, item: T) -> std::result::Result<(), TryPutError<T>> {
                self.core.try_put(item)
            }

            /// Takes the next item, parking while the queue is empty. Fails
            /// with `Killed` or a timeout error if the caller is killed or
            /// its `Timeout` scope expires, and with
            /// `Error::Closed(SHUT_DOWN)` once the queue is shut down (and
            /// drained).
            pub fn get(&self) -> Result<T> {
                self.core.get(None)
            }

            /// [`get`](Self::get), giving up with `Error::Timeout` (gevent's
            /// `Empty`) after `timeout`.
            pub fn get_timeout(&self, timeout: Duration) -> Result<T> {
                self.core.get(Some(Deadline::after(timeout)))
            }

            /// Takes the next item if that needs no waiting.
            pub fn get_nowait(&self) -> std::result::Result<T, TryGetError> {
                self.core.try_get()
            }

            /// A copy of the item the next `get` would return, without
            /// taking it (and without waiting).
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

            /// True if a put would have to wait (always, for a channel
            /// without a waiting getter; never, for an unbounded queue).
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

            /// Items put and not yet marked with
            /// [`task_done`](Self::task_done).
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

            /// Shuts the queue down: later puts fail with their item handed
            /// back, parked putters wake with their item handed back, parked
            /// getters wake with `Error::Closed(SHUT_DOWN)`. Returns the
            /// queued items in [`ShutdownMode::Immediate`] (they also stop
            /// counting for `join`); in [`ShutdownMode::Drain`] they stay
            /// and getters keep taking them until the queue is empty.
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
    };
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
pub struct Queue<T> {
    core: Rc<Core<T, Fifo<T>>>,
}

queue_api!(Queue, Fifo, Sized);

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Queue::new()
    }
}

impl<T> Queue<T> {
    /// An unbounded queue.
    pub fn new() -> Queue<T> {
        Queue {
            core: Core::new(None),
        }
    }

    /// A queue that holds at most `maxsize` items (`put` parks beyond).
    /// `bounded(0)` is a [`Channel`]-like rendezvous queue.
    pub fn bounded(maxsize: usize) -> Queue<T> {
        Queue {
            core: Core::new(Some(maxsize)),
        }
    }
}

/// A last-in, first-out queue (gevent's `LifoQueue`).
///
/// ```
/// use zgreen::queue::LifoQueue;
///
/// let q = LifoQueue::new();
/// for i in 1..=3 {
///     q.put_nowait(i).unwrap();
/// }
/// assert_eq!(q.get().unwrap(), 3);
/// ```
pub struct LifoQueue<T> {
    core: Rc<Core<T, Lifo<T>>>,
}

queue_api!(LifoQueue, Lifo, Sized);

impl<T> Default for LifoQueue<T> {
    fn default() -> Self {
        LifoQueue::new()
    }
}

impl<T> LifoQueue<T> {
    /// An unbounded LIFO queue.
    pub fn new() -> LifoQueue<T> {
        LifoQueue {
            core: Core::new(None),
        }
    }

    /// A LIFO queue that holds at most `maxsize` items.
    pub fn bounded(maxsize: usize) -> LifoQueue<T> {
        LifoQueue {
            core: Core::new(Some(maxsize)),
        }
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
///     q.put_nowait((prio, job)).unwrap();
/// }
/// assert_eq!(q.get().unwrap(), (1, "first"));
/// assert_eq!(q.get().unwrap(), (2, "last")); // tuples compare whole
/// ```
pub struct PriorityQueue<T> {
    core: Rc<Core<T, Prio<T>>>,
}

queue_api!(PriorityQueue, Prio, Ord);

impl<T: Ord> Default for PriorityQueue<T> {
    fn default() -> Self {
        PriorityQueue::new()
    }
}

impl<T: Ord> PriorityQueue<T> {
    /// An unbounded priority queue.
    pub fn new() -> PriorityQueue<T> {
        PriorityQueue {
            core: Core::new(None),
        }
    }

    /// A priority queue that holds at most `maxsize` items.
    pub fn bounded(maxsize: usize) -> PriorityQueue<T> {
        PriorityQueue {
            core: Core::new(Some(maxsize)),
        }
    }
}

/// A rendezvous channel (gevent's `Channel`, a queue of `maxsize` 0): a
/// `put` waits until a getter takes its item, a `get` until a putter
/// offers one. `put_nowait` succeeds only if a getter is already waiting.
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
pub struct Channel<T> {
    core: Rc<Core<T, Fifo<T>>>,
}

queue_api!(Channel, Fifo, Sized);

impl<T> Default for Channel<T> {
    fn default() -> Self {
        Channel::new()
    }
}

impl<T> Channel<T> {
    /// A new channel.
    pub fn new() -> Channel<T> {
        Channel {
            core: Core::new(Some(0)),
        }
    }
}
