//! `zdemo`: the main job. Starts a broker, workers and a client load as
//! real processes on 127.0.0.1, SIGKILLs one worker half way, and shows
//! the load carrying on.

use std::cell::RefCell;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Parser, ValueEnum};
use zgreen::process::{Child, Command};
use zgreen_brokers::cli;
use zgreen_brokers::procs::{free_port, metric, scrape, sibling};
use zgreen_harness::die_with_parent;

const NAME: &str = "zdemo";

/// The zgreen demo: a broker, four workers and a client load as real local
/// processes on 127.0.0.1; one worker is killed with SIGKILL half way
/// through, and the load carries on. Prints a live progress line, then a
/// summary with requests sent, answered and lost and the recovery time.
/// Exits 0 when no request was lost.
///
/// It runs the zbroker, zworker and zclient binaries found next to its own
/// executable (build them with `cargo build -p zgreen-brokers`).
#[derive(Parser, Debug)]
#[command(name = "zdemo", version)]
struct Args {
    /// Which pattern to demonstrate: mdp (7/MDP broker), lb (load-balancing
    /// broker with Lazy Pirate clients), ppp (6/PPP queue with Lazy Pirate
    /// clients) or pubsub (a forwarder, one publisher and --workers
    /// subscribers, one of which is killed).
    #[arg(long, value_enum, default_value = "mdp", env = "ZGREEN_PATTERN")]
    pattern: Pattern,
    /// Worker processes.
    #[arg(long, value_name = "N", default_value_t = 4, env = "ZGREEN_WORKERS")]
    workers: usize,
    /// Requests in total.
    #[arg(long, value_name = "N", default_value_t = 3000, env = "ZGREEN_COUNT")]
    count: u64,
    /// Green clients in the client process.
    #[arg(long, value_name = "N", default_value_t = 8, env = "ZGREEN_CONCURRENCY")]
    concurrency: usize,
    /// Milliseconds each worker spends per request.
    #[arg(long, value_name = "MS", default_value_t = 10, env = "ZGREEN_DELAY_MS")]
    delay_ms: u64,
    /// Heartbeat interval of broker and workers, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 250, env = "ZGREEN_HEARTBEAT_MS")]
    heartbeat_ms: u64,
    /// Client reply timeout before a retry, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 500, env = "ZGREEN_TIMEOUT_MS")]
    timeout_ms: u64,
    /// Client retries before a request is lost.
    #[arg(long, value_name = "N", default_value_t = 5, env = "ZGREEN_RETRIES")]
    retries: u32,
    /// Do not kill any worker.
    #[arg(long, env = "ZGREEN_NO_KILL")]
    no_kill: bool,
    /// Directory for the processes' logs (default: a new one under the
    /// system temp directory).
    #[arg(long, value_name = "DIR", env = "ZGREEN_LOG_DIR")]
    log_dir: Option<PathBuf>,
    /// `libzmq`, or `native`: the broker on zgreen's native ZMTP transport
    /// (`zbroker mdp --transport native`; --pattern mdp only, and a
    /// zbroker built with `--features native`).
    #[arg(long, value_name = "T", default_value = "libzmq", env = "ZGREEN_TRANSPORT")]
    transport: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Pattern {
    Mdp,
    Lb,
    Ppp,
    Pubsub,
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A child process that is SIGKILLed if zdemo dies, with its log file.
struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
}

fn spawn(bin: &Path, args: &[String], name: &str, logs: &Path, pipe_out: bool) -> Result<Proc, String> {
    let log = logs.join(format!("{name}.log"));
    let file = std::fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let mut cmd = Command::new(bin);
    cmd.args(args).stdin(Stdio::null());
    if pipe_out {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    } else {
        let err = file.try_clone().map_err(|e| e.to_string())?;
        cmd.stdout(file).stderr(err);
    }
    die_with_parent(cmd.as_std_mut());
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    Ok(Proc {
        name: name.to_string(),
        child,
        log,
    })
}

/// Stops `p` with SIGTERM, then SIGKILL after `grace`; returns its exit code.
fn stop(p: &Proc, grace: Duration) -> Option<i32> {
    if let Ok(s) = p.child.try_wait() {
        return s.code();
    }
    let _ = p.child.signal(libc::SIGTERM);
    match p.child.wait_timeout(grace) {
        Ok(s) => s.code(),
        Err(_) => {
            let _ = p.child.kill();
            let _ = p.child.wait_timeout(Duration::from_secs(2));
            None
        }
    }
}

/// (victim index, pid, when, wall-clock ms) of the SIGKILL.
type Kill = (usize, u32, Instant, u64);

#[derive(Default, Debug)]
struct Progress {
    sent: u64,
    received: u64,
    lost: u64,
    retries: u64,
    samples: u64,
    last_growth: Option<Instant>,
    longest_stall_after_kill: Duration,
}

fn main() {
    let args: Args = cli::parse(NAME);
    cli::init_logging(cli::LogFormat::Pretty);
    let code = match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{NAME}: {e}");
            1
        }
    };
    std::process::exit(code);
}

