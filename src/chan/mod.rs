//! Green channels between hubs: multi-producer multi-consumer, bounded or
//! unbounded, for `Send` items.
//!
//! The local [`queue`](crate::queue) types live on one hub; these cross
//! threads. A [`Sender`] and a [`Receiver`] can be cloned and moved to any
//! thread. A blocking `send` or `recv` parks the calling greenlet (its hub
//! keeps running the others), blocks the root context by running its hub,
//! and on a plain thread that never used zgreen blocks that thread without
//! creating a hub. The other side wakes it through its hub's cross-thread
//! waker (one `eventfd` write, batched while the hub is awake).
//!
//! The items travel through a `crossbeam-channel` queue, so an operation
//! that does not wait costs what crossbeam's does plus one atomic load;
//! waiting costs a lock and a hub wakeup.
//!
//! The operations follow the crate's naming scheme: `send` /
//! `send_timeout` / `send_deadline` / `try_send`, and the same four for
//! `recv`. A failed send hands the item back ([`SendError`],
//! [`TrySendError`]); the `try_` forms report with the crate's
//! [`TrySendError`] and [`TryRecvError`], as ZeroMQ sockets do, with
//! [`Closed::Disconnected`] once the other
//! side is gone.
//!
//! # Disconnection loses nothing
//!
//! When every [`Sender`] is dropped, receivers still get every item that
//! was sent, then [`Error::Closed`]`(`[`Closed::Disconnected`]`)`. When
//! every [`Receiver`] is dropped, a send fails and returns its item;
//! items already queued are dropped with the channel. A greenlet woken
//! for an item and killed before it took it passes the wakeup on, so the
//! item goes to another receiver.
//!
//! # Examples
//!
//! ```
//! use std::thread;
//!
//! let (tx, rx) = zgreen::chan::bounded::<u32>(16);
//! let producer = thread::spawn(move || {
//!     // This thread's own hub: the sends park greenlets of this thread.
//!     let g = zgreen::spawn(move || {
//!         for i in 0..100 {
//!             tx.send(i).unwrap();
//!         }
//!     });
//!     g.join().unwrap();
//! });
//! let sum: u32 = (0..100).map(|_| rx.recv().unwrap()).sum();
//! assert_eq!(sum, 4950);
//! // Every sender is gone: the receiver says so.
//! producer.join().unwrap();
//! assert!(rx.recv().unwrap_err().is_closed());
//! ```
//!
//! [`Error::Closed`]: crate::Error::Closed
//! [`Closed::Disconnected`]: crate::Closed::Disconnected

mod error;
mod shared;

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use self::error::SendError;
use self::error::{Nothing, Refused};
use self::shared::{Shared, Side};
use crate::error::{Closed, Error, Result, TryRecvError, TrySendError};
use crate::hub::{self, CrossPark, Deadline, Watch};
use crate::wait::{WaitToken, Waitable};

/// Operations that did not park, on this thread, before the current
/// greenlet yields to the others (the fairness rule). A channel operation
/// costs about 50 ns, so 1024 of them are about the time slice that the
/// ZeroMQ sockets' 128 operations (about 0.5 µs each) give; yielding
/// every 128 cost a quarter of the channel's throughput (measured).
const FAIR_OPS: u32 = 1024;

thread_local! {
    static OPS_SINCE_YIELD: Cell<u32> = const { Cell::new(0) };
}

/// A channel holding at most `capacity` items: a send waits while it is
/// full.
///
/// # Panics
/// If `capacity` is 0 (a rendezvous between threads is not offered; the
/// hub-local [`queue::Channel`](crate::queue::Channel) is one).
pub fn bounded<T: Send>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(
        capacity > 0,
        "zgreen::chan::bounded: the capacity must be at least 1"
    );
    pair(Some(capacity))
}

/// A channel without a bound: a send never waits. Memory grows with the
/// items queued; prefer [`bounded`] where a producer can outrun its
/// consumers.
pub fn unbounded<T: Send>() -> (Sender<T>, Receiver<T>) {
    pair(None)
}

fn pair<T>(capacity: Option<usize>) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared::new(capacity));
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver {
            shared,
            watch: Mutex::new(None),
        },
    )
}

/// The sending half of a channel; clone it for more producers.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// The receiving half of a channel; clone it for more consumers. Each
/// item goes to one receiver.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    /// This handle's subscription for [`wait`](crate::wait), on the hub
    /// that last waited on it.
    watch: Mutex<Option<Watch>>,
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("len", &self.shared.len())
            .field("capacity", &self.shared.capacity())
            .finish()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("len", &self.shared.len())
            .field("capacity", &self.shared.capacity())
            .finish()
    }
}

