//! The zguide load-balancing broker (`zbroker lb`): REQ clients on the
//! frontend, REQ workers on the backend, least-recently-used routing.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use zgreen::zmq::{Poller, Socket};

use crate::frames::{Limits, peer_hex};
use crate::io::{recv_bounded, send_nowait};
use crate::lb;
use crate::metrics::Metrics;
use crate::ppp_queue::{Counters4, next_request};

/// Runs the broker until an error or a kill.
pub fn serve(
    frontend: &Socket,
    backend: &Socket,
    limits: Limits,
    metrics: Option<Arc<Metrics>>,
) -> zgreen::Result<()> {
    let mut free: VecDeque<Vec<u8>> = VecDeque::new();
    let c = Counters4::new(metrics.as_deref());
    let drop = |peer: &[u8], e: &crate::frames::Malformed| {
        if let Some(m) = &metrics {
            m.dropped(e.reason());
        }
        tracing::warn!(peer = %peer_hex(peer), reason = e.reason(), "dropped message: {e}");
    };
    loop {
        let mut poller = Poller::new();
        let ib = poller.add_socket(backend, zmq::POLLIN);
        let ifr = (!free.is_empty()).then(|| poller.add_socket(frontend, zmq::POLLIN));
        poller.poll(None)?;
        if poller.revents(ib).contains(zmq::POLLIN) {
            while let Some(msg) = recv_bounded(backend, &limits, Some(Duration::ZERO))? {
                c.inc(&c.backend_in);
                let parsed = match msg.error.clone() {
                    Some(e) => Err(e),
                    None => lb::parse_backend(&msg.frames, &limits),
                };
                match parsed {
                    Ok(lb::BackendInbound::Ready { worker }) => {
                        tracing::info!(worker = %peer_hex(&worker), "worker ready");
                        free.push_back(worker);
                    }
                    Ok(lb::BackendInbound::Reply { worker, client, body }) => {
                        free.push_back(worker);
                        let mut reply = vec![client, vec![]];
                        reply.extend(body);
                        if send_nowait(frontend, reply)?.is_ok() {
                            c.inc(&c.frontend_out);
                        }
                    }
                    Err(e) => drop(msg.peer(), &e),
                }
            }
        }
        if ifr.is_some_and(|i| poller.revents(i).contains(zmq::POLLIN)) {
            while !free.is_empty() {
                let Some(req) = next_request(frontend, &limits, &c, drop)? else {
                    break;
                };
                while let Some(worker) = free.pop_front() {
                    if send_nowait(backend, lb::request_to(&worker, &req.client, &req.body))?.is_ok() {
                        c.inc(&c.backend_out);
                        break;
                    }
                    tracing::info!(worker = %peer_hex(&worker), "worker gone");
                }
            }
        }
    }
}
