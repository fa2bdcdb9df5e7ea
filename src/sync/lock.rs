//! Mutual exclusion between greenlets: [`Lock`] and the re-entrant
//! [`RLock`], each with an RAII guard.

use std::cell::Cell;
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::error::TryAcquireError;
use super::handoff::Handoff;
use super::semaphore::{SemState, SemaphoreGuard};
use crate::error::Result;
use crate::hub::{self, Deadline};

/// A lock: a bounded semaphore of one permit (gevent's `Lock`).
///
/// Not re-entrant: a greenlet that takes it twice without releasing waits
/// for itself (give such calls a timeout, or use [`RLock`]). Waiters are
/// served first come, first served.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use zgreen::sync::Lock;
///
/// let lock = Lock::new();
/// let inside = Rc::new(Cell::new(0));
/// let workers: Vec<_> = (0..3)
///     .map(|_| {
///         let (lock, inside) = (lock.clone(), inside.clone());
///         zgreen::spawn(move || -> zgreen::Result<()> {
///             let _guard = lock.acquire()?;
///             inside.set(inside.get() + 1);
///             assert_eq!(inside.get(), 1);
///             zgreen::sleep(std::time::Duration::ZERO)?;
///             inside.set(inside.get() - 1);
///             Ok(())
///         })
///     })
///     .collect();
/// zgreen::joinall(workers.iter()).unwrap();
/// assert!(workers.iter().all(|w| w.get().unwrap().is_ok()));
/// ```
#[derive(Clone)]
pub struct Lock {
    state: Rc<SemState>,
}

impl fmt::Debug for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock").field("locked", &self.locked()).finish()
    }
}

impl Default for Lock {
    fn default() -> Self {
        Lock::new()
    }
}

impl Lock {
    /// An unlocked lock.
    pub fn new() -> Lock {
        Lock {
            state: SemState::new(1, Some(1)),
        }
    }

    /// Takes the lock, parking while another greenlet holds it.
    pub fn acquire(&self) -> Result<LockGuard> {
        self.acquire_until(None)
    }

    /// [`acquire`](Self::acquire), giving up with `Error::Timeout` after
    /// `timeout`.
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<LockGuard> {
        self.acquire_until(Some(Deadline::after(timeout)))
    }

    /// [`acquire`](Self::acquire), giving up with `Error::Timeout` at
    /// `deadline`.
    pub fn acquire_deadline(&self, deadline: Instant) -> Result<LockGuard> {
        self.acquire_until(Some(Deadline::at(deadline)))
    }

    fn acquire_until(&self, d: Option<Deadline>) -> Result<LockGuard> {
        let _permit = self.state.guard(d)?;
        Ok(LockGuard { _permit })
    }

    /// Takes the lock if it is free right now (never parks).
    pub fn try_acquire(&self) -> std::result::Result<LockGuard, TryAcquireError> {
        let _permit = self.state.try_guard()?;
        Ok(LockGuard { _permit })
    }

    /// True while some greenlet holds the lock.
    pub fn locked(&self) -> bool {
        self.state.permits() == 0
    }
}

/// Holds a [`Lock`]; dropping it unlocks.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct LockGuard {
    _permit: SemaphoreGuard,
}

impl fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockGuard").finish_non_exhaustive()
    }
}

/// The shared state of an [`RLock`].
///
/// # Invariant
/// `count > 0` exactly when `owner` is `Some`; while greenlets wait in
/// `queue`, the lock is owned (a release hands it to the first waiter).
#[derive(Default)]
struct RLockState {
    owner: Cell<Option<u64>>,
    count: Cell<usize>,
    /// Each waiter's payload is its greenlet id.
    queue: Handoff<u64>,
}

impl RLockState {
    fn release_one(&self) {
        let n = self.count.get();
        debug_assert!(n > 0, "RLock released more often than acquired");
        if n > 1 {
            self.count.set(n - 1);
            return;
        }
        self.count.set(0);
        self.owner.set(None);
        self.queue.complete_first(|id| {
            self.owner.set(*id);
            self.count.set(1);
        });
    }
}

/// A re-entrant lock, owned by a greenlet (gevent's `RLock`): its owner
/// may take it again without waiting, and it is free once every guard is
/// dropped.
///
/// # Examples
///
/// ```
/// use zgreen::sync::RLock;
///
/// let lock = RLock::new();
/// let outer = lock.acquire().unwrap();
/// let inner = lock.acquire().unwrap(); // same greenlet: no wait
/// assert_eq!(lock.count(), 2);
/// drop(inner);
/// drop(outer);
/// assert!(!lock.locked());
/// ```
#[derive(Clone, Default)]
pub struct RLock {
    state: Rc<RLockState>,
}

impl fmt::Debug for RLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RLock")
            .field("owner", &self.state.owner.get())
            .field("count", &self.state.count.get())
            .field("waiting", &self.state.queue.len())
            .finish()
    }
}

impl RLock {
    /// An unlocked re-entrant lock.
    pub fn new() -> RLock {
        RLock::default()
    }

    /// Takes the lock: at once if it is free or already the caller's,
    /// otherwise parking until its owner has dropped every guard.
    pub fn acquire(&self) -> Result<RLockGuard> {
        self.acquire_until(None)
    }

    /// [`acquire`](Self::acquire), giving up with `Error::Timeout` after
    /// `timeout`.
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<RLockGuard> {
        self.acquire_until(Some(Deadline::after(timeout)))
    }

    /// [`acquire`](Self::acquire), giving up with `Error::Timeout` at
    /// `deadline`.
    pub fn acquire_deadline(&self, deadline: Instant) -> Result<RLockGuard> {
        self.acquire_until(Some(Deadline::at(deadline)))
    }

    fn acquire_until(&self, d: Option<Deadline>) -> Result<RLockGuard> {
        hub::check_interrupt()?;
        if let Ok(g) = self.try_acquire() {
            return Ok(g);
        }
        let me = hub::current_task().id;
        self.state.queue.wait(Some(me), d).map_err(|(e, _)| e)?;
        debug_assert_eq!(self.state.owner.get(), Some(me));
        Ok(self.guard())
    }

    /// Takes the lock if it is free or already the caller's (never parks).
    pub fn try_acquire(&self) -> std::result::Result<RLockGuard, TryAcquireError> {
        let me = hub::current_task().id;
        let st = &self.state;
        match st.owner.get() {
            Some(owner) if owner == me => st.count.set(st.count.get() + 1),
            Some(_) => return Err(TryAcquireError),
            None => {
                st.owner.set(Some(me));
                st.count.set(1);
            }
        }
        Ok(self.guard())
    }

    fn guard(&self) -> RLockGuard {
        RLockGuard {
            state: self.state.clone(),
        }
    }

    /// True while some greenlet holds the lock.
    pub fn locked(&self) -> bool {
        self.state.owner.get().is_some()
    }

    /// True if the calling greenlet holds the lock.
    pub fn is_owned(&self) -> bool {
        self.state.owner.get() == Some(hub::current_task().id)
    }

    /// How many guards of the owner are alive (0 when free).
    pub fn count(&self) -> usize {
        self.state.count.get()
    }
}

/// One acquisition of an [`RLock`]; dropping it releases that acquisition.
#[must_use = "the acquisition is released as soon as the guard is dropped"]
pub struct RLockGuard {
    state: Rc<RLockState>,
}

impl fmt::Debug for RLockGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RLockGuard").finish_non_exhaustive()
    }
}

impl Drop for RLockGuard {
    fn drop(&mut self) {
        self.state.release_one();
    }
}
