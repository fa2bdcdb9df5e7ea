//! The error type every blocking call of zgreen returns.

use std::fmt;
use std::sync::Arc;

/// A shorthand for `Result<T, zgreen::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a blocking call, a join or a spawn can fail with.
///
/// Errors are cheap to clone (payloads are behind `Arc`), so the same
/// failure can be handed to every greenlet that joins a dead one.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A timeout expired: either the deadline given to this very call
    /// (`join_timeout`, `get_timeout`, ...) or an enclosing
    /// [`Timeout`](crate::Timeout) scope. [`TimeoutError::id`] tells which.
    #[error("{0}")]
    Timeout(TimeoutError),
    /// The greenlet was killed. Every later blocking call of a killed
    /// greenlet returns this too, so a killed greenlet cannot block again.
    #[error("greenlet was killed")]
    Killed,
    /// The greenlet panicked; the panic was caught at the greenlet boundary.
    #[error("{0}")]
    Panicked(Arc<PanicError>),
    /// The greenlet overflowed its stack. Spawn it with a larger
    /// `stack_bytes` (see [`Builder::stack_bytes`](crate::Builder::stack_bytes)).
    #[error("greenlet overflowed its stack of {stack_bytes} bytes; spawn it with a larger stack")]
    StackOverflow {
        /// The usable size of the stack that overflowed.
        stack_bytes: usize,
    },
    /// A coroutine stack could not be allocated. See
    /// [`Error::StackAlloc`]'s message: usually `vm.max_map_count` or
    /// `RLIMIT_AS` was reached.
    #[error(
        "cannot allocate a {stack_bytes}-byte greenlet stack ({cause}); {live} greenlets are live. \
         Each live greenlet costs two kernel memory mappings (stack + guard page): raise \
         vm.max_map_count (sysctl -w vm.max_map_count=262144), raise RLIMIT_AS, or spawn fewer \
         greenlets at once (see docs/limits.md)"
    )]
    StackAlloc {
        /// The requested usable stack size.
        stack_bytes: usize,
        /// What the kernel or allocator said.
        cause: String,
        /// Greenlets alive on this hub when the allocation failed.
        live: usize,
    },
    /// The wait could never end: nothing is ready, no timer is armed, no
    /// I/O source is registered and no other thread holds a handle that
    /// could wake the hub (gevent's `LoopExit`).
    #[error("this operation would block forever: the hub has nothing left that could wake it")]
    WouldBlockForever,
    /// A greenlet tried to join itself.
    #[error("a greenlet cannot join itself")]
    JoinSelf,
    /// An operating-system error.
    #[error("{0}")]
    Io(Arc<std::io::Error>),
    /// What the call works on is closed, shut down or gone: a queue that
    /// was shut down, a stopped server, a relay or WebSocket peer that
    /// went away. [`Closed`] says which.
    #[error("{0}")]
    Closed(Closed),
    /// An error from libzmq (never `EAGAIN`: that only parks the greenlet).
    #[cfg(feature = "zmq")]
    #[error("zmq: {0}")]
    Zmq(zmq::Error),
    /// A socket's message cycle was interrupted (a REQ socket waiting for
    /// its reply, or a multipart message cut after some frames were sent)
    /// and the socket cannot be used any more: close it and open a new one
    /// (the Lazy Pirate pattern).
    #[error("socket needs a reset: {0}")]
    NeedsReset(ResetReason),
    /// The ZeroMQ socket was closed with `Socket::close` (by this greenlet
    /// or another one sharing the socket): every parked operation on it
    /// returns this, and so does every later one.
    #[error("zmq socket was closed")]
    SocketClosed,
    /// The greenlet's value was already moved out with
    /// [`Greenlet::take`](crate::Greenlet::take).
    #[error("the greenlet's value was taken")]
    ValueTaken,
    /// A socket monitor sent an event that does not have libzmq's
    /// version-2 layout.
    #[error("malformed socket monitor event")]
    MalformedMonitorEvent,
    /// A failure reported by user code (for example the payload handed to
    /// `AsyncResult::set_error`, or the result of a thread-pool job that
    /// failed).
    #[error("{0}")]
    Failed(Arc<dyn std::error::Error + Send + Sync>),
}

