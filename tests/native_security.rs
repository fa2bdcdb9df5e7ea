//! Native sockets with PLAIN and CURVE, against libzmq peers in other
//! threads (both directions) and each other, with ZAP decisions from the
//! same handler green libzmq sockets use (`zgreen::zmq::auth`).
//!
//! Every test is bounded: a `Timeout` scope, timeouts on every socket.
#![cfg(feature = "native")]

use std::thread::{self, JoinHandle};
use std::time::Duration;

use zgreen::zmq::Context;
use zgreen::zmq::auth::{AuthConfig, Authenticator};
use zgreen::zmq::keys::KeyPair;
use zgreen::zmq::native::Socket;
use zgreen::{Error, Timeout};

const BOUND: Duration = Duration::from_secs(30);
const OP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a refused client waits to be sure no reply comes.
const REFUSED_WAIT_MS: i32 = 700;

fn native_in(ctx: &Context, kind: zmq::SocketType) -> Socket {
    let s = ctx.native_socket(kind).unwrap();
    s.set_recv_timeout(Some(OP_TIMEOUT));
    s.set_send_timeout(Some(OP_TIMEOUT));
    s
}

/// Keeps the hub running until `t` finished, then joins it.
fn wait_thread<T>(t: JoinHandle<T>) -> T {
    while !t.is_finished() {
        zgreen::sleep(Duration::from_millis(5)).unwrap();
    }
    t.join().expect("peer thread panicked")
}

/// A libzmq REQ that connects with `setup` and sends "ping" `n` times;
/// returns how many replies came within `REFUSED_WAIT_MS` each.
fn libzmq_client(
    endpoint: &str,
    n: usize,
    setup: impl FnOnce(&zmq::Socket) + Send + 'static,
) -> JoinHandle<usize> {
    let endpoint = endpoint.to_string();
    thread::spawn(move || {
        let ctx = zmq::Context::new();
        let s = ctx.socket(zmq::REQ).unwrap();
        s.set_linger(0).unwrap();
        s.set_rcvtimeo(REFUSED_WAIT_MS).unwrap();
        setup(&s);
        s.connect(&endpoint).unwrap();
        let mut replies = 0;
        for _ in 0..n {
            s.send("ping", 0).unwrap();
            match s.recv_bytes(0) {
                Ok(r) => {
                    assert_eq!(r, b"pong");
                    replies += 1;
                }
                Err(_) => break,
            }
        }
        replies
    })
}

/// A native REP answering "pong" until its socket closes.
fn serve(rep: Socket) -> zgreen::Greenlet<()> {
    zgreen::spawn(move || {
        while let Ok(m) = rep.recv_bytes(0) {
            assert_eq!(m, b"ping");
            if rep.send("pong", 0).is_err() {
                return;
            }
        }
    })
}

fn curve_server(ctx: &Context, pair: &KeyPair) -> (Socket, String) {
    let rep = native_in(ctx, zmq::REP);
    rep.set_curve_server(true).unwrap();
    rep.set_curve_secretkey(pair.secret_bytes()).unwrap();
    rep.bind("tcp://127.0.0.1:*").unwrap();
    let ep = rep.last_endpoint().unwrap();
    (rep, ep)
}

fn libzmq_curve_client(server: [u8; 32], client: KeyPair) -> impl FnOnce(&zmq::Socket) + Send + 'static {
    move |s| {
        s.set_curve_serverkey(&server).unwrap();
        s.set_curve_publickey(&client.public.0).unwrap();
        s.set_curve_secretkey(client.secret_bytes()).unwrap();
    }
}

#[test]
fn curve_native_server_libzmq_clients_right_and_wrong_server_key() {
    let _t = Timeout::start_new(BOUND);
    let ctx = Context::new();
    let server = KeyPair::generate().unwrap();
    let (rep, ep) = curve_server(&ctx, &server);
    let g = serve(rep.clone());
    let good = libzmq_client(
        &ep,
        20,
        libzmq_curve_client(server.public.0, KeyPair::generate().unwrap()),
    );
    assert_eq!(wait_thread(good), 20);
    let impostor = KeyPair::generate().unwrap();
    let bad = libzmq_client(
        &ep,
        1,
        libzmq_curve_client(impostor.public.0, KeyPair::generate().unwrap()),
    );
    assert_eq!(wait_thread(bad), 0, "a client of the wrong server key was served");
    rep.close().unwrap();
    g.join().unwrap();
}

#[test]
fn curve_native_client_libzmq_server() {
    let _t = Timeout::start_new(BOUND);
    let server = KeyPair::generate().unwrap();
    let zctx = zmq::Context::new();
    let rep = zctx.socket(zmq::REP).unwrap();
    rep.set_curve_server(true).unwrap();
    rep.set_curve_secretkey(server.secret_bytes()).unwrap();
    rep.set_rcvtimeo(10_000).unwrap();
    rep.bind("tcp://127.0.0.1:*").unwrap();
    let ep = rep.get_last_endpoint().unwrap().unwrap();
    let t = thread::spawn(move || {
        for _ in 0..20 {
            let m = rep.recv_bytes(0).unwrap();
            rep.send(&m, 0).unwrap();
        }
    });
    let client = KeyPair::generate().unwrap();
    let req = native_in(&Context::new(), zmq::REQ);
    req.set_curve_serverkey(&server.public.0).unwrap();
    req.set_curve_secretkey(client.secret_bytes()).unwrap();
    req.connect(&ep).unwrap();
    for i in 0..20 {
        let body = format!("encrypted {i}");
        req.send(&body, 0).unwrap();
        assert_eq!(req.recv_bytes(0).unwrap(), body.as_bytes());
    }
    wait_thread(t);
    // The wrong server key: the handshake never completes, so the send
    // finds no peer.
    let wrong = native_in(&Context::new(), zmq::REQ);
    wrong
        .set_curve_serverkey(&KeyPair::generate().unwrap().public.0)
        .unwrap();
    wrong.set_curve_secretkey(client.secret_bytes()).unwrap();
    let (t2, ep2) = {
        let zctx = zmq::Context::new();
        let rep = zctx.socket(zmq::REP).unwrap();
        rep.set_curve_server(true).unwrap();
        rep.set_curve_secretkey(server.secret_bytes()).unwrap();
        rep.set_rcvtimeo(REFUSED_WAIT_MS * 2).unwrap();
        rep.bind("tcp://127.0.0.1:*").unwrap();
        let ep = rep.get_last_endpoint().unwrap().unwrap();
        (thread::spawn(move || rep.recv_bytes(0).is_ok()), ep)
    };
    wrong.connect(&ep2).unwrap();
    let r = wrong.send_timeout("x", 0, Duration::from_millis(REFUSED_WAIT_MS as u64));
    assert!(matches!(r, Err(Error::Timeout(_))), "{r:?}");
    assert!(!wait_thread(t2), "the server got a message over a wrong key");
}

