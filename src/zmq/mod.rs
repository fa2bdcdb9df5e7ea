//! Green ZeroMQ: sockets whose `ZMQ_FD` is driven by the hub.
//!
//! Every libzmq socket type works (`zmq::REQ`, `REP`, `DEALER`, `ROUTER`,
//! `PUB`, `SUB`, `XPUB`, `XSUB`, `PUSH`, `PULL`, `PAIR`, `STREAM`). A
//! blocking `send`/`recv` parks the calling greenlet; `EAGAIN` never
//! reaches the caller unless it asked for `zmq::DONTWAIT`.
//!
//! ```
//! use zgreen::zmq::Context;
//!
//! let ctx = Context::new();
//! let server = ctx.socket(zmq::REP).unwrap();
//! server.bind("tcp://127.0.0.1:*").unwrap();
//! let endpoint = server.last_endpoint().unwrap();
//! let srv = zgreen::spawn(move || -> zgreen::Result<()> {
//!     let req = server.recv_bytes(0)?;
//!     server.send([&req[..], b" back"].concat(), 0)
//! });
//! let client = ctx.socket(zmq::REQ).unwrap();
//! client.connect(&endpoint).unwrap();
//! client.send("hello", 0).unwrap();
//! assert_eq!(client.recv_bytes(0).unwrap(), b"hello back");
//! srv.get().unwrap().unwrap();
//! ```

pub mod auth;
mod context;
#[cfg(feature = "draft")]
pub mod draft;
mod endpoints;
mod ffi;
pub mod handshake;
pub mod keys;
mod monitor;
#[cfg(feature = "native")]
pub mod native;
mod poller;
mod proxy;
mod socket;

pub use self::context::Context;
pub use self::monitor::{Monitor, MonitorEvent};
pub use self::poller::Poller;
pub use self::proxy::{ProxyStats, proxy, proxy_steerable};
pub use self::socket::{DEFAULT_LINGER_MS, Readable, Socket, Writable, backstop_rescues, set_fairness_ops};
