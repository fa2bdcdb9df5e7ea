//! `zbench all`: every bench, every implementation, each measurement in a
//! fresh child process, implementations interleaved run by run.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use clap::{Args, ValueEnum};
use serde_json::Value;

use crate::machine::Machine;
use crate::report::{self, Figure, Results};
use crate::{MayOpts, Sizes, repo_root};

/// The figures, in table order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum Bench {
    Spawn,
    Yield,
    Rss,
    /// Issue 3: queue put/get throughput.
    Queue,
    /// Issue 3: `Pool(100).map`.
    PoolMap,
    /// Issue 4: PUSH→PULL throughput.
    Pushpull,
    /// Issue 4: REQ/REP round trip.
    Reqrep,
    /// Issue 4: steerable proxy throughput.
    Proxy,
    /// Issue 4: 1000 DEALERs into one ROUTER.
    Fanin,
    /// Issue 5: TCP echo server.
    Echo,
    /// Issue 5: process relay round trips.
    Relay,
}

impl Bench {
    /// The foundation figures (issue 2), measured against may and gevent.
    pub const CORE: [Bench; 3] = [Bench::Spawn, Bench::Yield, Bench::Rss];
    /// Everything, in report order.
    pub const ALL: [Bench; 11] = [
        Bench::Spawn,
        Bench::Yield,
        Bench::Rss,
        Bench::Queue,
        Bench::PoolMap,
        Bench::Pushpull,
        Bench::Reqrep,
        Bench::Proxy,
        Bench::Fanin,
        Bench::Echo,
        Bench::Relay,
    ];

    pub fn is_core(self) -> bool {
        Bench::CORE.contains(&self)
    }

    pub fn name(self) -> &'static str {
        match self {
            Bench::Spawn => "spawn",
            Bench::Yield => "yield",
            Bench::Rss => "rss",
            Bench::Queue => "queue",
            Bench::PoolMap => "pool-map",
            Bench::Pushpull => "pushpull",
            Bench::Reqrep => "reqrep",
            Bench::Proxy => "proxy",
            Bench::Fanin => "fanin",
            Bench::Echo => "echo",
            Bench::Relay => "relay",
        }
    }

    /// The JSON field holding the figure (lower is better for all three).
    pub fn key(self) -> &'static str {
        match self {
            Bench::Spawn | Bench::Yield => "ns_per_op",
            Bench::Rss => "bytes_per_greenlet",
            _ => unreachable!("suite figures have their own key"),
        }
    }

    fn size_args(self, s: &Sizes) -> Vec<String> {
        match self {
            Bench::Spawn => vec![
                "--total".into(),
                s.total.to_string(),
                "--batch".into(),
                s.batch.to_string(),
            ],
            Bench::Yield => vec!["--yields".into(), s.yields.to_string()],
            Bench::Rss => vec!["--count".into(), s.count.to_string()],
            _ => Vec::new(),
        }
    }
}

/// The implementations compared, in run order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum Peer {
    Zgreen,
    May,
    Gevent,
}

impl Peer {
    pub const ALL: [Peer; 3] = [Peer::Zgreen, Peer::May, Peer::Gevent];

    pub fn name(self) -> &'static str {
        match self {
            Peer::Zgreen => "zgreen",
            Peer::May => "may",
            Peer::Gevent => "gevent",
        }
    }
}

#[derive(Args, Debug)]
pub struct AllArgs {
    /// Runs per implementation and figure (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Also write the Markdown report to this file.
    #[arg(long)]
    pub markdown_out: Option<PathBuf>,
    /// Python interpreter for the gevent peer (default:
    /// benches/peers/.venv/bin/python if it exists, else python3).
    #[arg(long)]
    pub python: Option<PathBuf>,
    /// Only these figures (repeatable; default: all).
    #[arg(long = "bench", value_enum)]
    pub benches: Vec<Bench>,
    /// Only these implementations (repeatable; default: all): zgreen, may,
    /// gevent for spawn/yield/rss, else the column labels of the suite
    /// figures (green, fdloop, blocking, tmq, zmqrs, zmq.green, ...).
    #[arg(long = "impl")]
    pub impls: Vec<String>,
    #[command(flatten)]
    pub sizes: Sizes,
    #[command(flatten)]
    pub suite: crate::suite::SuiteSizes,
    #[command(flatten)]
    pub may: MayOpts,
}

