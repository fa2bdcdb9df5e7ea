//! `zclient`: clients and load generators for every pattern.

use std::rc::Rc;
use std::time::{Duration, Instant};

use clap::Subcommand;
use zgreen_brokers::cli;
use zgreen_brokers::frames::Limits;
use zgreen_brokers::load::{self, FreelanceTransport, LoadConfig, MdpTransport, ReqTransport, Stats};

const NAME: &str = "zclient";

/// What `zclient --help` says first.
const ABOUT: &str = "Clients and load generators built on zgreen (green ZeroMQ).

Request/reply clients (req, lazy, mdp) run --concurrency green clients, \
each with one sequence-numbered request in flight, and print a final \
summary (sent, received, lost, retries, throughput, p50/p99/max \
latency); --json prints it as one JSON object. The exit code is 0 when \
no request was lost, 1 otherwise.

Every flag also reads an environment variable (shown in brackets).";

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Plain REQ client (no retries: a lost reply loses the request).
    Req(ReqArgs),
    /// Lazy Pirate REQ client: on timeout, close the socket, open a new
    /// one, resend; give up after --retries.
    Lazy(ReqArgs),
    /// 7/MDP client (DEALER) for SERVICE, retrying on a fresh socket.
    Mdp(MdpArgs),
    /// 9/TSP Titanic client load: each request is stored with
    /// titanic.request (200 + uuid), its reply polled with titanic.reply
    /// until 200, then closed with titanic.close; every reply is checked
    /// against its request. Exit 1 when an acknowledged request is lost,
    /// a reply mismatches, a closed one reappears, or (without
    /// --allow-refused) a request is refused.
    Titanic(TitanicArgs),
    /// Publisher: sends --count messages "TOPIC SEQ PAYLOAD".
    Pub(StreamArgs),
    /// Subscriber: receives messages for --topic and reports them.
    Sub(StreamArgs),
    /// Pipeline producer (PUSH).
    Push(StreamArgs),
    /// Pipeline consumer (PULL).
    Pull(StreamArgs),
}

#[derive(clap::Args, Debug, Clone)]
struct LoadArgs {
    /// Endpoint to connect to.
    #[arg(long, value_name = "EP", env = "ZGREEN_CONNECT")]
    connect: String,
    /// Requests to send in total.
    #[arg(long, value_name = "N", default_value_t = 1000, env = "ZGREEN_COUNT")]
    count: u64,
    /// Green clients, each with its own socket and one request in flight.
    #[arg(long, value_name = "N", default_value_t = 10, env = "ZGREEN_CONCURRENCY")]
    concurrency: usize,
    /// Payload bytes per request.
    #[arg(long, value_name = "BYTES", default_value_t = 64, env = "ZGREEN_SIZE")]
    size: usize,
    /// Milliseconds to wait for each reply before retrying.
    #[arg(long, value_name = "MS", default_value_t = 2500, env = "ZGREEN_TIMEOUT_MS")]
    timeout_ms: u64,
    /// Pause between two requests of one green client, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0, env = "ZGREEN_INTERVAL_MS")]
    interval_ms: u64,
    /// Progress report period in milliseconds (0: none).
    #[arg(long, value_name = "MS", default_value_t = 1000, env = "ZGREEN_PROGRESS_MS")]
    progress_ms: u64,
    /// Progress reports as JSON lines (on stderr).
    #[arg(long, env = "ZGREEN_PROGRESS_JSON")]
    progress_json: bool,
    /// Print the final summary as one JSON object on stdout.
    #[arg(long, env = "ZGREEN_JSON")]
    json: bool,
}

#[derive(clap::Args, Debug)]
struct ReqArgs {
    #[command(flatten)]
    load: LoadArgs,
    /// Retries before a request counts as lost (lazy only).
    #[arg(long, value_name = "N", default_value_t = 3, env = "ZGREEN_RETRIES")]
    retries: u32,
}

#[derive(clap::Args, Debug)]
struct MdpArgs {
    #[command(flatten)]
    load: LoadArgs,
    /// Retries before a request counts as lost.
    #[arg(long, value_name = "N", default_value_t = 3, env = "ZGREEN_RETRIES")]
    retries: u32,
    /// Service to call (mmi.* services are answered by the broker).
    #[arg(long, value_name = "NAME", default_value = "echo", env = "ZGREEN_SERVICE")]
    service: String,
    /// Freelance (10/FLP style): send each request to every broker of
    /// --connect at once, take the first reply, skip brokers that left 3
    /// requests unanswered (for 1 s). Without it, a list of brokers is
    /// tried one after the other (failover on timeout).
    #[arg(long, env = "ZGREEN_FREELANCE")]
    freelance: bool,
}

