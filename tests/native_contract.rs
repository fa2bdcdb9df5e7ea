//! The socket contract on native sockets: LINGER delivers what was queued
//! at close, several greenlets share one socket without tearing messages,
//! kills and timeouts never lose a message, close wakes parked callers.
//!
//! Every test is bounded: a `Timeout` scope, timeouts on every socket.
#![cfg(feature = "native")]

use std::thread;
use std::time::Duration;

use zgreen::zmq::native::Socket;
use zgreen::{Error, Timeout};

const BOUND: Duration = Duration::from_secs(30);

fn native(kind: zmq::SocketType) -> Socket {
    let s = Socket::new(kind).unwrap();
    s.set_recv_timeout(Some(Duration::from_secs(10)));
    s.set_send_timeout(Some(Duration::from_secs(10)));
    s
}

fn wait_thread<T>(t: thread::JoinHandle<T>) -> T {
    while !t.is_finished() {
        zgreen::sleep(Duration::from_millis(5)).unwrap();
    }
    t.join().expect("peer thread panicked")
}

#[test]
fn linger_delivers_what_was_queued_at_close() {
    let _t = Timeout::start_new(BOUND);
    let ctx = zmq::Context::new();
    let pull = ctx.socket(zmq::PULL).unwrap();
    pull.set_rcvtimeo(10_000).unwrap();
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let ep = pull.get_last_endpoint().unwrap().unwrap();
    let push = native(zmq::PUSH);
    push.connect(&ep).unwrap();
    let body = vec![b'z'; 10_000];
    for _ in 0..500 {
        push.send(&body, 0).unwrap();
    }
    drop(push);
    let t = thread::spawn(move || {
        (0..500).all(|_| pull.recv_bytes(0).map(|m| m.len() == 10_000).unwrap_or(false))
    });
    assert!(wait_thread(t), "messages queued at close were lost within LINGER");
}

#[test]
fn greenlets_sharing_a_socket_never_tear_messages() {
    let _t = Timeout::start_new(BOUND);
    let pull = native(zmq::PULL);
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = native(zmq::PUSH);
    push.set_sndhwm(5);
    push.connect(&pull.last_endpoint().unwrap()).unwrap();
    let senders: Vec<_> = (0..4u8)
        .map(|id| {
            let push = push.clone();
            zgreen::spawn(move || -> zgreen::Result<()> {
                for i in 0..200u32 {
                    push.send_multipart([vec![id], i.to_be_bytes().to_vec(), vec![id; 300]], 0)?;
                }
                Ok(())
            })
        })
        .collect();
    let mut next = [0u32; 4];
    for _ in 0..800 {
        let m = pull.recv_multipart(0).unwrap();
        let id = m[0][0] as usize;
        assert_eq!(m.len(), 3);
        assert_eq!(m[1], next[id].to_be_bytes(), "sender {id} reordered");
        assert_eq!(m[2], vec![id as u8; 300]);
        next[id] += 1;
    }
    for s in senders {
        s.get().unwrap().unwrap();
    }
}

#[test]
fn kills_and_timeouts_never_lose_a_message() {
    let _t = Timeout::start_new(BOUND);
    let pull = native(zmq::PULL);
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = native(zmq::PUSH);
    push.connect(&pull.last_endpoint().unwrap()).unwrap();
    // A receiver parked, then killed.
    let p = pull.clone();
    let g = zgreen::spawn(move || p.recv_bytes(0));
    zgreen::sleep(Duration::from_millis(20)).unwrap();
    g.kill().unwrap();
    assert!(matches!(g.get(), Ok(Err(Error::Killed))));
    // A receive that times out.
    let r = pull.recv_bytes_timeout(0, Duration::from_millis(20));
    assert!(matches!(r, Err(Error::Timeout(_))), "{r:?}");
    // Neither took what comes next.
    for i in 0..10 {
        push.send(format!("m{i}"), 0).unwrap();
    }
    for i in 0..10 {
        assert_eq!(pull.recv_bytes(0).unwrap(), format!("m{i}").into_bytes());
    }
}

