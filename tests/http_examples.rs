//! Runs the web examples (`fetch`, `wsgi_server`, `streaming_server`,
//! `long_poll`, `websocket`, `request_local`) and checks what they print
//! and serve. Servers are started on a free port (`127.0.0.1:0` as their
//! argument), talked to over loopback and killed at the end.
//!
//! The example binaries are built by `cargo test` / `cargo nextest` (not
//! by `cargo test --test http_examples` alone): a missing binary fails
//! the test. Every child runs under a deadline.
#![cfg(feature = "http")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use zgreen_harness::ms;

mod common;
use common::{Running, assert_took_between, serving_example};

const DEADLINE: Duration = Duration::from_secs(30);

/// Starts a server example on a free loopback port and returns it with
/// its address (from its `Serving on http://ADDR/` line). The server's
/// stderr goes to the test's own.
fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Reads a response head.
fn read_head(r: &mut BufReader<TcpStream>) -> String {
    let mut head = String::new();
    while !head.ends_with("\r\n\r\n") {
        assert!(
            r.read_line(&mut head).unwrap() > 0,
            "closed in the head: {head:?}"
        );
    }
    head
}

/// Reads one chunk of a chunked body (`None` for the last one).
fn read_chunk(r: &mut BufReader<TcpStream>) -> Option<String> {
    let mut size = String::new();
    r.read_line(&mut size).unwrap();
    let n = usize::from_str_radix(size.trim_end(), 16).unwrap_or_else(|_| panic!("bad chunk size {size:?}"));
    let mut data = vec![0; n + 2];
    r.read_exact(&mut data).unwrap();
    assert_eq!(&data[n..], b"\r\n");
    (n > 0).then(|| String::from_utf8(data[..n].to_vec()).unwrap())
}

/// A whole GET with `Connection: close`: head and body.
fn get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut s = connect(addr);
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut all = String::new();
    s.read_to_string(&mut all).unwrap();
    let (head, body) = all.split_once("\r\n\r\n").unwrap();
    (head.to_string(), body.to_string())
}

/// A GET whose response is read until its body holds `want` (or the
/// server closes): for endless streams too.
fn get_until(addr: SocketAddr, path: &str, want: &str) -> String {
    let mut s = connect(addr);
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&all).into_owned();
        if !want.is_empty() && text.split_once("\r\n\r\n").is_some_and(|(_, b)| b.contains(want)) {
            return text;
        }
        match s.read(&mut buf).unwrap() {
            0 => return text,
            n => all.extend_from_slice(&buf[..n]),
        }
    }
}

/// One half of fetch's output: the process numbers in order and the time.
fn half(lines: &mut std::slice::Iter<'_, String>, name: &str) -> (Vec<u32>, f64) {
    assert_eq!(lines.next().map(String::as_str), Some(&*format!("{name}:")));
    let mut pids = Vec::new();
    loop {
        let line = lines.next().expect("more lines");
        if let Some(t) = line.strip_prefix(&format!("{name} took ")) {
            return (pids, t.strip_suffix(" ms").unwrap().parse().unwrap());
        }
        let (pid, datetime) = line
            .strip_prefix("Process ")
            .and_then(|l| l.split_once(": "))
            .unwrap_or_else(|| panic!("bad line {line:?}"));
        let secs: f64 = datetime
            .parse()
            .unwrap_or_else(|_| panic!("bad datetime {line:?}"));
        assert!(secs > 1.6e9, "{line}");
        pids.push(pid.parse().unwrap());
    }
}

#[test]
fn fetch() {
    let running = Running::start_inheriting_stderr("fetch", &[]);
    let out = running.finish(Instant::now() + DEADLINE);
    out.assert_success();
    let out = out.stdout;
    let mut lines = out.iter();
    let (sync_pids, sync_ms) = half(&mut lines, "Synchronous");
    let (mut async_pids, async_ms) = half(&mut lines, "Asynchronous");
    assert_eq!(lines.next(), None);
    let all: Vec<u32> = (1..10).collect();
    assert_eq!(sync_pids, all, "synchronous fetches run in order");
    async_pids.sort_unstable();
    assert_eq!(async_pids, all, "each asynchronous fetch runs once");
    // Nine 50 ms answers: at least 450 ms in a row, about 50 ms at once.
    assert!(sync_ms >= 450.0, "{out:?}");
    assert!(async_ms < sync_ms / 2.0, "{out:?}");
}

