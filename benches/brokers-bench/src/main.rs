//! `brokers-bench`: the broker benchmarks of issue 6, side by side in one
//! run (see `benches/BROKERS.md`).
//!
//! `brokers-bench all` starts real processes of the release binaries
//! (`zbroker`, `zworker`, `zclient`, found next to this executable) and of
//! this binary's own helpers, on 127.0.0.1 with free ports, for every
//! scenario in turn, `--runs` rounds interleaved (mdp, direct-4, direct-1,
//! queue, zmq_proxy, lb-1, lb-4, lb-16, mdp, ...), and reports medians and
//! per-round ratios.
//!
//! Helpers (also usable by hand):
//! - `echo-router --bind EP`: a green ROUTER that sends every message
//!   back unchanged (the direct echo server);
//! - `direct-client --connect EP [--connect EP ...]`: the load generator of
//!   `zclient` (`zgreen_brokers::load`), on DEALER sockets that talk to the
//!   echo servers directly: `[empty, body...]` out, `[empty, body...]` back;
//! - `zmq-proxy --frontend EP --backend EP`: libzmq's own `zmq_proxy`
//!   between a ROUTER frontend and a DEALER backend (raw `zmq` crate,
//!   blocking, one thread).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use zgreen::zmq::{Context, Socket};
use zgreen_brokers::cli;
use zgreen_brokers::frames::{Frames, Limits, Malformed};
use zgreen_brokers::load::{self, LoadConfig, Stats, Transport};
use zgreen_harness::ChildGuard;

#[derive(Parser, Debug)]
#[command(name = "brokers-bench", version)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run every scenario, interleaved, and report.
    All(AllArgs),
    /// Green ROUTER echo server (the direct, broker-less peer).
    EchoRouter {
        /// Endpoint to bind.
        #[arg(long)]
        bind: String,
    },
    /// zclient's load generator on DEALER sockets against echo-router(s).
    DirectClient(DirectArgs),
    /// libzmq's zmq_proxy between a ROUTER frontend and a DEALER backend.
    ZmqProxy {
        /// Frontend endpoint (ROUTER, bound).
        #[arg(long)]
        frontend: String,
        /// Backend endpoint (DEALER, bound).
        #[arg(long)]
        backend: String,
    },
}

#[derive(clap::Args, Debug)]
struct DirectArgs {
    /// Endpoint(s) to connect every DEALER to (round-robin between them).
    #[arg(long, required = true)]
    connect: Vec<String>,
    #[arg(long, default_value_t = 100)]
    concurrency: usize,
    #[arg(long, default_value_t = 10000)]
    count: u64,
    #[arg(long, default_value_t = 64)]
    size: usize,
    #[arg(long, default_value_t = 2500)]
    timeout_ms: u64,
    /// Print the summary as JSON (same fields as `zclient --json`).
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
struct AllArgs {
    /// Rounds; every scenario runs once per round, interleaved.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Green clients per load generator.
    #[arg(long, default_value_t = 100)]
    concurrency: usize,
    /// Requests per run for the MDP scenario.
    #[arg(long, default_value_t = 40000)]
    mdp_count: u64,
    /// Requests per run for the direct (broker-less) scenarios.
    #[arg(long, default_value_t = 100000)]
    direct_count: u64,
    /// Requests per run for the queue / zmq_proxy scenarios.
    #[arg(long, default_value_t = 100000)]
    queue_count: u64,
    /// Requests per run for the lb scenarios.
    #[arg(long, default_value_t = 25000)]
    lb_count: u64,
    /// Payload bytes per request.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Pause after starting the broker and workers, before the clients.
    #[arg(long, default_value_t = 500)]
    settle_ms: u64,
    /// Only these scenarios (comma-separated names; default: all).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Workers of the `mdp-t1` / `mdp-t2` scenarios (`zbroker mdp
    /// --threads 1` / `2`).
    #[arg(long, default_value_t = 8)]
    threads_workers: usize,
    /// Run the broker / device under `taskset -c CPUS` (e.g. `1`).
    #[arg(long, value_name = "CPUS")]
    broker_cpus: Option<String>,
    /// Run the workers, clients and echo servers under `taskset -c CPUS`.
    #[arg(long, value_name = "CPUS")]
    load_cpus: Option<String>,
    /// Directory of zbroker/zworker/zclient (default: next to this binary).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Write the markdown report here.
    #[arg(long)]
    markdown_out: Option<PathBuf>,
    /// Write one JSON line per run here.
    #[arg(long)]
    json_out: Option<PathBuf>,
}

fn main() {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::All(a) => all(a),
        Cmd::EchoRouter { bind } => echo_router(bind),
        Cmd::DirectClient(a) => direct_client(a),
        Cmd::ZmqProxy { frontend, backend } => zmq_proxy(&frontend, &backend),
    }
}

