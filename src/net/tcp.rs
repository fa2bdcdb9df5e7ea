//! Green TCP: [`TcpStream`] and [`TcpListener`], and what only TCP has
//! (connecting to resolved addresses, `TCP_NODELAY`, `peek`).

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::ToSocketAddrs;
use super::evented::Dir;
use super::listener::Listener;
use super::socket::Tcp;
use super::stream::Stream;
use crate::error::{Error, Result};
use crate::hub::{self, Deadline};

/// A TCP connection whose blocking operations park the calling greenlet
/// (see [`Stream`] for the methods common to TCP and Unix streams).
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
pub type TcpStream = Stream<Tcp>;

/// A TCP listening socket whose `accept` parks the calling greenlet (see
/// [`Listener`] for its methods).
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
pub type TcpListener = Listener<Tcp>;

impl Stream<Tcp> {
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
            match TcpStream::connecting(mio::net::TcpStream::connect(a)?, deadline) {
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

    /// Wraps a connected standard-library stream (it is switched to
    /// nonblocking mode).
    pub fn from_std(stream: std::net::TcpStream) -> Result<TcpStream> {
        stream.set_nonblocking(true)?;
        TcpStream::from_mio(mio::net::TcpStream::from_std(stream))
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm).
    pub fn set_nodelay(&self, nodelay: bool) -> Result<()> {
        Ok(self.socket().set_nodelay(nodelay)?)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> Result<bool> {
        Ok(self.socket().nodelay()?)
    }

    /// Reads without consuming (`MSG_PEEK`); the read timeout bounds it.
    pub fn peek(&self, buf: &mut [u8]) -> Result<usize> {
        let io = self.evented();
        io.io_op(Dir::Read, io.read_deadline(), |s| s.peek(buf))
    }
}

impl Listener<Tcp> {
    /// Binds to the first address that works (`SO_REUSEADDR` set, an
    /// accept queue of [`DEFAULT_BACKLOG`](super::DEFAULT_BACKLOG)). Port 0
    /// picks a free port: see [`local_addr`](Self::local_addr).
    pub fn bind(addr: impl ToSocketAddrs) -> Result<TcpListener> {
        TcpListener::from_mio(bind_first(addr, mio::net::TcpListener::bind)?)
    }

    /// Wraps a bound standard-library listener (switched to nonblocking).
    pub fn from_std(listener: std::net::TcpListener) -> Result<TcpListener> {
        listener.set_nonblocking(true)?;
        TcpListener::from_mio(mio::net::TcpListener::from_std(listener))
    }
}

/// The first address of `addrs` that `bind` accepts; the last error if
/// none does (checking for a kill or timeout first).
pub(crate) fn bind_first<T>(
    addrs: impl ToSocketAddrs,
    mut bind: impl FnMut(SocketAddr) -> io::Result<T>,
) -> Result<T> {
    hub::check_interrupt()?;
    let mut last = None;
    for a in addrs.to_socket_addrs()? {
        match bind(a) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(last
        .unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to bind to"))
        .into())
}