/// Each serving example with `--threads 2`: it says so, answers on the
/// same address from both hubs, and stops with status 0 on SIGTERM.
#[test]
fn serving_examples_on_two_hubs() {
    for (name, path, want) in [
        ("wsgi_server", "/", "<p>Hello World</p>"),
        ("streaming_server", "/", "Hello"),
        ("request_local", "/", ""),
        ("websocket", "/static/websocket.html", "WebSocket"),
        // An endless stream: read until the first datum.
        ("long_poll", "/", "Hello World"),
    ] {
        let (mut server, addr) = common::serving_example_with(name, &["127.0.0.1:0", "--threads", "2"]);
        let line = server.next_line(Instant::now() + DEADLINE);
        assert_eq!(line.as_deref(), Some("on 2 hubs"), "{name}");
        let clients: Vec<_> = (0..8)
            .map(|_| thread::spawn(move || get_until(addr, path, want)))
            .collect();
        for c in clients {
            let all = c.join().unwrap();
            assert!(all.starts_with("HTTP/1.1 200 OK\r\n"), "{name}: {all}");
            assert!(
                all.split_once("\r\n\r\n").unwrap().1.contains(want),
                "{name}: {all}"
            );
        }
        server.signal(libc::SIGTERM);
        server.finish(Instant::now() + DEADLINE).assert_success();
    }
}

#[test]
fn wsgi_server() {
    let (server, addr) = serving_example("wsgi_server");
    let (head, body) = get(addr, "/");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("Content-Type: text/html\r\n"), "{head}");
    assert!(head.contains("Content-Length: 18\r\n"), "{head}");
    assert_eq!(body, "<p>Hello World</p>");
    // Any path, any number of clients at once.
    let clients: Vec<_> = (0..20)
        .map(|i| thread::spawn(move || get(addr, &format!("/{i}")).1))
        .collect();
    for c in clients {
        assert_eq!(c.join().unwrap(), "<p>Hello World</p>");
    }
    // SIGTERM stops it gracefully (`stop_on_signals`): exit status 0.
    server.signal(libc::SIGTERM);
    server.finish(Instant::now() + DEADLINE).assert_success();
}

#[test]
fn streaming_server() {
    let (mut server, addr) = serving_example("streaming_server");
    let s = connect(addr);
    (&s).write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut r = BufReader::new(s);
    let head = read_head(&mut r);
    assert!(head.contains("Transfer-Encoding: chunked\r\n"), "{head}");
    assert_eq!(read_chunk(&mut r).as_deref(), Some("<p>Hello"));
    // The first chunk is here; the last one was not even produced yet.
    let printed = server.printed_now();
    assert!(!printed.iter().any(|l| l == "yield World</p>"), "{printed:?}");
    let started = Instant::now();
    assert_eq!(read_chunk(&mut r).as_deref(), Some("World</p>"));
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(read_chunk(&mut r), None);
    while !server.seen().iter().any(|l| l == "yield World</p>") {
        server.next_line(Instant::now() + DEADLINE);
    }
    assert_eq!(server.seen()[1..], ["yield <p>Hello", "yield World</p>"]);
}

#[test]
fn long_poll() {
    let (_server, addr) = serving_example("long_poll");
    let s = connect(addr);
    (&s).write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut r = BufReader::new(s);
    let head = read_head(&mut r);
    assert!(head.contains("Content-Type: application/json\r\n"), "{head}");
    let started = Instant::now();
    for _ in 0..4 {
        assert_eq!(read_chunk(&mut r).as_deref(), Some("\"Hello World\"\n"));
    }
    // One every 250 ms (the first may have been queued before we came).
    assert_took_between(started.elapsed(), ms(450), Duration::from_secs(5));
}

#[test]
fn websocket() {
    let (_server, addr) = serving_example("websocket");
    let (head, _) = get(addr, "/");
    assert!(head.starts_with("HTTP/1.1 302 Found\r\n"), "{head}");
    let (head, page) = get(addr, "/static/websocket.html");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        page.contains("<h1>WebSocket Example</h1>") && page.contains("new WebSocket("),
        "{page}"
    );

    let s = connect(addr);
    let (mut ws, _) = tungstenite::client(format!("ws://{addr}/data"), s).unwrap();
    for x in 0..3 {
        let msg = ws.read().unwrap();
        let value: serde_json::Value = serde_json::from_str(msg.to_text().unwrap()).unwrap();
        assert_eq!(value["x"], x);
        let y = value["y"].as_u64().unwrap();
        assert!((1..=5).contains(&y), "{value}");
    }
    ws.close(None).unwrap();
}

#[test]
fn request_local() {
    let (_server, addr) = serving_example("request_local");
    let (head, body) = get(addr, "/");
    assert!(head.contains("Content-Type: text/html"), "{head}");
    assert_eq!(body, "Hello 127.0.0.1");
    assert_eq!(get(addr, "/builtin").1, "Hello 127.0.0.1 from /builtin");
}
