//! Native (green ZMTP) sockets against blocking libzmq sockets.
//!
//! Each test runs the native side on the test's thread (its blocking
//! calls run the hub) and the libzmq side as a blocking `zmq` crate
//! socket in another OS thread, in both directions (native binds and
//! libzmq connects, and the other way round). The exchanges carry a few
//! hundred messages, multipart ones with empty frames among them, and
//! both sides check content and order.
//!
//! Every test is bounded: a `Timeout` scope on the test's thread, default
//! timeouts on native sockets, `RCVTIMEO`/`SNDTIMEO` on blocking ones.
#![cfg(feature = "native")]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use zgreen::Timeout;
use zgreen::zmq::native::Socket;

mod common;
use common::{Frames, interop_message as message, reversed as reply};

/// Bound of every test.
const BOUND: Duration = Duration::from_secs(30);
/// How long one operation may wait before it fails.
const OP_TIMEOUT: Duration = Duration::from_secs(10);
/// Messages per exchange.
const N: usize = 300;

type Res<T> = Result<T, String>;

fn native(kind: zmq::SocketType) -> Socket {
    let s = Socket::new(kind).unwrap();
    s.set_recv_timeout(Some(OP_TIMEOUT));
    s.set_send_timeout(Some(OP_TIMEOUT));
    s
}

fn blocking(ctx: &zmq::Context, kind: zmq::SocketType) -> zmq::Socket {
    let s = ctx.socket(kind).unwrap();
    s.set_rcvtimeo(OP_TIMEOUT.as_millis() as i32).unwrap();
    s.set_sndtimeo(OP_TIMEOUT.as_millis() as i32).unwrap();
    s.set_linger(1000).unwrap();
    s
}

/// A libzmq socket bound here (to a free port) and run by `f` in another
/// thread; returns the thread and the endpoint.
fn libzmq_bound(
    kind: zmq::SocketType,
    setup: impl FnOnce(&zmq::Socket),
    f: impl FnOnce(zmq::Socket) -> Res<()> + Send + 'static,
) -> (JoinHandle<Res<()>>, String) {
    let ctx = zmq::Context::new();
    let s = blocking(&ctx, kind);
    setup(&s);
    s.bind("tcp://127.0.0.1:*").unwrap();
    let endpoint = s.get_last_endpoint().unwrap().unwrap();
    let t = thread::spawn(move || {
        let r = f(s);
        drop(ctx);
        r
    });
    (t, endpoint)
}

/// A libzmq socket that connects to `endpoint`, run by `f` in another
/// thread.
fn libzmq_connected(
    kind: zmq::SocketType,
    endpoint: &str,
    setup: impl FnOnce(&zmq::Socket) + Send + 'static,
    f: impl FnOnce(zmq::Socket) -> Res<()> + Send + 'static,
) -> JoinHandle<Res<()>> {
    let endpoint = endpoint.to_string();
    thread::spawn(move || {
        let ctx = zmq::Context::new();
        let s = blocking(&ctx, kind);
        setup(&s);
        s.connect(&endpoint).map_err(|e| e.to_string())?;
        f(s)
    })
}

fn join(t: JoinHandle<Res<()>>) {
    t.join()
        .expect("libzmq thread panicked")
        .expect("libzmq side failed");
}

fn check(got: Frames, want: Frames, what: &str) -> Res<()> {
    if got == want {
        Ok(())
    } else {
        Err(format!(
            "{what}: got {} frames {:?}, want {:?}",
            got.len(),
            trunc(&got),
            trunc(&want)
        ))
    }
}

fn trunc(f: &Frames) -> Vec<String> {
    f.iter()
        .map(|x| String::from_utf8_lossy(&x[..x.len().min(16)]).into_owned())
        .collect()
}

fn recv_all(s: &zmq::Socket) -> Res<Frames> {
    s.recv_multipart(0).map_err(|e| e.to_string())
}

fn send_all(s: &zmq::Socket, frames: Frames) -> Res<()> {
    s.send_multipart(frames, 0).map_err(|e| e.to_string())
}

// ------------------------------------------------------------ PUSH/PULL

/// Answers `N` exchanges on a libzmq socket: receives message `i`,
/// checks it, sends its reply.
fn libzmq_echo(s: &zmq::Socket, what: &str) -> Res<()> {
    for i in 0..N {
        let got = recv_all(s)?;
        check(got.clone(), message(i), what)?;
        send_all(s, reply(&got))?;
    }
    Ok(())
}

