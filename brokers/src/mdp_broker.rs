//! The 7/MDP broker (with 8/MMI): a pure state machine ([`Broker`]) that
//! turns inbound messages and clock ticks into outbound messages, and the
//! green loop ([`serve`]) that drives it on one ROUTER socket.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::frames::{Frames, Limits, Malformed, peer_hex, show};
use crate::io::{BrokerSocket, SendFailure};
use crate::mdp::{self, BrokerInbound, WorkerCommand};
use crate::metrics::{Metrics, expired_workers};

/// Broker settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// Heartbeat interval.
    pub heartbeat: Duration,
    /// Missed intervals after which a worker is dead.
    pub liveness: u32,
    /// Most requests queued per service.
    pub max_queue: usize,
    /// How long a request may wait in a queue.
    pub request_ttl: Duration,
    /// Most services known at once.
    pub max_services: usize,
    /// Inbound message limits.
    pub limits: Limits,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            heartbeat: Duration::from_millis(2500),
            liveness: 3,
            max_queue: 1000,
            request_ttl: Duration::from_secs(10),
            max_services: 1000,
            limits: Limits::default(),
        }
    }
}

/// Plain counters of what the broker did (also exported as metrics).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Client requests accepted (MMI included).
    pub requests: u64,
    /// Replies forwarded to clients.
    pub replies: u64,
    /// MMI requests answered.
    pub mmi: u64,
    /// Messages dropped as malformed or unexpected.
    pub dropped: u64,
    /// Requests expired in a queue.
    pub expired: u64,
    /// Requests refused (queue full, too many services).
    pub rejected: u64,
    /// Workers expired for missing heartbeats.
    pub workers_expired: u64,
    /// DISCONNECTs sent to workers.
    pub disconnects: u64,
    /// Requests handed back to the queue because their worker vanished.
    pub requeued: u64,
}

#[derive(Debug)]
struct Worker {
    service: Vec<u8>,
    expiry: Instant,
    /// The request it is working on (client, body), for requeueing if
    /// the worker turns out to be unreachable before it took it.
    busy: bool,
}

#[derive(Debug)]
struct Queued {
    client: Vec<u8>,
    body: Frames,
    expires: Instant,
}

#[derive(Debug, Default)]
struct Service {
    requests: VecDeque<Queued>,
    /// Idle workers, least recently used first.
    waiting: VecDeque<Vec<u8>>,
    workers: usize,
}

/// The MDP broker's state.
#[derive(Debug)]
pub struct Broker {
    cfg: Config,
    workers: HashMap<Vec<u8>, Worker>,
    services: HashMap<Vec<u8>, Service>,
    next_tick: Instant,
    warnings_left: u32,
    /// What happened so far.
    pub counters: Counters,
    metrics: Option<Arc<Metrics>>,
    service_keys: Option<crate::security::ServiceKeys>,
    /// With [`track_forgotten`](Self::track_forgotten): the workers
    /// forgotten or told to DISCONNECT since the last
    /// [`take_forgotten`](Self::take_forgotten).
    forgotten: Option<Vec<Vec<u8>>>,
}

impl Broker {
    /// A broker with no workers; the first tick is one interval from `now`.
    pub fn new(cfg: Config, now: Instant, metrics: Option<Arc<Metrics>>) -> Broker {
        Broker {
            next_tick: now + cfg.heartbeat,
            cfg,
            workers: HashMap::new(),
            services: HashMap::new(),
            warnings_left: 10,
            counters: Counters::default(),
            metrics,
            service_keys: None,
            forgotten: None,
        }
    }

    /// Starts recording the workers this broker forgets (expired, gone,
    /// disconnected, refused): a shard of `zbroker mdp --threads N` tells
    /// the front-end, which then stops routing their commands here.
    pub fn track_forgotten(&mut self) {
        self.forgotten.get_or_insert_with(Vec::new);
    }

