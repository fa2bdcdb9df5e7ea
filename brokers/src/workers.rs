//! Echo workers for every pattern: `rep` (plain REP), `lb` (REQ with a
//! READY), `ppp` (6/PPP, DEALER with heartbeats) and `mdp` (7/MDP).
//! All echo the request body back, with knobs for tests and demos.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use zgreen::zmq::{Context, Socket};

use crate::frames::{Frames, Limits, peer_hex};
use crate::io::recv_bounded;
use crate::{lb, mdp, ppp};

/// Behaviour knobs shared by all workers.
#[derive(Clone, Debug, Default)]
pub struct Knobs {
    /// Time spent on each request before replying.
    pub delay: Duration,
    /// Exit abruptly (code 3, no reply, no goodbye) when request N+1
    /// arrives.
    pub crash_after: Option<u64>,
    /// Freeze the whole process (no reply, no heartbeat) when request
    /// N+1 arrives.
    pub hang_after: Option<u64>,
}

impl Knobs {
    /// Called when a request arrives, with the number handled before it.
    fn on_request(&self, handled: u64) {
        if self.crash_after.is_some_and(|n| handled >= n) {
            tracing::warn!(handled, "--crash-after reached: exiting abruptly");
            std::process::exit(3);
        }
        if self.hang_after.is_some_and(|n| handled >= n) {
            tracing::warn!(handled, "--hang-after reached: freezing");
            loop {
                // Blocks the hub on purpose: no heartbeats, no replies.
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
    }
}

/// Heartbeat settings of PPP and MDP workers.
#[derive(Clone, Debug)]
pub struct Heartbeat {
    /// Interval between heartbeats.
    pub interval: Duration,
    /// Missed intervals before the broker is considered dead.
    pub liveness: u32,
    /// First reconnect delay.
    pub reconnect: Duration,
    /// Largest reconnect delay (the delay doubles up to it).
    pub reconnect_max: Duration,
}

/// A worker's common settings.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// Broker endpoint.
    pub endpoint: String,
    /// Knobs.
    pub knobs: Knobs,
    /// Inbound limits.
    pub limits: Limits,
    /// Socket LINGER.
    pub linger_ms: u64,
}

/// Where the worker's current socket is kept, so `main` can say goodbye
/// (MDP DISCONNECT) after the worker greenlet was stopped.
pub type SocketSlot = Rc<RefCell<Option<Socket>>>;

/// Plain REP echo server (for `zbroker queue` and Lazy Pirate).
pub fn run_rep(ctx: &Context, cfg: &WorkerConfig, bind: bool) -> zgreen::Result<()> {
    let sock = crate::cli::socket(ctx, zmq::REP, cfg.linger_ms)?;
    if bind {
        sock.bind(&cfg.endpoint)?;
    } else {
        sock.connect(&cfg.endpoint)?;
    }
    let mut handled = 0u64;
    loop {
        let req = sock.recv_multipart(0)?;
        cfg.knobs.on_request(handled);
        if !cfg.knobs.delay.is_zero() {
            zgreen::sleep(cfg.knobs.delay)?;
        }
        sock.send_multipart(&req, 0)?;
        handled += 1;
    }
}

/// LB worker: a REQ that announces `READY` and echoes requests.
pub fn run_lb(ctx: &Context, cfg: &WorkerConfig) -> zgreen::Result<()> {
    let sock = crate::cli::socket(ctx, zmq::REQ, cfg.linger_ms)?;
    sock.connect(&cfg.endpoint)?;
    sock.send(lb::READY, 0)?;
    let mut handled = 0u64;
    loop {
        let frames = sock.recv_multipart(0)?;
        let (client, body) = match lb::parse_worker_request(&frames, &cfg.limits) {
            Ok(x) => x,
            Err(e) => {
                // A REQ must answer something: send back an empty envelope.
                tracing::warn!("malformed request: {e}");
                sock.send("", 0)?;
                continue;
            }
        };
        cfg.knobs.on_request(handled);
        if !cfg.knobs.delay.is_zero() {
            zgreen::sleep(cfg.knobs.delay)?;
        }
        let mut reply = vec![client, vec![]];
        reply.extend(body);
        sock.send_multipart(&reply, 0)?;
        handled += 1;
    }
}

/// Runs the reconnect loop of a heartbeating worker: `session` runs one
/// connection. After DISCONNECT it reconnects at once; after silence it
/// waits a back-off that doubles up to the maximum, and starts over from
/// the first delay when the broker was heard from at all.
fn reconnect_loop(hb: &Heartbeat, mut session: impl FnMut() -> zgreen::Result<End>) -> zgreen::Result<()> {
    let mut backoff = hb.reconnect;
    loop {
        match session()? {
            End::Disconnect => {
                tracing::warn!("broker sent DISCONNECT: registering again");
                backoff = hb.reconnect;
            }
            End::Silent { heard } => {
                if heard {
                    backoff = hb.reconnect;
                }
                tracing::warn!(
                    delay_ms = backoff.as_millis() as u64,
                    "broker lost: reconnecting after back-off"
                );
                zgreen::sleep(backoff)?;
                backoff = (backoff * 2).min(hb.reconnect_max);
            }
        }
    }
}

/// How one worker session ended.
enum End {
    /// Heard nothing for liveness × interval.
    Silent { heard: bool },
    /// The broker said DISCONNECT: reconnect at once.
    Disconnect,
}

/// What a heartbeating worker's protocol says on its DEALER.
struct Protocol<'a> {
    /// Sent once connected.
    hello: Frames,
    /// Logs that the worker is ready (after `hello`).
    ready: &'a dyn Fn(),
    /// Reads what the broker sent.
    parse: &'a Parse<'a>,
    /// The worker's heartbeat.
    heartbeat: Frames,
    /// Where replies come from (`None`: echo).
    handler: Option<Handler>,
}

