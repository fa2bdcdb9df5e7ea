//! Native (green ZMTP) sockets against hostile, stalled and vanishing
//! peers: bad greetings, oversized frames, a handshake that stalls, a peer
//! that stops reading (SNDHWM), a socket that stops receiving (RCVHWM),
//! heartbeats, and reconnecting.
//!
//! The hostile peers are raw TCP sockets in other OS threads that speak
//! as much ZMTP as each test needs (a NULL greeting and READY written by
//! hand); the well-behaved ones are blocking libzmq sockets.
//!
//! Every test is bounded: a `Timeout` scope on the test's thread, timeouts
//! on every socket.
#![cfg(feature = "native")]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use zgreen::zmq::native::Socket;
use zgreen::{Error, Timeout};

const BOUND: Duration = Duration::from_secs(30);
const OP_TIMEOUT: Duration = Duration::from_secs(10);

fn native(kind: zmq::SocketType) -> Socket {
    let s = Socket::new(kind).unwrap();
    s.set_recv_timeout(Some(OP_TIMEOUT));
    s.set_send_timeout(Some(OP_TIMEOUT));
    s
}

fn tcp_addr(endpoint: &str) -> String {
    endpoint.trim_start_matches("tcp://").to_string()
}

/// A ZMTP 3.1 NULL greeting (as client).
fn greeting() -> Vec<u8> {
    let mut g = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0x7F, 3, 1];
    let mut mech = b"NULL".to_vec();
    mech.resize(20, 0);
    g.extend(mech);
    g.push(0);
    g.resize(64, 0);
    g
}

/// A READY command announcing `socket_type`.
fn ready(socket_type: &str) -> Vec<u8> {
    let mut body = vec![5];
    body.extend(b"READY");
    body.push(11);
    body.extend(b"Socket-Type");
    body.extend((socket_type.len() as u32).to_be_bytes());
    body.extend(socket_type.as_bytes());
    let mut frame = vec![0x04, body.len() as u8];
    frame.extend(body);
    frame
}

/// Writes greeting + READY and reads the peer's greeting and READY.
fn raw_handshake(s: &mut TcpStream, socket_type: &str) -> std::io::Result<()> {
    s.write_all(&greeting())?;
    s.write_all(&ready(socket_type))?;
    let mut g = [0u8; 64];
    s.read_exact(&mut g)?;
    let mut header = [0u8; 2];
    s.read_exact(&mut header)?;
    let mut body = vec![0u8; header[1] as usize];
    s.read_exact(&mut body)?;
    assert_eq!(&body[..6], b"\x05READY");
    Ok(())
}

/// Reads until end of file or an error (a reset): true if the peer closed
/// within `within`.
fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
}

/// A libzmq PUSH that connects to `endpoint` and sends `n` messages
/// ("good i"), proving a socket under attack still serves others.
fn good_pusher(endpoint: &str, n: usize) -> JoinHandle<()> {
    let endpoint = endpoint.to_string();
    thread::spawn(move || {
        let ctx = zmq::Context::new();
        let s = ctx.socket(zmq::PUSH).unwrap();
        s.set_sndtimeo(10_000).unwrap();
        s.set_linger(1000).unwrap();
        s.connect(&endpoint).unwrap();
        for i in 0..n {
            s.send(format!("good {i}").as_bytes(), 0).unwrap();
        }
    })
}

fn recv_good(pull: &Socket, n: usize) {
    for i in 0..n {
        assert_eq!(pull.recv_bytes(0).unwrap(), format!("good {i}").into_bytes());
    }
}

/// Keeps the hub running (on the test's thread) until `t` finished.
fn wait_thread<T>(t: JoinHandle<T>) -> T {
    while !t.is_finished() {
        zgreen::sleep(Duration::from_millis(5)).unwrap();
    }
    t.join().expect("peer thread panicked")
}

