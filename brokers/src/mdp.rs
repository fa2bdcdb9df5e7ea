//! 7/MDP 0.1 (Majordomo) messages, with 8/MMI: parsers and builders.
//!
//! Layouts (`|` between frames; a ROUTER sees the peer identity first):
//!
//! | who | frames |
//! |---|---|
//! | client → broker | `"" \| MDPC01 \| service \| body…` |
//! | broker → client | `"" \| MDPC01 \| service \| body…` |
//! | READY (w→b) | `"" \| MDPW01 \| 0x01 \| service` |
//! | REQUEST (b→w) | `"" \| MDPW01 \| 0x02 \| client \| "" \| body…` |
//! | REPLY (w→b) | `"" \| MDPW01 \| 0x03 \| client \| "" \| body…` |
//! | HEARTBEAT | `"" \| MDPW01 \| 0x04` |
//! | DISCONNECT | `"" \| MDPW01 \| 0x05` |

use crate::frames::{
    Frames, Limits, Malformed, command_byte, dealer_header, envelope, need, router_peer, service_name,
    to_vecs,
};

/// Header frame of client messages.
pub const CLIENT_HEADER: &[u8] = b"MDPC01";
/// Header frame of worker messages.
pub const WORKER_HEADER: &[u8] = b"MDPW01";
/// READY command byte.
pub const READY: u8 = 0x01;
/// REQUEST command byte.
pub const REQUEST: u8 = 0x02;
/// REPLY command byte.
pub const REPLY: u8 = 0x03;
/// HEARTBEAT command byte.
pub const HEARTBEAT: u8 = 0x04;
/// DISCONNECT command byte.
pub const DISCONNECT: u8 = 0x05;
/// Prefix of the services the broker answers itself (8/MMI).
pub const MMI_PREFIX: &[u8] = b"mmi.";

/// A message the broker's ROUTER received, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BrokerInbound {
    /// A client's request.
    Request {
        /// The client's identity.
        client: Vec<u8>,
        /// Requested service.
        service: Vec<u8>,
        /// Request body frames.
        body: Frames,
    },
    /// A worker's command.
    Worker {
        /// The worker's identity.
        worker: Vec<u8>,
        /// What it sent.
        command: WorkerCommand,
    },
}

/// A command a worker sends to the broker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WorkerCommand {
    /// Registers the worker for a service.
    Ready {
        /// Service name (never `mmi.*`).
        service: Vec<u8>,
    },
    /// A reply to the client whose address it carries.
    Reply {
        /// The client's address.
        client: Vec<u8>,
        /// Reply body frames.
        body: Frames,
    },
    /// I am alive.
    Heartbeat,
    /// I am leaving.
    Disconnect,
}

/// A command the broker sends to a worker, as the worker's DEALER receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WorkerInbound {
    /// A request to process.
    Request {
        /// The client's address, to be echoed in the REPLY.
        client: Vec<u8>,
        /// Request body frames.
        body: Frames,
    },
    /// The broker is alive.
    Heartbeat,
    /// The broker forgot this worker: reconnect and send READY.
    Disconnect,
}

/// A reply as the client's DEALER receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientReply {
    /// The service that answered.
    pub service: Vec<u8>,
    /// Reply body frames.
    pub body: Frames,
}

/// Parses what the broker's ROUTER received: `identity | "" | header | …`.
pub fn parse_broker_inbound<F: AsRef<[u8]>>(
    frames: &[F],
    limits: &Limits,
) -> Result<BrokerInbound, Malformed> {
    let peer = router_peer(frames, limits)?;
    match frames[2].as_ref() {
        CLIENT_HEADER => {
            need(frames, 4)?;
            Ok(BrokerInbound::Request {
                client: peer,
                service: service_name(&frames[3])?,
                body: to_vecs(&frames[4..]),
            })
        }
        WORKER_HEADER => {
            need(frames, 4)?;
            let command = parse_worker_command(&frames[3..])?;
            Ok(BrokerInbound::Worker {
                worker: peer,
                command,
            })
        }
        other => Err(Malformed::WrongHeader {
            got: crate::frames::show(other),
        }),
    }
}

/// `frames` starts at the command byte.
fn parse_worker_command<F: AsRef<[u8]>>(frames: &[F]) -> Result<WorkerCommand, Malformed> {
    let exact = |command: &'static str, expected: usize| {
        if frames.len() == expected {
            Ok(())
        } else {
            Err(Malformed::WrongFrameCount {
                command,
                got: frames.len() + 3,
                expected: expected + 3,
            })
        }
    };
    match command_byte(&frames[0])? {
        READY => {
            if frames.len() < 2 {
                return Err(Malformed::TooFewFrames {
                    got: frames.len() + 3,
                    need: 5,
                });
            }
            exact("READY", 2)?;
            let service = service_name(&frames[1])?;
            if service.starts_with(MMI_PREFIX) {
                return Err(Malformed::ReservedService(crate::frames::show(&service)));
            }
            Ok(WorkerCommand::Ready { service })
        }
        REPLY => {
            if frames.len() < 3 {
                return Err(Malformed::TooFewFrames {
                    got: frames.len() + 3,
                    need: 6,
                });
            }
            // `frames` starts at frame 3 of the message.
            let (client, body) = envelope(frames, 1).map_err(|e| match e {
                Malformed::MissingDelimiter { index } => Malformed::MissingDelimiter { index: index + 3 },
                e => e,
            })?;
            Ok(WorkerCommand::Reply { client, body })
        }
        HEARTBEAT => exact("HEARTBEAT", 1).map(|_| WorkerCommand::Heartbeat),
        DISCONNECT => exact("DISCONNECT", 1).map(|_| WorkerCommand::Disconnect),
        REQUEST => Err(Malformed::UnexpectedCommand("REQUEST")),
        other => Err(Malformed::UnknownCommand(other)),
    }
}