impl Error {
    /// True for any timeout, whatever its source.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout(_))
    }

    /// True for the timeout of the call's own `_timeout`/`_deadline`
    /// argument (id 0), not a [`Timeout`](crate::Timeout) scope's.
    pub fn is_call_timeout(&self) -> bool {
        matches!(self, Error::Timeout(t) if t.id == 0)
    }

    /// True if the greenlet was killed.
    pub fn is_killed(&self) -> bool {
        matches!(self, Error::Killed)
    }

    /// True if the error is [`Error::Closed`] (of any kind).
    pub fn is_closed(&self) -> bool {
        matches!(self, Error::Closed(_))
    }

    /// An [`Error::Failed`] carrying just a message, for user code that
    /// has no error type of its own.
    ///
    /// ```
    /// let e = zgreen::Error::other("no such user");
    /// assert_eq!(e.to_string(), "no such user");
    /// ```
    pub fn other(message: impl Into<String>) -> Error {
        Error::Failed(Arc::new(Message(message.into())))
    }

    /// Wraps any error as [`Error::Failed`].
    pub fn failed<E: std::error::Error + Send + Sync + 'static>(err: E) -> Error {
        Error::Failed(Arc::new(err))
    }

    /// The custom payload of a timeout started with
    /// [`Timeout::with_error`](crate::Timeout::with_error), if it is of type `E`.
    pub fn timeout_payload<E: std::error::Error + 'static>(&self) -> Option<&E> {
        match self {
            Error::Timeout(t) => t.payload.as_deref().and_then(|p| p.downcast_ref::<E>()),
            _ => None,
        }
    }
}

/// What [`Error::Closed`] reports as closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum Closed {
    /// The queue (or an actor's mailbox) was shut down
    /// (`Queue::shutdown`), and nothing is left to take.
    #[error("the queue is shut down")]
    QueueShutDown,
    /// The [`StreamServer`](crate::net::StreamServer) was stopped.
    #[error("the StreamServer was stopped")]
    ServerStopped,
    /// The peer closed the connection (a relay's other end, at a message
    /// boundary), or reset it.
    #[error("the peer closed the connection")]
    Peer,
    /// The peer closed the connection in the middle of a message (a relay
    /// message, an HTTP request body): what was read of it is dropped.
    #[error("the peer closed the connection in the middle of a message")]
    PeerMidMessage,
    /// The WebSocket is closed.
    #[error("the WebSocket is closed")]
    WebSocket,
    /// The WebSocket's close handshake has begun: nothing more can be sent.
    #[error("the WebSocket is closing")]
    WebSocketClosing,
    /// The WebSocket peer did not answer the close handshake in time.
    #[error("the WebSocket close handshake timed out")]
    CloseHandshakeTimedOut,
    /// The WebSocket peer read too slowly: its outbound queue overflowed
    /// and it was disconnected.
    #[error("the WebSocket client was too slow and was disconnected")]
    SlowConsumer,
    /// The WebSocket peer went silent for longer than the idle timeout.
    #[error("the WebSocket peer went silent")]
    PeerSilent,
    /// The other side of a [`chan`](crate::chan) channel is gone: every
    /// receiver was dropped (a send), or every sender was dropped and
    /// nothing is left to receive (a receive).
    #[error("the channel is disconnected")]
    Disconnected,
}

/// Why a ZeroMQ socket reports [`Error::NeedsReset`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum ResetReason {
    /// A REQ socket's wait for its reply was interrupted (killed, timed
    /// out): the lock-step cycle is broken.
    #[error("a REQ socket's wait for its reply was interrupted")]
    ReplyInterrupted,
    /// A multipart send failed after some of its frames were sent: the
    /// peer would see a torn message.
    #[error("a multipart send failed after some of its frames were sent")]
    MultipartCut,
}

/// The payload of [`Error::other`].
#[derive(Debug)]
struct Message(String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Message {}

#[cfg(feature = "zmq")]
impl From<zmq::Error> for Error {
    fn from(err: zmq::Error) -> Self {
        Error::Zmq(err)
    }
}

/// An `io::Error` that carries a zgreen error (as green streams' `Read`
/// and `Write` impls return a timeout or a kill) converts back to that
/// error, so `?` keeps a timeout a timeout.
impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        if let Some(inner) = err.get_ref().and_then(|e| e.downcast_ref::<Error>()) {
            return inner.clone();
        }
        Error::Io(Arc::new(err))
    }
}

/// Which timeout expired, and its optional custom payload.
#[derive(Clone)]
pub struct TimeoutError {
    /// The id of the [`Timeout`](crate::Timeout) scope that expired, or 0
    /// for the deadline passed to the call itself.
    pub id: u64,
    /// The configured duration.
    pub after: std::time::Duration,
    /// A custom error set with [`Timeout::with_error`](crate::Timeout::with_error)
    /// (the seed's `TooLong`).
    pub payload: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl fmt::Debug for TimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimeoutError")
            .field("id", &self.id)
            .field("after", &self.after)
            .field("payload", &self.payload.as_ref().map(|p| p.to_string()))
            .finish()
    }
}

