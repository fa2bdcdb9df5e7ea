//! Prometheus metrics and the HTTP endpoint that serves them
//! (`--metrics ADDR`), a [`zgreen::http`] server on the program's hub.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zgreen::http::{HttpServer, Limits, Request, Response, Router};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

type Labels = Vec<(String, String)>;

/// The workers whose expiry (`expiry(worker)`) passed by `now`, each one
/// reported as every broker does: logged, counted in `expired` and in
/// [`Metrics::workers_expired`]. The caller forgets them.
pub(crate) fn expired_workers<W>(
    workers: &HashMap<Vec<u8>, W>,
    expiry: impl Fn(&W) -> Instant,
    now: Instant,
    expired: &mut u64,
    metrics: Option<&Metrics>,
) -> Vec<Vec<u8>> {
    let dead: Vec<Vec<u8>> = workers
        .iter()
        .filter(|(_, w)| expiry(w) < now)
        .map(|(id, _)| id.clone())
        .collect();
    for id in &dead {
        tracing::warn!(worker = %crate::frames::peer_hex(id), "worker expired (no heartbeat)");
        *expired += 1;
        if let Some(m) = metrics {
            m.workers_expired.inc();
        }
    }
    dead
}

/// The metrics every broker, worker and client may report.
///
/// Counters are atomics: cache the handle returned by
/// [`messages_in`](Self::messages_in) and friends in hot loops.
#[derive(Debug)]
pub struct Metrics {
    registry: Mutex<Registry>,
    messages_in: Family<Labels, Counter>,
    messages_out: Family<Labels, Counter>,
    dropped: Family<Labels, Counter>,
    workers: Family<Labels, Gauge>,
    queue_depth: Family<Labels, Gauge>,
    handshake_failures: Family<Labels, Counter>,
    bstar_state: Family<Labels, Gauge>,
    /// Requests that expired in a queue before any worker took them.
    pub requests_expired: Counter,
    /// Requests refused because their service's queue was full.
    pub requests_rejected: Counter,
    /// Workers dropped for missing heartbeats.
    pub workers_expired: Counter,
}

impl Metrics {
    /// A fresh registry with every metric registered, names prefixed with
    /// `zgreen_`.
    pub fn new() -> Arc<Metrics> {
        let mut registry = Registry::with_prefix("zgreen");
        let messages_in = Family::<Labels, Counter>::default();
        let messages_out = Family::<Labels, Counter>::default();
        let dropped = Family::<Labels, Counter>::default();
        let workers = Family::<Labels, Gauge>::default();
        let queue_depth = Family::<Labels, Gauge>::default();
        let handshake_failures = Family::<Labels, Counter>::default();
        let bstar_state = Family::<Labels, Gauge>::default();
        let requests_expired = Counter::default();
        let requests_rejected = Counter::default();
        let workers_expired = Counter::default();
        registry.register(
            "messages_in",
            "Messages received, per socket",
            messages_in.clone(),
        );
        registry.register("messages_out", "Messages sent, per socket", messages_out.clone());
        registry.register(
            "dropped_messages",
            "Malformed or unexpected messages dropped, per reason",
            dropped.clone(),
        );
        registry.register("live_workers", "Live workers, per service", workers.clone());
        registry.register("queue_depth", "Queued requests, per service", queue_depth.clone());
        registry.register(
            "handshake_failures",
            "Failed security handshakes, per socket and reason",
            handshake_failures.clone(),
        );
        registry.register(
            "bstar_state",
            "Binary Star state of this broker: 1 for the current one, 0 for the others",
            bstar_state.clone(),
        );
        registry.register(
            "requests_expired",
            "Requests that expired before a worker took them",
            requests_expired.clone(),
        );
        registry.register(
            "requests_rejected",
            "Requests refused because the service queue was full",
            requests_rejected.clone(),
        );
        registry.register(
            "workers_expired",
            "Workers dropped after missing heartbeats",
            workers_expired.clone(),
        );
        Arc::new(Metrics {
            registry: Mutex::new(registry),
            messages_in,
            messages_out,
            dropped,
            workers,
            queue_depth,
            handshake_failures,
            bstar_state,
            requests_expired,
            requests_rejected,
            workers_expired,
        })
    }

