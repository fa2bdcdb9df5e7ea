//! The green socket: libzmq's `ZMQ_FD` integrated into the hub.
//!
//! # Readiness rules (DESIGN.md, "ZeroMQ readiness rules")
//!
//! 1. `ZMQ_FD` is registered READABLE only, edge-triggered, through
//!    `mio::unix::SourceFd`, which never reads, writes or closes it.
//! 2. Every operation is tried first with `DONTWAIT`; only `EAGAIN` parks.
//! 3. Before parking, `ZMQ_EVENTS` is read: the edge may already have fired.
//! 4. A readable fd with `ZMQ_EVENTS == 0` is normal: the woken greenlet
//!    finds nothing to do and parks again.
//! 5. After *every* libzmq call that can process commands — a send or
//!    receive that succeeded or failed (`EAGAIN` of a `try_*` call too),
//!    `bind`, `connect`, `unbind`, `disconnect`, a `ZMQ_EVENTS` read — if
//!    anybody is parked, `ZMQ_EVENTS` is read again and the first waiter
//!    of each direction that can proceed is woken (each woken one
//!    cascades to the next).
//! 6. One wait queue per direction, and one *turn* per direction (see
//!    below): frames of two messages never interleave.
//! 7. Timeouts come from the hub's timers, not RCVTIMEO/SNDTIMEO.
//! 8. An optional backstop audits parked operations; a wakeup it rescues
//!    is counted ([`backstop_rescues`]) and logged, since it means an edge
//!    was lost.
//!
//! A mandatory ROUTER (`ZMQ_ROUTER_MANDATORY`) refuses a message for a
//! full peer with `EAGAIN` while `ZMQ_EVENTS` says POLLOUT (another peer
//! has room): such a send waits for the next edge or a short pause (1 ms
//! doubling to 32 ms) and retries; it never spins and never stops the hub.
//!
//! # Several greenlets on one socket: the contract
//!
//! A `Socket` is a cheap clonable handle; any number of greenlets of its
//! hub may send and receive on it at once.
//!
//! - **Whole messages.** A greenlet that has moved some frames of a
//!   message in one direction owns that direction (its *turn*) until the
//!   last frame. Other greenlets' operations in that direction wait for
//!   the turn, checked again on every retry, and all of them are woken
//!   when it passes on. `send_multipart` and `recv_multipart` hold the
//!   turn for the whole call; frame-by-frame use (`SNDMORE`,
//!   `Message::get_more`) holds it across calls.
//! - **Outcome wins over interrupt.** An operation whose libzmq call
//!   succeeded returns `Ok`, even if a kill or a timeout arrives during the
//!   fairness yield that may follow it; the interrupt is returned by the
//!   next blocking call. A message received is never dropped, and a message
//!   sent is never reported as failed (a retry would duplicate it).
//! - **Interrupts.** A kill or timeout is checked before a blocking
//!   operation starts a new message and while it is parked. An operation
//!   that continues the caller's own message is tried first: a receive's
//!   remaining frames are always there (libzmq delivers a message whole),
//!   so a started receive is never cut by an interrupt.
//! - **An interrupted multipart send.** If no frame was sent, nothing
//!   changes. If some were, libzmq holds an unfinished message that no
//!   later frame may complete: the interrupted greenlet gets its `Killed`
//!   or `Timeout`; the socket is marked [`Error::NeedsReset`] and every
//!   waiting greenlet wakes with that error at once; the peer receives
//!   nothing of the cut message (libzmq drops it when the socket closes).
//!   Close the socket and open a new one.
//! - **A receiver that ends mid-message.** If a greenlet that received
//!   some frames of a message ends without the rest (returns early with
//!   `?`, panics, is killed), the remaining frames of that message are
//!   dropped (and logged) and the turn passes on, so the next receiver
//!   starts at a message boundary. A sender that ends mid-message marks
//!   the socket for reset, as above.
//! - **A REQ socket** whose wait for the reply is interrupted needs a
//!   reset (the Lazy Pirate pattern).
//! - **`try_*` and `DONTWAIT` never park**: while another greenlet owns the
//!   turn they report "not now" (`Ok(false)`, `Ok(None)`, or `EAGAIN`).
//!   A killed greenlet may still make them (to say goodbye).
//! - **[`Socket::close`]** wakes every parked greenlet with
//!   [`Error::SocketClosed`]; every later operation fails with it.

