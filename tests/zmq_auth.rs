//! ZAP handler, PLAIN, IP lists, CURVE and key files (issue 8). CURVE is
//! in the default build (vendored libzmq with libsodium): every test runs.
#![cfg(feature = "zmq")]

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use zgreen::zmq::auth::{self, AuthConfig, Authenticator};
use zgreen::zmq::keys::{KeyPair, PublicKey};
use zgreen::zmq::{Context, Monitor, MonitorEvent, Socket};

const WITHIN: Duration = Duration::from_secs(5);

fn temp_dir(name: &str) -> PathBuf {
    zgreen_harness::fresh_temp_dir("zgreen-auth", name)
}

/// A REP server set up by `setup` (options apply at bind time) and bound
/// to an ephemeral TCP port.
fn server(ctx: &Context, setup: impl FnOnce(&Socket)) -> (Socket, String) {
    let s = ctx.socket(zmq::REP).unwrap();
    s.set_handshake_ivl(1000).unwrap();
    setup(&s);
    s.bind("tcp://127.0.0.1:*").unwrap();
    let endpoint = s.last_endpoint().unwrap();
    (s, endpoint)
}

/// A [`server`] in ZAP domain `domain`.
fn zap_server(ctx: &Context, domain: &str) -> (Socket, String) {
    server(ctx, |s| s.set_zap_domain(domain).unwrap())
}

/// A PLAIN [`server`].
fn plain_server(ctx: &Context) -> (Socket, String) {
    server(ctx, |s| s.set_plain_server(true).unwrap())
}

fn client(ctx: &Context) -> Socket {
    let c = ctx.socket(zmq::REQ).unwrap();
    c.set_linger(0).unwrap();
    c
}

/// A [`client`] connected to `endpoint`.
fn client_to(ctx: &Context, endpoint: &str) -> Socket {
    let c = client(ctx);
    c.connect(endpoint).unwrap();
    c
}

/// A [`client`] with PLAIN credentials `user` and `password`, not
/// connected yet.
fn plain_client(ctx: &Context, user: &str, password: &str) -> Socket {
    let c = client(ctx);
    c.set_plain_username(Some(user)).unwrap();
    c.set_plain_password(Some(password)).unwrap();
    c
}

/// The handshake of `client` with `server` fails with ZAP status 400, as
/// `mon` (the server's monitor) reports (`what` names the case), and no
/// ping gets through.
#[track_caller]
fn assert_rejected_with_400(mon: &Monitor, server: &Socket, client: &Socket, what: &str) {
    let ev = wait_for(mon, &FAILED, WITHIN).expect(what);
    assert_eq!(
        (ev.event, ev.value),
        (zmq::SocketEvent::HANDSHAKE_FAILED_AUTH, 400)
    );
    assert!(ping(server, client, Duration::from_millis(200)).is_none());
}

/// Sends "ping" from `client` and returns what `server` got, if anything
/// within `within`.
fn ping(server: &Socket, client: &Socket, within: Duration) -> Option<zmq::Message> {
    // A client whose handshake failed may have no pipe to send on: its send
    // parks, so it is bounded like the receive.
    if let Err(e) = client.send_timeout("ping", 0, within) {
        assert!(e.is_timeout(), "{e:?}");
        return None;
    }
    server.set_recv_timeout(Some(within));
    let got = server.recv_msg(0).ok();
    if got.is_some() {
        server.send("pong", 0).unwrap();
        client.set_recv_timeout(Some(WITHIN));
        assert_eq!(client.recv_bytes(0).unwrap(), b"pong");
    }
    got
}