/// Whether to make attempt `step` of an operation before it parks, after
/// a pause: attempt 0 at once, then up to [`SPIN_STEPS`] more after
/// growing pauses (crossbeam's backoff, 127 spin hints in all, about 3 µs
/// here), but only while no other greenlet of this hub is ready to run,
/// so spinning never delays anyone. The other side is often a core away
/// and about to act: a park and the cross-thread wakeup it needs cost
/// several microseconds.
fn backoff(step: u32) -> bool {
    if step == 0 {
        return true;
    }
    if !hub::nothing_else_ready() {
        return false;
    }
    for _ in 0..(1u32 << (step - 1)) {
        std::hint::spin_loop();
    }
    true
}

/// Attempts of [`backoff`] after the first (pauses of 1, 2, 4, ... 64
/// spin hints).
const SPIN_STEPS: u32 = 7;

/// Checks kill and timeout scopes before a blocking call, where the
/// thread has a hub (a plain thread has neither).
fn check_interrupt() -> Result<()> {
    if hub::hub_exists() {
        hub::check_interrupt()
    } else {
        Ok(())
    }
}

/// Counts one operation that did not park toward the fairness rule. A
/// kill met in the yield stays pending for the next blocking call: the
/// operation has happened.
fn count_op() {
    let due = OPS_SINCE_YIELD.with(|c| {
        let n = c.get() + 1;
        c.set(if n >= FAIR_OPS { 0 } else { n });
        n >= FAIR_OPS
    });
    if due && hub::hub_exists() && hub::in_greenlet() {
        let _ = hub::yield_now();
    }
}

impl<T> Sender<T> {
    /// Sends `item`, waiting while the channel is full. Fails (with the
    /// item back) if every receiver is gone, or if the greenlet is killed
    /// or its `Timeout` scope expires while it waits.
    pub fn send(&self, item: T) -> std::result::Result<(), SendError<T>> {
        self.send_until(item, None)
    }

    /// [`send`](Self::send), failing with [`Error::Timeout`] after
    /// `timeout`.
    pub fn send_timeout(&self, item: T, timeout: Duration) -> std::result::Result<(), SendError<T>> {
        self.send_until(item, Some(Deadline::after(timeout)))
    }

    /// [`send`](Self::send), failing with [`Error::Timeout`] at
    /// `deadline`.
    pub fn send_deadline(&self, item: T, deadline: Instant) -> std::result::Result<(), SendError<T>> {
        self.send_until(item, Some(Deadline::at(deadline)))
    }

    /// Sends without waiting: the item comes back if the channel is full
    /// or every receiver is gone.
    pub fn try_send(&self, item: T) -> std::result::Result<(), TrySendError<T>> {
        Ok(self.shared.try_send(item)?)
    }

    fn send_until(&self, mut item: T, deadline: Option<Deadline>) -> std::result::Result<(), SendError<T>> {
        if let Err(error) = check_interrupt() {
            return Err(SendError { item, error });
        }
        for step in 0..=SPIN_STEPS {
            if !backoff(step) {
                break;
            }
            match self.shared.try_send(item) {
                Ok(()) => {
                    if step == 0 {
                        count_op();
                    }
                    return Ok(());
                }
                Err(Refused::Full(back)) => item = back,
                Err(Refused::Disconnected(back)) => return Err(disconnected(back)),
            }
        }
        let park = CrossPark::new();
        loop {
            self.shared.register(Side::Send, park.signal());
            match self.shared.try_send(item) {
                Ok(()) => {
                    self.shared.leave(Side::Send, park.signal());
                    return Ok(());
                }
                Err(Refused::Disconnected(back)) => {
                    self.shared.leave(Side::Send, park.signal());
                    return Err(disconnected(back));
                }
                Err(Refused::Full(back)) => item = back,
            }
            if let Err(error) = park.wait(deadline) {
                self.shared.leave(Side::Send, park.signal());
                return Err(SendError { item, error });
            }
            // Fired (and so taken off the list): arm again and retry.
            park.rearm();
        }
    }

    /// True once every receiver is gone (a send would fail). The
    /// receivers tell how many items are queued and the bound.
    pub fn is_disconnected(&self) -> bool {
        self.shared.receivers.load(Ordering::SeqCst) == 0
    }
}

fn disconnected<T>(item: T) -> SendError<T> {
    SendError {
        item,
        error: Error::Closed(Closed::Disconnected),
    }
}

impl<T> Receiver<T> {
    /// Receives an item, waiting while the channel is empty. Fails with
    /// [`Error::Closed`]`(`[`Closed::Disconnected`]`)` once every sender is
    /// gone and every item was received, or if the greenlet is killed or
    /// its `Timeout` scope expires while it waits.
    pub fn recv(&self) -> Result<T> {
        self.recv_until(None)
    }

