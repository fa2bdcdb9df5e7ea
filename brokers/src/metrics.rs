//! Prometheus metrics and the tiny HTTP responder that serves them
//! (`--metrics ADDR`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

type Labels = Vec<(String, String)>;

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
    /// metrics to any HTTP GET from an OS thread.
    pub fn serve(self: &Arc<Self>, addr: &str) -> std::io::Result<std::net::SocketAddr> {
        let listener = TcpListener::bind(addr)?;
        let local = listener.local_addr()?;
        let me = Arc::clone(self);
        std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || {
                for conn in listener.incoming().flatten() {
                    let _ = respond(conn, &me);
                }
            })?;
        Ok(local)
    }
}

fn respond(mut conn: TcpStream, metrics: &Metrics) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(2)))?;
    conn.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut buf = [0u8; 4096];
    let mut seen = Vec::new();
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") && seen.len() < 16384 {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            break;
        }
        seen.extend_from_slice(&buf[..n]);
    }
    let body = metrics.render();
    write!(
        conn,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        body
    )
}
