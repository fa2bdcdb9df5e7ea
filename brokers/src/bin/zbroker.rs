//! `zbroker`: the brokers and devices, one subcommand each.

use std::rc::Rc;
use std::time::{Duration, Instant};

use clap::Subcommand;
use zgreen_brokers::cli::{self, LimitArgs};
use zgreen_brokers::devices::{self, Device, DeviceSockets};
use zgreen_brokers::security::{Role, ServiceKeys};
use zgreen_brokers::{lb_broker, mdp_broker, mdp_shards, ppp_queue, titanic};

const NAME: &str = "zbroker";

/// What `zbroker --help` says first.
const ABOUT: &str = "Brokers and devices built on zgreen (green ZeroMQ).

Every flag also reads an environment variable (shown in brackets). \
SIGINT or SIGTERM stops the broker within its linger plus a small bound, \
with exit code 0. An endpoint that cannot be bound exits 1 with one line.";

#[derive(Subcommand, Debug)]
enum Cmd {
    /// 7/MDP 0.1 broker with 8/MMI: clients (MDPC01) and workers (MDPW01)
    /// on the one ROUTER endpoint.
    Mdp(MdpArgs),
    /// 9/TSP Titanic: durable requests on top of a 7/MDP broker. Connects
    /// to the broker at --connect as the workers of titanic.request,
    /// titanic.reply and titanic.close, stores every request in an
    /// append-only journal in --dir (fsynced before the 200 is sent), and
    /// dispatches stored requests to their services, storing the replies.
    Titanic(TitanicArgs),
    /// Load-balancing broker (zguide lbbroker): REQ clients on the
    /// frontend, REQ workers announcing READY on the backend.
    Lb(PairArgs),
    /// 6/PPP Paranoid Pirate queue: REQ clients on the frontend, DEALER
    /// workers with READY (0x01) and HEARTBEAT (0x02) on the backend.
    Ppq(PpqArgs),
    /// Steerable request-reply device: ROUTER frontend, DEALER backend.
    Queue(DeviceArgs),
    /// Steerable pub-sub device: XSUB frontend (publishers connect), XPUB
    /// backend (subscribers connect).
    Forwarder(DeviceArgs),
    /// Steerable pipeline device: PULL frontend, PUSH backend.
    Streamer(DeviceArgs),
}

#[derive(clap::Args, Debug)]
struct MdpArgs {
    /// Endpoint to bind, for example tcp://127.0.0.1:5555 or tcp://*:5555.
    #[arg(long, value_name = "EP", env = "ZGREEN_BIND")]
    bind: String,
    /// Heartbeat interval in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 2500, env = "ZGREEN_HEARTBEAT_MS")]
    heartbeat_ms: u64,
    /// Missed heartbeats after which a worker is dropped.
    #[arg(long, value_name = "N", default_value_t = 3, env = "ZGREEN_LIVENESS")]
    liveness: u32,
    /// Most requests queued per service (more are refused, and the client
    /// times out and retries).
    #[arg(long, value_name = "N", default_value_t = 1000, env = "ZGREEN_MAX_QUEUE")]
    max_queue: usize,
    /// How long a request may wait for a worker, in milliseconds.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 10000,
        env = "ZGREEN_REQUEST_TTL_MS"
    )]
    request_ttl_ms: u64,
    /// Most services known at once.
    #[arg(long, value_name = "N", default_value_t = 1000, env = "ZGREEN_MAX_SERVICES")]
    max_services: usize,
    /// With CURVE: which client keys may register which services, one
    /// `KEY service...` (or `KEY *`) line per key; other keys register
    /// nothing (they can still send requests).
    #[arg(long, value_name = "FILE", env = "ZGREEN_CURVE_SERVICES")]
    curve_services: Option<std::path::PathBuf>,
    #[command(flatten)]
    bstar: BstarArgs,
    #[command(flatten)]
    threads: ThreadArgs,
    /// With --threads N ≥ 2: capacity of each queue between the front-end
    /// and a shard, in messages (a full one drops the message and counts
    /// it as reason="shard_queue_full").
    #[arg(long, value_name = "N", default_value_t = mdp_shards::DEFAULT_QUEUE, env = "ZGREEN_SHARD_QUEUE")]
    shard_queue: usize,
    #[command(flatten)]
    limits: LimitArgs,
    /// `libzmq`, or `native`: the ROUTER speaks ZMTP itself on the hub
    /// (zgreen's native transport; needs a build with `--features native`,
    /// and supports neither CURVE options nor `--threads` above 1 yet).
    #[arg(long, value_name = "T", default_value = "libzmq", env = "ZGREEN_TRANSPORT")]
    transport: String,
}

