//! The seed's `Streaming Servers` example: the application yields its
//! body piece by piece, and each piece goes to the client as one chunk
//! (`Transfer-Encoding: chunked`) as soon as it is produced. Here the two
//! pieces are half a second apart, so the client sees `<p>Hello` arrive
//! well before `World</p>` exists.
//!
//! An address given as the first argument replaces `127.0.0.1:8000`.

#[path = "common/hubs.rs"]
mod hubs;

use std::time::Duration;

use zgreen::http::{HttpServer, Request, Response};

fn application(_request: &Request) -> Response {
    let pieces = ["<p>Hello", "World</p>"];
    let body = pieces.into_iter().enumerate().map(|(i, piece)| {
        if i > 0 {
            // Blocking here parks only this connection's greenlet.
            zgreen::sleep(Duration::from_millis(500)).unwrap();
        }
        println!("yield {piece}");
        piece.as_bytes().to_vec()
    });
    Response::stream("text/html", body)
}

fn main() -> zgreen::Result<()> {
    hubs::run("127.0.0.1:8000", "Serving on http://{}/", server_on)
}

/// The server of one hub (with `--threads N`): the streaming application.
fn server_on(listener: zgreen::net::TcpListener) -> zgreen::Result<HttpServer> {
    HttpServer::from_listener(listener, application)
}
