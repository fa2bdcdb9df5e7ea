//! Two `zchat` servers and a forwarder, as separate processes, talked to
//! over HTTP and WebSocket: users on different servers see each other's
//! messages, over long polling and over WebSockets; the backlog holds the
//! last 25 messages; bad input is refused. Then the same with `zbroker
//! forwarder` as the backbone.
//!
//! Every child is killed when its handle drops; every wait is bounded.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tungstenite::Message as M;
use zgreen::http::Client;
use zgreen_harness::{ChildGuard, Lines};

const DEADLINE: Duration = Duration::from_secs(20);

/// A child process with its stdout as lines; killed when it drops.
struct Proc {
    child: ChildGuard,
    lines: Lines,
}

impl Proc {
    fn start(program: &PathBuf, args: &[&str]) -> Proc {
        let mut child = ChildGuard::spawn(
            Command::new(program)
                .args(args)
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit()),
        )
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let lines = child.stdout_lines().unwrap();
        Proc { child, lines }
    }

    fn line(&self) -> String {
        self.lines.next(DEADLINE).expect("a line from the child")
    }
}

fn zchat() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_zchat"))
}

/// `zbroker`, next to `zchat` in the target directory (built with the
/// workspace; built here if missing).
fn zbroker() -> PathBuf {
    let path = zchat().with_file_name(format!("zbroker{}", std::env::consts::EXE_SUFFIX));
    if !path.is_file() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "zgreen-brokers", "--bin", "zbroker"])
            .status()
            .expect("run cargo build");
        assert!(status.success(), "cannot build zbroker");
    }
    assert!(path.is_file(), "{} is missing", path.display());
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A forwarder (zchat's or zbroker's) and two servers A and B on it.
struct Cluster {
    _forwarder: Proc,
    servers: Vec<(Proc, String)>,
}

