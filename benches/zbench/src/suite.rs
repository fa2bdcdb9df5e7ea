//! The figures of issues 3, 4 and 5 in `zbench all`: each figure is a
//! list of cases (a transport, a message size, a knob), each case a list of
//! implementations, each measured in its own child process, interleaved
//! run by run; medians, ratios to zgreen and the targets.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use clap::Args;
use serde_json::Value;

use crate::machine::loadavg;
use crate::report::median;
use crate::runner::Bench;

/// Sizes of the figures of issues 3 to 5 (shared by `all`).
#[derive(Args, Clone, Debug)]
pub struct SuiteSizes {
    /// queue: items put and got per run.
    #[arg(long, default_value_t = 1_000_000)]
    pub queue_items: u64,
    /// queue: maxsize of the bounded case (gevent `Queue(maxsize)`,
    /// `crossbeam_channel::bounded`).
    #[arg(long, default_value_t = 1000)]
    pub queue_maxsize: usize,
    /// pool-map: items mapped.
    #[arg(long, default_value_t = 1_000_000)]
    pub pool_items: u64,
    /// pool-map: pool size.
    #[arg(long, default_value_t = 100)]
    pub pool_size: usize,
    /// pushpull / proxy / fanin: messages per run (Rust implementations).
    #[arg(long, default_value_t = 1_000_000)]
    pub msgs: u64,
    /// pushpull / proxy: message sizes in bytes (repeatable).
    #[arg(long = "size", default_values_t = [1usize, 100, 1024])]
    pub sizes: Vec<usize>,
    /// reqrep: round trips per run (Rust implementations).
    #[arg(long, default_value_t = 100_000)]
    pub rtts: u64,
    /// reqrep: request size in bytes.
    #[arg(long, default_value_t = 1)]
    pub rtt_size: usize,
    /// pushpull: messages per run for tmq and zmq.rs (default: --msgs).
    #[arg(long)]
    pub peer_msgs: Option<u64>,
    /// pushpull: messages per run for zmq.green (pyzmq + gevent), which is
    /// slow enough that the full count would dominate the run time.
    #[arg(long, default_value_t = 200_000)]
    pub py_msgs: u64,
    /// reqrep: round trips per run for zmq.green.
    #[arg(long, default_value_t = 20_000)]
    pub py_rtts: u64,
    /// fanin: DEALER greenlets.
    #[arg(long, default_value_t = 1000)]
    pub dealers: u64,
    /// echo: concurrent clients.
    #[arg(long, default_value_t = 100)]
    pub clients: u64,
    /// echo: round trips per client.
    #[arg(long, default_value_t = 1000)]
    pub echo_rounds: u64,
    /// relay: round trips per run (Rust implementations).
    #[arg(long, default_value_t = 100_000)]
    pub relay_rtts: u64,
    /// relay: round trips per run for gipc.
    #[arg(long, default_value_t = 20_000)]
    pub py_relay_rtts: u64,
}

/// One implementation of one case: a label and the child's command line.
#[derive(Clone, Debug)]
pub struct ImplRun {
    pub label: &'static str,
    pub python: bool,
    pub argv: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Case {
    pub label: String,
    pub impls: Vec<ImplRun>,
}

/// A target: zgreen ÷ `peer` of the figure must be ≥ (throughput) or ≤
/// (time) `bound`.
pub struct Target {
    pub peer: &'static str,
    pub bound: f64,
}

pub struct Spec {
    pub title: String,
    pub key: &'static str,
    pub higher_is_better: bool,
    /// The zgreen implementation the ratios are taken against.
    pub zgreen: &'static str,
    pub targets: Vec<Target>,
    pub cases: Vec<Case>,
    pub note: &'static str,
    /// Further JSON fields whose medians the report lists.
    pub details: &'static [&'static str],
}

fn rust(label: &'static str, argv: &[&str]) -> ImplRun {
    ImplRun {
        label,
        python: false,
        argv: argv.iter().map(|s| s.to_string()).collect(),
    }
}

