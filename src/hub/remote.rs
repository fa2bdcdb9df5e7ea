//! Waking a hub from other OS threads: a `crossbeam-channel` inbox plus a
//! `mio::Waker`.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::{Receiver, Sender};

/// A message for a hub, sent from any thread.
pub(crate) enum RemoteMsg {
    /// Fire the hub-side notification slot with this key.
    Notify(u64),
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
}

impl Remote {
    pub(crate) fn new(waker: mio::Waker) -> (Remote, Receiver<RemoteMsg>) {
        let (tx, rx) = crossbeam_channel::unbounded();
        let remote = Remote {
            tx,
            waker,
            wake_pending: AtomicBool::new(false),
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

    /// Fires a hub-side notification slot (see `hub::RemoteSlot`).
    pub(crate) fn notify(&self, key: u64) -> bool {
        self.remote.send(RemoteMsg::Notify(key))
    }
}