// ---------------------------------------------------------------- helpers

fn echo_router(bind: String) {
    let ctx = Context::new();
    let grace = Duration::from_millis(500);
    let c2 = ctx.clone();
    let code = cli::run_until_signal("echo-router", grace, move || {
        let sock = cli::socket(&c2, zmq::ROUTER, 0)?;
        sock.bind(&bind)?;
        loop {
            let frames = sock.recv_multipart(0)?;
            sock.send_multipart(&frames, 0)?;
        }
    });
    cli::finish(ctx, grace, code);
}

/// A DEALER that talks to ROUTER echo servers directly: it adds and strips
/// the empty delimiter, like a REQ would, and is reset like `zclient`'s.
struct DirectTransport {
    ctx: Context,
    endpoints: Vec<String>,
    limits: Limits,
    sock: Socket,
}

fn open_dealer(ctx: &Context, endpoints: &[String]) -> zgreen::Result<Socket> {
    let s = cli::socket(ctx, zmq::DEALER, 0)?;
    for ep in endpoints {
        s.connect(ep)?;
    }
    Ok(s)
}

impl Transport for DirectTransport {
    fn send(&mut self, body: &[Vec<u8>]) -> zgreen::Result<()> {
        let mut frames: Frames = Vec::with_capacity(body.len() + 1);
        frames.push(Vec::new());
        frames.extend(body.iter().cloned());
        self.sock.send_multipart(frames, 0)
    }