fn py(label: &'static str, argv: &[&str]) -> ImplRun {
    ImplRun {
        label,
        python: true,
        argv: argv.iter().map(|s| s.to_string()).collect(),
    }
}

pub fn spec(bench: Bench, s: &SuiteSizes) -> Spec {
    match bench {
        Bench::Queue => {
            let n = s.queue_items.to_string();
            let cases = [0usize, s.queue_maxsize]
                .iter()
                .map(|&m| {
                    let m = m.to_string();
                    let a = ["--maxsize", &m, "--count", &n];
                    Case {
                        label: if m == "0" {
                            "unbounded".into()
                        } else {
                            format!("bounded, maxsize {m}")
                        },
                        impls: vec![
                            rust("zgreen", &[&["queue", "--impl", "zgreen"][..], &a].concat()),
                            rust("crossbeam", &[&["queue", "--impl", "crossbeam"][..], &a].concat()),
                            py("gevent", &[&["queue"][..], &a].concat()),
                        ],
                    }
                })
                .collect();
            Spec {
                title: format!(
                    "Queue put/get between two greenlets, items/s ({} items)",
                    s.queue_items
                ),
                key: "items_per_s",
                higher_is_better: true,
                zgreen: "zgreen",
                targets: vec![
                    Target {
                        peer: "gevent",
                        bound: 20.0,
                    },
                    Target {
                        peer: "crossbeam",
                        bound: 1.0,
                    },
                ],
                cases,
                details: &[],
                note: "crossbeam: crossbeam-channel 0.5 between two OS threads (unbounded() / bounded(maxsize)).",
            }
        }
        Bench::PoolMap => {
            let (n, z) = (s.pool_items.to_string(), s.pool_size.to_string());
            let a = ["--size", &z, "--items", &n];
            Spec {
                title: format!(
                    "Pool({}).map over {} trivial items, items/s",
                    s.pool_size, s.pool_items
                ),
                key: "items_per_s",
                higher_is_better: true,
                zgreen: "zgreen",
                targets: vec![Target {
                    peer: "gevent",
                    bound: 20.0,
                }],
                cases: vec![Case {
                    label: format!("Pool({})", s.pool_size),
                    impls: vec![
                        rust("zgreen", &[&["pool-map"][..], &a].concat()),
                        py("gevent", &[&["pool-map"][..], &a].concat()),
                    ],
                }],
                details: &[],
                note: "",
            }
        }
        Bench::Pushpull => {
            let mut cases = Vec::new();
            let (n, pn) = (s.msgs.to_string(), s.py_msgs.to_string());
            let rn = s.peer_msgs.unwrap_or(s.msgs).to_string();
            for t in ["tcp", "ipc", "inproc"] {
                for size in &s.sizes {
                    let z = size.to_string();
                    let a = ["--transport", t, "--size", &z, "--count", &n];
                    let mut impls = vec![
                        rust("green", &[&["pushpull", "--impl", "green"][..], &a].concat()),
                        rust("fdloop", &[&["pushpull", "--impl", "fdloop"][..], &a].concat()),
                        rust(
                            "blocking",
                            &[&["pushpull", "--impl", "blocking"][..], &a].concat(),
                        ),
                    ];
                    if t == "tcp" {
                        let a = ["--transport", t, "--size", &z, "--count", &rn];
                        impls.push(rust(
                            "zmqrs",
                            &[&["pushpull", "--impl", "zmqrs"][..], &a].concat(),
                        ));
                        impls.push(rust("tmq", &[&["pushpull", "--impl", "tmq"][..], &a].concat()));
                        impls.push(py(
                            "zmq.green",
                            &["pushpull", "--transport", t, "--size", &z, "--count", &pn],
                        ));
                    }
                    cases.push(Case {
                        label: format!("{t}, {size} B"),
                        impls,
                    });
                }
            }
            Spec {
                title: format!(
                    "PUSH→PULL throughput, msgs/s ({} messages; tmq and zmq.rs {}; zmq.green {})",
                    s.msgs,
                    s.peer_msgs.unwrap_or(s.msgs),
                    s.py_msgs
                ),
                key: "msgs_per_s",
                higher_is_better: true,
                zgreen: "green",
                targets: vec![
                    Target {
                        peer: "fdloop",
                        bound: 0.9,
                    },
                    Target {
                        peer: "blocking",
                        bound: 0.8,
                    },
                    Target {
                        peer: "zmqrs",
                        bound: 1.0,
                    },
                    Target {
                        peer: "tmq",
                        bound: 3.0,
                    },
                    Target {
                        peer: "zmq.green",
                        bound: 10.0,
                    },
                ],
                cases,
                details: &[],
                note: "green: sender and receiver greenlets on one hub; fdloop: both raw sockets in one thread (DONTWAIT + ZMQ_EVENTS + poll on ZMQ_FD); blocking: raw blocking sockets in two threads; zmqrs / tmq: tokio current-thread runtime; zmq.green: pyzmq + gevent.",
            }
        }
        Bench::Reqrep => {
            let mut cases = Vec::new();
            let (n, pn, z) = (s.rtts.to_string(), s.py_rtts.to_string(), s.rtt_size.to_string());
            let knobs: [(&str, Option<&str>); 6] = [
                ("tcp", None),
                ("ipc", None),
                ("inproc", None),
                ("tcp", Some("2")),
                ("ipc", Some("2")),
                ("inproc", Some("0")),
            ];
            for (t, io) in knobs {
                let mut a = vec!["--transport", t, "--size", &z, "--count", &n];
                if let Some(io) = io {
                    a.extend(["--io-threads", io]);
                }
                let mut impls = vec![
                    rust("green", &[&["reqrep", "--impl", "green"][..], &a].concat()),
                    rust(
                        "green-2hubs",
                        &[&["reqrep", "--impl", "green-2hubs"][..], &a].concat(),
                    ),
                    rust("blocking", &[&["reqrep", "--impl", "blocking"][..], &a].concat()),
                ];
                if t == "tcp" && io.is_none() {
                    impls.push(rust("zmqrs", &[&["reqrep", "--impl", "zmqrs"][..], &a].concat()));
                    impls.push(rust("tmq", &[&["reqrep", "--impl", "tmq"][..], &a].concat()));
                    impls.push(py(
                        "zmq.green",
                        &["reqrep", "--transport", t, "--size", &z, "--count", &pn],
                    ));
                }
                cases.push(Case {
                    label: match io {
                        None => t.to_string(),
                        Some(io) => format!("{t}, {io} I/O threads"),
                    },
                    impls,
                });
            }
            Spec {
                title: format!(
                    "REQ/REP round trip, µs ({} round trips of {} B; zmq.green {})",
                    s.rtts, s.rtt_size, s.py_rtts
                ),
                key: "us_per_rtt",
                higher_is_better: false,
                zgreen: "green",
                targets: vec![Target {
                    peer: "blocking",
                    bound: 1.10,
                }],
                cases,
                details: &[],
                note: "green: REQ and REP greenlets on one hub; green-2hubs: REQ on the main thread's hub, REP on a second thread's hub; blocking: raw blocking sockets in two threads. Default: 1 libzmq I/O thread.",
            }
        }
        Bench::Proxy => {
            let n = s.msgs.to_string();
            let mut cases = Vec::new();
            for (t, topo) in [
                ("tcp", "push-pull"),
                ("ipc", "push-pull"),
                ("tcp", "router-dealer"),
            ] {
                let a = [
                    "--topology",
                    topo,
                    "--transport",
                    t,
                    "--size",
                    "100",
                    "--count",
                    &n,
                ];
                cases.push(Case {
                    label: format!("{topo}, {t}, 100 B"),
                    impls: vec![
                        rust("green", &[&["proxy", "--impl", "green"][..], &a].concat()),
                        rust("zmq-proxy", &[&["proxy", "--impl", "zmq-proxy"][..], &a].concat()),
                    ],
                });
            }
            Spec {
                title: format!("Steerable proxy throughput, msgs/s ({} messages)", s.msgs),
                key: "msgs_per_s",
                higher_is_better: true,
                zgreen: "green",
                targets: vec![Target {
                    peer: "zmq-proxy",
                    bound: 0.8,
                }],
                cases,
                details: &[],
                note: "push-pull: PUSH (producer thread) → PULL frontend [proxy] PUSH backend → PULL (consumer thread); router-dealer: DEALER → ROUTER frontend [proxy] DEALER backend → ROUTER (two frames per message through the proxy). The producer and consumer are blocking sockets of their own context in both columns. green: `zgreen::zmq::proxy_steerable` in a greenlet on its own hub thread; zmq-proxy: `zmq::proxy_steerable` (libzmq's `zmq_proxy_steerable`) in a thread. Control: a PAIR socket over the same transport, TERMINATE at the end.",
            }
        }
        Bench::Fanin => {
            let n = s.msgs.to_string();
            let d = s.dealers.to_string();
            let mut cases = Vec::new();
            for t in ["tcp", "ipc", "inproc"] {
                let a = ["--transport", t, "--size", "100", "--count", &n];
                cases.push(Case {
                    label: format!("{t}, 100 B"),
                    impls: vec![
                        rust("green-fanin", &[&["fanin", "--dealers", &d][..], &a].concat()),
                        rust("green-pair", &[&["fanin", "--dealers", "1"][..], &a].concat()),
                        rust(
                            "raw-fanin",
                            &[&["fanin", "--impl", "raw", "--dealers", &d][..], &a].concat(),
                        ),
                        rust(
                            "raw-pair",
                            &[&["fanin", "--impl", "raw", "--dealers", "1"][..], &a].concat(),
                        ),
                    ],
                });
            }
            Spec {
                title: format!(
                    "Fan-in: {} DEALER greenlets into one ROUTER vs one DEALER/ROUTER pair, msgs/s ({} messages in all)",
                    s.dealers, s.msgs
                ),
                key: "msgs_per_s",
                higher_is_better: true,
                zgreen: "green-fanin",
                targets: vec![Target {
                    peer: "green-pair",
                    bound: 0.7,
                }],
                cases,
                details: &[],
                note: "green-*: zgreen, every socket a greenlet on one hub, the ROUTER greenlet receiving identity + payload frames; raw-*: the same sockets on raw libzmq in one thread (DONTWAIT + ZMQ_EVENTS + poll on the ZMQ_FDs, up to 128 sends per DEALER per turn), for reference. The target is green-fanin ≥ 0.7× green-pair.",
            }
        }
        Bench::Echo => {
            let a = [
                "--clients".to_string(),
                s.clients.to_string(),
                "--rounds".into(),
                s.echo_rounds.to_string(),
                "--size".into(),
                "1024".into(),
            ];
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            let mk = |label, server| rust(label, &[&["echo", "--server", server][..], &a].concat());
            Spec {
                title: format!(
                    "TCP echo server, {} concurrent clients, 1 KiB round trips/s ({} per client)",
                    s.clients, s.echo_rounds
                ),
                key: "round_trips_per_s",
                higher_is_better: true,
                zgreen: "zgreen",
                targets: vec![
                    Target {
                        peer: "gevent",
                        bound: 10.0,
                    },
                    Target {
                        peer: "threads",
                        bound: 0.8,
                    },
                ],
                cases: vec![Case {
                    label: "1 KiB".into(),
                    impls: vec![
                        mk("zgreen", "zgreen"),
                        mk("threads", "threads"),
                        mk("gevent", "gevent"),
                    ],
                }],
                details: &["server_cpu_us_per_rt"],
                note: "Server in its own process: zgreen `StreamServer`, `std::net` thread per connection, gevent `StreamServer`. The load generator is the same for all three: zgreen client greenlets on one hub in the measuring process.",
            }
        }
        Bench::Relay => {
            let (n, pn) = (s.relay_rtts.to_string(), s.py_relay_rtts.to_string());
            Spec {
                title: format!(
                    "Process relay round trips/s ({} round trips; gipc {})",
                    s.relay_rtts, s.py_relay_rtts
                ),
                key: "round_trips_per_s",
                higher_is_better: true,
                zgreen: "zgreen",
                targets: vec![
                    Target {
                        peer: "gipc",
                        bound: 10.0,
                    },
                    Target {
                        peer: "pipe",
                        bound: 0.8,
                    },
                ],
                cases: vec![Case {
                    label: "u64 message".into(),
                    impls: vec![
                        rust("zgreen", &["relay", "--impl", "zgreen", "--count", &n]),
                        rust("pipe", &["relay", "--impl", "pipe", "--count", &n]),
                        py("gipc", &["relay", "--count", &pn]),
                    ],
                }],
                details: &[],
                note: "zgreen: `process::relay` (re-exec'd child, socketpair, length + JSON frames); pipe: blocking std I/O on the child's stdin/stdout, same framing and serde_json; gipc 1.8 (pickle over pipes) with gevent.",
            }
        }
        Bench::Spawn | Bench::Yield | Bench::Rss => unreachable!("not a suite figure"),
    }
}

