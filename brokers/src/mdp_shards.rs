//! `zbroker mdp --threads N` (N ≥ 2): one front-end greenlet pair owns the
//! ROUTER on the main hub, N shard hubs each run a [`Broker`] state
//! machine for the services hashed to them ([`shard_of`]).
//!
//! ```text
//!            ROUTER (main hub)                        shard hubs
//!  peers ──► inbound greenlet ── FrontEnd::forward ──► ToShard (bounded) ──► Shard 0..N
//!  peers ◄── outbound greenlet ◄─────────── FromShard (bounded, shared) ◄──┘
//! ```
//!
//! Routing ([`Routes`]): a client request goes to the shard of its
//! service; an `mmi.service` query to the shard of the service it asks
//! about; a worker READY to the shard of the service it registers (or, if
//! the worker is already mapped, to that shard, which handles a second
//! READY as before); every other worker command to the shard its READY
//! went to, learned by the front-end. A shard tells the front-end which
//! workers it forgot ([`FromShard::Forget`], with the sequence number of
//! the last message it had handled, so a READY forwarded meanwhile keeps
//! its mapping). Messages the front-end cannot place (malformed, unknown
//! peers) go to the shard of the peer identity, whose broker drops and
//! counts them exactly as the single-threaded broker does.
//!
//! Every queue between hubs is bounded. The front-end never waits for a
//! shard: a full shard queue drops the message and counts it
//! (`zgreen_dropped_messages_total{reason="shard_queue_full"}`, a client
//! retries); a shard waits for room in the outbound queue, which only the
//! front-end's outbound greenlet drains.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use zgreen::TrySendError;
use zgreen::chan::{self, Receiver, Sender};
use zgreen::zmq::Socket;

use crate::frames::{Frames, Malformed, peer_hex};
use crate::io::{Inbound, SendFailure, recv_bounded, send_nowait};
use crate::mdp;
use crate::mdp_broker::{Broker, Config, Counters};
use crate::metrics::Metrics;
use crate::security::ServiceKeys;

/// Default capacity of each queue between hubs (`--shard-queue`).
pub const DEFAULT_QUEUE: usize = 4096;

/// The shard that owns `name` among `shards` (FNV-1a, stable across runs
/// and processes).
pub fn shard_of(name: &[u8], shards: usize) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in name {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h % shards.max(1) as u64) as usize
}

/// A message from the front-end to a shard. `seq` numbers the messages
/// sent to that shard (from 1).
#[derive(Debug)]
pub enum ToShard {
    /// A message the ROUTER received within the limits (identity first)
    /// and the sender's ZAP user id.
    Inbound {
        /// Sequence number.
        seq: u64,
        /// The frames.
        frames: Frames,
        /// The peer's ZAP user id.
        user_id: Option<String>,
    },
    /// A message that broke a limit: only its peer and the error.
    Malformed {
        /// Sequence number.
        seq: u64,
        /// The peer identity.
        peer: Vec<u8>,
        /// What was wrong.
        error: Malformed,
    },
    /// A message of this shard the ROUTER could not deliver.
    Undeliverable {
        /// Sequence number.
        seq: u64,
        /// The frames, identity first.
        frames: Frames,
    },
}

impl ToShard {
    fn seq(&self) -> u64 {
        match self {
            ToShard::Inbound { seq, .. }
            | ToShard::Malformed { seq, .. }
            | ToShard::Undeliverable { seq, .. } => *seq,
        }
    }

    fn set_seq(&mut self, n: u64) {
        match self {
            ToShard::Inbound { seq, .. }
            | ToShard::Malformed { seq, .. }
            | ToShard::Undeliverable { seq, .. } => *seq = n,
        }
    }
}

/// A message from a shard to the front-end.
#[derive(Debug, PartialEq, Eq)]
pub enum FromShard {
    /// Send these frames (identity first) on the ROUTER.
    Send {
        /// The shard that produced them.
        shard: usize,
        /// The frames.
        frames: Frames,
    },
    /// The shard no longer knows `worker` (as of the message `seq`).
    Forget {
        /// The shard.
        shard: usize,
        /// The worker identity.
        worker: Vec<u8>,
        /// The last message of the front-end the shard had handled.
        seq: u64,
    },
}

/// The front-end's routing table: which shard each worker's commands go
/// to. A pure data structure, driven by [`FrontEnd`].
#[derive(Debug)]
pub struct Routes {
    shards: usize,
    /// Worker identity → (shard, sequence number of the READY that mapped
    /// it).
    workers: HashMap<Vec<u8>, (usize, u64)>,
}

