//! The seed's `Websockets` example: every client of `/data` gets a JSON
//! point `{"x": x, "y": random 1-5}` every half second; `/` serves the
//! seed's HTML page (examples/static/websocket.html), which lists them as
//! they come. Open http://127.0.0.1:10000/ in a browser.
//!
//! An address given as the first argument replaces `127.0.0.1:10000`.

#[path = "common/hubs.rs"]
mod hubs;

use std::time::Duration;

use zgreen::http::{HttpServer, Request, Response, Router, StaticDir, WebSocket, upgrade};

/// Send random data to the websocket.
fn web_socket_app(ws: WebSocket) {
    let mut x = 0;
    loop {
        let data = serde_json::json!({ "x": x, "y": fastrand::u64(1..=5) });
        if ws.send_text(data.to_string()).is_err() {
            return; // the browser went away
        }
        x += 1;
        if zgreen::sleep(Duration::from_millis(500)).is_err() {
            return;
        }
    }
}

/// The page, its script and the WebSocket endpoint.
fn router() -> Router {
    let page = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/static");
    Router::new()
        .get("/data", |req: &Request| upgrade(req, web_socket_app))
        .get("/", |_: &Request| Response::redirect("/static/websocket.html"))
        .get("/static/*path", StaticDir::new(page))
}

fn main() -> zgreen::Result<()> {
    hubs::run("127.0.0.1:10000", "Serving on http://{}/", server_on)
}

/// The server of one hub (with `--threads N`): the page and the WebSocket endpoint.
fn server_on(listener: zgreen::net::TcpListener) -> zgreen::Result<HttpServer> {
    HttpServer::from_listener(listener, router())
}