fn run(a: &Args) -> Result<i32, String> {
    if a.pattern == Pattern::Pubsub {
        return run_pubsub(a);
    }
    let plan = Plan::new(a)?;
    let (broker, workers) = start_services(a, &plan)?;
    wait_registered(a, &plan, &broker, &workers)?;
    println!(
        "{NAME}: {} workers registered; starting {} requests",
        a.workers, a.count
    );
    let load = Load::start(a, &plan)?;
    let reader = load.read_progress();
    let status = load.drive(a, &workers);
    let summary = load.summary(reader);
    let text = scrape_metrics(&plan.metrics_addr);
    let grace = Duration::from_secs(3);
    let mut worker_codes = Vec::new();
    for w in &workers {
        worker_codes.push(stop(w, grace));
    }
    let broker_code = stop(&broker, grace);
    let Some(sum) = summary else {
        return Err(format!(
            "the client ended ({status}) without a summary; see {}",
            load.client.log.display()
        ));
    };
    let ok = print_report(a, &plan, &load, &workers, &sum, &text);
    print_shutdown(broker_code, &worker_codes);
    Ok(verdict(a, &plan.logs, ok, &sum))
}

/// `v` as owned strings.
fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// A free port on 127.0.0.1 for `what`.
fn port(what: &str) -> Result<u16, String> {
    free_port().map_err(|e| format!("no free port for the {what}: {e}"))
}

/// What the request-reply patterns start: binaries, ports, arguments.
struct Plan {
    zbroker: PathBuf,
    zworker: PathBuf,
    zclient: PathBuf,
    logs: PathBuf,
    metrics_addr: String,
    broker_args: Vec<String>,
    worker_args: Vec<String>,
    client_args: Vec<String>,
    /// What the broker is, for the first line.
    label: &'static str,
    /// The metrics label of the service, empty when the broker has none.
    service_label: &'static str,
}