#[derive(clap::Args, Debug)]
struct TitanicArgs {
    #[command(flatten)]
    load: LoadArgs,
    /// Retries of each titanic call (each on a fresh socket, the next
    /// endpoint of --connect).
    #[arg(long, value_name = "N", default_value_t = 30, env = "ZGREEN_RETRIES")]
    retries: u32,
    /// The service the stored requests go to.
    #[arg(long, value_name = "NAME", default_value = "echo", env = "ZGREEN_SERVICE")]
    service: String,
    /// Pause between two titanic.reply polls of a pending request, in ms.
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(0..=60_000), default_value_t = 10, env = "ZGREEN_POLL_MS")]
    poll_ms: u64,
    /// An acknowledged request whose reply has not come after this long
    /// (ms) counts as lost.
    #[arg(
        long,
        value_name = "MS",
        value_parser = clap::value_parser!(u64).range(1..=86_400_000),
        default_value_t = 60000,
        env = "ZGREEN_REPLY_TIMEOUT_MS"
    )]
    reply_timeout_ms: u64,
    /// After the run, ask for every closed uuid again: each must be
    /// unknown (400).
    #[arg(long, env = "ZGREEN_CHECK_CLOSED")]
    check_closed: bool,
    /// Refusals (500: not stored) do not fail the run.
    #[arg(long, env = "ZGREEN_ALLOW_REFUSED")]
    allow_refused: bool,
    /// Only store the requests (titanic.request), never ask for their
    /// replies nor close them: measures the journal (the throughput is
    /// requests stored per second).
    #[arg(long, env = "ZGREEN_STORE_ONLY")]
    store_only: bool,
}

#[derive(clap::Args, Debug)]
struct StreamArgs {
    /// Endpoint to connect to (or bind, with --bind).
    #[arg(long, value_name = "EP", env = "ZGREEN_CONNECT")]
    connect: String,
    /// Bind instead of connecting.
    #[arg(long, env = "ZGREEN_BIND_MODE")]
    bind: bool,
    /// Messages to send or receive (0: receive until stopped).
    #[arg(long, value_name = "N", default_value_t = 1000, env = "ZGREEN_COUNT")]
    count: u64,
    /// Payload bytes per message.
    #[arg(long, value_name = "BYTES", default_value_t = 64, env = "ZGREEN_SIZE")]
    size: usize,
    /// Topic (pub/sub).
    #[arg(long, default_value = "t", env = "ZGREEN_TOPIC")]
    topic: String,
    /// Pause between messages, in milliseconds (senders).
    #[arg(long, value_name = "MS", default_value_t = 0, env = "ZGREEN_INTERVAL_MS")]
    interval_ms: u64,
    /// Milliseconds to wait before the first send (lets subscribers join).
    #[arg(long, value_name = "MS", default_value_t = 200, env = "ZGREEN_WARMUP_MS")]
    warmup_ms: u64,
    /// Give up after this many milliseconds without a message (receivers;
    /// 0: wait forever).
    #[arg(long, value_name = "MS", default_value_t = 0, env = "ZGREEN_TIMEOUT_MS")]
    timeout_ms: u64,
    /// Milliseconds spent on each received message (a slow consumer).
    #[arg(long, value_name = "MS", default_value_t = 0, env = "ZGREEN_DELAY_MS")]
    delay_ms: u64,
    /// Print the final summary as one JSON object on stdout.
    #[arg(long, env = "ZGREEN_JSON")]
    json: bool,
}

fn load_config(l: &LoadArgs, retries: u32) -> LoadConfig {
    LoadConfig {
        count: l.count,
        concurrency: l.concurrency.max(1),
        size: l.size,
        timeout: Duration::from_millis(l.timeout_ms.max(1)),
        retries,
        interval: Duration::from_millis(l.interval_ms),
        progress: (l.progress_ms > 0).then(|| Duration::from_millis(l.progress_ms)),
        progress_json: l.progress_json,
        limits: Limits {
            max_frames: 64,
            max_frame_bytes: l.size.max(1 << 20) + 64,
        },
    }
}

