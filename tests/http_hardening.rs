//! The HTTP server against hostile or unusual clients: memory for request
//! bodies follows the bytes a client sends, never the bytes it declares,
//! and a server-wide budget ([`Limits::max_body_bytes_in_flight`]) sheds
//! body reads with `503` once it is spent; strict RFC 9112 / RFC 6455
//! checks (`Host` values, HTTP versions, chunk extensions,
//! `Sec-WebSocket-Key`).
#![cfg(feature = "http")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use zgreen::http::{HttpServer, Limits, Request, Response, Router};
use zgreen::sync::Event;
use zgreen_harness::rss_bytes;

mod common;
use common::serving_example;

const IO_TIMEOUT: Duration = Duration::from_secs(10);

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    s
}

/// A POST head declaring a body of `len` bytes.
fn post_head(path: &str, len: usize) -> String {
    format!("POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {len}\r\n\r\n")
}

/// The status code of the response `s` sends (reads up to its close or
/// the end of its head).
fn status_of(s: &mut TcpStream) -> u16 {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!(
                "reading the response: {e} (got {:?})",
                String::from_utf8_lossy(&got)
            ),
        }
    }
    let text = String::from_utf8_lossy(&got);
    text.strip_prefix("HTTP/1.1 ")
        .and_then(|t| t.get(..3))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"))
}

/// 300 connections that each declare a 1 MiB body and send one byte cost
/// the server (the `wsgi_server` example, in its own process) a few MiB,
/// not the 300 MiB they declare.
#[test]
fn declared_bodies_do_not_allocate() {
    let (server, addr) = serving_example("wsgi_server");
    let pid = server.id();
    // Warm up: the first requests allocate the server's steady state.
    for _ in 0..3 {
        let mut s = connect(addr);
        s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .unwrap();
        assert_eq!(status_of(&mut s), 200);
    }
    let before = rss_bytes(pid).expect("the server's RSS");
    let mut held = Vec::new();
    for _ in 0..300 {
        let mut s = connect(addr);
        s.write_all(post_head("/", 1 << 20).as_bytes()).unwrap();
        s.write_all(b"x").unwrap();
        held.push(s);
    }
    // Let the server accept them all and start every body read: a last
    // request on a fresh connection is answered only after the accept
    // loop has got past the 300 before it.
    let mut probe = connect(addr);
    probe
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert_eq!(status_of(&mut probe), 200);
    thread::sleep(Duration::from_millis(300));
    let grown = rss_bytes(pid).expect("the server's RSS").saturating_sub(before);
    eprintln!(
        "300 declared 1 MiB bodies: the server grew by {} KiB",
        grown >> 10
    );
    assert!(
        grown < 12 << 20,
        "300 bodies declaring 1 MiB and sending 1 byte grew the server by {} KiB",
        grown >> 10
    );
    drop(held);
}

/// A server with a body budget of 256 KiB, on its own thread; `/hold`
/// keeps its request (and so its body) until `/release` is called.
fn start_budget_server() -> SocketAddr {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let held = Event::new();
        let release = held.clone();
        let app = Router::new()
            .post("/hold", move |req: &Request| {
                held.wait_timeout(IO_TIMEOUT).unwrap();
                Response::text(format!("held {}", req.body().len()))
            })
            .post("/echo", |req: &Request| {
                Response::text(format!("got {}", req.body().len()))
            })
            .get("/release", move |_: &Request| {
                release.set();
                Response::text("released")
            })
            .get("/", |_: &Request| Response::text("hello"));
        let server = HttpServer::bind("127.0.0.1:0", app).unwrap().limits(Limits {
            max_body_bytes: 1 << 20,
            max_body_bytes_in_flight: 256 << 10,
            ..Limits::default()
        });
        server.start().unwrap();
        tx.send(server.local_addr()).unwrap();
        let _ = server.serve_forever();
    });
    rx.recv_timeout(IO_TIMEOUT).unwrap()
}

