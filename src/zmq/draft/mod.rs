//! Green draft sockets: CLIENT/SERVER, RADIO/DISH, SCATTER/GATHER and
//! PEER/CHANNEL (libzmq's draft API, built into the vendored libzmq).
//!
//! These socket types are thread-safe in libzmq and have no `ZMQ_FD`, so
//! the ordinary readiness rules of [`Socket`](super::Socket) do not apply.
//! Each green draft socket owns a `zmq_poller` that watches it, and the
//! poller's descriptor (`zmq_poller_fd`) is what the hub watches.
//!
//! # Readiness rules for a poller descriptor
//!
//! libzmq signals the descriptor (an eventfd) once per *command* that
//! reaches the socket's mailbox: a pipe that became readable or writable,
//! a new peer, a peer gone. `zmq_poller_wait` consumes one signal and
//! then reads the socket's `ZMQ_EVENTS`, which processes the pending
//! commands. So, re-derived from the `ZMQ_FD` rules:
//!
//! 1. The descriptor is registered READABLE only, edge-triggered, and
//!    never read, written or closed by zgreen (the poller owns it). Every
//!    signal is a write to the eventfd, and each write raises a new edge
//!    even if it was readable already.
//! 2. Every operation is tried first with `DONTWAIT`; only `EAGAIN` parks.
//! 3. Before parking, the events are read through the poller (consuming a
//!    signal, then `ZMQ_EVENTS`): if the direction is ready the operation
//!    is retried at once. A command arriving after that read signals
//!    again, so the wakeup cannot be lost.
//! 4. An edge with no event for the woken direction is normal (the signal
//!    was for the other direction, or another greenlet took the message):
//!    the woken greenlet retries, gets `EAGAIN` and parks again.
//! 5. After every libzmq call on the socket (a send or receive that
//!    succeeded or failed, `bind`, `connect`, `join`, ...), if anybody is
//!    parked, the events are read again and the first waiter of each
//!    direction that can proceed is woken; it cascades to the next.
//! 6. Every message is a single part (libzmq refuses `SNDMORE` on these
//!    types), so there is no turn: any number of greenlets of the hub may
//!    send and receive on one socket at once, and a kill or timeout can
//!    never tear a message. Outcome wins: a message received or sent is
//!    returned as such even if an interrupt arrives right after.
//! 7. Timeouts come from the hub's timers.
//!
//! ```
//! use zgreen::zmq::Context;
//! use zgreen::zmq::draft::{DraftKind, DraftMessage};
//!
//! let ctx = Context::new();
//! let server = ctx.draft_socket(DraftKind::Server).unwrap();
//! server.bind("inproc://doc-draft").unwrap();
//! let client = ctx.draft_socket(DraftKind::Client).unwrap();
//! client.connect("inproc://doc-draft").unwrap();
//! client.send("hello").unwrap();
//! let got = server.recv().unwrap();
//! assert_eq!(got.data, b"hello");
//! // A SERVER answers the peer a message came from.
//! let peer = got.routing_id.unwrap();
//! server.send(DraftMessage::new("world").to_peer(peer)).unwrap();
//! assert_eq!(client.recv().unwrap().data, b"world");
//! ```

use std::cell::Cell;
use std::fmt;
use std::ops::Deref;
use std::rc::Rc;
use std::time::{Duration, Instant};

use self::core::Inner;
use super::endpoints::{self, Endpoints, Side};
use super::ffi::{RawMsg, draft};
use super::{Context, DEFAULT_LINGER_MS};
use crate::error::{Error, Result, TryRecvError, TrySendError};
use crate::hub::{Deadline, Dir, IoRegistration};

mod core;

/// The longest group name (RADIO, DISH), in bytes. A longer one is
/// refused with `EINVAL` (libzmq itself would cut it short silently).
pub const MAX_GROUP_BYTES: usize = draft::GROUP_MAX_BYTES;

/// The draft socket types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DraftKind {
    /// Talks to one SERVER at a time (round-robin over several).
    Client,
    /// Answers CLIENTs; each message carries the routing id of its peer.
    Server,
    /// Publishes messages to groups.
    Radio,
    /// Receives the messages of the groups it joined.
    Dish,
    /// Sends round-robin to GATHER peers (a thread-safe PUSH).
    Scatter,
    /// Receives fair-queued from SCATTER peers (a thread-safe PULL).
    Gather,
    /// Peer to peer: connects to named peers and addresses each message
    /// by routing id.
    Peer,
    /// One peer only (a thread-safe PAIR).
    Channel,
}