impl Plan {
    fn new(a: &Args) -> Result<Plan, String> {
        let zbroker = sibling("zbroker")?;
        let zworker = sibling("zworker")?;
        let zclient = sibling("zclient")?;
        let logs = log_dir(a)?;
        let (p1, p2, pm) = (port("broker")?, port("backend")?, port("metrics")?);
        let ep1 = format!("tcp://127.0.0.1:{p1}");
        let ep2 = format!("tcp://127.0.0.1:{p2}");
        let metrics_addr = format!("127.0.0.1:{pm}");
        let hb = a.heartbeat_ms.to_string();
        let s = strings;
        match (a.transport.as_str(), a.pattern) {
            ("libzmq", _) | ("native", Pattern::Mdp) => {}
            ("native", _) => return Err("--transport native: only with --pattern mdp".to_string()),
            (other, _) => return Err(format!("unknown --transport {other:?} (libzmq or native)")),
        }
        let (mut broker_args, worker_args, client_args, label, service_label) = match a.pattern {
            Pattern::Mdp => (
                s(&[
                    "mdp",
                    "--bind",
                    &ep1,
                    "--heartbeat-ms",
                    &hb,
                    "--liveness",
                    "3",
                    "--metrics",
                    &metrics_addr,
                ]),
                s(&[
                    "mdp",
                    "--connect",
                    &ep1,
                    "--service",
                    "echo",
                    "--heartbeat-ms",
                    &hb,
                    "--reconnect-ms",
                    &hb,
                ]),
                s(&["mdp", "--connect", &ep1, "--service", "echo"]),
                "7/MDP broker",
                "service=\"echo\"",
            ),
            Pattern::Ppp => (
                s(&[
                    "ppq",
                    "--frontend",
                    &ep1,
                    "--backend",
                    &ep2,
                    "--heartbeat-ms",
                    &hb,
                    "--metrics",
                    &metrics_addr,
                ]),
                s(&[
                    "ppp",
                    "--connect",
                    &ep2,
                    "--heartbeat-ms",
                    &hb,
                    "--reconnect-ms",
                    &hb,
                ]),
                s(&["lazy", "--connect", &ep1]),
                "6/PPP queue",
                "service=\"ppp\"",
            ),
            Pattern::Lb => (
                s(&[
                    "lb",
                    "--frontend",
                    &ep1,
                    "--backend",
                    &ep2,
                    "--metrics",
                    &metrics_addr,
                ]),
                s(&["lb", "--connect", &ep2]),
                s(&["lazy", "--connect", &ep1]),
                "load-balancing broker",
                "",
            ),
            Pattern::Pubsub => unreachable!("handled by run_pubsub"),
        };
        if a.transport == "native" {
            broker_args.extend(s(&["--transport", "native"]));
        }
        Ok(Plan {
            zbroker,
            zworker,
            zclient,
            logs,
            metrics_addr,
            broker_args,
            worker_args,
            client_args,
            label,
            service_label,
        })
    }
}

/// Says what runs, then starts the broker and the workers.
fn start_services(a: &Args, plan: &Plan) -> Result<(Proc, Vec<Proc>), String> {
    println!(
        "{NAME}: {} + {} workers + a client with {} green clients, on 127.0.0.1 (logs in {})",
        plan.label,
        a.workers,
        a.concurrency,
        plan.logs.display()
    );
    let broker = spawn(&plan.zbroker, &plan.broker_args, "broker", &plan.logs, false)?;
    let mut workers = Vec::new();
    for i in 1..=a.workers {
        let mut w = plan.worker_args.clone();
        w.extend(strings(&["--delay-ms", &a.delay_ms.to_string()]));
        workers.push(spawn(
            &plan.zworker,
            &w,
            &format!("worker-{i}"),
            &plan.logs,
            false,
        )?);
    }
    Ok((broker, workers))
}

/// Kills the workers and the broker (an early failure).
fn cleanup(workers: &[Proc], broker: &Proc) {
    for w in workers {
        let _ = w.child.kill();
    }
    let _ = broker.child.kill();
}

/// The broker's metrics page, or an empty text.
fn scrape_metrics(addr: &str) -> String {
    let addr = addr.to_string();
    zgreen::threadpool::apply(move || scrape(&addr).unwrap_or_default()).unwrap_or_default()
}

/// Waits until the broker knows every worker (or half a second, for a
/// broker without a service label); kills everything on failure.
fn wait_registered(a: &Args, plan: &Plan, broker: &Proc, workers: &[Proc]) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(st) = broker.child.try_wait() {
            cleanup(workers, broker);
            return Err(format!(
                "the broker exited at start ({st}); see {}",
                broker.log.display()
            ));
        }
        if plan.service_label.is_empty() {
            let _ = zgreen::sleep(Duration::from_millis(500));
            return Ok(());
        }
        let text = scrape_metrics(&plan.metrics_addr);
        if metric(&text, "zgreen_live_workers", plan.service_label).unwrap_or(0.0) as usize >= a.workers {
            return Ok(());
        }
        if Instant::now() > deadline {
            cleanup(workers, broker);
            return Err(format!(
                "the workers did not all register within 10 s; see the logs in {}",
                plan.logs.display()
            ));
        }
        let _ = zgreen::sleep(Duration::from_millis(50));
    }
}

