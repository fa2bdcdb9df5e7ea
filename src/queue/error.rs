//! The errors of queue operations: each hands its item back where there
//! is one, as crossbeam-channel's do.

use std::fmt;

use crate::error::{Closed, Error, ItemError};

/// How [`Queue::shutdown`](super::Queue::shutdown) treats the items still queued.
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

/// Why `try_put` failed; the item is handed back.
#[derive(thiserror::Error)]
pub enum TryPutError<T> {
    /// The queue is full (gevent's `Full`).
    #[error("the queue is full")]
    Full(T),
    /// The queue is shut down.
    #[error("{}", Closed::QueueShutDown)]
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

impl<T> From<TryPutError<T>> for Error {
    fn from(e: TryPutError<T>) -> Error {
        match e {
            TryPutError::Full(_) => Error::failed(TryPutError::Full(())),
            TryPutError::ShutDown(_) => Error::Closed(Closed::QueueShutDown),
        }
    }
}

/// Why `try_get` failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TryGetError {
    /// The queue is empty (gevent's `Empty`).
    #[error("the queue is empty")]
    Empty,
    /// The queue is shut down and (in [`ShutdownMode::Drain`]) empty.
    #[error("{}", Closed::QueueShutDown)]
    ShutDown,
}

impl From<TryGetError> for Error {
    fn from(e: TryGetError) -> Error {
        match e {
            TryGetError::Empty => Error::failed(TryGetError::Empty),
            TryGetError::ShutDown => Error::Closed(Closed::QueueShutDown),
        }
    }
}

/// Why a blocking `put` failed (its own timeout, a kill, an expired
/// `Timeout` scope, or a shutdown: [`ItemError::is_shut_down`]); the item
/// is handed back.
pub type PutError<T> = ItemError<T>;

/// `task_done` was called more times than items were put.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("task_done() called too many times")]
pub struct TaskDoneError;

impl From<TaskDoneError> for Error {
    fn from(e: TaskDoneError) -> Error {
        Error::failed(e)
    }
}
