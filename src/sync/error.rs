//! The errors of the `try_*` calls of the sync primitives.

use std::fmt;

use crate::error::Error;

/// Why [`AsyncResult::try_get`](super::AsyncResult::try_get) returned no
/// value.
#[derive(Clone, Debug)]
pub enum TryGetError {
    /// Nothing is stored yet (gevent's `get_nowait` raises `Timeout`).
    Empty,
    /// The stored outcome is this error (set with `set_error`).
    Failed(Error),
}

impl fmt::Display for TryGetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryGetError::Empty => f.write_str("no outcome is stored yet"),
            TryGetError::Failed(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for TryGetError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TryGetError::Empty => None,
            TryGetError::Failed(e) => Some(e),
        }
    }
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TryAcquireError;

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("acquiring would have to wait")
    }
}

impl std::error::Error for TryAcquireError {}

impl From<TryAcquireError> for Error {
    fn from(e: TryAcquireError) -> Error {
        Error::failed(e)
    }
}