/// The client process and what its progress lines have told so far.
struct Load {
    client: Rc<Proc>,
    started: Instant,
    progress: Rc<RefCell<Progress>>,
    kill_info: Rc<RefCell<Option<Kill>>>,
}

impl Load {
    /// Starts the client process: `--count` requests, progress as JSON on
    /// stderr every 100 ms, the summary as JSON on stdout.
    fn start(a: &Args, plan: &Plan) -> Result<Load, String> {
        let mut cargs = plan.client_args.clone();
        cargs.extend(strings(&[
            "--count",
            &a.count.to_string(),
            "--concurrency",
            &a.concurrency.to_string(),
            "--timeout-ms",
            &a.timeout_ms.to_string(),
            "--retries",
            &a.retries.to_string(),
            "--progress-ms",
            "100",
            "--progress-json",
            "--json",
        ]));
        let client = spawn(&plan.zclient, &cargs, "client", &plan.logs, true)?;
        Ok(Load {
            client: Rc::new(client),
            started: Instant::now(),
            progress: Rc::new(RefCell::new(Progress::default())),
            kill_info: Rc::new(RefCell::new(None)),
        })
    }

    /// A greenlet that reads the client's stderr: progress lines update
    /// [`Progress`], the other lines go to the client's log.
    fn read_progress(&self) -> zgreen::Greenlet<zgreen::Result<()>> {
        let (client, progress, kill_info, log) = (
            self.client.clone(),
            self.progress.clone(),
            self.kill_info.clone(),
            self.client.log.clone(),
        );
        zgreen::spawn(move || -> zgreen::Result<()> {
            let Some(err) = client.child.stderr.as_ref() else {
                return Ok(());
            };
            let mut file = std::fs::File::create(&log).ok();
            let mut buf = vec![0u8; 16 * 1024];
            let mut pending = Vec::new();
            loop {
                let n = err.recv(&mut buf)?;
                if n == 0 {
                    return Ok(());
                }
                pending.extend_from_slice(&buf[..n]);
                while let Some(i) = pending.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=i).collect();
                    let parsed = serde_json::from_slice::<serde_json::Value>(&line).ok();
                    match parsed.filter(|v| v.get("progress").is_some()) {
                        Some(v) => progress.borrow_mut().update(&v, *kill_info.borrow()),
                        None => {
                            if let Some(f) = file.as_mut() {
                                let _ = f.write_all(&line);
                            }
                        }
                    }
                }
            }
        })
    }

    /// Shows the live progress until the client exits, SIGKILLs a worker
    /// half way (unless `--no-kill`) and kills the client after 120 s.
    fn drive(&self, a: &Args, workers: &[Proc]) -> std::process::ExitStatus {
        let tty = std::io::IsTerminal::is_terminal(&std::io::stdout());
        let mut last_print = Instant::now() - Duration::from_secs(1);
        let status = loop {
            if let Ok(st) = self.client.child.try_wait() {
                break st;
            }
            let p = self.progress.borrow();
            if !a.no_kill
                && self.kill_info.borrow().is_none()
                && p.received >= a.count / 2
                && !workers.is_empty()
            {
                self.kill_worker(workers, 0, p.received, tty);
            }
            let period = if tty {
                Duration::from_millis(100)
            } else {
                Duration::from_secs(1)
            };
            if last_print.elapsed() >= period {
                last_print = Instant::now();
                print_progress(&p, self.started, workers, a.workers, tty);
            }
            drop(p);
            if self.started.elapsed() > Duration::from_secs(120) {
                let _ = self.client.child.kill();
            }
            let _ = zgreen::sleep(Duration::from_millis(50));
        };
        if tty {
            println!();
        }
        status
    }

    /// SIGKILLs `workers[victim]` and says so.
    fn kill_worker(&self, workers: &[Proc], victim: usize, received: u64, tty: bool) {
        let pid = workers[victim].child.id();
        let _ = workers[victim].child.kill();
        let t = self.started.elapsed().as_secs_f64();
        *self.kill_info.borrow_mut() = Some((victim, pid, Instant::now(), unix_ms()));
        let line = format!(
            "[{t:5.1}s] SIGKILL {} (pid {pid}) after {received} answers: the load goes on",
            workers[victim].name
        );
        if tty {
            println!("\r{line}\x1b[K");
        } else {
            println!("{line}");
        }
    }

    /// Waits (2 s at most) for the reader, then reads the client's
    /// summary: the last JSON line of its stdout.
    fn summary(&self, reader: zgreen::Greenlet<zgreen::Result<()>>) -> Option<serde_json::Value> {
        let _ = reader.join_timeout(Duration::from_secs(2));
        let mut out = Vec::new();
        if let Some(o) = self.client.child.stdout.as_ref() {
            o.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = o.recv_to_end(&mut out);
        }
        String::from_utf8_lossy(&out)
            .lines()
            .rev()
            .find_map(|l| serde_json::from_str(l).ok())
    }
}

