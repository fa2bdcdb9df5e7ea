//! The HTTP/1.1 server against raw TCP clients: conformance (keep-alive,
//! pipelining, bodies, HEAD, HTTP/1.0, 100-continue, streaming), bad input
//! and limits (400, 405, 408, 413, 417, 431, 501), slow clients, panics,
//! request-local state, static files.
//!
//! Each test runs the server on its own thread (its own hub) and talks to
//! it with blocking `std::net::TcpStream`s, every read bounded by a
//! timeout.
#![cfg(feature = "http")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use zgreen::http::{HttpServer, Limits, Request, Response, Router, StaticDir, request};
use zgreen::queue::Queue;

use zgreen_harness::ms;

mod common;
use common::assert_took_between;

const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Streamed bodies of `/forever` that ended.
static STREAMS_ENDED: AtomicUsize = AtomicUsize::new(0);

fn app(gate: Queue<()>) -> Router {
    let release = gate.clone();
    Router::new()
        .get("/", |_: &Request| Response::text("hello"))
        .post("/echo", |req: &Request| {
            Response::bytes(
                req.header("content-type").unwrap_or("application/octet-stream"),
                req.body(),
            )
        })
        .get("/user/:id", |req: &Request| {
            Response::text(format!("user {}", req.param("id").unwrap()))
        })
        .get("/files/*path", |req: &Request| {
            Response::text(req.param("path").unwrap())
        })
        .get("/panic", |_: &Request| -> Response { panic!("handler bug") })
        .get("/local/:delay", |req: &Request| {
            let ms: u64 = req.param("delay").unwrap().parse().unwrap();
            zgreen::sleep(Duration::from_millis(ms)).unwrap();
            // Read through the request-local proxy after switching.
            let r = request().unwrap();
            Response::text(format!("{} {}", r.path(), r.query("tag").unwrap_or_default()))
        })
        .get("/stream", move |_: &Request| {
            // The second chunk is produced only once /release was called:
            // the client must have got the first one by then.
            let gate = gate.clone();
            let mut n = 0;
            Response::stream(
                "text/plain",
                std::iter::from_fn(move || {
                    n += 1;
                    match n {
                        1 => Some(b"first;".to_vec()),
                        2 => {
                            gate.get().ok()?;
                            Some(b"second;".to_vec())
                        }
                        3 => Some(b"last".to_vec()),
                        _ => None,
                    }
                }),
            )
        })
        .get("/release", move |_: &Request| {
            release.put(()).unwrap();
            Response::text("released")
        })
        .get(
            "/static/*path",
            StaticDir::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/static")),
        )
        .get("/forever", |_: &Request| {
            // One chunk, then waits forever; counts its own end.
            struct Ended;
            impl Drop for Ended {
                fn drop(&mut self) {
                    STREAMS_ENDED.fetch_add(1, Ordering::SeqCst);
                }
            }
            let (never, ended) = (Queue::<()>::new(), Ended);
            let mut first = true;
            Response::stream(
                "text/plain",
                std::iter::from_fn(move || {
                    let _ = &ended;
                    if std::mem::take(&mut first) {
                        return Some(b"tick".to_vec());
                    }
                    never.get().ok().map(|()| Vec::new())
                }),
            )
        })
        .get("/big", |_: &Request| {
            Response::bytes("application/octet-stream", vec![b'x'; 32 << 20])
        })
}

/// [`serve`] with the default limits as `tweak` leaves them.
fn serve_with(tweak: impl FnOnce(&mut Limits)) -> SocketAddr {
    let mut limits = Limits::default();
    tweak(&mut limits);
    serve(limits)
}

/// Starts a server with `limits` on a new thread; returns its address.
fn serve(limits: Limits) -> SocketAddr {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let server = HttpServer::bind("127.0.0.1:0", app(Queue::new()))
            .unwrap()
            .limits(limits);
        tx.send(server.local_addr()).unwrap();
        server.serve_forever().unwrap();
    });
    rx.recv_timeout(IO_TIMEOUT).expect("server thread started")
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    s
}

#[derive(Debug)]
struct Resp {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }
}

