//! The MDP broker on a native ROUTER (feature `native`): a worker and
//! clients on green libzmq DEALERs, so this is also the mixed case
//! (native front-end, libzmq peers). Bounded by a `Timeout` scope and
//! socket timeouts.
#![cfg(feature = "native")]

use std::time::{Duration, Instant};

use zgreen::Timeout;
use zgreen::zmq::Context;
use zgreen_brokers::frames::Limits;
use zgreen_brokers::mdp::{self, WorkerInbound};
use zgreen_brokers::mdp_broker::{Broker, Config, serve};

#[test]
fn mdp_broker_on_a_native_router() {
    let _t = Timeout::start_new(Duration::from_secs(30));
    let ctx = Context::new();
    let router = ctx.native_socket(zmq::ROUTER).unwrap();
    router.set_router_mandatory(true);
    router.bind("tcp://127.0.0.1:*").unwrap();
    let ep = router.last_endpoint().unwrap();
    let broker = zgreen::spawn(move || {
        let mut broker = Broker::new(Config::default(), Instant::now(), None);
        let _ = serve(&router, &mut broker, None);
        broker.counters.clone()
    });
    let limits = Limits::default();
    let worker = ctx.socket(zmq::DEALER).unwrap();
    worker.set_recv_timeout(Some(Duration::from_secs(10)));
    worker.connect(&ep).unwrap();
    worker.send_multipart(mdp::ready(b"echo"), 0).unwrap();
    let w = zgreen::spawn(move || -> zgreen::Result<()> {
        loop {
            let frames = worker.recv_multipart(0)?;
            match mdp::parse_worker_inbound(&frames, &limits) {
                Ok(WorkerInbound::Request { client, body }) => {
                    worker.send_multipart(mdp::reply(&client, &body), 0)?
                }
                Ok(_) => {}
                Err(e) => panic!("worker got {e:?}"),
            }
        }
    });
    let clients: Vec<_> = (0..3)
        .map(|c| {
            let client = ctx.socket(zmq::DEALER).unwrap();
            client.set_recv_timeout(Some(Duration::from_secs(10)));
            client.connect(&ep).unwrap();
            zgreen::spawn(move || -> zgreen::Result<()> {
                for i in 0..100 {
                    let body = format!("client {c} request {i}");
                    client.send_multipart(mdp::client_request(b"echo", &[body.as_bytes()]), 0)?;
                    let reply = client.recv_multipart(0)?;
                    let parsed = mdp::parse_client_reply(&reply, &Limits::default()).unwrap();
                    assert_eq!(parsed.service, b"echo");
                    assert_eq!(parsed.body, vec![body.into_bytes()]);
                }
                Ok(())
            })
        })
        .collect();
    for c in clients {
        c.get().unwrap().unwrap();
    }
    w.kill().unwrap();
    broker.kill().unwrap();
}

/// The queue device on two native sockets (ROUTER front, DEALER back),
/// blocking libzmq REQ clients and REP workers around it.
#[test]
fn queue_device_on_native_sockets() {
    let _t = Timeout::start_new(Duration::from_secs(30));
    let ctx = Context::new();
    let front = ctx.native_socket(zmq::ROUTER).unwrap();
    let back = ctx.native_socket(zmq::DEALER).unwrap();
    front.bind("tcp://127.0.0.1:*").unwrap();
    back.bind("tcp://127.0.0.1:*").unwrap();
    let (fe, be) = (front.last_endpoint().unwrap(), back.last_endpoint().unwrap());
    let device = zgreen::spawn(move || zgreen_brokers::devices::forward(&front, &back));
    let worker = std::thread::spawn(move || {
        let z = zmq::Context::new();
        let s = z.socket(zmq::REP).unwrap();
        s.set_rcvtimeo(10_000).unwrap();
        s.connect(&be).unwrap();
        for _ in 0..100 {
            let m = s.recv_multipart(0).unwrap();
            s.send_multipart(m, 0).unwrap();
        }
    });
    let client = std::thread::spawn(move || {
        let z = zmq::Context::new();
        let s = z.socket(zmq::REQ).unwrap();
        s.set_rcvtimeo(10_000).unwrap();
        s.connect(&fe).unwrap();
        (0..100).all(|i| {
            let m = format!("request {i}");
            s.send(m.as_bytes(), 0).unwrap();
            s.recv_bytes(0).map(|r| r == m.as_bytes()).unwrap_or(false)
        })
    });
    while !client.is_finished() {
        zgreen::sleep(Duration::from_millis(5)).unwrap();
    }
    assert!(client.join().unwrap(), "a reply went missing or astray");
    while !worker.is_finished() {
        zgreen::sleep(Duration::from_millis(5)).unwrap();
    }
    worker.join().unwrap();
    device.kill().unwrap();
}

/// The forwarder device on two native sockets (XSUB front, XPUB back): a
/// libzmq SUB's subscription travels up to a libzmq PUB, and only the
/// matching messages come down.
#[test]
fn forwarder_device_on_native_sockets() {
    let _t = Timeout::start_new(Duration::from_secs(30));
    let ctx = Context::new();
    let front = ctx.native_socket(zmq::XSUB).unwrap();
    let back = ctx.native_socket(zmq::XPUB).unwrap();
    front.bind("tcp://127.0.0.1:*").unwrap();
    back.bind("tcp://127.0.0.1:*").unwrap();
    let (fe, be) = (front.last_endpoint().unwrap(), back.last_endpoint().unwrap());
    let device = zgreen::spawn(move || zgreen_brokers::devices::forward(&front, &back));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let st = stop.clone();
    let publisher = std::thread::spawn(move || {
        let z = zmq::Context::new();
        let s = z.socket(zmq::PUB).unwrap();
        s.connect(&fe).unwrap();
        while !st.load(std::sync::atomic::Ordering::SeqCst) {
            s.send("weather sunny", 0).unwrap();
            s.send("sports none", 0).unwrap();
            std::thread::sleep(Duration::from_millis(2));
        }
    });
    let subscriber = std::thread::spawn(move || {
        let z = zmq::Context::new();
        let s = z.socket(zmq::SUB).unwrap();
        s.set_rcvtimeo(10_000).unwrap();
        s.connect(&be).unwrap();
        s.set_subscribe(b"weather").unwrap();
        (0..20).all(|_| s.recv_bytes(0).map(|m| m == b"weather sunny").unwrap_or(false))
    });
    while !subscriber.is_finished() {
        zgreen::sleep(Duration::from_millis(5)).unwrap();
    }
    assert!(
        subscriber.join().unwrap(),
        "a message was missing or not filtered"
    );
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    while !publisher.is_finished() {
        zgreen::sleep(Duration::from_millis(5)).unwrap();
    }
    publisher.join().unwrap();
    device.kill().unwrap();
}
