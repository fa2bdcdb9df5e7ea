//! Runs the examples of the glue layer (events, queues, pools, locks,
//! locals, actors) and checks what they print.
//!
//! The example binaries are built by `cargo test` / `cargo build
//! --all-targets` before the tests run; this file only runs them, each
//! under a deadline. A missing or stale binary fails the test: it is
//! never skipped.

use std::time::Duration;

mod common;

/// How long any example may run before the test kills it and fails.
const DEADLINE: Duration = Duration::from_secs(20);

/// Runs an example to completion (killing it at the deadline) and returns
/// its stdout lines; fails the test on a non-zero exit or an overrun.
fn run(name: &str) -> Vec<String> {
    common::run_ok(name, DEADLINE).stdout
}

fn check(name: &str, expected: &[&str]) {
    let got = run(name);
    assert_eq!(got, expected, "output of example {name}");
}

#[test]
fn event() {
    let mut expected = vec!["A: Hey wait for me, I have to do something"];
    expected.extend(["I'll wait for you"; 5]);
    expected.push("Ok, I'm done");
    expected.extend(["It's about time"; 5]);
    check("event", &expected);
}

#[test]
fn async_result() {
    check("async_result", &["Hello!", "Hello from another thread!"]);
}

#[test]
fn queue_workers() {
    let names = ["steve", "john", "nancy"];
    let mut expected: Vec<String> = (1..25)
        .map(|i| format!("Worker {} got task {i}", names[(i - 1) % 3]))
        .collect();
    expected.extend(std::iter::repeat_n("Quitting time!".to_string(), 3));
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    check("queue_workers", &expected);
}

#[test]
fn queue_bounded() {
    let names = ["steve", "john", "bob"];
    let task = |i: usize| format!("Worker {} got task {i}", names[(i - 1) % 3]);
    let mut expected: Vec<String> = (1..=6).map(task).collect();
    expected.push("Assigned all work in iteration 1".into());
    expected.extend((7..=18).map(task));
    expected.push("Assigned all work in iteration 2".into());
    expected.push(task(19));
    expected.extend(std::iter::repeat_n("Quitting time!".to_string(), 3));
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    check("queue_bounded", &expected);
}

#[test]
fn group() {
    check(
        "group",
        &["bar", "bar", "bar", "foo", "foo", "foo", "fizz", "fizz", "fizz"],
    );
}

#[test]
fn group_map() {
    let got = run("group_map");
    assert_eq!(got.len(), 14, "{got:#?}");
    let mut ids = Vec::new();
    for pair in got[..6].chunks(2) {
        assert_eq!(pair[0], "Size of group 3", "{got:#?}");
        let id = pair[1]
            .strip_prefix("Hello from Greenlet ")
            .and_then(|id| id.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("unexpected line {:?}", pair[1]));
        ids.push(id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 3, "three different greenlets: {got:#?}");
    assert_eq!(
        got[6..],
        [
            "Ordered",
            "(\"task\", 0)",
            "(\"task\", 1)",
            "(\"task\", 2)",
            "Unordered",
            "(\"task\", 2)",
            "(\"task\", 1)",
            "(\"task\", 0)",
        ]
    );
}

#[test]
fn pool() {
    check("pool", &["Size of pool 2", "Size of pool 2", "Size of pool 1"]);
}

#[test]
fn socket_pool() {
    check(
        "socket_pool",
        &[
            "listening on socket 0",
            "listening on socket 1",
            "cannot listen on socket 2: At maximum pool size",
            "socket 0 got \"hello 0\"",
            "socket 1 got \"hello 1\"",
            "shut down: 0 handlers left",
        ],
    );
}

#[test]
fn semaphore() {
    check(
        "semaphore",
        &[
            "Worker 0 acquired semaphore",
            "Worker 1 acquired semaphore",
            "Worker 0 released semaphore",
            "Worker 1 released semaphore",
            "Worker 3 acquired semaphore",
            "Worker 4 acquired semaphore",
            "Worker 3 released semaphore",
            "Worker 4 released semaphore",
            "Worker 5 acquired semaphore",
            "Worker 5 released semaphore",
        ],
    );
}

#[test]
fn local() {
    check("local", &["1", "2", "x is not local to f2"]);
}

#[test]
fn actors() {
    check(
        "actors",
        &["start", "ping", "pong", "ping", "pong", "ping", "pong"],
    );
}

#[test]
fn determinism() {
    let got = run("determinism");
    assert_eq!(got.len(), 2, "{got:#?}");
    // OS threads may or may not happen to agree: only the format is fixed.
    assert!(
        got[0] == "OS threads, four identical runs: true"
            || got[0] == "OS threads, four identical runs: false",
        "{got:#?}"
    );
    assert_eq!(got[1], "zgreen Pool, four identical runs: true");
}
