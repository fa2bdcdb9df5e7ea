//! The request/reply load generator behind `zclient req|lazy|mdp`:
//! `concurrency` green clients, one request in flight each, every request
//! sequence-numbered, retried on timeout on a fresh socket (Lazy Pirate),
//! and a summary with latency percentiles.

use std::cell::{Cell, RefCell};
use std::io::{IsTerminal, Write};
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use zgreen::zmq::{Context, Socket};

use crate::frames::{Frames, Limits, Malformed};

/// How a load run is shaped.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// Requests to send in total.
    pub count: u64,
    /// Green clients, each with its own socket and one request in flight.
    pub concurrency: usize,
    /// Payload bytes per request (besides the 8-byte sequence frame).
    pub size: usize,
    /// How long to wait for each reply.
    pub timeout: Duration,
    /// Retries (on a fresh socket) before a request counts as lost.
    pub retries: u32,
    /// Pause between two requests of one client.
    pub interval: Duration,
    /// Progress report period (`None`: no progress).
    pub progress: Option<Duration>,
    /// Progress as JSON lines instead of a human line.
    pub progress_json: bool,
    /// Reply limits.
    pub limits: Limits,
}

/// One client's connection, as the load generator sees it.
pub trait Transport {
    /// Sends the request body frames.
    fn send(&mut self, body: &[Vec<u8>]) -> zgreen::Result<()>;
    /// Waits at most `timeout` for a reply; returns its body frames,
    /// `Ok(None)` on timeout, or a malformed reply.
    fn recv(&mut self, timeout: Duration) -> zgreen::Result<Option<Result<Frames, Malformed>>>;
    /// Drops the socket and opens a new one (after a timeout).
    fn reset(&mut self) -> zgreen::Result<()>;
}

