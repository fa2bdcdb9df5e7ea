//! Counting semaphores: [`Semaphore`] and [`BoundedSemaphore`], with an
//! RAII [`SemaphoreGuard`].

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::error::TryAcquireError;
use super::handoff::Handoff;
use crate::error::Result;
use crate::hub::task::WaitQueue;
use crate::hub::{self, Deadline};

/// The shared state of a semaphore.
///
/// # Invariant
/// `permits > 0` implies `queue` is empty: a release with greenlets in
/// line hands its permit to the first of them instead of counting it.
pub(crate) struct SemState {
    permits: Cell<usize>,
    /// `Some(n)` for a bounded semaphore: `permits` never exceeds `n`.
    bound: Option<usize>,
    queue: Handoff<()>,
    /// Greenlets waiting for a permit to be available without taking it
    /// (`wait`, `wait`/`iwait` over a semaphore, a pool's
    /// `wait_available`).
    pub(crate) available: WaitQueue,
}

impl SemState {
    pub(crate) fn new(permits: usize, bound: Option<usize>) -> Rc<SemState> {
        Rc::new(SemState {
            permits: Cell::new(permits),
            bound,
            queue: Handoff::default(),
            available: WaitQueue::default(),
        })
    }

    pub(crate) fn permits(&self) -> usize {
        self.permits.get()
    }

    /// The bound of a bounded semaphore.
    pub(crate) fn bound(&self) -> Option<usize> {
        self.bound
    }

    pub(crate) fn try_acquire(&self) -> bool {
        let n = self.permits.get();
        if n == 0 {
            return false;
        }
        self.permits.set(n - 1);
        true
    }

    pub(crate) fn acquire(&self, deadline: Option<Deadline>) -> Result<()> {
        hub::check_interrupt()?;
        if self.try_acquire() {
            return Ok(());
        }
        self.queue.wait(None, deadline).map(|_| ()).map_err(|(e, _)| e)
    }

    /// Returns a permit: to the first greenlet in line, or to the count.
    /// Fails (changing nothing) if that would exceed the bound.
    pub(crate) fn release(&self) -> std::result::Result<(), OverReleaseError> {
        if self.queue.complete_first(|_| {}) {
            return Ok(());
        }
        let n = self.permits.get();
        if let Some(bound) = self.bound {
            if n >= bound {
                return Err(OverReleaseError { bound });
            }
        }
        self.permits.set(n + 1);
        self.available.notify_all();
        Ok(())
    }

    pub(crate) fn wait(&self, deadline: Option<Deadline>) -> Result<()> {
        hub::check_interrupt()?;
        while self.permits.get() == 0 {
            self.available.wait(deadline)?;
        }
        Ok(())
    }

    fn waiting(&self) -> usize {
        self.queue.len()
    }

    /// A permit taken now, as a guard.
    pub(crate) fn try_guard(self: &Rc<Self>) -> std::result::Result<SemaphoreGuard, TryAcquireError> {
        if self.try_acquire() {
            Ok(SemaphoreGuard::new(self))
        } else {
            Err(TryAcquireError)
        }
    }

    /// A permit taken with [`acquire`](Self::acquire), as a guard.
    pub(crate) fn guard(self: &Rc<Self>, deadline: Option<Deadline>) -> Result<SemaphoreGuard> {
        self.acquire(deadline)?;
        Ok(SemaphoreGuard::new(self))
    }
}

/// Releasing a [`BoundedSemaphore`] (or a [`Lock`](super::Lock)) more
/// times than it was acquired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("semaphore released too many times (bound {bound})")]
pub struct OverReleaseError {
    bound: usize,
}

impl OverReleaseError {
    /// The semaphore's bound (its initial number of permits).
    pub fn bound(&self) -> usize {
        self.bound
    }
}

impl From<OverReleaseError> for crate::Error {
    fn from(e: OverReleaseError) -> crate::Error {
        crate::Error::failed(e)
    }
}

