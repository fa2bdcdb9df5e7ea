//! 6/PPP (Paranoid Pirate) messages: parsers and builders.
//!
//! Workers use DEALER, so the queue's backend ROUTER sees
//! `worker-id | 0x01` (READY), `worker-id | 0x02` (HEARTBEAT) or
//! `worker-id | client-id | "" | body…` (a reply). The queue sends a
//! worker `0x02` or `client-id | "" | body…`.

use crate::frames::{Frames, Limits, Malformed, envelope, need, router_peer, to_vecs};

/// READY byte (worker → queue).
pub const READY: u8 = 0x01;
/// HEARTBEAT byte (both directions).
pub const HEARTBEAT: u8 = 0x02;

/// What the queue's backend received from a worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueueInbound {
    /// The worker is ready for work.
    Ready {
        /// Its identity.
        worker: Vec<u8>,
    },
    /// The worker is alive.
    Heartbeat {
        /// Its identity.
        worker: Vec<u8>,
    },
    /// A reply for a client.
    Reply {
        /// The worker's identity.
        worker: Vec<u8>,
        /// The client's identity.
        client: Vec<u8>,
        /// Reply body frames.
        body: Frames,
    },
}

/// What a worker's DEALER received from the queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WorkerInbound {
    /// The queue is alive.
    Heartbeat,
    /// A request: reply with the same envelope.
    Request {
        /// The client's identity.
        client: Vec<u8>,
        /// Request body frames.
        body: Frames,
    },
}

/// A client request as the queue's frontend ROUTER received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientRequest {
    /// The client's identity.
    pub client: Vec<u8>,
    /// Request body frames.
    pub body: Frames,
}

/// Parses a message the queue's backend ROUTER received.
pub fn parse_queue_inbound<F: AsRef<[u8]>>(frames: &[F], limits: &Limits) -> Result<QueueInbound, Malformed> {
    limits.check(frames)?;
    need(frames, 2)?;
    let worker = frames[0].as_ref().to_vec();
    if frames.len() == 2 {
        return match frames[1].as_ref() {
            [READY] => Ok(QueueInbound::Ready { worker }),
            [HEARTBEAT] => Ok(QueueInbound::Heartbeat { worker }),
            [b] => Err(Malformed::UnknownCommand(*b)),
            other => Err(Malformed::BadCommandFrame { bytes: other.len() }),
        };
    }
    need(frames, 4)?;
    let (client, body) = envelope(frames, 1)?;
    Ok(QueueInbound::Reply { worker, client, body })
}

/// Parses a client request on the queue's (or lb broker's) frontend:
/// `client-id | "" | body…` with at least one body frame.
pub fn parse_client_request<F: AsRef<[u8]>>(
    frames: &[F],
    limits: &Limits,
) -> Result<ClientRequest, Malformed> {
    let client = router_peer(frames, limits)?;
    Ok(ClientRequest {
        client,
        body: to_vecs(&frames[2..]),
    })
}

/// Parses what a PPP worker's DEALER received.
pub fn parse_worker_inbound<F: AsRef<[u8]>>(
    frames: &[F],
    limits: &Limits,
) -> Result<WorkerInbound, Malformed> {
    limits.check(frames)?;
    need(frames, 1)?;
    if frames.len() == 1 {
        return match frames[0].as_ref() {
            [HEARTBEAT] => Ok(WorkerInbound::Heartbeat),
            [READY] => Err(Malformed::UnexpectedCommand("READY")),
            [b] => Err(Malformed::UnknownCommand(*b)),
            other => Err(Malformed::BadCommandFrame { bytes: other.len() }),
        };
    }
    need(frames, 3)?;
    let (client, body) = envelope(frames, 0)?;
    Ok(WorkerInbound::Request { client, body })
}

/// `0x01` or `0x02` from a worker's DEALER.
pub fn signal(command: u8) -> Frames {
    vec![vec![command]]
}

/// HEARTBEAT from the queue to `worker`.
pub fn heartbeat_to(worker: &[u8]) -> Frames {
    vec![worker.to_vec(), vec![HEARTBEAT]]
}

/// A request from the queue to `worker`.
pub fn request_to(worker: &[u8], client: &[u8], body: &[impl AsRef<[u8]>]) -> Frames {
    let mut f = vec![worker.to_vec(), client.to_vec(), vec![]];
    f.extend(body.iter().map(|b| b.as_ref().to_vec()));
    f
}

/// A reply from a worker's DEALER (same envelope as the request).
pub fn reply(client: &[u8], body: &[impl AsRef<[u8]>]) -> Frames {
    let mut f = vec![client.to_vec(), vec![]];
    f.extend(body.iter().map(|b| b.as_ref().to_vec()));
    f
}

/// A reply on the frontend: `client-id | "" | body…`.
pub fn reply_to_client(client: &[u8], body: &[impl AsRef<[u8]>]) -> Frames {
    reply(client, body)
}
