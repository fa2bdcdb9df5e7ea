//! The 9/TSP client ([`TitanicClient`]) and the load generator behind
//! `zclient titanic`.
//!
//! Each request of the load goes through the whole protocol:
//! `titanic.request` until a `200 | uuid` (or a `500` refusal), then
//! `titanic.reply` every `poll` until `200 | reply`, then `titanic.close`
//! until `200`. Every call is retried on a fresh socket after a timeout
//! (the titanic process may be down, or restarting). The checks:
//!
//! - **lost**: a request whose uuid the client got, but whose reply it
//!   never got (a `400 unknown` for it, or no answer within
//!   `reply_timeout`);
//! - **mismatched**: a `200` whose body is not the request's echo;
//! - **reappeared** (with `check_closed`): after the run, every closed
//!   uuid is asked for again and must be `400` (a close is durable);
//! - **refused**: `500` answers to `titanic.request` (not stored, with
//!   the reason), and **unacknowledged**: requests that never got any
//!   answer to `titanic.request` after all retries.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::service::{CLOSE, OK, PENDING, REPLY, REQUEST, UNKNOWN};
use crate::frames::Frames;
use crate::mdp_client::MdpClient;

/// What `titanic.reply` said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// `200`: the reply body.
    Reply(Frames),
    /// `300`: pending.
    Pending,
    /// `400`: unknown (or closed).
    Unknown,
    /// Anything else: the status and its text.
    Other(String),
}

/// A 9/TSP client over an [`MdpClient`].
#[derive(Debug)]
pub struct TitanicClient {
    mdp: MdpClient,
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// Retries of one call (each on a fresh socket).
    pub retries: u32,
    /// Resends so far.
    pub retried: u64,
}

