//! Waking a hub from other OS threads: a `crossbeam-channel` inbox plus a
//! `mio::Waker`.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crossbeam_channel::{Receiver, Sender};

/// A message for a hub, sent from any thread.
pub(crate) enum RemoteMsg {
    /// Fire the hub-side notification slot with this key.
    Notify(u64),
    /// Forget the notification slot with this key (its owner is gone).
    DropSlot(u64),
    /// Run this closure in a new greenlet on the hub.
    Spawn(Box<dyn FnOnce() + Send>),
}

/// The thread-safe half of a hub.
pub(crate) struct Remote {
    tx: Sender<RemoteMsg>,
    waker: mio::Waker,
    /// Set while a wakeup is on its way, so a burst of messages costs one
    /// `eventfd` write.
    wake_pending: AtomicBool,
    /// The hub's live greenlets, published by the hub after each change.
    live: AtomicUsize,
}

impl Remote {
    pub(crate) fn new(waker: mio::Waker) -> (Remote, Receiver<RemoteMsg>) {
        let (tx, rx) = crossbeam_channel::unbounded();
        let remote = Remote {
            tx,
            waker,
            wake_pending: AtomicBool::new(false),
            live: AtomicUsize::new(0),
        };
        (remote, rx)
    }

    /// Queues a message and wakes the hub. Returns false if the hub is gone.
    pub(crate) fn send(&self, msg: RemoteMsg) -> bool {
        if self.tx.send(msg).is_err() {
            return false;
        }
        if !self.wake_pending.swap(true, Ordering::SeqCst) {
            // A failed wake means the poller is gone with its hub.
            return self.waker.wake().is_ok();
        }
        true
    }

    /// Publishes the hub's live-greenlet count.
    pub(crate) fn set_live(&self, n: usize) {
        self.live.store(n, Ordering::Relaxed);
    }

    /// Called by the hub before it drains the inbox.
    pub(crate) fn clear_pending(&self) {
        self.wake_pending.store(false, Ordering::SeqCst);
    }
}

/// A handle that wakes a hub from any thread.
///
/// Obtained with [`hub_handle`](crate::hub_handle); cloning is cheap. While
/// any clone is alive, a hub waiting on nothing else does not report
/// [`Error::WouldBlockForever`](crate::Error::WouldBlockForever): the
/// handle might still send it work.
#[derive(Clone)]
pub struct HubHandle {
    pub(crate) remote: Arc<Remote>,
}

impl fmt::Debug for HubHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubHandle").finish_non_exhaustive()
    }
}

impl HubHandle {
    /// Runs `f` in a new greenlet on that hub (gevent's
    /// `loop.run_callback_threadsafe`). Returns false if the hub's thread
    /// has ended.
    pub fn spawn<F: FnOnce() + Send + 'static>(&self, f: F) -> bool {
        self.remote.send(RemoteMsg::Spawn(Box::new(f)))
    }

    /// Greenlets alive on that hub (started, not finished), as last
    /// published by the hub: a load figure for placing new work.
    pub fn live_greenlets(&self) -> usize {
        self.remote.live.load(Ordering::Relaxed)
    }

    /// True if both handles wake the same hub.
    pub fn same_hub(&self, other: &HubHandle) -> bool {
        Arc::ptr_eq(&self.remote, &other.remote)
    }

    /// Fires a hub-side notification slot (see `hub::RemoteSlot`).
    pub(crate) fn notify(&self, key: u64) -> bool {
        self.remote.send(RemoteMsg::Notify(key))
    }

    /// Asks the hub to forget a notification slot.
    pub(crate) fn drop_slot(&self, key: u64) -> bool {
        self.remote.send(RemoteMsg::DropSlot(key))
    }
}
