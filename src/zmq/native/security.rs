//! The security mechanisms of a native socket (NULL, PLAIN, CURVE) and
//! ZAP (RFC 27): a server's handshake asks the ZAP handler bound at
//! [`ZAP_ENDPOINT`](crate::zmq::auth::ZAP_ENDPOINT) in the socket's
//! context — the same handler green libzmq sockets use
//! ([`zgreen::zmq::auth::Authenticator`](crate::zmq::auth::Authenticator))
//! — over a green REQ socket, within the handshake's deadline.
//!
//! As in libzmq: PLAIN and CURVE servers ask ZAP whenever a handler is
//! bound (and admit every client when none is, unless the ZAP domain is
//! enforced); NULL servers ask only when they have a ZAP domain.

use std::time::Instant;

use omq_proto::proto::greeting::MechanismName;
use omq_proto::{
    AuthenticationResult, AuthenticationStatus, Authenticator, CurveKeypair, CurvePublicKey, CurveSecretKey,
    CurveServerOptions, MechanismPeerInfo, MechanismSetup,
};

use crate::error::{Error, Result};
use crate::hub::Deadline;
use crate::zmq::Context;
use crate::zmq::auth::ZAP_ENDPOINT;

/// The mechanism a native socket uses on its connections.
#[derive(Clone, Default)]
pub(super) enum Security {
    /// NULL (the default).
    #[default]
    Null,
    /// PLAIN server: clients are checked by ZAP.
    PlainServer,
    /// PLAIN client with these credentials.
    PlainClient { username: String, password: String },
    /// CURVE server with this long-term key pair.
    CurveServer { public: [u8; 32], secret: [u8; 32] },
    /// CURVE client with this key pair, of the server with `server`.
    CurveClient {
        public: [u8; 32],
        secret: [u8; 32],
        server: [u8; 32],
    },
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Security::Null => "NULL",
            Security::PlainServer => "PLAIN server",
            Security::PlainClient { .. } => "PLAIN client",
            Security::CurveServer { .. } => "CURVE server",
            Security::CurveClient { .. } => "CURVE client",
        })
    }
}

/// A 32-byte key given raw or as 40 characters of Z85, as libzmq takes
/// them.
pub(super) fn key(bytes: &[u8]) -> Result<[u8; 32]> {
    if let Ok(raw) = <[u8; 32]>::try_from(bytes) {
        return Ok(raw);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| Error::Zmq(zmq::Error::EINVAL))?;
    CurvePublicKey::from_z85(text)
        .map(|k| *k.as_bytes())
        .map_err(|_| Error::Zmq(zmq::Error::EINVAL))
}

/// The public key of a CURVE secret key.
pub(super) fn public_of(secret: &[u8; 32]) -> [u8; 32] {
    *CurveSecretKey::from_bytes(*secret).derive_public().as_bytes()
}

/// Never called: servers defer authentication to [`zap`].
fn deferred() -> Authenticator {
    Authenticator::new(|_| false)
}

/// The codec's mechanism for `security`; `zap_domain` makes a NULL server
/// ask ZAP.
pub(super) fn setup(security: &Security, zap_domain: &str) -> MechanismSetup {
    match security {
        Security::Null if zap_domain.is_empty() => MechanismSetup::Null,
        Security::Null => MechanismSetup::NullServer {
            authenticator: deferred(),
        },
        Security::PlainServer => MechanismSetup::PlainServer {
            authenticator: deferred(),
        },
        Security::PlainClient { username, password } => MechanismSetup::PlainClient {
            username: username.clone(),
            password: password.clone(),
        },
        Security::CurveServer { public, secret } => MechanismSetup::CurveServer {
            our_keypair: CurveKeypair {
                public: CurvePublicKey::from_bytes(*public),
                secret: CurveSecretKey::from_bytes(*secret),
            },
            options: CurveServerOptions::new().authenticator(|_| false),
        },
        Security::CurveClient {
            public,
            secret,
            server,
        } => MechanismSetup::CurveClient {
            our_keypair: CurveKeypair {
                public: CurvePublicKey::from_bytes(*public),
                secret: CurveSecretKey::from_bytes(*secret),
            },
            server_public: CurvePublicKey::from_bytes(*server),
        },
    }
}

