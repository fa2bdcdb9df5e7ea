//! Runs the ZeroMQ examples (`zmq_reqrep`, `zmq_pubsub`, `zmq_pipeline`,
//! `zmq_actors`, `zmq_poller`, `zmq_proxy`, and the draft sockets'
//! `zmq_client_server` and `zmq_radio_dish`) and checks what they print.
//! (`tests/examples.rs` checks that the tutorial's ZeroMQ code blocks are
//! excerpts of these examples.)
//!
//! The example binaries are built by `cargo test` / `cargo build
//! --examples` before the tests run; this file only runs them, each under
//! a deadline. A missing or stale binary fails the test: it is never
//! skipped.
#![cfg(feature = "zmq")]

use std::time::Duration;

mod common;

/// How long any example may run before the test kills it and fails.
const DEADLINE: Duration = Duration::from_secs(20);

/// Runs an example, checks that it succeeded, returns its stdout lines.
fn run(name: &str) -> Vec<String> {
    common::run_ok(name, DEADLINE).stdout
}

#[test]
fn zmq_reqrep() {
    let mut expected = Vec::new();
    for n in 1..10 {
        expected.push(format!("Switched to Server for {n}"));
        expected.push(format!("Switched to Client for {n}"));
    }
    assert_eq!(run("zmq_reqrep"), expected, "output of example zmq_reqrep");
}

#[test]
fn zmq_pubsub() {
    let got = run("zmq_pubsub");
    // Each subscriber sees exactly its topic's messages, in order; how the
    // two subscribers' lines interleave is up to the scheduler.
    for topic in ["weather", "sports"] {
        let prefix = format!("sub {topic}: ");
        let seen = lines_after(&got, &prefix);
        let expected: Vec<String> = (1..=5).map(|n| format!("{topic} update {n}")).collect();
        assert_eq!(seen, expected, "messages of subscriber {topic}: {got:#?}");
        let summary = format!("sub {topic} got 5 messages");
        let at = got
            .iter()
            .position(|l| *l == summary)
            .unwrap_or_else(|| panic!("no line {summary:?}: {got:#?}"));
        let last_message = got.iter().rposition(|l| l.starts_with(&prefix)).unwrap();
        assert!(last_message < at, "{summary:?} before the last message: {got:#?}");
    }
    assert_eq!(got.len(), 12, "ten messages and two summaries: {got:#?}");
    assert_eq!(got.last().map(String::as_str), Some("sub sports got 5 messages"));
}

/// Parses `prefix<number>suffix`.
fn number_in(line: &str, prefix: &str, suffix: &str) -> f64 {
    line.strip_prefix(prefix)
        .and_then(|l| l.strip_suffix(suffix))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("expected {prefix:?}<number>{suffix:?}, got {line:?}"))
}

#[test]
fn zmq_pipeline() {
    let got = run("zmq_pipeline");
    assert_eq!(got.len(), 9, "{got:#?}");
    assert_eq!(
        got[..7],
        [
            "Sending 100 tasks to 4 workers",
            "Total expected cost: 1106 ms",
            "All 100 of 100 tasks arrived, total workload 1106 ms",
            // PUSH deals round-robin among the workers connected at the
            // start, and the ventilator waits for all four.
            "Worker 1 did 25 tasks",
            "Worker 2 did 25 tasks",
            "Worker 3 did 25 tasks",
            "Worker 4 did 25 tasks",
        ],
        "{got:#?}"
    );
    let elapsed = number_in(&got[7], "Total elapsed time: ", " ms");
    let speedup = number_in(&got[8], "Speed-up versus serial: ", "x");
    assert!(
        (1106.0 / elapsed.max(1.0) - speedup).abs() < 0.1,
        "the speed-up does not match the times: {got:#?}"
    );
    // Four workers at once: ideally about 4x; the sleeps of one worker run
    // back to back, so the busiest worker (307 ms of work) bounds it at 3.6x.
    assert!(speedup >= 2.0, "the workers did not run concurrently: {got:#?}");
}

#[test]
fn zmq_actors() {
    assert_eq!(
        run("zmq_actors"),
        ["start", "ping", "pong", "ping", "pong", "ping", "pong"],
        "output of example zmq_actors"
    );
}

#[test]
fn zmq_poller() {
    assert_eq!(
        run("zmq_poller"),
        [
            "ready before anything was sent: 0",
            "got task 1",
            "got task 2",
            "got task 3",
            "pipe says tick",
            "control says quit",
        ],
        "output of example zmq_poller"
    );
}

#[test]
fn zmq_proxy() {
    assert_eq!(
        run("zmq_proxy"),
        [
            "client 1 got 3 replies",
            "client 2 got 3 replies",
            "client 3 got 3 replies",
            // Nine requests and nine replies of three frames each.
            "frontend: 27 frames in, 27 frames out",
            "backend: 27 frames in, 27 frames out",
            // Nine times a 5-byte identity, an empty delimiter and a
            // 23-byte body.
            "proxy terminated after 252 bytes of requests",
        ],
        "output of example zmq_proxy"
    );
}

/// The lines of `got` that start with `prefix`, prefix removed.
fn lines_after<'a>(got: &'a [String], prefix: &str) -> Vec<&'a str> {
    got.iter().filter_map(|l| l.strip_prefix(prefix)).collect()
}

#[test]
#[cfg(feature = "draft")]
fn zmq_client_server() {
    let got = run("zmq_client_server");
    for c in 0..3 {
        let expected: Vec<String> = (0..3).map(|r| format!("echo {c}.{r}")).collect();
        assert_eq!(
            lines_after(&got, &format!("client {c} got: ")),
            expected,
            "client {c}: {got:#?}"
        );
    }
    assert_eq!(got.len(), 10, "nine replies and the server's summary: {got:#?}");
    assert_eq!(got.last().map(String::as_str), Some("server answered 9 requests"));
}

#[test]
#[cfg(feature = "draft")]
fn zmq_radio_dish() {
    let got = run("zmq_radio_dish");
    for group in ["weather", "sports"] {
        let expected: Vec<String> = (1..=5).map(|n| format!("{group} {n}")).collect();
        assert_eq!(
            lines_after(&got, &format!("dish {group}: ")),
            expected,
            "dish {group}: {got:#?}"
        );
        let summary = format!("dish {group} got 5 updates");
        let at = got
            .iter()
            .position(|l| *l == summary)
            .unwrap_or_else(|| panic!("no {summary:?}: {got:#?}"));
        let last = got
            .iter()
            .rposition(|l| l.starts_with(&format!("dish {group}: ")))
            .unwrap();
        assert!(last < at, "{summary:?} before its last update: {got:#?}");
    }
    assert_eq!(got.len(), 12, "ten updates and two summaries: {got:#?}");
}
