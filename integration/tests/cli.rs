//! Command-line behaviour of every binary: --help, bad arguments and
//! endpoints that cannot be bound exit non-zero with one clear line.

use std::time::Duration;

use zgreen_integration::*;

mod common;
use common::{exit_code_and_log, expect_one_line_exit};

#[test]
fn help_explains_flags_and_env_vars() {
    for (bin, sub) in [
        ("zbroker", "mdp"),
        ("zbroker", "ppq"),
        ("zbroker", "queue"),
        ("zworker", "mdp"),
        ("zclient", "mdp"),
        ("zdemo", ""),
    ] {
        let mut args = vec![];
        if !sub.is_empty() {
            args.push(sub);
        }
        args.push("--help");
        let mut p = Proc::start(bin, &args);
        let (code, out) = exit_code_and_log(&mut p);
        assert_eq!(code, 0, "{bin} {sub} --help\n{}", p.dump());
        assert!(
            out.contains("ZGREEN_"),
            "{bin} {sub}: no env vars in --help\n{out}"
        );
        assert!(out.contains("Usage"), "{out}");
    }
}

#[test]
fn bad_arguments_exit_2_with_one_line() {
    for args in [
        vec!["mdp"],
        vec!["mdp", "--bind", "tcp://127.0.0.1:1", "--heartbeat-ms", "abc"],
        vec!["nonsense"],
    ] {
        let mut p = Proc::start("zbroker", &args);
        let out = expect_one_line_exit(&mut p, 2, &format!("{args:?}"));
        assert!(out.starts_with("zbroker: "), "{out}");
    }
}

#[test]
fn unbindable_endpoint_exits_1_with_one_line() {
    let broker = Broker::start(&[]);
    let mut p = Proc::start_env(
        "zbroker",
        &["mdp", "--bind", &broker.endpoint],
        &[("RUST_LOG", "off")],
    );
    let out = expect_one_line_exit(&mut p, 1, "zbroker mdp --bind <a bound endpoint>");
    assert!(out.contains("cannot bind"), "{out}");
    let mut p = Proc::start_env("zbroker", &["mdp", "--bind", "bogus://x"], &[("RUST_LOG", "off")]);
    assert_eq!(exit_code_and_log(&mut p).0, 1);
}

#[test]
fn env_vars_work_like_flags() {
    let (ep, _) = endpoint();
    let mut p = Proc::start_env(
        "zbroker",
        &["mdp"],
        &[("ZGREEN_BIND", &ep), ("ZGREEN_HEARTBEAT_MS", "150")],
    );
    assert!(
        p.wait_log("heartbeat_ms=150", 1, Duration::from_secs(10)),
        "{}",
        p.dump()
    );
    p.signal(libc::SIGTERM);
    assert_eq!(p.wait_exit(Duration::from_secs(5)).map(Proc::code), Some(0));
}