#[test]
fn bad_greeting_is_dropped_and_others_are_served() {
    let _t = Timeout::start_new(BOUND);
    let pull = native(zmq::PULL);
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let ep = pull.last_endpoint().unwrap();
    let addr = tcp_addr(&ep);
    let hostile = thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        s.write_all(&[0u8; 64]).unwrap();
        closed_within(&mut s, Duration::from_secs(5))
    });
    let good = good_pusher(&ep, 50);
    recv_good(&pull, 50);
    assert!(wait_thread(hostile), "the bad greeting was not dropped");
    wait_thread(good);
}

#[test]
fn oversized_frame_is_refused_at_the_header() {
    let _t = Timeout::start_new(BOUND);
    let pull = native(zmq::PULL);
    pull.set_maxmsgsize(Some(1000));
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let ep = pull.last_endpoint().unwrap();
    let addr = tcp_addr(&ep);
    let hostile = thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        raw_handshake(&mut s, "PUSH").unwrap();
        // A long frame announcing 1 GiB, then a little of it.
        let mut frame = vec![0x02];
        frame.extend((1u64 << 30).to_be_bytes());
        frame.extend([7u8; 100]);
        s.write_all(&frame).unwrap();
        closed_within(&mut s, Duration::from_secs(5))
    });
    assert!(wait_thread(hostile), "the oversized frame was not refused");
    // The socket still serves well-behaved peers.
    let good = good_pusher(&ep, 20);
    recv_good(&pull, 20);
    wait_thread(good);
    assert!(matches!(
        pull.recv_bytes(zmq::DONTWAIT),
        Err(Error::Zmq(zmq::Error::EAGAIN))
    ));
}

#[test]
fn stalled_handshake_is_closed_after_handshake_ivl() {
    let _t = Timeout::start_new(BOUND);
    let pull = native(zmq::PULL);
    pull.set_handshake_ivl(Duration::from_millis(300));
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let ep = pull.last_endpoint().unwrap();
    let stallers: Vec<_> = [10usize, 0, 64]
        .into_iter()
        .map(|sent| {
            let addr = tcp_addr(&ep);
            thread::spawn(move || {
                let start = Instant::now();
                let mut s = TcpStream::connect(addr).unwrap();
                s.write_all(&greeting()[..sent]).unwrap();
                let closed = closed_within(&mut s, Duration::from_secs(5));
                (closed, start.elapsed())
            })
        })
        .collect();
    let good = good_pusher(&ep, 50);
    recv_good(&pull, 50);
    wait_thread(good);
    for s in stallers {
        let (closed, after) = wait_thread(s);
        assert!(closed, "a stalled handshake was not closed");
        assert!(after >= Duration::from_millis(250), "closed too early: {after:?}");
        assert!(after < Duration::from_secs(3), "closed too late: {after:?}");
    }
}

#[test]
fn sndhwm_bounds_what_a_stalled_reader_pins() {
    let _t = Timeout::start_new(BOUND);
    let push = native(zmq::PUSH);
    push.set_sndhwm(10);
    push.bind("tcp://127.0.0.1:*").unwrap();
    let addr = tcp_addr(&push.last_endpoint().unwrap());
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let stalled = thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        raw_handshake(&mut s, "PULL").unwrap();
        // Never read; hold the connection until the test is done.
        let _ = rx.recv_timeout(Duration::from_secs(20));
    });
    while push.peer_count() == 0 {
        zgreen::sleep(Duration::from_millis(5)).unwrap();
    }
    let body = vec![b'x'; 100 * 1024];
    let mut sent = 0;
    let err = loop {
        match push.send_timeout(&body, 0, Duration::from_millis(300)) {
            Ok(()) => sent += 1,
            Err(e) => break e,
        }
        assert!(sent < 1000, "sends never blocked: the queue is unbounded");
    };
    assert!(err.is_timeout(), "{err:?}");
    // What the kernel's buffers hold, one batch in the codec, and SNDHWM.
    assert!(sent >= 10, "blocked before SNDHWM: {sent}");
    assert!(
        sent < 200,
        "{sent} messages of 100 KiB taken for a peer that reads nothing"
    );
    // DONTWAIT says so at once.
    assert!(matches!(
        push.send(&body, zmq::DONTWAIT),
        Err(Error::Zmq(zmq::Error::EAGAIN))
    ));
    tx.send(()).unwrap();
    wait_thread(stalled);
}