#[test]
fn close_wakes_parked_callers() {
    let _t = Timeout::start_new(BOUND);
    let pull = native(zmq::PULL);
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = native(zmq::PUSH); // no peer: a send parks
    let (p, q) = (pull.clone(), push.clone());
    let r = zgreen::spawn(move || p.recv_bytes(0));
    let s = zgreen::spawn(move || q.send("x", 0));
    zgreen::sleep(Duration::from_millis(20)).unwrap();
    pull.close().unwrap();
    push.close().unwrap();
    assert!(matches!(r.get(), Ok(Err(Error::SocketClosed))));
    assert!(matches!(s.get(), Ok(Err(Error::SocketClosed))));
    assert!(matches!(pull.recv_bytes(0), Err(Error::SocketClosed)));
}

// ------------------------------------------- one test, either transport

use zgreen::zmq::native::MessageSocket;

/// REQ/REP then PUSH/PULL, written once over `MessageSocket`: the same
/// code runs on libzmq, on the native transport, and across the two.
fn exchange<A: MessageSocket, B: MessageSocket>(rep: A, req: B, pull: A, push: B) -> zgreen::Result<()> {
    for s in [&rep, &pull] {
        s.set_recv_timeout(Some(Duration::from_secs(10)));
    }
    req.set_recv_timeout(Some(Duration::from_secs(10)));
    rep.bind("tcp://127.0.0.1:*")?;
    req.connect(&rep.last_endpoint()?)?;
    pull.bind("tcp://127.0.0.1:*")?;
    push.connect(&pull.last_endpoint()?)?;
    for i in 0..50u32 {
        let msg = vec![i.to_be_bytes().to_vec(), Vec::new(), vec![7; i as usize * 10]];
        req.send_multipart(&msg, 0)?;
        let got = rep.recv_multipart(0)?;
        assert_eq!(got, msg);
        rep.send_multipart(&got, 0)?;
        assert_eq!(req.recv_multipart(0)?, msg);
        push.send_multipart(&msg, 0)?;
        assert_eq!(pull.recv_multipart(0)?, msg);
    }
    Ok(())
}

#[test]
fn the_same_code_on_either_transport_and_across() {
    let _t = Timeout::start_new(BOUND);
    let ctx = zgreen::zmq::Context::new();
    let z = |k| ctx.socket(k).unwrap();
    let n = |k| ctx.native_socket(k).unwrap();
    exchange(z(zmq::REP), z(zmq::REQ), z(zmq::PULL), z(zmq::PUSH)).unwrap();
    exchange(n(zmq::REP), n(zmq::REQ), n(zmq::PULL), n(zmq::PUSH)).unwrap();
    exchange(n(zmq::REP), z(zmq::REQ), n(zmq::PULL), z(zmq::PUSH)).unwrap();
    exchange(z(zmq::REP), n(zmq::REQ), z(zmq::PULL), n(zmq::PUSH)).unwrap();
}

#[test]
fn disconnect_and_unbind() {
    let _t = Timeout::start_new(BOUND);
    let (a, b) = (native(zmq::PULL), native(zmq::PULL));
    a.bind("tcp://127.0.0.1:*").unwrap();
    b.bind("tcp://127.0.0.1:*").unwrap();
    let (ea, eb) = (a.last_endpoint().unwrap(), b.last_endpoint().unwrap());
    let push = native(zmq::PUSH);
    push.connect(&ea).unwrap();
    push.connect(&eb).unwrap();
    while push.peer_count() < 2 {
        zgreen::sleep(Duration::from_millis(5)).unwrap();
    }
    push.disconnect(&ea).unwrap();
    assert!(matches!(
        push.disconnect(&ea),
        Err(Error::Zmq(zmq::Error::ENOENT))
    ));
    while push.peer_count() > 1 {
        zgreen::sleep(Duration::from_millis(5)).unwrap();
    }
    for i in 0..10 {
        push.send(format!("to b {i}"), 0).unwrap();
    }
    for i in 0..10 {
        assert_eq!(b.recv_bytes(0).unwrap(), format!("to b {i}").into_bytes());
    }
    assert!(matches!(
        a.recv_bytes_timeout(0, Duration::from_millis(50)),
        Err(Error::Timeout(_))
    ));
    // Unbinding b ends its connection and its listener.
    b.unbind(&eb).unwrap();
    assert!(matches!(b.unbind(&eb), Err(Error::Zmq(zmq::Error::ENOENT))));
    while b.peer_count() > 0 {
        zgreen::sleep(Duration::from_millis(5)).unwrap();
    }
    let addr = eb.trim_start_matches("tcp://").to_string();
    let refused = thread::spawn(move || std::net::TcpStream::connect(addr).is_err());
    assert!(wait_thread(refused), "the port still accepts after unbind");
}
