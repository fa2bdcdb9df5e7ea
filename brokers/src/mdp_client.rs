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