#[test]
fn rcvhwm_pushes_back_on_the_sender_and_loses_nothing() {
    let _t = Timeout::start_new(BOUND);
    let pull = native(zmq::PULL);
    pull.set_rcvhwm(5);
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let ep = pull.last_endpoint().unwrap();
    let sent = Arc::new(AtomicUsize::new(0));
    let s2 = sent.clone();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let pusher = thread::spawn(move || {
        let ctx = zmq::Context::new();
        let s = ctx.socket(zmq::PUSH).unwrap();
        s.set_sndhwm(5).unwrap();
        s.set_sndtimeo(500).unwrap();
        s.set_linger(5000).unwrap();
        s.connect(&ep).unwrap();
        let body = vec![b'y'; 64 * 1024];
        for i in 0..10_000usize {
            let mut m = i.to_be_bytes().to_vec();
            m.extend(&body);
            if s.send(m, 0).is_err() {
                break;
            }
            s2.fetch_add(1, Ordering::SeqCst);
        }
        s2.fetch_add(1 << 32, Ordering::SeqCst);
        // Stay until everything was received (LINGER would drop the rest).
        let _ = done_rx.recv_timeout(Duration::from_secs(20));
    });
    // Not receiving: the sender must block well before 10 000 x 64 KiB.
    while sent.load(Ordering::SeqCst) < 1 << 32 {
        zgreen::sleep(Duration::from_millis(5)).unwrap();
    }
    let n = sent.load(Ordering::SeqCst) & 0xFFFF_FFFF;
    assert!(n < 10_000, "the sender never felt back-pressure");
    for i in 0..n {
        let m = pull.recv_bytes(0).unwrap();
        assert_eq!(m[..8], i.to_be_bytes(), "message {i} lost or reordered");
    }
    done_tx.send(()).unwrap();
    wait_thread(pusher);
}

#[test]
fn silent_peer_is_dropped_by_heartbeat_and_reconnected() {
    let _t = Timeout::start_new(BOUND);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        // First connection: handshake, then silence (no PONG).
        let (mut s, _) = listener.accept().unwrap();
        raw_handshake(&mut s, "ROUTER").unwrap();
        let start = Instant::now();
        let closed = closed_within(&mut s, Duration::from_secs(5));
        let after = start.elapsed();
        // The native socket reconnects.
        listener.set_nonblocking(false).unwrap();
        let (mut again, _) = listener.accept().unwrap();
        raw_handshake(&mut again, "ROUTER").unwrap();
        (closed, after)
    });
    let dealer = native(zmq::DEALER);
    dealer.set_heartbeat_ivl(Some(Duration::from_millis(100)));
    dealer.set_heartbeat_timeout(Some(Duration::from_millis(300)));
    dealer.set_reconnect_ivl(Duration::from_millis(50));
    dealer.connect(&format!("tcp://{addr}")).unwrap();
    let (closed, after) = wait_thread(server);
    assert!(closed, "a peer that never answered PINGs was kept");
    assert!(after < Duration::from_secs(2), "dropped too late: {after:?}");
}

