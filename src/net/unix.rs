//! Green Unix-domain stream sockets: `UnixStream` and `UnixListener`.

use std::net::Shutdown;
use std::os::fd::AsFd;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use super::evented::Evented;
use crate::error::Result;
use crate::hub::{self, Deadline};

/// A Unix-domain stream socket whose blocking operations park the calling
/// greenlet. Same API as [`TcpStream`](super::TcpStream): `recv`/`send`,
/// `Read`/`Write` for `T` and `&T`, timeouts and `shutdown`.
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
        UnixStream::connect_deadline(path.as_ref(), None)
    }

    /// [`connect`](Self::connect), giving up with `Error::Timeout` after
    /// `timeout` (a listener whose backlog is full makes connect wait).
    pub fn connect_timeout(path: impl AsRef<Path>, timeout: Duration) -> Result<UnixStream> {
        UnixStream::connect_deadline(path.as_ref(), Some(Deadline::after(timeout)))
    }

    fn connect_deadline(path: &Path, deadline: Option<Deadline>) -> Result<UnixStream> {
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
}

super::evented::green_stream!(UnixStream);
super::socket::stream_socket!(UnixStream, SocketAddr);

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

    /// Resizes the queue of connections waiting to be accepted (capped by
    /// `net.core.somaxconn`).
    pub fn set_backlog(&self, backlog: u32) -> Result<()> {
        let backlog = i32::try_from(backlog).unwrap_or(i32::MAX);
        Ok(crate::sys::set_listen_backlog(self.as_fd(), backlog)?)
    }
}

super::socket::green_listener!(UnixListener(mio::net::UnixListener) accepts UnixStream from SocketAddr);
