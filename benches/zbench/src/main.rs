//! `zbench`: side-by-side benchmarks of zgreen against `may` (a Rust
//! stackful-coroutine runtime) and gevent (see `BENCHMARKS.md`).
//!
//! Each measuring subcommand (`spawn`, `yield`, `rss`) measures one figure
//! for one implementation in the current process and prints one JSON line.
//! `all` is the runner: it re-executes this binary (and the gevent script)
//! once per measurement, interleaving implementations, and prints a
//! Markdown table of medians and ratios.

mod machine;
mod may_impl;
mod report;
mod runner;
mod zgreen_impl;

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
    /// Runs every bench for zgreen, may and gevent in separate processes,
    /// interleaved, `runs` times; prints medians and ratios as Markdown.
    All(runner::AllArgs),
}

/// Sanity checks shared by the measuring subcommands.
fn check_sizes(total: u64, batch: u64) {
    if batch == 0 || total == 0 || total % batch != 0 {
        eprintln!("zbench: --total must be a positive multiple of --batch");
        std::process::exit(2);
    }
}

fn main() {
    let cli = Cli::parse();
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

/// Where the repository root is (for `benches/peers/...`), found from this
/// crate's manifest directory at build time, or the current directory.
pub fn repo_root() -> PathBuf {
    let built = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    if built.join("benches/peers/gevent_core.py").exists() {
        return built.canonicalize().unwrap_or(built);
    }
    PathBuf::from(".")
}