pub fn python(args: &AllArgs) -> PathBuf {
    if let Some(p) = &args.python {
        return p.clone();
    }
    let venv = repo_root().join("benches/peers/.venv/bin/python");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

/// Runs one measurement in a child process; returns its JSON line.
fn measure(bench: Bench, peer: Peer, args: &AllArgs) -> Result<Value, String> {
    let mut cmd = match peer {
        Peer::Zgreen | Peer::May => {
            let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
            let mut c = Command::new(exe);
            c.args([bench.name(), "--impl", peer.name()]);
            if let (Peer::May, Some(n)) = (peer, args.may.may_pool_capacity) {
                c.args(["--may-pool-capacity", &n.to_string()]);
            }
            c
        }
        Peer::Gevent => {
            let mut c = Command::new(python(args));
            c.arg(repo_root().join("benches/peers/gevent_core.py"))
                .arg(bench.name());
            c
        }
    };
    cmd.args(bench.size_args(&args.sizes))
        .stdin(Stdio::null())
        .stderr(Stdio::inherit());
    let out = cmd.output().map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{} {} exited with {}",
            peer.name(),
            bench.name(),
            out.status
        ));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ok_or_else(|| format!("{} {} printed no JSON line", peer.name(), bench.name()))?;
    let v: Value = serde_json::from_str(line).map_err(|e| format!("bad JSON line {line:?}: {e}"))?;
    if v.get(bench.key()).and_then(Value::as_f64).is_none() {
        return Err(format!(
            "{} {}: no numeric {:?} in {line}",
            peer.name(),
            bench.name(),
            bench.key()
        ));
    }
    Ok(v)
}

/// The runner; returns the process exit code.
pub fn run(args: &AllArgs) -> i32 {
    let benches: Vec<Bench> = if args.benches.is_empty() {
        Bench::ALL.to_vec()
    } else {
        args.benches.clone()
    };
    let peers: Vec<Peer> = if args.impls.is_empty() {
        Peer::ALL.to_vec()
    } else {
        Peer::ALL
            .into_iter()
            .filter(|p| args.impls.iter().any(|i| i == p.name()))
            .collect()
    };
    let (core, suite): (Vec<Bench>, Vec<Bench>) = benches.into_iter().partition(|b| b.is_core());
    let benches = core;
    if args.runs == 0 {
        eprintln!("zbench: --runs must be at least 1");
        return 2;
    }
    let machine = Machine::probe();
    let mut results = Results::default();
    let mut broken: BTreeMap<Peer, String> = BTreeMap::new();
    for &bench in &benches {
        for run in 1..=args.runs {
            for &peer in &peers {
                if broken.contains_key(&peer) {
                    continue;
                }
                match measure(bench, peer, args) {
                    Ok(v) => {
                        let x = v[bench.key()].as_f64().unwrap_or(f64::NAN);
                        eprintln!(
                            "[{} run {run}/{}] {:>6}: {} = {x:.1}",
                            bench.name(),
                            args.runs,
                            peer.name(),
                            bench.key()
                        );
                        results.push(bench, peer, v);
                    }
                    Err(e) => {
                        eprintln!(
                            "[{} run {run}/{}] {:>6}: FAILED: {e}",
                            bench.name(),
                            args.runs,
                            peer.name()
                        );
                        results.fail(bench, peer, e.clone());
                        if peer == Peer::Gevent && run == 1 {
                            // Most likely gevent is not installed: do not
                            // retry it for every run.
                            broken.insert(peer, e);
                        }
                    }
                }
            }
        }
    }
    let figures: Vec<Figure> = benches.iter().map(|&b| results.figure(b, &peers)).collect();
    let py = python(args);
    let suite_results: Vec<crate::suite::FigureResult> = suite
        .iter()
        .map(|&b| crate::suite::run_figure(b, &args.suite, args.runs, &args.impls, &py))
        .collect();
    let cmdline: Vec<String> = std::env::args().collect();
    let mut md = report::markdown(&machine, &results, &figures, &peers, args, &cmdline.join(" "));
    for fr in &suite_results {
        md.push('\n');
        md.push_str(&crate::suite::markdown(fr, args.runs));
    }
    println!("{md}");
    if let Some(path) = &args.markdown_out {
        if let Err(e) = std::fs::write(path, &md) {
            eprintln!("zbench: cannot write {}: {e}", path.display());
            return 1;
        }
    }
    0
}
