//! `zworker`: echo workers for every pattern.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use clap::Subcommand;
use zgreen_brokers::cli::{self, Common, LimitArgs};
use zgreen_brokers::workers::{self, Heartbeat, Knobs, WorkerConfig};

const NAME: &str = "zworker";

/// What `zworker --help` says first.
const ABOUT: &str = "Echo workers built on zgreen (green ZeroMQ): each one sends the request \
body back unchanged.

Every flag also reads an environment variable (shown in brackets). \
SIGINT or SIGTERM stops the worker (an MDP worker says DISCONNECT \
first) with exit code 0.";

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Worker for `zbroker lb`: a REQ socket that sends READY, then echoes.
    Lb(Args),
    /// 6/PPP worker for `zbroker ppq`: DEALER, READY, heartbeats, reconnect
    /// with back-off when the queue falls silent.
    Ppp(HbArgs),
    /// 7/MDP worker for `zbroker mdp`: registers SERVICE, heartbeats,
    /// reconnects with back-off when the broker falls silent.
    Mdp(MdpArgs),
    /// Plain REP echo server (for `zbroker queue` or `zclient lazy`).
    Rep(RepArgs),
}

#[derive(clap::Args, Debug)]
struct Args {
    /// Broker endpoint to connect to.
    #[arg(long, value_name = "EP", env = "ZGREEN_CONNECT")]
    connect: String,
    /// Milliseconds spent on each request before replying.
    #[arg(long, value_name = "MS", default_value_t = 0, env = "ZGREEN_DELAY_MS")]
    delay_ms: u64,
    /// Exit abruptly (code 3, no reply, no goodbye) when request N+1
    /// arrives: a crash in the middle of a request.
    #[arg(long, value_name = "N", env = "ZGREEN_CRASH_AFTER")]
    crash_after: Option<u64>,
    /// Freeze the whole process (no reply, no heartbeat; only SIGKILL ends
    /// it) when request N+1 arrives: a hung worker.
    #[arg(long, value_name = "N", env = "ZGREEN_HANG_AFTER")]
    hang_after: Option<u64>,
    #[command(flatten)]
    limits: LimitArgs,
}

#[derive(clap::Args, Debug)]
struct HbArgs {
    #[command(flatten)]
    args: Args,
    /// Heartbeat interval in milliseconds (default: 1000 for PPP, 2500 for
    /// MDP).
    #[arg(long, value_name = "MS", env = "ZGREEN_HEARTBEAT_MS")]
    heartbeat_ms: Option<u64>,
    /// Missed heartbeats after which the broker is considered dead.
    #[arg(long, value_name = "N", default_value_t = 3, env = "ZGREEN_LIVENESS")]
    liveness: u32,
    /// First reconnect delay in milliseconds; it doubles after each failed
    /// attempt.
    #[arg(long, value_name = "MS", default_value_t = 1000, env = "ZGREEN_RECONNECT_MS")]
    reconnect_ms: u64,
    /// Largest reconnect delay in milliseconds.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 32000,
        env = "ZGREEN_RECONNECT_MAX_MS"
    )]
    reconnect_max_ms: u64,
}

#[derive(clap::Args, Debug)]
struct MdpArgs {
    #[command(flatten)]
    hb: HbArgs,
    /// Service name to register (not `mmi.*`).
    #[arg(long, value_name = "NAME", default_value = "echo", env = "ZGREEN_SERVICE")]
    service: String,
}

#[derive(clap::Args, Debug)]
struct RepArgs {
    #[command(flatten)]
    args: Args,
    /// Bind the endpoint instead of connecting (a standalone server).
    #[arg(long, env = "ZGREEN_BIND_MODE")]
    bind: bool,
}

fn config(a: &Args, common: &Common) -> WorkerConfig {
    WorkerConfig {
        endpoint: a.connect.clone(),
        knobs: Knobs {
            delay: Duration::from_millis(a.delay_ms),
            crash_after: a.crash_after,
            hang_after: a.hang_after,
        },
        limits: a.limits.limits(),
        linger_ms: common.linger_ms,
    }
}

fn heartbeat(h: &HbArgs, default_ms: u64) -> Heartbeat {
    Heartbeat {
        interval: Duration::from_millis(h.heartbeat_ms.unwrap_or(default_ms).max(1)),
        liveness: h.liveness.max(1),
        reconnect: Duration::from_millis(h.reconnect_ms.max(1)),
        reconnect_max: Duration::from_millis(h.reconnect_max_ms.max(h.reconnect_ms).max(1)),
    }
}

fn main() {
    let cli: cli::Started<Cmd> = cli::start(NAME, ABOUT, zgreen_brokers::security::Role::Client);
    let (grace, ctx) = (cli.grace, cli.ctx);
    let slot: workers::SocketSlot = Rc::new(RefCell::new(None));
    let c2 = ctx.clone();
    let s2 = slot.clone();
    let code = match cli.cmd {
        Cmd::Lb(a) => {
            let cfg = config(&a, &cli.common);
            cli::run_until_signal(NAME, grace, move || workers::run_lb(&c2, &cfg))
        }
        Cmd::Rep(a) => {
            let cfg = config(&a.args, &cli.common);
            cli::run_until_signal(NAME, grace, move || workers::run_rep(&c2, &cfg, a.bind))
        }
        Cmd::Ppp(h) => {
            let cfg = config(&h.args, &cli.common);
            let hb = heartbeat(&h, 1000);
            cli::run_until_signal(NAME, grace, move || workers::run_ppp(&c2, &cfg, &hb, &s2))
        }
        Cmd::Mdp(m) => {
            if m.service.starts_with("mmi.") {
                cli::fail(
                    NAME,
                    "service names starting with mmi. are reserved for the broker",
                );
            }
            let cfg = config(&m.hb.args, &cli.common);
            let hb = heartbeat(&m.hb, 2500);
            let service = m.service.clone();
            // A list of brokers (a Binary Star pair): one session each.
            let endpoints = zgreen_brokers::mdp_client::endpoints(&cfg.endpoint);
            let slots: Vec<workers::SocketSlot> = (1..endpoints.len()).map(|_| Default::default()).collect();
            let extra = slots.clone();
            let code = cli::run_until_signal(NAME, grace, move || {
                if endpoints.len() <= 1 {
                    return workers::run_mdp(&c2, &cfg, &hb, &service, &s2);
                }
                let all: Vec<_> = endpoints
                    .iter()
                    .zip(std::iter::once(s2).chain(extra))
                    .map(|(ep, slot)| {
                        let cfg = WorkerConfig {
                            endpoint: ep.clone(),
                            ..cfg.clone()
                        };
                        let (c, hb, service) = (c2.clone(), hb.clone(), service.clone());
                        zgreen::spawn(move || workers::run_mdp(&c, &cfg, &hb, &service, &slot))
                    })
                    .collect();
                let _stop = zgreen_brokers::load::KillOnDrop(all.iter().map(|g| g.any()).collect());
                if let Some(first) = zgreen::iwait(all.iter()).next() {
                    first?.take()??;
                }
                Ok(())
            });
            workers::say_goodbye(&slot);
            for s in &slots {
                workers::say_goodbye(s);
            }
            code
        }
    };
    drop(slot);
    cli::finish(ctx, grace, code);
}
