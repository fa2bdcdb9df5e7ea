//! Spawning past what the kernel allows returns `Error::StackAlloc`: never
//! a hang, never an abort. Each scenario runs in a child process (this test
//! binary re-executed with `ZGREEN_LIMIT_CHILD`), because exhausting the
//! process's memory mappings would disturb the other tests.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use zgreen::Error;

const CHILD_ENV: &str = "ZGREEN_LIMIT_CHILD";

/// Runs the named child scenario with a deadline; returns its stdout.
fn run_child(scenario: &str) -> String {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, scenario)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Drain both pipes while waiting, so a chatty child cannot block on a
    // full pipe.
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut out_pipe, &mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err_pipe, &mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("child scenario {scenario} hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = out_reader.join().unwrap();
    let stderr = err_reader.join().unwrap();
    assert!(
        status.success(),
        "child {scenario} failed ({status:?})\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    stdout
}

/// Spawns parked greenlets with `stack_bytes` stacks until spawning fails;
/// checks the error, then that the hub recovers once they are gone.
fn spawn_until_error(stack_bytes: usize, max: usize) {
    let mut live = Vec::new();
    let err = loop {
        if live.len() == max {
            panic!("spawned {max} greenlets without hitting the limit");
        }
        match zgreen::Builder::new()
            .stack_bytes(stack_bytes)
            .spawn(|| zgreen::sleep(Duration::from_secs(3600)))
        {
            Ok(g) => live.push(g),
            Err(e) => break e,
        }
    };
    match &err {
        Error::StackAlloc {
            stack_bytes: b,
            live: n,
            ..
        } => {
            assert_eq!(*b, stack_bytes);
            assert_eq!(*n, live.len());
        }
        other => panic!("expected StackAlloc, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("vm.max_map_count"), "{msg}");
    println!("LIMIT live={} error={msg}", live.len());
    // Everything spawned before the failure runs, parks, and dies cleanly.
    zgreen::sleep(Duration::ZERO).unwrap();
    assert_eq!(zgreen::hub_stats().live_greenlets, live.len());
    zgreen::killall(&live).unwrap();
    assert!(live.iter().all(|g| matches!(g.get(), Ok(Err(Error::Killed)))));
    drop(live);
    zgreen::release_pooled_stacks();
    let g = zgreen::spawn(|| 1 + 1);
    assert_eq!(g.get().unwrap(), 2);
    println!("RECOVERED");
}

#[test]
fn child_entry() {
    let Ok(scenario) = std::env::var(CHILD_ENV) else {
        return; // only meaningful when re-executed by the tests below
    };
    match scenario.as_str() {
        "map_count" => spawn_until_error(16 * 1024, 200_000),
        "rlimit_as" => {
            // Leave 256 MiB of address space above what is mapped now.
            let status = std::fs::read_to_string("/proc/self/status").unwrap();
            let vm_kib: u64 = status
                .lines()
                .find(|l| l.starts_with("VmSize:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .unwrap()
                .parse()
                .unwrap();
            let limit = (vm_kib + 256 * 1024) * 1024;
            let rl = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            // SAFETY: setrlimit reads the struct we pass; no memory is shared.
            let rc = unsafe { libc::setrlimit(libc::RLIMIT_AS, &rl) };
            assert_eq!(rc, 0);
            spawn_until_error(1024 * 1024, 10_000);
        }
        other => panic!("unknown scenario {other}"),
    }
}

/// The `live=` count of the child's `LIMIT live=` line.
fn live_at_the_limit(out: &str) -> usize {
    let line = out
        .lines()
        .find(|l| l.contains("LIMIT live="))
        .expect("no LIMIT line");
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("live="))
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn map_count_limit_gives_a_clear_error() {
    let out = run_child("map_count");
    let live = live_at_the_limit(&out);
    // Two mappings per live stack; the limit is read from the kernel.
    let max_maps: usize = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        live > max_maps / 2 - 2000 && live <= max_maps / 2,
        "live={live} max_map_count={max_maps}"
    );
    assert!(out.contains("RECOVERED"), "{out}");
}

#[test]
fn address_space_limit_gives_a_clear_error() {
    let out = run_child("rlimit_as");
    let live = live_at_the_limit(&out);
    // 256 MiB of room, 1 MiB + a guard page per stack.
    assert!((100..=256).contains(&live), "live={live}");
    assert!(out.contains("RECOVERED"), "{out}");
}
