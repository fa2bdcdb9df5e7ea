//! Handshake diagnostics (issue 16): each way a security handshake fails
//! is reported as what it is, on the server and on the client, with the
//! peer's address (version-2 monitor events).
#![cfg(feature = "zmq")]

use std::time::{Duration, Instant};

use zgreen::zmq::auth::{self, AuthConfig, Authenticator};
use zgreen::zmq::handshake::HandshakeFailure;
use zgreen::zmq::keys::KeyPair;
use zgreen::zmq::{Context, Monitor, MonitorEvent, Socket};

const WITHIN: Duration = Duration::from_secs(5);

fn monitor(s: &Socket) -> Monitor {
    s.monitor_events(zmq::SocketEvent::ALL as i32).unwrap()
}

/// The first handshake failure `mon` reports within [`WITHIN`], with its
/// event; panics (naming `what`) if none comes or a handshake succeeds.
#[track_caller]
fn failure(mon: &Monitor, what: &str) -> (HandshakeFailure, MonitorEvent) {
    let deadline = Instant::now() + WITHIN;
    loop {
        let ev = mon
            .recv_deadline(deadline)
            .unwrap_or_else(|e| panic!("{what}: no handshake failure reported: {e}"));
        assert_ne!(
            ev.event,
            zmq::SocketEvent::HANDSHAKE_SUCCEEDED,
            "{what}: the handshake succeeded"
        );
        if let Some(f) = HandshakeFailure::from_event(&ev) {
            return (f, ev);
        }
    }
}

/// A REP server set up by `setup`, bound to an ephemeral TCP port, and
/// its monitor.
fn server(ctx: &Context, setup: impl FnOnce(&Socket)) -> (Socket, String, Monitor) {
    let s = ctx.socket(zmq::REP).unwrap();
    s.set_linger(0).unwrap();
    setup(&s);
    let mon = monitor(&s);
    s.bind("tcp://127.0.0.1:*").unwrap();
    let ep = s.last_endpoint().unwrap();
    (s, ep, mon)
}

/// A REQ client set up by `setup`, connected to `ep`, and its monitor.
/// Reconnects are slowed down so each case sees one attempt at a time.
fn client(ctx: &Context, ep: &str, setup: impl FnOnce(&Socket)) -> (Socket, Monitor) {
    let c = ctx.socket(zmq::REQ).unwrap();
    c.set_linger(0).unwrap();
    c.set_reconnect_ivl(1000).unwrap();
    setup(&c);
    let mon = monitor(&c);
    c.connect(ep).unwrap();
    (c, mon)
}

/// A server-side event names both ends: the listener and the client's
/// own (ephemeral) address (version-2 events, the `draft` feature; a
/// version-1 event names the listener only).
#[track_caller]
fn assert_both_addresses(ev: &MonitorEvent) {
    if cfg!(not(feature = "draft")) {
        assert!(
            ev.local.starts_with("tcp://127.0.0.1:") && ev.remote.is_empty(),
            "{ev:?}"
        );
        return;
    }
    assert!(
        ev.remote.starts_with("tcp://127.0.0.1:"),
        "peer address {:?}",
        ev.remote
    );
    assert!(
        ev.local.starts_with("tcp://127.0.0.1:"),
        "local address {:?}",
        ev.local
    );
    assert_ne!(ev.remote, ev.local);
}

#[test]
fn a_mechanism_mismatch_is_reported_on_both_sides() {
    let ctx = Context::new();
    let (_srv, ep, smon) = server(&ctx, |s| s.set_plain_server(true).unwrap());
    let (_c, cmon) = client(&ctx, &ep, |_| {});
    let (f, ev) = failure(&smon, "server");
    assert_eq!(f, HandshakeFailure::MechanismMismatch);
    assert_both_addresses(&ev);
    assert_eq!(failure(&cmon, "client").0, HandshakeFailure::MechanismMismatch);
    assert!(f.to_string().contains("mechanism mismatch"), "{f}");
}

