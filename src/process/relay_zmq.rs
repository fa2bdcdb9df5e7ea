//! The relay over ZeroMQ: a `PAIR` socket on an `ipc://` (or any other)
//! endpoint, for relays between processes that did not start one another.
//!
//! Each message is one ZeroMQ frame holding JSON, so libzmq does the
//! framing; `put`/`get` have the same meaning and errors as on
//! [`Relay`](super::relay::Relay).
//!
//! # Examples
//!
//! ```
//! use zgreen::process::relay_zmq::ZmqRelay;
//!
//! let endpoint = format!("ipc:///tmp/zgreen-doc-relay-{}.ipc", std::process::id());
//! let a = ZmqRelay::bind(&endpoint).unwrap();
//! let b = ZmqRelay::connect(&endpoint).unwrap();
//! a.put(&("hello", 1)).unwrap();
//! assert_eq!(b.get::<(String, u32)>().unwrap(), ("hello".to_string(), 1));
//! # let _ = std::fs::remove_file(endpoint.trim_start_matches("ipc://"));
//! ```
//!
//! # Peer loss
//!
//! A `PAIR` socket does not report that its peer went away (libzmq
//! reconnects silently), so a `get` from a vanished peer waits: use
//! [`get_timeout`](ZmqRelay::get_timeout), or a heartbeat message, where
//! the other process may die.

use std::cell::Cell;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::relay::{DEFAULT_MAX_MESSAGE_BYTES, RelayError};
use crate::error::{Error, Result};
use crate::zmq::{Context, Socket};

/// One end of a relay over a ZeroMQ `PAIR` socket.
pub struct ZmqRelay {
    socket: Socket,
    max_bytes: Cell<usize>,
}

impl fmt::Debug for ZmqRelay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZmqRelay")
            .field("endpoint", &self.socket.last_endpoint().ok())
            .field("max_bytes", &self.max_bytes.get())
            .finish()
    }
}

fn relay_error(e: RelayError) -> Error {
    Error::Failed(Arc::new(e))
}

impl ZmqRelay {
    /// Binds a relay end to `endpoint` (e.g. `ipc:///tmp/name.ipc`), with
    /// the process-wide context.
    pub fn bind(endpoint: &str) -> Result<ZmqRelay> {
        ZmqRelay::bind_in(&Context::instance(), endpoint)
    }

    /// Connects a relay end to `endpoint`, with the process-wide context.
    /// The peer may bind later: messages wait until it does.
    pub fn connect(endpoint: &str) -> Result<ZmqRelay> {
        ZmqRelay::connect_in(&Context::instance(), endpoint)
    }

    /// [`bind`](Self::bind) with a given context.
    pub fn bind_in(ctx: &Context, endpoint: &str) -> Result<ZmqRelay> {
        let socket = ctx.socket(zmq::PAIR)?;
        socket.bind(endpoint)?;
        ZmqRelay::from_socket(socket)
    }

    /// [`connect`](Self::connect) with a given context.
    pub fn connect_in(ctx: &Context, endpoint: &str) -> Result<ZmqRelay> {
        let socket = ctx.socket(zmq::PAIR)?;
        socket.connect(endpoint)?;
        ZmqRelay::from_socket(socket)
    }

    /// A relay end over a bound or connected green `PAIR` socket.
    pub fn from_socket(socket: Socket) -> Result<ZmqRelay> {
        let r = ZmqRelay {
            socket,
            max_bytes: Cell::new(DEFAULT_MAX_MESSAGE_BYTES),
        };
        r.set_max_message_bytes(DEFAULT_MAX_MESSAGE_BYTES)?;
        Ok(r)
    }

    /// The socket (for options such as linger or the monitor).
    pub fn socket(&self) -> &Socket {
        &self.socket
    }

    /// The largest message accepted, in bytes of JSON.
    pub fn max_message_bytes(&self) -> usize {
        self.max_bytes.get()
    }

    /// Changes the largest message accepted. It is also set as the
    /// socket's `ZMQ_MAXMSGSIZE`, so libzmq drops (and reconnects) a peer
    /// that sends a larger one before it is ever buffered here.
    pub fn set_max_message_bytes(&self, max: usize) -> Result<()> {
        self.socket
            .set_maxmsgsize(i64::try_from(max).unwrap_or(i64::MAX))?;
        self.max_bytes.set(max);
        Ok(())
    }

    /// Sends `msg` as one frame, parking while the socket's queue is full.
    /// Fails with [`RelayError::Oversized`] (nothing sent) above the
    /// maximum.
    pub fn put<T: Serialize + ?Sized>(&self, msg: &T) -> Result<()> {
        let json = self.encode(msg)?;
        self.socket.send(json, 0)
    }

    /// [`put`](Self::put), failing with `Error::Timeout` after `timeout`.
    pub fn put_timeout<T: Serialize + ?Sized>(&self, msg: &T, timeout: Duration) -> Result<()> {
        let json = self.encode(msg)?;
        self.socket.send_timeout(json, 0, timeout)
    }

    /// [`put`](Self::put), failing with `Error::Timeout` at `deadline`.
    pub fn put_deadline<T: Serialize + ?Sized>(&self, msg: &T, deadline: Instant) -> Result<()> {
        let json = self.encode(msg)?;
        self.socket.send_deadline(json, 0, deadline)
    }

    fn encode<T: Serialize + ?Sized>(&self, msg: &T) -> Result<Vec<u8>> {
        let json = serde_json::to_vec(msg).map_err(|e| {
            relay_error(RelayError::Serialize {
                detail: e.to_string(),
            })
        })?;
        self.check_size(json.len())?;
        Ok(json)
    }

    /// Receives the next message. A message that is not one frame of valid
    /// JSON for `T` is [`RelayError::Malformed`] (it is consumed, and the
    /// next `get` goes on with the next message).
    pub fn get<T: DeserializeOwned>(&self) -> Result<T> {
        let frames = self.socket.recv_multipart(0)?;
        self.decode(frames)
    }

    /// [`get`](Self::get), failing with `Error::Timeout` after `timeout`.
    pub fn get_timeout<T: DeserializeOwned>(&self, timeout: Duration) -> Result<T> {
        let frames = self.socket.recv_multipart_timeout(0, timeout)?;
        self.decode(frames)
    }

    /// [`get`](Self::get), failing with `Error::Timeout` at `deadline`.
    pub fn get_deadline<T: DeserializeOwned>(&self, deadline: Instant) -> Result<T> {
        let frames = self.socket.recv_multipart_deadline(0, deadline)?;
        self.decode(frames)
    }

    /// [`RelayError::Oversized`] if a message of `bytes` bytes exceeds the
    /// maximum.
    fn check_size(&self, bytes: usize) -> Result<()> {
        let max = self.max_bytes.get();
        if bytes > max {
            return Err(relay_error(RelayError::Oversized { bytes, max }));
        }
        Ok(())
    }

    fn decode<T: DeserializeOwned>(&self, frames: Vec<Vec<u8>>) -> Result<T> {
        let [frame] = <[Vec<u8>; 1]>::try_from(frames).map_err(|f| {
            relay_error(RelayError::Malformed {
                detail: format!("expected one frame, got {}", f.len()),
            })
        })?;
        self.check_size(frame.len())?;
        serde_json::from_slice(&frame).map_err(|e| {
            relay_error(RelayError::Malformed {
                detail: e.to_string(),
            })
        })
    }
}