impl Routes {
    /// An empty table for `shards` shards.
    pub fn new(shards: usize) -> Routes {
        Routes {
            shards: shards.max(1),
            workers: HashMap::new(),
        }
    }

    /// The number of shards.
    pub fn shards(&self) -> usize {
        self.shards
    }

    /// The shard `worker` is mapped to.
    pub fn worker_shard(&self, worker: &[u8]) -> Option<usize> {
        self.workers.get(worker).map(|w| w.0)
    }

    /// Workers mapped.
    pub fn mapped(&self) -> usize {
        self.workers.len()
    }

    /// The shard for a message the ROUTER received, `identity | "" |
    /// header | ...`, and whether it is a worker READY (which maps the
    /// worker once forwarded).
    pub fn route<F: AsRef<[u8]>>(&self, frames: &[F]) -> (usize, bool) {
        let f = |i: usize| frames.get(i).map(|x| x.as_ref());
        let peer = f(0).unwrap_or(&[]);
        let by_peer = shard_of(peer, self.shards);
        if f(1).is_none_or(|d| !d.is_empty()) {
            return (by_peer, false);
        }
        match (f(2), f(3)) {
            (Some(mdp::CLIENT_HEADER), Some(service)) => {
                let name = match f(4) {
                    Some(asked) if service == b"mmi.service" => asked,
                    _ => service,
                };
                (shard_of(name, self.shards), false)
            }
            (Some(mdp::WORKER_HEADER), Some(command)) => {
                let mapped = self.worker_shard(peer);
                match (command, f(4)) {
                    ([mdp::READY], Some(service)) => (mapped.unwrap_or(shard_of(service, self.shards)), true),
                    _ => (mapped.unwrap_or(by_peer), false),
                }
            }
            _ => (by_peer, false),
        }
    }

    /// Records that a READY from `worker` was handed to `shard` as its
    /// message `seq`.
    pub fn mapped_ready(&mut self, worker: &[u8], shard: usize, seq: u64) {
        self.workers.insert(worker.to_vec(), (shard, seq));
    }

    /// `shard` forgot `worker` after handling its message `seq`: the
    /// mapping goes, unless a later READY re-mapped the worker.
    pub fn forget(&mut self, worker: &[u8], shard: usize, seq: u64) {
        if let Some(&(s, ready)) = self.workers.get(worker)
            && s == shard
            && ready <= seq
        {
            self.workers.remove(worker);
        }
    }
}

/// What the front-end counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FrontCounters {
    /// Messages handed to shards.
    pub forwarded: u64,
    /// Messages dropped because their shard's queue was full.
    pub shard_full: u64,
}

/// The front-end's routing and hand-off to the shards (no sockets: the
/// inbound greenlet calls [`forward`](Self::forward), the outbound one
/// [`undeliverable`](Self::undeliverable) and [`forget`](Self::forget)).
#[derive(Debug)]
pub struct FrontEnd {
    routes: Routes,
    to_shards: Vec<Sender<ToShard>>,
    seq: Vec<u64>,
    /// What happened so far.
    pub counters: FrontCounters,
    metrics: Option<Arc<Metrics>>,
    warnings_left: u32,
    warnings_reset: Instant,
}

impl FrontEnd {
    /// A front-end for the shards fed by `to_shards` (one per shard).
    pub fn new(to_shards: Vec<Sender<ToShard>>, metrics: Option<Arc<Metrics>>) -> FrontEnd {
        let n = to_shards.len();
        FrontEnd {
            routes: Routes::new(n),
            seq: vec![0; n],
            to_shards,
            counters: FrontCounters::default(),
            metrics,
            warnings_left: 10,
            warnings_reset: Instant::now(),
        }
    }

    /// The routing table.
    pub fn routes(&self) -> &Routes {
        &self.routes
    }

    /// Hands one received message to its shard without waiting. Fails only
    /// if the shard is gone.
    pub fn forward(&mut self, inbound: Inbound) -> zgreen::Result<()> {
        match inbound.error {
            Some(error) => {
                let peer = inbound.frames.into_iter().next().unwrap_or_default();
                let shard = shard_of(&peer, self.routes.shards);
                self.hand(shard, ToShard::Malformed { seq: 0, peer, error }, None)
            }
            None => {
                let (shard, ready) = self.routes.route(&inbound.frames);
                let peer = ready.then(|| inbound.frames[0].clone());
                let msg = ToShard::Inbound {
                    seq: 0,
                    frames: inbound.frames,
                    user_id: inbound.user_id,
                };
                self.hand(shard, msg, peer)
            }
        }
    }