use std::cell::Cell;
use std::fmt;
use std::ops::Deref;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use super::endpoints::{Endpoints, Side};
use crate::error::{Error, ResetReason, Result};
use crate::hub::task::WaitQueue;
use crate::hub::{self, Deadline, Dir, IoRegistration};

mod audit;
mod core;
mod forward;
mod ops;
mod ready;
mod turn;

pub(crate) use self::core::count_ops;
pub(crate) use self::forward::forward_messages;
pub use self::ready::{Readable, Writable};
use self::turn::{MultipartGuard, Turn};

/// LINGER given to every new green socket, in milliseconds.
pub const DEFAULT_LINGER_MS: i32 = 1000;

/// Successful operations after which a greenlet that never blocks yields.
static FAIRNESS_OPS: AtomicUsize = AtomicUsize::new(128);
static BACKSTOP_RESCUES: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static OPS_SINCE_YIELD: Cell<usize> = const { Cell::new(0) };
}

/// Sets after how many successful socket operations in a row a greenlet
/// yields to the others (default 128; 0 disables the fairness yield).
pub fn set_fairness_ops(n: usize) {
    FAIRNESS_OPS.store(n, Ordering::Relaxed);
}

/// How many lost wakeups the backstop found and repaired (process-wide).
/// Stays 0 unless there is a bug.
pub fn backstop_rescues() -> u64 {
    BACKSTOP_RESCUES.load(Ordering::Relaxed)
}

pub(crate) struct Inner {
    sock: zmq::Socket,
    /// The libzmq socket behind `sock`, for calls the `zmq` crate does not
    /// offer (stopping a monitor, zero-copy forwarding).
    ///
    /// # Invariant
    /// Valid while `sock` is alive, i.e. for the life of this `Inner`.
    raw: *mut std::ffi::c_void,
    ctx: super::Context,
    kind: zmq::SocketType,
    fd: RawFd,
    reg: IoRegistration,
    send_turn: Rc<Turn>,
    recv_turn: Rc<Turn>,
    needs_reset: Cell<Option<ResetReason>>,
    closed: Cell<bool>,
    /// Endpoints set up through `bind` and `connect`, ended by `close`.
    endpoints: Endpoints,
    router_mandatory: Cell<bool>,
    recv_timeout: Cell<Option<Duration>>,
    send_timeout: Cell<Option<Duration>>,
    backstop: Cell<Option<Duration>>,
    audit_armed: Cell<bool>,
    /// What the last backstop audit saw, per direction (receive, send).
    audit_seen: [Cell<audit::Seen>; 2],
    /// libzmq calls made on this socket (for the backstop's audit).
    calls: Cell<u64>,
}

