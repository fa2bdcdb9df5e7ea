//! Issue 7's Rust peer for the hello-world HTTP benchmark: hyper 1 on a
//! current-thread tokio runtime (one thread, like a zgreen hub), giving
//! the same response as `examples/wsgi_server.rs`:
//! `200 OK`, `Content-Type: text/html`, body `<p>Hello World</p>`.
//!
//! Usage: `hyper_hello [ADDR] [--threads N]` (default `127.0.0.1:8001`).
//! Without `--threads` it runs on a current-thread runtime; with it, on
//! tokio's multi-thread runtime with N workers (issue 17's peer for the
//! many-hub zgreen server). It prints `Serving on http://ADDR/` once bound
//! and runs until killed.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// The application: the seed's WSGI hello world.
async fn application(_request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = Bytes::from_static(b"<p>Hello World</p>");
    Ok(Response::builder()
        .status(200)
        .header("Content-Type", "text/html")
        .body(Full::new(body))
        .expect("a static response is well formed"))
}

fn main() -> std::io::Result<()> {
    let invalid = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
    let mut addr = "127.0.0.1:8001".to_string();
    let mut threads = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--threads" {
            let n = args
                .next()
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|n| *n > 0);
            threads = Some(n.ok_or_else(|| invalid("--threads needs a number above 0".into()))?);
        } else {
            addr = a;
        }
    }
    let addr: SocketAddr = addr.parse().map_err(|e| invalid(format!("{e}")))?;
    let runtime = match threads {
        None => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        Some(n) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build()?,
    };
    runtime.block_on(async move {
        let listener = TcpListener::bind(addr).await?;
        println!("Serving on http://{}/", listener.local_addr()?);
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            tokio::task::spawn(async move {
                let served = http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service_fn(application))
                    .await;
                if let Err(e) = served {
                    eprintln!("hyper_hello: connection error: {e}");
                }
            });
        }
    })
}