impl DraftKind {
    /// libzmq's number for the type (`zmq.h`, draft section).
    fn raw(self) -> i32 {
        match self {
            DraftKind::Server => 12,
            DraftKind::Client => 13,
            DraftKind::Radio => 14,
            DraftKind::Dish => 15,
            DraftKind::Gather => 16,
            DraftKind::Scatter => 17,
            DraftKind::Peer => 19,
            DraftKind::Channel => 20,
        }
    }
}

/// One message of a draft socket: always a single part, with the peer it
/// came from or goes to (SERVER, PEER) or its group (RADIO, DISH).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DraftMessage {
    /// The payload.
    pub data: Vec<u8>,
    /// The routing id of the peer: set on messages a SERVER or PEER
    /// receives, required on those it sends.
    pub routing_id: Option<u32>,
    /// The group: required on messages a RADIO sends (at most
    /// [`MAX_GROUP_BYTES`]),
    /// set on those a DISH receives.
    pub group: Option<String>,
}

impl DraftMessage {
    /// A message with `data` and no routing id or group.
    pub fn new(data: impl Into<Vec<u8>>) -> DraftMessage {
        DraftMessage {
            data: data.into(),
            ..DraftMessage::default()
        }
    }

    /// The message addressed to the peer `routing_id` (SERVER, PEER).
    pub fn to_peer(mut self, routing_id: u32) -> DraftMessage {
        self.routing_id = Some(routing_id);
        self
    }

    /// The message in `group` (RADIO).
    pub fn in_group(mut self, group: impl Into<String>) -> DraftMessage {
        self.group = Some(group.into());
        self
    }

    /// The libzmq message to send.
    fn to_raw(&self) -> std::result::Result<RawMsg, zmq::Error> {
        let mut msg = RawMsg::from_bytes(&self.data)?;
        if let Some(id) = self.routing_id {
            msg.set_routing_id(id)?;
        }
        if let Some(group) = &self.group {
            msg.set_group(group)?;
        }
        Ok(msg)
    }

    /// A received libzmq message, with the metadata `kind` gives it.
    fn from_raw(mut msg: RawMsg, kind: DraftKind) -> DraftMessage {
        let routing_id = match kind {
            DraftKind::Server | DraftKind::Peer => Some(msg.routing_id()).filter(|&id| id != 0),
            _ => None,
        };
        let group = match kind {
            DraftKind::Dish => Some(msg.group()),
            _ => None,
        };
        DraftMessage {
            data: msg.bytes().to_vec(),
            routing_id,
            group,
        }
    }
}

impl From<Vec<u8>> for DraftMessage {
    fn from(data: Vec<u8>) -> DraftMessage {
        DraftMessage::new(data)
    }
}

impl From<&[u8]> for DraftMessage {
    fn from(data: &[u8]) -> DraftMessage {
        DraftMessage::new(data)
    }
}

impl From<&str> for DraftMessage {
    fn from(data: &str) -> DraftMessage {
        DraftMessage::new(data)
    }
}

/// A green draft socket (see the [module docs](self) for its readiness
/// rules).
///
/// A cheap clonable handle: any number of greenlets of its hub may send
/// and receive on it at once. Blocking calls park the calling greenlet;
/// from plain `main()` they run the hub. It is not `Send`: it belongs to
/// the hub of the thread that created it, although libzmq would allow
/// more.
///
/// ```compile_fail,E0277
/// use zgreen::zmq::draft::DraftKind;
/// let client = zgreen::zmq::Context::new().draft_socket(DraftKind::Client).unwrap();
/// std::thread::spawn(move || drop(client));
/// ```
///
/// Socket options (`set_sndhwm`, `set_linger`, CURVE keys, ...) are
/// available through `Deref` to [`zmq::Socket`]. Its `send`, `recv`,
/// `bind`, `connect` and `get_fd` must not be used: the first two would
/// block the hub, the next two skip the wakeups, and these types have no
/// `ZMQ_FD`.
#[derive(Clone)]
pub struct DraftSocket {
    inner: Rc<Inner>,
}

impl fmt::Debug for DraftSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DraftSocket")
            .field("kind", &self.inner.kind)
            .field("fd", &self.inner.fd)
            .field("closed", &self.inner.closed.get())
            .finish()
    }
}

impl Deref for DraftSocket {
    type Target = zmq::Socket;
    fn deref(&self) -> &zmq::Socket {
        &self.inner.sock
    }
}