impl Cluster {
    fn start(use_zbroker: bool) -> Cluster {
        let (fe, be) = (
            format!("tcp://127.0.0.1:{}", free_port()),
            format!("tcp://127.0.0.1:{}", free_port()),
        );
        let forwarder = if use_zbroker {
            Proc::start(&zbroker(), &["forwarder", "--frontend", &fe, "--backend", &be])
        } else {
            let p = Proc::start(&zchat(), &["forwarder", "--frontend", &fe, "--backend", &be]);
            assert!(p.line().starts_with("zchat forwarder "));
            p
        };
        let servers = ["A", "B"]
            .iter()
            .map(|id| {
                let args = [
                    "serve",
                    "--http",
                    "127.0.0.1:0",
                    "--pub",
                    &fe,
                    "--sub",
                    &be,
                    "--server-id",
                    id,
                    "--poll-timeout-ms",
                    "1500",
                ];
                let p = Proc::start(&zchat(), &args);
                let line = p.line();
                let base = line
                    .strip_prefix(&format!("zchat {id} serving "))
                    .unwrap_or_else(|| panic!("{line}"))
                    .trim_end_matches('/')
                    .to_string();
                (p, base)
            })
            .collect();
        let c = Cluster {
            _forwarder: forwarder,
            servers,
        };
        // Wait until each server hears the other's heartbeats: both
        // directions of the backbone are connected.
        let started = Instant::now();
        for (me, other) in [(0, "B"), (1, "A")] {
            loop {
                let status: Value = http()
                    .get(&format!("{}/api/status", c.base(me)))
                    .unwrap()
                    .json()
                    .unwrap();
                if status["peers"].as_array().unwrap().iter().any(|p| p == other) {
                    break;
                }
                assert!(started.elapsed() < DEADLINE, "backbone not up: {status}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        c
    }

    fn base(&self, i: usize) -> &str {
        &self.servers[i].1
    }
}

fn http() -> Client {
    Client::new().timeout(Duration::from_secs(10))
}

fn join(base: &str, room: &str, uid: &str) -> String {
    let r = http().get(&format!("{base}/{room}/{uid}")).unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().unwrap());
    r.text().unwrap().to_string()
}

fn put(base: &str, room: &str, uid: &str, text: &str) -> u16 {
    let body = format!("message={}", text.replace(' ', "+"));
    http()
        .post(
            &format!("{base}/put/{room}/{uid}"),
            "application/x-www-form-urlencoded",
            body,
        )
        .unwrap()
        .status()
}

fn poll(base: &str, uid: &str) -> Vec<(String, String)> {
    let r = http()
        .post(&format!("{base}/poll/{uid}"), "text/plain", "")
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Vec<Value> = r.json().unwrap();
    v.iter()
        .map(|m| {
            (
                m["uid"].as_str().unwrap().to_string(),
                m["text"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Polls until `n` messages came (each poll waits at most 1.5 s).
fn poll_n(base: &str, uid: &str, n: usize) -> Vec<(String, String)> {
    let started = Instant::now();
    let mut got = Vec::new();
    while got.len() < n {
        assert!(started.elapsed() < DEADLINE, "only {got:?}");
        got.extend(poll(base, uid));
    }
    got
}

fn pair(uid: &str, text: &str) -> (String, String) {
    (uid.to_string(), text.to_string())
}

fn ws_client(base: &str, room: &str, uid: &str) -> tungstenite::WebSocket<TcpStream> {
    let addr = base.strip_prefix("http://").unwrap();
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    tungstenite::client(format!("ws://{addr}/ws/{room}/{uid}"), s)
        .unwrap()
        .0
}

fn ws_next(ws: &mut tungstenite::WebSocket<TcpStream>) -> (String, String) {
    loop {
        if let M::Text(t) = ws.read().unwrap() {
            let m: Value = serde_json::from_str(t.as_str()).unwrap();
            return (
                m["uid"].as_str().unwrap().to_string(),
                m["text"].as_str().unwrap().to_string(),
            );
        }
    }
}

fn conversation(c: &Cluster) {
    let (a, b) = (c.base(0), c.base(1));
    // The seed's pages.
    let index = http().get(&format!("{a}/")).unwrap();
    assert!(index.text().unwrap().contains("Choose a name"));
    let lobby = http().get(&format!("{a}/alice")).unwrap();
    assert!(lobby.text().unwrap().contains(r#""rooms":["topic1","topic2"]"#));

    // Long polling across servers: alice on A, bob on B.
    join(a, "topic1", "alice");
    join(b, "topic1", "bob");
    assert_eq!(put(a, "topic1", "alice", "hello bob"), 200);
    assert_eq!(poll_n(b, "bob", 1), [pair("alice", "hello bob")]);
    assert_eq!(poll_n(a, "alice", 1), [pair("alice", "hello bob")]);
    assert_eq!(put(b, "topic1", "bob", "hi alice"), 200);
    assert_eq!(poll_n(a, "alice", 1), [pair("bob", "hi alice")]);
    // An empty poll returns [] after the poll timeout.
    let _ = poll_n(b, "bob", 1);
    let started = Instant::now();
    assert!(poll(b, "bob").is_empty());
    assert!(started.elapsed() >= Duration::from_millis(1200));

    // WebSockets across servers: carol on A, dave on B, in topic2.
    let mut carol = ws_client(a, "topic2", "carol");
    let mut dave = ws_client(b, "topic2", "dave");
    carol.send(M::text("hey dave")).unwrap();
    assert_eq!(ws_next(&mut dave), pair("carol", "hey dave"));
    assert_eq!(ws_next(&mut carol), pair("carol", "hey dave"));
    dave.send(M::text("hey carol")).unwrap();
    assert_eq!(ws_next(&mut carol), pair("dave", "hey carol"));
    assert_eq!(ws_next(&mut dave), pair("dave", "hey carol"));
    // A long-polling user sees the WebSocket users' messages too.
    join(b, "topic2", "erin");
    carol.send(M::text("for everyone")).unwrap();
    assert_eq!(poll_n(b, "erin", 1), [pair("carol", "for everyone")]);
    assert_eq!(ws_next(&mut dave), pair("carol", "for everyone"));
    // And the other way round.
    assert_eq!(put(b, "topic2", "erin", "polled words"), 200);
    assert_eq!(ws_next(&mut carol), pair("carol", "for everyone"));
    assert_eq!(ws_next(&mut carol), pair("erin", "polled words"));
    carol.close(None).unwrap();

    // The backlog keeps the last 25 messages, on both servers.
    for i in 0..30 {
        assert_eq!(put(a, "topic1", "alice", &format!("m{i}")), 200);
    }
    let _ = poll_n(b, "bob", 30);
    for base in [a, b] {
        let backlog: Vec<Value> = http()
            .get(&format!("{base}/api/backlog/topic1"))
            .unwrap()
            .json()
            .unwrap();
        let texts: Vec<&str> = backlog.iter().map(|m| m["text"].as_str().unwrap()).collect();
        let expected: Vec<String> = (5..30).map(|i| format!("m{i}")).collect();
        assert_eq!(texts, expected, "backlog on {base}");
    }
    // A late joiner's page carries the backlog.
    let page = join(b, "topic1", "frank");
    assert!(page.contains(r#""text":"m29""#) && !page.contains(r#""text":"m4""#));

    // Bad input.
    assert_eq!(http().get(&format!("{a}/nowhere/alice")).unwrap().status(), 404);
    assert_eq!(
        http().get(&format!("{a}/topic1/bad%20name")).unwrap().status(),
        400
    );
    assert_eq!(put(a, "topic2", "alice", "not joined"), 403);
    assert_eq!(put(a, "topic1", "alice", &"x".repeat(1001)), 413);
    assert_eq!(
        http()
            .post(&format!("{a}/poll/nobody"), "text/plain", "")
            .unwrap()
            .status(),
        404
    );
    assert_eq!(http().get(&format!("{a}/poll/alice")).unwrap().status(), 404);
}

#[test]
fn two_servers_share_rooms_through_zchat_forwarder() {
    let mut c = Cluster::start(false);
    conversation(&c);
    // SIGTERM stops a server gracefully: exit status 0, soon.
    let (server, _) = &mut c.servers[0];
    server.child.signal(libc::SIGTERM).unwrap();
    let status = server
        .child
        .wait_timeout(Duration::from_secs(5))
        .unwrap()
        .expect("still running after SIGTERM");
    assert!(status.success(), "{status}");
}

#[test]
fn two_servers_share_rooms_through_zbroker_forwarder() {
    conversation(&Cluster::start(true));
}
