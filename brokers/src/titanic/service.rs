//! The titanic process: the workers of `titanic.request`,
//! `titanic.reply` and `titanic.close`, and the dispatcher, all greenlets
//! on one hub around one [`Store`].
//!
//! Replies (first frame the status):
//!
//! | service | request body | reply |
//! |---|---|---|
//! | `titanic.request` | `service \| body…` | `200 \| uuid` stored; `400 \| reason` malformed; `500 \| reason` not stored (disk, limits) |
//! | `titanic.reply` | `uuid` | `200 \| reply…`; `300` pending; `400` unknown or closed (`400 \| reason` malformed) |
//! | `titanic.close` | `uuid` | `200` (also for an unknown id); `400 \| reason` malformed; `500 \| reason` not stored |
//!
//! A uuid is 32 lowercase hex digits. Malformed requests are counted in
//! `zgreen_dropped_messages_total{reason="titanic_malformed"}` and logged
//! (at most 10 lines a second); they never stop the process.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use uuid::Uuid;
use zgreen::zmq::Context;

use super::store::{Lookup, Store};
use crate::frames::{Frames, Limits};
use crate::metrics::Metrics;
use crate::workers::{self, Handler, Heartbeat, SocketSlot, WorkerConfig};

/// The service that stores requests.
pub const REQUEST: &str = "titanic.request";
/// The service that returns replies.
pub const REPLY: &str = "titanic.reply";
/// The service that forgets requests.
pub const CLOSE: &str = "titanic.close";
/// Prefix of the titanic services (a request for one of them is refused:
/// it would loop).
pub const PREFIX: &[u8] = b"titanic.";

/// Status: done.
pub const OK: &[u8] = b"200";
/// Status: stored, no reply yet.
pub const PENDING: &[u8] = b"300";
/// Status: unknown id, or a malformed request.
pub const UNKNOWN: &[u8] = b"400";
/// Status: not stored (disk error or a limit).
pub const FAILED: &[u8] = b"500";

/// How the titanic process runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// The MDP broker's endpoint, or a comma-separated list (a Binary
    /// Star pair): the workers register with every broker of the list,
    /// the dispatchers fail over between them.
    pub endpoint: String,
    /// Worker heartbeats towards the broker.
    pub heartbeat: Heartbeat,
    /// Inbound frame limits.
    pub limits: Limits,
    /// Socket LINGER.
    pub linger_ms: u64,
    /// `titanic.request` workers (requests stored at once: the group
    /// commit's width).
    pub request_workers: usize,
    /// Dispatcher greenlets (requests sent to services at once).
    pub dispatchers: usize,
    /// How long a dispatcher waits for a service's reply before it puts
    /// the request back in the queue and tries again later.
    pub dispatch_timeout: Duration,
}

/// Rate-limited warnings: at most 10 lines a second.
#[derive(Debug, Default)]
struct Warn {
    window: Cell<Option<Instant>>,
    left: Cell<u32>,
}

impl Warn {
    fn allow(&self) -> bool {
        let now = Instant::now();
        if self
            .window
            .get()
            .is_none_or(|w| now.duration_since(w) >= Duration::from_secs(1))
        {
            self.window.set(Some(now));
            self.left.set(10);
        }
        let left = self.left.get();
        self.left.set(left.saturating_sub(1));
        left > 0
    }
}

#[derive(Debug)]
struct Shared {
    store: Store,
    metrics: Option<Arc<Metrics>>,
    warn: Warn,
}

impl Shared {
    fn malformed(&self, service: &str, why: &str) -> Frames {
        if let Some(m) = &self.metrics {
            m.dropped("titanic_malformed");
        }
        if self.warn.allow() {
            tracing::warn!(service, "malformed titanic request: {why}");
        }
        vec![UNKNOWN.to_vec(), why.as_bytes().to_vec()]
    }

    fn failed(&self, what: &str, e: &dyn std::fmt::Display) -> Frames {
        if let Some(m) = &self.metrics {
            m.dropped("titanic_not_stored");
        }
        let why = e.to_string();
        if self.warn.allow() {
            tracing::warn!("{what} {why}");
        }
        vec![FAILED.to_vec(), why.into_bytes()]
    }

    fn uuid(&self, service: &str, body: &[Vec<u8>]) -> Result<Uuid, Frames> {
        let [id] = body else {
            return Err(self.malformed(
                service,
                &format!("expected one frame (a uuid), got {}", body.len()),
            ));
        };
        let parsed = std::str::from_utf8(id).ok().and_then(|s| Uuid::try_parse(s).ok());
        parsed.ok_or_else(|| self.malformed(service, &format!("not a uuid: {:?}", crate::frames::show(id))))
    }
}

/// The answer of `titanic.request` to `body` (`service | request…`).
fn on_request(s: &Shared, mut body: Frames) -> zgreen::Result<Frames> {
    if body.is_empty() {
        return Ok(s.malformed(REQUEST, "no service frame"));
    }
    let service = body.remove(0);
    if service.is_empty() || service.len() > 255 {
        return Ok(s.malformed(
            REQUEST,
            &format!("service name of {} bytes (1 to 255)", service.len()),
        ));
    }
    if service.starts_with(PREFIX) {
        return Ok(s.malformed(REQUEST, "a titanic.* service cannot be called through titanic"));
    }
    Ok(match s.store.request(service, body)? {
        Ok(uuid) => vec![OK.to_vec(), uuid.simple().to_string().into_bytes()],
        Err(e) => s.failed("request", &e),
    })
}

