//! The zguide load-balancing broker's messages (no RFC).
//!
//! Workers are REQ sockets: the backend ROUTER sees
//! `worker-id | "" | READY` or `worker-id | "" | client-id | "" | reply…`,
//! and sends `worker-id | "" | client-id | "" | request…`.

use crate::frames::{Frames, Limits, Malformed, envelope, need, router_peer};

/// The one-frame announcement of a new worker.
pub const READY: &[u8] = b"READY";

/// What the backend received from a worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackendInbound {
    /// A new worker.
    Ready {
        /// Its identity.
        worker: Vec<u8>,
    },
    /// A reply for a client; the worker is free again.
    Reply {
        /// The worker's identity.
        worker: Vec<u8>,
        /// The client's identity.
        client: Vec<u8>,
        /// Reply body frames.
        body: Frames,
    },
}

/// Parses a message the backend ROUTER received.
pub fn parse_backend<F: AsRef<[u8]>>(frames: &[F], limits: &Limits) -> Result<BackendInbound, Malformed> {
    let worker = router_peer(frames, limits)?;
    if frames.len() == 3 {
        return if frames[2].as_ref() == READY {
            Ok(BackendInbound::Ready { worker })
        } else {
            Err(Malformed::UnknownCommand(
                frames[2].as_ref().first().copied().unwrap_or(0),
            ))
        };
    }
    need(frames, 5)?;
    let (client, body) = envelope(frames, 2)?;
    Ok(BackendInbound::Reply { worker, client, body })
}

/// A request for `worker`, as the backend ROUTER sends it.
pub fn request_to(worker: &[u8], client: &[u8], body: &[impl AsRef<[u8]>]) -> Frames {
    let mut f = vec![worker.to_vec(), vec![], client.to_vec(), vec![]];
    f.extend(body.iter().map(|b| b.as_ref().to_vec()));
    f
}

/// What a worker's REQ receives (REQ strips the outer delimiter):
/// `client-id | "" | request…`, the layout of a client request on the
/// broker's frontend; the reply uses the same envelope.
pub fn parse_worker_request<F: AsRef<[u8]>>(
    frames: &[F],
    limits: &Limits,
) -> Result<(Vec<u8>, Frames), Malformed> {
    crate::ppp::parse_client_request(frames, limits).map(|r| (r.client, r.body))
}
