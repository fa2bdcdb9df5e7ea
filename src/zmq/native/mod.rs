//! The green-native ZMTP 3.1 transport (feature `native`, partial): ZMTP
//! spoken by the hub itself over green `tcp://` and `ipc://` streams,
//! with no libzmq I/O thread in between.
//!
//! A native [`Socket`] speaks the ZeroMQ wire protocol (ZMTP 3.1, RFC 23
//! and 37, through the sans-I/O codec of the `omq-proto` crate), so its
//! peers can be libzmq sockets (of any language) or other native sockets.
//! Its methods mirror the green libzmq [`zmq::Socket`](crate::zmq::Socket)
//! (`send`, `recv_bytes`, `send_multipart`, `recv_multipart`, their
//! `_timeout` forms, `DONTWAIT`, `SNDMORE`), but it is a type of its own:
//! what it does not support does not exist on it, or fails with a typed
//! error (`Error::Zmq(ENOTSUP)`, `EPROTONOSUPPORT`, ...), never silently.
//!
//! ```
//! use zgreen::zmq::native::Socket;
//!
//! let rep = Socket::new(zmq::REP).unwrap();
//! rep.bind("tcp://127.0.0.1:*").unwrap();
//! let endpoint = rep.last_endpoint().unwrap();
//! let server = zgreen::spawn(move || -> zgreen::Result<()> {
//!     let req = rep.recv_bytes(0)?;
//!     rep.send([&req[..], b" back"].concat(), 0)
//! });
//! let req = Socket::new(zmq::REQ).unwrap();
//! req.connect(&endpoint).unwrap();
//! req.send("hello", 0).unwrap();
//! assert_eq!(req.recv_bytes(0).unwrap(), b"hello back");
//! server.get().unwrap().unwrap();
//! ```
//!
//! # What is supported
//!
//! - Socket types REQ, REP, DEALER, ROUTER, PUB, SUB, XPUB, XSUB, PUSH,
//!   PULL, PAIR (the routing rules are in the table of `route.rs`); other
//!   types fail at [`Socket::new`] with `ENOTSUP`.
//! - Transports `tcp://` and `ipc://` (path names; abstract `@names` and
//!   every other transport fail with `EPROTONOSUPPORT`).
//! - NULL, PLAIN and CURVE; servers ask the ZAP handler of their context
//!   (the one [`auth::Authenticator`](crate::zmq::auth::Authenticator)
//!   binds), as libzmq does.
//! - HWM both ways (SNDHWM per peer, RCVHWM per socket, in messages),
//!   MAXMSGSIZE (checked at the frame header), HANDSHAKE_IVL, heartbeats
//!   (HEARTBEAT_IVL / TIMEOUT / TTL), reconnect with back-off
//!   (RECONNECT_IVL / _MAX), ROUTING_ID, ROUTER_MANDATORY, LINGER.
//!
//! # Not supported yet, and differences from libzmq
//!
//! [`Poller`](crate::zmq::Poller), the steerable proxy and capture
//! ([`proxy`] forwards without them), monitors; socket options beyond
//! those above; the draft
//! types. RCVHWM is one queue per socket (libzmq: per peer). A ROUTER
//! gives a peer whose identity is taken a generated one (libzmq refuses
//! the second connection) and drops the queued messages of a peer that
//! left. A send before any connection has finished its handshake parks
//! (or fails with `EAGAIN` under `DONTWAIT`) instead of queueing for the
//! peer to come (libzmq's behaviour with `ZMQ_IMMEDIATE` set). Several
//! greenlets sending or receiving frame by frame (`SNDMORE`
//! / [`Socket::get_rcvmore`]) on one socket at once interleave
//! (whole-message calls are safe to share).
//!
//! # Writing: inline when idle, batched under load
//!
//! A send to an idle peer (nothing queued or half written, and its writer
//! idle since the last inline write) is encoded and written at once by
//! the sending greenlet: one `sendmsg`, no parking, no hop to another
//! thread. Every other message queues (up to SNDHWM) and the peer's
//! writer greenlet encodes the queue contiguously and writes it in
//! batches of up to 256 messages or 256 KiB, one `sendmsg` each; so a
//! greenlet sending in a loop writes its first message inline and the
//! rest in batches. The layers and invariants are in `docs/native.md`.
//!
//! # Either transport
//!
//! [`MessageSocket`] (whole-message send and receive, bind, connect,
//! timeouts, subscribe, close) is implemented by this socket and by the
//! green libzmq one, so generic code runs on either or across the two;
//! [`proxy`] forwards between any two of them.