/// Reads one response (Content-Length, chunked, or up to end of file).
fn read_response(r: &mut BufReader<TcpStream>, head_only: bool) -> Resp {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        let n = r.read_line(&mut line).expect("read a response line");
        assert!(n > 0, "connection closed in a response head: {head:?}");
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let mut resp = Resp {
        status,
        head,
        body: Vec::new(),
    };
    if head_only || status == 100 || status == 101 || status == 204 || status == 304 {
        return resp;
    }
    if resp.header("transfer-encoding").as_deref() == Some("chunked") {
        loop {
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            let size = usize::from_str_radix(line.trim_end(), 16).unwrap();
            if size == 0 {
                let mut end = String::new();
                r.read_line(&mut end).unwrap();
                assert_eq!(end, "\r\n");
                break;
            }
            let mut chunk = vec![0; size + 2];
            r.read_exact(&mut chunk).unwrap();
            assert_eq!(&chunk[size..], b"\r\n");
            resp.body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(n) = resp.header("content-length") {
        let mut body = vec![0; n.parse().unwrap()];
        r.read_exact(&mut body).unwrap();
        resp.body = body;
    } else {
        r.read_to_end(&mut resp.body).unwrap();
    }
    resp
}

/// Every response carries a `Date` field in IMF-fixdate form
/// (`Sun, 06 Nov 1994 08:49:37 GMT`), as RFC 9110 §6.6.1 asks.
fn assert_date(resp: &Resp) {
    let date = resp
        .header("date")
        .unwrap_or_else(|| panic!("no Date field: {resp:?}"));
    assert_eq!(date.len(), 29, "{date:?}");
    assert!(date.ends_with(" GMT") && date.as_bytes()[3] == b',', "{date:?}");
}

/// A new connection to `addr` on which `raw` has been sent.
fn send(addr: SocketAddr, raw: &[u8]) -> TcpStream {
    let s = connect(addr);
    (&s).write_all(raw).unwrap();
    s
}

/// Sends `raw` on a new connection and reads one response.
fn exchange(addr: SocketAddr, raw: &[u8]) -> Resp {
    read_response(&mut BufReader::new(send(addr, raw)), raw.starts_with(b"HEAD"))
}

/// True if the server closes the connection (end of file) within `within`.
fn closed_within(r: &mut BufReader<TcpStream>, within: Duration) -> bool {
    r.get_ref().set_read_timeout(Some(within)).unwrap();
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).is_ok()
}

#[test]
fn get_and_keep_alive() {
    let addr = serve(Limits::default());
    let s = connect(addr);
    let mut r = BufReader::new(s.try_clone().unwrap());
    for i in 0..3 {
        (&s).write_all(format!("GET /user/{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .unwrap();
        let resp = read_response(&mut r, false);
        assert_eq!((resp.status, resp.text()), (200, &*format!("user {i}")));
        assert_eq!(
            resp.header("content-length").as_deref(),
            Some(&*format!("user {i}").len().to_string())
        );
        assert_eq!(resp.header("connection"), None);
        assert_date(&resp);
    }
    (&s).write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let resp = read_response(&mut r, false);
    assert_eq!((resp.status, resp.text()), (200, "hello"));
    assert_eq!(resp.header("connection").as_deref(), Some("close"));
    assert!(closed_within(&mut r, Duration::from_secs(5)));
}

#[test]
fn pipelined_requests_answered_in_order() {
    let addr = serve(Limits::default());
    let s = connect(addr);
    // A slow request first: later ones must not overtake it.
    let mut all = b"GET /local/100 HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
    for i in 0..20 {
        all.extend_from_slice(format!("GET /user/{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
    }
    all.extend_from_slice(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    all.extend_from_slice(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    (&s).write_all(&all).unwrap();
    let mut r = BufReader::new(s);
    assert_eq!(read_response(&mut r, false).text(), "/local/100 ");
    for i in 0..20 {
        assert_eq!(read_response(&mut r, false).text(), format!("user {i}"));
    }
    assert_eq!(read_response(&mut r, false).text(), "hello");
    assert_eq!(read_response(&mut r, false).text(), "hello");
}

#[test]
fn request_bodies() {
    let addr = serve(Limits::default());
    let r = exchange(
        addr,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/x\r\nContent-Length: 11\r\n\r\nhello world",
    );
    assert_eq!((r.status, r.text()), (200, "hello world"));
    assert_eq!(r.header("content-type").as_deref(), Some("text/x"));

    let chunked = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
        5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nTrailer: yes\r\n\r\n";
    let r = exchange(addr, chunked);
    assert_eq!((r.status, r.text()), (200, "hello 0123456789"));

    // The body arrives in pieces, split inside the chunk framing.
    let mut s = connect(addr);
    for piece in [
        &b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
        b"3\r",
        b"\nabc\r",
        b"\n0\r\n",
        b"\r\n",
    ] {
        s.write_all(piece).unwrap();
        thread::sleep(Duration::from_millis(20));
    }
    let r = read_response(&mut BufReader::new(s), false);
    assert_eq!((r.status, r.text()), (200, "abc"));

    // Expect: 100-continue gets the interim response first.
    let mut s = connect(addr);
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
        .unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    assert_eq!(read_response(&mut r, false).status, 100);
    s.write_all(b"abc").unwrap();
    assert_eq!(read_response(&mut r, false).text(), "abc");
}

#[test]
fn head_and_http10() {
    let addr = serve(Limits::default());
    let r = exchange(addr, b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(
        (r.status, r.header("content-length").as_deref()),
        (200, Some("5"))
    );
    assert!(r.body.is_empty());

    // HTTP/1.0 closes after the response unless asked for keep-alive.
    let mut s = connect(addr);
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let mut all = String::new();
    s.read_to_string(&mut all).unwrap();
    assert!(all.starts_with("HTTP/1.0 200 OK\r\n"), "{all}");
    assert!(all.ends_with("\r\n\r\nhello"), "{all}");

    let s = send(addr, b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let mut r = BufReader::new(s.try_clone().unwrap());
    let resp = read_response(&mut r, false);
    assert_eq!(resp.header("connection").as_deref(), Some("keep-alive"));
    (&s).write_all(b"GET /user/7 HTTP/1.0\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut r, false).text(), "user 7");

    // A streamed body on HTTP/1.0: no chunked encoding, closed at the end.
    let mut s = connect(addr);
    s.write_all(b"GET /stream HTTP/1.0\r\n\r\n").unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert_eq!(line, "HTTP/1.0 200 OK\r\n");
    let _ = exchange(addr, b"GET /release HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut rest = String::new();
    r.read_to_string(&mut rest).unwrap();
    assert!(!rest.contains("chunked"), "{rest}");
    assert!(rest.ends_with("\r\n\r\nfirst;second;last"), "{rest}");
}

#[test]
fn streamed_chunks_arrive_as_produced() {
    let addr = serve(Limits::default());
    let s = send(addr, b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut head = String::new();
    while !head.ends_with("\r\n\r\n") {
        r.read_line(&mut head).unwrap();
    }
    assert!(head.contains("Transfer-Encoding: chunked\r\n"), "{head}");
    // The first chunk arrives while the second is still blocked on the gate.
    let mut first = String::new();
    r.read_line(&mut first).unwrap();
    r.read_line(&mut first).unwrap();
    assert_eq!(first, "6\r\nfirst;\r\n");
    let released = exchange(addr, b"GET /release HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(released.text(), "released");
    let mut rest = vec![0; "7\r\nsecond;\r\n4\r\nlast\r\n0\r\n\r\n".len()];
    r.read_exact(&mut rest).unwrap();
    assert_eq!(rest, b"7\r\nsecond;\r\n4\r\nlast\r\n0\r\n\r\n");
    // The connection stays usable.
    (&s).write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut r, false).text(), "hello");
}

/// The server at `addr` still answers a plain `GET /` with `hello`.
#[track_caller]
fn assert_still_serves(addr: SocketAddr) {
    assert_eq!(
        exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").text(),
        "hello"
    );
}

/// Sends `raw` and expects `status` and a closed connection.
fn rejected(addr: SocketAddr, raw: &[u8], status: u16) {
    let s = send(addr, raw);
    let mut r = BufReader::new(s);
    let resp = read_response(&mut r, false);
    assert_eq!(
        resp.status,
        status,
        "for {:?}: {resp:?}",
        String::from_utf8_lossy(raw)
    );
    assert_eq!(resp.header("connection").as_deref(), Some("close"));
    assert_date(&resp);
    assert!(
        closed_within(&mut r, Duration::from_secs(5)),
        "closed after {status}"
    );
}

#[test]
fn malformed_requests_get_400() {
    let addr = serve(Limits::default());
    for raw in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n: empty-name\r\n\r\n",
        b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET nopath HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ] {
        rejected(addr, raw, 400);
    }
    // The server is still fine.
    assert_still_serves(addr);
}

#[test]
fn methods_and_versions() {
    let addr = serve(Limits::default());
    rejected(addr, b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n", 501);
    rejected(
        addr,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        501,
    );
    // Another major version: 505 (RFC 9112 §2.3; tests/http_hardening.rs).
    rejected(addr, b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505);
    rejected(
        addr,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: tea\r\nContent-Length: 1\r\n\r\n",
        417,
    );
    let r = exchange(addr, b"PUT / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!((r.status, r.header("allow").as_deref()), (405, Some("GET, HEAD")));
    let r = exchange(addr, b"DELETE /echo HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!((r.status, r.header("allow").as_deref()), (405, Some("POST")));
    assert_eq!(
        exchange(addr, b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n").status,
        404
    );
    // Absolute-form targets are served by their path.
    assert_eq!(
        exchange(addr, b"GET http://x/user/5 HTTP/1.1\r\nHost: x\r\n\r\n").text(),
        "user 5"
    );
    // Path parameters are percent-decoded; `*rest` takes the remainder.
    assert_eq!(
        exchange(addr, b"GET /user/a%20b HTTP/1.1\r\nHost: x\r\n\r\n").text(),
        "user a b"
    );
    assert_eq!(
        exchange(addr, b"GET /files/a/b/c.txt HTTP/1.1\r\nHost: x\r\n\r\n").text(),
        "a/b/c.txt"
    );
}

#[test]
fn size_limits() {
    let addr = serve_with(|l| {
        l.max_header_bytes = 1024;
        l.max_headers = 8;
        l.max_body_bytes = 100;
    });
    let big_header = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(2000));
    rejected(addr, big_header.as_bytes(), 431);
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(2000));
    rejected(addr, long_target.as_bytes(), 414);
    let many: String = (0..20).map(|i| format!("X-{i}: v\r\n")).collect();
    rejected(
        addr,
        format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes(),
        431,
    );
    rejected(
        addr,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n",
        413,
    );
    let chunk = format!("65\r\n{}\r\n0\r\n\r\n", "z".repeat(101));
    rejected(
        addr,
        format!("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{chunk}").as_bytes(),
        413,
    );
    // Many small chunks add up too.
    let chunks = "9\r\n123456789\r\n".repeat(12);
    rejected(
        addr,
        format!("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{chunks}0\r\n\r\n")
            .as_bytes(),
        413,
    );
    // A 413 with Expect: 100-continue comes before the body is sent.
    rejected(
        addr,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n",
        413,
    );
    // At the limits, all is well.
    let body = "b".repeat(100);
    let r = exchange(
        addr,
        format!("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{body}").as_bytes(),
    );
    assert_eq!((r.status, r.body.len()), (200, 100));
}

#[test]
fn slowloris_is_cut_off_and_does_not_stall_others() {
    let addr = serve_with(|l| {
        l.header_timeout = ms(400);
        l.body_timeout = ms(400);
    });
    // Fifty clients trickle a head that never ends.
    let mut slow: Vec<TcpStream> = (0..50).map(|_| connect(addr)).collect();
    for s in &mut slow {
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    }
    // Meanwhile a normal client is served at once.
    let started = Instant::now();
    assert_still_serves(addr);
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    // One keeps sending a header byte every 100 ms: the head deadline still
    // ends it.
    let trickler = connect(addr);
    let started = Instant::now();
    let mut r = BufReader::new(trickler.try_clone().unwrap());
    let t = thread::spawn(move || {
        let _ = (&trickler).write_all(b"GET / HTTP/1.1\r\nX-Slow: ");
        for _ in 0..30 {
            if (&trickler).write_all(b"a").is_err() {
                break;
            }
            thread::sleep(Duration::from_millis(100));
        }
    });
    assert_eq!(read_response(&mut r, false).status, 408);
    assert_took_between(started.elapsed(), ms(350), Duration::from_secs(2));
    // The silent ones got 408 too, and were closed.
    for s in slow {
        let mut r = BufReader::new(s);
        assert_eq!(read_response(&mut r, false).status, 408);
        assert!(closed_within(&mut r, Duration::from_secs(3)));
    }
    // A body that stalls is cut off the same way.
    let s = send(
        addr,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",
    );
    assert_eq!(read_response(&mut BufReader::new(s), false).status, 408);
    t.join().unwrap();
}

#[test]
fn idle_keep_alive_connections_are_closed() {
    let addr = serve_with(|l| l.keep_alive_timeout = ms(300));
    let s = send(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut r = BufReader::new(s);
    assert_eq!(read_response(&mut r, false).text(), "hello");
    let started = Instant::now();
    assert!(closed_within(&mut r, Duration::from_secs(5)));
    // Closed once idle for its keep-alive timeout.
    assert_took_between(started.elapsed(), ms(250), Duration::from_secs(2));
}

#[test]
fn a_panicking_handler_gets_500_and_others_go_on() {
    let addr = serve(Limits::default());
    let s = send(
        addr,
        b"GET /panic HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    let mut r = BufReader::new(s);
    assert_eq!(read_response(&mut r, false).status, 500);
    // Same connection, next request.
    assert_eq!(read_response(&mut r, false).text(), "hello");
}

#[test]
fn request_local_state_is_per_request() {
    let addr = serve(Limits::default());
    // Concurrent requests that sleep in their handlers each see their own
    // request after switching.
    let clients: Vec<_> = (0..10u64)
        .map(|i| {
            thread::spawn(move || {
                let delay = 100 - i * 10;
                let raw = format!("GET /local/{delay}?tag=t{i} HTTP/1.1\r\nHost: x\r\n\r\n");
                exchange(addr, raw.as_bytes()).text().to_string()
            })
        })
        .collect();
    for (i, c) in clients.into_iter().enumerate() {
        let delay = 100 - i * 10;
        assert_eq!(c.join().unwrap(), format!("/local/{delay} t{i}"));
    }
}

#[test]
fn static_files() {
    let addr = serve(Limits::default());
    let r = exchange(addr, b"GET /static/websocket.html HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    assert!(r.text().contains("WebSocket Example"));
    for path in [
        "/static/../Cargo.toml",
        "/static/%2e%2e/Cargo.toml",
        "/static/nope.html",
    ] {
        let raw = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(exchange(addr, raw.as_bytes()).status, 404, "{path}");
    }
}

/// A tiny deterministic generator for the garbage test.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn garbage_never_hurts_the_server() {
    let addr = serve_with(|l| l.header_timeout = ms(300));
    let mut rng = Lcg(7);
    let pieces: [&[u8]; 12] = [
        b"GET ",
        b"POST ",
        b"/",
        b" HTTP/1.1",
        b"\r\n",
        b"Host: x",
        b"Content-Length: 3",
        b"Transfer-Encoding: chunked",
        b":",
        b"\x00\xff",
        b"0\r\n",
        b"abc",
    ];
    for _ in 0..200 {
        let mut raw = Vec::new();
        for _ in 0..(rng.next() % 12) {
            if rng.next() % 4 == 0 {
                raw.push((rng.next() % 256) as u8);
            } else {
                raw.extend_from_slice(pieces[(rng.next() % 12) as usize]);
            }
        }
        let mut s = connect(addr);
        s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let _ = s.write_all(&raw);
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        if !out.is_empty() {
            assert!(
                out.starts_with(b"HTTP/1.1 "),
                "{:?} -> {:?}",
                raw,
                String::from_utf8_lossy(&out)
            );
        }
    }
    assert_still_serves(addr);
}

#[test]
fn a_client_that_does_not_read_is_dropped() {
    let addr = serve_with(|l| l.write_timeout = ms(300));
    let s = send(addr, b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    // We read nothing: the server's write stalls, times out, and it closes.
    thread::sleep(Duration::from_millis(1500));
    // Others are served meanwhile and after.
    assert_still_serves(addr);
    let mut got = 0usize;
    let mut buf = vec![0; 1 << 16];
    let mut r = &s;
    r.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the server did not close the connection: {e} after {got} bytes"),
        }
    }
    assert!(got < 32 << 20, "the whole body arrived");
}

#[test]
fn a_stream_ends_when_its_client_goes_away() {
    // A closed client looks like a half-closed one until a write fails:
    // a body that sends nothing for `keep_alive_timeout` after the
    // client's end of file is ended.
    let addr = serve_with(|l| l.keep_alive_timeout = ms(500));
    let s = send(addr, b"GET /forever HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut r = BufReader::new(s);
    let mut line = String::new();
    while line != "4\r\n" {
        line.clear();
        r.read_line(&mut line).unwrap();
    }
    let before = STREAMS_ENDED.load(Ordering::SeqCst);
    drop(r);
    let started = Instant::now();
    while STREAMS_ENDED.load(Ordering::SeqCst) == before {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the producer still waits"
        );
        thread::sleep(Duration::from_millis(10));
    }
}