#[derive(clap::Args, Debug)]
struct TitanicArgs {
    /// The MDP broker's endpoint, or a comma-separated list (a Binary Star
    /// pair: the titanic workers register with both, the dispatchers fail
    /// over between them).
    #[arg(long, value_name = "EP", env = "ZGREEN_CONNECT")]
    connect: String,
    /// Directory of the journal (titanic.journal; created if missing).
    #[arg(long, value_name = "DIR", env = "ZGREEN_TITANIC_DIR")]
    dir: std::path::PathBuf,
    /// When records reach the disk before they are acknowledged: always
    /// (one write + fdatasync per record) or group (one write + fdatasync
    /// for all records queued meanwhile, at most --group-records).
    #[arg(long, value_enum, default_value = "group", env = "ZGREEN_FSYNC")]
    fsync: FsyncArg,
    /// Most records in one group commit.
    #[arg(long, value_name = "N", default_value_t = titanic::store::DEFAULT_GROUP_RECORDS, env = "ZGREEN_GROUP_RECORDS")]
    group_records: usize,
    /// titanic.request workers: requests being stored at once (the width
    /// of a group commit).
    #[arg(long, value_name = "N", default_value_t = 8, env = "ZGREEN_REQUEST_WORKERS")]
    request_workers: usize,
    /// Greenlets sending stored requests to their services.
    #[arg(long, value_name = "N", default_value_t = 8, env = "ZGREEN_DISPATCHERS")]
    dispatchers: usize,
    /// How long a dispatched request may wait for its service's reply
    /// before it is queued again, in milliseconds.
    #[arg(
        long,
        value_name = "MS",
        value_parser = clap::value_parser!(u64).range(1..=3_600_000),
        default_value_t = 5000,
        env = "ZGREEN_DISPATCH_TIMEOUT_MS"
    )]
    dispatch_timeout_ms: u64,
    /// Largest request (service name + body), in bytes; larger ones are
    /// refused with 500.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20, env = "ZGREEN_MAX_REQUEST_BYTES")]
    max_request_bytes: usize,
    /// Largest reply body stored, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20, env = "ZGREEN_MAX_REPLY_BYTES")]
    max_reply_bytes: usize,
    /// Most open (not closed) requests; more are refused with 500.
    #[arg(long, value_name = "N", default_value_t = 100_000, env = "ZGREEN_MAX_OPEN")]
    max_open: usize,
    /// Most bytes of open requests and replies held in memory; more are
    /// refused with 500.
    #[arg(long, value_name = "BYTES", default_value_t = 256 << 20, env = "ZGREEN_MAX_MEMORY_BYTES")]
    max_memory_bytes: usize,
    /// Compact the journal (when closed entries take over half of it) only
    /// once it is larger than this, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 4 << 20, env = "ZGREEN_COMPACT_MIN_BYTES")]
    compact_min_bytes: u64,
    /// Heartbeat interval of the titanic workers towards the broker, in
    /// milliseconds.
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=3_600_000), default_value_t = 2500, env = "ZGREEN_HEARTBEAT_MS")]
    heartbeat_ms: u64,
    /// Missed heartbeats after which the broker is considered dead.
    #[arg(long, value_name = "N", default_value_t = 3, env = "ZGREEN_LIVENESS")]
    liveness: u32,
    /// First reconnect delay in milliseconds (doubles up to the maximum).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=3_600_000), default_value_t = 1000, env = "ZGREEN_RECONNECT_MS")]
    reconnect_ms: u64,
    /// Largest reconnect delay in milliseconds.
    #[arg(
        long,
        value_name = "MS",
        value_parser = clap::value_parser!(u64).range(1..=3_600_000),
        default_value_t = 32000,
        env = "ZGREEN_RECONNECT_MAX_MS"
    )]
    reconnect_max_ms: u64,
    #[command(flatten)]
    limits: LimitArgs,
}

