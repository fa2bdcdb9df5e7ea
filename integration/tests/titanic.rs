//! 9/TSP Titanic with real processes: `zbroker mdp`, echo workers,
//! `zbroker titanic` (SIGKILLed and restarted at random points), and the
//! `zclient titanic` load, which checks that every request whose uuid it
//! got is answered exactly once with its own echo, and that closed ones
//! stay closed. Also a torn journal tail, malformed titanic requests, and
//! a full disk (a file-size rlimit on the titanic process).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use zgreen_brokers::titanic::journal::FILE_NAME;
use zgreen_brokers::titanic::record::Record;
use zgreen_integration::*;

const HB: &str = "100";

fn journal_dir(name: &str) -> PathBuf {
    zgreen_harness::fresh_temp_dir("zgreen-titanic", name)
}

/// Starts `zbroker titanic` against `broker` with its journal in `dir`,
/// and waits until its six workers (four titanic.request, titanic.reply,
/// titanic.close) have sent READY.
fn titanic(broker: &Broker, dir: &Path, extra: &[&str]) -> (Proc, String) {
    titanic_env(broker, dir, extra, &[])
}

/// [`titanic`] with extra environment variables.
fn titanic_env(broker: &Broker, dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> (Proc, String) {
    let metrics = metrics_addr();
    let dir = dir.display().to_string();
    let mut args = vec![
        "titanic",
        "--connect",
        &broker.endpoint,
        "--dir",
        &dir,
        "--metrics",
        &metrics,
    ];
    args.extend_from_slice(&QUICK_SESSION);
    args.extend_from_slice(&["--request-workers", "4", "--dispatch-timeout-ms", "1000"]);
    args.extend_from_slice(extra);
    let p = Proc::start_env("zbroker", &args, env);
    assert!(
        p.wait_log("titanic ready", 1, Duration::from_secs(10)),
        "{}",
        p.dump()
    );
    assert!(
        p.wait_log("mdp worker ready", 6, Duration::from_secs(10)),
        "{}\n{}",
        p.dump(),
        broker.proc.dump()
    );
    (p, metrics)
}

fn echo_worker(broker: &Broker, service: &str) -> Proc {
    mdp_worker(&broker.endpoint, service, &QUICK_SESSION)
}

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

fn seed() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64
}