fn main() {
    let cli: cli::Started<Cmd> = cli::start(NAME, ABOUT, zgreen_brokers::security::Role::Client);
    let (grace, ctx) = (cli.grace, cli.ctx);
    let linger = cli.common.linger_ms;
    let code = match cli.cmd {
        Cmd::Req(a) => request_reply(&ctx, &a.load, 0, linger, grace, None),
        Cmd::Lazy(a) => request_reply(&ctx, &a.load, a.retries, linger, grace, None),
        Cmd::Mdp(a) => {
            let target = if a.freelance {
                Target::Freelance(a.service.clone())
            } else {
                Target::Mdp(a.service.clone())
            };
            request_reply(&ctx, &a.load, a.retries, linger, grace, Some(target))
        }
        Cmd::Titanic(a) => titanic_load(&ctx, &a, linger, grace),
        Cmd::Pub(a) => stream(&ctx, zmq::PUB, a, linger, grace),
        Cmd::Push(a) => stream(&ctx, zmq::PUSH, a, linger, grace),
        Cmd::Sub(a) => stream(&ctx, zmq::SUB, a, linger, grace),
        Cmd::Pull(a) => stream(&ctx, zmq::PULL, a, linger, grace),
    };
    cli::finish(ctx, grace, code);
}

/// Which MDP client runs the load.
enum Target {
    /// One broker at a time, failover on timeout.
    Mdp(String),
    /// Every broker at once, first reply wins.
    Freelance(String),
}

fn request_reply(
    ctx: &zgreen::zmq::Context,
    l: &LoadArgs,
    retries: u32,
    linger: u64,
    grace: Duration,
    service: Option<Target>,
) -> i32 {
    let cfg = load_config(l, retries);
    check_endpoints(&l.connect);
    let stats = Rc::new(Stats::default());
    let started = Instant::now();
    let (ctx2, ep, s2) = (ctx.clone(), l.connect.clone(), stats.clone());
    let limits = cfg.limits;
    let code = cli::run_until_signal(NAME, grace, move || match service {
        Some(Target::Mdp(svc)) => load::run(
            &cfg,
            |_| MdpTransport::new(&ctx2, &ep, svc.as_bytes(), linger, limits),
            s2,
        ),
        Some(Target::Freelance(svc)) => load::run(
            &cfg,
            |_| FreelanceTransport::new(&ctx2, &ep, svc.as_bytes(), linger, limits),
            s2,
        ),
        None => load::run(&cfg, |_| ReqTransport::new(&ctx2, &ep, linger, limits), s2),
    });
    let summary = stats.summary(started.elapsed());
    if l.json {
        println!("{}", serde_json::to_string(&summary).expect("serializable"));
    } else {
        println!("{}", summary.human());
    }
    if code != 0 {
        code
    } else if summary.lost > 0 {
        1
    } else {
        0
    }
}

/// Exits 1 with one line when an endpoint of the (comma-separated) list
/// is not one libzmq accepts.
fn check_endpoints(list: &str) {
    let ctx = zmq::Context::new();
    for ep in zgreen_brokers::mdp_client::endpoints(list) {
        if let Err(e) = ctx.socket(zmq::REQ).and_then(|s| s.connect(&ep)) {
            cli::fail(NAME, format_args!("cannot connect to {ep}: {e}"));
        }
    }
}