/// Binary Star flags of `mdp`.
#[derive(clap::Args, Debug)]
struct BstarArgs {
    /// Binary Star: run as the primary or the backup of a pair (needs
    /// --state-bind and --peer). The backup serves clients only after the
    /// primary fell silent and a client request reached it.
    #[arg(long, value_enum, value_name = "ROLE", env = "ZGREEN_BSTAR_ROLE")]
    role: Option<zgreen_brokers::bstar::Role>,
    /// Binary Star: endpoint to bind the PUB that publishes this broker's
    /// state, for example tcp://*:5556.
    #[arg(long, value_name = "EP", env = "ZGREEN_BSTAR_STATE_BIND")]
    state_bind: Option<String>,
    /// Binary Star: the peer's state endpoint, for example
    /// tcp://backup:5556.
    #[arg(long, value_name = "EP", env = "ZGREEN_BSTAR_PEER")]
    peer: Option<String>,
    /// Binary Star: state heartbeat interval in milliseconds; the peer is
    /// gone after two silent intervals.
    #[arg(
        long,
        value_name = "MS",
        value_parser = clap::value_parser!(u64).range(1..=3_600_000),
        default_value_t = 1000,
        env = "ZGREEN_BSTAR_HEARTBEAT_MS"
    )]
    peer_heartbeat_ms: u64,
}

/// `--fsync`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum FsyncArg {
    /// One fdatasync per record.
    Always,
    /// One fdatasync per batch.
    Group,
}

/// `--threads` and `--io-threads` of `mdp` and the devices.
#[derive(clap::Args, Debug, Clone, Copy)]
struct ThreadArgs {
    /// Threads to run on. mdp: the ROUTER front-end on the main thread
    /// plus N shard hub threads, each running the broker for the services
    /// hashed to it (1: the single-threaded broker, no shards). Devices:
    /// libzmq I/O threads (the proxy loop stays one greenlet).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64), env = "ZGREEN_THREADS")]
    threads: u16,
    /// libzmq I/O threads of the context (default: as --threads).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64), env = "ZGREEN_IO_THREADS")]
    io_threads: Option<u16>,
}

impl ThreadArgs {
    fn io(&self) -> usize {
        usize::from(self.io_threads.unwrap_or(self.threads))
    }
}

#[derive(clap::Args, Debug)]
struct PairArgs {
    /// Endpoint to bind for clients.
    #[arg(long, value_name = "EP", env = "ZGREEN_FRONTEND")]
    frontend: String,
    /// Endpoint to bind for workers.
    #[arg(long, value_name = "EP", env = "ZGREEN_BACKEND")]
    backend: String,
    #[command(flatten)]
    limits: LimitArgs,
}

#[derive(clap::Args, Debug)]
struct PpqArgs {
    #[command(flatten)]
    pair: PairArgs,
    /// Heartbeat interval in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000, env = "ZGREEN_HEARTBEAT_MS")]
    heartbeat_ms: u64,
    /// Missed heartbeats after which a worker is dropped.
    #[arg(long, value_name = "N", default_value_t = 3, env = "ZGREEN_LIVENESS")]
    liveness: u32,
}

#[derive(clap::Args, Debug)]
struct DeviceArgs {
    /// Endpoint to bind for the frontend.
    #[arg(long, value_name = "EP", env = "ZGREEN_FRONTEND")]
    frontend: String,
    /// Endpoint to bind for the backend.
    #[arg(long, value_name = "EP", env = "ZGREEN_BACKEND")]
    backend: String,
    /// Endpoint to bind a PAIR control socket on: send it PAUSE, RESUME,
    /// TERMINATE or STATISTICS (answered with eight u64 frames: frontend
    /// messages in, bytes in, messages out, bytes out, then the backend's).
    #[arg(long, value_name = "EP", env = "ZGREEN_CONTROL")]
    control: Option<String>,
    /// Endpoint to bind a PUB socket on that gets a copy of every frame.
    #[arg(long, value_name = "EP", env = "ZGREEN_CAPTURE")]
    capture: Option<String>,
    #[command(flatten)]
    threads: ThreadArgs,
    /// `libzmq`, or `native`: both sockets speak ZMTP themselves on the
    /// hub (zgreen's native transport; a build with `--features native`;
    /// no --control, --capture or --threads above 1 yet).
    #[arg(long, value_name = "T", default_value = "libzmq", env = "ZGREEN_TRANSPORT")]
    transport: String,
}