/// xorshift64: enough randomness for kill times, reproducible from the
/// printed seed.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn sigkill_titanic_at_random_points_every_acknowledged_request_answered_once() {
    let broker = Broker::start(&["--heartbeat-ms", HB, "--liveness", "3"]);
    let _w1 = echo_worker(&broker, "echo");
    let _w2 = echo_worker(&broker, "echo");
    broker.expect_workers("echo", 2);
    let dir = journal_dir("kill");
    // A small compaction threshold: the journal is compacted several
    // times during the run, and a SIGKILL may land in the middle of one.
    let flags = ["--fsync", "group", "--compact-min-bytes", "262144"];
    let (mut t, _) = titanic(&broker, &dir, &flags);
    let mut logs = Vec::new();
    let count = 5000u64;
    let n = count.to_string();
    let mut args = load_args(
        &[
            "titanic",
            "--connect",
            &broker.endpoint,
            "--service",
            "echo",
            "--check-closed",
        ],
        &n,
        "16",
        "500",
        "60",
    );
    args.extend(["--poll-ms", "5", "--reply-timeout-ms", "40000"]);
    let mut client = Proc::start("zclient", &args);
    let mut rng = seed() | 1;
    println!("seed {rng}");
    let mut kills = Vec::new();
    let mut last_kill_ms = 0;
    for _ in 0..3 {
        let wait = 300 + next(&mut rng) % 1200;
        std::thread::sleep(Duration::from_millis(wait));
        if !client.alive() {
            break;
        }
        t.kill();
        logs.push(t.log());
        let killed = Instant::now();
        last_kill_ms = unix_ms();
        kills.push(wait);
        // Restart at once on the same journal.
        let (t2, _) = titanic(&broker, &dir, &flags);
        t = t2;
        println!(
            "killed titanic after {wait} ms; back (its workers sent READY) in {:?}",
            killed.elapsed()
        );
    }
    let (code, summary) = client.finish(Duration::from_secs(90));
    let recovered = summary["last_recovered_unix_ms"].as_u64().unwrap_or(0);
    let recovery_ms = recovered.saturating_sub(last_kill_ms);
    println!(
        "titanic SIGKILL x{}: sent {} acknowledged {} received {} lost {} mismatched {} duplicated (closed ones answering again) {} retries {} elapsed {:.1} s; recovery {recovery_ms} ms (last kill to the last answer that needed a retry)",
        kills.len(),
        field(&summary, "sent"),
        field(&summary, "acknowledged"),
        field(&summary, "received"),
        field(&summary, "lost"),
        field(&summary, "mismatched"),
        field(&summary, "reappeared"),
        field(&summary, "retries"),
        summary["elapsed_s"].as_f64().unwrap_or(0.0),
    );
    let ctx = format!("{summary}\n{}\n{}", client.dump(), t.dump());
    assert_eq!(code, 0, "{ctx}");
    assert!(
        !kills.is_empty(),
        "the client finished before the first kill: {ctx}"
    );
    assert_eq!(field(&summary, "sent"), count, "{ctx}");
    assert_eq!(
        field(&summary, "acknowledged"),
        count,
        "every request got a uuid: {ctx}"
    );
    assert_eq!(field(&summary, "received"), count, "{ctx}");
    assert_eq!(field(&summary, "lost"), 0, "{ctx}");
    assert_eq!(field(&summary, "mismatched"), 0, "{ctx}");
    assert_eq!(field(&summary, "reappeared"), 0, "{ctx}");
    assert!(field(&summary, "retries") >= 1, "the kills cost retries: {ctx}");
    logs.push(t.log());
    let compactions: usize = logs.iter().map(|l| l.matches("journal compacted").count()).sum();
    println!("journal compactions during the run: {compactions}");
    assert!(compactions >= 1, "the journal was never compacted: {ctx}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A raw MDP call to a titanic service (one attempt, 5 s).
fn call(ctx: &zmq::Context, broker: &Broker, service: &str, body: &[&[u8]]) -> Vec<Vec<u8>> {
    let r = mdp_call(ctx, &broker.endpoint, service.as_bytes(), body)
        .unwrap_or_else(|| panic!("no answer from {service}\n{}", broker.proc.dump()));
    r[3..].to_vec()
}

fn status(frames: &[Vec<u8>]) -> &str {
    frames
        .first()
        .map(|f| std::str::from_utf8(f).unwrap_or("?"))
        .unwrap_or("")
}

#[test]
fn a_torn_journal_tail_is_dropped_on_restart_and_malformed_requests_get_400() {
    let broker = Broker::start(&["--heartbeat-ms", HB]);
    let dir = journal_dir("torn");
    let (mut t, metrics) = titanic(&broker, &dir, &["--fsync", "always"]);
    let ctx = zmq::Context::new();
    // Malformed requests: an error reply, counted, and titanic goes on.
    let r = call(&ctx, &broker, "titanic.request", &[]);
    assert_eq!(status(&r), "400", "{r:?}");
    let r = call(&ctx, &broker, "titanic.reply", &[b"not-a-uuid"]);
    assert_eq!(status(&r), "400", "{r:?}");
    assert!(String::from_utf8_lossy(&r[1]).contains("not a uuid"), "{r:?}");
    let r = call(&ctx, &broker, "titanic.close", &[b"a", b"b"]);
    assert_eq!(status(&r), "400", "{r:?}");
    let r = call(&ctx, &broker, "titanic.request", &[b"titanic.request", b"loop"]);
    assert_eq!(status(&r), "400", "{r:?}");
    let dropped = scrape(&metrics).ok().and_then(|m| {
        metric(
            &m,
            "zgreen_dropped_messages_total",
            "reason=\"titanic_malformed\"",
        )
    });
    assert_eq!(dropped, Some(4.0), "{}", t.dump());
    // Twenty requests for a service with no worker: stored, pending.
    let uuids: Vec<String> = (0..20)
        .map(|i: u32| {
            let r = call(&ctx, &broker, "titanic.request", &[b"later", &i.to_be_bytes()]);
            assert_eq!(status(&r), "200", "{r:?}");
            String::from_utf8(r[1].clone()).unwrap()
        })
        .collect();
    t.kill();
    let path = dir.join(FILE_NAME);
    let good = std::fs::metadata(&path).unwrap().len();
    // A torn tail: the first half of a valid record, as a crash in the
    // middle of a write leaves it.
    let torn_uuid = uuid::Uuid::new_v4();
    let record = Record::Request {
        uuid: torn_uuid,
        service: b"later".to_vec(),
        body: vec![vec![7; 100]],
    }
    .encode();
    let half = &record[..record.len() / 2];
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(half);
    std::fs::write(&path, &bytes).unwrap();
    let (t, _) = titanic(&broker, &dir, &["--fsync", "always"]);
    let log = t.log();
    assert!(log.contains("dropped a torn tail"), "{}", t.dump());
    assert!(
        log.contains(&format!("dropped_bytes={}", half.len())),
        "{}",
        t.dump()
    );
    assert!(log.contains("records=20"), "{}", t.dump());
    assert_eq!(std::fs::metadata(&path).unwrap().len(), good, "truncated back");
    for u in &uuids {
        let r = call(&ctx, &broker, "titanic.reply", &[u.as_bytes()]);
        assert_eq!(status(&r), "300", "{u}: {r:?}");
    }
    let torn = torn_uuid.simple().to_string();
    let r = call(&ctx, &broker, "titanic.reply", &[torn.as_bytes()]);
    assert_eq!(status(&r), "400", "the torn record was not misread: {r:?}");
    // Now a worker comes: the stored requests are dispatched and answered.
    let _w = echo_worker(&broker, "later");
    for (i, u) in uuids.iter().enumerate() {
        let got = wait_until(Duration::from_secs(10), || {
            status(&call(&ctx, &broker, "titanic.reply", &[u.as_bytes()])) == "200"
        });
        assert!(got, "{u} not answered\n{}", t.dump());
        let r = call(&ctx, &broker, "titanic.reply", &[u.as_bytes()]);
        assert_eq!(r[1], (i as u32).to_be_bytes(), "{r:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn disk_full_refuses_new_requests_with_a_clear_error_and_loses_none_accepted() {
    let broker = Broker::start(&["--heartbeat-ms", HB]);
    let dir = journal_dir("full");
    // Logs at info: the file-size limit also applies to the process's log
    // file, which must keep room for the error lines.
    let (mut t, _) = titanic_env(&broker, &dir, &["--fsync", "always"], &[("RUST_LOG", "info")]);
    let path = dir.join(FILE_NAME);
    // Every file of the process may grow to `limit`; the journal fills
    // its room long before the log does (1 KiB requests, a few short log
    // lines), then its writes fail with EFBIG (titanic ignores SIGXFSZ).
    let log_len = t.log().len() as u64;
    let limit = std::fs::metadata(&path).unwrap().len().max(log_len) + 16384;
    let set = std::process::Command::new("prlimit")
        .args(["--pid", &t.pid().to_string(), &format!("--fsize={limit}:{limit}")])
        .status()
        .expect("prlimit (util-linux) runs");
    assert!(set.success(), "prlimit failed");
    let ctx = zmq::Context::new();
    let mut accepted = Vec::new();
    let mut refusals = Vec::new();
    for i in 0..200u32 {
        let r = call(
            &ctx,
            &broker,
            "titanic.request",
            &[b"later", &i.to_be_bytes(), &[1; 1024]],
        );
        match status(&r) {
            "200" => accepted.push((i, String::from_utf8(r[1].clone()).unwrap())),
            "500" => refusals.push(String::from_utf8_lossy(&r[1]).into_owned()),
            other => panic!("unexpected {other}: {r:?}"),
        }
        if refusals.len() >= 5 {
            break;
        }
    }
    println!(
        "disk full (RLIMIT_FSIZE {limit} bytes): accepted {}, refused {}, first refusal: {}",
        accepted.len(),
        refusals.len(),
        refusals.first().map(String::as_str).unwrap_or("-")
    );
    assert!(accepted.len() >= 5, "some fit: {accepted:?}");
    assert_eq!(refusals.len(), 5, "{}", t.dump());
    assert!(
        refusals.iter().all(|r| r.contains("file size limit")),
        "a clear error: {refusals:?}"
    );
    assert!(t.log().contains("journal commit failed"), "{}", t.dump());
    assert!(std::fs::metadata(&path).unwrap().len() <= limit);
    // Restart without the limit: nothing accepted is lost, no torn tail
    // (the failed writes were cut back).
    t.kill();
    let (t, _) = titanic(&broker, &dir, &["--fsync", "always"]);
    assert!(!t.log().contains("torn"), "{}", t.dump());
    assert!(
        t.log().contains(&format!("records={}", accepted.len())),
        "{}",
        t.dump()
    );
    let _w = echo_worker(&broker, "later");
    for (i, u) in &accepted {
        let got = wait_until(Duration::from_secs(10), || {
            status(&call(&ctx, &broker, "titanic.reply", &[u.as_bytes()])) == "200"
        });
        assert!(got, "accepted request {i} ({u}) lost\n{}", t.dump());
        let r = call(&ctx, &broker, "titanic.reply", &[u.as_bytes()]);
        assert_eq!(r[1], i.to_be_bytes(), "{r:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
