//! Green Unix-domain stream sockets: `UnixStream` and `UnixListener`.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use super::evented::Evented;
use crate::error::Result;
use crate::hub::{self, Deadline};

/// A Unix-domain stream socket whose blocking operations park the calling
/// greenlet. Same API as [`TcpStream`](super::TcpStream): `recv`/`send`,
/// `Read`/`Write` for `T` and `&T`, timeouts and `shutdown`. Reads and
/// writes are bounded by [`set_read_timeout`](Self::set_read_timeout) and
/// [`set_write_timeout`](Self::set_write_timeout), as in the standard
/// library (see [Timeouts and deadlines](super#timeouts-and-deadlines)).
///
/// ```
/// use std::io::{Read, Write};
///
/// let (mut a, mut b) = zgreen::net::UnixStream::pair().unwrap();
/// a.write_all(b"hi").unwrap();
/// a.shutdown(std::net::Shutdown::Write).unwrap();
/// let mut s = String::new();
/// b.read_to_string(&mut s).unwrap();
/// assert_eq!(s, "hi");
/// ```
pub struct UnixStream {
    io: Evented<mio::net::UnixStream>,
}

impl UnixStream {
    /// Connects to the socket at `path`.
    pub fn connect(path: impl AsRef<Path>) -> Result<UnixStream> {
        UnixStream::connect_until(path.as_ref(), None)
    }

    /// [`connect`](Self::connect), giving up with `Error::Timeout` after
    /// `timeout` (a listener whose backlog is full makes connect wait).
    pub fn connect_timeout(path: impl AsRef<Path>, timeout: Duration) -> Result<UnixStream> {
        UnixStream::connect_until(path.as_ref(), Some(Deadline::after(timeout)))
    }

    /// [`connect`](Self::connect), giving up with `Error::Timeout` at
    /// `deadline`.
    pub fn connect_deadline(path: impl AsRef<Path>, deadline: Instant) -> Result<UnixStream> {
        UnixStream::connect_until(path.as_ref(), Some(Deadline::at(deadline)))
    }

    fn connect_until(path: &Path, deadline: Option<Deadline>) -> Result<UnixStream> {
        hub::check_interrupt()?;
        let io = Evented::new(
            mio::net::UnixStream::connect(path)?,
            mio::Interest::READABLE | mio::Interest::WRITABLE,
        )?;
        io.wait_connected(deadline, |s| s.take_error(), |s| s.peer_addr())?;
        Ok(UnixStream { io })
    }

    /// A connected pair of sockets (`socketpair(2)`).
    pub fn pair() -> Result<(UnixStream, UnixStream)> {
        let (a, b) = mio::net::UnixStream::pair()?;
        Ok((UnixStream::from_mio(a)?, UnixStream::from_mio(b)?))
    }

    /// Wraps a connected standard-library socket (switched to nonblocking).
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> Result<UnixStream> {
        stream.set_nonblocking(true)?;
        UnixStream::from_mio(mio::net::UnixStream::from_std(stream))
    }

    fn from_mio(s: mio::net::UnixStream) -> Result<UnixStream> {
        Ok(UnixStream {
            io: Evented::new(s, mio::Interest::READABLE | mio::Interest::WRITABLE)?,
        })
    }

    /// Shuts down the read half, the write half (the peer then reads end
    /// of file) or both.
    pub fn shutdown(&self, how: Shutdown) -> Result<()> {
        Ok(self.io.get_ref().shutdown(how)?)
    }

