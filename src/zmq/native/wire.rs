//! The byte stream under one ZMTP connection, and the endpoints that make
//! one: green `tcp://` and `ipc://` streams and listeners.

use std::io::{self, IoSlice};
use std::net::{Shutdown, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::hub::Deadline;
use crate::net::{TcpListener, TcpStream, UnixListener, UnixStream};

/// A parsed `tcp://` or `ipc://` endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Endpoint {
    /// `tcp://host:port` (`*` for any host or any port when binding).
    Tcp { host: String, port: String },
    /// `ipc://path` (a Unix socket file).
    Ipc(PathBuf),
}

/// The error for an endpoint the native transport cannot use: libzmq's
/// `EPROTONOSUPPORT` for another transport (`inproc://`, `pgm://`, ...,
/// abstract `ipc://@name`), `EINVAL` for a malformed one.
fn unsupported() -> Error {
    Error::Zmq(zmq::Error::EPROTONOSUPPORT)
}

fn invalid() -> Error {
    Error::Zmq(zmq::Error::EINVAL)
}

impl Endpoint {
    /// Parses `tcp://host:port` or `ipc://path`.
    pub(super) fn parse(endpoint: &str) -> Result<Endpoint> {
        if let Some(rest) = endpoint.strip_prefix("tcp://") {
            let (host, port) = rest.rsplit_once(':').ok_or_else(invalid)?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            if host.is_empty() || port.is_empty() {
                return Err(invalid());
            }
            Ok(Endpoint::Tcp {
                host: host.to_string(),
                port: port.to_string(),
            })
        } else if let Some(path) = endpoint.strip_prefix("ipc://") {
            if path.is_empty() || path.starts_with('@') || path == "*" {
                return Err(unsupported());
            }
            Ok(Endpoint::Ipc(PathBuf::from(path)))
        } else if endpoint.contains("://") {
            Err(unsupported())
        } else {
            Err(invalid())
        }
    }

    /// The addresses of `host:port`; names are resolved on the thread pool
    /// ([`lookup_host`](crate::net::lookup_host)), so the hub never blocks.
    fn tcp_addrs(host: &str, port: &str, binding: bool) -> Result<Vec<SocketAddr>> {
        let host = if binding && host == "*" { "0.0.0.0" } else { host };
        let port: u16 = match port {
            "*" if binding => 0,
            p => p.parse().map_err(|_| invalid())?,
        };
        crate::net::lookup_host(host, port)
    }

    /// Binds a green listener; returns it with the endpoint it is
    /// reachable at (the port chosen for `*`).
    pub(super) fn bind(&self) -> Result<(Listener, String)> {
        match self {
            Endpoint::Tcp { host, port } => {
                let addrs = Endpoint::tcp_addrs(host, port, true)?;
                let listener = TcpListener::bind(&addrs[..])?;
                let local = listener.local_addr()?;
                Ok((Listener::Tcp(listener), format!("tcp://{local}")))
            }
            Endpoint::Ipc(path) => {
                let listener = UnixListener::bind(path)?;
                Ok((
                    Listener::Ipc(listener, path.clone()),
                    format!("ipc://{}", path.display()),
                ))
            }
        }
    }

    /// Connects (parking the calling greenlet) within `timeout`.
    pub(super) fn connect(&self, timeout: Duration) -> Result<Wire> {
        match self {
            Endpoint::Tcp { host, port } => {
                let addrs = Endpoint::tcp_addrs(host, port, false)?;
                let stream = TcpStream::connect_timeout(&addrs[..], timeout)?;
                stream.set_nodelay(true)?;
                Ok(Wire::Tcp(stream))
            }
            Endpoint::Ipc(path) => Ok(Wire::Ipc(UnixStream::connect_timeout(path, timeout)?)),
        }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Tcp { host, port } => write!(f, "{host}:{port}"),
            Endpoint::Ipc(path) => write!(f, "{}", path.display()),
        }
    }
}

/// A bound green listener.
pub(super) enum Listener {
    /// A TCP listener.
    Tcp(TcpListener),
    /// A Unix listener and its socket file (removed when the native socket
    /// closes, as libzmq does).
    Ipc(UnixListener, PathBuf),
}

impl Listener {
    /// Accepts one connection (parks until there is one).
    pub(super) fn accept(&self) -> Result<(Wire, String)> {
        match self {
            Listener::Tcp(l) => {
                let (s, addr) = l.accept()?;
                s.set_nodelay(true)?;
                Ok((Wire::Tcp(s), addr.to_string()))
            }
            Listener::Ipc(l, path) => {
                let (s, _) = l.accept()?;
                Ok((Wire::Ipc(s), path.display().to_string()))
            }
        }
    }
}

/// One connected green stream of either family.
pub(super) enum Wire {
    /// A TCP stream (`TCP_NODELAY` set, as libzmq does).
    Tcp(TcpStream),
    /// A Unix stream.
    Ipc(UnixStream),
}

macro_rules! on_wire {
    ($self:expr, $s:ident => $e:expr) => {
        match $self {
            Wire::Tcp($s) => $e,
            Wire::Ipc($s) => $e,
        }
    };
}

impl Wire {
    /// Reads some bytes, parking until there are some or `deadline`
    /// passes; `Ok(0)` is end of file.
    pub(super) fn recv_deadline(&self, buf: &mut [u8], deadline: Option<Deadline>) -> Result<usize> {
        on_wire!(self, s => s.recv_deadline(buf, deadline))
    }

    /// One gather write, parking until there is room or `deadline` passes.
    pub(super) fn send_vectored_deadline(
        &self,
        bufs: &[IoSlice<'_>],
        deadline: Option<Deadline>,
    ) -> Result<usize> {
        on_wire!(self, s => s.send_vectored_deadline(bufs, deadline))
    }

    /// One gather write that never parks (`Ok(0)` when the buffer is full).
    pub(super) fn try_send_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        on_wire!(self, s => s.try_send_vectored(bufs))
    }

    /// Shuts both directions down: the peer reads end of file, and a
    /// greenlet parked on this stream wakes.
    pub(super) fn shutdown(&self) {
        let _ = on_wire!(self, s => s.shutdown(Shutdown::Both));
    }
}