#[test]
fn a_zap_denial_is_reported_on_both_sides() {
    let ctx = Context::new();
    let _auth = Authenticator::start(&ctx, AuthConfig::new().password("admin", "s3cret")).unwrap();
    let (_srv, ep, smon) = server(&ctx, |s| s.set_plain_server(true).unwrap());
    let (_c, cmon) = client(&ctx, &ep, |c| {
        c.set_plain_username(Some("admin")).unwrap();
        c.set_plain_password(Some("wrong")).unwrap();
    });
    assert_eq!(failure(&smon, "server").0, HandshakeFailure::Denied);
    assert_eq!(failure(&cmon, "client").0, HandshakeFailure::Denied);
    assert_eq!(HandshakeFailure::Denied.label(), "denied");
}

#[test]
fn a_wrong_server_key_is_cryptographic_on_the_server_and_dropped_on_the_client() {
    assert_eq!(zmq::has("curve"), Some(true), "the default build has CURVE");
    let ctx = Context::new();
    let _auth = Authenticator::start(&ctx, AuthConfig::new().curve_any()).unwrap();
    let server_pair = KeyPair::generate().unwrap();
    let (_srv, ep, smon) = server(&ctx, |s| {
        auth::set_curve_server(s, &server_pair, "global").unwrap()
    });
    let client_pair = KeyPair::generate().unwrap();
    let not_the_server = KeyPair::generate().unwrap().public;
    let (_c, cmon) = client(&ctx, &ep, |c| {
        auth::set_curve_client(c, &client_pair, &not_the_server).unwrap()
    });
    assert_eq!(failure(&smon, "server").0, HandshakeFailure::Cryptographic);
    let (f, _) = failure(&cmon, "client");
    assert_eq!(f, HandshakeFailure::Dropped);
    assert!(f.to_string().contains("wrong server public key"), "{f}");
}

#[test]
fn an_unknown_client_key_is_denied_on_both_sides() {
    let ctx = Context::new();
    let known = KeyPair::generate().unwrap();
    let _auth = Authenticator::start(&ctx, AuthConfig::new().curve_key(known.public)).unwrap();
    let server_pair = KeyPair::generate().unwrap();
    let (_srv, ep, smon) = server(&ctx, |s| {
        auth::set_curve_server(s, &server_pair, "global").unwrap()
    });
    let stranger = KeyPair::generate().unwrap();
    let (_c, cmon) = client(&ctx, &ep, |c| {
        auth::set_curve_client(c, &stranger, &server_pair.public).unwrap()
    });
    assert_eq!(failure(&smon, "server").0, HandshakeFailure::Denied);
    assert_eq!(failure(&cmon, "client").0, HandshakeFailure::Denied);
}

#[test]
fn a_good_handshake_is_no_failure_and_names_both_addresses() {
    let ctx = Context::new();
    let (srv, ep, smon) = server(&ctx, |_| {});
    let (c, _cmon) = client(&ctx, &ep, |_| {});
    let deadline = Instant::now() + WITHIN;
    let ev = loop {
        let ev = smon.recv_deadline(deadline).expect("a handshake event");
        assert_eq!(HandshakeFailure::from_event(&ev), None, "{ev:?}");
        if ev.event == zmq::SocketEvent::HANDSHAKE_SUCCEEDED {
            break ev;
        }
    };
    assert_both_addresses(&ev);
    assert_eq!(ev.local, ep, "the listener's own address");
    if cfg!(feature = "draft") {
        assert_eq!(ev.endpoint(), ev.remote);
    }
    c.send("ping", 0).unwrap();
    assert_eq!(srv.recv_bytes(0).unwrap(), b"ping");
}

#[test]
fn every_failure_has_its_own_label() {
    let all = [
        HandshakeFailure::MechanismMismatch,
        HandshakeFailure::Denied,
        HandshakeFailure::AuthError(500),
        HandshakeFailure::Cryptographic,
        HandshakeFailure::Dropped,
        HandshakeFailure::Protocol(0x1000_0001),
    ];
    let labels: std::collections::HashSet<_> = all.iter().map(|f| f.label()).collect();
    assert_eq!(labels.len(), all.len());
}
