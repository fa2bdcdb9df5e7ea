//! Helpers for the multi-process tests in `tests/`: the binaries of
//! `zgreen-brokers` as child processes that are SIGKILLed on drop (and
//! when the test thread dies), free ports, raw ZeroMQ peers, deadlines.
#![deny(missing_docs, missing_debug_implementations, rust_2018_idioms)]

use std::cell::Cell;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub use zgreen_brokers::procs::{free_port, metric, scrape};
use zgreen_harness::{ChildGuard, die_with_parent};

/// The session flags of a quick test worker (or titanic process):
/// heartbeats every 100 ms, reconnects after 100 ms backing off to
/// 400 ms.
pub const QUICK_SESSION: [&str; 6] = [
    "--heartbeat-ms",
    "100",
    "--reconnect-ms",
    "100",
    "--reconnect-max-ms",
    "400",
];

/// The path of a workspace binary, `target/<profile>/<name>`.
///
/// # Panics
/// If it has not been built: run `cargo build --workspace` first (the
/// project's test command does).
pub fn bin(name: &str) -> PathBuf {
    match zgreen_brokers::procs::sibling(name) {
        Ok(p) => p,
        Err(e) => panic!("{e}. Run `cargo build --workspace` before these tests."),
    }
}

/// A running binary; SIGKILLed and reaped on drop (its [`ChildGuard`]
/// does it), and when the test thread dies.
#[derive(Debug)]
pub struct Proc {
    /// A name for messages.
    pub name: String,
    child: ChildGuard,
    log: PathBuf,
}

static NEXT: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static THREADS: Cell<Option<u16>> = const { Cell::new(None) };
}

/// Runs `f` with every process this thread starts getting
/// `ZGREEN_THREADS=n` in its environment: `zbroker mdp` and the devices
/// read it as `--threads n` (a `zdemo` passes it on to its broker); the
/// other binaries ignore it.
pub fn with_threads<T>(n: u16, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<u16>);
    impl Drop for Restore {
        fn drop(&mut self) {
            THREADS.with(|t| t.set(self.0));
        }
    }
    let _restore = Restore(THREADS.with(|t| t.replace(Some(n))));
    f()
}

/// The `--threads` of [`with_threads`] on this thread, if any.
pub fn threads() -> Option<u16> {
    THREADS.with(Cell::get)
}

/// Turns each `fn name() { ... }` into a module `name` with the tests
/// `threads_1` and `threads_2`, which run the body under
/// [`with_threads`]`(1, ..)` and `(2, ..)`: every broker and device the
/// body starts runs with `--threads 1`, then `--threads 2`. Attributes
/// (doc comments) go on the module; the body sees the file's items.
#[macro_export]
macro_rules! threads_tests {
    ($($(#[$meta:meta])* fn $name:ident() $body:block)*) => {$(
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn body() $body

            #[test]
            fn threads_1() {
                $crate::with_threads(1, body)
            }

            #[test]
            fn threads_2() {
                $crate::with_threads(2, body)
            }
        }
    )*};
}