/// The first event of `kinds` within `within`.
fn wait_for(mon: &Monitor, kinds: &[zmq::SocketEvent], within: Duration) -> Option<MonitorEvent> {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match mon.recv_timeout(left) {
            Ok(ev) if kinds.contains(&ev.event) => return Some(ev),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

const FAILED: [zmq::SocketEvent; 3] = [
    zmq::SocketEvent::HANDSHAKE_FAILED_AUTH,
    zmq::SocketEvent::HANDSHAKE_FAILED_PROTOCOL,
    zmq::SocketEvent::HANDSHAKE_FAILED_NO_DETAIL,
];

fn monitor(s: &Socket) -> Monitor {
    s.monitor_events(zmq::SocketEvent::ALL as i32).unwrap()
}

// ---------------------------------------------------------------- PLAIN

#[test]
fn plain_good_password_is_accepted_with_user_id() {
    let ctx = Context::new();
    let dir = temp_dir("plain-good");
    let file = dir.join("passwords");
    std::fs::write(&file, "# users\nadmin=s3cret\nbob=x=y\n").unwrap();
    let auth = Authenticator::start(&ctx, AuthConfig::new().password_file(&file).unwrap()).unwrap();
    let (srv, ep) = plain_server(&ctx);
    for (user, password) in [("admin", "s3cret"), ("bob", "x=y")] {
        let c = plain_client(&ctx, user, password);
        c.connect(&ep).unwrap();
        let mut msg = ping(&srv, &c, WITHIN).expect("an allowed PLAIN user gets through");
        assert_eq!(msg.gets("User-Id"), Some(user));
    }
    let stats = auth.stats();
    assert_eq!(
        (stats.accepted, stats.denied, stats.malformed),
        (2, 0, 0),
        "{stats:?}"
    );
}

#[test]
fn plain_bad_password_is_rejected_with_400() {
    let ctx = Context::new();
    let auth = Authenticator::start(&ctx, AuthConfig::new().password("admin", "s3cret")).unwrap();
    let (srv, ep) = plain_server(&ctx);
    let mon = monitor(&srv);
    for (user, password) in [("admin", "wrong"), ("nobody", "s3cret")] {
        let c = plain_client(&ctx, user, password);
        c.connect(&ep).unwrap();
        assert_rejected_with_400(&mon, &srv, &c, "the server reports the failed handshake");
    }
    assert_eq!(auth.stats().denied, 2, "{:?}", auth.stats());
    assert_eq!(auth.stats().accepted, 0);
}

#[test]
fn config_debug_shows_users_not_passwords() {
    let shown = format!("{:?}", AuthConfig::new().password("admin", "hunter2"));
    assert!(shown.contains("admin") && !shown.contains("hunter2"), "{shown}");
}

#[test]
fn password_file_errors_name_the_line() {
    let dir = temp_dir("plain-file");
    let file = dir.join("passwords");
    std::fs::write(&file, "admin=ok\nno equals sign\n").unwrap();
    let err = AuthConfig::new().password_file(&file).unwrap_err().to_string();
    assert!(err.contains(":2:"), "{err}");
}

// ---------------------------------------------------------- IP lists, NULL

#[test]
fn ip_deny_list_rejects_null_clients() {
    let ctx = Context::new();
    let auth = Authenticator::start(&ctx, AuthConfig::new().deny_ip("127.0.0.1")).unwrap();
    let (srv, ep) = zap_server(&ctx, "global");
    let mon = monitor(&srv);
    let c = client_to(&ctx, &ep);
    assert_rejected_with_400(&mon, &srv, &c, "denied address");
    assert_eq!(auth.stats().denied, 1);

    // The allow list wins over the deny list.
    auth.update(|config| *config = AuthConfig::new().allow_ip("127.0.0.1").deny_ip("127.0.0.1"));
    let c = client_to(&ctx, &ep);
    assert!(ping(&srv, &c, WITHIN).is_some());
    assert_eq!(auth.stats().accepted, 1);
}

#[test]
fn ip_allow_list_rejects_other_addresses() {
    let ctx = Context::new();
    let auth = Authenticator::start(&ctx, AuthConfig::new().allow_ip("10.9.9.9")).unwrap();
    let (srv, ep) = zap_server(&ctx, "global");
    let mon = monitor(&srv);
    let c = client_to(&ctx, &ep);
    assert_rejected_with_400(&mon, &srv, &c, "address not allowed");
    assert_eq!(auth.stats().denied, 1);
}

#[test]
fn domains_are_enforced_by_the_handler() {
    let ctx = Context::new();
    let auth = Authenticator::start(&ctx, AuthConfig::new().domain("ok")).unwrap();
    let (good, good_ep) = zap_server(&ctx, "ok");
    let (bad, bad_ep) = zap_server(&ctx, "other");
    let mon = monitor(&bad);
    let c = client_to(&ctx, &bad_ep);
    assert_rejected_with_400(&mon, &bad, &c, "unknown domain");
    let c = client_to(&ctx, &good_ep);
    assert!(ping(&good, &c, WITHIN).is_some());
    assert_eq!((auth.stats().accepted, auth.stats().denied), (1, 1));
}

// ------------------------------------------------- a misbehaving handler

#[test]
fn malformed_zap_requests_get_500_and_the_handler_keeps_serving() {
    let ctx = Context::new();
    let auth = Authenticator::start(&ctx, AuthConfig::new().password("u", "p")).unwrap();
    let zap = ctx.socket(zmq::REQ).unwrap();
    zap.connect(auth::ZAP_ENDPOINT).unwrap();
    zap.set_recv_timeout(Some(WITHIN));
    let cases: Vec<Vec<&[u8]>> = vec![
        vec![b"garbage"],
        vec![b"2.0", b"id", b"", b"127.0.0.1", b"", b"NULL"],
        vec![b"1.0", b"id", b"", b"\xff\xfe", b"", b"PLAIN", b"u", b"p"],
        vec![b"1.0", b"id", b"", b"127.0.0.1", b"", b"PLAIN", b"only-one"],
        vec![b"1.0", b"id", b"", b"127.0.0.1", b"", b"CURVE", b"short key"],
    ];
    for frames in &cases {
        zap.send_multipart(frames.iter().copied(), 0).unwrap();
        let reply = zap.recv_multipart(0).unwrap();
        assert_eq!(reply.len(), 6, "{frames:?}");
        assert_eq!(reply[2], b"500", "{frames:?} -> {reply:?}");
    }
    zap.send_multipart(
        [&b"1.0"[..], b"7", b"", b"127.0.0.1", b"", b"PLAIN", b"u", b"p"],
        0,
    )
    .unwrap();
    let reply = zap.recv_multipart(0).unwrap();
    assert_eq!(reply[..5], [&b"1.0"[..], b"7", b"200", b"OK", b"u"]);
    assert_eq!(auth.stats().malformed, cases.len() as u64);

    // Real handshakes still work.
    let (srv, ep) = plain_server(&ctx);
    let c = plain_client(&ctx, "u", "p");
    c.connect(&ep).unwrap();
    assert!(ping(&srv, &c, WITHIN).is_some());
}

/// A ZAP handler that never answers, or answers garbage: the handshake
/// fails within the handshake interval, and connections that do not need
/// ZAP, or that use another context, go on meanwhile.
#[test]
fn blocked_or_garbage_handler_fails_the_handshake_in_time_without_stalling_others() {
    for garbage in [false, true] {
        let ctx = Context::new();
        let zap = ctx.socket(zmq::REP).unwrap();
        zap.set_linger(0).unwrap();
        zap.bind(auth::ZAP_ENDPOINT).unwrap();
        let handler = zgreen::spawn(move || -> zgreen::Result<()> {
            loop {
                let req = zap.recv_multipart(0)?;
                if garbage {
                    zap.send_multipart([&b"1.0"[..], &req[1], b"999", b"??"], 0)?;
                }
                // else: hold the request forever.
            }
        });
        let (srv, ep) = server(&ctx, |s| {
            s.set_handshake_ivl(500).unwrap();
            s.set_plain_server(true).unwrap();
        });
        let mon = monitor(&srv);
        let c = plain_client(&ctx, "u", "p");
        let start = Instant::now();
        c.connect(&ep).unwrap();

        // Meanwhile: a NULL socket pair in the same context, and a PLAIN
        // exchange in another context with a working handler.
        let (plain, plain_ep) = server(&ctx, |_| {});
        let other = client_to(&ctx, &plain_ep);
        for _ in 0..20 {
            assert!(ping(&plain, &other, WITHIN).is_some());
        }
        let ctx2 = Context::new();
        let _auth2 = Authenticator::start(&ctx2, AuthConfig::new().password("u", "p")).unwrap();
        let (srv2, ep2) = plain_server(&ctx2);
        let c2 = plain_client(&ctx2, "u", "p");
        c2.connect(&ep2).unwrap();
        assert!(ping(&srv2, &c2, WITHIN).is_some());

        let kinds = [FAILED.as_slice(), &[zmq::SocketEvent::DISCONNECTED]].concat();
        let ev = wait_for(&mon, &kinds, WITHIN).expect("the stuck handshake is given up");
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "garbage={garbage}: {:?}",
            start.elapsed()
        );
        assert!(
            ping(&srv, &c, Duration::from_millis(100)).is_none(),
            "garbage={garbage}: {ev:?}"
        );
        handler.kill().unwrap();
    }
}

/// libzmq's fuzzer pattern: a raw TCP client sends part of a greeting and
/// holds the connection; a well-behaved client still gets through.
#[test]
fn partial_greeting_does_not_stop_a_good_client() {
    let ctx = Context::new();
    let _auth = Authenticator::start(&ctx, AuthConfig::new().password("u", "p").curve_any()).unwrap();
    let server_keys = KeyPair::generate().unwrap();
    let (srv, ep) = server(&ctx, |s| {
        s.set_handshake_ivl(30_000).unwrap();
        auth::set_curve_server(s, &server_keys, "global").unwrap();
    });
    let addr = ep.trim_start_matches("tcp://").to_string();
    let mut holders = Vec::new();
    for n in [1usize, 10, 12, 64] {
        let mut raw = std::net::TcpStream::connect(&addr).unwrap();
        // ZMTP 3 signature and version, then the start of a mechanism.
        let greeting = [
            &[0xffu8, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0][..],
            b"CURVE",
            &[0; 59],
        ]
        .concat();
        raw.write_all(&greeting[..n.min(greeting.len())]).unwrap();
        holders.push(raw);
    }
    let c = client(&ctx);
    auth::set_curve_client(&c, &KeyPair::generate().unwrap(), &server_keys.public).unwrap();
    c.connect(&ep).unwrap();
    for _ in 0..10 {
        assert!(ping(&srv, &c, WITHIN).is_some());
    }
    drop(holders);
}

// ----------------------------------------------------------------- keys

#[test]
fn key_files_round_trip_and_secrets_are_0600() {
    let dir = temp_dir("keys");
    let pair = KeyPair::generate().unwrap();
    let (public, secret) = pair.save(&dir, "server").unwrap();
    let mode = std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(PublicKey::load(&public).unwrap(), pair.public);
    assert_eq!(KeyPair::load_secret(&secret).unwrap(), pair);
    let text = std::fs::read_to_string(&public).unwrap();
    assert!(!text.contains("secret-key"), "{text}");

    // A bare Z85 line is a public key file too.
    std::fs::write(dir.join("bare.key"), format!("{}\n", pair.public)).unwrap();
    assert_eq!(PublicKey::load(dir.join("bare.key")).unwrap(), pair.public);

    // Saving over a world-readable file narrows it; loading a readable
    // secret is refused.
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = KeyPair::load_secret(&secret).unwrap_err().to_string();
    assert!(err.contains("chmod 600"), "{err}");
    pair.save_secret(&secret).unwrap();
    let mode = std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    let (keys, bad) = zgreen::zmq::keys::load_public_dir(&dir).unwrap();
    assert_eq!(keys, vec![pair.public, pair.public]);
    assert!(bad.is_empty(), "{bad:?}");
}

// ----------------------------------------------------------------- CURVE

struct CurveSetup {
    ctx: Context,
    auth: Authenticator,
    srv: Socket,
    ep: String,
    server_keys: KeyPair,
    client_keys: KeyPair,
    dir: PathBuf,
    mon: Monitor,
}

impl CurveSetup {
    /// A CURVE client with `keys` that expects server key `server`,
    /// connected to the server.
    fn curve_client(&self, keys: &KeyPair, server: &PublicKey) -> Socket {
        let c = client(&self.ctx);
        auth::set_curve_client(&c, keys, server).unwrap();
        c.connect(&self.ep).unwrap();
        c
    }
}

/// The CURVE server, its keys and a client key pair in `temp_dir(name)`.
fn curve_setup(name: &str) -> CurveSetup {
    let ctx = Context::new();
    let dir = temp_dir(name);
    let server_keys = KeyPair::generate().unwrap();
    let client_keys = KeyPair::generate().unwrap();
    client_keys.save(&dir, "client").unwrap();
    std::fs::write(dir.join("junk.key"), "not a key\n").unwrap();
    let auth = Authenticator::start(&ctx, AuthConfig::new().curve_dir(&dir).unwrap()).unwrap();
    let (srv, ep) = server(&ctx, |s| {
        auth::set_curve_server(s, &server_keys, "global").unwrap();
    });
    let mon = monitor(&srv);
    CurveSetup {
        ctx,
        auth,
        srv,
        ep,
        server_keys,
        client_keys,
        dir,
        mon,
    }
}

#[test]
fn curve_allowed_key_is_accepted() {
    let s = curve_setup("curve-ok");
    let c = s.curve_client(&s.client_keys, &s.server_keys.public);
    let mut msg = ping(&s.srv, &c, WITHIN).expect("allowed key");
    assert_eq!(msg.gets("User-Id"), Some(s.client_keys.public.to_z85().as_str()));
    assert_eq!(s.auth.stats().accepted, 1);
}

#[test]
fn curve_unknown_key_is_rejected_with_400_until_reloaded() {
    let s = curve_setup("curve-unknown");
    let stranger = KeyPair::generate().unwrap();
    let c = s.curve_client(&stranger, &s.server_keys.public);
    assert_rejected_with_400(&s.mon, &s.srv, &c, "unknown key");
    assert_eq!(s.auth.stats().denied, 1);

    // Adding its key file and reloading lets it in.
    stranger.public.save(s.dir.join("stranger.key")).unwrap();
    assert_eq!(s.auth.reload_curve().unwrap(), 2);
    let c = s.curve_client(&stranger, &s.server_keys.public);
    assert!(ping(&s.srv, &c, WITHIN).is_some());
    assert_eq!(s.auth.stats().reloads, 1);
}

#[test]
fn curve_server_rejects_null_and_plain_clients() {
    let s = curve_setup("curve-mech");
    s.auth
        .update(|config| *config = config.clone().password("u", "p"));
    let null = client(&s.ctx);
    null.connect(&s.ep).unwrap();
    assert!(wait_for(&s.mon, &FAILED, WITHIN).is_some(), "NULL client");
    let plain = plain_client(&s.ctx, "u", "p");
    plain.connect(&s.ep).unwrap();
    assert!(wait_for(&s.mon, &FAILED, WITHIN).is_some(), "PLAIN client");
    assert!(ping(&s.srv, &null, Duration::from_millis(200)).is_none());
    assert!(ping(&s.srv, &plain, Duration::from_millis(200)).is_none());
    assert_eq!(s.auth.stats().accepted, 0);
}

#[test]
fn curve_wrong_server_key_fails_the_handshake() {
    let s = curve_setup("curve-wrong-server");
    let imposter = KeyPair::generate().unwrap();
    let c = s.curve_client(&s.client_keys, &imposter.public);
    assert!(wait_for(&s.mon, &FAILED, WITHIN).is_some());
    assert!(ping(&s.srv, &c, Duration::from_millis(200)).is_none());
    assert_eq!(s.auth.stats().requests, 0, "the server never got as far as ZAP");
}

#[test]
fn curve_without_a_handler_is_rejected_when_the_domain_is_enforced() {
    // Plain zmq sockets: ZMQ_ZAP_ENFORCE_DOMAIN needs the raw pointer.
    let ctx = zmq::Context::new();
    let server_keys = KeyPair::generate().unwrap();
    let client_keys = KeyPair::generate().unwrap();
    for enforce in [false, true] {
        let mut srv = ctx.socket(zmq::PULL).unwrap();
        srv.set_linger(0).unwrap();
        srv.set_zap_domain("global").unwrap();
        srv.set_curve_server(true).unwrap();
        srv.set_curve_secretkey(server_keys.secret_bytes()).unwrap();
        auth::set_zap_enforce_domain(&mut srv, enforce).expect("libzmq with ZMQ_ZAP_ENFORCE_DOMAIN");
        srv.set_rcvtimeo(if enforce { 500 } else { 5000 }).unwrap();
        srv.bind("tcp://127.0.0.1:*").unwrap();
        let ep = srv.get_last_endpoint().unwrap().unwrap();
        let c = ctx.socket(zmq::PUSH).unwrap();
        c.set_linger(0).unwrap();
        c.set_curve_serverkey(&server_keys.public.0).unwrap();
        c.set_curve_publickey(&client_keys.public.0).unwrap();
        c.set_curve_secretkey(client_keys.secret_bytes()).unwrap();
        c.connect(&ep).unwrap();
        c.send("hello", 0).unwrap();
        let got = srv.recv_bytes(0);
        if enforce {
            assert!(got.is_err(), "no handler + enforced domain must reject");
        } else {
            assert_eq!(
                got.unwrap(),
                b"hello",
                "no handler, not enforced: libzmq lets it in"
            );
        }
    }
}