fn recv_frames(sock: &Socket, timeout: Duration) -> zgreen::Result<Option<Frames>> {
    match sock.recv_multipart_timeout(0, timeout) {
        Ok(f) => Ok(Some(f)),
        Err(zgreen::Error::Timeout(t)) if t.id == 0 => Ok(None),
        Err(zgreen::Error::NeedsReset(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// An MDP client on a DEALER socket (it sends the empty delimiter). The
/// endpoint may be a comma-separated list (a Binary Star pair): each
/// reset after a timeout moves to the next one.
#[derive(Debug)]
pub struct MdpTransport {
    client: crate::mdp_client::MdpClient,
    service: Vec<u8>,
}

impl MdpTransport {
    /// Connects to the broker at `endpoint` (the first of a list).
    pub fn new(
        ctx: &Context,
        endpoint: &str,
        service: &[u8],
        linger_ms: u64,
        limits: Limits,
    ) -> zgreen::Result<Self> {
        let endpoints = crate::mdp_client::endpoints(endpoint);
        Ok(MdpTransport {
            client: crate::mdp_client::MdpClient::new(ctx, &endpoints, linger_ms, limits)?,
            service: service.to_vec(),
        })
    }
}

fn open(ctx: &Context, kind: zmq::SocketType, endpoint: &str, linger_ms: u64) -> zgreen::Result<Socket> {
    let s = crate::cli::socket(ctx, kind, linger_ms)?;
    s.connect(endpoint)?;
    Ok(s)
}

impl Transport for MdpTransport {
    fn send(&mut self, body: &[Vec<u8>]) -> zgreen::Result<()> {
        self.client.send(&self.service, body)
    }

    fn recv(&mut self, timeout: Duration) -> zgreen::Result<Option<Result<Frames, Malformed>>> {
        Ok(self.client.recv(timeout)?.map(|r| r.map(|r| r.body)))
    }

    fn reset(&mut self) -> zgreen::Result<()> {
        self.client.reset()
    }
}

/// A freelance MDP client ([`Freelance`](crate::mdp_client::Freelance)):
/// each request goes to every live broker of the list, the first reply
/// wins, the others come back as late replies.
#[derive(Debug)]
pub struct FreelanceTransport {
    client: crate::mdp_client::Freelance,
    service: Vec<u8>,
}

impl FreelanceTransport {
    /// Connects to every broker of the comma-separated `endpoints`.
    pub fn new(
        ctx: &Context,
        endpoints: &str,
        service: &[u8],
        linger_ms: u64,
        limits: Limits,
    ) -> zgreen::Result<Self> {
        let list = crate::mdp_client::endpoints(endpoints);
        Ok(FreelanceTransport {
            client: crate::mdp_client::Freelance::new(ctx, &list, linger_ms, limits)?,
            service: service.to_vec(),
        })
    }
}

impl Transport for FreelanceTransport {
    fn send(&mut self, body: &[Vec<u8>]) -> zgreen::Result<()> {
        self.client.send(&self.service, body)
    }

    fn recv(&mut self, timeout: Duration) -> zgreen::Result<Option<Result<Frames, Malformed>>> {
        Ok(self.client.recv(timeout)?.map(|r| r.map(|r| r.body)))
    }

    fn reset(&mut self) -> zgreen::Result<()> {
        self.client.reset()
    }
}

/// A REQ client (Lazy Pirate: a fresh REQ after each timeout).
#[derive(Debug)]
pub struct ReqTransport {
    ctx: Context,
    endpoint: String,
    linger_ms: u64,
    limits: Limits,
    sock: Socket,
}

impl ReqTransport {
    /// Connects to the server, queue or broker at `endpoint`.
    pub fn new(ctx: &Context, endpoint: &str, linger_ms: u64, limits: Limits) -> zgreen::Result<Self> {
        Ok(ReqTransport {
            ctx: ctx.clone(),
            endpoint: endpoint.to_string(),
            linger_ms,
            limits,
            sock: open(ctx, zmq::REQ, endpoint, linger_ms)?,
        })
    }
}

impl Transport for ReqTransport {
    fn send(&mut self, body: &[Vec<u8>]) -> zgreen::Result<()> {
        self.sock.send_multipart(body, 0)
    }

    fn recv(&mut self, timeout: Duration) -> zgreen::Result<Option<Result<Frames, Malformed>>> {
        Ok(recv_frames(&self.sock, timeout)?.map(|f| self.limits.check(&f).map(|_| f)))
    }

    fn reset(&mut self) -> zgreen::Result<()> {
        self.sock.set_linger(0)?;
        self.sock = open(&self.ctx, zmq::REQ, &self.endpoint, self.linger_ms)?;
        Ok(())
    }
}

/// Counters shared by the clients of one run.
#[derive(Debug, Default)]
pub struct Stats {
    /// Distinct requests started.
    pub sent: Cell<u64>,
    /// Requests answered (exactly once each).
    pub received: Cell<u64>,
    /// Requests given up after all retries.
    pub lost: Cell<u64>,
    /// Resends after a timeout.
    pub retries: Cell<u64>,
    /// Replies for an earlier request of the same client (late or
    /// duplicate): discarded.
    pub late: Cell<u64>,
    /// Replies that match no request of their client, or whose payload
    /// differs from the request's.
    pub mismatched: Cell<u64>,
    /// Malformed replies.
    pub malformed: Cell<u64>,
    /// Round-trip latencies in microseconds (retries included).
    pub latencies_us: RefCell<Vec<u64>>,
    /// Wall-clock time (ms since the epoch) of the last answer to a
    /// request that needed a retry.
    pub last_recovered_unix_ms: Cell<u64>,
    /// Wall-clock time of the first retry.
    pub first_retry_unix_ms: Cell<u64>,
    next_seq: Cell<u64>,
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn bump(c: &Cell<u64>) {
    c.set(c.get() + 1);
}

/// The end-of-run report.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Summary {
    /// Distinct requests started.
    pub sent: u64,
    /// Requests answered.
    pub received: u64,
    /// Requests lost after all retries.
    pub lost: u64,
    /// Resends after timeouts.
    pub retries: u64,
    /// Late or duplicate replies discarded.
    pub late: u64,
    /// Replies matching no request, or with a corrupted payload.
    pub mismatched: u64,
    /// Malformed replies.
    pub malformed: u64,
    /// Wall time of the run, seconds.
    pub elapsed_s: f64,
    /// Answered requests per second.
    pub throughput_per_s: f64,
    /// Median latency, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile latency, milliseconds.
    pub p99_ms: f64,
    /// Largest latency, milliseconds.
    pub max_ms: f64,
    /// Wall-clock ms of the first retry (0: none).
    pub first_retry_unix_ms: u64,
    /// Wall-clock ms of the last answer that needed a retry (0: none).
    pub last_recovered_unix_ms: u64,
}

impl Stats {
    /// The summary after `elapsed`.
    pub fn summary(&self, elapsed: Duration) -> Summary {
        let mut lat = self.latencies_us.borrow().clone();
        lat.sort_unstable();
        let pct = |p: f64| -> f64 {
            if lat.is_empty() {
                return 0.0;
            }
            let i = ((lat.len() as f64 - 1.0) * p).round() as usize;
            lat[i.min(lat.len() - 1)] as f64 / 1000.0
        };
        let secs = elapsed.as_secs_f64();
        Summary {
            sent: self.sent.get(),
            received: self.received.get(),
            lost: self.lost.get(),
            retries: self.retries.get(),
            late: self.late.get(),
            mismatched: self.mismatched.get(),
            malformed: self.malformed.get(),
            elapsed_s: secs,
            throughput_per_s: if secs > 0.0 {
                self.received.get() as f64 / secs
            } else {
                0.0
            },
            p50_ms: pct(0.50),
            p99_ms: pct(0.99),
            max_ms: lat.last().map_or(0.0, |&v| v as f64 / 1000.0),
            first_retry_unix_ms: self.first_retry_unix_ms.get(),
            last_recovered_unix_ms: self.last_recovered_unix_ms.get(),
        }
    }
}

impl Summary {
    /// The human-readable report.
    pub fn human(&self) -> String {
        format!(
            "sent {} received {} lost {} retries {} late {} mismatched {} malformed {}\n\
             elapsed {:.2} s, throughput {:.0} req/s, latency p50 {:.2} ms p99 {:.2} ms max {:.2} ms",
            self.sent,
            self.received,
            self.lost,
            self.retries,
            self.late,
            self.mismatched,
            self.malformed,
            self.elapsed_s,
            self.throughput_per_s,
            self.p50_ms,
            self.p99_ms,
            self.max_ms
        )
    }
}

/// The body of request `seq`: an 8-byte big-endian sequence frame, then
/// `size` payload bytes derived from it.
pub fn request_body(client: u32, seq: u64, size: usize) -> Frames {
    let mut id = Vec::with_capacity(12);
    id.extend_from_slice(&client.to_be_bytes());
    id.extend_from_slice(&seq.to_be_bytes());
    let payload = (0..size).map(|i| (seq as usize + i) as u8).collect();
    vec![id, payload]
}

/// Runs one client: takes sequence numbers from `stats` until `count`.
pub fn run_client<T: Transport>(
    index: u32,
    mut transport: T,
    cfg: &LoadConfig,
    stats: &Stats,
) -> zgreen::Result<()> {
    let mut first = true;
    loop {
        let seq = stats.next_seq.get();
        if seq >= cfg.count {
            return Ok(());
        }
        stats.next_seq.set(seq + 1);
        if !first && !cfg.interval.is_zero() {
            zgreen::sleep(cfg.interval)?;
        }
        first = false;
        bump(&stats.sent);
        let body = request_body(index, seq, cfg.size);
        let started = Instant::now();
        let mut attempt = 0u32;
        'attempts: loop {
            transport.send(&body)?;
            let deadline = Instant::now() + cfg.timeout;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match transport.recv(left)? {
                    Some(Ok(reply)) => {
                        if reply == body {
                            bump(&stats.received);
                            stats
                                .latencies_us
                                .borrow_mut()
                                .push(started.elapsed().as_micros() as u64);
                            if attempt > 0 {
                                stats.last_recovered_unix_ms.set(unix_ms());
                            }
                            break 'attempts;
                        }
                        let older = reply.first().is_some_and(|id| {
                            id.len() == 12
                                && id[..4] == index.to_be_bytes()
                                && u64::from_be_bytes(id[4..12].try_into().expect("8 bytes")) < seq
                        });
                        if older {
                            bump(&stats.late);
                        } else {
                            bump(&stats.mismatched);
                            tracing::warn!(seq, "reply matches no request of this client");
                        }
                    }
                    Some(Err(e)) => {
                        bump(&stats.malformed);
                        tracing::warn!("malformed reply: {e}");
                    }
                    None => break,
                }
            }
            // Timed out: Lazy Pirate.
            if attempt >= cfg.retries {
                bump(&stats.lost);
                tracing::warn!(client = index, seq, "request lost after {} retries", cfg.retries);
                transport.reset()?;
                break;
            }
            attempt += 1;
            bump(&stats.retries);
            if stats.first_retry_unix_ms.get() == 0 {
                stats.first_retry_unix_ms.set(unix_ms());
            }
            tracing::debug!(
                client = index,
                seq,
                attempt,
                "no reply: retrying on a fresh socket"
            );
            transport.reset()?;
        }
    }
}

/// Prints a progress report every `period` until killed.
pub fn progress(stats: Rc<Stats>, started: Instant, period: Duration, json: bool) -> zgreen::Result<()> {
    let tty = std::io::stderr().is_terminal();
    loop {
        zgreen::sleep(period)?;
        let t = started.elapsed().as_secs_f64();
        let received = stats.received.get();
        let line = if json {
            serde_json::json!({
                "progress": true,
                "t_s": t,
                "unix_ms": unix_ms(),
                "sent": stats.sent.get(),
                "received": received,
                "lost": stats.lost.get(),
                "retries": stats.retries.get(),
                "last_recovered_unix_ms": stats.last_recovered_unix_ms.get(),
            })
            .to_string()
        } else {
            format!(
                "[{t:6.1}s] sent {} received {} lost {} retries {} ({:.0} req/s)",
                stats.sent.get(),
                received,
                stats.lost.get(),
                stats.retries.get(),
                received as f64 / t.max(1e-9)
            )
        };
        let mut err = std::io::stderr().lock();
        let _ = if tty && !json {
            write!(err, "\r{line}\x1b[K")
        } else {
            writeln!(err, "{line}")
        };
        let _ = err.flush();
    }
}

/// Runs a whole load: `make(i)` opens client `i`'s transport. Returns the
/// shared stats (also when the run was killed half way) and the start.
pub fn run<T, F>(cfg: &LoadConfig, make: F, stats: Rc<Stats>) -> zgreen::Result<()>
where
    T: Transport + 'static,
    F: Fn(u32) -> zgreen::Result<T>,
{
    let started = Instant::now();
    let progress_g = cfg.progress.map(|p| {
        zgreen::spawn({
            let stats = stats.clone();
            let json = cfg.progress_json;
            move || progress(stats, started, p, json)
        })
    });
    let mut clients = Vec::new();
    for i in 0..cfg.concurrency.max(1) {
        let t = make(i as u32)?;
        let cfg = cfg.clone();
        let stats = stats.clone();
        clients.push(zgreen::spawn(move || run_client(i as u32, t, &cfg, &stats)));
    }
    let mut all: Vec<_> = clients.iter().map(|g| g.any()).collect();
    all.extend(progress_g.iter().map(|g| g.any()));
    let _guard = KillOnDrop(all);
    let mut result = Ok(());
    for c in &clients {
        c.join()?;
        if let Ok(Err(e)) = c.take() {
            if result.is_ok() {
                result = Err(e);
            }
        }
    }
    if cfg.progress.is_some() && !cfg.progress_json && std::io::stderr().is_terminal() {
        eprintln!();
    }
    result
}

/// Greenlets killed (without waiting) when this is dropped: helpers that
/// must not outlive the greenlet that started them.
#[derive(Debug)]
pub struct KillOnDrop(pub Vec<zgreen::AnyGreenlet>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for g in &self.0 {
            g.kill_nowait();
        }
    }
}
