//! A 7/MDP client on a DEALER with Lazy Pirate retries and failover
//! between several brokers (a Binary Star pair: `tcp://a:5555,tcp://b:5555`).
//!
//! Each retry opens a fresh socket on the *next* endpoint of the list, so
//! a reply of an abandoned attempt is never taken for the answer to a
//! newer one, and a client whose broker died reaches the other one after
//! one timeout.

use std::time::{Duration, Instant};

use zgreen::zmq::{Context, Socket};

use crate::frames::{Frames, Limits, Malformed};
use crate::mdp;

/// The endpoints of a comma-separated list (`"tcp://a:1,tcp://b:2"`),
/// trimmed, empty entries skipped.
pub fn endpoints(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// An MDP client connected to one endpoint of a list at a time.
#[derive(Debug)]
pub struct MdpClient {
    ctx: Context,
    endpoints: Vec<String>,
    current: usize,
    linger_ms: u64,
    limits: Limits,
    sock: Socket,
}

impl MdpClient {
    /// Connects to the first of `endpoints` (at least one).
    pub fn new(
        ctx: &Context,
        endpoints: &[String],
        linger_ms: u64,
        limits: Limits,
    ) -> zgreen::Result<MdpClient> {
        let endpoints = if endpoints.is_empty() {
            vec![String::new()]
        } else {
            endpoints.to_vec()
        };
        let sock = open(ctx, &endpoints[0], linger_ms)?;
        Ok(MdpClient {
            ctx: ctx.clone(),
            endpoints,
            current: 0,
            linger_ms,
            limits,
            sock,
        })
    }

    /// The endpoint in use.
    pub fn endpoint(&self) -> &str {
        &self.endpoints[self.current]
    }

    /// Sends a request for `service`.
    pub fn send(&self, service: &[u8], body: &[Vec<u8>]) -> zgreen::Result<()> {
        self.sock.send_multipart(mdp::client_request(service, body), 0)
    }

    /// Waits at most `timeout` for a reply: its service and body,
    /// `Ok(None)` on timeout, or a malformed reply.
    pub fn recv(&self, timeout: Duration) -> zgreen::Result<Option<Result<mdp::ClientReply, Malformed>>> {
        match self.sock.recv_multipart_timeout(0, timeout) {
            Ok(f) => Ok(Some(mdp::parse_client_reply(&f, &self.limits))),
            Err(zgreen::Error::Timeout(t)) if t.id == 0 => Ok(None),
            Err(zgreen::Error::NeedsReset(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Drops the socket and connects a fresh one to the next endpoint.
    pub fn reset(&mut self) -> zgreen::Result<()> {
        self.sock.set_linger(0)?;
        let next = (self.current + 1) % self.endpoints.len();
        if next != self.current {
            tracing::debug!(from = %self.endpoints[self.current], to = %self.endpoints[next], "failing over");
        }
        self.current = next;
        self.sock = open(&self.ctx, &self.endpoints[self.current], self.linger_ms)?;
        Ok(())
    }

    /// One call: sends, waits `timeout` for the reply of `service`, and on
    /// a timeout resets (next endpoint) and sends again, `retries` times.
    /// `Ok(None)` when every attempt timed out; `retried` counts resends.
    pub fn call(
        &mut self,
        service: &[u8],
        body: &[Vec<u8>],
        timeout: Duration,
        retries: u32,
        retried: &mut u64,
    ) -> zgreen::Result<Option<Frames>> {
        for attempt in 0..=retries {
            if attempt > 0 {
                *retried += 1;
                self.reset()?;
            }
            self.send(service, body)?;
            let deadline = Instant::now() + timeout;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match self.recv(left)? {
                    None => break,
                    Some(Ok(r)) if r.service == service => return Ok(Some(r.body)),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => tracing::warn!("malformed reply dropped: {e}"),
                }
            }
        }
        Ok(None)
    }
}

fn open(ctx: &Context, endpoint: &str, linger_ms: u64) -> zgreen::Result<Socket> {
    let s = crate::cli::socket(ctx, zmq::DEALER, linger_ms)?;
    s.connect(endpoint)?;
    Ok(s)
}

/// Consecutive unanswered requests after which a [`Freelance`] client
/// skips a broker.
pub const DEAD_AFTER: u32 = 3;
/// How long a skipped broker is left alone before it gets one request
/// again (a probe).
pub const DEAD_FOR: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct FlPeer {
    endpoint: String,
    sock: Socket,
    /// Requests sent since its last reply.
    misses: u32,
    dead_until: Option<Instant>,
}

/// A freelance client in the spirit of 10/FLP: one DEALER per broker,
/// every request sent to every live one at once, the first reply wins
/// (the later ones come back as late replies of an earlier request and
/// are discarded by the caller, which matches replies to requests). A
/// broker that left [`DEAD_AFTER`] requests unanswered is skipped for
/// [`DEAD_FOR`], then probed with the next request.
///
/// The price: a request runs on as many brokers' workers as are alive,
/// so it suits idempotent services.
#[derive(Debug)]
pub struct Freelance {
    ctx: Context,
    linger_ms: u64,
    limits: Limits,
    peers: Vec<FlPeer>,
}

impl Freelance {
    /// Connects one socket to each of `endpoints`.
    pub fn new(
        ctx: &Context,
        endpoints: &[String],
        linger_ms: u64,
        limits: Limits,
    ) -> zgreen::Result<Freelance> {
        let peers = endpoints
            .iter()
            .map(|ep| {
                Ok(FlPeer {
                    endpoint: ep.clone(),
                    sock: open(ctx, ep, linger_ms)?,
                    misses: 0,
                    dead_until: None,
                })
            })
            .collect::<zgreen::Result<Vec<_>>>()?;
        Ok(Freelance {
            ctx: ctx.clone(),
            linger_ms,
            limits,
            peers,
        })
    }

    /// The brokers skipped right now.
    pub fn skipped(&self) -> Vec<&str> {
        let now = Instant::now();
        self.peers
            .iter()
            .filter(|p| p.dead_until.is_some_and(|t| now < t))
            .map(|p| p.endpoint.as_str())
            .collect()
    }

    /// Sends the request to every broker not skipped (to all of them if
    /// every one is).
    pub fn send(&mut self, service: &[u8], body: &[Vec<u8>]) -> zgreen::Result<()> {
        let now = Instant::now();
        let live = |p: &FlPeer| p.dead_until.is_none_or(|t| now >= t);
        let all = !self.peers.iter().any(live);
        let msg = mdp::client_request(service, body);
        for p in self.peers.iter_mut().filter(|p| all || live(p)) {
            match p.sock.send_multipart(&msg, zmq::DONTWAIT) {
                Ok(()) | Err(zgreen::Error::Zmq(zmq::Error::EAGAIN)) => {}
                Err(e) => return Err(e),
            }
            p.misses += 1;
            if p.misses > DEAD_AFTER {
                tracing::debug!(endpoint = %p.endpoint, "no reply to {DEAD_AFTER} requests: skipped for {DEAD_FOR:?}");
                p.misses = 0;
                p.dead_until = Some(now + DEAD_FOR);
            } else if p.dead_until.is_some() {
                p.dead_until = None;
            }
        }
        Ok(())
    }

    /// Waits at most `timeout` for a reply from any broker.
    pub fn recv(&mut self, timeout: Duration) -> zgreen::Result<Option<Result<mdp::ClientReply, Malformed>>> {
        let mut poller = zgreen::zmq::Poller::new();
        for p in &self.peers {
            poller.add_socket(&p.sock, zmq::POLLIN);
        }
        if poller.poll(Some(timeout))? == 0 {
            return Ok(None);
        }
        for (i, p) in self.peers.iter_mut().enumerate() {
            if poller.revents(i).contains(zmq::POLLIN) {
                match p.sock.recv_multipart(zmq::DONTWAIT) {
                    Ok(f) => {
                        p.misses = 0;
                        p.dead_until = None;
                        return Ok(Some(mdp::parse_client_reply(&f, &self.limits)));
                    }
                    Err(zgreen::Error::Zmq(zmq::Error::EAGAIN)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(None)
    }

    /// New sockets to every broker (after a timeout on all of them).
    pub fn reset(&mut self) -> zgreen::Result<()> {
        for p in &mut self.peers {
            p.sock.set_linger(0)?;
            p.sock = open(&self.ctx, &p.endpoint, self.linger_ms)?;
        }
        Ok(())
    }
}