fn log_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("zgreen-integration-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

impl Proc {
    /// Starts `bin(program)` with `args`; stdout and stderr go to a log
    /// file (see [`log`](Self::log)).
    pub fn start(program: &str, args: &[&str]) -> Proc {
        Proc::start_env(program, args, &[])
    }

    /// [`start`](Self::start) with extra environment variables.
    pub fn start_env(program: &str, args: &[&str], env: &[(&str, &str)]) -> Proc {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let log = log_dir().join(format!("{program}-{n}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let mut cmd = Command::new(bin(program));
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("dup"))
            .stderr(file)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "debug".into()),
            );
        if let Some(n) = threads() {
            cmd.env("ZGREEN_THREADS", n.to_string());
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = ChildGuard::spawn(die_with_parent(&mut cmd))
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        Proc {
            name: format!("{program}#{n}"),
            child,
            log,
        }
    }

    /// The process id.
    pub fn pid(&self) -> i32 {
        self.child.pid() as i32
    }

    /// Sends `signal` (nothing once the process has been reaped).
    pub fn signal(&self, signal: i32) {
        let _ = self.child.signal(signal);
    }

    /// Waits at most `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.child.wait_timeout(timeout).ok().flatten()
    }

    /// True while the process runs.
    pub fn alive(&mut self) -> bool {
        self.wait_exit(Duration::ZERO).is_none()
    }

    /// SIGKILLs the process (continuing it first, should it be stopped)
    /// and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
    }

    /// Everything the process printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log contains `needle` `count` times.
    pub fn wait_log(&self, needle: &str, count: usize, timeout: Duration) -> bool {
        wait_until(timeout, || self.log().matches(needle).count() >= count)
    }

    /// The log, for assertion messages.
    pub fn dump(&self) -> String {
        format!("----- {} log -----\n{}\n-----", self.name, self.log())
    }

    /// The last JSON line the process printed.
    ///
    /// # Panics
    /// If there is none (with the log).
    pub fn last_json(&self) -> serde_json::Value {
        self.log()
            .lines()
            .rev()
            .find_map(|l| serde_json::from_str(l).ok())
            .unwrap_or_else(|| panic!("no JSON line\n{}", self.dump()))
    }

    /// The JSON summary the process printed last (a line with `sent`).
    ///
    /// # Panics
    /// If there is none (with the log).
    pub fn summary(&self) -> serde_json::Value {
        self.log()
            .lines()
            .rev()
            .find_map(|l| {
                serde_json::from_str::<serde_json::Value>(l)
                    .ok()
                    .filter(|v| v.get("sent").is_some())
            })
            .unwrap_or_else(|| panic!("no JSON summary\n{}", self.dump()))
    }

    /// Waits at most `timeout` for a client to finish; its exit code and
    /// [`summary`](Self::summary).
    ///
    /// # Panics
    /// If it is still running after `timeout` (with the log).
    pub fn finish(&mut self, timeout: Duration) -> (i32, serde_json::Value) {
        let Some(status) = self.wait_exit(timeout) else {
            panic!("{} did not finish within {timeout:?}\n{}", self.name, self.dump());
        };
        (Proc::code(status), self.summary())
    }

    /// The exit code, or the signal as `-signal`.
    pub fn code(status: ExitStatus) -> i32 {
        status.code().unwrap_or_else(|| -status.signal().unwrap_or(0))
    }
}

/// Polls `f` every 20 ms until it is true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `tcp://127.0.0.1:PORT` on a free port, and the port.
pub fn endpoint() -> (String, u16) {
    let p = free_port().expect("free port");
    (format!("tcp://127.0.0.1:{p}"), p)
}

/// `127.0.0.1:PORT` on a free port, for `--metrics`.
pub fn metrics_addr() -> String {
    format!("127.0.0.1:{}", free_port().expect("free port"))
}

/// An MDP broker with its endpoint and metrics address.
#[derive(Debug)]
pub struct Broker {
    /// The process.
    pub proc: Proc,
    /// `tcp://127.0.0.1:PORT`.
    pub endpoint: String,
    /// `127.0.0.1:PORT` of its metrics.
    pub metrics: String,
}

impl Broker {
    /// Starts `zbroker mdp` on a free port with `extra` flags, waiting
    /// until its metrics answer (retries on a port taken meanwhile).
    pub fn start(extra: &[&str]) -> Broker {
        Broker::start_on(None, extra)
    }