/// A green ZeroMQ socket.
///
/// Blocking operations park the calling greenlet; called from plain
/// `main()` they run the hub. `Socket` is a cheap clonable handle, so
/// several greenlets can share one socket: each direction has its own
/// FIFO of waiters, multipart messages never interleave, and kills and
/// timeouts never lose, duplicate or tear a message (the module docs give
/// the whole contract). It is not `Send`: a socket belongs to the hub of
/// the thread that created it.
///
/// ```
/// let ctx = zgreen::zmq::Context::new();
/// let push = ctx.socket(zmq::PUSH).unwrap();
/// let pull = ctx.socket(zmq::PULL).unwrap();
/// push.bind("inproc://doc-socket").unwrap();
/// pull.connect("inproc://doc-socket").unwrap();
/// // Two greenlets share the sending socket; their messages stay whole.
/// let senders: Vec<_> = (0..2u8)
///     .map(|id| {
///         let push = push.clone();
///         zgreen::spawn(move || push.send_multipart([vec![id], vec![id; 3]], 0))
///     })
///     .collect();
/// for _ in 0..2 {
///     let parts = pull.recv_multipart(0).unwrap();
///     assert_eq!(parts[1], vec![parts[0][0]; 3]);
/// }
/// for s in senders {
///     s.get().unwrap().unwrap();
/// }
/// ```
///
/// It cannot be sent to another thread (the compiler refuses it, error
/// E0277); make one socket per thread from the shared
/// [`Context`](super::Context):
///
/// ```compile_fail,E0277
/// let push = zgreen::zmq::Context::new().socket(zmq::PUSH).unwrap();
/// std::thread::spawn(move || drop(push));
/// ```
///
/// Every socket option of the `zmq` crate is available through `Deref` to
/// [`zmq::Socket`] (`get_*`/`set_*`). The calls that change libzmq's state
/// or wait — `send`, `recv*`, `poll`, `bind`, `connect`, `unbind`,
/// `disconnect`, `get_events` — are shadowed by green versions here; never
/// call them through [`raw`](Socket::raw), and do not pass green sockets
/// to the blocking `zmq::poll` (use [`Poller`](super::Poller)).
#[derive(Clone)]
pub struct Socket {
    inner: Rc<Inner>,
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket")
            .field("kind", &self.inner.kind)
            .field("fd", &self.inner.fd)
            .field("needs_reset", &self.inner.needs_reset.get())
            .field("closed", &self.inner.closed.get())
            .finish()
    }
}

impl Deref for Socket {
    type Target = zmq::Socket;
    fn deref(&self) -> &zmq::Socket {
        &self.inner.sock
    }
}

impl Inner {
    /// Stops this socket's monitor (`zmq_socket_monitor(s, NULL, 0)`).
    pub(crate) fn stop_monitor(&self) {
        // SAFETY: `raw` is valid while `self` lives (invariant), and this
        // runs on the socket's thread.
        unsafe { super::ffi::stop_monitor(self.raw) };
    }

    /// The turn of direction `dir`.
    #[inline]
    fn turn(&self, dir: Dir) -> &Rc<Turn> {
        match dir {
            Dir::Write => &self.send_turn,
            Dir::Read => &self.recv_turn,
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Deregister before libzmq closes the fd with the socket.
        let fd = self.fd;
        let _ = hub::try_with_hub(|h| h.deregister(&mut mio::unix::SourceFd(&fd)));
    }
}

impl Socket {
    pub(crate) fn new(
        ctx: super::Context,
        sock: zmq::Socket,
        raw: *mut std::ffi::c_void,
        kind: zmq::SocketType,
    ) -> Result<Socket> {
        sock.set_linger(DEFAULT_LINGER_MS)?;
        let fd = sock.get_fd()?;
        let reg = IoRegistration::register(&mut mio::unix::SourceFd(&fd), mio::Interest::READABLE)?;
        reg.entry.zmq.set(true);
        let inner = Rc::new_cyclic(|me| Inner {
            sock,
            raw,
            ctx,
            kind,
            fd,
            reg,
            send_turn: Rc::new(Turn::new(me.clone(), Dir::Write)),
            recv_turn: Rc::new(Turn::new(me.clone(), Dir::Read)),
            needs_reset: Cell::new(None),
            closed: Cell::new(false),
            endpoints: Endpoints::default(),
            router_mandatory: Cell::new(false),
            recv_timeout: Cell::new(None),
            send_timeout: Cell::new(None),
            backstop: Cell::new(None),
            audit_armed: Cell::new(false),
            audit_seen: Default::default(),
            calls: Cell::new(0),
        });
        Ok(Socket { inner })
    }