/// Runs one implementation in a child process; returns its JSON line.
fn measure(imp: &ImplRun, key: &str, python: &Path) -> Result<Value, String> {
    let mut cmd = if imp.python {
        let mut c = Command::new(python);
        c.arg(crate::repo_root().join("benches/peers/gevent_core.py"));
        c
    } else {
        let mut c = Command::new(std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?);
        if imp.argv.first().map(String::as_str) == Some("echo") {
            c.args([&imp.argv[0][..], "--python"]).arg(python);
            c.args(&imp.argv[1..]);
            c.stdin(Stdio::null()).stderr(Stdio::inherit());
            return finish(c, imp, key);
        }
        c
    };
    cmd.args(&imp.argv);
    cmd.stdin(Stdio::null()).stderr(Stdio::inherit());
    finish(cmd, imp, key)
}

fn finish(mut cmd: Command, imp: &ImplRun, key: &str) -> Result<Value, String> {
    let out = cmd.output().map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{} exited with {}", imp.label, out.status));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ok_or_else(|| format!("{} printed no JSON line", imp.label))?;
    let v: Value = serde_json::from_str(line).map_err(|e| format!("bad JSON line {line:?}: {e}"))?;
    if v.get(key).and_then(Value::as_f64).is_none() {
        return Err(format!("{}: no numeric {key:?} in {line}", imp.label));
    }
    Ok(v)
}

