//! The state one channel's senders and receivers share, on any threads:
//! the items (a `crossbeam-channel` queue, lock-free) and the parked
//! waiters of each side (a mutex taken only when someone waits).
//!
//! # No lost wakeup
//!
//! A waiter lists its [`Signal`] and raises its side's `waiting` count,
//! then retries the operation once before it parks. The other side
//! completes its operation, then reads that count. A `SeqCst` fence sits
//! between the two steps on both sides, so at least one of them sees the
//! other: the waiter finds the item (or the room), or the completer finds
//! the waiter and fires it. A waiter that was fired but leaves with an
//! error (killed, timed out) passes the wakeup on to the next in line.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering, fence};
use std::sync::{Arc, Mutex, MutexGuard};

use crossbeam_channel::{TryRecvError as CbRecv, TrySendError as CbSend};

use super::error::{Nothing, Refused};
use crate::hub::Signal;

/// Which side of the channel waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Side {
    /// Receivers waiting for an item.
    Recv,
    /// Senders waiting for room.
    Send,
}

#[derive(Default)]
struct Waiters {
    recv: VecDeque<Arc<Signal>>,
    send: VecDeque<Arc<Signal>>,
    /// Signals of hubs that wait on the channel through `wait`/`iwait`:
    /// all fired on the next item (or disconnection), then dropped from
    /// the list until their hub subscribes again.
    watchers: Vec<Arc<Signal>>,
}

/// # Invariant
/// `recv_waiting` is the length of `waiters.recv` plus `waiters.watchers`,
/// and `send_waiting` that of `waiters.send`; both change only with the
/// mutex held. `senders` and `receivers` count the live [`Sender`] and
/// [`Receiver`] handles; each reaches zero once and never rises again.
///
/// [`Sender`]: super::Sender
/// [`Receiver`]: super::Receiver
pub(super) struct Shared<T> {
    tx: crossbeam_channel::Sender<T>,
    rx: crossbeam_channel::Receiver<T>,
    capacity: Option<usize>,
    pub(super) senders: AtomicUsize,
    pub(super) receivers: AtomicUsize,
    recv_waiting: Padded,
    send_waiting: Padded,
    waiters: Mutex<Waiters>,
}

/// A counter on a cache line of its own: each side reads the other's
/// waiting count after every operation, so it must not share a line with
/// what the other side writes.
#[repr(align(128))]
struct Padded(AtomicUsize);

impl std::ops::Deref for Padded {
    type Target = AtomicUsize;
    fn deref(&self) -> &AtomicUsize {
        &self.0
    }
}

impl<T> Shared<T> {
    pub(super) fn new(capacity: Option<usize>) -> Shared<T> {
        let (tx, rx) = match capacity {
            Some(n) => crossbeam_channel::bounded(n),
            None => crossbeam_channel::unbounded(),
        };
        Shared {
            tx,
            rx,
            capacity,
            senders: AtomicUsize::new(1),
            receivers: AtomicUsize::new(1),
            recv_waiting: Padded(AtomicUsize::new(0)),
            send_waiting: Padded(AtomicUsize::new(0)),
            waiters: Mutex::new(Waiters::default()),
        }
    }

    pub(super) fn capacity(&self) -> Option<usize> {
        self.capacity
    }

    pub(super) fn len(&self) -> usize {
        self.rx.len()
    }

    fn lock(&self) -> MutexGuard<'_, Waiters> {
        // No user code runs under this lock, so it cannot be poisoned by
        // a panic that matters: take the data either way.
        self.waiters.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends without waiting.
    pub(super) fn try_send(&self, item: T) -> Result<(), Refused<T>> {
        if self.receivers.load(Ordering::SeqCst) == 0 {
            return Err(Refused::Disconnected(item));
        }
        match self.tx.try_send(item) {
            Ok(()) => {
                self.wake(Side::Recv, false);
                Ok(())
            }
            Err(CbSend::Full(item)) => Err(Refused::Full(item)),
            // `self.rx` lives as long as `self`.
            Err(CbSend::Disconnected(item)) => Err(Refused::Disconnected(item)),
        }
    }