    /// The underlying `zmq` socket, for options. Its blocking
    /// `send`/`recv` would block the whole hub, and its `bind`/`connect`
    /// skip the wakeups rule 5 needs: use this socket's methods instead.
    pub fn raw(&self) -> &zmq::Socket {
        &self.inner.sock
    }

    /// The libzmq socket, for the calls of `ffi` on this thread.
    #[cfg(feature = "draft")]
    pub(crate) fn raw_ptr(&self) -> *mut std::ffi::c_void {
        self.inner.raw
    }

    /// The context this socket was made from.
    pub fn context(&self) -> super::Context {
        self.inner.ctx.clone()
    }

    /// The socket type.
    pub fn kind(&self) -> zmq::SocketType {
        self.inner.kind
    }

    /// The endpoint this socket last bound to (with the port resolved for
    /// `tcp://127.0.0.1:*`).
    pub fn last_endpoint(&self) -> Result<String> {
        match self.inner.sock.get_last_endpoint()? {
            Ok(s) => Ok(s),
            Err(_) => Err(Error::Zmq(zmq::Error::EINVAL)),
        }
    }

    /// True if an interrupted operation left the socket unusable (see
    /// [`Error::NeedsReset`]).
    pub fn needs_reset(&self) -> bool {
        self.inner.needs_reset.get().is_some()
    }

    /// True once [`close`](Self::close) was called on any handle of this
    /// socket.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.get()
    }

    /// Default timeout of blocking receives on this socket (hub timers,
    /// not `ZMQ_RCVTIMEO`). `None` (the default) waits forever.
    pub fn set_recv_timeout(&self, timeout: Option<Duration>) {
        self.inner.recv_timeout.set(timeout);
    }

    /// Default timeout of blocking sends on this socket.
    pub fn set_send_timeout(&self, timeout: Option<Duration>) {
        self.inner.send_timeout.set(timeout);
    }

    /// Enables (with `Some(period)`) the backstop (rule 8): every `period`
    /// the hub audits this socket's parked operations. It should never be
    /// needed: a parked greenlet it finds ready with no wakeup on its way
    /// is a lost wakeup, woken, counted in [`backstop_rescues`] and logged
    /// as an error. A lost wakeup is repaired within two periods.
    pub fn set_backstop(&self, period: Option<Duration>) {
        self.inner.backstop.set(period);
        if let Some(p) = period {
            if !self.inner.audit_armed.replace(true) {
                audit::arm(Rc::downgrade(&self.inner), p);
            }
        }
    }

    /// Sets `ZMQ_ZAP_ENFORCE_DOMAIN` (option 93, libzmq 4.3): with it, a
    /// socket that has a ZAP domain rejects peers when no ZAP handler
    /// answers, instead of letting them in (which the `zmq` crate cannot
    /// set).
    pub fn set_zap_enforce_domain(&self, value: bool) -> Result<()> {
        const ZMQ_ZAP_ENFORCE_DOMAIN: i32 = 93;
        // SAFETY: `raw` is valid while the socket lives (invariant), and
        // this runs on the socket's thread.
        Ok(unsafe { super::ffi::set_int_option(self.inner.raw, ZMQ_ZAP_ENFORCE_DOMAIN, value.into()) }?)
    }

    /// Sets `ZMQ_ROUTER_MANDATORY` (and remembers it: a mandatory ROUTER
    /// can refuse a message with `EAGAIN` although the socket is writable,
    /// so its sends wait as the module docs describe, and zero-copy sends
    /// on it keep a copy for the retry).
    pub fn set_router_mandatory(&self, value: bool) -> Result<()> {
        self.inner.sock.set_router_mandatory(value)?;
        self.inner.router_mandatory.set(value);
        Ok(())
    }

    /// Subscribes a SUB socket to messages starting with `prefix`.
    pub fn subscribe(&self, prefix: impl AsRef<[u8]>) -> Result<()> {
        Ok(self.inner.sock.set_subscribe(prefix.as_ref())?)
    }

