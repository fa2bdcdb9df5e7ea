//! Green Unix-domain stream sockets: [`UnixStream`] and [`UnixListener`],
//! and what only they have (connecting to a path, `pair`).

use std::path::Path;
use std::time::{Duration, Instant};

use super::listener::Listener;
use super::socket::Unix;
use super::stream::Stream;
use crate::error::Result;
use crate::hub::{self, Deadline};

/// A Unix-domain stream socket whose blocking operations park the calling
/// greenlet: the same API as [`TcpStream`](super::TcpStream) (see
/// [`Stream`]).
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
pub type UnixStream = Stream<Unix>;

/// A Unix-domain listening socket whose `accept` parks the calling
/// greenlet (see [`Listener`]). The socket file is not removed on drop (as
/// with the standard library).
pub type UnixListener = Listener<Unix>;

impl Stream<Unix> {
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
        UnixStream::connecting(mio::net::UnixStream::connect(path)?, deadline)
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
}

impl Listener<Unix> {
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
}