    /// The workers forgotten or told to DISCONNECT since the last call
    /// that are not registered now (empty unless
    /// [`track_forgotten`](Self::track_forgotten) was called).
    pub fn take_forgotten(&mut self) -> Vec<Vec<u8>> {
        let Some(list) = self.forgotten.as_mut() else {
            return Vec::new();
        };
        let mut list = std::mem::take(list);
        list.retain(|w| !self.workers.contains_key(w));
        list.sort_unstable();
        list.dedup();
        list
    }

    /// True if `worker` is registered.
    pub fn knows_worker(&self, worker: &[u8]) -> bool {
        self.workers.contains_key(worker)
    }

    fn note_forgotten(&mut self, worker: &[u8]) {
        if let Some(list) = self.forgotten.as_mut() {
            list.push(worker.to_vec());
        }
    }

    /// Restricts which peers may register which services, by their ZAP
    /// user id (a CURVE key); `None` lets any worker register any service.
    pub fn set_service_keys(&mut self, keys: Option<crate::security::ServiceKeys>) {
        self.service_keys = keys;
    }

    /// With [service keys](Self::set_service_keys): refuses (drops, counts,
    /// answers DISCONNECT) a worker READY whose sender's key may not
    /// register the service, and returns true.
    pub fn refuse_registration(
        &mut self,
        frames: &[Vec<u8>],
        user_id: Option<&str>,
        out: &mut Vec<Frames>,
    ) -> bool {
        let Some(rules) = &self.service_keys else {
            return false;
        };
        let [peer, _, header, command, service, ..] = frames else {
            return false;
        };
        if header.as_slice() != mdp::WORKER_HEADER
            || command.as_slice() != [mdp::READY]
            || rules.allows(user_id, service)
        {
            return false;
        }
        tracing::warn!(
            worker = %peer_hex(peer),
            key = user_id.unwrap_or("(none)"),
            service = %show(service),
            "this key may not register the service"
        );
        let peer = peer.clone();
        self.note_drop(
            &peer,
            "service_not_allowed",
            "READY for a service this key may not register",
        );
        self.disconnect(&peer, out);
        true
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// When [`tick`](Self::tick) is due.
    pub fn next_tick(&self) -> Instant {
        self.next_tick
    }

    /// Live workers registered for `service`.
    pub fn workers_for(&self, service: &[u8]) -> usize {
        self.services.get(service).map_or(0, |s| s.workers)
    }

    /// Requests queued for `service`.
    pub fn queue_depth(&self, service: &[u8]) -> usize {
        self.services.get(service).map_or(0, |s| s.requests.len())
    }

    /// All live workers.
    pub fn worker_total(&self) -> usize {
        self.workers.len()
    }

    fn liveness_window(&self) -> Duration {
        self.cfg.heartbeat * self.cfg.liveness.max(1)
    }

    /// Handles one message received on the ROUTER (identity first),
    /// pushing what to send into `out`.
    pub fn handle(&mut self, now: Instant, frames: &[Vec<u8>], out: &mut Vec<Frames>) {
        match mdp::parse_broker_inbound(frames, &self.cfg.limits) {
            Ok(BrokerInbound::Request {
                client,
                service,
                body,
            }) => self.on_request(now, client, service, body, out),
            Ok(BrokerInbound::Worker { worker, command }) => self.on_worker(now, worker, command, out),
            Err(e) => {
                let peer = frames.first().map(|f| &f[..]).unwrap_or(&[]);
                self.drop_malformed(peer, &e, out);
            }
        }
    }

    /// Counts and logs a malformed message from `peer`. A worker that
    /// tried to register an `mmi.*` service is told to DISCONNECT.
    pub fn drop_malformed(&mut self, peer: &[u8], err: &Malformed, out: &mut Vec<Frames>) {
        self.note_drop(peer, err.reason(), &err.to_string());
        if let Malformed::ReservedService(_) = err {
            self.disconnect(peer, out);
        }
    }

    fn note_drop(&mut self, peer: &[u8], reason: &str, detail: &str) {
        self.counters.dropped += 1;
        if let Some(m) = &self.metrics {
            m.dropped(reason);
        }
        if self.warnings_left > 0 {
            self.warnings_left -= 1;
            tracing::warn!(peer = %peer_hex(peer), reason, "dropped message: {detail}");
        } else {
            tracing::debug!(peer = %peer_hex(peer), reason, "dropped message: {detail}");
        }
    }

    fn disconnect(&mut self, worker: &[u8], out: &mut Vec<Frames>) {
        self.counters.disconnects += 1;
        self.note_forgotten(worker);
        out.push(mdp::signal_to_worker(worker, mdp::DISCONNECT));
    }

    fn on_request(
        &mut self,
        now: Instant,
        client: Vec<u8>,
        service: Vec<u8>,
        body: Frames,
        out: &mut Vec<Frames>,
    ) {
        self.counters.requests += 1;
        if mdp::is_mmi(&service) {
            self.counters.mmi += 1;
            let code = mdp::mmi_answer(&service, &body, |name| self.workers_for(name) > 0);
            out.push(mdp::client_reply(&client, &service, &[code]));
            return;
        }
        if !self.services.contains_key(&service) && self.services.len() >= self.cfg.max_services {
            self.reject(&client, "too_many_services", &service);
            return;
        }
        let expires = now + self.cfg.request_ttl;
        let max_queue = self.cfg.max_queue;
        let svc = self.services.entry(service.clone()).or_default();
        if svc.requests.len() >= max_queue {
            self.reject(&client, "queue_full", &service);
            return;
        }
        svc.requests.push_back(Queued {
            client,
            body,
            expires,
        });
        self.dispatch(&service, out);
    }

    fn reject(&mut self, client: &[u8], reason: &str, service: &[u8]) {
        self.counters.rejected += 1;
        if let Some(m) = &self.metrics {
            m.requests_rejected.inc();
        }
        tracing::warn!(client = %peer_hex(client), service = %show(service), reason, "request refused");
    }

    /// Hands queued requests of `service` to its idle workers.
    fn dispatch(&mut self, service: &[u8], out: &mut Vec<Frames>) {
        let Some(svc) = self.services.get_mut(service) else {
            return;
        };
        while !svc.requests.is_empty() {
            let Some(worker_id) = svc.waiting.pop_front() else {
                break;
            };
            let Some(worker) = self.workers.get_mut(&worker_id) else {
                continue; // stale entry: the worker is gone
            };
            let req = svc.requests.pop_front().expect("non-empty");
            worker.busy = true;
            out.push(mdp::request_to_worker(&worker_id, &req.client, &req.body));
        }
    }

    fn on_worker(&mut self, now: Instant, worker_id: Vec<u8>, command: WorkerCommand, out: &mut Vec<Frames>) {
        let expiry = now + self.liveness_window();
        let known = self.workers.contains_key(&worker_id);
        match command {
            WorkerCommand::Ready { service } => {
                if known {
                    self.note_drop(
                        &worker_id,
                        "duplicate_ready",
                        "second READY from a registered worker",
                    );
                    self.forget(&worker_id);
                    self.disconnect(&worker_id, out);
                    return;
                }
                if !self.services.contains_key(&service) && self.services.len() >= self.cfg.max_services {
                    self.note_drop(&worker_id, "too_many_services", "READY for one service too many");
                    self.disconnect(&worker_id, out);
                    return;
                }
                tracing::info!(worker = %peer_hex(&worker_id), service = %show(&service), "worker ready");
                self.workers.insert(
                    worker_id.clone(),
                    Worker {
                        service: service.clone(),
                        expiry,
                        busy: false,
                    },
                );
                let svc = self.services.entry(service.clone()).or_default();
                svc.workers += 1;
                svc.waiting.push_back(worker_id);
                self.dispatch(&service, out);
            }
            WorkerCommand::Reply { client, body } => {
                let Some(worker) = self.workers.get_mut(&worker_id) else {
                    self.note_drop(&worker_id, "unknown_worker", "REPLY from an unregistered worker");
                    self.disconnect(&worker_id, out);
                    return;
                };
                worker.expiry = expiry;
                if !worker.busy {
                    self.note_drop(
                        &worker_id,
                        "unsolicited_reply",
                        "REPLY from a worker with no request",
                    );
                    return;
                }
                worker.busy = false;
                let service = worker.service.clone();
                self.counters.replies += 1;
                out.push(mdp::client_reply(&client, &service, &body));
                if let Some(svc) = self.services.get_mut(&service) {
                    svc.waiting.push_back(worker_id);
                }
                self.dispatch(&service, out);
            }
            WorkerCommand::Heartbeat => match self.workers.get_mut(&worker_id) {
                Some(w) => w.expiry = expiry,
                None => {
                    self.note_drop(
                        &worker_id,
                        "unknown_worker",
                        "HEARTBEAT from an unregistered worker",
                    );
                    self.disconnect(&worker_id, out);
                }
            },
            WorkerCommand::Disconnect => {
                if known {
                    tracing::info!(worker = %peer_hex(&worker_id), "worker disconnected");
                    self.forget(&worker_id);
                }
            }
        }
    }

    /// Removes a worker (its in-flight request, if any, is the client's
    /// to retry).
    fn forget(&mut self, worker_id: &[u8]) -> Option<Vec<u8>> {
        let worker = self.workers.remove(worker_id)?;
        self.note_forgotten(worker_id);
        if let Some(svc) = self.services.get_mut(&worker.service) {
            svc.workers = svc.workers.saturating_sub(1);
            svc.waiting.retain(|w| w != worker_id);
        }
        Some(worker.service)
    }

    /// A message the ROUTER could not route (its peer is gone). A REQUEST
    /// goes back to the front of its queue and the worker is forgotten.
    pub fn undeliverable(&mut self, frames: Frames, out: &mut Vec<Frames>) {
        let Some(peer) = frames.first() else { return };
        let is_request = mdp::is_request_to_worker(&frames);
        let service = self.forget(peer);
        match (service, is_request) {
            (Some(service), true) => {
                tracing::info!(worker = %peer_hex(peer), "worker vanished before taking a request: requeued");
                let mut frames = frames;
                let body = frames.split_off(6);
                let client = std::mem::take(&mut frames[4]);
                self.counters.requeued += 1;
                let expires = Instant::now() + self.cfg.request_ttl;
                if let Some(svc) = self.services.get_mut(&service) {
                    svc.requests.push_front(Queued {
                        client,
                        body,
                        expires,
                    });
                }
                self.dispatch(&service, out);
            }
            (Some(_), false) => {
                tracing::info!(worker = %peer_hex(peer), "worker vanished");
            }
            (None, _) => {
                tracing::debug!(peer = %peer_hex(peer), "peer gone: message dropped");
            }
        }
    }

    /// Heartbeats, worker expiry and request expiry; call when
    /// [`next_tick`](Self::next_tick) has passed.
    pub fn tick(&mut self, now: Instant, out: &mut Vec<Frames>) {
        self.next_tick = now + self.cfg.heartbeat;
        self.warnings_left = 10;
        let dead = expired_workers(
            &self.workers,
            |w| w.expiry,
            now,
            &mut self.counters.workers_expired,
            self.metrics.as_deref(),
        );
        for id in dead {
            self.forget(&id);
        }
        for id in self.workers.keys() {
            out.push(mdp::signal_to_worker(id, mdp::HEARTBEAT));
        }
        let mut expired = 0u64;
        let mut gone = Vec::new();
        self.services.retain(|name, svc| {
            while svc.requests.front().is_some_and(|r| r.expires <= now) {
                svc.requests.pop_front();
                expired += 1;
            }
            let keep = svc.workers > 0 || !svc.requests.is_empty();
            if !keep {
                gone.push(name.clone());
            }
            keep
        });
        if let Some(m) = &self.metrics {
            for name in gone {
                let name = String::from_utf8_lossy(&name);
                m.set_workers(&name, 0);
                m.set_queue_depth(&name, 0);
            }
        }
        if expired > 0 {
            tracing::warn!(expired, "queued requests expired with no worker to take them");
            self.counters.expired += expired;
            if let Some(m) = &self.metrics {
                m.requests_expired.inc_by(expired);
            }
        }
        if let Some(m) = &self.metrics {
            for (name, svc) in &self.services {
                let name = String::from_utf8_lossy(name);
                m.set_workers(&name, svc.workers);
                m.set_queue_depth(&name, svc.requests.len());
            }
        }
    }
}

/// Runs `broker` on `sock` (a bound ROUTER with `ROUTER_MANDATORY`: a green
/// libzmq [`Socket`](zgreen::zmq::Socket) or, with the `native` feature, a
/// native one) until an error or a kill.
pub fn serve<S: BrokerSocket>(
    sock: &S,
    broker: &mut Broker,
    metrics: Option<&Metrics>,
) -> zgreen::Result<()> {
    serve_gated(sock, broker, metrics, &mut || true)
}

/// [`serve`], asking `admit` before each client request (a message with
/// the `MDPC01` header): a request it refuses is dropped without an
/// answer and counted as `reason="not_active"` (a passive Binary Star
/// broker: the client times out and fails over). Worker messages are
/// always handled, so a passive broker knows its workers.
pub fn serve_gated<S: BrokerSocket>(
    sock: &S,
    broker: &mut Broker,
    metrics: Option<&Metrics>,
    admit: &mut dyn FnMut() -> bool,
) -> zgreen::Result<()> {
    let limits = broker.config().limits;
    let (m_in, m_out) = match metrics {
        Some(m) => (Some(m.messages_in("router")), Some(m.messages_out("router"))),
        None => (None, None),
    };
    let mut out = Vec::new();
    loop {
        let now = Instant::now();
        if now >= broker.next_tick() {
            broker.tick(now, &mut out);
        }
        flush(sock, broker, &mut out, m_out.as_ref())?;
        let wait = broker.next_tick().saturating_duration_since(Instant::now());
        let Some(inbound) = sock.recv_bounded(&limits, Some(wait))? else {
            continue;
        };
        if let Some(c) = &m_in {
            c.inc();
        }
        let is_client = inbound.frames.get(2).is_some_and(|h| h == mdp::CLIENT_HEADER);
        if inbound.error.is_none() && is_client && !admit() {
            if let Some(m) = metrics {
                m.dropped("not_active");
            }
            tracing::debug!(client = %peer_hex(inbound.peer()), "not active: client request dropped");
            continue;
        }
        match &inbound.error {
            Some(e) => broker.drop_malformed(inbound.peer(), e, &mut out),
            None if broker.refuse_registration(&inbound.frames, inbound.user_id.as_deref(), &mut out) => {}
            None => broker.handle(Instant::now(), &inbound.frames, &mut out),
        }
    }
}

fn flush<S: BrokerSocket>(
    sock: &S,
    broker: &mut Broker,
    out: &mut Vec<Frames>,
    counter: Option<&prometheus_client::metrics::counter::Counter>,
) -> zgreen::Result<()> {
    while !out.is_empty() {
        let batch = std::mem::take(out);
        for frames in batch {
            match sock.send_nowait(frames)? {
                Ok(()) => {
                    if let Some(c) = counter {
                        c.inc();
                    }
                }
                Err(SendFailure::Unroutable(frames)) => broker.undeliverable(frames, out),
                Err(SendFailure::Full(frames)) => {
                    // A worker that cannot take a request is as good as
                    // gone: requeue it elsewhere. Anything else is dropped
                    // (a client will retry).
                    if mdp::is_request_to_worker(&frames) {
                        broker.undeliverable(frames, out);
                    } else {
                        tracing::debug!(peer = %peer_hex(&frames[0]), "peer queue full: message dropped");
                    }
                }
            }
        }
    }
    Ok(())
}
