//! The seed's `Long Polling` example: a producer greenlet puts
//! `"Hello World"` on a queue every 250 ms (the seed: every second), and
//! the endpoint streams each datum as a JSON line as soon as it can take
//! it from the queue, waiting up to 5 s each time.
//!
//! An address given as the first argument replaces `127.0.0.1:8000`.

#[path = "common/hubs.rs"]
mod hubs;

use std::time::Duration;

use zgreen::http::{HttpServer, Request, Response};
use zgreen::queue::Queue;

fn producer(data_source: Queue<String>) -> zgreen::Result<()> {
    loop {
        let _ = data_source.try_put("Hello World".to_string());
        zgreen::sleep(Duration::from_millis(250))?;
    }
}

fn ajax_endpoint(data_source: &Queue<String>) -> Response {
    let data_source = data_source.clone();
    let lines = std::iter::from_fn(move || {
        loop {
            match data_source.get_timeout(Duration::from_secs(5)) {
                Ok(datum) => return Some(format!("{}\n", serde_json::json!(datum)).into_bytes()),
                Err(e) if e.is_timeout() => continue, // Empty: keep waiting
                Err(_) => return None,
            }
        }
    });
    Response::stream("application/json", lines)
}

/// The data source and its producer greenlet on this hub, and the server
/// that answers from it.
fn server_on(listener: zgreen::net::TcpListener) -> zgreen::Result<HttpServer> {
    let data_source = Queue::new();
    let queue = data_source.clone();
    zgreen::spawn(move || producer(queue));
    HttpServer::from_listener(listener, move |_: &Request| ajax_endpoint(&data_source))
}

fn main() -> zgreen::Result<()> {
    let Some(address) = hubs::many_hubs("127.0.0.1:8000", "Serving on http://{}/", server_on)? else {
        return Ok(());
    };
    let server = server_on(zgreen::net::TcpListener::bind(address)?)?;
    println!("Serving on http://{}/", server.local_addr());
    server.serve_forever()
}
