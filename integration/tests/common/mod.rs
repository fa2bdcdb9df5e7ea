//! Helpers shared by several test files of this crate, on top of the
//! crate's own library (`zgreen_integration`).

// Each test file uses only some of these helpers.
#![allow(dead_code)]

use std::time::Duration;

use zgreen_integration::{Broker, Proc, load_args, wait_until};

/// Waits (5 s at most) until the broker's metric `name` with `labels` is
/// at least `at_least`; fails the test with `what` and the broker's log if
/// it is not.
pub fn expect_metric(broker: &Broker, name: &str, labels: &str, at_least: f64, what: &str) {
    assert!(
        wait_until(Duration::from_secs(5), || broker.metric(name, labels) >= at_least),
        "{what}: {name}{{{labels}}} stayed below {at_least}\n{}",
        broker.proc.dump()
    );
}

/// Waits (10 s at most) for `p` to exit; its exit code and its log.
///
/// # Panics
/// If it is still running then.
pub fn exit_code_and_log(p: &mut Proc) -> (i32, String) {
    let status = p.wait_exit(Duration::from_secs(10)).expect("exits");
    (Proc::code(status), p.log())
}

/// Waits (10 s at most) for `p` to exit, checks that it exited with
/// `code` after printing exactly one line (`what` names the run in the
/// failure messages), and returns that output.
pub fn expect_one_line_exit(p: &mut Proc, code: i32, what: &str) -> String {
    let (got, out) = exit_code_and_log(p);
    assert_eq!(got, code, "{what}\n{}", p.dump());
    assert_eq!(out.trim().lines().count(), 1, "{what}: not one line:\n{out}");
    out
}

/// The arguments of a `zclient mdp` load of the `echo` service at `ep`
/// (see [`load_args`]).
pub fn mdp_echo_args<'a>(
    ep: &'a str,
    count: &'a str,
    concurrency: &'a str,
    timeout_ms: &'a str,
    retries: &'a str,
) -> Vec<&'a str> {
    load_args(
        &["mdp", "--connect", ep, "--service", "echo"],
        count,
        concurrency,
        timeout_ms,
        retries,
    )
}