mod api;
mod options;
mod peer;
mod route;
mod security;
mod session;
mod shared;
mod wire;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use omq_proto::proto::SocketType;

pub use self::api::{MessageSocket, proxy};
use self::security::Security;
use self::shared::Shared;
use self::wire::Endpoint;
use crate::error::{Error, Result};
use crate::hub::Deadline;

/// The ZMTP socket type of a libzmq socket type, if native sockets
/// support it.
fn omq_type(kind: zmq::SocketType) -> Result<SocketType> {
    Ok(match kind {
        zmq::REQ => SocketType::Req,
        zmq::REP => SocketType::Rep,
        zmq::DEALER => SocketType::Dealer,
        zmq::ROUTER => SocketType::Router,
        zmq::PUB => SocketType::Pub,
        zmq::SUB => SocketType::Sub,
        zmq::XPUB => SocketType::XPub,
        zmq::XSUB => SocketType::XSub,
        zmq::PUSH => SocketType::Push,
        zmq::PULL => SocketType::Pull,
        zmq::PAIR => SocketType::Pair,
        _ => return Err(Error::Zmq(zmq::Error::ENOTSUP)),
    })
}

/// Closes the socket when the last handle goes.
struct Handle {
    shared: Rc<Shared>,
    /// Frames of a message being sent with `SNDMORE`.
    send_more: RefCell<Vec<Bytes>>,
    /// Frames of a message being received frame by frame.
    recv_rest: RefCell<std::collections::VecDeque<Vec<u8>>>,
    rcvmore: Cell<bool>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.close();
    }
}

/// A native ZeroMQ socket: ZMTP over green streams, driven by this
/// thread's hub (see the [module docs](self)).
///
/// A cheap clonable handle, not `Send`; the socket closes when the last
/// handle is dropped (or at [`close`](Socket::close)).
#[derive(Clone)]
pub struct Socket {
    h: Rc<Handle>,
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("native::Socket")
            .field("kind", &self.h.shared.kind)
            .field("peers", &self.peer_count())
            .field("closed", &self.is_closed())
            .finish()
    }
}

fn deadline_of(timeout: Option<Duration>) -> Option<Deadline> {
    Deadline::from_timeout(timeout)
}

impl Socket {
    /// A new native socket of type `kind` (REQ, REP, DEALER, ROUTER, PUB,
    /// SUB, XPUB, XSUB, PUSH, PULL or PAIR; others: `ENOTSUP`).
    pub fn new(kind: zmq::SocketType) -> Result<Socket> {
        Socket::make(kind, None)
    }

    /// A new native socket whose servers ask the ZAP handler of `ctx`
    /// (what [`Context::native_socket`](crate::zmq::Context::native_socket)
    /// makes); [`new`](Self::new) uses the process-wide
    /// [`Context::instance`](crate::zmq::Context::instance), made only when
    /// a handshake first needs ZAP.
    pub fn with_context(kind: zmq::SocketType, ctx: crate::zmq::Context) -> Result<Socket> {
        Socket::make(kind, Some(ctx))
    }

    fn make(kind: zmq::SocketType, ctx: Option<crate::zmq::Context>) -> Result<Socket> {
        omq_type(kind)?;
        Ok(Socket {
            h: Rc::new(Handle {
                shared: Rc::new(Shared::new(kind, ctx)),
                send_more: RefCell::new(Vec::new()),
                recv_rest: RefCell::new(Default::default()),
                rcvmore: Cell::new(false),
            }),
        })
    }

    fn sh(&self) -> &Rc<Shared> {
        &self.h.shared
    }

    /// The socket type.
    pub fn kind(&self) -> zmq::SocketType {
        self.sh().kind
    }

    /// Handshaken peers connected right now.
    pub fn peer_count(&self) -> usize {
        self.sh().st.borrow().peers.len()
    }

    /// True once [`close`](Self::close) ran.
    pub fn is_closed(&self) -> bool {
        self.sh().closed.get()
    }

    fn check_open(&self) -> Result<()> {
        if self.is_closed() {
            Err(Error::SocketClosed)
        } else {
            Ok(())
        }
    }