/// `zbroker mdp --transport native`: the MDP broker on a native ROUTER.
#[cfg(feature = "native")]
fn native_mdp(
    ctx: &zgreen::zmq::Context,
    bind: &str,
    linger_ms: u64,
    cfg: mdp_broker::Config,
    metrics: Option<std::sync::Arc<zgreen_brokers::metrics::Metrics>>,
    grace: Duration,
) -> i32 {
    let router = ctx
        .native_socket(zmq::ROUTER)
        .unwrap_or_else(|e| cli::fail(NAME, e));
    router.set_router_mandatory(true);
    router.set_linger(Duration::from_millis(linger_ms));
    router.set_maxmsgsize(Some(
        cfg.limits.max_frames.saturating_mul(cfg.limits.max_frame_bytes),
    ));
    router
        .bind(bind)
        .unwrap_or_else(|e| cli::fail(NAME, format!("cannot bind {bind}: {e}")));
    let bind = bind.to_string();
    cli::run_until_signal(NAME, grace, move || {
        tracing::info!(endpoint = %bind, transport = "native", threads = 1, "mdp broker listening");
        let mut broker = mdp_broker::Broker::new(cfg, Instant::now(), metrics.clone());
        let r = mdp_broker::serve(&router, &mut broker, metrics.as_deref());
        tracing::info!(counters = ?broker.counters, "mdp broker stopped");
        r
    })
}

/// Without the `native` feature, `--transport native` says how to get it.
#[cfg(not(feature = "native"))]
fn native_mdp(
    _: &zgreen::zmq::Context,
    _: &str,
    _: u64,
    _: mdp_broker::Config,
    _: Option<std::sync::Arc<zgreen_brokers::metrics::Metrics>>,
    _: Duration,
) -> i32 {
    cli::fail(
        NAME,
        "--transport native: this zbroker was built without the native transport \
         (cargo build --release -p zgreen-brokers --features native)",
    )
}