/// Asks `N` exchanges from a libzmq socket: sends message `i`, checks
/// the reply.
fn libzmq_ask(s: &zmq::Socket, what: &str) -> Res<()> {
    for i in 0..N {
        send_all(s, message(i))?;
        check(recv_all(s)?, reply(&message(i)), what)?;
    }
    Ok(())
}

/// [`libzmq_echo`] on a native socket.
fn native_echo(s: &Socket) {
    for i in 0..N {
        let got = s.recv_multipart(0).unwrap();
        assert_eq!(got, message(i));
        s.send_multipart(reply(&got), 0).unwrap();
    }
}

/// [`libzmq_ask`] on a native socket.
fn native_ask(s: &Socket) {
    for i in 0..N {
        s.send_multipart(message(i), 0).unwrap();
        assert_eq!(s.recv_multipart(0).unwrap(), reply(&message(i)));
    }
}

#[test]
fn native_push_binds_libzmq_pull_connects() {
    let _t = Timeout::start_new(BOUND);
    let push = native(zmq::PUSH);
    push.bind("tcp://127.0.0.1:*").unwrap();
    let ep = push.last_endpoint().unwrap();
    let t = libzmq_connected(
        zmq::PULL,
        &ep,
        |_| {},
        |s| {
            for i in 0..N {
                check(recv_all(&s)?, message(i), "pull")?;
            }
            Ok(())
        },
    );
    for i in 0..N {
        push.send_multipart(message(i), 0).unwrap();
    }
    // Keep the hub running until the peer has everything.
    while !t.is_finished() {
        zgreen::sleep(Duration::from_millis(5)).unwrap();
    }
    join(t);
}

#[test]
fn native_pull_connects_libzmq_push_binds() {
    let _t = Timeout::start_new(BOUND);
    let (t, ep) = libzmq_bound(
        zmq::PUSH,
        |_| {},
        |s| {
            for i in 0..N {
                send_all(&s, message(i))?;
            }
            Ok(())
        },
    );
    let pull = native(zmq::PULL);
    pull.connect(&ep).unwrap();
    for i in 0..N {
        assert_eq!(pull.recv_multipart(0).unwrap(), message(i));
    }
    join(t);
    assert!(matches!(
        pull.send("x", 0),
        Err(zgreen::Error::Zmq(zmq::Error::ENOTSUP))
    ));
}

// --------------------------------------------------------- DEALER/ROUTER

#[test]
fn native_router_binds_libzmq_dealer_connects() {
    let _t = Timeout::start_new(BOUND);
    let router = native(zmq::ROUTER);
    router.bind("tcp://127.0.0.1:*").unwrap();
    let ep = router.last_endpoint().unwrap();
    let t = libzmq_connected(
        zmq::DEALER,
        &ep,
        |s| s.set_identity(b"dealer-1").unwrap(),
        |s| libzmq_ask(&s, "dealer"),
    );
    for i in 0..N {
        let mut got = router.recv_multipart(0).unwrap();
        assert_eq!(got.remove(0), b"dealer-1");
        assert_eq!(got, message(i));
        let mut out = vec![b"dealer-1".to_vec()];
        out.extend(reply(&got));
        router.send_multipart(out, 0).unwrap();
    }
    join(t);
}

#[test]
fn native_dealer_connects_libzmq_router_binds() {
    let _t = Timeout::start_new(BOUND);
    let (t, ep) = libzmq_bound(
        zmq::ROUTER,
        |_| {},
        |s| {
            for i in 0..N {
                let mut got = recv_all(&s)?;
                let id = got.remove(0);
                if id != b"native-dealer" {
                    return Err(format!("identity {id:?}"));
                }
                check(got.clone(), message(i), "router")?;
                let mut out = vec![id];
                out.extend(reply(&got));
                send_all(&s, out)?;
            }
            Ok(())
        },
    );
    let dealer = native(zmq::DEALER);
    dealer.set_identity(b"native-dealer").unwrap();
    dealer.connect(&ep).unwrap();
    native_ask(&dealer);
    join(t);
}

// ------------------------------------------------------------------ PAIR

