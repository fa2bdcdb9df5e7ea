//! Binary Star with real processes: a primary and a backup `zbroker mdp`
//! exchanging state heartbeats, workers registered with both, and
//! `zclient mdp` failing over between the two endpoints.

use std::time::{Duration, Instant};

use zgreen_integration::*;

mod common;
use common::mdp_echo_args;

const HB: &str = "100";
/// The state heartbeat: the peer is gone after two silent ones (400 ms),
/// which leaves a loaded CI machine room; clients time out after 600 ms.
const PEER_HB: &str = "200";

struct Pair {
    primary: Broker,
    backup: Broker,
    /// `primary,backup` endpoints, for workers and clients.
    both: String,
    primary_args: Vec<String>,
}

fn bstar_args(role: &str, bind: &str, peer: &str) -> Vec<String> {
    [
        "--heartbeat-ms",
        HB,
        "--role",
        role,
        "--state-bind",
        bind,
        "--peer",
        peer,
        "--peer-heartbeat-ms",
        PEER_HB,
    ]
    .map(String::from)
    .to_vec()
}

fn start(ep: &str, args: &[String]) -> Broker {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Broker::start_on(Some(ep), &args)
}

/// A primary and a backup that have settled (active / passive), with two
/// echo workers registered at both.
fn pair() -> (Pair, Vec<Proc>) {
    let (p_ep, b_ep, p_state, b_state) = (endpoint().0, endpoint().0, endpoint().0, endpoint().0);
    let primary_args = bstar_args("primary", &p_state, &b_state);
    let primary = start(&p_ep, &primary_args);
    let backup = start(&b_ep, &bstar_args("backup", &b_state, &p_state));
    assert!(
        primary.proc.wait_log("role=active", 1, Duration::from_secs(10)),
        "{}",
        primary.proc.dump()
    );
    assert!(
        backup.proc.wait_log("role=passive", 1, Duration::from_secs(10)),
        "{}",
        backup.proc.dump()
    );
    let both = format!("{p_ep},{b_ep}");
    let workers: Vec<Proc> = (0..2)
        .map(|_| mdp_worker(&both, "echo", &QUICK_SESSION))
        .collect();
    primary.expect_workers("echo", 2);
    backup.expect_workers("echo", 2);
    let pair = Pair {
        primary,
        backup,
        both,
        primary_args,
    };
    (pair, workers)
}

