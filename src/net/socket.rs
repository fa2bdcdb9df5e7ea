//! What the TCP and Unix socket types share besides the byte-stream API
//! of `green_stream!` (in `evented.rs`): finishing a nonblocking connect,
//! the streams' address accessors, `Debug`, and the whole listener API.

use std::io;

use super::evented::Evented;
use crate::error::Result;
use crate::hub::Deadline;

impl<S: mio::event::Source> Evented<S> {
    /// Parks until the nonblocking connect of the source has finished:
    /// `Ok` once it has a peer, else the connect's error. `take_error`
    /// and `peer_addr` are the socket type's own methods.
    pub(crate) fn wait_connected<A>(
        &self,
        deadline: Option<Deadline>,
        take_error: impl Fn(&S) -> io::Result<Option<io::Error>>,
        peer_addr: impl Fn(&S) -> io::Result<A>,
    ) -> Result<()> {
        loop {
            // The socket becomes writable once the connect has finished
            // (for TCP, the handshake), successfully or not.
            self.wait_writable(deadline)?;
            if let Some(e) = take_error(self.get_ref())? {
                return Err(e.into());
            }
            match peer_addr(self.get_ref()) {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => self.clear_writable(),
                Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => self.clear_writable(),
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// `Debug` for a socket type: each named address (`None` where asking for
/// it fails), then the fd: `socket_debug!(T, local: local_addr)`.
macro_rules! socket_debug {
    ($ty:ident, $($field:ident: $addr:ident),+) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($field), &self.$addr().ok()))+
                    .field("fd", &std::os::fd::AsRawFd::as_raw_fd(self))
                    .finish()
            }
        }
    };
}

/// What `TcpStream` and `UnixStream` share besides `green_stream!`:
/// `stream_socket!(Stream, Addr)` writes `local_addr` and `peer_addr`
/// (returning `Addr`), `take_error` and `Debug`. The stream has a field
/// `io: Evented<S>` whose `S` has those three methods.
macro_rules! stream_socket {
    ($ty:ident, $addr:ty) => {
        $crate::net::socket::socket_debug!($ty, local: local_addr, peer: peer_addr);

        impl $ty {
            /// The local address.
            pub fn local_addr(&self) -> $crate::Result<$addr> {
                Ok(self.io.get_ref().local_addr()?)
            }

            /// The remote address.
            pub fn peer_addr(&self) -> $crate::Result<$addr> {
                Ok(self.io.get_ref().peer_addr()?)
            }

            /// The pending socket error (`SO_ERROR`), clearing it.
            pub fn take_error(&self) -> $crate::Result<Option<std::io::Error>> {
                Ok(self.io.get_ref().take_error()?)
            }
        }
    };
}

/// The listener API shared by `TcpListener` and `UnixListener`:
/// `green_listener!(Listener(MioListener) accepts Stream from Addr)`
/// writes `Debug`, `from_mio` (registers the `mio` listener and gives it
/// an accept queue of `DEFAULT_BACKLOG`), `local_addr`, `accept`,
/// `accept_timeout` and `AsRawFd`/`AsFd`. The listener has a field
/// `io: Evented<MioListener>` and a `set_backlog` method; the stream has a
/// `from_mio`.
macro_rules! green_listener {
    ($ty:ident($mio:ty) accepts $stream:ident from $addr:ty) => {
        $crate::net::socket::socket_debug!($ty, local: local_addr);

        impl $ty {
            fn from_mio(l: $mio) -> $crate::Result<$ty> {
                let l = $ty {
                    io: $crate::net::evented::Evented::new(l, ::mio::Interest::READABLE)?,
                };
                l.set_backlog($crate::net::DEFAULT_BACKLOG)?;
                Ok(l)
            }

            /// The bound address.
            pub fn local_addr(&self) -> $crate::Result<$addr> {
                Ok(self.io.get_ref().local_addr()?)
            }

            /// Waits for a connection.
            pub fn accept(&self) -> $crate::Result<($stream, $addr)> {
                self.accept_deadline(None)
            }

            /// [`accept`](Self::accept), failing with `Error::Timeout` after
            /// `timeout`.
            pub fn accept_timeout(&self, timeout: std::time::Duration) -> $crate::Result<($stream, $addr)> {
                self.accept_deadline(Some($crate::hub::Deadline::after(timeout)))
            }

            fn accept_deadline(
                &self,
                deadline: Option<$crate::hub::Deadline>,
            ) -> $crate::Result<($stream, $addr)> {
                let (s, addr) = self.io.read_op(deadline, |l| l.accept())?;
                Ok(($stream::from_mio(s)?, addr))
            }
        }

        impl std::os::fd::AsRawFd for $ty {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                std::os::fd::AsRawFd::as_raw_fd(self.io.get_ref())
            }
        }

        impl std::os::fd::AsFd for $ty {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                std::os::fd::AsFd::as_fd(self.io.get_ref())
            }
        }
    };
}

pub(crate) use {green_listener, socket_debug, stream_socket};
