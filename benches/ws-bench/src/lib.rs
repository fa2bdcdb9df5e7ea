//! Issue 7's benchmark: WebSocket broadcast, messages per second
//! delivered to 1000 connected clients.
//!
//! * [`server`]: what a zgreen user would write: an `HttpServer` with a
//!   `/ws` route, a registry of connected WebSockets, and a broadcaster
//!   greenlet started by a `go` message from a client.
//! * [`clients`]: the load: 1000 greenlets, each a `tungstenite` client
//!   over a green `TcpStream`, that check every message and time the
//!   broadcast.
//! * [`driver`]: `ws-bench run`: fresh server process per run, the clients
//!   in another process, a markdown table of the runs and their medians.
//! * [`peer`]: the same server with tokio-tungstenite on a current-thread
//!   tokio runtime, for a side-by-side figure (`run --server peer`).
//! * [`protocol`]: the control messages and the message format.
//!
//! The server reports its CPU time for a broadcast in a final text
//! message to every client (`stats <json>`), so the clients' JSON line
//! carries both processes' figures.
#![deny(missing_docs, missing_debug_implementations, rust_2018_idioms)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod clients;
pub mod driver;
pub mod peer;
pub mod protocol;
pub mod server;
pub mod sys;