/// Sends a whole POST of `len` bytes to `path` and returns the status.
fn post(addr: SocketAddr, path: &str, len: usize) -> (TcpStream, u16) {
    let mut s = connect(addr);
    s.write_all(post_head(path, len).as_bytes()).unwrap();
    // The server may answer 503 and close before the whole body is sent.
    let _ = s.write_all(&vec![b'b'; len]);
    let status = status_of(&mut s);
    (s, status)
}

/// While a handled request holds 200 KiB of the 256 KiB budget, a body
/// read that would exceed it is answered 503; requests without a body, and
/// bodies that fit, are still served; once the held request is answered
/// its bytes are back and the large body fits again.
#[test]
fn body_budget_sheds_reads_with_503() {
    let addr = start_budget_server();
    let started = Instant::now();
    // Holds 200 KiB in a handler that waits.
    let mut holder = connect(addr);
    holder
        .write_all(post_head("/hold", 200 << 10).as_bytes())
        .unwrap();
    holder.write_all(&vec![b'h'; 200 << 10]).unwrap();
    // The holder's bytes are charged once its handler runs; wait for that
    // by retrying until the large body is refused.
    let mut refused = false;
    while started.elapsed() < IO_TIMEOUT {
        let (_s, status) = post(addr, "/echo", 100 << 10);
        if status == 503 {
            refused = true;
            break;
        }
        assert_eq!(status, 200, "a body that fits the budget is served");
        thread::sleep(Duration::from_millis(10));
    }
    assert!(
        refused,
        "a 100 KiB body over the 256 KiB budget was never refused"
    );
    // Small bodies and bodiless requests still fit.
    assert_eq!(post(addr, "/echo", 10 << 10).1, 200);
    let mut get = connect(addr);
    get.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert_eq!(status_of(&mut get), 200);
    // Releasing the holder gives its bytes back.
    let mut rel = connect(addr);
    rel.write_all(b"GET /release HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert_eq!(status_of(&mut rel), 200);
    assert_eq!(status_of(&mut holder), 200);
    assert_eq!(post(addr, "/echo", 100 << 10).1, 200);
}

/// A plain server on its own thread: `/` answers `hello`, `POST /echo` the
/// body's length, `/ws` upgrades to a WebSocket that closes at once.
fn start_plain_server() -> SocketAddr {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let app = Router::new()
            .get("/", |_: &Request| Response::text("hello"))
            .post("/echo", |req: &Request| {
                Response::text(format!("got {}", req.body().len()))
            })
            .get("/ws", |req: &Request| zgreen::http::upgrade(req, |_ws| {}))
            .get("/chunks", |_: &Request| {
                // Three chunks, 50 ms apart.
                let mut left = vec![b"c".to_vec(), b"b".to_vec(), b"a".to_vec()];
                Response::stream(
                    "text/plain",
                    std::iter::from_fn(move || {
                        zgreen::sleep(Duration::from_millis(50)).ok()?;
                        left.pop()
                    }),
                )
            })
            .get("/broken", |_: &Request| {
                // One chunk, then the producer fails.
                let failing = std::iter::from_fn(|| -> Option<Vec<u8>> { panic!("the producer failed") });
                Response::stream("text/plain", std::iter::once(b"partial".to_vec()).chain(failing))
            });
        let server = HttpServer::bind("127.0.0.1:0", app).unwrap();
        server.start().unwrap();
        tx.send(server.local_addr()).unwrap();
        let _ = server.serve_forever();
    });
    rx.recv_timeout(IO_TIMEOUT).unwrap()
}

/// Sends `request` on a new connection; returns the whole first line of
/// the response (its status line).
fn status_line(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = connect(addr);
    s.write_all(request).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.contains(&b'\n') {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!("reading the response: {e}"),
        }
    }
    let text = String::from_utf8_lossy(&got);
    text.lines().next().unwrap_or_default().to_string()
}

const OK: &str = "HTTP/1.1 200 OK";
const BAD_REQUEST: &str = "HTTP/1.1 400 Bad Request";