    /// [`recv`](Self::recv), failing with [`Error::Timeout`] after
    /// `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T> {
        self.recv_until(Some(Deadline::after(timeout)))
    }

    /// [`recv`](Self::recv), failing with [`Error::Timeout`] at `deadline`.
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T> {
        self.recv_until(Some(Deadline::at(deadline)))
    }

    /// Receives without waiting.
    pub fn try_recv(&self) -> std::result::Result<T, TryRecvError> {
        Ok(self.shared.try_recv()?)
    }

    fn recv_until(&self, deadline: Option<Deadline>) -> Result<T> {
        check_interrupt()?;
        for step in 0..=SPIN_STEPS {
            if !backoff(step) {
                break;
            }
            match self.shared.try_recv() {
                Ok(item) => {
                    if step == 0 {
                        count_op();
                    }
                    return Ok(item);
                }
                Err(Nothing::Empty) => {}
                Err(Nothing::Disconnected) => return Err(Error::Closed(Closed::Disconnected)),
            }
        }
        let park = CrossPark::new();
        loop {
            self.shared.register(Side::Recv, park.signal());
            let got = self.shared.try_recv();
            if !matches!(got, Err(Nothing::Empty)) {
                self.shared.leave(Side::Recv, park.signal());
                return got.map_err(|_| Error::Closed(Closed::Disconnected));
            }
            if let Err(e) = park.wait(deadline) {
                self.shared.leave(Side::Recv, park.signal());
                return Err(e);
            }
            // Fired (and so taken off the list): arm again and retry.
            park.rearm();
        }
    }

    /// An iterator that receives until the channel is disconnected (or a
    /// receive fails: then that error is yielded last).
    pub fn iter(&self) -> Iter<'_, T> {
        Iter {
            rx: self,
            done: false,
        }
    }

    /// Items queued now.
    pub fn len(&self) -> usize {
        self.shared.len()
    }

    /// True if no item is queued.
    pub fn is_empty(&self) -> bool {
        self.shared.len() == 0
    }

    /// The bound, or `None` for an unbounded channel.
    pub fn capacity(&self) -> Option<usize> {
        self.shared.capacity()
    }

    /// True once every sender is gone (items may still be queued).
    pub fn is_disconnected(&self) -> bool {
        self.shared.senders.load(Ordering::SeqCst) == 0
    }
}

/// Receives items until the channel is disconnected (see
/// [`Receiver::iter`]).
#[derive(Debug)]
pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
    done: bool,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        if self.done {
            return None;
        }
        match self.rx.recv() {
            Ok(item) => Some(Ok(item)),
            Err(Error::Closed(Closed::Disconnected)) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Ready when a [`recv`](Receiver::recv) would not wait: an item is
/// queued, or every sender is gone. Lets [`wait`](crate::wait) and
/// [`iwait`](crate::iwait) watch channels together with events,
/// greenlets, queues and ZeroMQ sockets.
///
/// ```
/// let (tx, rx) = zgreen::chan::unbounded::<&str>();
/// std::thread::spawn(move || tx.send("hi").unwrap());
/// let ready = zgreen::wait([&rx]).unwrap();
/// assert_eq!(ready.len(), 1);
/// assert_eq!(rx.try_recv().unwrap(), "hi");
/// ```
impl<T> Waitable for Receiver<T> {
    fn is_ready(&self) -> bool {
        self.shared.recv_ready()
    }

    fn subscribe(&self, token: &WaitToken) {
        let mut watch = self.watch.lock().unwrap_or_else(|p| p.into_inner());
        if !watch.as_ref().is_some_and(Watch::is_local) {
            if let Some(old) = watch.take() {
                self.shared.unregister_watcher(old.signal());
            }
            *watch = Some(Watch::new());
        }
        let Some(w) = watch.as_ref() else { return };
        w.subscribe_local(token.0.clone());
        self.shared.register_watcher(w.signal());
        if self.shared.recv_ready() {
            // Ready between the caller's check and the listing: fire now.
            w.signal().fire();
        }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, Ordering::SeqCst);
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.shared.receivers.fetch_add(1, Ordering::SeqCst);
        Receiver {
            shared: self.shared.clone(),
            watch: Mutex::new(None),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, Ordering::SeqCst) == 1 {
            // The last sender: every waiting receiver learns it.
            self.shared.wake(Side::Recv, true);
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let watch = self.watch.get_mut().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(w) = watch {
            self.shared.unregister_watcher(w.signal());
        }
        if self.shared.receivers.fetch_sub(1, Ordering::SeqCst) == 1 {
            // The last receiver: every waiting sender learns it.
            self.shared.wake(Side::Send, true);
        }
    }
}