    /// Receives without waiting.
    pub(super) fn try_recv(&self) -> Result<T, Nothing> {
        match self.rx.try_recv() {
            Ok(item) => {
                self.wake(Side::Send, false);
                Ok(item)
            }
            Err(CbRecv::Empty) | Err(CbRecv::Disconnected) => {
                if self.senders.load(Ordering::SeqCst) != 0 {
                    return Err(Nothing::Empty);
                }
                // The last sender's items were queued before its count
                // dropped: look once more.
                match self.rx.try_recv() {
                    Ok(item) => Ok(item),
                    Err(_) => Err(Nothing::Disconnected),
                }
            }
        }
    }

    /// True if a receive would not wait (an item, or disconnection).
    pub(super) fn recv_ready(&self) -> bool {
        !self.rx.is_empty() || self.senders.load(Ordering::SeqCst) == 0
    }

    /// Lists `signal` as a waiter of `side`. The caller retries its
    /// operation after this and before it parks.
    pub(super) fn register(&self, side: Side, signal: &Arc<Signal>) {
        {
            let mut w = self.lock();
            match side {
                Side::Recv => {
                    w.recv.push_back(signal.clone());
                    self.recv_waiting.fetch_add(1, Ordering::SeqCst);
                }
                Side::Send => {
                    w.send.push_back(signal.clone());
                    self.send_waiting.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
        fence(Ordering::SeqCst);
    }

    /// Lists a hub's watch signal (if it is not listed already).
    pub(super) fn register_watcher(&self, signal: &Arc<Signal>) {
        {
            let mut w = self.lock();
            if !w.watchers.iter().any(|s| Arc::ptr_eq(s, signal)) {
                w.watchers.push(signal.clone());
                self.recv_waiting.fetch_add(1, Ordering::SeqCst);
            }
        }
        fence(Ordering::SeqCst);
    }

    /// Forgets a watch signal (its receiver handle is gone).
    pub(super) fn unregister_watcher(&self, signal: &Arc<Signal>) {
        let mut w = self.lock();
        let before = w.watchers.len();
        w.watchers.retain(|s| !Arc::ptr_eq(s, signal));
        let removed = before - w.watchers.len();
        self.recv_waiting.fetch_sub(removed, Ordering::SeqCst);
    }

    /// Takes `signal` off `side`'s list. Returns false if it was not there
    /// any more: someone took it off to fire it.
    fn unregister(&self, side: Side, signal: &Arc<Signal>) -> bool {
        let mut w = self.lock();
        let (list, count): (_, &AtomicUsize) = match side {
            Side::Recv => (&mut w.recv, &self.recv_waiting),
            Side::Send => (&mut w.send, &self.send_waiting),
        };
        match list.iter().position(|s| Arc::ptr_eq(s, signal)) {
            Some(i) => {
                list.remove(i);
                count.fetch_sub(1, Ordering::SeqCst);
                true
            }
            None => false,
        }
    }

    /// A waiter of `side` leaves (its retry succeeded, or it gives up):
    /// takes `signal` off the list, and if someone took it off first to
    /// fire it, passes that wakeup on to the next waiter, so none is lost.
    pub(super) fn leave(&self, side: Side, signal: &Arc<Signal>) {
        if !self.unregister(side, signal) {
            self.wake(side, false);
        }
    }

    /// After an operation that may let `side` proceed: fires one waiter of
    /// that side (every one if `all`; for receivers, every watcher too).
    pub(super) fn wake(&self, side: Side, all: bool) {
        fence(Ordering::SeqCst);
        let count: &AtomicUsize = match side {
            Side::Recv => &self.recv_waiting,
            Side::Send => &self.send_waiting,
        };
        if count.load(Ordering::SeqCst) == 0 {
            return;
        }
        let fire: Vec<Arc<Signal>> = {
            let mut w = self.lock();
            let mut fire = Vec::new();
            let list = match side {
                Side::Recv => &mut w.recv,
                Side::Send => &mut w.send,
            };
            if all {
                fire.extend(list.drain(..));
            } else if let Some(s) = list.pop_front() {
                fire.push(s);
            }
            if side == Side::Recv {
                fire.append(&mut w.watchers);
            }
            count.fetch_sub(fire.len(), Ordering::SeqCst);
            fire
        };
        // Fired outside the lock: a fire may write an eventfd.
        for s in &fire {
            s.fire();
        }
    }
}