fn on_reply(s: &Shared, body: Frames) -> Frames {
    match s.uuid(REPLY, &body) {
        Err(answer) => answer,
        Ok(uuid) => match s.store.lookup(uuid) {
            Lookup::Reply(mut reply) => {
                reply.insert(0, OK.to_vec());
                reply
            }
            Lookup::Pending => vec![PENDING.to_vec()],
            Lookup::Unknown => vec![UNKNOWN.to_vec()],
        },
    }
}

fn on_close(s: &Shared, body: Frames) -> zgreen::Result<Frames> {
    Ok(match s.uuid(CLOSE, &body) {
        Err(answer) => answer,
        Ok(uuid) => match s.store.close(uuid)? {
            Ok(()) => vec![OK.to_vec()],
            Err(e) => s.failed("close", &e),
        },
    })
}

/// Runs the titanic process on `store` until killed: the committer, the
/// three services' workers and the dispatchers. `slots` collects the
/// workers' sockets so `main` can say DISCONNECT at shutdown.
pub fn run(
    ctx: &Context,
    cfg: &Config,
    store: Store,
    metrics: Option<Arc<Metrics>>,
    slots: &Rc<std::cell::RefCell<Vec<SocketSlot>>>,
) -> zgreen::Result<()> {
    let shared = Rc::new(Shared {
        store: store.clone(),
        metrics,
        warn: Warn::default(),
    });
    let endpoints = crate::mdp_client::endpoints(&cfg.endpoint);
    let mut gs: Vec<zgreen::Greenlet<zgreen::Result<()>>> = Vec::new();
    gs.push(zgreen::spawn({
        let store = store.clone();
        move || store.run_committer()
    }));
    // One worker per service and broker (and `request_workers` of
    // titanic.request per broker).
    let mut worker = |service: &'static str, handler: Handler| {
        for endpoint in &endpoints {
            let slot: SocketSlot = Default::default();
            slots.borrow_mut().push(slot.clone());
            let wcfg = WorkerConfig {
                endpoint: endpoint.clone(),
                knobs: Default::default(),
                limits: cfg.limits,
                linger_ms: cfg.linger_ms,
            };
            let (ctx, hb, handler) = (ctx.clone(), cfg.heartbeat.clone(), handler.clone());
            gs.push(zgreen::spawn(move || {
                workers::run_mdp_service(&ctx, &wcfg, &hb, service, &slot, Some(handler))
            }));
        }
    };
    for _ in 0..cfg.request_workers.max(1) {
        let s = shared.clone();
        worker(REQUEST, Rc::new(move |body| on_request(&s, body)));
    }
    let s = shared.clone();
    worker(REPLY, Rc::new(move |body| Ok(on_reply(&s, body))));
    let s = shared.clone();
    worker(CLOSE, Rc::new(move |body| on_close(&s, body)));
    for i in 0..cfg.dispatchers.max(1) {
        let (ctx, cfg, store) = (ctx.clone(), cfg.clone(), store.clone());
        gs.push(zgreen::spawn(move || dispatcher(i, &ctx, &cfg, &store)));
    }
    let _guard = crate::load::KillOnDrop(gs.iter().map(|g| g.any()).collect());
    // The greenlets loop until killed: the first one to end ends the
    // process, with its error.
    if let Some(first) = zgreen::iwait(gs.iter()).next() {
        first?.take()??;
    }
    Ok(())
}

/// Sends stored requests to their services and stores the replies. On a
/// timeout the request goes back to the queue and the dispatcher opens a
/// fresh socket to the next broker of the list.
fn dispatcher(index: usize, ctx: &Context, cfg: &Config, store: &Store) -> zgreen::Result<()> {
    let endpoints = crate::mdp_client::endpoints(&cfg.endpoint);
    let mut client = crate::mdp_client::MdpClient::new(ctx, &endpoints, cfg.linger_ms, cfg.limits)?;
    loop {
        let (uuid, service, body) = store.next_to_dispatch()?;
        client.send(&service, &body)?;
        let deadline = Instant::now() + cfg.dispatch_timeout;
        let reply = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match client.recv(left)? {
                None => break None,
                Some(Ok(r)) if r.service == service => break Some(r.body),
                Some(Ok(_)) => continue, // a stale reply of an earlier request
                Some(Err(e)) => {
                    tracing::warn!(dispatcher = index, "malformed reply from the broker dropped: {e}");
                }
            }
        };
        let Some(reply) = reply else {
            tracing::debug!(dispatcher = index, %uuid, service = %crate::frames::show(&service), "no reply in time: queued again");
            client.reset()?;
            store.redispatch(uuid);
            continue;
        };
        if let Err(e) = store.reply(uuid, reply)? {
            tracing::warn!(%uuid, "reply not stored, the request stays pending: {e}");
            zgreen::sleep(Duration::from_millis(500))?;
            store.redispatch(uuid);
        }
    }
}
