//! The errors of channel operations. The public ones are the crate's:
//! [`SendError`] (an [`ItemError`]), and [`TrySendError`] /
//! [`TryRecvError`] as for ZeroMQ sockets, with
//! [`Error::Closed`]`(`[`Closed::Disconnected`]`)` when the other side is
//! gone. Inside, the channel's own outcomes are two small enums.

use crate::error::{Closed, Error, ItemError, TryRecvError, TrySendError};

/// Why a blocking [`Sender::send`](super::Sender::send) (or its
/// `_timeout` / `_deadline` form) failed: the error, and the item back.
///
/// The error is [`Error::Closed`]`(`[`Closed::Disconnected`]`)` when every
/// receiver is gone ([`ItemError::is_disconnected`]), [`Error::Timeout`]
/// for the call's own timeout or an enclosing `Timeout`, or
/// [`Error::Killed`].
pub type SendError<T> = ItemError<T>;

/// Why a send that does not wait did not happen.
pub(super) enum Refused<T> {
    /// The channel is bounded and full.
    Full(T),
    /// Every receiver is gone.
    Disconnected(T),
}

/// Why a receive that does not wait got nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Nothing {
    /// Nothing queued now.
    Empty,
    /// Every sender is gone and every item was received.
    Disconnected,
}

impl<T> From<Refused<T>> for TrySendError<T> {
    fn from(r: Refused<T>) -> Self {
        match r {
            Refused::Full(t) => TrySendError::Full(t),
            Refused::Disconnected(t) => TrySendError::Failed(t, Error::Closed(Closed::Disconnected)),
        }
    }
}

impl From<Nothing> for TryRecvError {
    fn from(n: Nothing) -> Self {
        match n {
            Nothing::Empty => TryRecvError::Empty,
            Nothing::Disconnected => TryRecvError::Failed(Error::Closed(Closed::Disconnected)),
        }
    }
}