    /// The local address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(self.io.get_ref().local_addr()?)
    }

    /// The remote address.
    pub fn peer_addr(&self) -> Result<SocketAddr> {
        Ok(self.io.get_ref().peer_addr()?)
    }

    /// The pending socket error (`SO_ERROR`), clearing it.
    pub fn take_error(&self) -> Result<Option<io::Error>> {
        Ok(self.io.get_ref().take_error()?)
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
        self.io.recv_deadline(buf, self.io.read_deadline())
    }

    /// Reads exactly `buf.len()` bytes; end of file first is an
    /// `UnexpectedEof` I/O error. The read timeout bounds the whole call.
    pub fn recv_exact(&self, buf: &mut [u8]) -> Result<()> {
        self.io.recv_exact_deadline(buf, self.io.read_deadline())
    }

    /// Writes some of `buf`, parking until there is room; returns how
    /// many bytes were written.
    pub fn send(&self, buf: &[u8]) -> Result<usize> {
        self.io.send_deadline(buf, self.io.write_deadline())
    }

    /// Writes all of `buf` (gevent's `sendall`). The write timeout bounds
    /// the whole call. On an error, an unknown prefix of `buf` may have
    /// been sent.
    pub fn send_all(&self, buf: &[u8]) -> Result<()> {
        self.io.send_all_deadline(buf, self.io.write_deadline())
    }

    /// Appends up to `max` bytes to `buf`, read into its spare capacity
    /// (nothing is zero-filled first), with an explicit deadline (ignoring
    /// the read timeout).
    #[cfg(feature = "process")]
    pub(crate) fn recv_append_deadline(
        &self,
        buf: &mut Vec<u8>,
        max: usize,
        deadline: Option<Deadline>,
    ) -> Result<usize> {
        self.io.recv_append_deadline(buf, max, deadline)
    }

    /// `send` with an explicit deadline (ignoring the write timeout).
    #[cfg(feature = "process")]
    pub(crate) fn send_deadline(&self, buf: &[u8], deadline: Option<Deadline>) -> Result<usize> {
        self.io.send_deadline(buf, deadline)
    }
}

impl Read for &UnixStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv(buf).map_err(super::error_into_io)
    }
}

impl Read for UnixStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv(buf).map_err(super::error_into_io)
    }
}

impl Write for &UnixStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.send(buf).map_err(super::error_into_io)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.send_all(buf).map_err(super::error_into_io)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for UnixStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.send(buf).map_err(super::error_into_io)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.send_all(buf).map_err(super::error_into_io)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsRawFd for UnixStream {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

impl AsFd for UnixStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

/// A Unix-domain listening socket whose `accept` parks the calling
/// greenlet. The socket file is not removed on drop (as with the standard
/// library).
pub struct UnixListener {
    io: Evented<mio::net::UnixListener>,
}

impl UnixListener {
    /// Binds to `path` (which must not exist yet), with an accept queue of
    /// [`DEFAULT_BACKLOG`](super::DEFAULT_BACKLOG).
    pub fn bind(path: impl AsRef<Path>) -> Result<UnixListener> {
        UnixListener::from_mio(mio::net::UnixListener::bind(path)?)
    }

    /// Wraps a bound standard-library listener (switched to nonblocking).
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> Result<UnixListener> {
        listener.set_nonblocking(true)?;
        UnixListener::from_mio(mio::net::UnixListener::from_std(listener))
    }

    /// Registers `l` and gives it an accept queue of `DEFAULT_BACKLOG`.
    fn from_mio(l: mio::net::UnixListener) -> Result<UnixListener> {
        let l = UnixListener {
            io: Evented::new(l, mio::Interest::READABLE)?,
        };
        l.set_backlog(super::DEFAULT_BACKLOG)?;
        Ok(l)
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(self.io.get_ref().local_addr()?)
    }

    /// Resizes the queue of connections waiting to be accepted (capped by
    /// `net.core.somaxconn`).
    pub fn set_backlog(&self, backlog: u32) -> Result<()> {
        let backlog = i32::try_from(backlog).unwrap_or(i32::MAX);
        Ok(crate::sys::set_listen_backlog(self.as_fd(), backlog)?)
    }

    /// Waits for a connection.
    pub fn accept(&self) -> Result<(UnixStream, SocketAddr)> {
        self.accept_until(None)
    }

    /// [`accept`](Self::accept), failing with `Error::Timeout` after
    /// `timeout`.
    pub fn accept_timeout(&self, timeout: Duration) -> Result<(UnixStream, SocketAddr)> {
        self.accept_until(Some(Deadline::after(timeout)))
    }

    /// [`accept`](Self::accept), failing with `Error::Timeout` at
    /// `deadline`.
    pub fn accept_deadline(&self, deadline: Instant) -> Result<(UnixStream, SocketAddr)> {
        self.accept_until(Some(Deadline::at(deadline)))
    }

    fn accept_until(&self, deadline: Option<Deadline>) -> Result<(UnixStream, SocketAddr)> {
        let (s, addr) = self.io.read_op(deadline, |l| l.accept())?;
        Ok((UnixStream::from_mio(s)?, addr))
    }
}

impl AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

impl AsFd for UnixListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener")
            .field("local", &self.local_addr().ok())
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}