    /// A message of `shard` the ROUTER could not deliver goes back to it.
    pub fn undeliverable(&mut self, shard: usize, frames: Frames) -> zgreen::Result<()> {
        self.hand(shard, ToShard::Undeliverable { seq: 0, frames }, None)
    }

    /// A shard's [`FromShard::Forget`].
    pub fn forget(&mut self, worker: &[u8], shard: usize, seq: u64) {
        self.routes.forget(worker, shard, seq);
    }

    fn hand(&mut self, shard: usize, mut msg: ToShard, ready_of: Option<Vec<u8>>) -> zgreen::Result<()> {
        let seq = self.seq[shard] + 1;
        msg.set_seq(seq);
        match self.to_shards[shard].try_send(msg) {
            Ok(()) => {
                self.seq[shard] = seq;
                self.counters.forwarded += 1;
                if let Some(worker) = ready_of {
                    self.routes.mapped_ready(&worker, shard, seq);
                }
                Ok(())
            }
            Err(TrySendError::Full(msg)) => {
                self.counters.shard_full += 1;
                if let Some(m) = &self.metrics {
                    m.dropped("shard_queue_full");
                }
                self.warn_full(shard, &msg);
                Ok(())
            }
            Err(TrySendError::Failed(_, e)) => Err(e),
        }
    }

    fn warn_full(&mut self, shard: usize, msg: &ToShard) {
        let now = Instant::now();
        if now.duration_since(self.warnings_reset) >= Duration::from_secs(1) {
            self.warnings_reset = now;
            self.warnings_left = 10;
        }
        let peer = match msg {
            ToShard::Inbound { frames, .. } | ToShard::Undeliverable { frames, .. } => frames.first(),
            ToShard::Malformed { peer, .. } => Some(peer),
        };
        let peer = peer_hex(peer.map(|p| &p[..]).unwrap_or(&[]));
        if self.warnings_left > 0 {
            self.warnings_left -= 1;
            tracing::warn!(%peer, shard, reason = "shard_queue_full", "dropped message: the shard's queue is full");
        } else {
            tracing::debug!(%peer, shard, reason = "shard_queue_full", "dropped message: the shard's queue is full");
        }
    }
}

/// One shard: a [`Broker`] for the services hashed to it, fed by
/// [`ToShard`] messages, answering with [`FromShard`] ones.
#[derive(Debug)]
pub struct Shard {
    index: usize,
    /// The state machine.
    pub broker: Broker,
    last_seq: u64,
    frames: Vec<Frames>,
}

impl Shard {
    /// Shard `index`, running `broker`.
    pub fn new(index: usize, mut broker: Broker) -> Shard {
        broker.track_forgotten();
        Shard {
            index,
            broker,
            last_seq: 0,
            frames: Vec::new(),
        }
    }

    /// Handles one message from the front-end at `now`.
    pub fn handle(&mut self, now: Instant, msg: ToShard, out: &mut Vec<FromShard>) {
        self.last_seq = self.last_seq.max(msg.seq());
        let b = &mut self.broker;
        let o = &mut self.frames;
        match msg {
            ToShard::Inbound { frames, user_id, .. } => {
                if !b.refuse_registration(&frames, user_id.as_deref(), o) {
                    b.handle(now, &frames, o);
                }
            }
            ToShard::Malformed { peer, error, .. } => b.drop_malformed(&peer, &error, o),
            ToShard::Undeliverable { frames, .. } => b.undeliverable(frames, o),
        }
        self.collect(out);
    }

    /// Runs the broker's tick if due at `now`.
    pub fn tick(&mut self, now: Instant, out: &mut Vec<FromShard>) {
        if now >= self.broker.next_tick() {
            self.broker.tick(now, &mut self.frames);
            self.collect(out);
        }
    }

    fn collect(&mut self, out: &mut Vec<FromShard>) {
        let shard = self.index;
        out.extend(
            self.frames
                .drain(..)
                .map(|frames| FromShard::Send { shard, frames }),
        );
        for worker in self.broker.take_forgotten() {
            out.push(FromShard::Forget {
                shard,
                worker,
                seq: self.last_seq,
            });
        }
    }
}

/// What a sharded broker needs besides its ROUTER.
#[derive(Debug, Clone)]
pub struct Sharded {
    /// Shard hubs.
    pub shards: usize,
    /// Capacity of each queue between hubs.
    pub queue: usize,
    /// The broker settings (every shard gets them; `max_services` is per
    /// shard).
    pub config: Config,
    /// CURVE service restrictions.
    pub service_keys: Option<ServiceKeys>,
    /// How long shutdown may take.
    pub grace: Duration,
}