/// A counting semaphore (gevent's `Semaphore`): the unbounded
/// [`GenericSemaphore`].
///
/// [`acquire`](Self::acquire) takes a permit, parking the calling greenlet
/// while there is none; the returned guard gives it back when dropped.
/// Waiters are served strictly first come, first served: a released permit
/// is handed to the greenlet that has waited longest, never to a newcomer.
/// [`release`](Self::release) adds a permit without a guard, and may raise
/// the count above its initial value (use [`BoundedSemaphore`] to forbid
/// that).
///
/// A `Semaphore` is a cheap handle: clones share the same permits. It is
/// not `Send`: it belongs to the thread whose greenlets use it.
///
/// # Examples
///
/// ```
/// use zgreen::sync::Semaphore;
///
/// let sem = Semaphore::new(2);
/// let a = sem.acquire().unwrap();
/// let _b = sem.acquire().unwrap();
/// assert!(sem.try_acquire().is_err());
/// drop(a);
/// assert_eq!(sem.available_permits(), 1);
/// ```
pub type Semaphore = GenericSemaphore<Unbounded>;

/// A semaphore whose permits can never exceed their initial number
/// (gevent's `BoundedSemaphore`): releasing more often than acquiring is
/// an [`OverReleaseError`], not a silent extra permit.
///
/// # Examples
///
/// ```
/// use zgreen::sync::BoundedSemaphore;
///
/// let sem = BoundedSemaphore::new(1);
/// sem.acquire().unwrap().forget();
/// sem.release().unwrap();
/// assert!(sem.release().is_err());
/// ```
pub type BoundedSemaphore = GenericSemaphore<Bounded>;

/// Whether permits (of a semaphore) or members (of a group) are bounded:
/// [`Unbounded`] for [`Semaphore`] and [`Group`](crate::pool::Group),
/// [`Bounded`] for [`BoundedSemaphore`] and [`Pool`](crate::pool::Pool).
/// Sealed.
pub trait BoundKind: crate::sealed::Sealed + 'static {
    /// True for [`Bounded`].
    #[doc(hidden)]
    const BOUNDED: bool;
}

/// The kind of a [`Semaphore`] (`release` may add permits beyond the
/// initial number) and of a [`Group`](crate::pool::Group).
#[derive(Debug)]
pub enum Unbounded {}

/// The kind of a [`BoundedSemaphore`] (`release` fails rather than exceed
/// the initial number of permits) and of a [`Pool`](crate::pool::Pool).
#[derive(Debug)]
pub enum Bounded {}

impl crate::sealed::Sealed for Unbounded {}
impl crate::sealed::Sealed for Bounded {}

impl BoundKind for Unbounded {
    const BOUNDED: bool = false;
}

impl BoundKind for Bounded {
    const BOUNDED: bool = true;
}

/// A counting semaphore of either kind: use it as [`Semaphore`] or
/// [`BoundedSemaphore`]. The methods here are common to both; `new`,
/// `release` (and the bounded one's `bound`) are on each kind's own
/// `impl`.
///
/// A handle: clones share the same permits. It is not `Send`: it belongs
/// to the thread whose greenlets use it.
pub struct GenericSemaphore<K: BoundKind> {
    pub(crate) state: Rc<SemState>,
    kind: PhantomData<K>,
}

impl<K: BoundKind> Clone for GenericSemaphore<K> {
    fn clone(&self) -> Self {
        GenericSemaphore {
            state: self.state.clone(),
            kind: PhantomData,
        }
    }
}

impl<K: BoundKind> fmt::Debug for GenericSemaphore<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct(if K::BOUNDED {
            "BoundedSemaphore"
        } else {
            "Semaphore"
        });
        d.field("permits", &self.state.permits());
        if let Some(bound) = self.state.bound {
            d.field("bound", &bound);
        }
        d.field("waiting", &self.state.waiting()).finish()
    }
}

impl<K: BoundKind> GenericSemaphore<K> {
    fn with_state(state: Rc<SemState>) -> GenericSemaphore<K> {
        GenericSemaphore {
            state,
            kind: PhantomData,
        }
    }

