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
//! 5. After a successful operation, if anybody waits, and after every
//!    `ZMQ_EVENTS` read, waiters of each direction that can proceed are
//!    woken (one per direction; each woken one cascades to the next).
//! 6. One wait queue per direction; a message being sent or received frame
//!    by frame is owned by one greenlet until its last frame, so frames of
//!    two messages never interleave.
//! 7. Timeouts come from the hub's timers, not RCVTIMEO/SNDTIMEO.
//! 8. An optional backstop timer re-checks a parked operation; a wakeup it
//!    rescues is counted ([`backstop_rescues`]) and logged, since it means
//!    an edge was lost.

use std::cell::Cell;
use std::fmt;
use std::ops::Deref;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::hub::task::WaitQueue;
use crate::hub::{self, Deadline, IoRegistration};

mod forward;
pub(crate) use self::forward::forward_messages;

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

/// How many parked operations the backstop found ready without a wakeup
/// (process-wide). Stays 0 unless there is a bug.
pub fn backstop_rescues() -> u64 {
    BACKSTOP_RESCUES.load(Ordering::Relaxed)
}

/// True if `fd` is readable right now (non-blocking `poll`).
fn fd_readable(fd: RawFd) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd on the stack; timeout 0 never blocks.
    let rc = unsafe { libc::poll(&mut pfd, 1, 0) };
    rc > 0 && pfd.revents & libc::POLLIN != 0
}

/// Which direction an operation waits for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    Recv,
    Send,
}

pub(crate) struct Inner {
    sock: zmq::Socket,
    /// The libzmq socket behind `sock`, for calls the `zmq` crate does not
    /// offer (stopping a monitor).
    ///
    /// # Invariant
    /// Valid while `sock` is alive, i.e. for the life of this `Inner`.
    raw: *mut std::ffi::c_void,
    ctx: super::Context,
    kind: zmq::SocketType,
    fd: RawFd,
    reg: IoRegistration,
    /// The greenlet that has sent some frames of a message (SNDMORE) and
    /// not its last one yet.
    send_owner: Cell<Option<u64>>,
    /// The greenlet that has received some frames of a message and not its
    /// last one yet.
    recv_owner: Cell<Option<u64>>,
    /// Greenlets waiting for the other's partial message to complete.
    send_lock: WaitQueue,
    recv_lock: WaitQueue,
    needs_reset: Cell<Option<&'static str>>,
    router_mandatory: Cell<bool>,
    recv_timeout: Cell<Option<Duration>>,
    send_timeout: Cell<Option<Duration>>,
    backstop: Cell<Option<Duration>>,
}

