//! [`Stream`]: a connected green byte stream of either socket family
//! (the type behind [`TcpStream`](super::TcpStream) and
//! [`UnixStream`](super::UnixStream)).

use std::fmt;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use super::evented::{Dir, Evented};
use super::socket::{ByteStream, Family};
use crate::error::Result;
use crate::hub::Deadline;

/// A connected stream socket whose blocking operations park the calling
/// greenlet; use it as [`TcpStream`](super::TcpStream) or
/// [`UnixStream`](super::UnixStream). The methods here are common to both;
/// connecting (and TCP's `set_nodelay`, `peek`, Unix's `pair`) are on the
/// family's own `impl`.
///
/// Implements [`Read`] and [`Write`] for both `Stream` and `&Stream`, so
/// one greenlet can read while another writes to the same stream (share it
/// with an `Rc`). Several greenlets may wait in the same direction; each
/// operation is served in turn. Reads and writes are bounded by
/// [`set_read_timeout`](Self::set_read_timeout) and
/// [`set_write_timeout`](Self::set_write_timeout), as in the standard
/// library (see [Timeouts and deadlines](super#timeouts-and-deadlines)).
///
/// A stream belongs to the hub that registered it and cannot be sent to
/// another thread (the compiler refuses it, error E0277):
///
/// ```compile_fail,E0277
/// let (a, _b) = zgreen::net::UnixStream::pair().unwrap();
/// std::thread::spawn(move || drop(a));
/// ```
pub struct Stream<F: Family> {
    io: Evented<F::Socket>,
}

impl<F: Family> Stream<F> {
    /// Registers a connected (or connecting) nonblocking socket.
    pub(crate) fn from_mio(socket: F::Socket) -> Result<Stream<F>> {
        let io = Evented::new(socket, mio::Interest::READABLE | mio::Interest::WRITABLE)?;
        Ok(Stream { io })
    }

