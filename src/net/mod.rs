//! Green networking: TCP, Unix and UDP sockets that park the calling
//! greenlet instead of the thread, a [`StreamServer`], and
//! [`wait_read`]/[`wait_write`]/[`select`] for any file descriptor.
//!
//! This is the Rust form of gevent's monkey-patching: instead of patching
//! the standard library, zgreen's stream types implement
//! [`std::io::Read`] and [`std::io::Write`] (for both `T` and `&T`), so any
//! protocol code written against `Read + Write` (httparse, tungstenite,
//! `serde_json::from_reader`, `BufReader`) runs cooperatively unchanged.
//!
//! # Examples
//!
//! ```
//! use std::io::{BufRead, BufReader, Write};
//! use zgreen::net::{TcpListener, TcpStream};
//!
//! let listener = TcpListener::bind("127.0.0.1:0").unwrap();
//! let addr = listener.local_addr().unwrap();
//! let server = zgreen::spawn(move || {
//!     let (mut conn, _) = listener.accept().unwrap();
//!     conn.write_all(b"hello\n").unwrap();
//! });
//! let stream = TcpStream::connect(addr).unwrap();
//! let mut line = String::new();
//! BufReader::new(stream).read_line(&mut line).unwrap();
//! assert_eq!(line, "hello\n");
//! server.join().unwrap();
//! ```
//!
//! # Errors
//!
//! Inherent methods (`recv`, `send`, `accept`, ...) return
//! [`zgreen::Result`](crate::Result): a timeout is `Error::Timeout`, a kill
//! `Error::Killed`, an OS error `Error::Io`. The `Read`/`Write` impls must
//! return [`std::io::Error`]; there a timeout has kind `TimedOut` and a
//! kill kind `Other`, each wrapping the zgreen [`Error`] (see
//! [`io_error_into`], which unwraps it again).
//!
//! # Timeouts and deadlines
//!
//! Blocking calls follow the crate's naming scheme: `x()` blocks until
//! done, `x_timeout(Duration)` gives up with `Error::Timeout` after the
//! duration and `x_deadline(Instant)` at the instant:
//! [`TcpListener::accept`], [`accept_timeout`](TcpListener::accept_timeout),
//! [`accept_deadline`](TcpListener::accept_deadline) (and the same on
//! [`UnixListener`]), [`TcpStream::connect`],
//! [`connect_timeout`](TcpStream::connect_timeout),
//! [`connect_deadline`](TcpStream::connect_deadline) (and on
//! [`UnixStream`]).
//!
//! The exception is the sockets' reads and writes, which keep the
//! standard library's convention so that `Read`/`Write` code runs
//! unchanged (for [`UdpSocket`] too): [`set_read_timeout`](TcpStream::set_read_timeout) and
//! [`set_write_timeout`](TcpStream::set_write_timeout) bound every later
//! `recv`, `send`, `Read::read` and `Write::write` on the stream (each
//! call gets the full timeout; `recv_exact` and `send_all` as a whole).
//! For a one-off bound around any of them, use a
//! [`Timeout`](crate::Timeout) scope.
//!
//! # Thread affinity
//!
//! Every socket is registered with the hub of the thread that created it
//! and is `!Send`: greenlets never leave their thread.

mod dns;
pub(crate) mod evented;
mod listener;
mod reuseport;
mod server;
mod socket;
mod stream;
mod tcp;
mod udp;
mod unix;
mod wait;

use std::io;
use std::sync::Arc;

pub use self::dns::{ToSocketAddrs, lookup_host};
pub use self::listener::{Incoming, Listener};
pub use self::reuseport::{Sharing, bind_reuseport, serve_each};
pub use self::server::{ConnectionResult, Overflow, StreamServer};
pub use self::socket::{Family, Tcp, Unix};
pub use self::stream::Stream;
pub use self::tcp::{TcpListener, TcpStream};
pub use self::udp::UdpSocket;
pub use self::unix::{UnixListener, UnixStream};
pub use self::wait::{Selected, select, wait_read, wait_write};

use crate::error::Error;

/// The accept-queue length zgreen's listeners get (the kernel caps it at
/// `net.core.somaxconn`, 4096 by default): bursts of connections wait there
/// until the accept loop gets to them. The standard library and `mio` use
/// 128, which a burst of a few hundred connects overflows.
pub const DEFAULT_BACKLOG: u32 = 1024;

/// Converts a zgreen error into an [`io::Error`] for the `Read`/`Write`
/// impls: an OS error comes back as itself, a timeout as kind `TimedOut`
/// and anything else (a kill, ...) as kind `Other`, both wrapping the
/// original error.
pub(crate) fn error_into_io(err: Error) -> io::Error {
    match err {
        Error::Io(arc) => match Arc::try_unwrap(arc) {
            Ok(e) => e,
            Err(arc) => io::Error::new(arc.kind(), Error::Io(arc)),
        },
        e @ Error::Timeout(_) => io::Error::new(io::ErrorKind::TimedOut, e),
        e => io::Error::other(e),
    }
}

/// Converts an [`io::Error`] returned by a green `Read`/`Write` impl back
/// into the zgreen [`Error`] it wraps (a timeout stays a timeout, a kill a
/// kill); any other I/O error becomes [`Error::Io`].
///
/// ```
/// use std::io::Read;
/// use std::time::Duration;
///
/// let (a, _b) = zgreen::net::UnixStream::pair().unwrap();
/// a.set_read_timeout(Some(Duration::from_millis(10)));
/// let err = (&a).read(&mut [0; 8]).unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
/// assert!(zgreen::net::io_error_into(err).is_timeout());
/// ```
pub fn io_error_into(err: io::Error) -> Error {
    if let Some(inner) = err.get_ref().and_then(|e| e.downcast_ref::<Error>()) {
        return inner.clone();
    }
    Error::from(err)
}
