//! Green TCP: `TcpStream` and `TcpListener`.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::{Duration, Instant};

use super::ToSocketAddrs;
use super::evented::Evented;
use crate::error::{Error, Result};
use crate::hub::{self, Deadline};

/// A TCP connection whose blocking operations park the calling greenlet.
///
/// Implements [`Read`](std::io::Read) and [`Write`](std::io::Write) for both `TcpStream` and
/// `&TcpStream`, so one greenlet can read while another writes to the same
/// stream (share it with an `Rc`). Several greenlets may wait in the same
/// direction; each operation is served in turn.
///
/// # Examples
///
/// ```
/// use zgreen::net::{TcpListener, TcpStream};
///
/// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
/// let addr = listener.local_addr().unwrap();
/// let echo = zgreen::spawn(move || -> zgreen::Result<()> {
///     let (conn, _) = listener.accept()?;
///     let mut buf = [0; 64];
///     let n = conn.recv(&mut buf)?;
///     conn.send_all(&buf[..n])
/// });
/// let stream = TcpStream::connect(addr).unwrap();
/// stream.send_all(b"ping").unwrap();
/// let mut buf = [0; 4];
/// stream.recv_exact(&mut buf).unwrap();
/// assert_eq!(&buf, b"ping");
/// echo.get().unwrap().unwrap();
/// ```
pub struct TcpStream {
    io: Evented<mio::net::TcpStream>,
}

impl TcpStream {
    /// Connects to `addr`, trying each resolved address in turn (host
    /// names are resolved on the thread pool). Fails with the last
    /// address's error, e.g. `ConnectionRefused`.
    pub fn connect(addr: impl ToSocketAddrs) -> Result<TcpStream> {
        TcpStream::connect_until(addr, None)
    }

    /// [`connect`](Self::connect), giving up with `Error::Timeout` after
    /// `timeout` (resolution and every attempt included).
    pub fn connect_timeout(addr: impl ToSocketAddrs, timeout: Duration) -> Result<TcpStream> {
        TcpStream::connect_until(addr, Some(Deadline::after(timeout)))
    }

    /// [`connect`](Self::connect), giving up with `Error::Timeout` at
    /// `deadline` (resolution and every attempt included).
    pub fn connect_deadline(addr: impl ToSocketAddrs, deadline: Instant) -> Result<TcpStream> {
        TcpStream::connect_until(addr, Some(Deadline::at(deadline)))
    }

    fn connect_until(addr: impl ToSocketAddrs, deadline: Option<Deadline>) -> Result<TcpStream> {
        hub::check_interrupt()?;
        let addrs = addr.to_socket_addrs()?;
        let mut last = None;
        for a in addrs {
            match TcpStream::connect_one(a, deadline) {
                Ok(s) => return Ok(s),
                Err(e @ Error::Io(_)) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            Error::from(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no address to connect to",
            ))
        }))
    }

    fn connect_one(addr: SocketAddr, deadline: Option<Deadline>) -> Result<TcpStream> {
        let sock = mio::net::TcpStream::connect(addr)?;
        let io = Evented::new(sock, mio::Interest::READABLE | mio::Interest::WRITABLE)?;
        io.wait_connected(deadline, |s| s.take_error(), |s| s.peer_addr())?;
        Ok(TcpStream { io })
    }

    /// Wraps a connected standard-library stream (it is switched to
    /// nonblocking mode).
    pub fn from_std(stream: std::net::TcpStream) -> Result<TcpStream> {
        stream.set_nonblocking(true)?;
        TcpStream::from_mio(mio::net::TcpStream::from_std(stream))
    }

    pub(crate) fn from_mio(stream: mio::net::TcpStream) -> Result<TcpStream> {
        let io = Evented::new(stream, mio::Interest::READABLE | mio::Interest::WRITABLE)?;
        Ok(TcpStream { io })
    }

    /// Shuts down the read half, the write half (the peer then reads end
    /// of file: a half-close) or both.
    pub fn shutdown(&self, how: Shutdown) -> Result<()> {
        Ok(self.io.get_ref().shutdown(how)?)
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm).
    pub fn set_nodelay(&self, nodelay: bool) -> Result<()> {
        Ok(self.io.get_ref().set_nodelay(nodelay)?)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> Result<bool> {
        Ok(self.io.get_ref().nodelay()?)
    }

    /// Reads without consuming (`MSG_PEEK`).
    pub fn peek(&self, buf: &mut [u8]) -> Result<usize> {
        self.io.read_op(self.io.read_deadline(), |s| s.peek(buf))
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

    /// `recv` with an explicit deadline (ignoring the read timeout).
    #[cfg(feature = "http")]
    pub(crate) fn recv_deadline(&self, buf: &mut [u8], deadline: Option<Deadline>) -> Result<usize> {
        self.io.recv_deadline(buf, deadline)
    }

    /// Appends up to `max` bytes to `buf`, read into its spare capacity
    /// (nothing is zero-filled first), with an explicit deadline (ignoring
    /// the read timeout).
    #[cfg(feature = "http")]
    pub(crate) fn recv_append_deadline(
        &self,
        buf: &mut Vec<u8>,
        max: usize,
        deadline: Option<Deadline>,
    ) -> Result<usize> {
        self.io.recv_append_deadline(buf, max, deadline)
    }
}

impl Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv(buf).map_err(super::error_into_io)
    }
}