#[test]
fn pair_both_ways() {
    let _t = Timeout::start_new(BOUND);
    // libzmq binds, native connects.
    let (t, ep) = libzmq_bound(zmq::PAIR, |_| {}, |s| libzmq_echo(&s, "pair"));
    let pair = native(zmq::PAIR);
    pair.connect(&ep).unwrap();
    native_ask(&pair);
    join(t);
    // Native binds, libzmq connects.
    let pair = native(zmq::PAIR);
    pair.bind("tcp://127.0.0.1:*").unwrap();
    let t = libzmq_connected(
        zmq::PAIR,
        &pair.last_endpoint().unwrap(),
        |_| {},
        |s| libzmq_ask(&s, "pair"),
    );
    native_echo(&pair);
    join(t);
}

// --------------------------------------------------------------- REQ/REP

#[test]
fn native_req_connects_libzmq_rep_binds() {
    let _t = Timeout::start_new(BOUND);
    let (t, ep) = libzmq_bound(zmq::REP, |_| {}, |s| libzmq_echo(&s, "rep"));
    let req = native(zmq::REQ);
    req.connect(&ep).unwrap();
    assert!(matches!(
        req.recv_bytes(0),
        Err(zgreen::Error::Zmq(zmq::Error::EFSM))
    ));
    for i in 0..N {
        req.send_multipart(message(i), 0).unwrap();
        assert!(matches!(
            req.send("again", 0),
            Err(zgreen::Error::Zmq(zmq::Error::EFSM))
        ));
        assert_eq!(req.recv_multipart(0).unwrap(), reply(&message(i)));
    }
    join(t);
}

#[test]
fn native_rep_binds_libzmq_req_connects() {
    let _t = Timeout::start_new(BOUND);
    let rep = native(zmq::REP);
    rep.bind("tcp://127.0.0.1:*").unwrap();
    let ep = rep.last_endpoint().unwrap();
    let clients: Vec<_> = (0..3)
        .map(|c| {
            libzmq_connected(
                zmq::REQ,
                &ep,
                |_| {},
                move |s| {
                    for i in 0..N / 3 {
                        let mut m = message(i);
                        m.push(format!("client {c}").into_bytes());
                        send_all(&s, m.clone())?;
                        check(recv_all(&s)?, reply(&m), "req")?;
                    }
                    Ok(())
                },
            )
        })
        .collect();
    for _ in 0..(N / 3) * 3 {
        let got = rep.recv_multipart(0).unwrap();
        rep.send_multipart(reply(&got), 0).unwrap();
    }
    for t in clients {
        join(t);
    }
}

// --------------------------------------------------------------- PUB/SUB

#[test]
fn native_pub_binds_libzmq_sub_filters_by_forwarded_subscription() {
    let _t = Timeout::start_new(BOUND);
    let publisher = native(zmq::PUB);
    publisher.bind("tcp://127.0.0.1:*").unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let t = libzmq_connected(
        zmq::SUB,
        &publisher.last_endpoint().unwrap(),
        |s| s.set_subscribe(b"A").unwrap(),
        move |s| {
            let r = (|| {
                for _ in 0..20 {
                    let got = recv_all(&s)?;
                    if !got[0].starts_with(b"A") {
                        return Err(format!("unsubscribed topic {:?}", trunc(&got)));
                    }
                }
                Ok(())
            })();
            d.store(true, Ordering::SeqCst);
            r
        },
    );
    let mut i = 0;
    while !done.load(Ordering::SeqCst) {
        publisher
            .send_multipart([format!("B {i}").into_bytes()], 0)
            .unwrap();
        publisher
            .send_multipart([format!("A {i}").into_bytes(), b"body".to_vec()], 0)
            .unwrap();
        i += 1;
        zgreen::sleep(Duration::from_millis(2)).unwrap();
    }
    join(t);
}

#[test]
fn native_sub_connects_libzmq_pub_binds() {
    let _t = Timeout::start_new(BOUND);
    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    let (t, ep) = libzmq_bound(
        zmq::PUB,
        |_| {},
        move |s| {
            let mut i = 0;
            while !st.load(Ordering::SeqCst) {
                send_all(&s, vec![format!("news {i}").into_bytes()])?;
                send_all(&s, vec![format!("noise {i}").into_bytes()])?;
                i += 1;
                thread::sleep(Duration::from_millis(2));
            }
            Ok(())
        },
    );
    let sub = native(zmq::SUB);
    sub.subscribe("news").unwrap();
    sub.connect(&ep).unwrap();
    for _ in 0..20 {
        let got = sub.recv_multipart(0).unwrap();
        assert!(got[0].starts_with(b"news"), "{got:?}");
    }
    stop.store(true, Ordering::SeqCst);
    join(t);
    assert!(matches!(
        sub.send("x", 0),
        Err(zgreen::Error::Zmq(zmq::Error::ENOTSUP))
    ));
}

