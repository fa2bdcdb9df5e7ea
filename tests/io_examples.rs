//! Runs the I/O examples (`select`, `subprocess`, `process_relay`,
//! `stream_server`, `echo_server`) and checks what they print; the servers
//! are tested with real client connections over loopback.
//!
//! The example binaries are built by `cargo test` (not by
//! `cargo test --test io_examples` alone): a missing binary fails the test.
//! Every child runs under a deadline and is killed if it overstays; its
//! stdout and stderr are drained by threads, so a chatty child never
//! blocks on a full pipe.
#![cfg(all(feature = "net", feature = "process"))]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::Duration;

mod common;
use common::{Finished, Running};

/// How long any example may run before the test kills it and fails.
const DEADLINE: Duration = Duration::from_secs(30);

/// Runs an example to completion and checks it exited with status 0.
fn run_ok(name: &str) -> Finished {
    common::run_ok(name, DEADLINE)
}

/// Starts a server example on a free loopback port and returns it with
/// its address, from the first line starting with `ready`.
fn start_server(name: &str, ready: &str) -> (Running, std::net::SocketAddr) {
    start_server_with(name, ready, &["127.0.0.1:0"])
}

/// [`start_server`] with these arguments.
fn start_server_with(name: &str, ready: &str, args: &[&str]) -> (Running, std::net::SocketAddr) {
    let mut running = Running::start(name, args);
    let line = running.wait_for_line(running.started() + DEADLINE, |l| l.starts_with(ready));
    (running, address_in(&line))
}

/// Stops a server example with SIGTERM and checks it exited with status 0
/// before the deadline.
fn stop(running: Running) -> Finished {
    running.signal(libc::SIGTERM);
    let deadline = running.started() + DEADLINE;
    let out = running.finish(deadline);
    out.assert_success();
    out
}

/// `"... at S seconds"` → S.
fn seconds(line: &str) -> f64 {
    line.rsplit_once("at ")
        .and_then(|(_, s)| s.strip_suffix(" seconds"))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no timing in {line:?}"))
}

#[test]
fn select() {
    let out = run_ok("select");
    let l = &out.stdout;
    assert_eq!(l.len(), 5, "{l:#?}");
    // All three greenlets start at once; both polls end after 2 s together.
    assert_eq!(l[0], "Started Polling: at 0.0 seconds", "{l:#?}");
    assert_eq!(l[1], "Started Polling: at 0.0 seconds", "{l:#?}");
    assert_eq!(
        l[2], "Hey lets do some stuff while the greenlets poll, at 0.0 seconds",
        "{l:#?}"
    );
    for line in &l[3..] {
        assert!(line.starts_with("Ended Polling: at "), "{l:#?}");
        let s = seconds(line);
        assert!((2.0..2.5).contains(&s), "polling ended at {s} s, not 2: {l:#?}");
    }
}

#[test]
fn subprocess() {
    let out = run_ok("subprocess");
    let l = &out.stdout;
    // `cron` prints every 200 ms while `sleep 1; uname` runs: five times
    // (0.0 .. 0.8 s), and a sixth if the child is not done at 1.0 s.
    let crons = l.iter().take_while(|s| *s == "cron").count();
    assert!((5..=6).contains(&crons), "{crons} cron lines: {l:#?}");
    assert_eq!(&l[crons..], ["Linux"], "{l:#?}");
}

#[test]
fn process_relay() {
    let out = run_ok("process_relay");
    let want: Vec<String> = (0..10).map(|i| format!("hi in {i}")).collect();
    assert_eq!(out.stdout, want, "stderr:\n{}", out.stderr);
}

/// The address from a line ending in `IP:PORT`.
fn address_in(line: &str) -> std::net::SocketAddr {
    line.rsplit(' ')
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
}

fn connect(addr: std::net::SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect to the example");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

#[test]
fn stream_server() {
    let (running, addr) = start_server("stream_server", "Listening on ");
    // The seed's telnet session, twice: each connection gets the greeting
    // and the count, then the server closes it.
    for _ in 0..2 {
        let mut reply = String::new();
        connect(addr).read_to_string(&mut reply).unwrap();
        assert_eq!(reply, "Hello from a telnet!\n0\n1\n2\n3\n4\n");
    }
    let out = stop(running);
    assert_eq!(
        out.stdout.last().map(String::as_str),
        Some("Server stopped after 2 connections"),
        "{:#?}",
        out.stdout
    );
}

/// Starts server example `name` with `--threads 2` and checks that it
/// reports both hubs.
fn start_on_two_hubs(name: &str, banner: &str) -> (Running, std::net::SocketAddr) {
    let (mut running, addr) = start_server_with(name, banner, &["127.0.0.1:0", "--threads", "2"]);
    let hubs = running.wait_for_line(running.started() + DEADLINE, |l| l.starts_with("on "));
    assert_eq!(hubs, "on 2 hubs");
    (running, addr)
}

#[test]
fn stream_server_on_two_hubs() {
    let (running, addr) = start_on_two_hubs("stream_server", "Listening on ");
    for _ in 0..20 {
        let mut reply = String::new();
        connect(addr).read_to_string(&mut reply).unwrap();
        assert_eq!(reply, "Hello from a telnet!\n0\n1\n2\n3\n4\n");
    }
    stop(running);
}

#[test]
fn echo_server_on_two_hubs() {
    let (running, addr) = start_on_two_hubs("echo_server", "Echo server on ");
    for c in 0..8 {
        let s = connect(addr);
        let mut r = BufReader::new(s.try_clone().unwrap());
        let msg = format!("client {c}\n");
        (&s).write_all(msg.as_bytes()).unwrap();
        let mut back = String::new();
        r.read_line(&mut back).unwrap();
        assert_eq!(back, msg);
    }
    stop(running);
}

#[test]
fn echo_server() {
    let (running, addr) = start_server("echo_server", "Echo server on ");
    // Several clients at once, each in its own thread, lines interleaved.
    let clients: Vec<_> = (0..5)
        .map(|c| {
            thread::spawn(move || {
                let s = connect(addr);
                let mut r = BufReader::new(s.try_clone().unwrap());
                for i in 0..50 {
                    let msg = format!("client {c} line {i}\n");
                    (&s).write_all(msg.as_bytes()).unwrap();
                    let mut back = String::new();
                    r.read_line(&mut back).unwrap();
                    assert_eq!(back, msg);
                }
                s.shutdown(Shutdown::Write).unwrap();
                let mut rest = String::new();
                r.read_to_string(&mut rest).unwrap();
                assert_eq!(rest, "", "the server closes after the client's half-close");
            })
        })
        .collect();
    for c in clients {
        c.join().expect("client thread");
    }
    // A connection left open is cut off by the graceful stop.
    let idle = connect(addr);
    (&idle).write_all(b"still here\n").unwrap();
    let mut r = BufReader::new(idle.try_clone().unwrap());
    let mut back = String::new();
    r.read_line(&mut back).unwrap();
    assert_eq!(back, "still here\n");
    let out = stop(running);
    let connected = out.stdout.iter().filter(|l| l.ends_with(" connected")).count();
    let disconnected = out.stdout.iter().filter(|l| l.ends_with(" disconnected")).count();
    assert_eq!((connected, disconnected), (6, 5), "{:#?}", out.stdout);
    assert_eq!(
        out.stdout.last().map(String::as_str),
        Some("Stopped; 1 connections cut off"),
        "{:#?}",
        out.stdout
    );
}
