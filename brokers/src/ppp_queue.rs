//! The 6/PPP queue (`zbroker ppq`) and the load-balancing broker
//! (`zbroker lb`) share this shape: a frontend ROUTER for clients, a
//! backend ROUTER for workers, a least-recently-used list of free workers,
//! and the frontend read only while a worker is free.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use zgreen::zmq::{Poller, Socket};

use crate::frames::{Frames, Limits, Malformed, peer_hex};
use crate::io::{SendFailure, recv_bounded, send_nowait};
use crate::metrics::{Metrics, expired_workers};
use crate::ppp;

/// PPP queue settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// Heartbeat interval.
    pub heartbeat: Duration,
    /// Missed intervals after which a worker is dead.
    pub liveness: u32,
    /// Inbound limits.
    pub limits: Limits,
}

/// Counters of a PPP queue.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Requests forwarded to workers.
    pub requests: u64,
    /// Replies forwarded to clients.
    pub replies: u64,
    /// Malformed messages dropped.
    pub dropped: u64,
    /// Workers expired.
    pub workers_expired: u64,
}

/// The queue's state: known workers with their expiry, free ones in LRU
/// order.
#[derive(Debug)]
pub struct Queue {
    cfg: Config,
    expiry: HashMap<Vec<u8>, Instant>,
    free: VecDeque<Vec<u8>>,
    next_tick: Instant,
    /// What happened so far.
    pub counters: Counters,
    metrics: Option<Arc<Metrics>>,
}

impl Queue {
    /// An empty queue.
    pub fn new(cfg: Config, now: Instant, metrics: Option<Arc<Metrics>>) -> Queue {
        Queue {
            next_tick: now + cfg.heartbeat,
            cfg,
            expiry: HashMap::new(),
            free: VecDeque::new(),
            counters: Counters::default(),
            metrics,
        }
    }

    /// Free workers.
    pub fn free_workers(&self) -> usize {
        self.free.len()
    }

    fn drop_malformed(&mut self, peer: &[u8], e: &Malformed) {
        self.counters.dropped += 1;
        if let Some(m) = &self.metrics {
            m.dropped(e.reason());
        }
        tracing::warn!(peer = %peer_hex(peer), reason = e.reason(), "dropped message: {e}");
    }

    fn make_free(&mut self, worker: Vec<u8>, now: Instant) {
        self.expiry.insert(
            worker.clone(),
            now + self.cfg.heartbeat * self.cfg.liveness.max(1),
        );
        self.free.retain(|w| *w != worker);
        self.free.push_back(worker);
    }

    /// Handles a backend message; returns a reply for the frontend.
    pub fn on_backend(&mut self, now: Instant, frames: &[Vec<u8>]) -> Option<Frames> {
        match ppp::parse_queue_inbound(frames, &self.cfg.limits) {
            Ok(ppp::QueueInbound::Ready { worker }) => {
                tracing::info!(worker = %peer_hex(&worker), "worker ready");
                self.make_free(worker, now);
                None
            }
            Ok(ppp::QueueInbound::Heartbeat { worker }) => {
                let window = self.cfg.heartbeat * self.cfg.liveness.max(1);
                match self.expiry.get_mut(&worker) {
                    Some(e) => *e = now + window,
                    // Unknown (for example after a queue restart): it is
                    // alive and idle.
                    None => self.make_free(worker, now),
                }
                None
            }
            Ok(ppp::QueueInbound::Reply { worker, client, body }) => {
                self.counters.replies += 1;
                self.make_free(worker, now);
                Some(ppp::reply_to_client(&client, &body))
            }
            Err(e) => {
                self.drop_malformed(frames.first().map_or(&[][..], |f| &f[..]), &e);
                None
            }
        }
    }

    /// Takes the least recently used free worker.
    pub fn take_worker(&mut self) -> Option<Vec<u8>> {
        self.free.pop_front()
    }

    /// Forgets a worker that could not be reached.
    pub fn forget(&mut self, worker: &[u8]) {
        self.expiry.remove(worker);
        self.free.retain(|w| w != worker);
    }

