//! `ws-bench run`: starts a fresh server process for each run, runs the
//! `clients` subcommand as another process against it, and prints every
//! run and the medians as a markdown table.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use zgreen_harness::{ChildGuard, LineError};

use crate::clients::ClientReport;
use crate::peer::FlushMode;

/// How long a server process has to print its address.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

/// Which server to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerKind {
    /// zgreen's `HttpServer` and WebSockets (`ws-bench server`).
    Zgreen,
    /// tokio-tungstenite on a current-thread runtime (`ws-bench peer-server`).
    Peer(FlushMode),
}

impl ServerKind {
    /// The subcommand (and its options) that runs this server.
    pub fn args(self) -> &'static [&'static str] {
        match self {
            ServerKind::Zgreen => &["server"],
            ServerKind::Peer(FlushMode::Each) => &["peer-server", "--flush", "each"],
            ServerKind::Peer(FlushMode::Batch) => &["peer-server", "--flush", "batch"],
        }
    }

    /// What the table calls this server.
    pub fn describe(self) -> &'static str {
        match self {
            ServerKind::Zgreen => "zgreen",
            ServerKind::Peer(FlushMode::Each) => "tokio-tungstenite (current-thread, flush each message)",
            ServerKind::Peer(FlushMode::Batch) => "tokio-tungstenite (current-thread, feed queued + flush)",
        }
    }
}

/// What `run` measures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunOptions {
    /// The server.
    pub server: ServerKind,
    /// WebSocket connections.
    pub clients: usize,
    /// Messages each client receives.
    pub messages: u64,
    /// Size of each message in bytes.
    pub size: usize,
    /// Runs (a fresh server each).
    pub runs: usize,
    /// The clients' bound on each phase.
    pub timeout: Duration,
}

/// Starts `exe <server_args> --addr 127.0.0.1:0 --max-clients
/// <max_clients>` (a server subcommand and its options) and returns it,
/// killed and reaped when dropped, with the address it printed. Its
/// stdout is read to the end by a thread, so it never blocks on a full
/// pipe.
pub fn start_server(
    exe: &Path,
    server_args: &[&str],
    max_clients: usize,
) -> Result<(ChildGuard, String), String> {
    let mut child = ChildGuard::spawn(
        Command::new(exe)
            .args(server_args)
            .args(["--addr", "127.0.0.1:0", "--max-clients"])
            .arg(max_clients.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped()),
    )
    .map_err(|e| format!("spawn {}: {e}", exe.display()))?;
    let lines = child.stdout_lines().expect("stdout is piped");
    let line = lines.next(STARTUP_TIMEOUT).map_err(|e| match e {
        LineError::Timeout => format!("the server printed no address within {STARTUP_TIMEOUT:?}"),
        LineError::Closed => "the server closed its stdout without printing its address".to_string(),
    })?;
    let addr = line
        .trim()
        .strip_prefix("listening ")
        .ok_or_else(|| format!("the server printed {line:?}, not `listening <addr>`"))?;
    Ok((child, addr.to_string()))
}

/// Runs `exe clients` against `addr` and parses its JSON line; kills it if
/// it outlives its own timeouts.
fn run_clients(exe: &Path, addr: &str, opts: &RunOptions) -> Result<ClientReport, String> {
    let mut child = ChildGuard::spawn(
        Command::new(exe)
            .args(["clients", "--addr", addr])
            .args(["--clients", &opts.clients.to_string()])
            .args(["--messages", &opts.messages.to_string()])
            .args(["--size", &opts.size.to_string()])
            .args(["--timeout-s", &opts.timeout.as_secs().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped()),
    )
    .map_err(|e| format!("spawn {}: {e}", exe.display()))?;
    // Connecting, delivering and the stats each have `timeout`.
    let deadline = Instant::now() + opts.timeout * 3 + Duration::from_secs(30);
    let timeout = deadline.saturating_duration_since(Instant::now());
    let Some(status) = child.wait_timeout(timeout).map_err(|e| e.to_string())? else {
        return Err("the clients process did not exit in time; killed".to_string());
    };
    let mut out = String::new();
    if let Some(mut stdout) = child.take_stdout() {
        stdout.read_to_string(&mut out).map_err(|e| e.to_string())?;
    }
    if !status.success() {
        return Err(format!("the clients process failed ({status})"));
    }
    let v: serde_json::Value =
        serde_json::from_str(out.trim()).map_err(|e| format!("clients printed {out:?}: {e}"))?;
    ClientReport::from_json(&v).ok_or_else(|| format!("clients printed an incomplete report: {out:?}"))
}

/// The median of `xs` (the mean of the middle two for an even count).
pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => xs[n / 2],
        _ => (xs[n / 2 - 1] + xs[n / 2]) / 2.0,
    }
}

/// Runs the benchmark `opts.runs` times and prints the table.
pub fn run(opts: &RunOptions) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut reports = Vec::new();
    for i in 0..opts.runs {
        let (server, addr) = start_server(&exe, opts.server.args(), opts.clients)?;
        let report = run_clients(&exe, &addr, opts).map_err(|e| format!("run {}: {e}", i + 1))?;
        drop(server);
        eprintln!("run {}: {}", i + 1, report.to_json());
        reports.push(report);
    }
    println!("{}", table(opts, &reports));
    Ok(())
}

/// The markdown table: one row per run, then the medians.
pub fn table(opts: &RunOptions, reports: &[ClientReport]) -> String {
    let mut out = format!(
        "WebSocket broadcast, {} server: {} clients x {} messages of {} B\n\n",
        opts.server.describe(),
        opts.clients,
        opts.messages,
        opts.size
    );
    out.push_str(
        "| run | deliveries | elapsed s | deliveries/s | client CPU s | server CPU s | server user/sys s \
         | slow disconnects | send errors | loadavg |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|---|---|---|\n");
    for (i, r) in reports.iter().enumerate() {
        out.push_str(&format!(
            "| {} | {} | {:.3} | {:.0} | {:.3} | {:.3} | {:.3}/{:.3} | {} | {} | {} |\n",
            i + 1,
            r.deliveries,
            r.elapsed_s,
            r.deliveries_per_s,
            r.client_cpu_s,
            r.server.cpu_s,
            r.server.user_s,
            r.server.sys_s,
            r.server.slow_disconnects,
            r.server.send_errors,
            r.loadavg
        ));
    }
    let med = |f: fn(&ClientReport) -> f64| median(reports.iter().map(f).collect());
    out.push_str(&format!(
        "| **median** | {:.0} | {:.3} | **{:.0}** | {:.3} | {:.3} | {:.3}/{:.3} | {:.0} | {:.0} | |\n",
        med(|r| r.deliveries as f64),
        med(|r| r.elapsed_s),
        med(|r| r.deliveries_per_s),
        med(|r| r.client_cpu_s),
        med(|r| r.server.cpu_s),
        med(|r| r.server.user_s),
        med(|r| r.server.sys_s),
        med(|r| r.server.slow_disconnects as f64),
        med(|r| r.server.send_errors as f64),
    ));
    out
}