fn main() {
    let cli: cli::Started<Cmd> = cli::start_with(NAME, ABOUT, Role::Server, |cmd| match cmd {
        Cmd::Mdp(a) => a.threads.io(),
        Cmd::Queue(a) | Cmd::Forwarder(a) | Cmd::Streamer(a) => a.threads.io(),
        Cmd::Lb(_) | Cmd::Ppq(_) | Cmd::Titanic(_) => 1,
    });
    let (metrics, grace, ctx) = (cli.metrics, cli.grace, cli.ctx);
    let linger = cli.common.linger_ms;
    let sock = |kind| cli::socket(&ctx, kind, linger).unwrap_or_else(|e| cli::fail(NAME, e));
    let code = match cli.cmd {
        Cmd::Mdp(a) => {
            let service_keys = a.curve_services.as_ref().map(|path| {
                if cli.common.curve.curve_secret_key_file.is_none() {
                    cli::fail(
                        NAME,
                        "--curve-services needs CURVE (--curve-secret-key-file, --curve-allow)",
                    );
                }
                ServiceKeys::load(path).unwrap_or_else(|e| cli::fail(NAME, e))
            });
            if a.transport == "native" {
                let cfg = mdp_broker::Config {
                    heartbeat: Duration::from_millis(a.heartbeat_ms.max(1)),
                    liveness: a.liveness.max(1),
                    max_queue: a.max_queue,
                    request_ttl: Duration::from_millis(a.request_ttl_ms),
                    max_services: a.max_services.max(1),
                    limits: a.limits.limits(),
                };
                if a.threads.threads > 1
                    || cli.common.curve.curve_secret_key_file.is_some()
                    || service_keys.is_some()
                    || a.bstar.role.is_some()
                {
                    cli::fail(
                        NAME,
                        "--transport native supports neither --threads above 1, CURVE options nor Binary Star (--role) yet",
                    );
                }
                let code = native_mdp(&ctx, &a.bind, linger, cfg, metrics.clone(), grace);
                cli::finish(ctx, grace, code);
            } else if a.transport != "libzmq" {
                cli::fail(
                    NAME,
                    format!("unknown --transport {:?} (libzmq or native)", a.transport),
                );
            }
            let router = sock(zmq::ROUTER);
            a.limits.apply(&router).unwrap_or_else(|e| cli::fail(NAME, e));
            router
                .set_router_mandatory(true)
                .unwrap_or_else(|e| cli::fail(NAME, e));
            cli::bind_or_exit(NAME, &router, &a.bind);
            let cfg = mdp_broker::Config {
                heartbeat: Duration::from_millis(a.heartbeat_ms.max(1)),
                liveness: a.liveness.max(1),
                max_queue: a.max_queue,
                request_ttl: Duration::from_millis(a.request_ttl_ms),
                max_services: a.max_services.max(1),
                limits: a.limits.limits(),
            };
            let m = metrics.clone();
            let threads = usize::from(a.threads.threads);
            let bstar = a.bstar.role.map(|role| {
                let (Some(bind), Some(peer)) = (&a.bstar.state_bind, &a.bstar.peer) else {
                    cli::fail(NAME, "--role needs --state-bind and --peer");
                };
                if threads > 1 {
                    cli::fail(NAME, "Binary Star (--role) needs --threads 1");
                }
                let publisher = sock(zmq::PUB);
                cli::bind_or_exit(NAME, &publisher, bind);
                let subscriber = sock(zmq::SUB);
                subscriber
                    .set_subscribe(b"")
                    .unwrap_or_else(|e| cli::fail(NAME, e));
                cli::connect_or_exit(NAME, &subscriber, peer);
                let heartbeat = Duration::from_millis(a.bstar.peer_heartbeat_ms.max(1));
                let peer = zgreen_brokers::bstar::Peer {
                    publisher,
                    subscriber,
                    heartbeat,
                };
                (role, peer)
            });
            if bstar.is_none() && (a.bstar.state_bind.is_some() || a.bstar.peer.is_some()) {
                cli::fail(NAME, "--state-bind and --peer need --role primary|backup");
            }
            cli::run_until_signal(NAME, grace, move || {
                // Logged once SIGINT/SIGTERM are handled: a supervisor that
                // waits for this line may signal right away.
                tracing::info!(endpoint = %a.bind, heartbeat_ms = a.heartbeat_ms, liveness = a.liveness, threads, "mdp broker listening");
                if threads > 1 {
                    let sharded = mdp_shards::Sharded {
                        shards: threads,
                        queue: a.shard_queue,
                        config: cfg,
                        service_keys,
                        grace,
                    };
                    return mdp_shards::serve(&router, sharded, m);
                }
                let mut broker = mdp_broker::Broker::new(cfg, Instant::now(), m.clone());
                broker.set_service_keys(service_keys);
                let r = match bstar {
                    None => mdp_broker::serve(&router, &mut broker, m.as_deref()),
                    Some((role, peer)) => {
                        use zgreen_brokers::bstar;
                        let fsm = Rc::new(std::cell::RefCell::new(bstar::Fsm::new(
                            role,
                            peer.heartbeat,
                            m.clone(),
                        )));
                        let (f2, m2) = (fsm.clone(), m.clone());
                        let states = zgreen::spawn(move || bstar::run(&peer, &f2, m2.as_deref()));
                        let _stop = zgreen_brokers::load::KillOnDrop(vec![states.any()]);
                        mdp_broker::serve_gated(&router, &mut broker, m.as_deref(), &mut || {
                            fsm.borrow_mut().on_client(Instant::now())
                        })
                    }
                };
                tracing::info!(counters = ?broker.counters, "mdp broker stopped");
                r
            })
        }
        Cmd::Titanic(a) => run_titanic(&ctx, a, &cli.common, metrics.clone(), grace),
        Cmd::Lb(a) => {
            let (fe, be) = (sock(zmq::ROUTER), sock(zmq::ROUTER));
            for s in [&fe, &be] {
                a.limits.apply(s).unwrap_or_else(|e| cli::fail(NAME, e));
                s.set_router_mandatory(true)
                    .unwrap_or_else(|e| cli::fail(NAME, e));
            }
            cli::bind_or_exit(NAME, &fe, &a.frontend);
            cli::bind_or_exit(NAME, &be, &a.backend);
            tracing::info!(frontend = %a.frontend, backend = %a.backend, "lb broker listening");
            let limits = a.limits.limits();
            let m = metrics.clone();
            cli::run_until_signal(NAME, grace, move || lb_broker::serve(&fe, &be, limits, m))
        }
        Cmd::Ppq(a) => {
            let (fe, be) = (sock(zmq::ROUTER), sock(zmq::ROUTER));
            for s in [&fe, &be] {
                a.pair.limits.apply(s).unwrap_or_else(|e| cli::fail(NAME, e));
                s.set_router_mandatory(true)
                    .unwrap_or_else(|e| cli::fail(NAME, e));
            }
            cli::bind_or_exit(NAME, &fe, &a.pair.frontend);
            cli::bind_or_exit(NAME, &be, &a.pair.backend);
            tracing::info!(frontend = %a.pair.frontend, backend = %a.pair.backend, "ppp queue listening");
            let cfg = ppp_queue::Config {
                heartbeat: Duration::from_millis(a.heartbeat_ms.max(1)),
                liveness: a.liveness.max(1),
                limits: a.pair.limits.limits(),
            };
            let m = metrics.clone();
            cli::run_until_signal(NAME, grace, move || {
                let mut q = ppp_queue::Queue::new(cfg, Instant::now(), m);
                ppp_queue::serve(&fe, &be, &mut q)
            })
        }
        Cmd::Queue(a) => device(&ctx, Device::Queue, a, linger, grace),
        Cmd::Forwarder(a) => device(&ctx, Device::Forwarder, a, linger, grace),
        Cmd::Streamer(a) => device(&ctx, Device::Streamer, a, linger, grace),
    };
    cli::finish(ctx, grace, code);
}

