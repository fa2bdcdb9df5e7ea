//! [`Listener`]: a green listening socket of either socket family (the
//! type behind [`TcpListener`](super::TcpListener) and
//! [`UnixListener`](super::UnixListener)).

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::{Duration, Instant};

use super::evented::{Dir, Evented};
use super::socket::Family;
use super::stream::Stream;
use crate::error::Result;
use crate::hub::Deadline;

/// A listening socket whose `accept` parks the calling greenlet; use it
/// as [`TcpListener`](super::TcpListener) or
/// [`UnixListener`](super::UnixListener) (binding is on the family's own
/// `impl`). A Unix listener's socket file is not removed on drop (as with
/// the standard library).
pub struct Listener<F: Family> {
    io: Evented<F::Listener>,
}

impl<F: Family> Listener<F> {
    /// Registers a bound nonblocking listener and gives it an accept queue
    /// of [`DEFAULT_BACKLOG`](super::DEFAULT_BACKLOG).
    pub(crate) fn from_mio(listener: F::Listener) -> Result<Listener<F>> {
        let l = Listener {
            io: Evented::new(listener, mio::Interest::READABLE)?,
        };
        l.set_backlog(super::DEFAULT_BACKLOG)?;
        Ok(l)
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<F::Addr> {
        Ok(F::listener_addr(self.io.get_ref())?)
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
    pub fn accept(&self) -> Result<(Stream<F>, F::Addr)> {
        self.accept_until(None)
    }

    /// [`accept`](Self::accept), failing with `Error::Timeout` after
    /// `timeout`.
    pub fn accept_timeout(&self, timeout: Duration) -> Result<(Stream<F>, F::Addr)> {
        self.accept_until(Some(Deadline::after(timeout)))
    }

    /// [`accept`](Self::accept), failing with `Error::Timeout` at
    /// `deadline`.
    pub fn accept_deadline(&self, deadline: Instant) -> Result<(Stream<F>, F::Addr)> {
        self.accept_until(Some(Deadline::at(deadline)))
    }

    fn accept_until(&self, deadline: Option<Deadline>) -> Result<(Stream<F>, F::Addr)> {
        let (s, addr) = self.io.io_op(Dir::Read, deadline, |l| F::accept(l))?;
        Ok((Stream::from_mio(s)?, addr))
    }

    /// An endless iterator of accepted connections.
    pub fn incoming(&self) -> Incoming<'_, F> {
        Incoming { listener: self }
    }
}

impl<F: Family> AsRawFd for Listener<F> {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

impl<F: Family> AsFd for Listener<F> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

impl<F: Family> fmt::Debug for Listener<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(F::LISTENER)
            .field("local", &self.local_addr().ok())
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

/// The iterator of [`Listener::incoming`]: each item is one `accept`.
#[derive(Debug)]
pub struct Incoming<'a, F: Family> {
    listener: &'a Listener<F>,
}

impl<F: Family> Iterator for Incoming<'_, F> {
    type Item = Result<Stream<F>>;

    fn next(&mut self) -> Option<Result<Stream<F>>> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}
