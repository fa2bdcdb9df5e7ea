//! `zbench`: side-by-side benchmarks of zgreen against `may` (a Rust
//! stackful-coroutine runtime) and gevent (see `BENCHMARKS.md`).
//!
//! Each measuring subcommand (`spawn`, `yield`, `rss`) measures one figure
//! for one implementation in the current process and prints one JSON line.
//! `all` is the runner: it re-executes this binary (and the gevent script)
//! once per measurement, interleaving implementations, and prints a
//! Markdown table of medians and ratios.

mod async_peers;
mod chan_bench;
mod core_bench;
mod draft_bench;
mod glue_bench;
mod io_bench;
mod machine;
mod may_impl;
mod report;
mod runner;
mod suite;
mod zgreen_impl;
mod zmq_bench;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(name = "zbench", about = "zgreen vs may vs gevent, side by side")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

/// The Rust implementations this binary can measure in-process (gevent is
/// measured by `benches/peers/gevent_core.py`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Impl {
    /// This crate's subject.
    Zgreen,
    /// The `may` crate, configured to one worker thread.
    May,
}

impl Impl {
    pub fn name(self) -> &'static str {
        match self {
            Impl::Zgreen => "zgreen",
            Impl::May => "may",
        }
    }
}

/// Options of the `may` peer (defaults: may's own).
#[derive(Args, Clone, Copy, Debug, Default)]
pub struct MayOpts {
    /// may: finished coroutines kept for reuse (may's default is 1000).
    /// Only passed to the may peer; zgreen keeps its own default pool.
    #[arg(long)]
    pub may_pool_capacity: Option<usize>,
}