    /// [`start`](Self::start) on a given endpoint (a restart).
    pub fn start_on(endpoint: Option<&str>, extra: &[&str]) -> Broker {
        for _ in 0..5 {
            let ep = endpoint.map(str::to_string).unwrap_or_else(endpoint_fresh);
            let metrics = metrics_addr();
            let mut args = vec!["mdp", "--bind", &ep, "--metrics", &metrics];
            args.extend_from_slice(extra);
            let mut proc = Proc::start("zbroker", &args);
            let up = wait_until(Duration::from_secs(10), || {
                scrape(&metrics).is_ok() || proc.wait_exit(Duration::ZERO).is_some()
            });
            if up && proc.alive() {
                if let Some(n) = threads() {
                    let said = format!("threads={n}");
                    assert!(
                        proc.wait_log(&said, 1, Duration::from_secs(5)),
                        "the broker does not say {said}\n{}",
                        proc.dump()
                    );
                }
                return Broker {
                    proc,
                    endpoint: ep,
                    metrics,
                };
            }
            if endpoint.is_some() && !proc.log().contains("Address already in use") {
                panic!("broker did not start\n{}", proc.dump());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("could not start a broker");
    }

    /// A metric of the broker (0 if absent or unreachable).
    pub fn metric(&self, name: &str, labels: &str) -> f64 {
        scrape(&self.metrics)
            .ok()
            .and_then(|t| metric(&t, name, labels))
            .unwrap_or(0.0)
    }

    /// Waits until `n` workers of `service` are registered.
    pub fn wait_workers(&self, service: &str, n: usize, timeout: Duration) -> bool {
        let labels = format!("service=\"{service}\"");
        wait_until(timeout, || {
            self.metric("zgreen_live_workers", &labels) as usize == n
        })
    }

    /// Waits (10 s at most) until `n` workers of `service` are
    /// registered.
    ///
    /// # Panics
    /// If they are not (with the broker's log).
    pub fn expect_workers(&self, service: &str, n: usize) {
        assert!(
            self.wait_workers(service, n, Duration::from_secs(10)),
            "{}",
            self.proc.dump()
        );
    }
}

fn endpoint_fresh() -> String {
    endpoint().0
}

/// Starts `zworker mdp` for `service` on `endpoint` with `extra` flags.
pub fn mdp_worker(endpoint: &str, service: &str, extra: &[&str]) -> Proc {
    let mut args = vec!["mdp", "--connect", endpoint, "--service", service];
    args.extend_from_slice(extra);
    Proc::start("zworker", &args)
}

/// A blocking raw ZeroMQ socket for protocol tests, with receive timeout.
pub fn raw_socket(
    ctx: &zmq::Context,
    kind: zmq::SocketType,
    endpoint: &str,
    identity: Option<&[u8]>,
) -> zmq::Socket {
    let s = ctx.socket(kind).expect("socket");
    s.set_linger(0).unwrap();
    s.set_rcvtimeo(5000).unwrap();
    s.set_sndtimeo(5000).unwrap();
    if let Some(id) = identity {
        s.set_identity(id).unwrap();
    }
    s.connect(endpoint).expect("connect");
    s
}

/// Receives one multipart message, or `None` after the socket's timeout.
pub fn recv(s: &zmq::Socket) -> Option<Vec<Vec<u8>>> {
    s.recv_multipart(0).ok()
}

/// Receives until a message that is not an MDP worker HEARTBEAT.
pub fn recv_skip_heartbeats(s: &zmq::Socket) -> Option<Vec<Vec<u8>>> {
    loop {
        let m = recv(s)?;
        if m != [b"".to_vec(), b"MDPW01".to_vec(), vec![0x04]] {
            return Some(m);
        }
    }
}

/// One MDP request from a raw DEALER; the reply's frames.
pub fn mdp_call(ctx: &zmq::Context, endpoint: &str, service: &[u8], body: &[&[u8]]) -> Option<Vec<Vec<u8>>> {
    let s = raw_socket(ctx, zmq::DEALER, endpoint, None);
    let mut frames: Vec<&[u8]> = vec![b"", b"MDPC01", service];
    frames.extend_from_slice(body);
    s.send_multipart(frames, 0).ok()?;
    recv(&s)
}

/// Runs `zclient` with `args` to completion (bounded by `timeout`);
/// returns its exit code and the JSON summary it printed (`--json`).
pub fn run_client(args: &[&str], timeout: Duration) -> (i32, serde_json::Value, Proc) {
    let mut p = Proc::start("zclient", args);
    let (code, summary) = p.finish(timeout);
    (code, summary, p)
}

/// The arguments of a `zclient` load against `target` (the pattern and
/// where to, `["lazy", "--connect", ep]` say): `count` requests from
/// `concurrency` green clients, `timeout_ms` before each of `retries`
/// retries, no progress lines, a JSON summary.
pub fn load_args<'a>(
    target: &[&'a str],
    count: &'a str,
    concurrency: &'a str,
    timeout_ms: &'a str,
    retries: &'a str,
) -> Vec<&'a str> {
    let mut args = target.to_vec();
    args.extend([
        "--count",
        count,
        "--concurrency",
        concurrency,
        "--timeout-ms",
        timeout_ms,
        "--retries",
        retries,
        "--progress-ms",
        "0",
        "--json",
    ]);
    args
}

/// A field of a JSON summary as u64.
pub fn field(v: &serde_json::Value, k: &str) -> u64 {
    v.get(k)
        .and_then(|x| x.as_u64())
        .unwrap_or_else(|| panic!("no {k} in {v}"))
}