    fn recv(&mut self, timeout: Duration) -> zgreen::Result<Option<Result<Frames, Malformed>>> {
        let mut f = match self.sock.recv_multipart_timeout(0, timeout) {
            Ok(f) => f,
            Err(zgreen::Error::Timeout(t)) if t.id == 0 => return Ok(None),
            Err(zgreen::Error::NeedsReset(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        if f.first().is_some_and(|d| d.is_empty()) {
            f.remove(0);
        }
        Ok(Some(self.limits.check(&f).map(|_| f)))
    }

    fn reset(&mut self) -> zgreen::Result<()> {
        self.sock.set_linger(0)?;
        self.sock = open_dealer(&self.ctx, &self.endpoints)?;
        Ok(())
    }
}

fn direct_client(a: DirectArgs) {
    let ctx = Context::new();
    let grace = Duration::from_millis(500);
    let limits = Limits {
        max_frames: 64,
        max_frame_bytes: a.size.max(1 << 20) + 64,
    };
    let cfg = LoadConfig {
        count: a.count,
        concurrency: a.concurrency.max(1),
        size: a.size,
        timeout: Duration::from_millis(a.timeout_ms.max(1)),
        retries: 3,
        interval: Duration::ZERO,
        progress: None,
        progress_json: false,
        limits,
    };
    let stats = Rc::new(Stats::default());
    let started = Instant::now();
    let (c2, eps, s2) = (ctx.clone(), a.connect.clone(), stats.clone());
    let code = cli::run_until_signal("direct-client", grace, move || {
        load::run(
            &cfg,
            |_| {
                Ok(DirectTransport {
                    ctx: c2.clone(),
                    endpoints: eps.clone(),
                    limits,
                    sock: open_dealer(&c2, &eps)?,
                })
            },
            s2,
        )
    });
    let summary = stats.summary(started.elapsed());
    if a.json {
        println!("{}", serde_json::to_string(&summary).expect("serializable"));
    } else {
        println!("{}", summary.human());
    }
    let code = if code == 0 && summary.lost > 0 { 1 } else { code };
    cli::finish(ctx, grace, code);
}

fn zmq_proxy(frontend: &str, backend: &str) {
    let ctx = zmq::Context::new();
    let fe = ctx.socket(zmq::ROUTER).expect("router");
    let be = ctx.socket(zmq::DEALER).expect("dealer");
    fe.bind(frontend).expect("bind frontend");
    be.bind(backend).expect("bind backend");
    // Runs until the process is killed (SIGTERM: default action).
    let r = zmq::proxy(&fe, &be);
    eprintln!("zmq-proxy: {r:?}");
}

// ------------------------------------------------------------ orchestrator

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// zbroker mdp + 4 zworker mdp + zclient mdp.
    Mdp,
    /// The same with 16 workers (diagnostic: is MDP bound by the
    /// one-request-per-worker hand-off?).
    Mdp16,
    /// zbroker mdp --threads N + `--threads-workers` zworker mdp + zclient
    /// mdp (issue 17, "Many cores").
    MdpThreads(u16),
    /// `mdp` with `zbroker mdp --transport native` (issue 18); only with
    /// `--only mdp-native`, and a zbroker built with `--features native`.
    MdpNative,
    /// N echo-router processes + direct-client.
    Direct(usize),
    /// zbroker queue + 4 zworker rep + zclient req.
    Queue,
    /// zmq-proxy + 4 zworker rep + zclient req.
    ZmqProxy,
    /// zbroker lb + N zworker lb + zclient req.
    Lb(usize),
}

impl Kind {
    fn name(self) -> String {
        match self {
            Kind::Mdp => "mdp".into(),
            Kind::Mdp16 => "mdp-16".into(),
            Kind::MdpThreads(n) => format!("mdp-t{n}"),
            Kind::MdpNative => "mdp-native".into(),
            Kind::Direct(n) => format!("direct-{n}"),
            Kind::Queue => "queue".into(),
            Kind::ZmqProxy => "zmq_proxy".into(),
            Kind::Lb(n) => format!("lb-{n}"),
        }
    }
}

const ALL: [Kind; 11] = [
    Kind::Mdp,
    Kind::Mdp16,
    Kind::MdpThreads(1),
    Kind::MdpThreads(2),
    Kind::Direct(4),
    Kind::Direct(1),
    Kind::Queue,
    Kind::ZmqProxy,
    Kind::Lb(1),
    Kind::Lb(4),
    Kind::Lb(16),
];

#[derive(Clone, Debug)]
struct RunResult {
    kind: Kind,
    round: usize,
    throughput: f64,
    p50_ms: f64,
    p99_ms: f64,
    lost: u64,
    received: u64,
    elapsed_s: f64,
    /// CPU time (user + system) of every process of the run, µs per
    /// answered round trip.
    cpu_us_per_rt: f64,
    /// CPU time of the broker / device process alone, µs per round trip
    /// (NaN for the broker-less runs).
    broker_cpu_us_per_rt: f64,
    /// CPU time of the workers / echo servers together, µs per round trip.
    workers_cpu_us_per_rt: f64,
    commands: Vec<String>,
}

/// CPU seconds (user + system) of all waited-for children so far.
fn children_cpu_s() -> f64 {
    // SAFETY: getrusage fills the zeroed struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe {
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru);
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// CPU seconds (user + system) of a live process, from /proc/PID/stat.
fn proc_cpu_s(pid: u32) -> f64 {
    let stat = read(&format!("/proc/{pid}/stat"));
    // Fields after the parenthesised command name; utime and stime are
    // fields 14 and 15 (1-based), i.e. 11 and 12 after ") ".
    let Some(rest) = stat.rsplit_once(") ").map(|x| x.1) else {
        return f64::NAN;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let tick = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(f64::NAN);
    (tick(11) + tick(12)) / hz
}

struct Bins {
    dir: PathBuf,
    me: PathBuf,
    broker_cpus: Option<String>,
    load_cpus: Option<String>,
}

impl Bins {
    fn path(&self, name: &str) -> PathBuf {
        if name == "brokers-bench" {
            self.me.clone()
        } else {
            self.dir.join(name)
        }
    }
}

/// Service processes, stopped together with SIGTERM (then SIGKILL after
/// 3 s) on drop.
struct Procs(Vec<ChildGuard>);

impl Drop for Procs {
    fn drop(&mut self) {
        zgreen_harness::stop_all(&mut self.0, Duration::from_secs(3));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn ep() -> String {
    format!("tcp://127.0.0.1:{}", free_port())
}

fn show(bin: &str, args: &[String]) -> String {
    let mut s = bin.to_string();
    for a in args {
        s.push(' ');
        s.push_str(a);
    }
    s
}

/// The processes and commands of one run. Dropping it stops the
/// processes.
struct Run<'a> {
    bins: &'a Bins,
    procs: Procs,
    cmds: Vec<String>,
}

impl Run<'_> {
    /// Spawns `bin args` (logging at warn level, no stdin, no stderr),
    /// under `taskset -c` when `--broker-cpus` / `--load-cpus` say so
    /// (the first process of a run is its broker or device), and records
    /// its command line.
    fn spawn(&mut self, bin: &str, args: Vec<String>, stdout: Stdio) -> ChildGuard {
        let cpus = match self.cmds.is_empty() && bin == "zbroker" {
            true => self.bins.broker_cpus.as_ref(),
            false => self.bins.load_cpus.as_ref(),
        };
        let mut cmd = match cpus {
            Some(c) => {
                self.cmds.push(format!("taskset -c {c} {}", show(bin, &args)));
                let mut t = Command::new("taskset");
                t.arg("-c").arg(c).arg(self.bins.path(bin));
                t
            }
            None => {
                self.cmds.push(show(bin, &args));
                Command::new(self.bins.path(bin))
            }
        };
        ChildGuard::spawn(
            cmd.args(&args)
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(stdout)
                .stderr(Stdio::null()),
        )
        .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"))
    }

    /// Starts `n` processes `bin args` that run until the run ends.
    fn start(&mut self, n: usize, bin: &str, args: Vec<String>) {
        for _ in 0..n {
            let child = self.spawn(bin, args.clone(), Stdio::null());
            self.procs.0.push(child);
        }
    }

    /// Runs the client `bin args` (for 120 s at most) and returns the JSON
    /// it printed (`Null` if none).
    fn client(&mut self, bin: &str, args: Vec<String>) -> serde_json::Value {
        let mut child = self.spawn(bin, args, Stdio::piped());
        if !matches!(child.wait_timeout(Duration::from_secs(120)), Ok(Some(_))) {
            eprintln!("client {bin} timed out: killed");
            child.kill();
        }
        let mut out = String::new();
        if let Some(mut o) = child.take_stdout() {
            let _ = std::io::Read::read_to_string(&mut o, &mut out);
        }
        serde_json::from_str(out.trim()).unwrap_or(serde_json::Value::Null)
    }
}

fn s(x: impl ToString) -> String {
    x.to_string()
}

fn run_one(bins: &Bins, a: &AllArgs, kind: Kind, round: usize) -> RunResult {
    let cpu0 = children_cpu_s();
    let mut run = Run {
        bins,
        procs: Procs(Vec::new()),
        cmds: Vec::new(),
    };
    let conc = s(a.concurrency);
    let size = s(a.size);
    let load = |bin_args: &[&str], connect: &str, count: u64| -> Vec<String> {
        let mut v: Vec<String> = bin_args.iter().map(|x| x.to_string()).collect();
        v.extend([
            s("--connect"),
            s(connect),
            s("--concurrency"),
            conc.clone(),
            s("--count"),
            s(count),
            s("--size"),
            size.clone(),
            s("--progress-ms"),
            s(0),
            s("--json"),
        ]);
        v
    };
    let settle = Duration::from_millis(a.settle_ms);
    let summary = match kind {
        Kind::Mdp | Kind::Mdp16 | Kind::MdpThreads(_) | Kind::MdpNative => {
            let e = ep();
            let mut broker = vec![s("mdp"), s("--bind"), e.clone()];
            let workers = match kind {
                Kind::Mdp => 4,
                Kind::MdpNative => {
                    broker.extend([s("--transport"), s("native")]);
                    4
                }
                Kind::MdpThreads(n) => {
                    broker.extend([s("--threads"), s(n)]);
                    a.threads_workers
                }
                _ => 16,
            };
            run.start(1, "zbroker", broker);
            let worker = vec![s("mdp"), s("--connect"), e.clone(), s("--service"), s("echo")];
            run.start(workers, "zworker", worker);
            std::thread::sleep(settle);
            run.client("zclient", load(&["mdp", "--service", "echo"], &e, a.mdp_count))
        }
        Kind::Direct(n) => {
            let eps: Vec<String> = (0..n).map(|_| ep()).collect();
            for e in &eps {
                run.start(1, "brokers-bench", vec![s("echo-router"), s("--bind"), e.clone()]);
            }
            std::thread::sleep(settle);
            let mut args = vec![s("direct-client")];
            for e in &eps {
                args.extend([s("--connect"), e.clone()]);
            }
            args.extend([
                s("--concurrency"),
                conc.clone(),
                s("--count"),
                s(a.direct_count),
                s("--size"),
                size.clone(),
                s("--json"),
            ]);
            run.client("brokers-bench", args)
        }
        Kind::Queue | Kind::ZmqProxy => {
            let (fe, be) = (ep(), ep());
            let (bin, device) = if kind == Kind::Queue {
                ("zbroker", "queue")
            } else {
                ("brokers-bench", "zmq-proxy")
            };
            let pair = vec![s(device), s("--frontend"), fe.clone(), s("--backend"), be.clone()];
            run.start(1, bin, pair);
            run.start(4, "zworker", vec![s("rep"), s("--connect"), be.clone()]);
            std::thread::sleep(settle);
            run.client("zclient", load(&["req"], &fe, a.queue_count))
        }
        Kind::Lb(n) => {
            let (fe, be) = (ep(), ep());
            let pair = vec![s("lb"), s("--frontend"), fe.clone(), s("--backend"), be.clone()];
            run.start(1, "zbroker", pair);
            run.start(n, "zworker", vec![s("lb"), s("--connect"), be.clone()]);
            std::thread::sleep(settle);
            run.client("zclient", load(&["req"], &fe, a.lb_count))
        }
    };
    let Run { procs, cmds, .. } = run;
    let (broker_cpu, workers_cpu) = match kind {
        Kind::Direct(_) => (f64::NAN, procs.0.iter().map(|c| proc_cpu_s(c.pid())).sum::<f64>()),
        _ => (
            procs.0.first().map_or(f64::NAN, |c| proc_cpu_s(c.pid())),
            procs.0.iter().skip(1).map(|c| proc_cpu_s(c.pid())).sum(),
        ),
    };
    drop(procs);
    let cpu = children_cpu_s() - cpu0;
    let f = |k: &str| summary.get(k).and_then(|v| v.as_f64()).unwrap_or(0.0);
    let received = f("received").max(1.0);
    RunResult {
        cpu_us_per_rt: cpu * 1e6 / received,
        broker_cpu_us_per_rt: broker_cpu * 1e6 / received,
        workers_cpu_us_per_rt: workers_cpu * 1e6 / received,
        kind,
        round,
        throughput: f("throughput_per_s"),
        p50_ms: f("p50_ms"),
        p99_ms: f("p99_ms"),
        lost: f("lost") as u64,
        received: f("received") as u64,
        elapsed_s: f("elapsed_s"),
        commands: cmds,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn machine_facts() -> Vec<(String, String)> {
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|x| x.trim().to_string())
        .unwrap_or_default();
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let (maj, min, pat) = zmq::version();
    let kernel = read("/proc/sys/kernel/osrelease").trim().to_string();
    let mem = read("/proc/meminfo").lines().next().unwrap_or("").to_string();
    vec![
        ("nproc".into(), nproc.to_string()),
        ("CPU model".into(), cpu),
        ("kernel".into(), kernel),
        (
            "memory".into(),
            mem.split_whitespace().skip(1).collect::<Vec<_>>().join(" "),
        ),
        ("libzmq".into(), format!("{maj}.{min}.{pat}")),
    ]
}

fn all(a: AllArgs) {
    let me = std::env::current_exe().expect("current exe");
    let dir = a
        .bin_dir
        .clone()
        .unwrap_or_else(|| me.parent().expect("exe dir").to_path_buf());
    for b in ["zbroker", "zworker", "zclient"] {
        if !dir.join(b).exists() {
            eprintln!(
                "brokers-bench: {} not found: run `cargo build --release -p zgreen-brokers` first",
                dir.join(b).display()
            );
            std::process::exit(2);
        }
    }
    let bins = Bins {
        dir,
        me,
        broker_cpus: a.broker_cpus.clone(),
        load_cpus: a.load_cpus.clone(),
    };
    // `mdp-native` needs a zbroker built with the native feature: asked
    // for by name only.
    let kinds: Vec<Kind> = ALL
        .iter()
        .copied()
        .chain([Kind::MdpNative])
        .filter(|k| {
            if a.only.is_empty() {
                *k != Kind::MdpNative
            } else {
                a.only.contains(&k.name())
            }
        })
        .collect();
    let load_before = read("/proc/loadavg").trim().to_string();
    let started = Instant::now();
    let mut json_lines = String::new();
    let mut results: Vec<RunResult> = Vec::new();
    for round in 0..a.runs {
        for &k in &kinds {
            let r = run_one(&bins, &a, k, round);
            let line = serde_json::json!({
                "scenario": k.name(), "round": round, "throughput_per_s": r.throughput,
                "p50_ms": r.p50_ms, "p99_ms": r.p99_ms, "lost": r.lost, "received": r.received,
                "elapsed_s": r.elapsed_s, "cpu_us_per_rt": r.cpu_us_per_rt, "workers_cpu_us_per_rt": r.workers_cpu_us_per_rt,
                "broker_cpu_us_per_rt": if r.broker_cpu_us_per_rt.is_nan() { serde_json::Value::Null } else { r.broker_cpu_us_per_rt.into() },
                "loadavg": read("/proc/loadavg").trim(),
            });
            eprintln!("{line}");
            json_lines.push_str(&line.to_string());
            json_lines.push('\n');
            results.push(r);
        }
    }
    let load_after = read("/proc/loadavg").trim().to_string();
    let md = report(&a, &kinds, &results, &load_before, &load_after, started.elapsed());
    println!("{md}");
    if let Some(p) = &a.markdown_out {
        std::fs::write(p, &md).expect("write markdown");
    }
    if let Some(p) = &a.json_out {
        std::fs::write(p, &json_lines).expect("write json");
    }
}

fn of(results: &[RunResult], k: Kind) -> Vec<&RunResult> {
    results.iter().filter(|r| r.kind == k).collect()
}

/// Median over rounds of (num / den) taken within the same round.
fn ratio(results: &[RunResult], num: Kind, den: Kind) -> Option<(f64, Vec<f64>)> {
    let n = of(results, num);
    let d = of(results, den);
    if n.is_empty() || d.is_empty() {
        return None;
    }
    let per: Vec<f64> = n
        .iter()
        .filter_map(|x| {
            d.iter()
                .find(|y| y.round == x.round && y.throughput > 0.0)
                .map(|y| x.throughput / y.throughput)
        })
        .collect();
    Some((median(per.clone()), per))
}

fn report(
    a: &AllArgs,
    kinds: &[Kind],
    results: &[RunResult],
    load_before: &str,
    load_after: &str,
    took: Duration,
) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "### Machine\n");
    for (k, v) in machine_facts() {
        let _ = writeln!(md, "- {k}: {v}");
    }
    let _ = writeln!(
        md,
        "- load average before: `{load_before}`; after: `{load_after}`"
    );
    let _ = writeln!(
        md,
        "- broker pinned to CPUs: {}; workers and clients: {}",
        a.broker_cpus.as_deref().unwrap_or("not pinned"),
        a.load_cpus.as_deref().unwrap_or("not pinned")
    );
    let _ = writeln!(
        md,
        "- {} rounds, interleaved, {} green clients, {} B payload, whole run {:.0} s\n",
        a.runs,
        a.concurrency,
        a.size,
        took.as_secs_f64()
    );
    let _ = writeln!(md, "### Results (median of {} runs)\n", a.runs);
    let _ = writeln!(
        md,
        "| scenario | round trips/s (median) | min – max | p50 ms | p99 ms | CPU µs / round trip, all processes | broker | workers | client | lost |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &k in kinds {
        let rs = of(results, k);
        let tp: Vec<f64> = rs.iter().map(|r| r.throughput).collect();
        let lo = tp.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = tp.iter().cloned().fold(0.0, f64::max);
        let _ = writeln!(
            md,
            "| {} | {:.0} | {:.0} – {:.0} | {:.2} | {:.2} | {:.0} | {} | {:.0} | {:.0} | {} |",
            k.name(),
            median(tp),
            lo,
            hi,
            median(rs.iter().map(|r| r.p50_ms).collect()),
            median(rs.iter().map(|r| r.p99_ms).collect()),
            median(rs.iter().map(|r| r.cpu_us_per_rt).collect()),
            {
                let b = median(rs.iter().map(|r| r.broker_cpu_us_per_rt).collect());
                if b.is_nan() {
                    "–".to_string()
                } else {
                    format!("{b:.0}")
                }
            },
            median(rs.iter().map(|r| r.workers_cpu_us_per_rt).collect()),
            median(
                rs.iter()
                    .map(|r| {
                        let b = if r.broker_cpu_us_per_rt.is_nan() {
                            0.0
                        } else {
                            r.broker_cpu_us_per_rt
                        };
                        r.cpu_us_per_rt - b - r.workers_cpu_us_per_rt
                    })
                    .collect()
            ),
            rs.iter().map(|r| r.lost).sum::<u64>()
        );
    }
    let _ = writeln!(md, "\n### Ratios (per round, then the median)\n");
    let _ = writeln!(md, "| ratio | median | per round | target | met |");
    let _ = writeln!(md, "|---|---:|---|---:|---|");
    let pairs = [
        (Kind::Mdp, Kind::Direct(4), 0.5),
        (Kind::Mdp, Kind::Direct(1), 0.5),
        (Kind::Queue, Kind::ZmqProxy, 0.8),
        (Kind::MdpThreads(2), Kind::MdpThreads(1), 1.5),
        (Kind::MdpNative, Kind::Mdp, f64::NAN),
        (Kind::Lb(4), Kind::Lb(1), f64::NAN),
        (Kind::Lb(16), Kind::Lb(1), f64::NAN),
    ];
    for (n, d, target) in pairs {
        if let Some((m, per)) = ratio(results, n, d) {
            let per: Vec<String> = per.iter().map(|x| format!("{x:.2}")).collect();
            let (t, met) = if target.is_nan() {
                ("–".to_string(), "–".to_string())
            } else {
                (
                    format!("≥ {target}"),
                    if m >= target { "yes" } else { "**no**" }.to_string(),
                )
            };
            let _ = writeln!(
                md,
                "| {} / {} | {:.2} | {} | {} | {} |",
                n.name(),
                d.name(),
                m,
                per.join(" "),
                t,
                met
            );
        }
    }
    let _ = writeln!(md, "\n### Exact commands (round 0; ports differ per run)\n");
    for &k in kinds {
        if let Some(r) = of(results, k).first() {
            let _ = writeln!(md, "{}:\n\n```sh", k.name());
            let n = r.commands.len();
            for (i, c) in r.commands.iter().enumerate() {
                let amp = if i + 1 < n { " &" } else { "" };
                let _ = writeln!(md, "{c}{amp}");
            }
            let _ = writeln!(md, "```\n");
        }
    }
    md
}