fn roles(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains("bstar role"))
        .filter_map(|l| l.split("role=").nth(1))
        .filter_map(|r| r.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

#[test]
fn kill_the_primary_under_load_clients_continue_on_the_backup_and_the_primary_rejoins_passive() {
    let (mut pair, _workers) = pair();
    let p_ep = pair.primary.endpoint.clone();
    let mut args = mdp_echo_args(&pair.both, "3000", "4", "600", "10");
    args.extend(["--interval-ms", "2"]);
    let mut client = Proc::start("zclient", &args);
    std::thread::sleep(Duration::from_millis(1000));
    assert!(
        !pair.backup.proc.log().contains("role=active"),
        "the backup went active while the primary lived\n{}",
        pair.backup.proc.dump()
    );
    let killed_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let killed = Instant::now();
    pair.primary.proc.kill();
    assert!(
        pair.backup
            .proc
            .wait_log("role=active", 1, Duration::from_secs(10)),
        "no failover\n{}",
        pair.backup.proc.dump()
    );
    let takeover = killed.elapsed();
    let (code, summary) = client.finish(Duration::from_secs(60));
    let recovered = field(&summary, "last_recovered_unix_ms");
    println!(
        "primary SIGKILL under load: sent {} received {} lost {} late/duplicated {} retries {}; backup active {takeover:?} after the kill; last disrupted request answered {} ms after the kill",
        field(&summary, "sent"),
        field(&summary, "received"),
        field(&summary, "lost"),
        field(&summary, "late"),
        field(&summary, "retries"),
        recovered.saturating_sub(killed_ms)
    );
    let ctx = format!("{summary}\n{}\n{}", client.dump(), pair.backup.proc.dump());
    assert_eq!(code, 0, "{ctx}");
    assert_eq!(field(&summary, "sent"), 3000, "{ctx}");
    assert_eq!(field(&summary, "received"), 3000, "{ctx}");
    assert_eq!(field(&summary, "lost"), 0, "{ctx}");
    assert_eq!(field(&summary, "mismatched"), 0, "{ctx}");
    assert!(
        field(&summary, "retries") >= 1,
        "the failover cost retries: {ctx}"
    );
    assert!(field(&summary, "late") <= field(&summary, "retries"), "{ctx}");
    // The primary comes back: it finds an active backup and stays passive.
    let old_log = pair.primary.proc.log();
    let primary = start(&p_ep, &pair.primary_args);
    assert!(
        primary.proc.wait_log("role=passive", 1, Duration::from_secs(10)),
        "{}",
        primary.proc.dump()
    );
    primary.expect_workers("echo", 2);
    let b_roles = roles(&pair.backup.proc.log());
    let p_roles = roles(&primary.proc.log());
    println!(
        "role logs: old primary {:?}, backup {b_roles:?}, restarted primary {p_roles:?}",
        roles(&old_log)
    );
    assert_eq!(
        b_roles,
        ["backup", "passive", "active"],
        "{}",
        pair.backup.proc.dump()
    );
    assert_eq!(p_roles, ["primary", "passive"], "{}", primary.proc.dump());
    assert_eq!(pair.backup.metric("zgreen_bstar_state", "state=\"active\""), 1.0);
    assert_eq!(primary.metric("zgreen_bstar_state", "state=\"passive\""), 1.0);
    assert_eq!(primary.metric("zgreen_bstar_state", "state=\"active\""), 0.0);
    // Clients keep working against the pair (served by the backup).
    let (code, summary, c) = run_client(
        &mdp_echo_args(&pair.both, "200", "2", "600", "10"),
        Duration::from_secs(30),
    );
    assert_eq!(code, 0, "{}", c.dump());
    assert_eq!(field(&summary, "received"), 200);
    assert!(
        !primary.proc.log().contains("role=active"),
        "{}",
        primary.proc.dump()
    );
}

#[test]
fn a_silent_primary_without_client_requests_keeps_the_backup_passive() {
    let (pair, _workers) = pair();
    // The primary falls silent (SIGSTOP): no client asks, so the backup
    // stays passive however long it lasts.
    pair.primary.proc.signal(libc::SIGSTOP);
    std::thread::sleep(Duration::from_millis(1000));
    let still = roles(&pair.backup.proc.log());
    // A client request reaches the backup: now it takes over.
    let (code, summary, c) = run_client(
        &mdp_echo_args(&pair.both, "20", "1", "600", "10"),
        Duration::from_secs(30),
    );
    pair.primary.proc.signal(libc::SIGCONT);
    assert_eq!(still, ["backup", "passive"], "{}", pair.backup.proc.dump());
    assert_eq!(code, 0, "{}", c.dump());
    assert_eq!(field(&summary, "received"), 20);
    assert!(
        pair.backup
            .proc
            .wait_log("role=active", 1, Duration::from_secs(5)),
        "{}",
        pair.backup.proc.dump()
    );
    // The primary resumes, still active: the two see each other active
    // and the backup yields, so one broker is active again.
    assert!(
        pair.backup
            .proc
            .wait_log("event=dual_active_backup_yields", 1, Duration::from_secs(5)),
        "{}",
        pair.backup.proc.dump()
    );
    assert_eq!(
        roles(&pair.backup.proc.log()),
        ["backup", "passive", "active", "passive"]
    );
    assert_eq!(roles(&pair.primary.proc.log()), ["primary", "active"]);
    assert!(wait_until(Duration::from_secs(5), || {
        pair.backup.metric("zgreen_bstar_state", "state=\"passive\"") == 1.0
            && pair.primary.metric("zgreen_bstar_state", "state=\"active\"") == 1.0
    }));
}

#[test]
fn kill_the_primary_under_a_titanic_load_no_acknowledged_request_is_lost() {
    let (mut pair, _workers) = pair();
    let dir = zgreen_harness::fresh_temp_dir("zgreen-bstar", "titanic");
    let dir_s = dir.display().to_string();
    let titanic = Proc::start(
        "zbroker",
        &[
            &["titanic", "--connect", &pair.both, "--dir", &dir_s][..],
            &QUICK_SESSION,
            &["--request-workers", "4", "--dispatch-timeout-ms", "500"],
        ]
        .concat(),
    );
    // Six workers (4 + reply + close) at each of the two brokers.
    assert!(
        titanic.wait_log("mdp worker ready", 12, Duration::from_secs(10)),
        "{}",
        titanic.dump()
    );
    assert!(
        pair.backup
            .wait_workers("titanic.request", 4, Duration::from_secs(10))
    );
    let mut args = load_args(
        &[
            "titanic",
            "--connect",
            &pair.both,
            "--service",
            "echo",
            "--check-closed",
        ],
        "2000",
        "8",
        "600",
        "40",
    );
    args.extend(["--poll-ms", "5"]);
    let mut client = Proc::start("zclient", &args);
    std::thread::sleep(Duration::from_millis(1500));
    pair.primary.proc.kill();
    let (code, summary) = client.finish(Duration::from_secs(60));
    println!(
        "primary SIGKILL under a titanic load: sent {} acknowledged {} received {} lost {} mismatched {} duplicated (closed ones answering again) {} retries {}",
        field(&summary, "sent"),
        field(&summary, "acknowledged"),
        field(&summary, "received"),
        field(&summary, "lost"),
        field(&summary, "mismatched"),
        field(&summary, "reappeared"),
        field(&summary, "retries"),
    );
    let ctx = format!("{summary}\n{}\n{}", client.dump(), titanic.dump());
    assert_eq!(code, 0, "{ctx}");
    assert_eq!(field(&summary, "acknowledged"), 2000, "{ctx}");
    assert_eq!(field(&summary, "received"), 2000, "{ctx}");
    assert_eq!(field(&summary, "lost"), 0, "{ctx}");
    assert_eq!(field(&summary, "mismatched"), 0, "{ctx}");
    assert_eq!(field(&summary, "reappeared"), 0, "{ctx}");
    assert!(
        field(&summary, "retries") >= 1,
        "the failover cost retries: {ctx}"
    );
    assert_eq!(roles(&pair.backup.proc.log()), ["backup", "passive", "active"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn malformed_state_messages_are_counted_and_change_nothing() {
    // The test plays the peer: a PUB that sends garbage, then a valid
    // "active" state.
    let ctx = zmq::Context::new();
    let peer = ctx.socket(zmq::PUB).unwrap();
    peer.set_linger(0).unwrap();
    let (peer_ep, _) = endpoint();
    peer.bind(&peer_ep).unwrap();
    let (ep, state) = (endpoint().0, endpoint().0);
    let mut b = start(&ep, &bstar_args("backup", &state, &peer_ep));
    let sent = wait_until(Duration::from_secs(10), || {
        for bad in [&b"9"[..], b"", b"33", b"active"] {
            peer.send(bad, 0).unwrap();
        }
        peer.send_multipart([&b"3"[..], b"3"], 0).unwrap();
        b.metric("zgreen_dropped_messages_total", "reason=\"bstar_bad_state\"") >= 5.0
    });
    assert!(sent, "{}", b.proc.dump());
    assert_eq!(roles(&b.proc.log()), ["backup"], "garbage changed nothing");
    assert!(b.proc.alive());
    peer.send("3", 0).unwrap();
    assert!(
        b.proc.wait_log("role=passive", 1, Duration::from_secs(5)),
        "a valid state still counts\n{}",
        b.proc.dump()
    );
}
