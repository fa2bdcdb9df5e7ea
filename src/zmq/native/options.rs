//! The options of a native socket, with libzmq's defaults.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use super::security::Security;

/// The options a native socket supports, each with libzmq's default
/// unless said otherwise.
#[derive(Debug)]
pub(super) struct Options {
    /// Outbound messages queued per peer before a send blocks (or, for
    /// PUB/XPUB/ROUTER, drops): `ZMQ_SNDHWM`, 1000.
    pub(super) sndhwm: Cell<usize>,
    /// Inbound messages queued for the socket before its connections stop
    /// reading (TCP then pushes back on the peers): `ZMQ_RCVHWM`, 1000.
    /// One queue for the whole socket, not one per peer as in libzmq.
    pub(super) rcvhwm: Cell<usize>,
    /// The largest inbound message, in bytes (`ZMQ_MAXMSGSIZE`); a peer
    /// that announces a bigger frame is disconnected at the frame header.
    /// `None` (libzmq's -1): no limit.
    pub(super) max_msg_bytes: Cell<Option<usize>>,
    /// How long a new connection has to finish the ZMTP handshake
    /// (`ZMQ_HANDSHAKE_IVL`, 30 s).
    pub(super) handshake_ivl: Cell<Duration>,
    /// PING period (`ZMQ_HEARTBEAT_IVL`); `None` (the default): none.
    pub(super) heartbeat_ivl: Cell<Option<Duration>>,
    /// Silence after which a connection with heartbeats is dropped
    /// (`ZMQ_HEARTBEAT_TIMEOUT`, defaults to the PING period).
    pub(super) heartbeat_timeout: Cell<Option<Duration>>,
    /// The TTL advertised in our PINGs (`ZMQ_HEARTBEAT_TTL`), `None`: 0.
    pub(super) heartbeat_ttl: Cell<Option<Duration>>,
    /// First reconnect pause (`ZMQ_RECONNECT_IVL`, 100 ms).
    pub(super) reconnect_ivl: Cell<Duration>,
    /// Longest reconnect pause; the pause doubles up to it
    /// (`ZMQ_RECONNECT_IVL_MAX`; `None`, the default: no back-off).
    pub(super) reconnect_ivl_max: Cell<Option<Duration>>,
    /// How long queued messages may still be written after `close`
    /// (`ZMQ_LINGER`; default [`DEFAULT_LINGER_MS`](crate::zmq::DEFAULT_LINGER_MS)
    /// as for green libzmq sockets).
    pub(super) linger: Cell<Duration>,
    /// The routing identity announced to peers (`ZMQ_ROUTING_ID`).
    pub(super) identity: RefCell<Vec<u8>>,
    /// A ROUTER send to an unknown identity fails with `EHOSTUNREACH`
    /// instead of being dropped (`ZMQ_ROUTER_MANDATORY`).
    pub(super) router_mandatory: Cell<bool>,
    /// Default timeout of blocking receives (`None`: forever).
    pub(super) recv_timeout: Cell<Option<Duration>>,
    /// Default timeout of blocking sends (`None`: forever).
    pub(super) send_timeout: Cell<Option<Duration>>,
    /// The security mechanism (NULL by default).
    pub(super) security: RefCell<Security>,
    /// `ZMQ_ZAP_DOMAIN` (empty by default: a NULL server does not ask ZAP).
    pub(super) zap_domain: RefCell<String>,
    /// `ZMQ_ZAP_ENFORCE_DOMAIN`: with no ZAP handler bound, deny instead
    /// of admitting.
    pub(super) zap_enforce: Cell<bool>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            sndhwm: Cell::new(1000),
            rcvhwm: Cell::new(1000),
            max_msg_bytes: Cell::new(None),
            handshake_ivl: Cell::new(Duration::from_secs(30)),
            heartbeat_ivl: Cell::new(None),
            heartbeat_timeout: Cell::new(None),
            heartbeat_ttl: Cell::new(None),
            reconnect_ivl: Cell::new(Duration::from_millis(100)),
            reconnect_ivl_max: Cell::new(None),
            linger: Cell::new(Duration::from_millis(crate::zmq::DEFAULT_LINGER_MS as u64)),
            identity: RefCell::new(Vec::new()),
            router_mandatory: Cell::new(false),
            recv_timeout: Cell::new(None),
            send_timeout: Cell::new(None),
            security: RefCell::new(Security::Null),
            zap_domain: RefCell::new(String::new()),
            zap_enforce: Cell::new(false),
        }
    }
}
