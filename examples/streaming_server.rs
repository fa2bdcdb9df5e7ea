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
    let (address, threads) = hubs::arguments("127.0.0.1:8000")?;
    if threads > 1 {
        return hubs::serve_on_hubs(
            &address,
            threads,
            |a| format!("Serving on http://{a}/"),
            |l| HttpServer::from_listener(l, application)?.serve_forever(),
        );
    }
    let server = HttpServer::bind(address, application)?;
    println!("Serving on http://{}/", server.local_addr());
    server.serve_forever()
}