/// Every value, load average and failure of one figure.
pub struct FigureResult {
    pub spec: Spec,
    /// (case index, impl label) -> values in run order.
    pub values: BTreeMap<(usize, &'static str), Vec<f64>>,
    /// (case index, impl label) -> the JSON lines.
    pub lines: BTreeMap<(usize, &'static str), Vec<Value>>,
    pub loads: Vec<(String, String)>,
    pub failures: Vec<String>,
}

pub fn run_figure(
    bench: Bench,
    sizes: &SuiteSizes,
    runs: usize,
    only: &[String],
    python: &Path,
) -> FigureResult {
    let spec = spec(bench, sizes);
    let mut values: BTreeMap<(usize, &'static str), Vec<f64>> = BTreeMap::new();
    let mut lines: BTreeMap<(usize, &'static str), Vec<Value>> = BTreeMap::new();
    let mut loads = Vec::new();
    let mut failures = Vec::new();
    let mut broken: Vec<&'static str> = Vec::new();
    for (ci, case) in spec.cases.iter().enumerate() {
        let load_start = loadavg();
        for run in 1..=runs {
            for imp in &case.impls {
                if !only.is_empty() && !only.iter().any(|o| o == imp.label) {
                    continue;
                }
                if broken.contains(&imp.label) {
                    continue;
                }
                match measure(imp, spec.key, python) {
                    Ok(v) => {
                        let x = v[spec.key].as_f64().unwrap_or(f64::NAN);
                        eprintln!(
                            "[{} {} run {run}/{runs}] {:>11}: {} = {}",
                            bench.name(),
                            case.label,
                            imp.label,
                            spec.key,
                            fmt_value(spec.key, x)
                        );
                        values.entry((ci, imp.label)).or_default().push(x);
                        lines.entry((ci, imp.label)).or_default().push(v);
                    }
                    Err(e) => {
                        eprintln!(
                            "[{} {} run {run}/{runs}] {:>11}: FAILED: {e}",
                            bench.name(),
                            case.label,
                            imp.label
                        );
                        failures.push(format!("{} / {} / {}: {e}", bench.name(), case.label, imp.label));
                        if run == 1 && ci == 0 {
                            // Most likely the peer is missing: do not retry
                            // it for every run and case.
                            broken.push(imp.label);
                        }
                    }
                }
            }
        }
        loads.push((load_start, loadavg()));
    }
    FigureResult {
        spec,
        values,
        lines,
        loads,
        failures,
    }
}

pub fn fmt_value(key: &str, x: f64) -> String {
    if key.starts_with("us_") {
        return if x >= 100.0 {
            format!("{x:.0} µs")
        } else {
            format!("{x:.1} µs")
        };
    }
    if x >= 1e6 {
        format!("{:.2} M/s", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1} k/s", x / 1e3)
    } else {
        format!("{x:.0} /s")
    }
}

fn fmt_ratio(higher_is_better: bool, r: f64) -> String {
    let zgreen_better = if higher_is_better { r >= 1.0 } else { r <= 1.0 };
    let factor = if r >= 1.0 { r } else { 1.0 / r };
    let word = if zgreen_better { "better" } else { "worse" };
    format!("{r:.2} (zgreen {factor:.2}× {word})")
}

pub fn markdown(fr: &FigureResult, runs: usize) -> String {
    let spec = &fr.spec;
    let mut o = String::new();
    let _ = writeln!(o, "### {}\n", spec.title);
    if !spec.note.is_empty() {
        let _ = writeln!(o, "{}\n", spec.note);
    }
    // Every implementation label in case order, zgreen's first.
    let mut labels: Vec<&'static str> = vec![spec.zgreen];
    for c in &spec.cases {
        for i in &c.impls {
            if !labels.contains(&i.label) {
                labels.push(i.label);
            }
        }
    }
    let others: Vec<&'static str> = labels[1..].to_vec();
    let dir = if spec.higher_is_better {
        "higher is better"
    } else {
        "lower is better"
    };
    let _ = writeln!(
        o,
        "Medians of {runs} runs ({dir}); ratios are zgreen ÷ peer of the figure.\n"
    );
    let mut head = String::from("| case | load avg (start → end) |");
    let mut rule = String::from("|---|---|");
    for l in &labels {
        let _ = write!(head, " {l} |");
        rule.push_str("---:|");
    }
    for l in &others {
        let _ = write!(head, " {} ÷ {l} |", spec.zgreen);
        rule.push_str("---|");
    }
    head.push_str(" targets |");
    rule.push_str("---|");
    let _ = writeln!(o, "{head}\n{rule}");
    for (ci, case) in spec.cases.iter().enumerate() {
        let med = |l: &str| {
            fr.values
                .iter()
                .find(|((c, x), _)| *c == ci && *x == l)
                .and_then(|(_, v)| median(v))
        };
        let (ls, le) = fr.loads.get(ci).cloned().unwrap_or_default();
        let mut row = format!("| {} | {ls} → {le} |", case.label);
        let present = |l: &str| case.impls.iter().any(|i| i.label == l);
        for l in &labels {
            match med(l) {
                Some(x) => {
                    let _ = write!(row, " {} |", fmt_value(spec.key, x));
                }
                None if present(l) => row.push_str(" n/a |"),
                None => row.push_str(" – |"),
            }
        }
        let z = med(spec.zgreen);
        for l in &others {
            match (z, med(l)) {
                (Some(z), Some(x)) => {
                    let _ = write!(row, " {} |", fmt_ratio(spec.higher_is_better, z / x));
                }
                _ => row.push_str(" – |"),
            }
        }
        let mut verdicts = Vec::new();
        for t in &spec.targets {
            if let (Some(z), Some(x)) = (z, med(t.peer)) {
                let r = z / x;
                let (ok, op) = if spec.higher_is_better {
                    (r >= t.bound, "≥")
                } else {
                    (r <= t.bound, "≤")
                };
                verdicts.push(format!(
                    "{op} {}× {}: {}",
                    t.bound,
                    t.peer,
                    if ok { "**met**" } else { "**missed**" }
                ));
            }
        }
        let _ = writeln!(o, "{row} {} |", verdicts.join("; "));
    }
    let _ = writeln!(o, "\nEvery run, in run order:\n");
    let _ = writeln!(o, "| case | impl | runs |\n|---|---|---|");
    for (ci, case) in spec.cases.iter().enumerate() {
        for i in &case.impls {
            if let Some(v) = fr.values.get(&(ci, i.label)) {
                let list: Vec<String> = v.iter().map(|&x| fmt_value(spec.key, x)).collect();
                let _ = writeln!(o, "| {} | {} | {} |", case.label, i.label, list.join(", "));
            }
        }
    }
    if !spec.details.is_empty() {
        let _ = writeln!(o, "\nDetails (medians):\n");
        for ((ci, label), ls) in &fr.lines {
            let d: Vec<String> = spec
                .details
                .iter()
                .filter_map(|k| {
                    let xs: Vec<f64> = ls
                        .iter()
                        .filter_map(|l| l.get(*k).and_then(Value::as_f64))
                        .collect();
                    median(&xs).map(|m| format!("{k} = {m:.2}"))
                })
                .collect();
            if !d.is_empty() {
                let _ = writeln!(o, "- {} / {label}: {}", spec.cases[*ci].label, d.join(", "));
            }
        }
    }
    if !fr.failures.is_empty() {
        let _ = writeln!(o, "\nFailures:\n");
        for f in &fr.failures {
            let _ = writeln!(o, "- {f}");
        }
    }
    o
}

/// Versions of the peers, for the report.
pub fn versions(python: &Path) -> String {
    let (a, b, c) = zmq::version();
    let lock = |n: &str| crate::report::lock_version(n).unwrap_or_else(|| "?".into());
    let py = Command::new(python)
        .args([
            "-c",
            "import platform\nout=['CPython '+platform.python_version()]\nfor m in ('gevent','zmq','gipc'):\n    try:\n        mod=__import__(m); out.append(('pyzmq' if m=='zmq' else m)+' '+mod.__version__)\n    except Exception as e:\n        out.append(m+' missing')\nprint(', '.join(out))",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "python peers unavailable".into());
    let head = env!("ZBENCH_BUILT_FROM");
    let tree = match env!("ZBENCH_BUILT_DIRTY") {
        "0" => format!("zgreen built from commit {head} (src/ clean)"),
        n => format!(
            "zgreen built from the work tree at commit {head}, with uncommitted changes in {n} file(s) of src/"
        ),
    };
    format!(
        "{tree}\n- libzmq {a}.{b}.{c} (zmq crate {}); tmq {}, zeromq (zmq.rs) {}, crossbeam-channel {}, tokio {}; {py}",
        lock("zmq"),
        lock("tmq"),
        lock("zeromq"),
        lock("crossbeam-channel"),
        lock("tokio")
    )
}