impl Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv(buf).map_err(super::error_into_io)
    }
}

impl Write for &TcpStream {
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

impl Write for TcpStream {
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

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

/// A TCP listening socket whose `accept` parks the calling greenlet.
///
/// ```
/// use zgreen::net::{TcpListener, TcpStream};
///
/// let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
/// let addr = listener.local_addr().unwrap();
/// let client = zgreen::spawn(move || TcpStream::connect(addr).map(|_| ()));
/// let (_conn, peer) = listener.accept().unwrap();
/// assert!(peer.ip().is_loopback());
/// client.get().unwrap().unwrap();
/// ```
pub struct TcpListener {
    io: Evented<mio::net::TcpListener>,
}

impl TcpListener {
    /// Binds to the first address that works (`SO_REUSEADDR` set, an
    /// accept queue of [`DEFAULT_BACKLOG`](super::DEFAULT_BACKLOG)). Port 0
    /// picks a free port: see [`local_addr`](Self::local_addr).
    pub fn bind(addr: impl ToSocketAddrs) -> Result<TcpListener> {
        hub::check_interrupt()?;
        let mut last = None;
        for a in addr.to_socket_addrs()? {
            match mio::net::TcpListener::bind(a) {
                Ok(l) => return TcpListener::from_mio(l),
                Err(e) => last = Some(e),
            }
        }
        Err(last
            .unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to bind to"))
            .into())
    }

    /// Wraps a bound standard-library listener (switched to nonblocking).
    pub fn from_std(listener: std::net::TcpListener) -> Result<TcpListener> {
        listener.set_nonblocking(true)?;
        TcpListener::from_mio(mio::net::TcpListener::from_std(listener))
    }

    /// Registers `l` and gives it an accept queue of `DEFAULT_BACKLOG`.
    fn from_mio(l: mio::net::TcpListener) -> Result<TcpListener> {
        let l = TcpListener {
            io: Evented::new(l, mio::Interest::READABLE)?,
        };
        l.set_backlog(super::DEFAULT_BACKLOG)?;
        Ok(l)
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(self.io.get_ref().local_addr()?)
    }

    /// Resizes the queue of connections the kernel completes before they
    /// are accepted (capped by `net.core.somaxconn`). Connections beyond it
    /// are dropped and retried by the client (or, with SYN cookies under
    /// load, may be reset), so a server expecting bursts of connections
    /// wants it at least as large as the burst.
    pub fn set_backlog(&self, backlog: u32) -> Result<()> {
        let backlog = i32::try_from(backlog).unwrap_or(i32::MAX);
        Ok(crate::sys::set_listen_backlog(self.as_fd(), backlog)?)
    }

    /// Waits for a connection.
    pub fn accept(&self) -> Result<(TcpStream, SocketAddr)> {
        self.accept_until(None)
    }

    /// [`accept`](Self::accept), failing with `Error::Timeout` after
    /// `timeout`.
    pub fn accept_timeout(&self, timeout: Duration) -> Result<(TcpStream, SocketAddr)> {
        self.accept_until(Some(Deadline::after(timeout)))
    }

    /// [`accept`](Self::accept), failing with `Error::Timeout` at
    /// `deadline`.
    pub fn accept_deadline(&self, deadline: Instant) -> Result<(TcpStream, SocketAddr)> {
        self.accept_until(Some(Deadline::at(deadline)))
    }

    fn accept_until(&self, deadline: Option<Deadline>) -> Result<(TcpStream, SocketAddr)> {
        let (s, addr) = self.io.read_op(deadline, |l| l.accept())?;
        Ok((TcpStream::from_mio(s)?, addr))
    }

    /// An endless iterator of accepted connections.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

impl AsFd for TcpListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("local", &self.local_addr().ok())
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

/// The iterator of [`TcpListener::incoming`]: each item is one `accept`.
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Iterator for Incoming<'_> {
    type Item = Result<TcpStream>;

    fn next(&mut self) -> Option<Result<TcpStream>> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}