    /// Registers a socket whose nonblocking connect is in progress and
    /// parks until it has finished: the stream once it has a peer, else
    /// the connect's error.
    pub(crate) fn connecting(socket: F::Socket, deadline: Option<Deadline>) -> Result<Stream<F>> {
        let stream = Stream::from_mio(socket)?;
        loop {
            // The socket becomes writable once the connect has finished
            // (for TCP, the handshake), successfully or not.
            stream.io.wait_writable(deadline)?;
            if let Some(e) = F::take_error(stream.io.get_ref())? {
                return Err(e.into());
            }
            match F::peer_addr(stream.io.get_ref()) {
                Ok(_) => return Ok(stream),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => stream.io.clear_writable(),
                Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => stream.io.clear_writable(),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The `mio` socket (for the family's own methods).
    pub(crate) fn socket(&self) -> &F::Socket {
        self.io.get_ref()
    }

    /// The registered socket (for the family's own parking calls).
    pub(crate) fn evented(&self) -> &Evented<F::Socket> {
        &self.io
    }

    /// Shuts down the read half, the write half (the peer then reads end
    /// of file: a half-close) or both.
    pub fn shutdown(&self, how: Shutdown) -> Result<()> {
        Ok(F::shutdown(self.socket(), how)?)
    }

    /// The local address.
    pub fn local_addr(&self) -> Result<F::Addr> {
        Ok(F::local_addr(self.socket())?)
    }

    /// The remote address.
    pub fn peer_addr(&self) -> Result<F::Addr> {
        Ok(F::peer_addr(self.socket())?)
    }

    /// The pending socket error (`SO_ERROR`), clearing it.
    pub fn take_error(&self) -> Result<Option<io::Error>> {
        Ok(F::take_error(self.socket())?)
    }

    /// Bounds every later read (`recv`, `Read::read`, ...) to
    /// `timeout`; `None` (the default) waits forever. Each call gets the
    /// full timeout.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) {
        self.io.set_read_timeout(timeout);
    }

    /// The read timeout.
    pub fn read_timeout(&self) -> Option<Duration> {
        self.io.read_timeout()
    }

    /// Bounds every later write to `timeout`; `None` waits forever.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) {
        self.io.set_write_timeout(timeout);
    }

    /// The write timeout.
    pub fn write_timeout(&self) -> Option<Duration> {
        self.io.write_timeout()
    }

    /// Reads into `buf`, parking until at least one byte is available;
    /// `Ok(0)` means end of file (the peer closed or shut down its write
    /// half).
    pub fn recv(&self, buf: &mut [u8]) -> Result<usize> {
        self.recv_deadline(buf, self.io.read_deadline())
    }

    /// Reads exactly `buf.len()` bytes; end of file first is an
    /// `UnexpectedEof` I/O error. The read timeout bounds the whole call.
    pub fn recv_exact(&self, buf: &mut [u8]) -> Result<()> {
        let deadline = self.io.read_deadline();
        let mut done = 0;
        while done < buf.len() {
            let n = self.recv_deadline(&mut buf[done..], deadline)?;
            if n == 0 {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
            }
            done += n;
        }
        Ok(())
    }

    /// Writes some of `buf`, parking until there is room; returns how
    /// many bytes were written.
    pub fn send(&self, buf: &[u8]) -> Result<usize> {
        self.send_deadline(buf, self.io.write_deadline())
    }

    /// Writes all of `buf` (gevent's `sendall`). The write timeout bounds
    /// the whole call. On an error, an unknown prefix of `buf` may have
    /// been sent.
    pub fn send_all(&self, buf: &[u8]) -> Result<()> {
        let deadline = self.io.write_deadline();
        let mut done = 0;
        while done < buf.len() {
            let n = self.send_deadline(&buf[done..], deadline)?;
            if n == 0 {
                return Err(io::Error::from(io::ErrorKind::WriteZero).into());
            }
            done += n;
        }
        Ok(())
    }

    /// `recv` with an explicit deadline (ignoring the read timeout).
    pub(crate) fn recv_deadline(&self, buf: &mut [u8], deadline: Option<Deadline>) -> Result<usize> {
        let want = buf.len();
        self.io.read_op_stream(deadline, want, |s| s.read_once(buf))
    }

    /// Writes from several buffers in one system call (`sendmsg`, gather
    /// I/O); returns how many bytes were taken, which may be fewer than
    /// their total. Waits and times out as [`send`](Self::send) does.
    /// `Write::write_vectored` calls this, so `BufWriter`, codecs that
    /// produce header and payload apart, and `write_all_vectored` cost one
    /// system call per batch rather than one per buffer.
    pub fn send_vectored(&self, bufs: &[std::io::IoSlice<'_>]) -> Result<usize> {
        self.io.io_op(Dir::Write, self.io.write_deadline(), |s| {
            socket2::SockRef::from(s).send_vectored(bufs)
        })
    }

    /// [`send_vectored`](Self::send_vectored) with an explicit deadline
    /// (ignoring the write timeout).
    #[cfg(feature = "native")]
    pub(crate) fn send_vectored_deadline(
        &self,
        bufs: &[std::io::IoSlice<'_>],
        deadline: Option<Deadline>,
    ) -> Result<usize> {
        self.io.io_op(Dir::Write, deadline, |s| {
            socket2::SockRef::from(s).send_vectored_with_flags(bufs, libc::MSG_NOSIGNAL)
        })
    }

    /// One nonblocking gather write that never parks: `Ok(0)` when the
    /// socket's send buffer is full (the next parking write waits for
    /// room as usual).
    #[cfg(feature = "native")]
    pub(crate) fn try_send_vectored(&self, bufs: &[std::io::IoSlice<'_>]) -> io::Result<usize> {
        match socket2::SockRef::from(self.socket()).send_vectored_with_flags(bufs, libc::MSG_NOSIGNAL) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted => {
                Ok(0)
            }
            r => r,
        }
    }

    /// `send` with an explicit deadline (ignoring the write timeout).
    pub(crate) fn send_deadline(&self, buf: &[u8], deadline: Option<Deadline>) -> Result<usize> {
        self.io.io_op(Dir::Write, deadline, |s| s.write_once(buf))
    }

    /// Appends up to `max` bytes to `buf`, read into its spare capacity
    /// (nothing is zero-filled first), with an explicit deadline (ignoring
    /// the read timeout).
    #[cfg(any(feature = "http", feature = "process"))]
    pub(crate) fn recv_append_deadline(
        &self,
        buf: &mut Vec<u8>,
        max: usize,
        deadline: Option<Deadline>,
    ) -> Result<usize> {
        buf.reserve(max);
        self.io.read_op_stream(deadline, max, |s| {
            let spare = buf.spare_capacity_mut();
            let want = spare.len().min(max);
            // SAFETY: `spare` is allocated, writable memory owned by `buf`
            // and at least `want` bytes long; `recv` writes at most `want`
            // bytes into it and does not keep the pointer.
            let got = unsafe { libc::recv(s.as_raw_fd(), spare.as_mut_ptr().cast(), want, 0) };
            if got < 0 {
                return Err(io::Error::last_os_error());
            }
            let got = got as usize;
            // SAFETY: the kernel initialized the first `got` bytes of the
            // spare capacity, and `got <= want` fits in the capacity.
            unsafe { buf.set_len(buf.len() + got) };
            Ok(got)
        })
    }
}

impl<F: Family> Read for &Stream<F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv(buf).map_err(super::error_into_io)
    }
}

impl<F: Family> Read for Stream<F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl<F: Family> Write for &Stream<F> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.send(buf).map_err(super::error_into_io)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.send_vectored(bufs).map_err(super::error_into_io)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.send_all(buf).map_err(super::error_into_io)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<F: Family> Write for Stream<F> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        (&*self).write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<F: Family> AsRawFd for Stream<F> {
    fn as_raw_fd(&self) -> RawFd {
        self.socket().as_raw_fd()
    }
}

impl<F: Family> AsFd for Stream<F> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket().as_fd()
    }
}

impl<F: Family> fmt::Debug for Stream<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(F::STREAM)
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}
