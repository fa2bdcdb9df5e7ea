//! Why a security handshake failed, told apart from "server down".
//!
//! libzmq reports a failed NULL, PLAIN or CURVE handshake through the
//! socket monitor as one of three events with a code; this module turns
//! them into what they mean for an operator. Which side sees what:
//!
//! | cause | server (bound) side | client (connecting) side |
//! |---|---|---|
//! | mechanism mismatch (CURVE client, NULL server, ...) | [`MechanismMismatch`](HandshakeFailure::MechanismMismatch) | [`MechanismMismatch`](HandshakeFailure::MechanismMismatch) |
//! | ZAP denial (unknown CURVE client key, wrong PLAIN password, denied address) | [`Denied`](HandshakeFailure::Denied) | [`Denied`](HandshakeFailure::Denied) |
//! | the client has the wrong server public key | [`Cryptographic`](HandshakeFailure::Cryptographic) | [`Dropped`](HandshakeFailure::Dropped) (the server closes without a reason) |
//! | the ZAP handler failed (status 300 or 500) | [`AuthError`](HandshakeFailure::AuthError) | [`AuthError`](HandshakeFailure::AuthError) |
//!
//! ```
//! use zgreen::zmq::handshake::HandshakeFailure;
//! use zgreen::zmq::{Context, MonitorEvent};
//!
//! let ctx = Context::new();
//! let server = ctx.socket(zmq::REP).unwrap();
//! server.set_plain_server(true).unwrap(); // PLAIN, no ZAP handler: ...
//! server.bind("tcp://127.0.0.1:*").unwrap();
//! let mon = server.monitor_events(zmq::SocketEvent::ALL as i32).unwrap();
//! let client = ctx.socket(zmq::REQ).unwrap(); // ... and a NULL client
//! client.connect(&server.last_endpoint().unwrap()).unwrap();
//! let failure = loop {
//!     let ev = mon.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
//!     if let Some(f) = HandshakeFailure::from_event(&ev) {
//!         break f;
//!     }
//! };
//! assert_eq!(failure, HandshakeFailure::MechanismMismatch);
//! ```

use std::fmt;

use super::MonitorEvent;

/// `ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC`: a CURVE box did not open.
const CRYPTOGRAPHIC: u32 = 0x1100_0001;
/// `ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH`.
const MECHANISM_MISMATCH: u32 = 0x1100_0002;

/// Why a handshake failed (see the [module docs](self) for which side
/// sees which).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HandshakeFailure {
    /// The two sides use different security mechanisms (NULL, PLAIN,
    /// CURVE), or both are servers or both clients.
    MechanismMismatch,
    /// The server's ZAP handler refused the peer (status 400): an unknown
    /// CURVE client key, a wrong PLAIN user or password, or a denied
    /// address.
    Denied,
    /// The ZAP handler could not decide: status 300 (temporary) or 500
    /// (internal error).
    AuthError(u16),
    /// Seen by a CURVE server: a client's handshake did not decrypt, so
    /// the client uses a wrong server public key (or the bytes were
    /// corrupted on the way).
    Cryptographic,
    /// The peer closed the connection during the handshake without a
    /// reason. Seen by a CURVE client this is the usual sign of a wrong
    /// server public key (a server drops a handshake it cannot decrypt);
    /// otherwise the peer is not a ZeroMQ peer, or it crashed.
    Dropped,
    /// Another ZMTP or ZAP protocol violation, with libzmq's
    /// `ZMQ_PROTOCOL_ERROR_*` code.
    Protocol(u32),
}

impl HandshakeFailure {
    /// The failure a monitor event reports, or `None` for any other event
    /// (a successful handshake among them).
    pub fn from_event(ev: &MonitorEvent) -> Option<HandshakeFailure> {
        use zmq::SocketEvent as E;
        Some(match ev.event {
            E::HANDSHAKE_FAILED_NO_DETAIL => HandshakeFailure::Dropped,
            E::HANDSHAKE_FAILED_AUTH => match ev.value {
                400 => HandshakeFailure::Denied,
                status => HandshakeFailure::AuthError(u16::try_from(status).unwrap_or(u16::MAX)),
            },
            E::HANDSHAKE_FAILED_PROTOCOL => match ev.value {
                MECHANISM_MISMATCH => HandshakeFailure::MechanismMismatch,
                CRYPTOGRAPHIC => HandshakeFailure::Cryptographic,
                code => HandshakeFailure::Protocol(code),
            },
            _ => return None,
        })
    }

    /// A short stable name, for log fields and metric labels:
    /// `mechanism_mismatch`, `denied`, `auth_error`, `cryptographic`,
    /// `dropped` or `protocol`.
    pub fn label(&self) -> &'static str {
        match self {
            HandshakeFailure::MechanismMismatch => "mechanism_mismatch",
            HandshakeFailure::Denied => "denied",
            HandshakeFailure::AuthError(_) => "auth_error",
            HandshakeFailure::Cryptographic => "cryptographic",
            HandshakeFailure::Dropped => "dropped",
            HandshakeFailure::Protocol(_) => "protocol",
        }
    }
}

impl fmt::Display for HandshakeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeFailure::MechanismMismatch => {
                f.write_str("security mechanism mismatch (NULL, PLAIN or CURVE differ between the peers)")
            }
            HandshakeFailure::Denied => {
                f.write_str("denied by the server's ZAP handler (unknown client key, wrong password or denied address)")
            }
            HandshakeFailure::AuthError(status) => write!(f, "the ZAP handler failed with status {status}"),
            HandshakeFailure::Cryptographic => {
                f.write_str("the CURVE handshake did not decrypt (the client uses a wrong server public key)")
            }
            HandshakeFailure::Dropped => f.write_str(
                "the peer closed the connection during the handshake (for a CURVE client: likely a wrong server public key)",
            ),
            HandshakeFailure::Protocol(code) => write!(f, "handshake protocol error {code:#x}"),
        }
    }
}