#[test]
fn native_xpub_reports_libzmq_subscriptions() {
    let _t = Timeout::start_new(BOUND);
    let xpub = native(zmq::XPUB);
    xpub.bind("tcp://127.0.0.1:*").unwrap();
    let t = libzmq_connected(
        zmq::SUB,
        &xpub.last_endpoint().unwrap(),
        |s| s.set_subscribe(b"topic").unwrap(),
        |s| {
            check(recv_all(&s)?, vec![b"topic 1".to_vec()], "sub")?;
            s.set_unsubscribe(b"topic").map_err(|e| e.to_string())?;
            // Keep the connection until the cancel has gone out.
            thread::sleep(Duration::from_millis(300));
            Ok(())
        },
    );
    assert_eq!(xpub.recv_bytes(0).unwrap(), b"\x01topic");
    xpub.send("other", 0).unwrap();
    xpub.send("topic 1", 0).unwrap();
    assert_eq!(xpub.recv_bytes(0).unwrap(), b"\x00topic");
    join(t);
}

#[test]
fn native_xsub_subscribes_upstream_to_libzmq_pub() {
    let _t = Timeout::start_new(BOUND);
    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    let (t, ep) = libzmq_bound(
        zmq::PUB,
        |_| {},
        move |s| {
            while !st.load(Ordering::SeqCst) {
                send_all(&s, vec![b"t1 data".to_vec()])?;
                send_all(&s, vec![b"zz data".to_vec()])?;
                thread::sleep(Duration::from_millis(2));
            }
            Ok(())
        },
    );
    let xsub = native(zmq::XSUB);
    xsub.connect(&ep).unwrap();
    xsub.send(b"\x01t1", 0).unwrap();
    for _ in 0..10 {
        assert_eq!(xsub.recv_bytes(0).unwrap(), b"t1 data");
    }
    stop.store(true, Ordering::SeqCst);
    join(t);
}

// ------------------------------------------------- native to native, ipc

#[test]
fn native_to_native_over_ipc() {
    let _t = Timeout::start_new(BOUND);
    let dir = zgreen_harness::fresh_temp_dir("zgreen-native", "ipc");
    let ep = format!("ipc://{}", dir.join("rep.sock").display());
    let rep = native(zmq::REP);
    rep.bind(&ep).unwrap();
    let server = zgreen::spawn(move || -> zgreen::Result<()> {
        for _ in 0..N {
            let got = rep.recv_multipart(0)?;
            rep.send_multipart(reply(&got), 0)?;
        }
        Ok(())
    });
    let req = native(zmq::REQ);
    req.connect(&ep).unwrap();
    native_ask(&req);
    server.get().unwrap().unwrap();
}

#[test]
fn libzmq_over_ipc_both_ways() {
    let _t = Timeout::start_new(BOUND);
    let dir = zgreen_harness::fresh_temp_dir("zgreen-native", "ipc-libzmq");
    let ep = format!("ipc://{}", dir.join("pull.sock").display());
    let pull = native(zmq::PULL);
    pull.bind(&ep).unwrap();
    let t = libzmq_connected(
        zmq::PUSH,
        &ep,
        |_| {},
        |s| {
            for i in 0..N {
                send_all(&s, message(i))?;
            }
            Ok(())
        },
    );
    for i in 0..N {
        assert_eq!(pull.recv_multipart(0).unwrap(), message(i));
    }
    join(t);
}

#[test]
fn unsupported_things_fail_clearly() {
    assert!(matches!(
        Socket::new(zmq::STREAM),
        Err(zgreen::Error::Zmq(zmq::Error::ENOTSUP))
    ));
    let s = native(zmq::PUSH);
    assert!(matches!(
        s.bind("inproc://x"),
        Err(zgreen::Error::Zmq(zmq::Error::EPROTONOSUPPORT))
    ));
    assert!(matches!(
        s.connect("ipc://@abstract"),
        Err(zgreen::Error::Zmq(zmq::Error::EPROTONOSUPPORT))
    ));
    assert!(matches!(
        s.connect("tcp://nowhere"),
        Err(zgreen::Error::Zmq(zmq::Error::EINVAL))
    ));
    let ctx = zgreen::zmq::Context::new();
    assert_eq!(ctx.native_socket(zmq::PULL).unwrap().kind(), zmq::PULL);
    s.close().unwrap();
    assert!(matches!(s.send("x", 0), Err(zgreen::Error::SocketClosed)));
}