impl Context {
    /// Creates a green draft socket of type `kind`, registered with the
    /// current thread's hub, with LINGER
    /// [`DEFAULT_LINGER_MS`](super::DEFAULT_LINGER_MS).
    pub fn draft_socket(&self, kind: DraftKind) -> Result<DraftSocket> {
        let ptr = self.new_raw_socket(kind.raw())?;
        // SAFETY: `ptr` is a socket just created and owned by nobody else;
        // the zmq::Socket takes sole ownership (it closes it on drop).
        let sock = unsafe { zmq::Socket::from_raw(ptr) };
        sock.set_linger(DEFAULT_LINGER_MS)?;
        // SAFETY: `ptr` is live and outlives the poller (`Inner` drops the
        // poller before `sock`).
        let poller = unsafe { draft::Poller::watching(ptr) }?;
        let fd = poller.fd()?;
        let reg = IoRegistration::register(&mut mio::unix::SourceFd(&fd), mio::Interest::READABLE)?;
        reg.entry.zmq.set(true);
        let inner = Inner {
            poller,
            fd,
            reg,
            kind,
            closed: Cell::new(false),
            endpoints: Endpoints::default(),
            recv_timeout: Cell::new(None),
            send_timeout: Cell::new(None),
            raw: ptr,
            sock,
            _ctx: self.clone(),
        };
        Ok(DraftSocket {
            inner: Rc::new(inner),
        })
    }
}

impl DraftSocket {
    /// The socket type.
    pub fn kind(&self) -> DraftKind {
        self.inner.kind
    }

    /// The endpoint this socket last bound to (with the port resolved for
    /// `tcp://127.0.0.1:*`).
    pub fn last_endpoint(&self) -> Result<String> {
        self.inner
            .sock
            .get_last_endpoint()?
            .map_err(|_| Error::Zmq(zmq::Error::EINVAL))
    }

    /// Bounds every later [`recv`](Self::recv) to `timeout`; `None` (the
    /// default) waits forever.
    pub fn set_recv_timeout(&self, timeout: Option<Duration>) {
        self.inner.recv_timeout.set(timeout);
    }

    /// Bounds every later [`send`](Self::send) to `timeout`.
    pub fn set_send_timeout(&self, timeout: Option<Duration>) {
        self.inner.send_timeout.set(timeout);
    }

