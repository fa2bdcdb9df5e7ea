//! Entry points for fuzzing the server (the `fuzz/` targets) and for
//! replaying their corpora as ordinary tests. Not a public API: hidden
//! from the docs, and free to change.

use std::io::Read;
use std::net::Shutdown;
use std::time::Duration;

use super::{Limits, Request, Response, Router, WebSocket, server};
use crate::net::{TcpListener, TcpStream};

/// The WebSocket handshake [`serve_websocket_bytes`] sends first.
pub const WEBSOCKET_HANDSHAKE: &[u8] = b"GET /ws HTTP/1.1\r\nHost: fuzz\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

/// Limits small enough that a fuzz input reaches each of them quickly.
fn limits() -> Limits {
    Limits {
        max_header_bytes: 4096,
        max_headers: 16,
        max_body_bytes: 64 * 1024,
        max_body_bytes_in_flight: 128 * 1024,
        header_timeout: Duration::from_secs(2),
        body_timeout: Duration::from_secs(2),
        keep_alive_timeout: Duration::from_secs(2),
        write_timeout: Duration::from_secs(2),
        max_connections_per_ip: None,
    }
}

fn app() -> Router {
    Router::new()
        .get("/", |_: &Request| Response::text("hello"))
        .post("/echo", |req: &Request| {
            Response::bytes("application/octet-stream", req.body())
        })
        .get("/stream", |_: &Request| {
            Response::stream("text/plain", [b"a".to_vec(), b"b".to_vec()])
        })
        .get("/ws", |req: &Request| {
            super::upgrade(req, |ws: WebSocket| {
                while let Ok(msg) = ws.recv() {
                    if ws.send(msg).is_err() {
                        break;
                    }
                }
            })
        })
}

/// Sends `input` to a fresh server connection (over loopback TCP, the
/// client's write half shut down after it), serves it in a greenlet with
/// small limits, and returns everything the server sent. Panics if the
/// server's code panicked (a handler's panic is answered `500`, as
/// usual): that is the bug a fuzzer looks for.
pub fn serve_bytes(input: &[u8]) -> Vec<u8> {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback listener");
    let addr = listener.local_addr().expect("its address");
    let input = input.to_vec();
    let client = crate::spawn(move || -> crate::Result<Vec<u8>> {
        let stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)));
        // The server may stop reading (and close) before taking it all.
        let _ = stream.send_all(&input);
        let _ = stream.shutdown(Shutdown::Write);
        let mut out = Vec::new();
        let _ = (&stream).read_to_end(&mut out);
        Ok(out)
    });
    let (conn, _) = listener.accept().expect("the client's connection");
    let served = crate::spawn(move || server::serve_one(conn, app(), limits()));
    // The connection's own outcome (a closed peer, ...) is not a bug; the
    // greenlet failing (a panic) is.
    if let Err(e) = served.get() {
        panic!("the HTTP server failed on a fuzz input: {e}");
    }
    client.get().expect("the client greenlet").unwrap_or_default()
}

/// [`serve_bytes`] of [`WEBSOCKET_HANDSHAKE`] followed by `frames`: the
/// bytes a client sends on an upgraded connection.
pub fn serve_websocket_bytes(frames: &[u8]) -> Vec<u8> {
    let mut input = WEBSOCKET_HANDSHAKE.to_vec();
    input.extend_from_slice(frames);
    serve_bytes(&input)
}