fn titanic_load(ctx: &zgreen::zmq::Context, a: &TitanicArgs, linger: u64, grace: Duration) -> i32 {
    use zgreen_brokers::mdp_client::{MdpClient, endpoints};
    use zgreen_brokers::titanic::client::{self, TitanicClient, TitanicLoad, TitanicStats};
    let l = &a.load;
    check_endpoints(&l.connect);
    let base = load_config(l, a.retries);
    let cfg = TitanicLoad {
        count: l.count,
        concurrency: l.concurrency.max(1),
        size: l.size,
        service: a.service.clone().into_bytes(),
        poll: Duration::from_millis(a.poll_ms),
        reply_timeout: Duration::from_millis(a.reply_timeout_ms.max(1)),
        check_closed: a.check_closed,
        store_only: a.store_only,
    };
    let stats = Rc::new(TitanicStats::default());
    let started = Instant::now();
    let (ctx2, eps, s2) = (ctx.clone(), endpoints(&l.connect), stats.clone());
    let (timeout, retries, limits) = (base.timeout, a.retries, base.limits);
    let code = cli::run_until_signal(NAME, grace, move || {
        client::run(
            &cfg,
            |_| {
                Ok(TitanicClient::new(
                    MdpClient::new(&ctx2, &eps, linger, limits)?,
                    timeout,
                    retries,
                ))
            },
            s2,
        )
    });
    let summary = stats.summary(started.elapsed(), a.store_only);
    if l.json {
        println!("{}", serde_json::to_string(&summary).expect("serializable"));
    } else {
        println!(
            "sent {} acknowledged {} refused {} unacknowledged {} received {} lost {} mismatched {} reappeared {} retries {}\n\
             elapsed {:.2} s, {:.0} req/s, latency p50 {:.2} ms p99 {:.2} ms max {:.2} ms{}",
            summary.sent,
            summary.acknowledged,
            summary.refused,
            summary.unacknowledged,
            summary.received,
            summary.lost,
            summary.mismatched,
            summary.reappeared,
            summary.retries,
            summary.elapsed_s,
            summary.throughput_per_s,
            summary.p50_ms,
            summary.p99_ms,
            summary.max_ms,
            summary
                .refusal
                .as_deref()
                .map(|r| format!("\nfirst refusal: {r}"))
                .unwrap_or_default()
        );
    }
    if code != 0 {
        code
    } else if summary.ok(a.allow_refused) {
        0
    } else {
        1
    }
}

fn stream(
    ctx: &zgreen::zmq::Context,
    kind: zmq::SocketType,
    a: StreamArgs,
    linger: u64,
    grace: Duration,
) -> i32 {
    let sock = cli::socket(ctx, kind, linger).unwrap_or_else(|e| cli::fail(NAME, e));
    if a.bind {
        cli::bind_or_exit(NAME, &sock, &a.connect);
    } else {
        cli::connect_or_exit(NAME, &sock, &a.connect);
    }
    let count = Rc::new(std::cell::Cell::new(0u64));
    let gaps = Rc::new(std::cell::Cell::new(0u64));
    let started = Instant::now();
    let (c2, g2) = (count.clone(), gaps.clone());
    let sending = matches!(kind, zmq::PUB | zmq::PUSH);
    let code = cli::run_until_signal(NAME, grace, move || {
        if sending {
            zgreen::sleep(Duration::from_millis(a.warmup_ms))?;
            let payload = vec![b'x'; a.size];
            for seq in 0..a.count {
                let head = format!("{} {seq} ", a.topic);
                sock.send([head.as_bytes(), &payload].concat(), 0)?;
                c2.set(c2.get() + 1);
                if a.interval_ms > 0 {
                    zgreen::sleep(Duration::from_millis(a.interval_ms))?;
                }
            }
            Ok(())
        } else {
            if kind == zmq::SUB {
                sock.subscribe(format!("{} ", a.topic))?;
            }
            let mut last: Option<u64> = None;
            while a.count == 0 || c2.get() < a.count {
                let msg = if a.timeout_ms > 0 {
                    match sock.recv_multipart_timeout(0, Duration::from_millis(a.timeout_ms)) {
                        Ok(m) => m,
                        Err(zgreen::Error::Timeout(_)) => {
                            tracing::warn!("no message for {} ms: stopping", a.timeout_ms);
                            break;
                        }
                        Err(e) => return Err(e),
                    }
                } else {
                    sock.recv_multipart(0)?
                };
                c2.set(c2.get() + 1);
                let seq = msg
                    .first()
                    .and_then(|f| std::str::from_utf8(f).ok())
                    .and_then(|s| s.split(' ').nth(1))
                    .and_then(|s| s.parse::<u64>().ok());
                if let (Some(s), Some(l)) = (seq, last) {
                    if s != l + 1 {
                        g2.set(g2.get() + 1);
                    }
                }
                last = seq.or(last);
                if a.delay_ms > 0 {
                    zgreen::sleep(Duration::from_millis(a.delay_ms))?;
                }
            }
            Ok(())
        }
    });
    let secs = started.elapsed().as_secs_f64();
    let n = count.get();
    if a.json {
        println!(
            "{}",
            serde_json::json!({"messages": n, "gaps": gaps.get(), "elapsed_s": secs, "rate_per_s": n as f64 / secs.max(1e-9)})
        );
    } else {
        println!(
            "messages {n} gaps {} elapsed {secs:.2} s rate {:.0} msg/s",
            gaps.get(),
            n as f64 / secs.max(1e-9)
        );
    }
    code
}