impl Progress {
    /// Takes in one progress line of the client; `kill` is the SIGKILL,
    /// once done (stalls count from then on).
    fn update(&mut self, v: &serde_json::Value, kill: Option<Kill>) {
        let get = |k: &str| v.get(k).and_then(|x| x.as_u64()).unwrap_or(0);
        let received = get("received");
        let now = Instant::now();
        if received > self.received || self.last_growth.is_none() {
            self.last_growth = Some(now);
        } else if let (Some(since), Some((_, _, killed_at, _))) = (self.last_growth, kill) {
            let stall = now.duration_since(since.max(killed_at));
            self.longest_stall_after_kill = self.longest_stall_after_kill.max(stall);
        }
        self.sent = get("sent");
        self.received = received;
        self.lost = get("lost");
        self.retries = get("retries");
        self.samples += 1;
    }
}

/// How many of `procs` still run.
fn alive(procs: &[Proc]) -> usize {
    procs
        .iter()
        .filter(|p| matches!(p.child.try_wait(), Err(zgreen::process::TryWaitError::Running)))
        .count()
}

/// One live progress line (rewritten in place on a terminal).
fn print_progress(p: &Progress, started: Instant, workers: &[Proc], total_workers: usize, tty: bool) {
    let t = started.elapsed().as_secs_f64();
    let alive = alive(workers);
    let line = format!(
        "[{t:5.1}s] sent {:>6} answered {:>6} lost {} retries {} | workers alive {alive}/{} | {:.0} req/s",
        p.sent,
        p.received,
        p.lost,
        p.retries,
        total_workers,
        p.received as f64 / t.max(1e-9)
    );
    if tty {
        print!("\r{line}\x1b[K");
    } else {
        println!("{line}");
    }
    let _ = std::io::stdout().flush();
}