    /// Expires silent workers; returns the heartbeats to send.
    pub fn tick(&mut self, now: Instant) -> Vec<Frames> {
        self.next_tick = now + self.cfg.heartbeat;
        let dead = expired_workers(
            &self.expiry,
            |e| *e,
            now,
            &mut self.counters.workers_expired,
            self.metrics.as_deref(),
        );
        for w in dead {
            self.forget(&w);
        }
        if let Some(m) = &self.metrics {
            m.set_workers("ppp", self.expiry.len());
        }
        self.expiry.keys().map(|w| ppp::heartbeat_to(w)).collect()
    }
}

/// Runs a PPP queue until an error or a kill.
pub fn serve(frontend: &Socket, backend: &Socket, q: &mut Queue) -> zgreen::Result<()> {
    let limits = q.cfg.limits;
    let c = Counters4::new(q.metrics.as_deref());
    loop {
        let now = Instant::now();
        if now >= q.next_tick {
            for hb in q.tick(now) {
                if let Err(SendFailure::Unroutable(f)) = send_nowait(backend, hb)? {
                    q.forget(&f[0]);
                }
            }
        }
        let mut poller = Poller::new();
        let ib = poller.add_socket(backend, zmq::POLLIN);
        let ifr = (q.free_workers() > 0).then(|| poller.add_socket(frontend, zmq::POLLIN));
        poller.poll(Some(q.next_tick.saturating_duration_since(Instant::now())))?;
        if poller.revents(ib).contains(zmq::POLLIN) {
            while let Some(msg) = recv_bounded(backend, &limits, Some(Duration::ZERO))? {
                c.inc(&c.backend_in);
                let reply = match &msg.error {
                    Some(e) => {
                        q.drop_malformed(msg.peer(), e);
                        None
                    }
                    None => q.on_backend(Instant::now(), &msg.frames),
                };
                if let Some(reply) = reply {
                    if send_nowait(frontend, reply)?.is_ok() {
                        c.inc(&c.frontend_out);
                    }
                }
            }
        }
        if ifr.is_some_and(|i| poller.revents(i).contains(zmq::POLLIN)) {
            while q.free_workers() > 0 {
                let Some(req) = next_request(frontend, &limits, &c, |peer, e| q.drop_malformed(peer, e))?
                else {
                    break;
                };
                while let Some(worker) = q.take_worker() {
                    match send_nowait(backend, ppp::request_to(&worker, &req.client, &req.body))? {
                        Ok(()) => {
                            q.counters.requests += 1;
                            c.inc(&c.backend_out);
                            break;
                        }
                        Err(_) => q.forget(&worker),
                    }
                }
            }
        }
    }
}

/// The next client request queued on a two-socket broker's `frontend`,
/// without waiting: `None` when there is none. Malformed ones are counted,
/// handed to `drop` with their sender, and skipped.
pub(crate) fn next_request(
    frontend: &Socket,
    limits: &Limits,
    c: &Counters4,
    mut drop: impl FnMut(&[u8], &Malformed),
) -> zgreen::Result<Option<ppp::ClientRequest>> {
    while let Some(msg) = recv_bounded(frontend, limits, Some(Duration::ZERO))? {
        c.inc(&c.frontend_in);
        let parsed = match &msg.error {
            Some(e) => Err(e.clone()),
            None => ppp::parse_client_request(&msg.frames, limits),
        };
        match parsed {
            Ok(req) => return Ok(Some(req)),
            Err(e) => drop(msg.peer(), &e),
        }
    }
    Ok(None)
}

/// Cached message counters of a two-socket broker.
pub(crate) struct Counters4 {
    pub(crate) frontend_in: Option<prometheus_client::metrics::counter::Counter>,
    pub(crate) frontend_out: Option<prometheus_client::metrics::counter::Counter>,
    pub(crate) backend_in: Option<prometheus_client::metrics::counter::Counter>,
    pub(crate) backend_out: Option<prometheus_client::metrics::counter::Counter>,
}

impl Counters4 {
    pub(crate) fn new(m: Option<&Metrics>) -> Counters4 {
        Counters4 {
            frontend_in: m.map(|m| m.messages_in("frontend")),
            frontend_out: m.map(|m| m.messages_out("frontend")),
            backend_in: m.map(|m| m.messages_in("backend")),
            backend_out: m.map(|m| m.messages_out("backend")),
        }
    }

    pub(crate) fn inc(&self, c: &Option<prometheus_client::metrics::counter::Counter>) {
        if let Some(c) = c {
            c.inc();
        }
    }
}