fn run_titanic(
    ctx: &zgreen::zmq::Context,
    a: TitanicArgs,
    common: &cli::Common,
    metrics: Option<std::sync::Arc<zgreen_brokers::metrics::Metrics>>,
    grace: Duration,
) -> i32 {
    use titanic::store::{Fsync, Limits, Store};
    if common.curve.curve_secret_key_file.is_some() {
        cli::fail(NAME, "zbroker titanic does not support CURVE yet");
    }
    // A file-size limit (RLIMIT_FSIZE) must turn into EFBIG on write, a
    // clear refusal, not a SIGXFSZ that kills the process.
    // SAFETY: signal(2) with SIG_IGN installs no handler code (nothing
    // runs in signal context) and may be called from any thread; it only
    // changes this process's disposition of SIGXFSZ.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    let fsync = match a.fsync {
        FsyncArg::Always => Fsync::Always,
        FsyncArg::Group => Fsync::Group {
            max_records: a.group_records.max(1),
        },
    };
    let limits = Limits {
        max_request_bytes: a.max_request_bytes,
        max_reply_bytes: a.max_reply_bytes,
        max_open: a.max_open.max(1),
        max_memory_bytes: a.max_memory_bytes,
        compact_min_bytes: a.compact_min_bytes,
    };
    let (store, opened) = Store::open(&a.dir, fsync, limits).unwrap_or_else(|e| cli::fail(NAME, e));
    if opened.dropped_bytes > 0 {
        tracing::warn!(
            dropped_bytes = opened.dropped_bytes,
            torn = opened.torn.as_deref().unwrap_or("a torn magic"),
            "journal: dropped a torn tail"
        );
    }
    let cfg = titanic::service::Config {
        endpoint: a.connect.clone(),
        heartbeat: zgreen_brokers::workers::Heartbeat {
            interval: Duration::from_millis(a.heartbeat_ms.max(1)),
            liveness: a.liveness.max(1),
            reconnect: Duration::from_millis(a.reconnect_ms.max(1)),
            reconnect_max: Duration::from_millis(a.reconnect_max_ms.max(a.reconnect_ms).max(1)),
        },
        limits: a.limits.limits(),
        linger_ms: common.linger_ms,
        request_workers: a.request_workers,
        dispatchers: a.dispatchers,
        dispatch_timeout: Duration::from_millis(a.dispatch_timeout_ms.max(1)),
    };
    let slots: Rc<std::cell::RefCell<Vec<zgreen_brokers::workers::SocketSlot>>> = Default::default();
    let ctx2 = ctx.clone();
    let slots2 = slots.clone();
    let kept = store.clone();
    let code = cli::run_until_signal(NAME, grace, move || {
        tracing::info!(
            journal = %opened.path.display(),
            records = opened.records,
            open = opened.open,
            pending = opened.pending,
            fsync = ?fsync,
            broker = %cfg.endpoint,
            "titanic ready"
        );
        titanic::service::run(&ctx2, &cfg, store, metrics, &slots2)
    });
    for slot in slots.borrow().iter() {
        zgreen_brokers::workers::say_goodbye(slot);
    }
    let stats = kept.stats();
    tracing::info!(
        records = stats.records,
        syncs = stats.syncs,
        failed = stats.failed,
        compactions = stats.compactions,
        "titanic stopped"
    );
    code
}