    /// Binds `tcp://host:port` (`*` for any host; port `*` picks a free
    /// one, see [`last_endpoint`](Self::last_endpoint)) or `ipc://path`,
    /// and accepts connections from then on.
    pub fn bind(&self, endpoint: &str) -> Result<()> {
        self.check_open()?;
        let ep = Endpoint::parse(endpoint)?;
        let (listener, bound) = ep.bind()?;
        let sock = self.sh().clone();
        let key = format!("bind {bound}");
        let k = key.clone();
        let g = crate::greenlet::try_spawn(move || session::accept_loop(sock, listener, k))?;
        self.sh().add_task(&key, g.any());
        let mut st = self.sh().st.borrow_mut();
        if let Endpoint::Ipc(path) = ep {
            st.ipc_files.push(path);
        }
        st.binds.push((endpoint.to_string(), bound.clone()));
        st.last_endpoint = Some(bound);
        Ok(())
    }

    /// Stops listening on `endpoint` (as given to [`bind`](Self::bind), or
    /// as [`last_endpoint`](Self::last_endpoint) reported it) and ends the
    /// connections accepted there; `ENOENT` if it is not bound.
    pub fn unbind(&self, endpoint: &str) -> Result<()> {
        self.check_open()?;
        let bound = {
            let mut st = self.sh().st.borrow_mut();
            let at = st
                .binds
                .iter()
                .position(|(given, bound)| given == endpoint || bound == endpoint)
                .ok_or(Error::Zmq(zmq::Error::ENOENT))?;
            let (_, bound) = st.binds.remove(at);
            if let Some(path) = bound.strip_prefix("ipc://") {
                let path = std::path::PathBuf::from(path);
                st.ipc_files.retain(|p| *p != path);
                let _ = std::fs::remove_file(&path);
            }
            bound
        };
        self.sh().end_tasks(&format!("bind {bound}"));
        Ok(())
    }

    /// Stops connecting to `endpoint` (as given to
    /// [`connect`](Self::connect)) and ends that connection; `ENOENT` if
    /// it is not connected.
    pub fn disconnect(&self, endpoint: &str) -> Result<()> {
        self.check_open()?;
        if self.sh().end_tasks(&format!("connect {endpoint}")) {
            Ok(())
        } else {
            Err(Error::Zmq(zmq::Error::ENOENT))
        }
    }

    /// Connects to `tcp://host:port` or `ipc://path` in the background,
    /// reconnecting whenever the connection fails or ends (as libzmq: the
    /// call returns at once, and messages wait for the peer).
    pub fn connect(&self, endpoint: &str) -> Result<()> {
        self.check_open()?;
        let ep = Endpoint::parse(endpoint)?;
        let sock = self.sh().clone();
        let g = crate::greenlet::Builder::new()
            .stack_bytes(session::SESSION_STACK_BYTES)
            .spawn(move || session::connect_loop(sock, ep))?;
        self.sh().add_task(&format!("connect {endpoint}"), g.any());
        Ok(())
    }

    /// The endpoint of the last bind, with the port chosen for `*`.
    pub fn last_endpoint(&self) -> Result<String> {
        self.sh()
            .st
            .borrow()
            .last_endpoint
            .clone()
            .ok_or(Error::Zmq(zmq::Error::EINVAL))
    }

    /// Closes the socket: listeners and connections end, every parked
    /// caller wakes with [`Error::SocketClosed`], and what is queued is
    /// still written for LINGER.
    pub fn close(&self) -> Result<()> {
        self.sh().close();
        Ok(())
    }

    /// Sends one frame; with `zmq::SNDMORE` it is held until the frame
    /// without it completes the message. `zmq::DONTWAIT`: `EAGAIN`
    /// instead of parking. Bounded by the send timeout.
    pub fn send(&self, data: impl AsRef<[u8]>, flags: i32) -> Result<()> {
        self.send_until(data, flags, deadline_of(self.sh().opts.send_timeout.get()))
    }

    /// [`send`](Self::send) with a timeout for this call.
    pub fn send_timeout(&self, data: impl AsRef<[u8]>, flags: i32, timeout: Duration) -> Result<()> {
        self.send_until(data, flags, Some(Deadline::after(timeout)))
    }

    fn send_until(&self, data: impl AsRef<[u8]>, flags: i32, deadline: Option<Deadline>) -> Result<()> {
        self.check_open()?;
        let frame = Bytes::copy_from_slice(data.as_ref());
        if flags & zmq::SNDMORE != 0 {
            self.h.send_more.borrow_mut().push(frame);
            return Ok(());
        }
        let mut parts = std::mem::take(&mut *self.h.send_more.borrow_mut());
        parts.push(frame);
        self.send_parts(parts, flags, deadline)
    }