/// A green ZeroMQ socket.
///
/// Blocking operations park the calling greenlet; called from plain
/// `main()` they run the hub. `Socket` is a cheap clonable handle, so
/// several greenlets can share one socket (each direction has its own
/// FIFO of waiters, and multipart messages never interleave). It is not
/// `Send`: a socket belongs to the hub of the thread that created it.
///
/// Every socket option of the `zmq` crate is available through `Deref` to
/// [`zmq::Socket`] (`get_*`/`set_*`, `bind`, `connect`, ...). The blocking
/// `zmq::Socket` methods (`send`, `recv*`, `poll`) are shadowed by green
/// versions here; never call them through [`raw`](Socket::raw), and do
/// not pass green sockets to the blocking `zmq::poll` (use
/// [`Poller`](super::Poller)).
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
        // SAFETY: `raw` is valid while `self` lives (invariant); a null
        // endpoint is libzmq's documented way to stop monitoring.
        unsafe { zmq_sys::zmq_socket_monitor(self.raw, std::ptr::null(), 0) };
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
        Ok(Socket {
            inner: Rc::new(Inner {
                sock,
                raw,
                ctx,
                kind,
                fd,
                reg,
                send_owner: Cell::new(None),
                recv_owner: Cell::new(None),
                send_lock: WaitQueue::default(),
                recv_lock: WaitQueue::default(),
                needs_reset: Cell::new(None),
                router_mandatory: Cell::new(false),
                recv_timeout: Cell::new(None),
                send_timeout: Cell::new(None),
                backstop: Cell::new(None),
            }),
        })
    }

    /// The underlying `zmq` socket, for options and `bind`/`connect`.
    /// Its blocking `send`/`recv` would block the whole hub: use this
    /// socket's green methods instead.
    pub fn raw(&self) -> &zmq::Socket {
        &self.inner.sock
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

    /// Default timeout of blocking receives on this socket (hub timers,
    /// not `ZMQ_RCVTIMEO`). `None` (the default) waits forever.
    pub fn set_recv_timeout(&self, timeout: Option<Duration>) {
        self.inner.recv_timeout.set(timeout);
    }

    /// Default timeout of blocking sends on this socket.
    pub fn set_send_timeout(&self, timeout: Option<Duration>) {
        self.inner.send_timeout.set(timeout);
    }

    /// Enables (with `Some(period)`) a backstop that re-checks this
    /// socket's parked operations every `period` (rule 8). It should never
    /// be needed: a parked operation it finds ready is a lost wakeup,
    /// counted in [`backstop_rescues`] and logged as an error. With several
    /// greenlets parked in one direction, a waiter queued behind one that
    /// was just woken can also be counted: use one waiter per direction
    /// when auditing.
    pub fn set_backstop(&self, period: Option<Duration>) {
        self.inner.backstop.set(period);
    }

    /// Sets `ZMQ_ZAP_ENFORCE_DOMAIN` (option 93, libzmq 4.3): with it, a
    /// socket that has a ZAP domain rejects peers when no ZAP handler
    /// answers, instead of letting them in (which the `zmq` crate cannot
    /// set).
    pub fn set_zap_enforce_domain(&self, value: bool) -> Result<()> {
        const ZMQ_ZAP_ENFORCE_DOMAIN: i32 = 93;
        let v: i32 = value.into();
        // SAFETY: `raw` is valid while the socket lives (invariant); libzmq
        // reads an int from the pointer we pass with its exact size.
        let rc = unsafe {
            zmq_sys::zmq_setsockopt(
                self.inner.raw,
                ZMQ_ZAP_ENFORCE_DOMAIN,
                (&v as *const i32).cast(),
                std::mem::size_of::<i32>(),
            )
        };
        if rc == -1 {
            // SAFETY: zmq_errno only reads this thread's errno.
            return Err(Error::Zmq(zmq::Error::from_raw(unsafe { zmq_sys::zmq_errno() })));
        }
        Ok(())
    }

    /// Sets `ZMQ_ROUTER_MANDATORY` (and remembers it: a mandatory ROUTER
    /// can refuse a message with `EAGAIN` although the socket is writable,
    /// so zero-copy sends on it keep a copy for the retry).
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

    /// Reads `ZMQ_EVENTS` and wakes the first waiter of each direction
    /// that can proceed (rule 5).
    pub fn poll_events(&self) -> Result<zmq::PollEvents> {
        let ev = self.inner.sock.get_events()?;
        if ev.contains(zmq::POLLIN) {
            self.inner.reg.entry.readers.notify_one();
        }
        if ev.contains(zmq::POLLOUT) {
            self.inner.reg.entry.writers.notify_one();
        }
        Ok(ev)
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
    pub fn poll(&self, events: zmq::PollEvents, timeout: Option<Duration>) -> Result<zmq::PollEvents> {
        let mut poller = super::Poller::new();
        poller.add_socket(self, events);
        poller.poll(timeout)?;
        Ok(poller.revents(0))
    }

    fn deadline(&self, dir: Dir, flags: i32) -> Option<Deadline> {
        if flags & zmq::DONTWAIT != 0 {
            return None;
        }
        let t = match dir {
            Dir::Recv => self.inner.recv_timeout.get(),
            Dir::Send => self.inner.send_timeout.get(),
        };
        Deadline::from_timeout(t)
    }

    /// Fails if the socket needs a reset, or if the greenlet was killed or
    /// its timeout expired and the call may block (`DONTWAIT` calls never
    /// block, so a killed greenlet can still make them, e.g. to say
    /// goodbye).
    fn check_usable(&self, flags: i32) -> Result<()> {
        if flags & zmq::DONTWAIT == 0 {
            hub::check_interrupt()?;
        }
        match self.inner.needs_reset.get() {
            Some(why) => Err(Error::NeedsReset(why)),
            None => Ok(()),
        }
    }

    /// Waits until no other greenlet owns a partial message in `dir`.
    fn acquire(&self, dir: Dir, deadline: Option<Deadline>) -> Result<()> {
        let (owner, lock) = match dir {
            Dir::Send => (&self.inner.send_owner, &self.inner.send_lock),
            Dir::Recv => (&self.inner.recv_owner, &self.inner.recv_lock),
        };
        if owner.get().is_none() {
            return Ok(()); // the usual case: nobody is mid-message
        }
        let me = hub::current_task().id;
        loop {
            match owner.get() {
                None => return Ok(()),
                Some(id) if id == me => return Ok(()),
                Some(_) => lock.wait(deadline)?,
            }
        }
    }

    /// Records whether the current greenlet now owns a partial message.
    fn set_partial(&self, dir: Dir, more: bool) {
        let (owner, lock) = match dir {
            Dir::Send => (&self.inner.send_owner, &self.inner.send_lock),
            Dir::Recv => (&self.inner.recv_owner, &self.inner.recv_lock),
        };
        if more {
            owner.set(Some(hub::current_task().id));
        } else if owner.take().is_some() {
            lock.notify_one();
        }
    }

    /// Parks until `dir` may be ready (rules 3 to 5, 7, 8).
    fn park(&self, dir: Dir, deadline: Option<Deadline>) -> Result<()> {
        let want = match dir {
            Dir::Recv => zmq::POLLIN,
            Dir::Send => zmq::POLLOUT,
        };
        // A receive parks only after a `DONTWAIT` receive failed, and
        // libzmq processes every pending command inside that call before
        // it says `EAGAIN` (a send does not): the mailbox is empty, so
        // `ZMQ_EVENTS` would find no message, and the next command will
        // raise a new edge. Reading it is still needed when a writer
        // waits, as those commands may have made the socket writable.
        let writers = &self.inner.reg.entry.writers;
        if dir == Dir::Send || (writers.has_entries() && !writers.is_empty()) {
            let ev = self.poll_events()?;
            if ev.contains(want) {
                return Ok(()); // the edge already fired: retry at once
            }
        }
        let q = match dir {
            Dir::Recv => &self.inner.reg.entry.readers,
            Dir::Send => &self.inner.reg.entry.writers,
        };
        let Some(period) = self.inner.backstop.get() else {
            return q.wait(deadline);
        };
        loop {
            let step = Deadline::after(period);
            let d = match deadline {
                Some(d) if d.at <= step.at => Some(d),
                _ => Some(step),
            };
            match q.wait(d) {
                Ok(()) => return Ok(()),
                Err(Error::Timeout(t)) if t.id == 0 && deadline.is_none_or(|dl| dl.at > step.at) => {
                    // An edge the hub has not polled yet is on its way: only
                    // a ready socket whose fd shows nothing is a lost wakeup.
                    let edge_pending = fd_readable(self.inner.fd);
                    if self.poll_events()?.contains(want) {
                        if !edge_pending {
                            BACKSTOP_RESCUES.fetch_add(1, Ordering::Relaxed);
                            tracing::error!(fd = self.inner.fd, "zgreen zmq: backstop rescued a lost wakeup");
                        }
                        return Ok(());
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// After a successful operation: wake waiters that can proceed, and
    /// yield now and then so a greenlet that never blocks cannot starve
    /// the others (unless it is in the middle of a message).
    fn after_op(&self, partial: bool) -> Result<()> {
        let e = &self.inner.reg.entry;
        if (e.readers.has_entries() && !e.readers.is_empty())
            || (e.writers.has_entries() && !e.writers.is_empty())
        {
            self.poll_events()?;
        }
        if !partial {
            count_ops(1)?;
        }
        Ok(())
    }

    /// A REQ socket's wait for its reply was interrupted: the request is
    /// out, so the socket cannot send again until a reply it may never get.
    fn interrupted_req_recv(&self, err: Error) -> Error {
        if matches!(err, Error::Killed | Error::Timeout(_)) {
            self.inner
                .needs_reset
                .set(Some("a REQ socket's wait for its reply was interrupted"));
            self.set_partial(Dir::Recv, false);
        }
        err
    }

    // ----------------------------------------------------------------- send

    /// Sends one frame (`flags` may hold `zmq::SNDMORE`, and
    /// `zmq::DONTWAIT`, which fails with `EAGAIN` instead of parking).
    pub fn send(&self, data: impl AsRef<[u8]>, flags: i32) -> Result<()> {
        self.send_deadline(data.as_ref(), flags, self.deadline(Dir::Send, flags))
    }

    /// [`send`](Self::send) with a timeout for this call.
    pub fn send_timeout(&self, data: impl AsRef<[u8]>, flags: i32, timeout: Duration) -> Result<()> {
        self.send_deadline(data.as_ref(), flags, Some(Deadline::after(timeout)))
    }

    /// Tries to send one frame without parking: `Ok(false)` if the socket
    /// cannot take it now.
    pub fn try_send(&self, data: impl AsRef<[u8]>, flags: i32) -> Result<bool> {
        match self.send_deadline(data.as_ref(), flags | zmq::DONTWAIT, None) {
            Ok(()) => Ok(true),
            Err(Error::Zmq(zmq::Error::EAGAIN)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn send_deadline(&self, data: &[u8], flags: i32, deadline: Option<Deadline>) -> Result<()> {
        let started = self.owns_partial(Dir::Send);
        self.send_frame(data, flags, deadline)
            .map_err(|e| self.fail_send(started, e))
    }

    fn send_frame(&self, data: &[u8], flags: i32, deadline: Option<Deadline>) -> Result<()> {
        self.check_usable(flags)?;
        self.acquire(Dir::Send, deadline)?;
        let more = flags & zmq::SNDMORE != 0;
        loop {
            match self.send_raw(data, flags | zmq::DONTWAIT) {
                Ok(()) => {
                    self.set_partial(Dir::Send, more);
                    return self.after_op(more);
                }
                Err(zmq::Error::EAGAIN) if flags & zmq::DONTWAIT == 0 => {
                    self.park(Dir::Send, deadline)?;
                    self.check_usable(flags)?;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// `zmq_send` of a byte slice: libzmq copies it into a message of its
    /// own (the `zmq` crate would first build a `Message` and close it
    /// after).
    fn send_raw(&self, data: &[u8], flags: i32) -> std::result::Result<(), zmq::Error> {
        // SAFETY: `raw` is the live socket of `sock` (see `Inner`), used
        // on its own thread; libzmq reads `data.len()` bytes from `data`
        // during the call only.
        let rc = unsafe { zmq_sys::zmq_send(self.inner.raw, data.as_ptr().cast(), data.len(), flags) };
        if rc == -1 {
            // SAFETY: `zmq_errno` only reads this thread's errno.
            Err(zmq::Error::from_raw(unsafe { zmq_sys::zmq_errno() }))
        } else {
            Ok(())
        }
    }

    /// True if the current greenlet has sent or received some frames of a
    /// message in `dir` and not its last one.
    fn owns_partial(&self, dir: Dir) -> bool {
        let owner = match dir {
            Dir::Send => &self.inner.send_owner,
            Dir::Recv => &self.inner.recv_owner,
        };
        owner.get() == Some(hub::current_task().id)
    }

    /// A send failed: if frames of this message were already sent, libzmq
    /// holds an unfinished message that the next frame would extend, so
    /// the socket is marked as needing a reset.
    fn fail_send(&self, started: bool, err: Error) -> Error {
        if started && self.inner.needs_reset.get().is_none() {
            self.inner
                .needs_reset
                .set(Some("a multipart send failed after some of its frames were sent"));
            self.set_partial(Dir::Send, false);
        }
        err
    }

    /// Sends a string frame (shadows the blocking `zmq::Socket::send_str`).
    pub fn send_str(&self, data: &str, flags: i32) -> Result<()> {
        self.send(data, flags)
    }

    /// Sends a `zmq::Message` without copying its data where libzmq
    /// allows: the send is attempted only once `ZMQ_EVENTS` says the socket
    /// is writable, so the message is never lost to an `EAGAIN`. (A
    /// mandatory ROUTER or a STREAM socket can still refuse a message
    /// while writable: there the data is copied first so the send can be
    /// retried.)
    pub fn send_msg(&self, msg: zmq::Message, flags: i32) -> Result<()> {
        let mandatory = self.inner.router_mandatory.get() && self.inner.kind == zmq::ROUTER;
        if mandatory || self.inner.kind == zmq::STREAM {
            return self.send(&msg[..], flags);
        }
        let started = self.owns_partial(Dir::Send);
        self.send_msg_inner(msg, flags)
            .map_err(|e| self.fail_send(started, e))
    }

    fn send_msg_inner(&self, msg: zmq::Message, flags: i32) -> Result<()> {
        let deadline = self.deadline(Dir::Send, flags);
        self.check_usable(flags)?;
        self.acquire(Dir::Send, deadline)?;
        let more = flags & zmq::SNDMORE != 0;
        loop {
            if self.poll_events()?.contains(zmq::POLLOUT) {
                self.inner.sock.send(msg, flags | zmq::DONTWAIT)?;
                self.set_partial(Dir::Send, more);
                return self.after_op(more);
            }
            if flags & zmq::DONTWAIT != 0 {
                return Err(Error::Zmq(zmq::Error::EAGAIN));
            }
            self.park(Dir::Send, deadline)?;
            self.check_usable(flags)?;
        }
    }

    /// Sends all `frames` as one multipart message. Other greenlets'
    /// sends on this socket wait until the last frame is out.
    pub fn send_multipart<I, T>(&self, frames: I, flags: i32) -> Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        let deadline = self.deadline(Dir::Send, flags);
        self.send_multipart_deadline(frames, flags, deadline)
    }

    /// [`send_multipart`](Self::send_multipart) with a timeout for the
    /// whole message.
    pub fn send_multipart_timeout<I, T>(&self, frames: I, flags: i32, timeout: Duration) -> Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        self.send_multipart_deadline(frames, flags, Some(Deadline::after(timeout)))
    }

    fn send_multipart_deadline<I, T>(&self, frames: I, flags: i32, deadline: Option<Deadline>) -> Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        let mut it = frames.into_iter().peekable();
        let flags = flags & !zmq::SNDMORE;
        while let Some(frame) = it.next() {
            let f = if it.peek().is_some() {
                flags | zmq::SNDMORE
            } else {
                flags
            };
            self.send_deadline(frame.as_ref(), f, deadline)?;
        }
        Ok(())
    }

    // ----------------------------------------------------------------- recv

    /// Receives one frame into `msg` (check `msg.get_more()` for more).
    pub fn recv(&self, msg: &mut zmq::Message, flags: i32) -> Result<()> {
        self.recv_deadline(msg, flags, self.deadline(Dir::Recv, flags))
    }

    /// [`recv`](Self::recv) with a timeout for this call.
    pub fn recv_timeout(&self, msg: &mut zmq::Message, flags: i32, timeout: Duration) -> Result<()> {
        self.recv_deadline(msg, flags, Some(Deadline::after(timeout)))
    }

    /// Receives one frame as a new `zmq::Message` (zero-copy).
    pub fn recv_msg(&self, flags: i32) -> Result<zmq::Message> {
        let mut msg = zmq::Message::new();
        self.recv(&mut msg, flags)?;
        Ok(msg)
    }

    /// Receives one frame as bytes.
    pub fn recv_bytes(&self, flags: i32) -> Result<Vec<u8>> {
        Ok(self.recv_msg(flags)?.to_vec())
    }

    /// Receives one frame as a string (`Err(bytes)` inside if it is not
    /// UTF-8).
    pub fn recv_string(&self, flags: i32) -> Result<std::result::Result<String, Vec<u8>>> {
        let bytes = self.recv_bytes(flags)?;
        Ok(String::from_utf8(bytes).map_err(|e| e.into_bytes()))
    }

    /// Receives one frame into `buf`; returns the frame's full size (which
    /// may exceed `buf.len()`: the rest is truncated, as in libzmq).
    pub fn recv_into(&self, buf: &mut [u8], flags: i32) -> Result<usize> {
        let msg = self.recv_msg(flags)?;
        let n = msg.len().min(buf.len());
        buf[..n].copy_from_slice(&msg[..n]);
        Ok(msg.len())
    }

    /// Tries to receive one frame without parking: `Ok(None)` if none is
    /// waiting.
    pub fn try_recv_msg(&self, flags: i32) -> Result<Option<zmq::Message>> {
        let mut msg = zmq::Message::new();
        match self.recv_deadline(&mut msg, flags | zmq::DONTWAIT, None) {
            Ok(()) => Ok(Some(msg)),
            Err(Error::Zmq(zmq::Error::EAGAIN)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Receives a whole multipart message as byte vectors.
    pub fn recv_multipart(&self, flags: i32) -> Result<Vec<Vec<u8>>> {
        Ok(self
            .recv_multipart_msgs(flags)?
            .into_iter()
            .map(|m| m.to_vec())
            .collect())
    }

    /// Receives a whole multipart message as `zmq::Message`s (zero-copy).
    pub fn recv_multipart_msgs(&self, flags: i32) -> Result<Vec<zmq::Message>> {
        let deadline = self.deadline(Dir::Recv, flags);
        self.recv_multipart_deadline(flags, deadline)
    }

    /// [`recv_multipart`](Self::recv_multipart) with a timeout.
    pub fn recv_multipart_timeout(&self, flags: i32, timeout: Duration) -> Result<Vec<Vec<u8>>> {
        Ok(self
            .recv_multipart_deadline(flags, Some(Deadline::after(timeout)))?
            .into_iter()
            .map(|m| m.to_vec())
            .collect())
    }

    fn recv_multipart_deadline(&self, flags: i32, deadline: Option<Deadline>) -> Result<Vec<zmq::Message>> {
        let mut parts = Vec::new();
        loop {
            let mut msg = zmq::Message::new();
            self.recv_deadline(&mut msg, flags, deadline)?;
            let more = msg.get_more();
            parts.push(msg);
            if !more {
                return Ok(parts);
            }
        }
    }

    fn recv_deadline(&self, msg: &mut zmq::Message, flags: i32, deadline: Option<Deadline>) -> Result<()> {
        self.check_usable(flags)?;
        self.acquire(Dir::Recv, deadline)?;
        loop {
            match self.inner.sock.recv(msg, flags | zmq::DONTWAIT) {
                Ok(()) => {
                    let more = msg.get_more();
                    self.set_partial(Dir::Recv, more);
                    return self.after_op(more);
                }
                Err(zmq::Error::EAGAIN) if flags & zmq::DONTWAIT == 0 => {
                    if let Err(e) = self
                        .park(Dir::Recv, deadline)
                        .and_then(|_| hub::check_interrupt())
                    {
                        return Err(if self.inner.kind == zmq::REQ {
                            self.interrupted_req_recv(e)
                        } else {
                            e
                        });
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// A weak handle, for objects that must not keep the socket alive.
    pub(crate) fn downgrade(&self) -> std::rc::Weak<Inner> {
        Rc::downgrade(&self.inner)
    }

    /// True if the socket type can receive (PUSH and PUB cannot).
    pub fn can_recv(&self) -> bool {
        !matches!(self.inner.kind, zmq::PUSH | zmq::PUB)
    }

    /// True if the socket type can send (PULL and SUB cannot).
    pub fn can_send(&self) -> bool {
        !matches!(self.inner.kind, zmq::PULL | zmq::SUB)
    }

    /// The registration's wait queues, for the poller.
    pub(crate) fn queues(&self) -> (&WaitQueue, &WaitQueue) {
        (&self.inner.reg.entry.readers, &self.inner.reg.entry.writers)
    }
}

/// Counts `ops` completed operations that did not park toward the
/// fairness rule: every [`set_fairness_ops`] of them on this thread, the
/// current greenlet yields.
fn count_ops(ops: usize) -> Result<()> {
    let n = FAIRNESS_OPS.load(Ordering::Relaxed);
    if n == 0 || ops == 0 {
        return Ok(());
    }
    let count = OPS_SINCE_YIELD.with(|c| {
        let v = c.get() + ops;
        c.set(v);
        v
    });
    if count >= n {
        OPS_SINCE_YIELD.with(|c| c.set(0));
        hub::yield_now()?;
    }
    Ok(())
}