/// For each of `cases` (a value and the status line it must get), sends
/// `request(value)` on a new connection and checks the status line; a
/// failure names the value.
#[track_caller]
fn assert_status_lines(addr: SocketAddr, request: impl Fn(&str) -> String, cases: &[(&str, &str)]) {
    for &(value, want) in cases {
        assert_eq!(status_line(addr, request(value).as_bytes()), want, "{value:?}");
    }
}

/// RFC 9112 §3.2: an invalid `Host` value is a 400; valid forms (a name,
/// a port, an IPv4 address, an IPv6 literal, empty) are served.
#[test]
fn invalid_host_values_are_refused() {
    assert_status_lines(
        start_plain_server(),
        |host| format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
        &[
            ("a b/c@d", BAD_REQUEST),
            ("user@example.com", BAD_REQUEST),
            ("exa mple", BAD_REQUEST),
            ("host:80x", BAD_REQUEST),
            ("[::1", BAD_REQUEST),
            ("%zz", BAD_REQUEST),
            ("a/b", BAD_REQUEST),
            ("example.com", OK),
            ("example.com:8080", OK),
            ("127.0.0.1:1", OK),
            ("[::1]:8080", OK),
            ("[::1]", OK),
            ("", OK),
            ("xn--bcher-kva.example", OK),
            ("a%41b", OK),
        ],
    );
}

/// RFC 9112 §2.3: a later HTTP/1 minor version is served as HTTP/1.1;
/// another major version is a 505.
#[test]
fn http_versions() {
    const NOT_SUPPORTED: &str = "HTTP/1.1 505 HTTP Version Not Supported";
    assert_status_lines(
        start_plain_server(),
        |version| format!("GET / {version}\r\nHost: t\r\nConnection: close\r\n\r\n"),
        &[
            ("HTTP/1.2", OK),
            ("HTTP/1.9", OK),
            ("HTTP/2.0", NOT_SUPPORTED),
            ("HTTP/3.1", NOT_SUPPORTED),
            ("HTTP/1.1", OK),
        ],
    );
}

/// A chunked body whose chunk-size lines (sizes and extensions) total
/// more than 64 KiB is refused with 413, however short each line is; the
/// same extensions on a few chunks are fine.
#[test]
fn chunk_extensions_have_a_total_limit() {
    let addr = start_plain_server();
    let body = |chunks: usize| {
        let mut req =
            b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                .to_vec();
        let ext = format!(";ext={}", "e".repeat(1000));
        for _ in 0..chunks {
            req.extend_from_slice(format!("1{ext}\r\nx\r\n").as_bytes());
        }
        req.extend_from_slice(b"0\r\n\r\n");
        req
    };
    assert_eq!(status_line(addr, &body(10)), OK);
    assert_eq!(status_line(addr, &body(100)), "HTTP/1.1 413 Content Too Large");
}

/// RFC 6455 §4.2.1: the key must be the base64 of 16 bytes.
#[test]
fn websocket_key_must_encode_16_bytes() {
    assert_status_lines(
        start_plain_server(),
        |key| {
            format!(
                "GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n"
            )
        },
        &[
            ("dGhlIHNhbXBsZSBub25jZQ==", "HTTP/1.1 101 Switching Protocols"),
            ("!!!!!!!!!!!!!!!!!!!!!!==", BAD_REQUEST),
            ("dGhlIHNhbXBsZSBub25jZR==", BAD_REQUEST),
            ("dGhlIHNhbXBsZSBub25jZQ", BAD_REQUEST),
            ("dGhlIHNhbXBsZSBub25jZQ=", BAD_REQUEST),
            ("AAAAAAAAAAAAAAAAAAAAAAAA", BAD_REQUEST),
        ],
    );
}

/// A client that shuts down its write half after its request still gets
/// the whole streamed response (HTTP/1.1 chunked and HTTP/1.0 alike).
#[test]
fn a_half_close_does_not_cut_a_streamed_response() {
    let addr = start_plain_server();
    for (request, ending) in [
        (
            &b"GET /chunks HTTP/1.1\r\nHost: t\r\n\r\n"[..],
            &b"1\r\na\r\n1\r\nb\r\n1\r\nc\r\n0\r\n\r\n"[..],
        ),
        (&b"GET /chunks HTTP/1.0\r\n\r\n"[..], &b"\r\n\r\nabc"[..]),
    ] {
        let mut s = connect(addr);
        s.write_all(request).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        assert!(got.ends_with(ending), "{:?}", String::from_utf8_lossy(&got));
    }
}