    /// Removes a subscription.
    pub fn unsubscribe(&self, prefix: impl AsRef<[u8]>) -> Result<()> {
        Ok(self.inner.sock.set_unsubscribe(prefix.as_ref())?)
    }

    // ------------------------------------------------------------ endpoints

    /// Binds to `endpoint` (`zmq_bind`), then wakes parked greenlets the
    /// commands libzmq processed in the call may have made ready (rule 5).
    pub fn bind(&self, endpoint: &str) -> Result<()> {
        self.inner.check_open()?;
        let r = self.inner.sock.bind(endpoint);
        self.inner.wake_ready();
        r?;
        let resolved = self.last_endpoint().unwrap_or_else(|_| endpoint.to_owned());
        self.inner.endpoints.add(Side::Bound, resolved);
        Ok(())
    }

    /// Connects to `endpoint` (`zmq_connect`); wakes as [`bind`](Self::bind).
    pub fn connect(&self, endpoint: &str) -> Result<()> {
        self.inner.check_open()?;
        let r = self.inner.sock.connect(endpoint);
        self.inner.wake_ready();
        r?;
        self.inner.endpoints.add(Side::Connected, endpoint.to_owned());
        Ok(())
    }

    /// Stops listening on `endpoint` (`zmq_unbind`); wakes as
    /// [`bind`](Self::bind).
    pub fn unbind(&self, endpoint: &str) -> Result<()> {
        self.end_endpoint(Side::Bound, endpoint)
    }

    /// Disconnects from `endpoint` (`zmq_disconnect`); wakes as
    /// [`bind`](Self::bind).
    pub fn disconnect(&self, endpoint: &str) -> Result<()> {
        self.end_endpoint(Side::Connected, endpoint)
    }

    fn end_endpoint(&self, side: Side, endpoint: &str) -> Result<()> {
        self.inner.check_open()?;
        let r = super::endpoints::end(&self.inner.sock, side, endpoint);
        self.inner.wake_ready();
        r?;
        self.inner.endpoints.forget(side, endpoint);
        Ok(())
    }

    /// Closes the socket for every handle: ends every endpoint set up
    /// through [`bind`](Self::bind) and [`connect`](Self::connect) (so peers
    /// see the connections close, and the addresses are free again), wakes
    /// every greenlet parked on it with [`Error::SocketClosed`], and makes
    /// every later operation fail with that error. libzmq's socket object
    /// is freed when the last handle is dropped (its options stay readable
    /// until then). Closing twice is a no-op.
    ///
    /// ```
    /// use zgreen::Error;
    /// let ctx = zgreen::zmq::Context::new();
    /// let pull = ctx.socket(zmq::PULL).unwrap();
    /// pull.bind("inproc://doc-close").unwrap();
    /// let p = pull.clone();
    /// let waiter = zgreen::spawn(move || p.recv_bytes(0)); // parks: nothing sent
    /// zgreen::sleep(std::time::Duration::from_millis(5)).unwrap();
    /// pull.close().unwrap();
    /// assert!(matches!(waiter.get().unwrap(), Err(Error::SocketClosed)));
    /// // The address is free again.
    /// ctx.socket(zmq::PULL).unwrap().bind("inproc://doc-close").unwrap();
    /// ```
    pub fn close(&self) -> Result<()> {
        if self.inner.closed.replace(true) {
            return Ok(());
        }
        self.inner.endpoints.end_all(&self.inner.sock);
        self.inner.wake_all();
        Ok(())
    }

    // --------------------------------------------------------------- events

    /// Reads `ZMQ_EVENTS` and wakes the first waiter of each direction
    /// that can proceed (rule 5).
    pub fn poll_events(&self) -> Result<zmq::PollEvents> {
        Ok(self.inner.poll_events()?)
    }