// ------------------------------------------------- against another process

/// Turns this test binary into a child peer (see [`child_peer`]).
const CHILD_ENV: &str = "ZGREEN_NATIVE_CHILD";

/// The child-process peer: with `CHILD_ENV` set to `ROLE ENDPOINT`, this
/// test plays ROLE with a blocking libzmq socket and exits; without the
/// variable it does nothing.
#[test]
fn child_peer() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (role, endpoint) = spec.split_once(' ').unwrap();
    let ctx = zmq::Context::new();
    let result: Res<()> = match role {
        // Connects, sends N requests, checks the replies.
        "req" => {
            let s = blocking(&ctx, zmq::REQ);
            s.connect(endpoint).unwrap();
            (0..N).try_for_each(|i| {
                send_all(&s, message(i))?;
                check(recv_all(&s)?, reply(&message(i)), "child req")
            })
        }
        // Binds, echoes N messages reversed to their sender.
        "router" => {
            let s = blocking(&ctx, zmq::ROUTER);
            s.bind(endpoint).unwrap();
            (0..N).try_for_each(|i| {
                let mut got = recv_all(&s)?;
                let id = got.remove(0);
                check(got.clone(), message(i), "child router")?;
                let mut out = vec![id];
                out.extend(reply(&got));
                send_all(&s, out)
            })
        }
        // Connects, receives N messages.
        "pull" => {
            let s = blocking(&ctx, zmq::PULL);
            s.connect(endpoint).unwrap();
            (0..N).try_for_each(|i| check(recv_all(&s)?, message(i), "child pull"))
        }
        // "ENDPOINT SECRET_Z85": binds a CURVE server REP, echoes N
        // messages reversed.
        "curve-rep" => {
            let (endpoint, secret) = endpoint.split_once(' ').unwrap();
            let s = blocking(&ctx, zmq::REP);
            s.set_curve_server(true).unwrap();
            s.set_curve_secretkey(&zmq::z85_decode(secret).unwrap()).unwrap();
            s.bind(endpoint).unwrap();
            (0..N).try_for_each(|i| {
                let got = recv_all(&s)?;
                check(got.clone(), message(i), "child curve-rep")?;
                send_all(&s, reply(&got))
            })
        }
        other => Err(format!("unknown role {other}")),
    };
    result.unwrap_or_else(|e| panic!("child {role} failed: {e}"));
}

/// Starts this binary as a child peer; it is killed and reaped if the test
/// fails first.
fn start_child(role: &str, endpoint: &str) -> zgreen_harness::ChildGuard {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "child_peer", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, format!("{role} {endpoint}"))
        .stdin(std::process::Stdio::null());
    zgreen_harness::ChildGuard::spawn(&mut cmd).expect("re-execute the test binary")
}

/// Runs the hub (polling) until the child exits; asserts it succeeded.
fn wait_child(mut child: zgreen_harness::ChildGuard) {
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "child failed: {status}");
            return;
        }
        zgreen::sleep(Duration::from_millis(5)).unwrap();
    }
}

#[test]
fn native_rep_serves_libzmq_req_in_another_process() {
    let _t = Timeout::start_new(BOUND);
    let rep = native(zmq::REP);
    rep.bind("tcp://127.0.0.1:*").unwrap();
    let child = start_child("req", &rep.last_endpoint().unwrap());
    for _ in 0..N {
        let got = rep.recv_multipart(0).unwrap();
        rep.send_multipart(reply(&got), 0).unwrap();
    }
    wait_child(child);
}

#[test]
fn native_dealer_talks_to_libzmq_router_in_another_process() {
    let _t = Timeout::start_new(BOUND);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ep = format!("tcp://127.0.0.1:{port}");
    let child = start_child("router", &ep);
    let dealer = native(zmq::DEALER);
    dealer.set_reconnect_ivl(Duration::from_millis(20));
    dealer.connect(&ep).unwrap();
    native_ask(&dealer);
    wait_child(child);
}

