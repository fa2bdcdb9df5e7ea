//! The errors of channel operations; each hands the item back where there
//! is one.

use std::fmt;

use crate::error::{Closed, Error, ItemError};

/// Why [`Sender::try_send`](super::Sender::try_send) failed; the item
/// comes back.
#[derive(thiserror::Error, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// The channel is bounded and full.
    #[error("the channel is full")]
    Full(T),
    /// Every receiver is gone.
    #[error("{}", Closed::Disconnected)]
    Disconnected(T),
}

impl<T> TrySendError<T> {
    /// The item that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(t) | TrySendError::Disconnected(t) => t,
        }
    }

    /// True for [`TrySendError::Full`].
    pub fn is_full(&self) -> bool {
        matches!(self, TrySendError::Full(_))
    }

    /// True for [`TrySendError::Disconnected`].
    pub fn is_disconnected(&self) -> bool {
        matches!(self, TrySendError::Disconnected(_))
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Disconnected(_) => f.write_str("Disconnected(..)"),
        }
    }
}

/// Why [`Receiver::try_recv`](super::Receiver::try_recv) returned nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TryRecvError {
    /// Nothing to receive now.
    #[error("the channel is empty")]
    Empty,
    /// Every sender is gone and every item was received.
    #[error("{}", Closed::Disconnected)]
    Disconnected,
}

impl From<TryRecvError> for Error {
    fn from(e: TryRecvError) -> Error {
        match e {
            TryRecvError::Empty => Error::failed(TryRecvError::Empty),
            TryRecvError::Disconnected => Error::Closed(Closed::Disconnected),
        }
    }
}

/// Why a blocking [`Sender::send`](super::Sender::send) (or its
/// `_timeout` / `_deadline` form) failed: the error, and the item back.
///
/// The error is [`Error::Closed`]`(`[`Closed::Disconnected`]`)` when every
/// receiver is gone ([`ItemError::is_disconnected`]), [`Error::Timeout`]
/// for the call's own timeout or an enclosing `Timeout`, or
/// [`Error::Killed`].
pub type SendError<T> = ItemError<T>;