    /// The messages-in counter of `socket`.
    pub fn messages_in(&self, socket: &str) -> Counter {
        self.messages_in
            .get_or_create(&vec![("socket".into(), socket.into())])
            .clone()
    }

    /// The messages-out counter of `socket`.
    pub fn messages_out(&self, socket: &str) -> Counter {
        self.messages_out
            .get_or_create(&vec![("socket".into(), socket.into())])
            .clone()
    }

    /// Counts one dropped message.
    pub fn dropped(&self, reason: &str) {
        self.dropped
            .get_or_create(&vec![("reason".into(), reason.into())])
            .inc();
    }

    /// Counts one failed handshake on `socket` for `reason` (a
    /// [`HandshakeFailure::label`](zgreen::zmq::handshake::HandshakeFailure::label)).
    pub fn handshake_failed(&self, socket: &str, reason: &str) {
        self.handshake_failures
            .get_or_create(&vec![
                ("socket".into(), socket.into()),
                ("reason".into(), reason.into()),
            ])
            .inc();
    }

    /// Sets the Binary Star gauge of `state` (1 when it is the current one).
    pub fn set_bstar_state(&self, state: &str, current: bool) {
        self.bstar_state
            .get_or_create(&vec![("state".into(), state.into())])
            .set(i64::from(current));
    }

    /// Sets the live worker count of `service`.
    pub fn set_workers(&self, service: &str, n: usize) {
        self.workers
            .get_or_create(&vec![("service".into(), service.into())])
            .set(n as i64);
    }

    /// Sets the queue depth of `service`.
    pub fn set_queue_depth(&self, service: &str, n: usize) {
        self.queue_depth
            .get_or_create(&vec![("service".into(), service.into())])
            .set(n as i64);
    }

    /// The metrics in Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        let _ = encode(&mut out, &registry);
        out
    }

    /// Binds `addr` now (so a bad address fails at start) and serves the
    /// metrics over HTTP from a greenlet on the calling thread's hub (a
    /// [`zgreen::http::HttpServer`] with [`limits`] and at most
    /// [`MAX_CONNECTIONS`] connections): `GET /metrics` (and `HEAD`) is
    /// answered with [`render`](Self::render) as [`CONTENT_TYPE`], another
    /// method on `/metrics` with `405`, any other path with `404`.
    ///
    /// The server runs whenever the hub does, that is while the program's
    /// greenlets wait on sockets, timers or joins; it keeps running after
    /// the returned handle is dropped (stop it with
    /// [`HttpServer::stop`]). A program that blocks its thread outside the
    /// hub (as `zworker --hang-after` does on purpose) stops answering.
    pub fn serve(self: &Arc<Self>, addr: &str) -> zgreen::Result<HttpServer> {
        let me = Arc::clone(self);
        let router = Router::new().get("/metrics", move |_: &Request| {
            Response::bytes(CONTENT_TYPE, me.render())
        });
        let server = HttpServer::bind(addr, router)?
            .limits(limits())
            .max_connections(MAX_CONNECTIONS);
        server.start()?;
        Ok(server)
    }
}

/// The content type of `GET /metrics`: what `prometheus_client`'s text
/// encoder writes is OpenMetrics 1.0 text (ending in `# EOF`).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Most metrics connections served at once; further ones wait in the
/// listen backlog until one closes (so an idle or slow client holds a slot
/// for at most [`limits`]'s timeouts).
pub const MAX_CONNECTIONS: usize = 16;

/// The limits of the metrics server: scrapers send a short head and no
/// body, so heads are capped at 8 KiB and 32 fields, bodies at 1 KiB
/// (64 KiB for all of them together); a
/// new connection must send its first byte within 5 s and each head must
/// be complete 5 s after its first byte, an idle kept-alive connection is
/// closed after 15 s, and a client that stops reading its response is
/// dropped after 10 s.
pub fn limits() -> Limits {
    Limits {
        max_header_bytes: 8 * 1024,
        max_headers: 32,
        max_body_bytes: 1024,
        max_body_bytes_in_flight: 64 * 1024,
        header_timeout: Duration::from_secs(5),
        body_timeout: Duration::from_secs(5),
        keep_alive_timeout: Duration::from_secs(15),
        write_timeout: Duration::from_secs(10),
        max_connections_per_ip: None,
    }
}
