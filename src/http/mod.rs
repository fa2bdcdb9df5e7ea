//! Green HTTP/1.1: a server with a router, request-scoped state, streamed
//! (chunked) responses, static files and WebSocket upgrades, plus a small
//! client. gevent's `pywsgi` and `gevent-websocket`, in Rust.
//!
//! Every connection is served by one greenlet (on a
//! [`StreamServer`](crate::net::StreamServer)), so a handler is plain
//! blocking code: it may sleep, wait on a [`Queue`](crate::queue::Queue),
//! call a ZeroMQ socket or another HTTP server, and only its own
//! connection waits.
//!
//! # Examples
//!
//! ```
//! use zgreen::http::{Client, HttpServer, Request, Response, Router};
//!
//! let router = Router::new()
//!     .get("/hello/:name", |req: &Request| Response::text(format!("Hello {}", req.param("name").unwrap())));
//! let server = HttpServer::bind("127.0.0.1:0", router).unwrap();
//! server.start().unwrap();
//!
//! let url = format!("http://{}/hello/world", server.local_addr());
//! let reply = Client::new().get(&url).unwrap();
//! assert_eq!((reply.status(), reply.text().unwrap()), (200, "Hello world"));
//! server.stop(std::time::Duration::from_secs(1)).unwrap();
//! ```
//!
//! # What the server enforces
//!
//! Each request head must arrive within [`Limits::header_timeout`] and
//! fit in [`Limits::max_header_bytes`] and [`Limits::max_headers`]
//! (`431` otherwise, `414` if the request line alone is too long), its
//! body within [`Limits::body_timeout`] and [`Limits::max_body_bytes`]
//! (`413`). A malformed request line, header,
//! `Content-Length` or chunk is answered `400`, an unknown method `501`,
//! a known method that no route accepts `405`, a head that arrived too
//! slowly `408`. Each of these closes the connection; none of them
//! affects other connections. An idle keep-alive connection is closed
//! after [`Limits::keep_alive_timeout`], and a client that does not read
//! its response is dropped after [`Limits::write_timeout`].
//!
//! Requests are handled one at a time per connection, in order, so
//! pipelined requests get their responses in order.

mod client;
mod date;
mod local;
mod request;
mod response;
mod router;
mod server;
mod static_files;
mod url;
mod wire;
mod ws;

pub use self::client::{Client, ClientResponse, get};
pub use self::local::{RequestScope, request};
pub use self::request::Request;
pub use self::response::{Response, reason_phrase};
pub use self::router::Router;
pub use self::server::{Handler, HttpServer, Limits};
pub use self::static_files::StaticDir;
pub use self::url::{form_decode, percent_decode};
pub use self::ws::{Message, PreparedMessage, WebSocket, WsConfig, WsStats, upgrade, upgrade_with};

/// The methods the server knows (RFC 9110 plus `PATCH`). A request with
/// any other method is answered `501 Not Implemented`.
pub const KNOWN_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT",
];
