//! Two `zchat` servers and a forwarder, as separate processes, talked to
//! over HTTP and WebSocket: users on different servers see each other's
//! messages, over long polling and over WebSockets; the backlog holds the
//! last 25 messages; bad input is refused; a message too long that some
//! other publisher puts on the backbone is dropped by every server. Then the
//! same with `zbroker forwarder` as the backbone, and with one server on
//! two hubs (`--threads 2`).
//!
//! Every child is killed when its handle drops; every wait is bounded.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use tungstenite::Message as M;

mod common;
use common::*;

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

/// A forwarder (zchat's or zbroker's) and two servers A and B on it;
/// A gets `extra_a` too (`--threads 2`, say).
struct Cluster {
    _forwarder: Proc,
    frontend: String,
    servers: Vec<(Proc, String)>,
}

impl Cluster {
    fn start(use_zbroker: bool, extra_a: &[&str]) -> Cluster {
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
        let servers = [("A", extra_a), ("B", &[][..])]
            .iter()
            .map(|(id, extra)| {
                let mut args = vec!["--pub", &fe, "--sub", &be, "--poll-timeout-ms", "1500"];
                args.extend_from_slice(extra);
                serve(id, &args)
            })
            .collect();
        let c = Cluster {
            _forwarder: forwarder,
            frontend: fe.clone(),
            servers,
        };
        // Wait until each server hears the other's heartbeats: both
        // directions of the backbone are connected.
        let started = Instant::now();
        for (me, other) in [(0, "B"), (1, "A")] {
            loop {
                let status = status(c.base(me));
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

fn conversation(c: &Cluster) {
    let (a, b) = (c.base(0), c.base(1));
    // The seed's pages.
    let index = http().get(&format!("{a}/")).unwrap();
    assert!(index.text().unwrap().contains("Choose a name"));
    let lobby = http().get(&format!("{a}/alice")).unwrap();
    assert!(lobby.text().unwrap().contains(r#""rooms":["topic1","topic2"]"#));

    // Long polling across servers: alice on A, bob on B.
    let (_, alice) = join(a, "topic1", "alice");
    let (_, bob) = join(b, "topic1", "bob");
    let (alice, bob) = (alice.as_str(), bob.as_str());
    assert_eq!(put(a, "topic1", "alice", Some(alice), "hello bob"), 200);
    assert_eq!(poll_n(b, "bob", bob, 1), [pair("alice", "hello bob")]);
    assert_eq!(poll_n(a, "alice", alice, 1), [pair("alice", "hello bob")]);
    assert_eq!(put(b, "topic1", "bob", Some(bob), "hi alice"), 200);
    assert_eq!(poll_n(a, "alice", alice, 1), [pair("bob", "hi alice")]);
    // An empty poll returns [] after the poll timeout.
    let _ = poll_n(b, "bob", bob, 1);
    let started = Instant::now();
    assert!(poll(b, "bob", bob).is_empty());
    assert!(started.elapsed() >= Duration::from_millis(1200));

    // WebSockets across servers: carol on A, dave on B, in topic2.
    let (_, carol_token) = join(a, "topic1", "carol");
    let (_, dave_token) = join(b, "topic1", "dave");
    let mut carol = ws_client(a, "topic2", "carol", &carol_token);
    let mut dave = ws_client(b, "topic2", "dave", &dave_token);
    carol.send(M::text("hey dave")).unwrap();
    assert_eq!(ws_next(&mut dave), pair("carol", "hey dave"));
    assert_eq!(ws_next(&mut carol), pair("carol", "hey dave"));
    dave.send(M::text("hey carol")).unwrap();
    assert_eq!(ws_next(&mut carol), pair("dave", "hey carol"));
    assert_eq!(ws_next(&mut dave), pair("dave", "hey carol"));
    // A long-polling user sees the WebSocket users' messages too.
    let (_, erin) = join(b, "topic2", "erin");
    carol.send(M::text("for everyone")).unwrap();
    assert_eq!(poll_n(b, "erin", &erin, 1), [pair("carol", "for everyone")]);
    assert_eq!(ws_next(&mut dave), pair("carol", "for everyone"));
    // And the other way round.
    assert_eq!(put(b, "topic2", "erin", Some(&erin), "polled words"), 200);
    assert_eq!(ws_next(&mut carol), pair("carol", "for everyone"));
    assert_eq!(ws_next(&mut carol), pair("erin", "polled words"));
    carol.close(None).unwrap();

    // The backlog keeps the last 25 messages, on both servers.
    for i in 0..30 {
        assert_eq!(put(a, "topic1", "alice", Some(alice), &format!("m{i}")), 200);
    }
    let _ = poll_n(b, "bob", bob, 30);
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
    let (page, _) = join(b, "topic1", "frank");
    assert!(page.contains(r#""text":"m29""#) && !page.contains(r#""text":"m4""#));

    // Bad input.
    assert_eq!(http().get(&format!("{a}/nowhere/alice")).unwrap().status(), 404);
    assert_eq!(
        http().get(&format!("{a}/topic1/bad%20name")).unwrap().status(),
        400
    );
    assert_eq!(put(a, "topic2", "alice", Some(alice), "not joined"), 403);
    assert_eq!(put(a, "topic1", "alice", Some(alice), &"x".repeat(4001)), 413);
    assert_eq!(try_poll(a, "nobody", Some(alice)).0, 403);
    assert_eq!(http().get(&format!("{a}/poll/alice")).unwrap().status(), 404);
}

/// A message put on the backbone by some other publisher, too long for
/// the servers' limit: every server drops it and counts it.
fn oversized_backbone_message(c: &Cluster) {
    let (_, bob) = join(c.base(1), "topic2", "bob_big");
    let ctx = zmq::Context::new();
    let publisher = ctx.socket(zmq::PUB).unwrap();
    publisher.connect(&c.frontend).unwrap();
    let msg = serde_json::json!({
        "room": "topic2", "uid": "mallory", "text": "x".repeat(4001),
        "server": "M", "seq": 1,
    })
    .to_string();
    // A PUB drops what it sends before it is connected: send until the
    // servers have seen it.
    let started = Instant::now();
    for i in 0.. {
        publisher
            .send_multipart([&b"msg"[..], msg.as_bytes()], 0)
            .unwrap();
        let counts: Vec<u64> = (0..2)
            .map(|s| status(c.base(s))["stats"]["rejected"].as_u64().unwrap())
            .collect();
        if counts.iter().all(|&n| n > 0) {
            println!(
                "oversized backbone message rejected after {} sends: {counts:?}",
                i + 1
            );
            break;
        }
        assert!(started.elapsed() < DEADLINE, "not rejected: {counts:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    for s in 0..2 {
        let backlog: Vec<Value> = http()
            .get(&format!("{}/api/backlog/topic2", c.base(s)))
            .unwrap()
            .json()
            .unwrap();
        assert!(backlog.iter().all(|m| m["uid"] != "mallory"), "{backlog:?}");
    }
    assert!(poll(c.base(1), "bob_big", &bob).is_empty());
}

#[test]
fn two_servers_share_rooms_through_zchat_forwarder() {
    let mut c = Cluster::start(false, &[]);
    conversation(&c);
    oversized_backbone_message(&c);
    // SIGTERM stops a server gracefully: exit status 0, soon.
    c.servers[0].0.sigterm_exits_cleanly(Duration::from_secs(5));
}

#[test]
fn two_servers_share_rooms_through_zbroker_forwarder() {
    conversation(&Cluster::start(true, &[]));
}

/// The same conversation when A serves on two hubs: A's hubs share one
/// state, which shares the rooms with B over the backbone.
#[test]
fn a_server_on_two_hubs_shares_rooms_through_the_backbone() {
    let c = Cluster::start(false, &["--threads", "2"]);
    conversation(&c);
    oversized_backbone_message(&c);
    // Both of A's hubs served (each request is a new connection).
    let seen: std::collections::BTreeSet<Option<usize>> = (0..16)
        .map(|_| hub_of(&http().get(&format!("{}/api/status", c.base(0))).unwrap()))
        .collect();
    assert_eq!(seen, [Some(0), Some(1)].into());
    assert_eq!(status(c.base(0))["peers"], serde_json::json!(["B"]));
}
