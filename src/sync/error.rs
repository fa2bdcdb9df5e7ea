//! The errors of the `try_*` calls of the sync primitives.

use crate::error::Error;

/// Why [`AsyncResult::try_get`](super::AsyncResult::try_get) returned no
/// value.
#[derive(Clone, Debug, thiserror::Error)]
pub enum TryGetError {
    /// Nothing is stored yet (gevent's `get_nowait` raises `Timeout`).
    #[error("no outcome is stored yet")]
    Empty,
    /// The stored outcome is this error (set with `set_error`).
    #[error("{0}")]
    Failed(#[source] Error),
}

/// `Empty` becomes a zero-length `Error::Timeout` (gevent's `get_nowait`
/// raises `Timeout`), `Failed` its error.
impl From<TryGetError> for Error {
    fn from(e: TryGetError) -> Error {
        match e {
            TryGetError::Empty => crate::hub::deadline_error(None),
            TryGetError::Failed(e) => e,
        }
    }
}

/// Why a `try_acquire` (of a [`Lock`](super::Lock), [`RLock`](super::RLock),
/// [`Semaphore`](super::Semaphore) or
/// [`BoundedSemaphore`](super::BoundedSemaphore)) got nothing: it would have
/// to wait (the lock is held, no permit is free, or greenlets already
/// wait in line).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("acquiring would have to wait")]
pub struct TryAcquireError;
