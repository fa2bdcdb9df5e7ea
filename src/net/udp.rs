//! Green UDP.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use super::ToSocketAddrs;
use super::evented::{Dir, Evented};
use crate::error::Result;

/// A UDP socket whose `recv`/`send` park the calling greenlet.
///
/// ```
/// use zgreen::net::UdpSocket;
///
/// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
/// let b = UdpSocket::bind("127.0.0.1:0").unwrap();
/// a.send_to(b"ping", b.local_addr().unwrap()).unwrap();
/// let mut buf = [0; 16];
/// let (n, from) = b.recv_from(&mut buf).unwrap();
/// assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr().unwrap()));
/// ```
pub struct UdpSocket {
    io: Evented<mio::net::UdpSocket>,
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("local", &self.local_addr().ok())
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

/// The first address `addr` names.
fn first(addr: impl ToSocketAddrs) -> Result<SocketAddr> {
    addr.to_socket_addrs()?
        .into_iter()
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address").into())
}

impl UdpSocket {
    /// Binds to the first address that works.
    pub fn bind(addr: impl ToSocketAddrs) -> Result<UdpSocket> {
        UdpSocket::from_mio(super::tcp::bind_first(addr, mio::net::UdpSocket::bind)?)
    }

    /// Wraps a bound standard-library socket (switched to nonblocking).
    pub fn from_std(socket: std::net::UdpSocket) -> Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        UdpSocket::from_mio(mio::net::UdpSocket::from_std(socket))
    }

    fn from_mio(s: mio::net::UdpSocket) -> Result<UdpSocket> {
        Ok(UdpSocket {
            io: Evented::new(s, mio::Interest::READABLE | mio::Interest::WRITABLE)?,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(self.io.get_ref().local_addr()?)
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> Result<SocketAddr> {
        Ok(self.io.get_ref().peer_addr()?)
    }

    /// Sets the default destination of `send` and the only source `recv`
    /// accepts.
    pub fn connect(&self, addr: impl ToSocketAddrs) -> Result<()> {
        let a = first(addr)?;
        Ok(self.io.get_ref().connect(a)?)
    }

    /// Bounds every later receive to `timeout`; `None` waits forever.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) {
        self.io.set_read_timeout(timeout);
    }

    /// The read timeout.
    pub fn read_timeout(&self) -> Option<Duration> {
        self.io.read_timeout()
    }

    /// Bounds every later send to `timeout`; `None` waits forever.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) {
        self.io.set_write_timeout(timeout);
    }

    /// The write timeout.
    pub fn write_timeout(&self) -> Option<Duration> {
        self.io.write_timeout()
    }

    /// Sends one datagram to `addr` (resolved first).
    pub fn send_to(&self, buf: &[u8], addr: impl ToSocketAddrs) -> Result<usize> {
        let a = first(addr)?;
        self.io
            .io_op(Dir::Write, self.io.write_deadline(), |s| s.send_to(buf, a))
    }

    /// Receives one datagram; returns its length (truncated to `buf`) and
    /// sender.
    pub fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, SocketAddr)> {
        self.io
            .io_op(Dir::Read, self.io.read_deadline(), |s| s.recv_from(buf))
    }

    /// Sends one datagram to the connected peer.
    pub fn send(&self, buf: &[u8]) -> Result<usize> {
        self.io
            .io_op(Dir::Write, self.io.write_deadline(), |s| s.send(buf))
    }

    /// Receives one datagram from the connected peer.
    pub fn recv(&self, buf: &mut [u8]) -> Result<usize> {
        self.io.io_op(Dir::Read, self.io.read_deadline(), |s| s.recv(buf))
    }

    /// Sets `SO_BROADCAST`.
    pub fn set_broadcast(&self, on: bool) -> Result<()> {
        Ok(self.io.get_ref().set_broadcast(on)?)
    }

    /// The pending socket error (`SO_ERROR`), clearing it.
    pub fn take_error(&self) -> Result<Option<io::Error>> {
        Ok(self.io.get_ref().take_error()?)
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}
