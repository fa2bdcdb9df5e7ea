//! The socket [`Family`] that [`Stream`](super::Stream) and
//! [`Listener`](super::Listener) are generic over: TCP or Unix-domain, and
//! the `mio` calls each family makes.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd};

/// The address family of a [`Stream`](super::Stream) or
/// [`Listener`](super::Listener): [`Tcp`] or [`Unix`]. Sealed: zgreen
/// implements it for these two, and nothing else can.
pub trait Family: crate::sealed::Sealed + 'static {
    /// The nonblocking `mio` stream socket.
    #[doc(hidden)]
    type Socket: ByteStream;
    /// The nonblocking `mio` listening socket.
    #[doc(hidden)]
    type Listener: mio::event::Source + AsRawFd + AsFd;
    /// A socket address of the family (`std::net::SocketAddr` for TCP,
    /// `std::os::unix::net::SocketAddr` for Unix).
    type Addr: fmt::Debug;
    /// The stream type's name, for `Debug`.
    #[doc(hidden)]
    const STREAM: &'static str;
    /// The listener type's name, for `Debug`.
    #[doc(hidden)]
    const LISTENER: &'static str;
    /// One `accept(2)`; `WouldBlock` when no connection is queued.
    #[doc(hidden)]
    fn accept(listener: &Self::Listener) -> io::Result<(Self::Socket, Self::Addr)>;
    /// The address a listener is bound to.
    #[doc(hidden)]
    fn listener_addr(listener: &Self::Listener) -> io::Result<Self::Addr>;
    /// A stream's local address.
    #[doc(hidden)]
    fn local_addr(socket: &Self::Socket) -> io::Result<Self::Addr>;
    /// A stream's peer address; `NotConnected` while a connect is in
    /// progress.
    #[doc(hidden)]
    fn peer_addr(socket: &Self::Socket) -> io::Result<Self::Addr>;
    /// `SO_ERROR`, cleared.
    #[doc(hidden)]
    fn take_error(socket: &Self::Socket) -> io::Result<Option<io::Error>>;
    /// `shutdown(2)`.
    #[doc(hidden)]
    fn shutdown(socket: &Self::Socket, how: Shutdown) -> io::Result<()>;
}

/// TCP over IPv4 or IPv6: [`TcpStream`](super::TcpStream) and
/// [`TcpListener`](super::TcpListener).
#[derive(Debug)]
pub enum Tcp {}

/// Unix-domain stream sockets: [`UnixStream`](super::UnixStream) and
/// [`UnixListener`](super::UnixListener).
#[derive(Debug)]
pub enum Unix {}

impl crate::sealed::Sealed for Tcp {}
impl crate::sealed::Sealed for Unix {}

impl Family for Tcp {
    type Socket = mio::net::TcpStream;
    type Listener = mio::net::TcpListener;
    type Addr = std::net::SocketAddr;
    const STREAM: &'static str = "TcpStream";
    const LISTENER: &'static str = "TcpListener";

    fn accept(listener: &Self::Listener) -> io::Result<(Self::Socket, Self::Addr)> {
        listener.accept()
    }

    fn listener_addr(listener: &Self::Listener) -> io::Result<Self::Addr> {
        listener.local_addr()
    }

    fn local_addr(socket: &Self::Socket) -> io::Result<Self::Addr> {
        socket.local_addr()
    }

    fn peer_addr(socket: &Self::Socket) -> io::Result<Self::Addr> {
        socket.peer_addr()
    }

    fn take_error(socket: &Self::Socket) -> io::Result<Option<io::Error>> {
        socket.take_error()
    }

    fn shutdown(socket: &Self::Socket, how: Shutdown) -> io::Result<()> {
        socket.shutdown(how)
    }
}

impl Family for Unix {
    type Socket = mio::net::UnixStream;
    type Listener = mio::net::UnixListener;
    type Addr = std::os::unix::net::SocketAddr;
    const STREAM: &'static str = "UnixStream";
    const LISTENER: &'static str = "UnixListener";

    fn accept(listener: &Self::Listener) -> io::Result<(Self::Socket, Self::Addr)> {
        listener.accept()
    }

    fn listener_addr(listener: &Self::Listener) -> io::Result<Self::Addr> {
        listener.local_addr()
    }

    fn local_addr(socket: &Self::Socket) -> io::Result<Self::Addr> {
        socket.local_addr()
    }

    fn peer_addr(socket: &Self::Socket) -> io::Result<Self::Addr> {
        socket.peer_addr()
    }

    fn take_error(socket: &Self::Socket) -> io::Result<Option<io::Error>> {
        socket.take_error()
    }

    fn shutdown(socket: &Self::Socket, how: Shutdown) -> io::Result<()> {
        socket.shutdown(how)
    }
}

/// A nonblocking `mio` byte-stream socket (`mio::net::TcpStream`,
/// `mio::net::UnixStream`): one read or write attempt through `&self`.
/// Public only in name (it is not exported), so that [`Family`] can name
/// it.
pub trait ByteStream: mio::event::Source + AsRawFd + AsFd {
    /// One `read(2)`; `WouldBlock` when nothing is queued.
    fn read_once(&self, buf: &mut [u8]) -> io::Result<usize>;
    /// One `write(2)`; `WouldBlock` when the send buffer is full.
    fn write_once(&self, buf: &[u8]) -> io::Result<usize>;
}

impl ByteStream for mio::net::TcpStream {
    fn read_once(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&mut &*self).read(buf)
    }

    fn write_once(&self, buf: &[u8]) -> io::Result<usize> {
        (&mut &*self).write(buf)
    }
}

impl ByteStream for mio::net::UnixStream {
    fn read_once(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&mut &*self).read(buf)
    }

    fn write_once(&self, buf: &[u8]) -> io::Result<usize> {
        (&mut &*self).write(buf)
    }
}