/// Runs a heartbeating worker: connections one after the other, as
/// [`reconnect_loop`] says.
fn run_heartbeating(
    ctx: &Context,
    cfg: &WorkerConfig,
    hb: &Heartbeat,
    slot: &SocketSlot,
    protocol: &Protocol<'_>,
) -> zgreen::Result<()> {
    let handled = Rc::new(Cell::new(0u64));
    reconnect_loop(hb, || connection(ctx, cfg, hb, &handled, slot, protocol))
}

/// One connection of a heartbeating worker: a fresh DEALER kept in `slot`
/// while it lives, the protocol's hello, then [`session`] until the broker
/// falls silent or says DISCONNECT.
fn connection(
    ctx: &Context,
    cfg: &WorkerConfig,
    hb: &Heartbeat,
    handled: &Rc<Cell<u64>>,
    slot: &SocketSlot,
    protocol: &Protocol<'_>,
) -> zgreen::Result<End> {
    let sock = crate::cli::socket(ctx, zmq::DEALER, cfg.linger_ms)?;
    sock.connect(&cfg.endpoint)?;
    *slot.borrow_mut() = Some(sock.clone());
    sock.send_multipart(&protocol.hello, 0)?;
    (protocol.ready)();
    let end = session(&sock, cfg, hb, handled, protocol)?;
    sock.set_linger(0)?;
    *slot.borrow_mut() = None;
    Ok(end)
}

/// 6/PPP worker: DEALER, READY, heartbeats both ways, reconnect with
/// back-off; requests are echoed from a separate greenlet so heartbeats
/// keep flowing while one is processed.
pub fn run_ppp(ctx: &Context, cfg: &WorkerConfig, hb: &Heartbeat, slot: &SocketSlot) -> zgreen::Result<()> {
    let protocol = Protocol {
        hello: ppp::signal(ppp::READY),
        ready: &|| tracing::info!(endpoint = %cfg.endpoint, "ppp worker ready"),
        parse: &|frames| {
            ppp::parse_worker_inbound(frames, &cfg.limits).map(|m| match m {
                ppp::WorkerInbound::Heartbeat => Cmd::Heartbeat,
                ppp::WorkerInbound::Request { client, body } => Cmd::request(client, body, ppp::reply),
            })
        },
        heartbeat: ppp::signal(ppp::HEARTBEAT),
        handler: None,
    };
    run_heartbeating(ctx, cfg, hb, slot, &protocol)
}

/// 7/MDP worker for `service`.
pub fn run_mdp(
    ctx: &Context,
    cfg: &WorkerConfig,
    hb: &Heartbeat,
    service: &str,
    slot: &SocketSlot,
) -> zgreen::Result<()> {
    run_mdp_service(ctx, cfg, hb, service, slot, None)
}

/// What a worker answers to a request body: the reply body. It runs in a
/// greenlet of its own (so it may park), while the worker's session keeps
/// heartbeating.
pub type Handler = Rc<dyn Fn(Frames) -> zgreen::Result<Frames>>;