/// The summary: requests, the kill and the recovery, throughput and
/// latency, the broker's view. True when no request was lost.
fn print_report(
    a: &Args,
    plan: &Plan,
    load: &Load,
    workers: &[Proc],
    sum: &serde_json::Value,
    text: &str,
) -> bool {
    let get = |k: &str| sum.get(k).and_then(|x| x.as_u64()).unwrap_or(0);
    let getf = |k: &str| sum.get(k).and_then(|x| x.as_f64()).unwrap_or(0.0);
    let (sent, received, lost, retries) = (get("sent"), get("received"), get("lost"), get("retries"));
    let (late, mismatched) = (get("late"), get("mismatched"));
    println!();
    println!("  requests sent     {sent}");
    println!(
        "  answered          {received} (each exactly once: replies carry the request's sequence number; {late} late, {mismatched} mismatched)"
    );
    println!("  lost              {lost}");
    println!("  retries           {retries}");
    match *load.kill_info.borrow() {
        Some((victim, pid, at, kill_unix)) => {
            let t = at.duration_since(load.started).as_secs_f64();
            println!(
                "  worker killed     {} (pid {pid}) with SIGKILL at {t:.2} s",
                workers[victim].name
            );
            let recovered = get("last_recovered_unix_ms");
            if recovered >= kill_unix && retries > 0 {
                println!(
                    "  recovery time     {:.2} s (from the SIGKILL until the last request it disrupted was answered by another worker)",
                    (recovered - kill_unix) as f64 / 1000.0
                );
            } else {
                println!("  recovery time     0.00 s (no request was in flight on the killed worker)");
            }
            println!(
                "  longest stall     {:.2} s without any answer after the kill (the other workers kept serving)",
                load.progress.borrow().longest_stall_after_kill.as_secs_f64()
            );
        }
        None => println!("  worker killed     none (--no-kill, or the load ended first)"),
    }
    println!(
        "  throughput        {:.0} req/s; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        getf("throughput_per_s"),
        getf("p50_ms"),
        getf("p99_ms"),
        getf("max_ms")
    );
    if !plan.service_label.is_empty() {
        let live = metric(text, "zgreen_live_workers", plan.service_label).unwrap_or(-1.0);
        let expired = metric(text, "zgreen_workers_expired_total", "").unwrap_or(0.0);
        println!("  broker            {live} live workers at the end, {expired} expired by heartbeat");
    }
    lost == 0 && received == a.count && sent == a.count && get("mismatched") == 0
}

/// The exit codes of broker and workers on SIGTERM.
fn print_shutdown(broker_code: Option<i32>, worker_codes: &[Option<i32>]) {
    let show = |c: &Option<i32>| c.map_or("killed".to_string(), |c| c.to_string());
    println!(
        "  shutdown          on SIGTERM: broker exit {}, workers exit [{}]",
        show(&broker_code),
        worker_codes.iter().map(show).collect::<Vec<_>>().join(", ")
    );
}

/// The last line, PASS or FAIL, and the exit code.
fn verdict(a: &Args, logs: &Path, ok: bool, sum: &serde_json::Value) -> i32 {
    let get = |k: &str| sum.get(k).and_then(|x| x.as_u64()).unwrap_or(0);
    let (received, lost) = (get("received"), get("lost"));
    if ok {
        println!("{NAME}: PASS: all {received} requests answered, none lost");
        0
    } else {
        println!(
            "{NAME}: FAIL: {lost} lost, {received} of {} answered (logs in {})",
            a.count,
            logs.display()
        );
        1
    }
}

fn log_dir(a: &Args) -> Result<PathBuf, String> {
    let logs = match &a.log_dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("zdemo-{}", std::process::id())),
    };
    std::fs::create_dir_all(&logs).map_err(|e| format!("cannot create {}: {e}", logs.display()))?;
    Ok(logs)
}

