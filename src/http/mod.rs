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
//! A malformed request line, header, `Content-Length` or chunk is
//! answered `400`, an unknown method `501`, a known method that no route
//! accepts `405`. Each refusal closes that connection only.
//!
//! ## Limits
//!
//! Every limit, its default, where it is set, and what a client sees
//! when it is hit ([`Limits`] for HTTP, [`WsConfig`] for WebSockets, set
//! per server with [`HttpServer::limits`] and per route with
//! [`upgrade_with`]):
//!
//! | Limit | Default | Set with | Beyond it |
//! |---|---|---|---|
//! | request head size | 16 KiB | [`Limits::max_header_bytes`] | `431` (`414` if the request line alone is longer), closed |
//! | header fields | 64 | [`Limits::max_headers`] | `431`, closed |
//! | time for the first request's whole head, from the accept; for a later request's head, from its first byte | 10 s | [`Limits::header_timeout`] | closed (`408` once a head has started) |
//! | request body size (after chunked decoding) | 1 MiB | [`Limits::max_body_bytes`] | `413`, closed |
//! | request bodies in memory, server-wide (bytes received, never bytes declared) | 64 MiB | [`Limits::max_body_bytes_in_flight`] | `503`, closed |
//! | chunk-size lines (sizes and extensions) of one body | 64 KiB in all, 4 KiB each | fixed | `413` / `400`, closed |
//! | time for a whole body | 30 s | [`Limits::body_timeout`] | `408`, closed |
//! | idle keep-alive connection; a streamed body's silence after the client's end of file | 15 s | [`Limits::keep_alive_timeout`] | closed |
//! | each response write | 30 s | [`Limits::write_timeout`] | the client is dropped |
//! | connections at once | unlimited | [`HttpServer::max_connections`] | later ones wait in the listen backlog; while one waits, the connection that has waited longest for a request's first byte (idle keep-alive, or silent since its accept) is closed to make room |
//! | connections from one client address | unlimited | [`Limits::max_connections_per_ip`] | `503`, closed |
//! | `Host` value | RFC 9112 §3.2 syntax; exactly one in HTTP/1.1 | fixed | `400`, closed |
//! | HTTP version | `1.0`, `1.1`; `1.x` above is served as `1.1` | fixed | `505`, closed |
//! | WebSocket message from the client | 1 MiB | [`WsConfig::max_message_bytes`] | close code 1009 |
//! | WebSocket messages waiting for [`WebSocket::recv`] | 64 messages, 1 MiB | [`WsConfig::recv_queue_messages`], [`WsConfig::recv_queue_bytes`] | the socket is not read (backpressure); nothing taken for `idle_timeout`: close code 1008 |
//! | WebSocket frames waiting to be sent | 256 messages, 4 MiB | [`WsConfig::send_queue_messages`], [`WsConfig::send_queue_bytes`] | `send` waits [`WsConfig::send_timeout`] (5 s), then the client is disconnected |
//! | pings from the client | 1000 a second (a burst's pongs are coalesced: the latest ping is answered) | [`WsConfig::max_pings_per_second`] | close code 1008 |
//! | WebSocket silence (no frame, no pong) | 60 s, pinged after 20 s | [`WsConfig::idle_timeout`], [`WsConfig::ping_interval`] | closed |
//! | WebSocket protocol errors | RFC 6455 | fixed | close code 1002 (protocol), 1007 (text not UTF-8), 1009 (too big), then closed |
//!
//! A streamed (chunked) response that is cut short (its producer failed)
//! ends with a TCP reset rather than a clean close: an HTTP/1.1 client
//! also sees the missing last chunk, and an HTTP/1.0 client, whose body
//! ends with the connection, sees an error instead of a body that looks
//! complete. A client that shuts down its write half after its request
//! still gets the whole response.
//!
//! Requests are handled one at a time per connection, in order, so
//! pipelined requests get their responses in order.

mod client;
mod date;
#[doc(hidden)]
pub mod fuzz;
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