    fn send_parts(&self, parts: Vec<Bytes>, flags: i32, deadline: Option<Deadline>) -> Result<()> {
        crate::hub::check_interrupt()?;
        route::send(self.sh(), parts, deadline, flags & zmq::DONTWAIT != 0)?;
        crate::zmq::socket::count_ops(1);
        Ok(())
    }

    /// Sends a whole multipart message (`flags`: `DONTWAIT`).
    pub fn send_multipart<I, T>(&self, frames: I, flags: i32) -> Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        self.check_open()?;
        let parts = frames
            .into_iter()
            .map(|f| Bytes::copy_from_slice(f.as_ref()))
            .collect();
        self.send_parts(parts, flags, deadline_of(self.sh().opts.send_timeout.get()))
    }

    /// [`send_multipart`](Self::send_multipart) with a timeout for this
    /// call.
    pub fn send_multipart_timeout<I, T>(&self, frames: I, flags: i32, timeout: Duration) -> Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        self.check_open()?;
        let parts = frames
            .into_iter()
            .map(|f| Bytes::copy_from_slice(f.as_ref()))
            .collect();
        self.send_parts(parts, flags, Some(Deadline::after(timeout)))
    }

    fn recv_whole(&self, flags: i32, deadline: Option<Deadline>) -> Result<Vec<Vec<u8>>> {
        self.check_open()?;
        crate::hub::check_interrupt()?;
        let frames = route::recv(self.sh(), deadline, flags & zmq::DONTWAIT != 0)?;
        crate::zmq::socket::count_ops(1);
        Ok(frames)
    }

    /// Receives a whole multipart message (`flags`: `DONTWAIT`). Bounded
    /// by the receive timeout.
    pub fn recv_multipart(&self, flags: i32) -> Result<Vec<Vec<u8>>> {
        if !self.h.recv_rest.borrow().is_empty() {
            self.h.rcvmore.set(false);
            return Ok(self.h.recv_rest.borrow_mut().drain(..).collect());
        }
        self.recv_whole(flags, deadline_of(self.sh().opts.recv_timeout.get()))
    }

    /// [`recv_multipart`](Self::recv_multipart) with a timeout for this
    /// call.
    pub fn recv_multipart_timeout(&self, flags: i32, timeout: Duration) -> Result<Vec<Vec<u8>>> {
        self.recv_whole(flags, Some(Deadline::after(timeout)))
    }

    /// [`recv_multipart`](Self::recv_multipart) with a deadline.
    pub fn recv_multipart_deadline(&self, flags: i32, deadline: Instant) -> Result<Vec<Vec<u8>>> {
        self.recv_whole(flags, Some(Deadline::at(deadline)))
    }

    /// Receives one frame; [`get_rcvmore`](Self::get_rcvmore) tells if
    /// more of its message follow.
    pub fn recv_bytes(&self, flags: i32) -> Result<Vec<u8>> {
        self.recv_frame(flags, deadline_of(self.sh().opts.recv_timeout.get()))
    }

    /// [`recv_bytes`](Self::recv_bytes) with a timeout for this call.
    pub fn recv_bytes_timeout(&self, flags: i32, timeout: Duration) -> Result<Vec<u8>> {
        self.recv_frame(flags, Some(Deadline::after(timeout)))
    }

    fn recv_frame(&self, flags: i32, deadline: Option<Deadline>) -> Result<Vec<u8>> {
        let next = self.h.recv_rest.borrow_mut().pop_front();
        let frame = match next {
            Some(f) => f,
            None => {
                let mut frames = std::collections::VecDeque::from(self.recv_whole(flags, deadline)?);
                let first = frames.pop_front().unwrap_or_default();
                *self.h.recv_rest.borrow_mut() = frames;
                first
            }
        };
        self.h.rcvmore.set(!self.h.recv_rest.borrow().is_empty());
        Ok(frame)
    }

    /// [`recv_bytes`](Self::recv_bytes) as UTF-8 (`Err(bytes)` if it is
    /// not).
    pub fn recv_string(&self, flags: i32) -> Result<std::result::Result<String, Vec<u8>>> {
        Ok(String::from_utf8(self.recv_bytes(flags)?).map_err(|e| e.into_bytes()))
    }

    /// True if the frame last received by [`recv_bytes`](Self::recv_bytes)
    /// has more frames after it (`ZMQ_RCVMORE`).
    pub fn get_rcvmore(&self) -> Result<bool> {
        Ok(self.h.rcvmore.get())
    }

    /// SUB: subscribes to messages whose first frame starts with `prefix`
    /// (told to every peer, now and on reconnect).
    pub fn subscribe(&self, prefix: impl AsRef<[u8]>) -> Result<()> {
        self.check_open()?;
        route::subscribe(self.sh(), prefix.as_ref(), true)
    }

    /// SUB: cancels a subscription.
    pub fn unsubscribe(&self, prefix: impl AsRef<[u8]>) -> Result<()> {
        self.check_open()?;
        route::subscribe(self.sh(), prefix.as_ref(), false)
    }

    /// Bounds every later blocking receive (`None`: forever, the default).
    pub fn set_recv_timeout(&self, timeout: Option<Duration>) {
        self.sh().opts.recv_timeout.set(timeout);
    }

    /// Bounds every later blocking send (`None`: forever, the default).
    pub fn set_send_timeout(&self, timeout: Option<Duration>) {
        self.sh().opts.send_timeout.set(timeout);
    }

    /// `ZMQ_SNDHWM`: messages queued per peer (default 1000; 0 is taken
    /// as 1, since an unbounded queue would let a stalled peer pin any
    /// amount of memory).
    pub fn set_sndhwm(&self, messages: usize) {
        self.sh().opts.sndhwm.set(messages);
    }

    /// `ZMQ_RCVHWM`: messages queued for receiving, for the whole socket
    /// (default 1000; 0 is taken as 1).
    pub fn set_rcvhwm(&self, messages: usize) {
        self.sh().opts.rcvhwm.set(messages);
    }

    /// `ZMQ_MAXMSGSIZE`: the largest inbound message in bytes (`None`,
    /// the default: no limit); a peer announcing a bigger frame is
    /// disconnected. Applies to connections made after the call.
    pub fn set_maxmsgsize(&self, bytes: Option<usize>) {
        self.sh().opts.max_msg_bytes.set(bytes);
    }

    /// `ZMQ_HANDSHAKE_IVL`: how long a new connection may take to finish
    /// its handshake before it is dropped (default 30 s).
    pub fn set_handshake_ivl(&self, ivl: Duration) {
        self.sh().opts.handshake_ivl.set(ivl);
    }

    /// `ZMQ_HEARTBEAT_IVL`: PING every `ivl` (`None`, the default: no
    /// heartbeats). Applies to connections made after the call.
    pub fn set_heartbeat_ivl(&self, ivl: Option<Duration>) {
        self.sh().opts.heartbeat_ivl.set(ivl);
    }

    /// `ZMQ_HEARTBEAT_TIMEOUT`: with heartbeats on, drop a connection
    /// silent for this long (default: the PING period).
    pub fn set_heartbeat_timeout(&self, timeout: Option<Duration>) {
        self.sh().opts.heartbeat_timeout.set(timeout);
    }

    /// `ZMQ_HEARTBEAT_TTL`: the silence the peer may allow us, sent in our
    /// PINGs (default 0: none).
    pub fn set_heartbeat_ttl(&self, ttl: Option<Duration>) {
        self.sh().opts.heartbeat_ttl.set(ttl);
    }

    /// `ZMQ_RECONNECT_IVL`: the pause before reconnecting (default 100 ms).
    pub fn set_reconnect_ivl(&self, ivl: Duration) {
        self.sh().opts.reconnect_ivl.set(ivl);
    }

    /// `ZMQ_RECONNECT_IVL_MAX`: while attempts fail, the pause doubles up
    /// to this (`None`, the default: it stays at RECONNECT_IVL).
    pub fn set_reconnect_ivl_max(&self, max: Option<Duration>) {
        self.sh().opts.reconnect_ivl_max.set(max);
    }

    /// `ZMQ_LINGER`: how long queued messages are still written after
    /// close (default 1 s).
    pub fn set_linger(&self, linger: Duration) {
        self.sh().opts.linger.set(linger);
    }

    /// `ZMQ_ROUTING_ID`: the identity announced to peers (for their
    /// ROUTER); set it before connecting.
    pub fn set_identity(&self, identity: &[u8]) -> Result<()> {
        if identity.len() > 255 || identity.first() == Some(&0) {
            return Err(Error::Zmq(zmq::Error::EINVAL));
        }
        *self.sh().opts.identity.borrow_mut() = identity.to_vec();
        Ok(())
    }

    /// `ZMQ_CURVE_SERVER`: with `true`, connections made from now on are
    /// CURVE servers with the secret key set by
    /// [`set_curve_secretkey`](Self::set_curve_secretkey) (before or
    /// after); clients are checked by ZAP when a handler is bound.
    pub fn set_curve_server(&self, on: bool) -> Result<()> {
        let mut sec = self.sh().opts.security.borrow_mut();
        *sec = match (&*sec, on) {
            (Security::CurveServer { .. }, true) => return Ok(()),
            (Security::CurveClient { public, secret, .. }, true) => Security::CurveServer {
                public: *public,
                secret: *secret,
            },
            // No key yet: set it next (until then every handshake fails).
            (_, true) => Security::CurveServer {
                public: [0; 32],
                secret: [0; 32],
            },
            (_, false) => Security::Null,
        };
        Ok(())
    }

    /// `ZMQ_CURVE_SECRETKEY`: our long-term secret key (32 bytes, or 40
    /// characters of Z85); the public key is derived from it.
    pub fn set_curve_secretkey(&self, key: &[u8]) -> Result<()> {
        let secret = security::key(key)?;
        let public = security::public_of(&secret);
        let mut sec = self.sh().opts.security.borrow_mut();
        *sec = match &*sec {
            Security::CurveServer { .. } => Security::CurveServer { public, secret },
            Security::CurveClient { server, .. } => Security::CurveClient {
                public,
                secret,
                server: *server,
            },
            // Until a server key or CURVE_SERVER says which side: a client
            // of an unknown server fails every handshake, never silently
            // falls back to NULL.
            _ => Security::CurveClient {
                public,
                secret,
                server: [0; 32],
            },
        };
        Ok(())
    }

    /// `ZMQ_CURVE_SERVERKEY`: makes connections CURVE clients of the server
    /// with this public key (32 bytes or 40 characters of Z85); set our
    /// secret key too.
    pub fn set_curve_serverkey(&self, key: &[u8]) -> Result<()> {
        let server = security::key(key)?;
        let mut sec = self.sh().opts.security.borrow_mut();
        let (public, secret) = match &*sec {
            Security::CurveClient { public, secret, .. } | Security::CurveServer { public, secret } => {
                (*public, *secret)
            }
            _ => ([0; 32], [0; 32]),
        };
        *sec = Security::CurveClient {
            public,
            secret,
            server,
        };
        Ok(())
    }

    /// `ZMQ_PLAIN_SERVER`: with `true`, connections are PLAIN servers whose
    /// clients ZAP checks (with no handler bound, every client is
    /// admitted, as libzmq does).
    pub fn set_plain_server(&self, on: bool) {
        *self.sh().opts.security.borrow_mut() = if on { Security::PlainServer } else { Security::Null };
    }

    /// `ZMQ_PLAIN_USERNAME` and `ZMQ_PLAIN_PASSWORD`: connections are PLAIN
    /// clients with these credentials.
    pub fn set_plain_credentials(&self, username: &str, password: &str) {
        *self.sh().opts.security.borrow_mut() = Security::PlainClient {
            username: username.to_string(),
            password: password.to_string(),
        };
    }

    /// `ZMQ_ZAP_DOMAIN`: the domain sent to ZAP; a NULL server with a
    /// domain asks ZAP too.
    pub fn set_zap_domain(&self, domain: &str) {
        *self.sh().opts.zap_domain.borrow_mut() = domain.to_string();
    }

    /// `ZMQ_ZAP_ENFORCE_DOMAIN`: with no ZAP handler bound, deny the
    /// clients ZAP would have checked instead of admitting them.
    pub fn set_zap_enforce_domain(&self, on: bool) {
        self.sh().opts.zap_enforce.set(on);
    }

    /// `ZMQ_ROUTER_MANDATORY`: a ROUTER send to an unknown peer fails with
    /// `EHOSTUNREACH` (and to a full one with `EAGAIN`) instead of being
    /// dropped.
    pub fn set_router_mandatory(&self, on: bool) {
        self.sh().opts.router_mandatory.set(on);
    }
}