/// Runs the sharded broker on `sock` (a bound ROUTER with
/// `ROUTER_MANDATORY`) until an error or a kill: the front-end on this
/// hub, the shards on `s.shards` new hub threads, stopped on return.
pub fn serve(sock: &Socket, s: Sharded, metrics: Option<Arc<Metrics>>) -> zgreen::Result<()> {
    let n = s.shards.max(1);
    let queue = s.queue.max(1);
    let rt = zgreen::runtime::Runtime::builder()
        .hubs(n)
        .name("zbroker-shard")
        .shutdown_grace(s.grace)
        .build()?;
    let (out_tx, out_rx) = chan::bounded::<FromShard>(queue.saturating_mul(n));
    let mut to_shards = Vec::with_capacity(n);
    let mut running = Vec::with_capacity(n);
    for i in 0..n {
        let (tx, rx) = chan::bounded::<ToShard>(queue);
        to_shards.push(tx);
        let (out_tx, cfg, keys, m) = (
            out_tx.clone(),
            s.config.clone(),
            s.service_keys.clone(),
            metrics.clone(),
        );
        running.push(rt.spawn_on(i, move || {
            let mut broker = Broker::new(cfg, Instant::now(), m);
            broker.set_service_keys(keys);
            run_shard(Shard::new(i, broker), &rx, &out_tx)
        }));
    }
    drop(out_tx);
    let front = Rc::new(RefCell::new(FrontEnd::new(to_shards, metrics.clone())));
    let outbound = {
        let (sock, front, m) = (sock.clone(), front.clone(), metrics.clone());
        zgreen::spawn(move || run_outbound(&sock, &front, &out_rx, m.as_deref()))
    };
    let _stop = crate::load::KillOnDrop(vec![outbound.any()]);
    tracing::info!(shards = n, queue, "mdp broker sharded");
    let limits = s.config.limits;
    let m_in = metrics.as_ref().map(|m| m.messages_in("router"));
    let result = loop {
        if outbound.ready() {
            break Err(zgreen::Error::Closed(zgreen::Closed::Disconnected));
        }
        let inbound = match recv_bounded(sock, &limits, Some(Duration::from_millis(500))) {
            Ok(Some(i)) => i,
            Ok(None) => continue,
            Err(e) => break Err(e),
        };
        if let Some(c) = &m_in {
            c.inc();
        }
        if let Err(e) = front.borrow_mut().forward(inbound) {
            break Err(e);
        }
    };
    tracing::info!(counters = ?front.borrow().counters, "mdp front-end stopped");
    outbound.kill_nowait();
    drop(front);
    let _ = rt.shutdown();
    result
}

/// A shard's loop: messages in, ticks, everything out.
fn run_shard(mut shard: Shard, rx: &Receiver<ToShard>, out_tx: &Sender<FromShard>) -> Counters {
    let mut out = Vec::new();
    let stop = loop {
        shard.tick(Instant::now(), &mut out);
        for m in out.drain(..) {
            if out_tx.send(m).is_err() {
                break;
            }
        }
        let wait = shard.broker.next_tick().saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok(msg) => shard.handle(Instant::now(), msg, &mut out),
            Err(e) if e.is_timeout() => {}
            Err(e) => break e,
        }
    };
    tracing::info!(shard = shard.index, counters = ?shard.broker.counters, reason = %stop, "mdp shard stopped");
    shard.broker.counters
}

/// The front-end's outbound greenlet: sends what the shards produce.
fn run_outbound(
    sock: &Socket,
    front: &RefCell<FrontEnd>,
    rx: &Receiver<FromShard>,
    metrics: Option<&Metrics>,
) -> zgreen::Result<()> {
    let m_out = metrics.map(|m| m.messages_out("router"));
    loop {
        match rx.recv()? {
            FromShard::Forget { shard, worker, seq } => front.borrow_mut().forget(&worker, shard, seq),
            FromShard::Send { shard, frames } => match send_nowait(sock, frames)? {
                Ok(()) => {
                    if let Some(c) = &m_out {
                        c.inc();
                    }
                }
                Err(SendFailure::Unroutable(frames)) => front.borrow_mut().undeliverable(shard, frames)?,
                Err(SendFailure::Full(frames)) => {
                    // As the single-threaded broker: a worker that cannot
                    // take a request is as good as gone.
                    if mdp::is_request_to_worker(&frames) {
                        front.borrow_mut().undeliverable(shard, frames)?;
                    } else {
                        tracing::debug!(peer = %peer_hex(&frames[0]), "peer queue full: message dropped");
                    }
                }
            },
        }
    }
}