/// Sizes of the three benches (shared by the measuring subcommands and the
/// runner, which passes them on to every child).
#[derive(Args, Clone, Debug)]
pub struct Sizes {
    /// spawn: greenlets spawned and joined in total.
    #[arg(long, default_value_t = 1_000_000)]
    pub total: u64,
    /// spawn: greenlets per batch (spawn a batch, join it, repeat).
    #[arg(long, default_value_t = 10_000)]
    pub batch: u64,
    /// yield: total yields, split between two ping-ponging greenlets.
    #[arg(long, default_value_t = 10_000_000)]
    pub yields: u64,
    /// rss: live parked greenlets.
    #[arg(long, default_value_t = 30_000)]
    pub count: u64,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Spawn + join `total` trivial greenlets in batches; ns per greenlet.
    Spawn {
        #[arg(long = "impl", value_enum)]
        imp: Impl,
        #[arg(long, default_value_t = 1_000_000)]
        total: u64,
        #[arg(long, default_value_t = 10_000)]
        batch: u64,
        #[command(flatten)]
        may: MayOpts,
    },
    /// Two greenlets ping-pong with a zero sleep / yield; ns per yield.
    Yield {
        #[arg(long = "impl", value_enum)]
        imp: Impl,
        #[arg(long, default_value_t = 10_000_000)]
        yields: u64,
        #[command(flatten)]
        may: MayOpts,
    },
    /// RSS growth per parked greenlet with `count` of them live.
    Rss {
        #[arg(long = "impl", value_enum)]
        imp: Impl,
        #[arg(long, default_value_t = 30_000)]
        count: u64,
        #[command(flatten)]
        may: MayOpts,
    },
    /// Queue put/get throughput between two greenlets (zgreen) or two OS
    /// threads (crossbeam); items/s.
    Queue {
        /// zgreen or crossbeam.
        #[arg(long = "impl")]
        imp: String,
        /// 0: unbounded.
        #[arg(long, default_value_t = 0)]
        maxsize: usize,
        #[arg(long, default_value_t = 1_000_000)]
        count: u64,
    },
    /// Channel throughput between two hubs (zgreen::chan) or two threads
    /// (crossbeam); items/s, or µs per round trip with --pingpong.
    Chan {
        /// zgreen or crossbeam.
        #[arg(long = "impl")]
        imp: String,
        /// Channel bound (0: unbounded).
        #[arg(long, default_value_t = 1024)]
        cap: usize,
        #[arg(long, default_value_t = 2_000_000)]
        count: u64,
        /// Round trips over two channels instead of a one-way stream.
        #[arg(long)]
        pingpong: bool,
    },
    /// `Pool::new(size).map(|i| i, 0..items)`; items/s.
    PoolMap {
        #[arg(long, default_value_t = 100)]
        size: usize,
        #[arg(long, default_value_t = 1_000_000)]
        items: u64,
    },
    /// PUSH→PULL throughput; msgs/s.
    Pushpull {
        /// green, fdloop, blocking, tmq or zmqrs.
        #[arg(long = "impl")]
        imp: String,
        #[command(flatten)]
        net: NetArgs,
    },
    /// REQ/REP round trip; µs per round trip.
    Reqrep {
        /// green, green-2hubs, green-draft (CLIENT/SERVER draft sockets),
        /// blocking, tmq or zmqrs.
        #[arg(long = "impl")]
        imp: String,
        #[command(flatten)]
        net: NetArgs,
    },
    /// Steerable proxy throughput; msgs/s.
    Proxy {
        /// green or zmq-proxy.
        #[arg(long = "impl")]
        imp: String,
        #[arg(long, value_enum, default_value_t = zmq_bench::Topology::PushPull)]
        topology: zmq_bench::Topology,
        #[command(flatten)]
        net: NetArgs,
    },
    /// `dealers` DEALER greenlets into one ROUTER greenlet; msgs/s.
    Fanin {
        /// green (greenlets on one hub) or raw (one thread, ZMQ_FD loop).
        #[arg(long = "impl", default_value = "green")]
        imp: String,
        #[arg(long, default_value_t = 1000)]
        dealers: u64,
        #[command(flatten)]
        net: NetArgs,
    },
    /// TCP echo server (in a child process) under `clients` concurrent
    /// zgreen clients; round trips/s.
    Echo {
        /// zgreen, threads or gevent.
        #[arg(long)]
        server: String,
        #[arg(long, default_value_t = 100)]
        clients: u64,
        #[arg(long, default_value_t = 1000)]
        rounds: u64,
        #[arg(long, default_value_t = 1024)]
        size: usize,
        /// Interpreter for the gevent server.
        #[arg(long, default_value = "python3")]
        python: PathBuf,
    },
    /// The echo server of `echo` (prints its port, serves until killed).
    EchoServer {
        #[arg(long = "impl")]
        imp: String,
    },
    /// Process relay round trips; round trips/s.
    Relay {
        /// zgreen or pipe.
        #[arg(long = "impl")]
        imp: String,
        #[arg(long, default_value_t = 100_000)]
        count: u64,
    },
    /// The child of `relay --impl pipe` (echoes frames on stdin/stdout).
    #[command(hide = true)]
    RelayPipeChild,
    /// Runs every bench for zgreen, may and gevent in separate processes,
    /// interleaved, `runs` times; prints medians and ratios as Markdown.
    All(Box<runner::AllArgs>),
}

/// Options of the ZeroMQ figures.
#[derive(Args, Clone, Debug)]
pub struct NetArgs {
    #[arg(long, value_enum, default_value_t = zmq_bench::Transport::Tcp)]
    pub transport: zmq_bench::Transport,
    /// Message size in bytes.
    #[arg(long, default_value_t = 100)]
    pub size: usize,
    /// Messages (or round trips).
    #[arg(long, default_value_t = 1_000_000)]
    pub count: u64,
    /// libzmq I/O threads (default: libzmq's 1).
    #[arg(long)]
    pub io_threads: Option<i32>,
}

/// Sanity checks shared by the measuring subcommands.
fn check_sizes(total: u64, batch: u64) {
    if batch == 0 || total == 0 || total % batch != 0 {
        eprintln!("zbench: --total must be a positive multiple of --batch");
        std::process::exit(2);
    }
}