#[test]
fn heartbeats_with_libzmq_keep_the_connection() {
    let _t = Timeout::start_new(BOUND);
    let ctx = zmq::Context::new();
    let peer = ctx.socket(zmq::PAIR).unwrap();
    peer.set_rcvtimeo(10_000).unwrap();
    peer.set_sndtimeo(10_000).unwrap();
    peer.bind("tcp://127.0.0.1:*").unwrap();
    let ep = peer.get_last_endpoint().unwrap().unwrap();
    peer.monitor("inproc://native-hb-monitor", zmq::SocketEvent::ALL as i32)
        .unwrap();
    let mon = ctx.socket(zmq::PAIR).unwrap();
    mon.set_rcvtimeo(100).unwrap();
    mon.connect("inproc://native-hb-monitor").unwrap();
    let pair = native(zmq::PAIR);
    pair.set_heartbeat_ivl(Some(Duration::from_millis(50)));
    pair.set_heartbeat_timeout(Some(Duration::from_millis(200)));
    pair.connect(&ep).unwrap();
    pair.send("hello", 0).unwrap();
    // Idle for many heartbeat timeouts, the hub running.
    zgreen::sleep(Duration::from_millis(1000)).unwrap();
    pair.send("still here", 0).unwrap();
    let t = thread::spawn(move || {
        let a = peer.recv_bytes(0).unwrap();
        let b = peer.recv_bytes(0).unwrap();
        let mut accepted = 0;
        while let Ok(ev) = mon.recv_bytes(0) {
            if mon.get_rcvmore().unwrap() {
                let _ = mon.recv_bytes(0);
            }
            if u16::from_le_bytes([ev[0], ev[1]]) == zmq::SocketEvent::ACCEPTED as u16 {
                accepted += 1;
            }
        }
        (a, b, accepted)
    });
    let (a, b, accepted) = wait_thread(t);
    assert_eq!(a, b"hello");
    assert_eq!(b, b"still here");
    assert_eq!(accepted, 1, "the connection was dropped and remade");
}

#[test]
fn connect_before_bind_and_reconnect_after_the_peer_restarts() {
    let _t = Timeout::start_new(BOUND);
    // A free port: bind, note it, let it go.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ep = format!("tcp://127.0.0.1:{port}");
    let push = native(zmq::PUSH);
    push.set_reconnect_ivl(Duration::from_millis(20));
    push.set_reconnect_ivl_max(Some(Duration::from_millis(200)));
    push.connect(&ep).unwrap();
    let run_peer = |expect: Vec<&'static str>| {
        let ep = ep.clone();
        thread::spawn(move || {
            let ctx = zmq::Context::new();
            let s = ctx.socket(zmq::PULL).unwrap();
            s.set_rcvtimeo(10_000).unwrap();
            s.set_linger(0).unwrap();
            s.bind(&ep).unwrap();
            for want in expect {
                assert_eq!(s.recv_bytes(0).unwrap(), want.as_bytes());
            }
        })
    };
    // Sent before anyone listens: waits for the peer (send parks).
    let first = run_peer(vec!["one", "two"]);
    push.send("one", 0).unwrap();
    push.send("two", 0).unwrap();
    wait_thread(first);
    // The peer goes away; the native socket notices and reconnects to
    // the next one on the same port.
    while push.peer_count() != 0 {
        zgreen::sleep(Duration::from_millis(5)).unwrap();
    }
    let second = run_peer(vec!["three"]);
    push.send("three", 0).unwrap();
    wait_thread(second);
}

#[test]
fn incompatible_socket_type_is_refused() {
    let _t = Timeout::start_new(BOUND);
    let push = native(zmq::PUSH);
    push.bind("tcp://127.0.0.1:*").unwrap();
    let addr = tcp_addr(&push.last_endpoint().unwrap());
    let t = thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(&greeting()).unwrap();
        // PUSH to PUSH is not a valid pairing (RFC 28).
        s.write_all(&ready("PUSH")).unwrap();
        closed_within(&mut s, Duration::from_secs(5))
    });
    assert!(wait_thread(t), "a PUSH peer of a PUSH socket was kept");
    assert_eq!(push.peer_count(), 0);
}

