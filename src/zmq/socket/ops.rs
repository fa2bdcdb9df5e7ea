//! The public send and receive calls of [`Socket`]; each frame goes
//! through [`Inner::run_op`](super::Inner) in `core.rs`.

use std::time::{Duration, Instant};

use super::{Dir, Inner, MultipartGuard, Socket};
use crate::error::{Error, Result, TryRecvError, TrySendError};
use crate::hub::Deadline;
use crate::zmq::ffi;

/// One frame of a byte slice, copied by libzmq (`ffi::send_bytes`).
fn send_raw(inner: &Inner, data: &[u8], flags: i32) -> std::result::Result<bool, zmq::Error> {
    // SAFETY: `raw` is the live socket of `sock` (see `Inner`), used on
    // its own thread.
    unsafe { ffi::send_bytes(inner.raw, data, flags | zmq::DONTWAIT) }?;
    Ok(flags & zmq::SNDMORE != 0)
}

/// The frames of a multipart message as byte vectors.
fn to_vecs(msgs: Vec<zmq::Message>) -> Vec<Vec<u8>> {
    msgs.into_iter().map(|m| m.to_vec()).collect()
}

impl Socket {
    // ----------------------------------------------------------------- send

    /// Sends one frame (`flags` may hold `zmq::SNDMORE`, and
    /// `zmq::DONTWAIT`, which fails with `EAGAIN` instead of parking).
    pub fn send(&self, data: impl AsRef<[u8]>, flags: i32) -> Result<()> {
        self.send_frame(data.as_ref(), flags, self.deadline(Dir::Write, flags), true)
    }

    /// [`send`](Self::send) with a timeout for this call.
    pub fn send_timeout(&self, data: impl AsRef<[u8]>, flags: i32, timeout: Duration) -> Result<()> {
        self.send_frame(data.as_ref(), flags, Some(Deadline::after(timeout)), true)
    }

    /// [`send`](Self::send) with a deadline for this call.
    pub fn send_deadline(&self, data: impl AsRef<[u8]>, flags: i32, deadline: Instant) -> Result<()> {
        self.send_frame(data.as_ref(), flags, Some(Deadline::at(deadline)), true)
    }

    /// Tries to send one frame without parking. [`TrySendError::Full`]
    /// hands `data` back if the socket cannot take it now (no room, or
    /// another greenlet is in the middle of a message); a `Full` for a
    /// later frame of the caller's own message leaves that message open:
    /// send the frame again.
    pub fn try_send<T: AsRef<[u8]>>(&self, data: T, flags: i32) -> std::result::Result<(), TrySendError<T>> {
        match self.send_frame(data.as_ref(), flags | zmq::DONTWAIT, None, true) {
            Ok(()) => Ok(()),
            Err(Error::Zmq(zmq::Error::EAGAIN)) => Err(TrySendError::Full(data)),
            Err(e) => Err(TrySendError::Failed(data, e)),
        }
    }

    fn send_frame(&self, data: &[u8], flags: i32, deadline: Option<Deadline>, hook: bool) -> Result<()> {
        self.inner.run_op(Dir::Write, flags, deadline, hook, |inner| {
            send_raw(inner, data, flags)
        })
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
        if self.inner.is_mandatory_router() || self.inner.kind == zmq::STREAM {
            return self.send(&msg[..], flags);
        }
        let deadline = self.deadline(Dir::Write, flags);
        let mut msg = Some(msg);
        self.inner.run_op(Dir::Write, flags, deadline, true, |inner| {
            if !inner.poll_events()?.contains(zmq::POLLOUT) {
                return Err(zmq::Error::EAGAIN);
            }
            let m = msg.take().ok_or(zmq::Error::EFAULT)?;
            match inner.sock.send(m, flags | zmq::DONTWAIT) {
                Ok(()) => Ok(flags & zmq::SNDMORE != 0),
                // The zmq crate consumed the message: it cannot be retried.
                Err(zmq::Error::EAGAIN) => Err(zmq::Error::ENOBUFS),
                Err(e) => Err(e),
            }
        })
    }