fn main() {
    // A relay child started by `relay --impl zgreen` runs its function here
    // and exits.
    zgreen::process::relay::register(io_bench::RELAY_FN, io_bench::relay_child);
    zgreen::process::relay::dispatch();
    let cli = Cli::parse();
    if !matches!(
        cli.cmd,
        Cmd::All(_) | Cmd::EchoServer { .. } | Cmd::RelayPipeChild
    ) {
        watchdog();
    }
    let line = match cli.cmd {
        Cmd::Spawn {
            imp,
            total,
            batch,
            may,
        } => {
            check_sizes(total, batch);
            match imp {
                Impl::Zgreen => zgreen_impl::spawn(total, batch),
                Impl::May => may_impl::spawn(may, total, batch),
            }
        }
        Cmd::Yield { imp, yields, may } => {
            let yields = yields.max(2);
            match imp {
                Impl::Zgreen => zgreen_impl::yields(yields),
                Impl::May => may_impl::yields(may, yields),
            }
        }
        Cmd::Rss { imp, count, may } => match imp {
            Impl::Zgreen => zgreen_impl::rss(count),
            Impl::May => may_impl::rss(may, count),
        },
        Cmd::Queue { imp, maxsize, count } => glue_bench::queue(&imp, maxsize, count.max(1)),
        Cmd::Chan {
            imp,
            cap,
            count,
            pingpong,
        } => chan_bench::chan(&imp, cap, count.max(1), pingpong),
        Cmd::PoolMap { size, items } => glue_bench::pool_map(size.max(1), items),
        Cmd::Pushpull { imp, net } => match imp.as_str() {
            "tmq" | "zmqrs" => async_peers::pushpull(&imp, net.transport, net.size, net.count),
            _ => zmq_bench::pushpull(&imp, net.transport, net.size, net.count, net.io_threads),
        },
        Cmd::Reqrep { imp, net } => match imp.as_str() {
            "tmq" | "zmqrs" => async_peers::reqrep(&imp, net.transport, net.size, net.count),
            _ => zmq_bench::reqrep(&imp, net.transport, net.size, net.count, net.io_threads),
        },
        Cmd::Proxy { imp, topology, net } => {
            zmq_bench::proxy(&imp, topology, net.transport, net.size, net.count)
        }
        Cmd::Fanin { imp, dealers, net } => {
            zmq_bench::fanin(&imp, dealers, net.transport, net.size, net.count)
        }
        Cmd::Echo {
            server,
            clients,
            rounds,
            size,
            python,
        } => io_bench::echo_bench(&server, &python, clients, rounds, size),
        Cmd::EchoServer { imp } => io_bench::echo_server(&imp),
        Cmd::Relay { imp, count } => io_bench::relay_bench(&imp, count),
        Cmd::RelayPipeChild => io_bench::relay_pipe_child(),
        Cmd::All(args) => {
            std::process::exit(runner::run(&args));
        }
    };
    match line {
        Ok(r) => println!("{r}"),
        Err(e) => {
            eprintln!("zbench: {e}");
            std::process::exit(1);
        }
    }
}

/// A measurement that takes longer than `ZBENCH_DEADLINE_SECS` (default
/// 300) has stalled: report it and exit, so that `all` records a failure
/// and goes on.
fn watchdog() {
    let secs: u64 = std::env::var("ZBENCH_DEADLINE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(secs));
        eprintln!("zbench: watchdog: no result after {secs} s (stalled), giving up");
        std::process::exit(3);
    });
}

/// Where the repository root is (for `benches/peers/...`), found from this
/// crate's manifest directory at build time, or the current directory.
pub fn repo_root() -> PathBuf {
    let built = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    if built.join("benches/peers/gevent_core.py").exists() {
        return built.canonicalize().unwrap_or(built);
    }
    PathBuf::from(".")
}