impl fmt::Display for TimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.payload {
            Some(p) => write!(f, "{p}"),
            None => write!(f, "timed out after {:?}", self.after),
        }
    }
}

/// A panic caught at a greenlet boundary.
#[derive(Debug, Clone, thiserror::Error)]
#[error("greenlet #{greenlet} panicked{}: {message}", location.as_deref().map(|l| format!(" at {l}")).unwrap_or_default())]
pub struct PanicError {
    /// The panic message (`&str` and `String` payloads; others are
    /// described as opaque).
    pub message: String,
    /// `file:line:column` of the panic, when known.
    pub location: Option<String>,
    /// The id of the greenlet that panicked.
    pub greenlet: u64,
}

/// Why a `try_send` (of a ZeroMQ socket) sent nothing; the payload is
/// handed back.
#[derive(thiserror::Error)]
pub enum TrySendError<T> {
    /// The socket cannot take it now without waiting: its high-water mark
    /// is reached, it has no peer yet, or another greenlet is in the
    /// middle of a multipart message.
    #[error("the socket cannot take the message without waiting")]
    Full(T),
    /// The send failed for good (a closed socket, a libzmq error, a kill).
    #[error("{1}")]
    Failed(T, #[source] Error),
}

impl<T> TrySendError<T> {
    /// The payload that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(t) | TrySendError::Failed(t, _) => t,
        }
    }

    /// True for [`TrySendError::Full`].
    pub fn is_full(&self) -> bool {
        matches!(self, TrySendError::Full(_))
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Failed(_, e) => f.debug_tuple("Failed").field(&"..").field(e).finish(),
        }
    }
}

/// Why a `try_recv` (of a ZeroMQ socket, a monitor or a WebSocket) got
/// nothing.
#[derive(Clone, Debug, thiserror::Error)]
pub enum TryRecvError {
    /// Nothing can be received without waiting (nothing has arrived, or
    /// another greenlet is in the middle of a multipart message).
    #[error("nothing to receive without waiting")]
    Empty,
    /// The receive failed for good (closed, a libzmq error, a kill).
    #[error("{0}")]
    Failed(#[source] Error),
}

impl TryRecvError {
    /// True for [`TryRecvError::Empty`].
    pub fn is_empty(&self) -> bool {
        matches!(self, TryRecvError::Empty)
    }
}

impl From<Error> for TryRecvError {
    fn from(e: Error) -> TryRecvError {
        TryRecvError::Failed(e)
    }
}

impl TryRecvError {
    /// `Empty` as `Ok(None)`, the value as `Ok(Some(..))`, `Failed` as its
    /// error: for loops that drain whatever is waiting.
    pub fn optional<T>(r: std::result::Result<T, TryRecvError>) -> Result<Option<T>> {
        match r {
            Ok(v) => Ok(Some(v)),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Failed(e)) => Err(e),
        }
    }
}

/// A blocking call that delivers an item (a queue's `put`, a channel's
/// `send`, an actor's `send`) failed: why, and the item, handed back
/// untouched. `queue::PutError` and `chan::SendError` are this type.
#[derive(thiserror::Error)]
#[error("the item was not delivered: {error}")]
pub struct ItemError<T> {
    pub(crate) item: T,
    #[source]
    pub(crate) error: Error,
}

impl<T> ItemError<T> {
    /// The item that was not delivered.
    pub fn into_inner(self) -> T {
        self.item
    }

    /// The item that was not delivered, by reference.
    pub fn item(&self) -> &T {
        &self.item
    }

    /// What went wrong: [`Error::Timeout`], [`Error::Killed`], or
    /// [`Error::Closed`] (a queue shut down, a channel disconnected).
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// True if a timeout (the call's own or a scope's) expired.
    pub fn is_timeout(&self) -> bool {
        self.error.is_timeout()
    }

    /// True if the queue is shut down ([`Closed::QueueShutDown`]).
    pub fn is_shut_down(&self) -> bool {
        matches!(self.error, Error::Closed(Closed::QueueShutDown))
    }

    /// True if every receiver of the channel is gone
    /// ([`Closed::Disconnected`]).
    pub fn is_disconnected(&self) -> bool {
        matches!(self.error, Error::Closed(Closed::Disconnected))
    }
}

impl<T> fmt::Debug for ItemError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ItemError")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl<T> From<ItemError<T>> for Error {
    fn from(e: ItemError<T>) -> Error {
        e.error
    }
}