/// The pub-sub variant: a forwarder, one publisher, `--workers`
/// subscribers; one subscriber is SIGKILLed half way and the others must
/// still get every message, in order.
fn run_pubsub(a: &Args) -> Result<i32, String> {
    let zbroker = sibling("zbroker")?;
    let zclient = sibling("zclient")?;
    let logs = log_dir(a)?;
    let port = |what: &str| free_port().map_err(|e| format!("no free port for the {what}: {e}"));
    let fe = format!("tcp://127.0.0.1:{}", port("frontend")?);
    let be = format!("tcp://127.0.0.1:{}", port("backend")?);
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let count = a.count.to_string();
    let interval_ms = 2u64;
    println!(
        "{NAME}: forwarder + 1 publisher ({} messages, one every {interval_ms} ms) + {} subscribers, on 127.0.0.1 (logs in {})",
        a.count,
        a.workers,
        logs.display()
    );
    let forwarder = spawn(
        &zbroker,
        &s(&["forwarder", "--frontend", &fe, "--backend", &be]),
        "forwarder",
        &logs,
        false,
    )?;
    let mut subs = Vec::new();
    for i in 1..=a.workers.max(1) {
        let args = s(&[
            "sub",
            "--connect",
            &be,
            "--count",
            &count,
            "--timeout-ms",
            "5000",
            "--json",
        ]);
        subs.push(spawn(&zclient, &args, &format!("subscriber-{i}"), &logs, false)?);
    }
    let _ = zgreen::sleep(Duration::from_millis(500));
    let args = s(&[
        "pub",
        "--connect",
        &fe,
        "--count",
        &count,
        "--interval-ms",
        &interval_ms.to_string(),
        "--warmup-ms",
        "300",
    ]);
    let publisher = spawn(&zclient, &args, "publisher", &logs, false)?;
    let started = Instant::now();
    let half = Duration::from_millis(300 + a.count * interval_ms / 2);
    let mut killed = None;
    let tty = std::io::IsTerminal::is_terminal(&std::io::stdout());
    loop {
        let pub_done = publisher.child.try_wait().is_ok();
        let subs_done = subs.iter().all(|p| p.child.try_wait().is_ok());
        if pub_done && subs_done {
            break;
        }
        if started.elapsed() > Duration::from_secs(120) {
            break;
        }
        if !a.no_kill && killed.is_none() && started.elapsed() >= half {
            let _ = subs[0].child.kill();
            killed = Some(started.elapsed());
            let line = format!(
                "[{:5.1}s] SIGKILL {}: the others go on",
                started.elapsed().as_secs_f64(),
                subs[0].name
            );
            println!("{}{line}", if tty { "\r" } else { "" });
        }
        let alive = alive(&subs);
        let line = format!(
            "[{:5.1}s] publisher {} | subscribers alive {alive}/{}",
            started.elapsed().as_secs_f64(),
            if pub_done { "done" } else { "publishing" },
            subs.len()
        );
        if tty {
            print!("\r{line}\x1b[K");
            let _ = std::io::stdout().flush();
        }
        let _ = zgreen::sleep(Duration::from_millis(100));
    }
    if tty {
        println!();
    }
    let grace = Duration::from_secs(3);
    for p in subs.iter().chain([&publisher]) {
        stop(p, grace);
    }
    let fcode = stop(&forwarder, grace);
    println!();
    let mut ok = true;
    for (i, p) in subs.iter().enumerate() {
        let text = std::fs::read_to_string(&p.log).unwrap_or_default();
        let v: Option<serde_json::Value> = text.lines().rev().find_map(|l| serde_json::from_str(l).ok());
        let get = |k: &str| {
            v.as_ref()
                .and_then(|v| v.get(k))
                .and_then(|x| x.as_u64())
                .unwrap_or(0)
        };
        if i == 0 && killed.is_some() {
            println!(
                "  {:<14} killed with SIGKILL at {:.2} s",
                p.name,
                killed.unwrap_or_default().as_secs_f64()
            );
            continue;
        }
        let (got, gaps) = (get("messages"), get("gaps"));
        ok &= got == a.count && gaps == 0;
        println!(
            "  {:<14} received {got} of {} messages, {gaps} gaps",
            p.name, a.count
        );
    }
    println!(
        "  shutdown       forwarder exit {} on SIGTERM",
        fcode.map_or("killed".to_string(), |c| c.to_string())
    );
    if ok {
        println!("{NAME}: PASS: every surviving subscriber got every message, in order");
        Ok(0)
    } else {
        println!(
            "{NAME}: FAIL: a surviving subscriber missed messages (logs in {})",
            logs.display()
        );
        Ok(1)
    }
}