    /// Takes a permit, parking while there is none. Fails with `Killed` or
    /// a timeout if the caller is killed or its `Timeout` scope expires.
    pub fn acquire(&self) -> Result<SemaphoreGuard> {
        self.state.guard(None)
    }

    /// [`acquire`](Self::acquire), giving up with `Error::Timeout` after
    /// `timeout`.
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<SemaphoreGuard> {
        self.state.guard(Some(Deadline::after(timeout)))
    }

    /// [`acquire`](Self::acquire), giving up with `Error::Timeout` at
    /// `deadline`.
    pub fn acquire_deadline(&self, deadline: Instant) -> Result<SemaphoreGuard> {
        self.state.guard(Some(Deadline::at(deadline)))
    }

    /// Takes a permit if one is free right now (never parks).
    pub fn try_acquire(&self) -> std::result::Result<SemaphoreGuard, TryAcquireError> {
        self.state.try_guard()
    }

    /// Free permits right now (gevent's `counter`).
    pub fn available_permits(&self) -> usize {
        self.state.permits()
    }

    /// True if an `acquire` would park (gevent's `locked()`).
    pub fn locked(&self) -> bool {
        self.state.permits() == 0
    }

    /// Greenlets parked in `acquire`.
    pub fn waiting(&self) -> usize {
        self.state.waiting()
    }

    /// Waits until a permit is free, without taking it (gevent's `wait`).
    pub fn wait(&self) -> Result<()> {
        self.state.wait(None)
    }

    /// [`wait`](Self::wait), giving up with `Error::Timeout` after
    /// `timeout`.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<()> {
        self.state.wait(Some(Deadline::after(timeout)))
    }

    /// [`wait`](Self::wait), giving up with `Error::Timeout` at `deadline`.
    pub fn wait_deadline(&self, deadline: Instant) -> Result<()> {
        self.state.wait(Some(Deadline::at(deadline)))
    }
}

impl GenericSemaphore<Unbounded> {
    /// A semaphore with `permits` permits.
    pub fn new(permits: usize) -> Semaphore {
        GenericSemaphore::with_state(SemState::new(permits, None))
    }

    /// Adds a permit (hands it to the longest waiter, if any).
    pub fn release(&self) {
        // Unbounded: cannot fail.
        let _ = self.state.release();
    }
}

impl GenericSemaphore<Bounded> {
    /// A semaphore with `permits` permits, which is also its bound.
    pub fn new(permits: usize) -> BoundedSemaphore {
        GenericSemaphore::with_state(SemState::new(permits, Some(permits)))
    }

    /// Gives back a permit taken with a guard that was
    /// [`forget`](SemaphoreGuard::forget)-ten. Fails if every permit is
    /// already back.
    pub fn release(&self) -> std::result::Result<(), OverReleaseError> {
        self.state.release()
    }

    /// The bound (initial number of permits).
    pub fn bound(&self) -> usize {
        self.state.bound.unwrap_or(0)
    }
}

/// A permit of a [`Semaphore`] or [`BoundedSemaphore`], given back when
/// dropped. It owns a handle to its semaphore, so it can be moved into
/// another greenlet of the same thread.
#[must_use = "the permit is given back as soon as the guard is dropped"]
pub struct SemaphoreGuard {
    state: Rc<SemState>,
    /// False once [`forget`](Self::forget) was called.
    armed: bool,
}

impl SemaphoreGuard {
    pub(crate) fn new(state: &Rc<SemState>) -> SemaphoreGuard {
        SemaphoreGuard {
            state: state.clone(),
            armed: true,
        }
    }

    /// Keeps the permit taken: nothing is released when the guard goes
    /// away (release it later by hand, as in gevent's
    /// `acquire()` / `release()` style).
    pub fn forget(mut self) {
        self.armed = false;
    }
}

impl fmt::Debug for SemaphoreGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphoreGuard").finish_non_exhaustive()
    }
}

impl Drop for SemaphoreGuard {
    fn drop(&mut self) {
        if self.armed {
            // The permit came from this semaphore, so a bounded one has room.
            let _ = self.state.release();
        }
    }
}