    /// Sends all `frames` as one multipart message. Other greenlets'
    /// sends on this socket wait until the last frame is out.
    ///
    /// ```
    /// let ctx = zgreen::zmq::Context::new();
    /// let router = ctx.socket(zmq::ROUTER).unwrap();
    /// let dealer = ctx.socket(zmq::DEALER).unwrap();
    /// dealer.set_identity(b"d1").unwrap();
    /// router.bind("inproc://doc-multipart").unwrap();
    /// dealer.connect("inproc://doc-multipart").unwrap();
    /// dealer.send_multipart(["", "request"], 0).unwrap();
    /// let parts = router.recv_multipart(0).unwrap(); // the ROUTER adds the peer's id
    /// assert_eq!(parts, vec![b"d1".to_vec(), vec![], b"request".to_vec()]);
    /// router.send_multipart([&b"d1"[..], b"", b"reply"], 0).unwrap();
    /// assert_eq!(dealer.recv_multipart(0).unwrap(), vec![vec![], b"reply".to_vec()]);
    /// ```
    pub fn send_multipart<I, T>(&self, frames: I, flags: i32) -> Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        let deadline = self.deadline(Dir::Write, flags);
        self.send_multipart_until(frames, flags, deadline)
    }

    /// [`send_multipart`](Self::send_multipart) with a timeout for the
    /// whole message.
    pub fn send_multipart_timeout<I, T>(&self, frames: I, flags: i32, timeout: Duration) -> Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        self.send_multipart_until(frames, flags, Some(Deadline::after(timeout)))
    }

    /// [`send_multipart`](Self::send_multipart) with a deadline for the
    /// whole message.
    pub fn send_multipart_deadline<I, T>(&self, frames: I, flags: i32, deadline: Instant) -> Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        self.send_multipart_until(frames, flags, Some(Deadline::at(deadline)))
    }

    fn send_multipart_until<I, T>(&self, frames: I, flags: i32, deadline: Option<Deadline>) -> Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        let _guard = MultipartGuard {
            inner: &self.inner,
            dir: Dir::Write,
        };
        let mut it = frames.into_iter().peekable();
        let flags = flags & !zmq::SNDMORE;
        while let Some(frame) = it.next() {
            let f = if it.peek().is_some() {
                flags | zmq::SNDMORE
            } else {
                flags
            };
            self.send_frame(frame.as_ref(), f, deadline, false)?;
        }
        Ok(())
    }

    // ----------------------------------------------------------------- recv

    /// Receives one frame into `msg` (check `msg.get_more()` for more).
    pub fn recv(&self, msg: &mut zmq::Message, flags: i32) -> Result<()> {
        self.recv_frame(msg, flags, self.deadline(Dir::Read, flags), true)
    }

    /// [`recv`](Self::recv) with a timeout for this call.
    pub fn recv_timeout(&self, msg: &mut zmq::Message, flags: i32, timeout: Duration) -> Result<()> {
        self.recv_frame(msg, flags, Some(Deadline::after(timeout)), true)
    }

    /// [`recv`](Self::recv) with a deadline for this call.
    pub fn recv_deadline(&self, msg: &mut zmq::Message, flags: i32, deadline: Instant) -> Result<()> {
        self.recv_frame(msg, flags, Some(Deadline::at(deadline)), true)
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

    /// Tries to receive one frame without parking:
    /// [`TryRecvError::Empty`] if none is waiting, or another greenlet is
    /// in the middle of a message.
    ///
    /// ```
    /// let ctx = zgreen::zmq::Context::new();
    /// let (a, b) = (ctx.socket(zmq::PAIR).unwrap(), ctx.socket(zmq::PAIR).unwrap());
    /// a.bind("inproc://doc-try-recv").unwrap();
    /// b.connect("inproc://doc-try-recv").unwrap();
    /// assert!(b.try_recv_msg(0).unwrap_err().is_empty());
    /// a.try_send("hi", 0).unwrap();
    /// assert_eq!(&b.try_recv_msg(0).unwrap()[..], b"hi");
    /// ```
    pub fn try_recv_msg(&self, flags: i32) -> std::result::Result<zmq::Message, TryRecvError> {
        let mut msg = zmq::Message::new();
        match self.recv_frame(&mut msg, flags | zmq::DONTWAIT, None, true) {
            Ok(()) => Ok(msg),
            Err(Error::Zmq(zmq::Error::EAGAIN)) => Err(TryRecvError::Empty),
            Err(e) => Err(TryRecvError::Failed(e)),
        }
    }

    /// Receives a whole multipart message as byte vectors.
    pub fn recv_multipart(&self, flags: i32) -> Result<Vec<Vec<u8>>> {
        Ok(to_vecs(self.recv_multipart_msgs(flags)?))
    }

    /// Receives a whole multipart message as `zmq::Message`s (zero-copy).
    pub fn recv_multipart_msgs(&self, flags: i32) -> Result<Vec<zmq::Message>> {
        let deadline = self.deadline(Dir::Read, flags);
        self.recv_multipart_until(flags, deadline)
    }

    /// [`recv_multipart`](Self::recv_multipart) with a timeout.
    pub fn recv_multipart_timeout(&self, flags: i32, timeout: Duration) -> Result<Vec<Vec<u8>>> {
        Ok(to_vecs(
            self.recv_multipart_until(flags, Some(Deadline::after(timeout)))?,
        ))
    }

    /// [`recv_multipart`](Self::recv_multipart) with a deadline.
    pub fn recv_multipart_deadline(&self, flags: i32, deadline: Instant) -> Result<Vec<Vec<u8>>> {
        Ok(to_vecs(
            self.recv_multipart_until(flags, Some(Deadline::at(deadline)))?,
        ))
    }

    fn recv_multipart_until(&self, flags: i32, deadline: Option<Deadline>) -> Result<Vec<zmq::Message>> {
        let _guard = MultipartGuard {
            inner: &self.inner,
            dir: Dir::Read,
        };
        let mut parts = Vec::new();
        loop {
            let mut msg = zmq::Message::new();
            self.recv_frame(&mut msg, flags, deadline, false)?;
            let more = msg.get_more();
            parts.push(msg);
            if !more {
                return Ok(parts);
            }
        }
    }

    fn recv_frame(
        &self,
        msg: &mut zmq::Message,
        flags: i32,
        deadline: Option<Deadline>,
        hook: bool,
    ) -> Result<()> {
        self.inner.run_op(Dir::Read, flags, deadline, hook, |inner| {
            inner.sock.recv(msg, flags | zmq::DONTWAIT)?;
            Ok(msg.get_more())
        })
    }
}