    /// This socket as a [`Waitable`](crate::Waitable) that is ready when a
    /// receive would not wait: for [`wait`](crate::wait) /
    /// [`iwait`](crate::iwait) over sockets together with channels,
    /// events and greenlets.
    ///
    /// ```
    /// use zgreen::Tagged;
    /// let ctx = zgreen::zmq::Context::new();
    /// let (a, b) = (ctx.socket(zmq::PAIR).unwrap(), ctx.socket(zmq::PAIR).unwrap());
    /// a.bind("inproc://doc-readable").unwrap();
    /// b.connect("inproc://doc-readable").unwrap();
    /// let (tx, rx) = zgreen::chan::unbounded::<u8>();
    /// a.send("x", 0).unwrap();
    /// let readable = b.readable();
    /// let first = zgreen::iwait([
    ///     Tagged("chan", &rx as &dyn zgreen::Waitable),
    ///     Tagged("socket", &readable),
    /// ])
    /// .next()
    /// .unwrap()
    /// .unwrap();
    /// assert_eq!(first.0, "socket");
    /// # drop(tx);
    /// ```
    pub fn readable(&self) -> Readable {
        Readable(self.clone())
    }

    /// This socket as a [`Waitable`](crate::Waitable) that is ready when a
    /// send would not wait (see [`readable`](Self::readable)).
    pub fn writable(&self) -> Writable {
        Writable(self.clone())
    }

    /// `ZMQ_EVENTS`, read the green way (same as
    /// [`poll_events`](Self::poll_events)): shadows `zmq::Socket::get_events`
    /// so that reading the events can never hide a wakeup from other
    /// greenlets.
    pub fn get_events(&self) -> Result<zmq::PollEvents> {
        self.poll_events()
    }

    /// Green `zmq_poll` on this one socket: waits until one of `events` is
    /// ready or `timeout` passes; returns the ready events (empty on
    /// timeout).
    ///
    /// ```
    /// use std::time::Duration;
    /// let ctx = zgreen::zmq::Context::new();
    /// let (a, b) = (ctx.socket(zmq::PAIR).unwrap(), ctx.socket(zmq::PAIR).unwrap());
    /// a.bind("inproc://doc-poll").unwrap();
    /// b.connect("inproc://doc-poll").unwrap();
    /// assert!(b.poll(zmq::POLLIN, Some(Duration::from_millis(5))).unwrap().is_empty());
    /// a.send("x", 0).unwrap();
    /// assert!(b.poll(zmq::POLLIN, None).unwrap().contains(zmq::POLLIN));
    /// ```
    pub fn poll(&self, events: zmq::PollEvents, timeout: Option<Duration>) -> Result<zmq::PollEvents> {
        let mut poller = super::Poller::new();
        poller.add_socket(self, events);
        poller.poll(timeout)?;
        Ok(poller.revents(0))
    }

    /// Wakes parked greenlets after the hub woke a poller that then left
    /// with an error: the poller may have taken the only notification.
    pub(crate) fn pass_on_wakeup(&self) {
        self.inner.wake_ready();
    }

    fn deadline(&self, dir: Dir, flags: i32) -> Option<Deadline> {
        if flags & zmq::DONTWAIT != 0 {
            return None;
        }
        let t = match dir {
            Dir::Read => self.inner.recv_timeout.get(),
            Dir::Write => self.inner.send_timeout.get(),
        };
        Deadline::from_timeout(t)
    }

    /// True if the socket type can receive (PUSH and PUB cannot).
    pub fn can_recv(&self) -> bool {
        !matches!(self.inner.kind, zmq::PUSH | zmq::PUB)
    }

    /// True if the socket type can send (PULL and SUB cannot).
    pub fn can_send(&self) -> bool {
        !matches!(self.inner.kind, zmq::PULL | zmq::SUB)
    }

    /// A weak handle, for objects that must not keep the socket alive.
    pub(crate) fn downgrade(&self) -> std::rc::Weak<Inner> {
        Rc::downgrade(&self.inner)
    }

    /// The registration's wait queues, for the poller.
    pub(crate) fn queues(&self) -> (&WaitQueue, &WaitQueue) {
        (&self.inner.reg.entry.readers, &self.inner.reg.entry.writers)
    }
}