/// True if a ZAP handler is bound in `ctx` (the endpoint cannot be bound
/// again).
fn handler_bound(ctx: &Context) -> Result<bool> {
    let probe = ctx.socket(zmq::PAIR)?;
    let _ = probe.set_linger(0);
    match probe.bind(ZAP_ENDPOINT) {
        Ok(()) => Ok(false),
        Err(Error::Zmq(zmq::Error::EADDRINUSE)) => Ok(true),
        Err(e) => Err(e),
    }
}

/// Decides on a client per RFC 27: asks the ZAP handler of `ctx` (until
/// `deadline`), or admits it when no handler is bound and `enforce` is
/// off. Any failure to get an answer denies.
pub(super) fn zap(
    ctx: &Context,
    domain: &str,
    enforce: bool,
    peer: &MechanismPeerInfo,
    routing_id: &[u8],
    deadline: Deadline,
) -> AuthenticationResult {
    match ask(ctx, domain, enforce, peer, routing_id, deadline) {
        Ok(result) => result,
        Err(e) => {
            tracing::debug!(target: "zgreen::zmq::native", "ZAP request failed: {e}");
            AuthenticationResult {
                status: AuthenticationStatus::InternalError,
                user_id: None,
                metadata: Vec::new(),
            }
        }
    }
}

fn ask(
    ctx: &Context,
    domain: &str,
    enforce: bool,
    peer: &MechanismPeerInfo,
    routing_id: &[u8],
    deadline: Deadline,
) -> Result<AuthenticationResult> {
    if !handler_bound(ctx)? {
        return Ok(if enforce {
            AuthenticationResult::deny()
        } else {
            AuthenticationResult::allow()
        });
    }
    let (mechanism, credentials): (&str, Vec<Vec<u8>>) = match peer.mechanism {
        MechanismName::PLAIN => (
            "PLAIN",
            vec![
                peer.username.clone().unwrap_or_default().into_bytes(),
                peer.password.clone().unwrap_or_default().into_bytes(),
            ],
        ),
        MechanismName::CURVE => ("CURVE", vec![peer.public_key.to_vec()]),
        _ => ("NULL", Vec::new()),
    };
    let address = peer
        .peer_address
        .as_deref()
        .map(|a| a.rsplit_once(':').map_or(a, |(host, _)| host))
        .unwrap_or("")
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let mut request = vec![
        b"1.0".to_vec(),
        b"1".to_vec(),
        domain.as_bytes().to_vec(),
        address.into_bytes(),
        routing_id.to_vec(),
        mechanism.as_bytes().to_vec(),
    ];
    request.extend(credentials);
    let req = ctx.socket(zmq::REQ)?;
    let _ = req.set_linger(0);
    req.connect(ZAP_ENDPOINT)?;
    req.send_multipart(request, 0)?;
    let left = deadline_left(deadline);
    let reply = req.recv_multipart_timeout(0, left)?;
    let status = match reply.get(2).map(|c| c.as_slice()) {
        Some(b"200") => AuthenticationStatus::Success,
        Some(b"300") => AuthenticationStatus::TemporaryFailure,
        Some(b"400") => AuthenticationStatus::Denied,
        _ => AuthenticationStatus::InternalError,
    };
    let user_id = reply
        .get(4)
        .filter(|u| !u.is_empty())
        .map(|u| bytes::Bytes::from(u.clone()));
    Ok(AuthenticationResult {
        status,
        user_id,
        metadata: Vec::new(),
    })
}

fn deadline_left(deadline: Deadline) -> std::time::Duration {
    deadline.at.saturating_duration_since(Instant::now())
}
