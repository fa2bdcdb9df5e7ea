//! The seed's `WSGI Servers` example: an application that answers every
//! request with `<p>Hello World</p>` (gevent's `WSGIServer(('', 8000),
//! application).serve_forever()`).
//!
//! An address given as the first argument replaces `127.0.0.1:8000`
//! (port 0 picks a free one). SIGTERM or SIGINT stops the server.
//!
//! `--threads N` serves the same address from N hubs on N threads (one
//! `SO_REUSEPORT` listener each, see `zgreen::net::serve_each`).

#[path = "common/hubs.rs"]
mod hubs;

use std::time::Duration;

use zgreen::http::{HttpServer, Request, Response};

fn application(_request: &Request) -> Response {
    let body = "<p>Hello World</p>";

    Response::new(200)
        .with_header("Content-Type", "text/html")
        .with_body(body)
}

fn main() -> zgreen::Result<()> {
    let Some(address) = hubs::many_hubs("127.0.0.1:8000", "Serving on http://{}/", server_on)? else {
        return Ok(());
    };
    let server = HttpServer::bind(address, application)?;
    println!("Serving on http://{}/", server.local_addr());

    server.stop_on_signals(&[libc::SIGTERM, libc::SIGINT], Duration::from_secs(1))?;
    server.serve_forever()
}

/// The server of one hub (with `--threads N`): the seed's application.
fn server_on(listener: zgreen::net::TcpListener) -> zgreen::Result<HttpServer> {
    HttpServer::from_listener(listener, application)
}