/// A device on the native transport: both sockets native, forwarding
/// whole messages.
#[cfg(feature = "native")]
fn native_device(
    ctx: &zgreen::zmq::Context,
    device: Device,
    a: &DeviceArgs,
    linger: u64,
    grace: Duration,
) -> i32 {
    let (fk, bk) = device.kinds();
    let open = |kind, ep: &str| {
        let s = ctx.native_socket(kind).unwrap_or_else(|e| cli::fail(NAME, e));
        s.set_linger(Duration::from_millis(linger));
        s.bind(ep)
            .unwrap_or_else(|e| cli::fail(NAME, format!("cannot bind {ep}: {e}")));
        s
    };
    let (frontend, backend) = (open(fk, &a.frontend), open(bk, &a.backend));
    tracing::info!(?device, frontend = %a.frontend, backend = %a.backend, transport = "native", threads = 1, "device running");
    cli::run_until_signal(NAME, grace, move || devices::forward(&frontend, &backend))
}

#[cfg(not(feature = "native"))]
fn native_device(_: &zgreen::zmq::Context, _: Device, _: &DeviceArgs, _: u64, _: Duration) -> i32 {
    cli::fail(
        NAME,
        "--transport native: this zbroker was built without the native transport \
         (cargo build --release -p zgreen-brokers --features native)",
    )
}

fn device(ctx: &zgreen::zmq::Context, device: Device, a: DeviceArgs, linger: u64, grace: Duration) -> i32 {
    match a.transport.as_str() {
        "libzmq" => {}
        "native" => {
            if a.control.is_some() || a.capture.is_some() || a.threads.threads > 1 {
                cli::fail(
                    NAME,
                    "--transport native supports neither --control, --capture nor --threads above 1 yet",
                );
            }
            return native_device(ctx, device, &a, linger, grace);
        }
        other => cli::fail(NAME, format!("unknown --transport {other:?} (libzmq or native)")),
    }
    let sock = |kind| cli::socket(ctx, kind, linger).unwrap_or_else(|e| cli::fail(NAME, e));
    let (fk, bk) = device.kinds();
    let frontend = sock(fk);
    let backend = sock(bk);
    cli::bind_or_exit(NAME, &frontend, &a.frontend);
    cli::bind_or_exit(NAME, &backend, &a.backend);
    let control = a.control.as_ref().map(|ep| {
        let s = sock(zmq::PAIR);
        cli::bind_or_exit(NAME, &s, ep);
        s
    });
    let capture = a.capture.as_ref().map(|ep| {
        let s = sock(zmq::PUB);
        cli::bind_or_exit(NAME, &s, ep);
        s
    });
    tracing::info!(?device, frontend = %a.frontend, backend = %a.backend, threads = a.threads.threads, io_threads = a.threads.io(), "device running");
    let sockets = Rc::new(DeviceSockets {
        frontend,
        backend,
        control,
        capture,
    });
    let ctx = ctx.clone();
    cli::run_until_signal(NAME, grace, move || devices::run(&sockets, &ctx))
}