/// Seeded garbage after a valid handshake: each connection is dropped (or
/// its bytes happen to be valid frames), the socket never panics, and a
/// well-behaved peer is served afterwards.
#[test]
fn garbage_after_the_handshake_never_disturbs_the_socket() {
    let _t = Timeout::start_new(BOUND);
    let pull = native(zmq::PULL);
    pull.set_maxmsgsize(Some(64 * 1024));
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let ep = pull.last_endpoint().unwrap();
    let addr = tcp_addr(&ep);
    let hostile = thread::spawn(move || {
        let mut rng = fastrand::Rng::with_seed(18);
        for _ in 0..30 {
            let mut s = TcpStream::connect(&addr).unwrap();
            raw_handshake(&mut s, "PUSH").unwrap();
            let junk: Vec<u8> = (0..rng.usize(1..2000)).map(|_| rng.u8(..)).collect();
            let _ = s.write_all(&junk);
            // Either the socket hangs up, or the junk parsed as frames and
            // it waits for more: both are fine, neither may take long.
            let _ = closed_within(&mut s, Duration::from_millis(100));
        }
    });
    wait_thread(hostile);
    // Whatever the junk decoded to is delivered or dropped (some may still
    // be on its way): skip it, and see every good message in order.
    let good = good_pusher(&ep, 20);
    let mut next = 0;
    while next < 20 {
        let m = pull.recv_bytes(0).unwrap();
        if m.starts_with(b"good ") {
            assert_eq!(m, format!("good {next}").into_bytes());
            next += 1;
        }
    }
    wait_thread(good);
}

#[test]
fn sub_resubscribes_after_reconnecting() {
    let _t = Timeout::start_new(BOUND);
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ep = format!("tcp://127.0.0.1:{port}");
    let sub = native(zmq::SUB);
    sub.set_reconnect_ivl(Duration::from_millis(20));
    sub.subscribe("news").unwrap();
    sub.connect(&ep).unwrap();
    // Two publishers in turn on the same port; each publishes until told.
    for round in 0..2 {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let st = stop.clone();
        let ep = ep.clone();
        let publisher = thread::spawn(move || {
            let ctx = zmq::Context::new();
            let s = ctx.socket(zmq::PUB).unwrap();
            s.set_linger(0).unwrap();
            s.bind(&ep).unwrap();
            while !st.load(Ordering::SeqCst) {
                s.send(format!("news {round}").as_bytes(), 0).unwrap();
                s.send("other", 0).unwrap();
                thread::sleep(Duration::from_millis(2));
            }
        });
        assert_eq!(sub.recv_bytes(0).unwrap(), format!("news {round}").into_bytes());
        stop.store(true, Ordering::SeqCst);
        wait_thread(publisher);
        while sub.peer_count() != 0 {
            zgreen::sleep(Duration::from_millis(5)).unwrap();
        }
        while sub.recv_bytes(zmq::DONTWAIT).is_ok() {}
    }
}

#[test]
fn xpub_reports_the_cancels_of_a_vanished_subscriber() {
    let _t = Timeout::start_new(BOUND);
    let xpub = native(zmq::XPUB);
    xpub.bind("tcp://127.0.0.1:*").unwrap();
    let ep = xpub.last_endpoint().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let subscriber = thread::spawn(move || {
        let ctx = zmq::Context::new();
        let s = ctx.socket(zmq::SUB).unwrap();
        s.set_linger(0).unwrap();
        s.connect(&ep).unwrap();
        s.set_subscribe(b"weather").unwrap();
        let _ = rx.recv_timeout(Duration::from_secs(10));
        // Closing without unsubscribing: the XPUB reports the cancel.
    });
    assert_eq!(xpub.recv_bytes(0).unwrap(), b"\x01weather");
    tx.send(()).unwrap();
    wait_thread(subscriber);
    assert_eq!(xpub.recv_bytes(0).unwrap(), b"\x00weather");
}