fn text(frames: &[Vec<u8>]) -> String {
    frames
        .iter()
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

impl TitanicClient {
    /// A client of the titanic services behind `mdp`.
    pub fn new(mdp: MdpClient, timeout: Duration, retries: u32) -> TitanicClient {
        TitanicClient {
            mdp,
            timeout,
            retries,
            retried: 0,
        }
    }

    fn call(&mut self, service: &str, body: &[Vec<u8>]) -> zgreen::Result<Option<Frames>> {
        self.mdp.call(
            service.as_bytes(),
            body,
            self.timeout,
            self.retries,
            &mut self.retried,
        )
    }

    /// Stores a request for `service`: `Ok(Some(Ok(uuid)))`, a refusal
    /// with its reason, or `Ok(None)` when titanic never answered.
    pub fn request(
        &mut self,
        service: &[u8],
        body: &[Vec<u8>],
    ) -> zgreen::Result<Option<Result<String, String>>> {
        let mut frames = vec![service.to_vec()];
        frames.extend(body.iter().cloned());
        Ok(self.call(REQUEST, &frames)?.map(|r| match r.split_first() {
            Some((status, rest)) if status == OK && rest.len() == 1 => Ok(text(rest)),
            _ => Err(text(&r)),
        }))
    }

    /// Asks for the reply of `uuid`; `Ok(None)` when titanic never answered.
    pub fn reply(&mut self, uuid: &str) -> zgreen::Result<Option<Answer>> {
        Ok(self
            .call(REPLY, &[uuid.as_bytes().to_vec()])?
            .map(|r| match r.split_first() {
                Some((status, rest)) if status == OK => Answer::Reply(rest.to_vec()),
                Some((status, [])) if status == PENDING => Answer::Pending,
                Some((status, [])) if status == UNKNOWN => Answer::Unknown,
                _ => Answer::Other(text(&r)),
            }))
    }

    /// Closes `uuid`: `Ok(Some(Ok(())))` on `200`, the answer's text
    /// otherwise; `Ok(None)` when titanic never answered.
    pub fn close(&mut self, uuid: &str) -> zgreen::Result<Option<Result<(), String>>> {
        Ok(self
            .call(CLOSE, &[uuid.as_bytes().to_vec()])?
            .map(|r| match r.first() {
                Some(status) if status == OK => Ok(()),
                _ => Err(text(&r)),
            }))
    }
}

/// How a titanic load is shaped.
#[derive(Clone, Debug)]
pub struct TitanicLoad {
    /// Requests in total.
    pub count: u64,
    /// Green clients, one request in flight each.
    pub concurrency: usize,
    /// Payload bytes per request.
    pub size: usize,
    /// The service the stored requests go to.
    pub service: Vec<u8>,
    /// Pause between two `titanic.reply` polls of a pending request.
    pub poll: Duration,
    /// Give a request up (lost) when its reply has not come this long
    /// after it was acknowledged.
    pub reply_timeout: Duration,
    /// After the run, ask for every closed uuid again (must be `400`).
    pub check_closed: bool,
    /// Only store the requests (`titanic.request`): no reply, no close.
    /// Measures the journal; the requests stay stored.
    pub store_only: bool,
}

/// Counters of one load.
#[derive(Debug, Default)]
pub struct TitanicStats {
    sent: Cell<u64>,
    acknowledged: Cell<u64>,
    refused: Cell<u64>,
    unacknowledged: Cell<u64>,
    received: Cell<u64>,
    lost: Cell<u64>,
    mismatched: Cell<u64>,
    closed: Cell<u64>,
    reappeared: Cell<u64>,
    retries: Cell<u64>,
    polls: Cell<u64>,
    latencies_us: RefCell<Vec<u64>>,
    first_refusal: RefCell<Option<String>>,
    closed_ids: RefCell<Vec<String>>,
    last_recovered_unix_ms: Cell<u64>,
    next_seq: Cell<u64>,
}

/// The end-of-run report of `zclient titanic` (one JSON object).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TitanicSummary {
    /// Distinct requests started.
    pub sent: u64,
    /// Requests answered `200 | uuid`.
    pub acknowledged: u64,
    /// Requests answered `500` (not stored).
    pub refused: u64,
    /// Requests `titanic.request` never answered.
    pub unacknowledged: u64,
    /// Acknowledged requests whose reply came (and matched).
    pub received: u64,
    /// Acknowledged requests whose reply never came.
    pub lost: u64,
    /// Replies that were not the request's echo.
    pub mismatched: u64,
    /// Requests closed.
    pub closed: u64,
    /// Closed uuids that were not `400` afterwards (`check_closed`).
    pub reappeared: u64,
    /// Resends after timeouts.
    pub retries: u64,
    /// `titanic.reply` calls answered `300`.
    pub polls: u64,
    /// The first refusal's reason.
    pub refusal: Option<String>,
    /// Wall time, seconds.
    pub elapsed_s: f64,
    /// Requests answered per second (a whole cycle: stored, answered,
    /// closed); with `store_only`, requests stored per second.
    pub throughput_per_s: f64,
    /// Median time from `titanic.request` to the reply (with
    /// `store_only`: to the `200 | uuid`), ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Largest, ms.
    pub max_ms: f64,
    /// Wall-clock ms of the last reply to a request that needed a retry.
    pub last_recovered_unix_ms: u64,
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

impl TitanicStats {
    /// The summary after `elapsed` (`store_only`: the throughput counts
    /// stored requests).
    pub fn summary(&self, elapsed: Duration, store_only: bool) -> TitanicSummary {
        let done = if store_only {
            self.acknowledged.get()
        } else {
            self.received.get()
        };
        let mut lat = self.latencies_us.borrow().clone();
        lat.sort_unstable();
        let pct = |p: f64| {
            if lat.is_empty() {
                0.0
            } else {
                lat[((lat.len() as f64 - 1.0) * p).round() as usize] as f64 / 1000.0
            }
        };
        let secs = elapsed.as_secs_f64();
        TitanicSummary {
            sent: self.sent.get(),
            acknowledged: self.acknowledged.get(),
            refused: self.refused.get(),
            unacknowledged: self.unacknowledged.get(),
            received: self.received.get(),
            lost: self.lost.get(),
            mismatched: self.mismatched.get(),
            closed: self.closed.get(),
            reappeared: self.reappeared.get(),
            retries: self.retries.get(),
            polls: self.polls.get(),
            refusal: self.first_refusal.borrow().clone(),
            elapsed_s: secs,
            throughput_per_s: if secs > 0.0 { done as f64 / secs } else { 0.0 },
            p50_ms: pct(0.5),
            p99_ms: pct(0.99),
            max_ms: lat.last().map_or(0.0, |&v| v as f64 / 1000.0),
            last_recovered_unix_ms: self.last_recovered_unix_ms.get(),
        }
    }
}

impl TitanicSummary {
    /// True when nothing acknowledged was lost, mismatched or came back
    /// after its close, and every request got an answer (a refusal
    /// counts as one only with `allow_refused`).
    pub fn ok(&self, allow_refused: bool) -> bool {
        self.lost == 0
            && self.mismatched == 0
            && self.reappeared == 0
            && self.unacknowledged == 0
            && (allow_refused || self.refused == 0)
    }
}

/// Runs one green client of the load until `count` is reached.
fn run_one(index: u32, mut c: TitanicClient, cfg: &TitanicLoad, stats: &TitanicStats) -> zgreen::Result<()> {
    loop {
        let seq = stats.next_seq.get();
        if seq >= cfg.count {
            break;
        }
        stats.next_seq.set(seq + 1);
        bump(&stats.sent);
        let body = crate::load::request_body(index, seq, cfg.size);
        let started = Instant::now();
        let retried_before = c.retried;
        let uuid = match c.request(&cfg.service, &body)? {
            Some(Ok(uuid)) => uuid,
            Some(Err(why)) => {
                bump(&stats.refused);
                stats.first_refusal.borrow_mut().get_or_insert(why);
                continue;
            }
            None => {
                bump(&stats.unacknowledged);
                tracing::warn!(client = index, seq, "titanic.request never answered");
                continue;
            }
        };
        bump(&stats.acknowledged);
        if cfg.store_only {
            stats
                .latencies_us
                .borrow_mut()
                .push(started.elapsed().as_micros() as u64);
            continue;
        }
        let acked = Instant::now();
        let got = loop {
            if acked.elapsed() > cfg.reply_timeout {
                break None;
            }
            match c.reply(&uuid)? {
                Some(Answer::Reply(reply)) => break Some(reply),
                Some(Answer::Pending) => {
                    bump(&stats.polls);
                    zgreen::sleep(cfg.poll)?;
                }
                Some(Answer::Unknown) => {
                    tracing::warn!(client = index, seq, %uuid, "titanic forgot an acknowledged request (400)");
                    break None;
                }
                Some(Answer::Other(t)) => {
                    tracing::warn!(client = index, seq, %uuid, "titanic.reply answered {t:?}");
                    zgreen::sleep(cfg.poll)?;
                }
                None => {}
            }
        };
        let Some(reply) = got else {
            bump(&stats.lost);
            tracing::warn!(client = index, seq, %uuid, "reply lost");
            continue;
        };
        if reply == body {
            bump(&stats.received);
            stats
                .latencies_us
                .borrow_mut()
                .push(started.elapsed().as_micros() as u64);
            if c.retried > retried_before {
                stats.last_recovered_unix_ms.set(unix_ms());
            }
        } else {
            bump(&stats.mismatched);
            tracing::warn!(client = index, seq, %uuid, "the reply is not the request's echo");
        }
        loop {
            match c.close(&uuid)? {
                Some(Ok(())) => break,
                Some(Err(t)) => {
                    tracing::warn!(%uuid, "titanic.close answered {t:?}: retrying");
                    zgreen::sleep(cfg.poll)?;
                }
                None => {}
            }
        }
        bump(&stats.closed);
        if cfg.check_closed {
            stats.closed_ids.borrow_mut().push(uuid);
        }
    }
    stats.retries.set(stats.retries.get() + c.retried);
    Ok(())
}

/// Runs a whole load: `make(i)` opens client `i`. With
/// `check_closed`, then asks for every closed uuid again.
pub fn run(
    cfg: &TitanicLoad,
    make: impl Fn(u32) -> zgreen::Result<TitanicClient>,
    stats: Rc<TitanicStats>,
) -> zgreen::Result<()> {
    let mut gs = Vec::new();
    for i in 0..cfg.concurrency.max(1) {
        let c = make(i as u32)?;
        let (cfg, stats) = (cfg.clone(), stats.clone());
        gs.push(zgreen::spawn(move || run_one(i as u32, c, &cfg, &stats)));
    }
    let _guard = crate::load::KillOnDrop(gs.iter().map(|g| g.any()).collect());
    for g in &gs {
        g.join()?;
        g.take()??;
    }
    if cfg.check_closed {
        let ids = std::mem::take(&mut *stats.closed_ids.borrow_mut());
        let mut c = make(u32::MAX)?;
        for uuid in ids {
            match c.reply(&uuid)? {
                Some(Answer::Unknown) => {}
                other => {
                    bump(&stats.reappeared);
                    tracing::warn!(%uuid, "a closed request answered {other:?}");
                }
            }
        }
        stats.retries.set(stats.retries.get() + c.retried);
    }
    Ok(())
}