#[test]
fn curve_native_to_native_over_ipc() {
    let _t = Timeout::start_new(BOUND);
    let ctx = Context::new();
    let server = KeyPair::generate().unwrap();
    let dir = zgreen_harness::fresh_temp_dir("zgreen-native", "curve-ipc");
    let ep = format!("ipc://{}", dir.join("s.sock").display());
    let rep = native_in(&ctx, zmq::REP);
    rep.set_curve_secretkey(server.secret_bytes()).unwrap();
    rep.set_curve_server(true).unwrap();
    rep.bind(&ep).unwrap();
    let g = serve(rep.clone());
    let req = native_in(&ctx, zmq::REQ);
    req.set_curve_secretkey(KeyPair::generate().unwrap().secret_bytes())
        .unwrap();
    req.set_curve_serverkey(server.public.to_z85().as_bytes())
        .unwrap();
    req.connect(&ep).unwrap();
    for _ in 0..50 {
        req.send("ping", 0).unwrap();
        assert_eq!(req.recv_bytes(0).unwrap(), b"pong");
    }
    rep.close().unwrap();
    g.join().unwrap();
}

#[test]
fn curve_clients_checked_by_the_zap_handler() {
    let _t = Timeout::start_new(BOUND);
    let ctx = Context::new();
    let server = KeyPair::generate().unwrap();
    let known = KeyPair::generate().unwrap();
    let auth = Authenticator::start(&ctx, AuthConfig::new().curve_key(known.public)).unwrap();
    let (rep, ep) = curve_server(&ctx, &server);
    let g = serve(rep.clone());
    let ok = libzmq_client(&ep, 5, libzmq_curve_client(server.public.0, known));
    assert_eq!(wait_thread(ok), 5);
    let stranger = libzmq_client(
        &ep,
        1,
        libzmq_curve_client(server.public.0, KeyPair::generate().unwrap()),
    );
    assert_eq!(wait_thread(stranger), 0, "an unknown CURVE key was admitted");
    let stats = auth.stats();
    assert!(stats.accepted >= 1 && stats.denied >= 1, "{stats:?}");
    rep.close().unwrap();
    g.join().unwrap();
}

#[test]
fn plain_clients_checked_by_the_zap_handler() {
    let _t = Timeout::start_new(BOUND);
    let ctx = Context::new();
    let auth = Authenticator::start(&ctx, AuthConfig::new().password("admin", "secret")).unwrap();
    let rep = native_in(&ctx, zmq::REP);
    rep.set_plain_server(true);
    rep.bind("tcp://127.0.0.1:*").unwrap();
    let ep = rep.last_endpoint().unwrap();
    let g = serve(rep.clone());
    let ok = libzmq_client(&ep, 5, |s| {
        s.set_plain_username(Some("admin")).unwrap();
        s.set_plain_password(Some("secret")).unwrap();
    });
    assert_eq!(wait_thread(ok), 5);
    let bad = libzmq_client(&ep, 1, |s| {
        s.set_plain_username(Some("admin")).unwrap();
        s.set_plain_password(Some("guess")).unwrap();
    });
    assert_eq!(wait_thread(bad), 0, "a wrong password was admitted");
    // A native PLAIN client against the same server.
    let req = native_in(&ctx, zmq::REQ);
    req.set_plain_credentials("admin", "secret");
    req.connect(&ep).unwrap();
    req.send("ping", 0).unwrap();
    assert_eq!(req.recv_bytes(0).unwrap(), b"pong");
    let stats = auth.stats();
    assert!(stats.accepted >= 2 && stats.denied >= 1, "{stats:?}");
    rep.close().unwrap();
    g.join().unwrap();
}

#[test]
fn null_with_a_zap_domain_asks_zap() {
    let _t = Timeout::start_new(BOUND);
    let ctx = Context::new();
    let auth = Authenticator::start(&ctx, AuthConfig::new().deny_ip("127.0.0.1")).unwrap();
    let rep = native_in(&ctx, zmq::REP);
    rep.set_zap_domain("global");
    rep.bind("tcp://127.0.0.1:*").unwrap();
    let ep = rep.last_endpoint().unwrap();
    let g = serve(rep.clone());
    let denied = libzmq_client(&ep, 1, |_| {});
    assert_eq!(wait_thread(denied), 0, "a denied address was admitted");
    assert!(auth.stats().denied >= 1, "{:?}", auth.stats());
    rep.close().unwrap();
    g.join().unwrap();
}