/// 7/MDP worker for `service` whose replies come from `handler` (`None`:
/// echo the request, with the [`Knobs`]).
pub fn run_mdp_service(
    ctx: &Context,
    cfg: &WorkerConfig,
    hb: &Heartbeat,
    service: &str,
    slot: &SocketSlot,
    handler: Option<Handler>,
) -> zgreen::Result<()> {
    let protocol = Protocol {
        handler,
        hello: mdp::ready(service.as_bytes()),
        ready: &|| tracing::info!(endpoint = %cfg.endpoint, service, "mdp worker ready"),
        parse: &|frames| {
            mdp::parse_worker_inbound(frames, &cfg.limits).map(|m| match m {
                mdp::WorkerInbound::Heartbeat => Cmd::Heartbeat,
                mdp::WorkerInbound::Disconnect => Cmd::Disconnect,
                mdp::WorkerInbound::Request { client, body } => Cmd::request(client, body, mdp::reply),
            })
        },
        heartbeat: mdp::worker_signal(mdp::HEARTBEAT),
    };
    run_heartbeating(ctx, cfg, hb, slot, &protocol)
}

/// Sends MDP DISCONNECT on the worker's current socket, if any (called by
/// `main` at shutdown).
pub fn say_goodbye(slot: &SocketSlot) {
    if let Some(sock) = slot.borrow_mut().take() {
        let _ = sock.send_multipart(mdp::worker_signal(mdp::DISCONNECT), zmq::DONTWAIT);
    }
}

enum Cmd {
    Heartbeat,
    Disconnect,
    Request {
        reply: Box<dyn FnOnce(&Frames) -> Frames>,
        body: Frames,
    },
}

impl Cmd {
    /// A request from `client`, answered with `reply(client, answer)`.
    fn request(client: Vec<u8>, body: Frames, reply: fn(&[u8], &[Vec<u8>]) -> Frames) -> Cmd {
        Cmd::Request {
            reply: Box::new(move |answer: &Frames| reply(&client, answer)),
            body,
        }
    }
}

type Parse<'a> = dyn Fn(&[Vec<u8>]) -> Result<Cmd, crate::frames::Malformed> + 'a;

fn session(
    sock: &Socket,
    cfg: &WorkerConfig,
    hb: &Heartbeat,
    handled: &Rc<Cell<u64>>,
    protocol: &Protocol<'_>,
) -> zgreen::Result<End> {
    let (parse, heartbeat) = (protocol.parse, &protocol.heartbeat);
    let window = hb.interval * hb.liveness.max(1);
    let mut last_heard = Instant::now();
    let mut heard = false;
    let mut next_heartbeat = Instant::now() + hb.interval;
    let mut job: Option<zgreen::Greenlet<zgreen::Result<()>>> = None;
    let end = loop {
        let now = Instant::now();
        if now.duration_since(last_heard) > window {
            break End::Silent { heard };
        }
        if now >= next_heartbeat {
            sock.send_multipart(heartbeat, zmq::DONTWAIT)
                .or_else(ignore_full)?;
            next_heartbeat = now + hb.interval;
        }
        let wait = next_heartbeat
            .min(last_heard + window + Duration::from_millis(1))
            .saturating_duration_since(Instant::now());
        let Some(inbound) = recv_bounded(sock, &cfg.limits, Some(wait))? else {
            continue;
        };
        last_heard = Instant::now();
        heard = true;
        if let Some(e) = inbound.error {
            tracing::warn!("malformed message from the broker dropped: {e}");
            continue;
        }
        match parse(&inbound.frames) {
            Ok(Cmd::Heartbeat) => {}
            Ok(Cmd::Disconnect) => break End::Disconnect,
            Ok(Cmd::Request { reply, body }) => {
                cfg.knobs.on_request(handled.get());
                if let Some(handler) = &protocol.handler {
                    let (sock, handler, handled) = (sock.clone(), handler.clone(), handled.clone());
                    job = Some(zgreen::spawn(move || {
                        let answer = handler(body)?;
                        sock.send_multipart(reply(&answer), 0)?;
                        handled.set(handled.get() + 1);
                        Ok(())
                    }));
                } else if cfg.knobs.delay.is_zero() {
                    sock.send_multipart(reply(&body), 0)?;
                    handled.set(handled.get() + 1);
                } else {
                    let (sock, delay, handled) = (sock.clone(), cfg.knobs.delay, handled.clone());
                    job = Some(zgreen::spawn(move || {
                        zgreen::sleep(delay)?;
                        sock.send_multipart(reply(&body), 0)?;
                        handled.set(handled.get() + 1);
                        Ok(())
                    }));
                }
            }
            Err(e) => tracing::warn!(peer = %peer_hex(b""), "malformed message from the broker dropped: {e}"),
        }
    };
    if let Some(j) = job {
        let _ = j.kill();
    }
    Ok(end)
}

fn ignore_full(e: zgreen::Error) -> zgreen::Result<()> {
    match e {
        zgreen::Error::Zmq(zmq::Error::EAGAIN) => Ok(()),
        e => Err(e),
    }
}
