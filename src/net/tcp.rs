//! Green TCP: `TcpStream` and `TcpListener`.

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::AsFd;
use std::time::Duration;

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
        TcpStream::connect_deadline(addr, None)
    }

    /// [`connect`](Self::connect), giving up with `Error::Timeout` after
    /// `timeout` (resolution and every attempt included).
    pub fn connect_timeout(addr: impl ToSocketAddrs, timeout: Duration) -> Result<TcpStream> {
        TcpStream::connect_deadline(addr, Some(Deadline::after(timeout)))
    }

    fn connect_deadline(addr: impl ToSocketAddrs, deadline: Option<Deadline>) -> Result<TcpStream> {
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
}

super::evented::green_stream!(TcpStream);
super::socket::stream_socket!(TcpStream, SocketAddr);

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

    /// Resizes the queue of connections the kernel completes before they
    /// are accepted (capped by `net.core.somaxconn`). Connections beyond it
    /// are dropped and retried by the client (or, with SYN cookies under
    /// load, may be reset), so a server expecting bursts of connections
    /// wants it at least as large as the burst.
    pub fn set_backlog(&self, backlog: u32) -> Result<()> {
        let backlog = i32::try_from(backlog).unwrap_or(i32::MAX);
        Ok(crate::sys::set_listen_backlog(self.as_fd(), backlog)?)
    }

    /// An endless iterator of accepted connections.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }
}

super::socket::green_listener!(TcpListener(mio::net::TcpListener) accepts TcpStream from SocketAddr);

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