    /// True once [`close`](Self::close) was called on any handle.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.get()
    }

    // ------------------------------------------------------------ endpoints

    /// Runs a libzmq call that changes the socket's connections, then
    /// wakes whom its processed commands made ready (rule 5).
    fn setup<T>(&self, call: impl FnOnce(&zmq::Socket) -> std::result::Result<T, zmq::Error>) -> Result<T> {
        self.inner.check_open()?;
        let r = call(&self.inner.sock);
        self.inner.wake_ready();
        Ok(r?)
    }

    /// Binds to `endpoint`.
    pub fn bind(&self, endpoint: &str) -> Result<()> {
        self.setup(|s| s.bind(endpoint))?;
        let resolved = self.last_endpoint().unwrap_or_else(|_| endpoint.to_owned());
        self.inner.endpoints.add(Side::Bound, resolved);
        Ok(())
    }

    /// Connects to `endpoint`.
    pub fn connect(&self, endpoint: &str) -> Result<()> {
        self.setup(|s| s.connect(endpoint))?;
        self.inner.endpoints.add(Side::Connected, endpoint.to_owned());
        Ok(())
    }

    /// Connects a PEER socket to `endpoint` and returns the new peer's
    /// routing id, to address messages with
    /// [`DraftMessage::to_peer`].
    pub fn connect_peer(&self, endpoint: &str) -> Result<u32> {
        let raw = self.inner.raw;
        // SAFETY: `raw` is the live socket of `sock` (invariant), used on
        // its own thread.
        let id = self.setup(|_| unsafe { draft::connect_peer(raw, endpoint) })?;
        self.inner.endpoints.add(Side::Connected, endpoint.to_owned());
        Ok(id)
    }

    /// Stops listening on `endpoint`.
    pub fn unbind(&self, endpoint: &str) -> Result<()> {
        self.end_endpoint(Side::Bound, endpoint)
    }

    /// Disconnects from `endpoint`.
    pub fn disconnect(&self, endpoint: &str) -> Result<()> {
        self.end_endpoint(Side::Connected, endpoint)
    }

    fn end_endpoint(&self, side: Side, endpoint: &str) -> Result<()> {
        self.setup(|s| endpoints::end(s, side, endpoint))?;
        self.inner.endpoints.forget(side, endpoint);
        Ok(())
    }

    /// Joins `group` (a DISH socket): it receives the group's messages
    /// from then on. A group is at most [`MAX_GROUP_BYTES`] long.
    pub fn join(&self, group: &str) -> Result<()> {
        let raw = self.inner.raw;
        // SAFETY: as in `connect_peer`.
        self.setup(|_| unsafe { draft::join(raw, group) })
    }

    /// Leaves `group` (a DISH socket).
    pub fn leave(&self, group: &str) -> Result<()> {
        let raw = self.inner.raw;
        // SAFETY: as in `connect_peer`.
        self.setup(|_| unsafe { draft::leave(raw, group) })
    }

    /// Closes the socket for every handle: ends every endpoint set up
    /// through `bind`, `connect` and `connect_peer`, wakes every parked greenlet with
    /// [`Error::SocketClosed`], and makes every later operation fail with
    /// it. libzmq's socket is freed when the last handle is dropped.
    pub fn close(&self) -> Result<()> {
        if self.inner.closed.replace(true) {
            return Ok(());
        }
        self.inner.endpoints.end_all(&self.inner.sock);
        self.inner.wake_all();
        Ok(())
    }

    // ----------------------------------------------------------------- send

    /// Sends one message, parking while the socket cannot take it (no
    /// peer yet, high-water mark reached). A SERVER or PEER message needs
    /// a routing id, a RADIO message a group; libzmq's refusal
    /// (`EHOSTUNREACH` for a peer that is gone, `EINVAL`) is returned.
    pub fn send(&self, msg: impl Into<DraftMessage>) -> Result<()> {
        let d = Deadline::from_timeout(self.inner.send_timeout.get());
        self.send_op(&msg.into(), d, true)
    }

    /// [`send`](Self::send), giving up with `Error::Timeout` after
    /// `timeout`.
    pub fn send_timeout(&self, msg: impl Into<DraftMessage>, timeout: Duration) -> Result<()> {
        self.send_op(&msg.into(), Some(Deadline::after(timeout)), true)
    }

    /// [`send`](Self::send), giving up with `Error::Timeout` at
    /// `deadline`.
    pub fn send_deadline(&self, msg: impl Into<DraftMessage>, deadline: Instant) -> Result<()> {
        self.send_op(&msg.into(), Some(Deadline::at(deadline)), true)
    }

    /// Sends the message if the socket can take it now, never parking;
    /// otherwise hands it back.
    pub fn try_send(
        &self,
        msg: impl Into<DraftMessage>,
    ) -> std::result::Result<(), TrySendError<DraftMessage>> {
        let msg = msg.into();
        match self.send_op(&msg, None, false) {
            Ok(()) => Ok(()),
            Err(Error::Zmq(zmq::Error::EAGAIN)) => Err(TrySendError::Full(msg)),
            Err(e) => Err(TrySendError::Failed(msg, e)),
        }
    }

    fn send_op(&self, msg: &DraftMessage, deadline: Option<Deadline>, blocking: bool) -> Result<()> {
        // Built once: libzmq leaves a message it refused with the caller.
        let mut raw = msg.to_raw()?;
        self.inner.run_op(Dir::Write, deadline, blocking, |inner| {
            // SAFETY: `raw` is the live socket of `sock` (invariant), used
            // on its own thread.
            unsafe { raw.send(inner.raw, false) }
        })
    }

    // -------------------------------------------------------------- receive

    /// Receives one message, parking until one arrives.
    pub fn recv(&self) -> Result<DraftMessage> {
        self.recv_op(Deadline::from_timeout(self.inner.recv_timeout.get()), true)
    }

    /// [`recv`](Self::recv), giving up with `Error::Timeout` after
    /// `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<DraftMessage> {
        self.recv_op(Some(Deadline::after(timeout)), true)
    }

    /// [`recv`](Self::recv), giving up with `Error::Timeout` at
    /// `deadline`.
    pub fn recv_deadline(&self, deadline: Instant) -> Result<DraftMessage> {
        self.recv_op(Some(Deadline::at(deadline)), true)
    }

    /// A message if one is waiting, never parking.
    pub fn try_recv(&self) -> std::result::Result<DraftMessage, TryRecvError> {
        match self.recv_op(None, false) {
            Ok(m) => Ok(m),
            Err(Error::Zmq(zmq::Error::EAGAIN)) => Err(TryRecvError::Empty),
            Err(e) => Err(TryRecvError::Failed(e)),
        }
    }

    fn recv_op(&self, deadline: Option<Deadline>, blocking: bool) -> Result<DraftMessage> {
        let kind = self.inner.kind;
        self.inner.run_op(Dir::Read, deadline, blocking, |inner| {
            let mut msg = RawMsg::new();
            // SAFETY: as in `send_op`.
            match unsafe { msg.recv(inner.raw) } {
                Ok(true) => Ok(DraftMessage::from_raw(msg, kind)),
                Ok(false) => Err(zmq::Error::EAGAIN),
                Err(e) => Err(e),
            }
        })
    }
}