/// An HTTP/1.0 streamed body ends with the connection, so one cut short
/// (its producer failed) ends with a reset, never with a clean close
/// that would look like the whole body.
#[test]
fn a_cut_short_http10_body_ends_with_a_reset() {
    let addr = start_plain_server();
    let mut s = connect(addr);
    s.write_all(b"GET /broken HTTP/1.0\r\n\r\n").unwrap();
    let mut got = Vec::new();
    let err = s
        .read_to_end(&mut got)
        .expect_err("a clean end of a cut-short body");
    // (What arrived before the reset may or may not still be read.)
    assert_eq!(
        err.kind(),
        std::io::ErrorKind::ConnectionReset,
        "{err} after {got:?}"
    );
}

/// A server on its own thread with `limits`, at most `max` connections at
/// once (`Overflow::Wait`); `/` answers `hello`.
fn start_capped_server(limits: Limits, max: usize) -> SocketAddr {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let app = Router::new().get("/", |_: &Request| Response::text("hello"));
        let server = HttpServer::bind("127.0.0.1:0", app)
            .unwrap()
            .limits(limits)
            .max_connections(max);
        server.start().unwrap();
        tx.send(server.local_addr()).unwrap();
        let _ = server.serve_forever();
    });
    rx.recv_timeout(IO_TIMEOUT).unwrap()
}

/// With a cap of 100 held by 150 silent sockets and 20 that trickle a
/// head, a good client is served within 1 s (it waited for the 10 s
/// header timeout before): the server closes connections that only hold
/// their slot (waiting for a first byte) when a client waits.
#[test]
fn a_good_client_is_served_while_idle_sockets_hold_the_cap() {
    let addr = start_capped_server(Limits::default(), 100);
    let mut held: Vec<TcpStream> = (0..150).map(|_| connect(addr)).collect();
    for _ in 0..20 {
        let mut s = connect(addr);
        s.write_all(b"GET / HT").unwrap();
        held.push(s);
    }
    thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let mut good = connect(addr);
    good.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert_eq!(status_of(&mut good), 200);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "the good client waited {took:?}");
    drop(held);
}

/// `max_connections_per_ip`: a client address over its limit is answered
/// 503; others (and it, once one closes) are served.
#[test]
fn connections_per_client_address_are_limited() {
    let addr = start_capped_server(
        Limits {
            max_connections_per_ip: Some(3),
            ..Limits::default()
        },
        1000,
    );
    let held: Vec<TcpStream> = (0..3).map(|_| connect(addr)).collect();
    thread::sleep(Duration::from_millis(100));
    let get = || status_line(addr, b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(get(), "HTTP/1.1 503 Service Unavailable");
    drop(held);
    let started = Instant::now();
    loop {
        let line = get();
        if line == OK {
            break;
        }
        assert!(started.elapsed() < IO_TIMEOUT, "still refused: {line}");
        thread::sleep(Duration::from_millis(20));
    }
}

/// The first request's head must be complete `header_timeout` after the
/// accept, not after its first byte: a client that waits 300 ms and then
/// trickles is cut off at 500 ms with 408.
#[test]
fn the_first_head_deadline_runs_from_the_accept() {
    let addr = start_capped_server(
        Limits {
            header_timeout: Duration::from_millis(500),
            ..Limits::default()
        },
        1000,
    );
    let mut s = connect(addr);
    let started = Instant::now();
    thread::sleep(Duration::from_millis(300));
    s.write_all(b"G").unwrap();
    thread::sleep(Duration::from_millis(350));
    // Past the deadline: the server may have answered and closed already.
    let _ = s.write_all(b"ET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(status_of(&mut s), 408);
    assert!(started.elapsed() < Duration::from_secs(3));
}