/// Parses what a worker's DEALER received: `"" | MDPW01 | command | …`.
pub fn parse_worker_inbound<F: AsRef<[u8]>>(
    frames: &[F],
    limits: &Limits,
) -> Result<WorkerInbound, Malformed> {
    dealer_header(frames, limits, WORKER_HEADER)?;
    let exact = |command: &'static str| {
        if frames.len() == 3 {
            Ok(())
        } else {
            Err(Malformed::WrongFrameCount {
                command,
                got: frames.len(),
                expected: 3,
            })
        }
    };
    match command_byte(&frames[2])? {
        REQUEST => {
            let (client, body) = envelope(frames, 3)?;
            Ok(WorkerInbound::Request { client, body })
        }
        HEARTBEAT => exact("HEARTBEAT").map(|_| WorkerInbound::Heartbeat),
        DISCONNECT => exact("DISCONNECT").map(|_| WorkerInbound::Disconnect),
        READY => Err(Malformed::UnexpectedCommand("READY")),
        REPLY => Err(Malformed::UnexpectedCommand("REPLY")),
        other => Err(Malformed::UnknownCommand(other)),
    }
}

/// Parses what a client's DEALER received: `"" | MDPC01 | service | body…`.
pub fn parse_client_reply<F: AsRef<[u8]>>(frames: &[F], limits: &Limits) -> Result<ClientReply, Malformed> {
    dealer_header(frames, limits, CLIENT_HEADER)?;
    Ok(ClientReply {
        service: service_name(&frames[2])?,
        body: to_vecs(&frames[3..]),
    })
}

fn with_body(mut head: Frames, body: &[impl AsRef<[u8]>]) -> Frames {
    head.extend(body.iter().map(|b| b.as_ref().to_vec()));
    head
}

/// A client's request, as its DEALER sends it (the leading `""` included).
pub fn client_request(service: &[u8], body: &[impl AsRef<[u8]>]) -> Frames {
    with_body(vec![vec![], CLIENT_HEADER.to_vec(), service.to_vec()], body)
}

/// A reply to a client, as the broker's ROUTER sends it.
pub fn client_reply(client: &[u8], service: &[u8], body: &[impl AsRef<[u8]>]) -> Frames {
    with_body(
        vec![client.to_vec(), vec![], CLIENT_HEADER.to_vec(), service.to_vec()],
        body,
    )
}

/// READY, as a worker's DEALER sends it.
pub fn ready(service: &[u8]) -> Frames {
    vec![vec![], WORKER_HEADER.to_vec(), vec![READY], service.to_vec()]
}

/// REPLY, as a worker's DEALER sends it.
pub fn reply(client: &[u8], body: &[impl AsRef<[u8]>]) -> Frames {
    with_body(
        vec![
            vec![],
            WORKER_HEADER.to_vec(),
            vec![REPLY],
            client.to_vec(),
            vec![],
        ],
        body,
    )
}

/// HEARTBEAT or DISCONNECT from a worker's DEALER (no identity frame).
pub fn worker_signal(command: u8) -> Frames {
    vec![vec![], WORKER_HEADER.to_vec(), vec![command]]
}

/// REQUEST, as the broker's ROUTER sends it to `worker`.
pub fn request_to_worker(worker: &[u8], client: &[u8], body: &[impl AsRef<[u8]>]) -> Frames {
    with_body(
        vec![
            worker.to_vec(),
            vec![],
            WORKER_HEADER.to_vec(),
            vec![REQUEST],
            client.to_vec(),
            vec![],
        ],
        body,
    )
}

/// HEARTBEAT or DISCONNECT, as the broker's ROUTER sends it to `worker`.
pub fn signal_to_worker(worker: &[u8], command: u8) -> Frames {
    vec![worker.to_vec(), vec![], WORKER_HEADER.to_vec(), vec![command]]
}

/// True for service names the broker answers itself.
pub fn is_mmi(service: &[u8]) -> bool {
    service.starts_with(MMI_PREFIX)
}

/// True if `frames` (identity first, as the broker's ROUTER sends them)
/// is a REQUEST to a worker.
pub fn is_request_to_worker<F: AsRef<[u8]>>(frames: &[F]) -> bool {
    frames.len() >= 6 && frames[2].as_ref() == WORKER_HEADER && frames[3].as_ref() == [REQUEST]
}

/// The 8/MMI answer to a request for `service` (an `mmi.*` name) with
/// `body`: `mmi.service` answers `200` when `registered(name)` is true for
/// the name in the body's first frame, else `404`; any other `mmi.*`
/// answers `501`.
pub fn mmi_answer(service: &[u8], body: &[Vec<u8>], registered: impl Fn(&[u8]) -> bool) -> &'static [u8] {
    if service == b"mmi.service" {
        match body.first() {
            Some(name) if registered(name) => b"200",
            _ => b"404",
        }
    } else {
        b"501"
    }
}