// ------------------------------------------------------------ mixed broker

/// A queue device (`native::proxy`) with a native ROUTER front-end and a
/// green libzmq DEALER back-end: blocking libzmq REQ clients and REP
/// workers on other threads.
#[test]
fn mixed_broker_native_front_libzmq_back() {
    let _t = Timeout::start_new(BOUND);
    let front = native(zmq::ROUTER);
    front.bind("tcp://127.0.0.1:*").unwrap();
    let back = zgreen::zmq::Context::new().socket(zmq::DEALER).unwrap();
    back.set_recv_timeout(Some(OP_TIMEOUT));
    back.bind("tcp://127.0.0.1:*").unwrap();
    let (front_ep, back_ep) = (front.last_endpoint().unwrap(), back.last_endpoint().unwrap());
    // native::proxy over two transports: native ROUTER, libzmq DEALER.
    let device = zgreen::spawn(move || zgreen::zmq::native::proxy(&front, &back));
    const CLIENTS: usize = 3;
    const EACH: usize = 50;
    let workers: Vec<_> = (0..2)
        .map(|w| {
            libzmq_connected(
                zmq::REP,
                &back_ep,
                |_| {},
                move |s| {
                    // Serve until no request came for a while.
                    while let Ok(mut m) = s.recv_multipart(0) {
                        m.push(format!("worker {w}").into_bytes());
                        send_all(&s, m)?;
                        s.set_rcvtimeo(1000).map_err(|e| e.to_string())?;
                    }
                    Ok(())
                },
            )
        })
        .collect();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            libzmq_connected(
                zmq::REQ,
                &front_ep,
                |_| {},
                move |s| {
                    for i in 0..EACH {
                        let m = vec![format!("client {c} req {i}").into_bytes()];
                        send_all(&s, m.clone())?;
                        let got = recv_all(&s)?;
                        if got[0] != m[0] || !got[1].starts_with(b"worker ") {
                            return Err(format!("bad reply {:?}", trunc(&got)));
                        }
                    }
                    Ok(())
                },
            )
        })
        .collect();
    for c in clients {
        while !c.is_finished() {
            zgreen::sleep(Duration::from_millis(5)).unwrap();
        }
        join(c);
    }
    for w in workers {
        while !w.is_finished() {
            zgreen::sleep(Duration::from_millis(5)).unwrap();
        }
        join(w);
    }
    device.kill().unwrap();
}

#[test]
fn host_names_and_wildcards() {
    let _t = Timeout::start_new(BOUND);
    let pull = native(zmq::PULL);
    pull.bind("tcp://*:*").unwrap();
    let ep = pull.last_endpoint().unwrap();
    assert!(ep.starts_with("tcp://0.0.0.0:"), "{ep}");
    let port = ep.rsplit_once(':').unwrap().1;
    let push = native(zmq::PUSH);
    // A name, resolved off the hub; ::1 (if first) is refused, then
    // 127.0.0.1 is tried.
    push.connect(&format!("tcp://localhost:{port}")).unwrap();
    push.send("by name", 0).unwrap();
    assert_eq!(pull.recv_bytes(0).unwrap(), b"by name");
}

#[test]
fn native_push_feeds_libzmq_pull_in_another_process() {
    let _t = Timeout::start_new(BOUND);
    let push = native(zmq::PUSH);
    push.bind("tcp://127.0.0.1:*").unwrap();
    let child = start_child("pull", &push.last_endpoint().unwrap());
    for i in 0..N {
        push.send_multipart(message(i), 0).unwrap();
    }
    wait_child(child);
}

#[test]
fn native_curve_req_against_libzmq_curve_rep_in_another_process() {
    let _t = Timeout::start_new(BOUND);
    let server = zgreen::zmq::keys::KeyPair::generate().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ep = format!("tcp://127.0.0.1:{port}");
    let secret = zmq::z85_encode(server.secret_bytes()).unwrap();
    let child = start_child("curve-rep", &format!("{ep} {secret}"));
    let req = native(zmq::REQ);
    req.set_reconnect_ivl(Duration::from_millis(20));
    req.set_curve_serverkey(&server.public.0).unwrap();
    req.set_curve_secretkey(zgreen::zmq::keys::KeyPair::generate().unwrap().secret_bytes())
        .unwrap();
    req.connect(&ep).unwrap();
    native_ask(&req);
    wait_child(child);
}
