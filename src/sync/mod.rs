//! Synchronization between greenlets (gevent's `gevent.event` and
//! `gevent.lock`): [`Event`], [`AsyncResult`], [`Semaphore`],
//! [`BoundedSemaphore`], [`Lock`] and [`RLock`].
//!
//! All of them follow the crate's contracts: every blocking call returns
//! [`Result`](crate::Result), has a `*_timeout` variant, fails with
//! [`Error::Killed`](crate::Error::Killed) in a killed greenlet and with a
//! timeout error when an enclosing [`Timeout`](crate::Timeout) scope
//! expires. Waiters are served in the order they started waiting: a
//! released permit or lock is handed to the greenlet that has waited
//! longest, so a newcomer can never take it first. A waiter that was
//! served and interrupted in the same turn keeps what it was handed (the
//! call succeeds; the interrupt is sticky and fails its next blocking
//! call), so nothing is lost.
//!
//! The types are cheap `Rc` handles and are not `Send`: they belong to the
//! thread whose hub runs their greenlets. [`Event`] and [`AsyncResult`]
//! can still be set from other OS threads, through an [`EventSetter`] or
//! an [`AsyncResultSender`], which wake the hub.

mod async_result;
mod error;
mod event;
pub(crate) mod handoff;
mod lock;
mod semaphore;

use std::rc::Rc;

pub use self::async_result::{AsyncResult, AsyncResultSender};
pub use self::error::{TryAcquireError, TryGetError};
pub use self::event::{Event, EventSetter};
pub use self::lock::{Lock, LockGuard, RLock, RLockGuard};
pub(crate) use self::semaphore::SemState;
pub use self::semaphore::{
    BoundKind, Bounded, BoundedSemaphore, GenericSemaphore, OverReleaseError, Semaphore, SemaphoreGuard,
    Unbounded,
};

use crate::hub::{RemoteSlot, try_with_hub, with_hub};

/// A hub notification slot owned by one object on the hub's thread; other
/// threads fire it by `key` through a `HubHandle`. Dropping the link
/// unregisters the slot.
pub(crate) struct RemoteLink {
    pub(crate) key: u64,
    pub(crate) slot: Rc<RemoteSlot>,
}

impl RemoteLink {
    pub(crate) fn new() -> RemoteLink {
        let (key, slot) = with_hub(|h| h.new_remote_slot());
        RemoteLink { key, slot }
    }
}

impl Drop for RemoteLink {
    fn drop(&mut self) {
        let _ = try_with_hub(|h| h.drop_remote_slot(self.key));
    }
}
