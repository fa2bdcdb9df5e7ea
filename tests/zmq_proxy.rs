//! The proxies' forwarding path: frames move without a copy until the
//! destination is full, then the rest of the message parks the green way.
//! Multipart messages must arrive whole and in order through both, over
//! every transport, and the proxy must stay killable. Every test runs
//! under a `Timeout` scope.
#![cfg(feature = "zmq")]

use std::time::Duration;

use zgreen::Timeout;
use zgreen::zmq::{Context, Socket};

const BOUND: Duration = Duration::from_secs(60);

/// Frame sizes that cover libzmq's inline (≤ 33 B), heap and large
/// messages.
const SIZES: [usize; 5] = [0, 7, 100, 5000, 70_000];

fn message(i: u32) -> Vec<Vec<u8>> {
    let body = vec![(i % 251) as u8; SIZES[i as usize % SIZES.len()]];
    vec![i.to_be_bytes().to_vec(), body, b"end".to_vec()]
}

fn socket(ctx: &Context, kind: zmq::SocketType, hwm: i32) -> Socket {
    let s = ctx.socket(kind).unwrap();
    s.set_sndhwm(hwm).unwrap();
    s.set_rcvhwm(hwm).unwrap();
    s.set_linger(0).unwrap();
    s
}

/// PUSH → [PULL proxy PUSH] → PULL with tiny high-water marks and a
/// consumer that stops now and then, so the backend is often full in the
/// middle of a message.
fn run_through(transport: &str, n: u32) {
    let _t = Timeout::start_new(BOUND);
    let ctx = Context::new();
    let ep = |name: &str| match transport {
        "tcp" => "tcp://127.0.0.1:*".to_string(),
        "ipc" => format!("ipc:///tmp/zgreen-proxy-test-{}-{name}", std::process::id()),
        _ => format!("inproc://proxy-test-{name}"),
    };
    let frontend = socket(&ctx, zmq::PULL, 4);
    frontend.bind(&ep("front")).unwrap();
    let backend = socket(&ctx, zmq::PUSH, 2);
    backend.bind(&ep("back")).unwrap();
    let (front_ep, back_ep) = (
        frontend.last_endpoint().unwrap(),
        backend.last_endpoint().unwrap(),
    );
    let device = zgreen::spawn(move || zgreen::zmq::proxy(&frontend, &backend, None));

    let producer = socket(&ctx, zmq::PUSH, 4);
    producer.connect(&front_ep).unwrap();
    let consumer = socket(&ctx, zmq::PULL, 2);
    consumer.connect(&back_ep).unwrap();
    // The producer is returned, not dropped: with linger 0, closing it
    // would discard what it has not sent yet.
    let sender = zgreen::spawn(move || -> zgreen::Result<Socket> {
        for i in 0..n {
            producer.send_multipart(message(i), 0)?;
        }
        Ok(producer)
    });
    for i in 0..n {
        if i % 97 == 0 {
            zgreen::sleep(Duration::from_millis(1)).unwrap();
        }
        let got = consumer.recv_multipart(0).unwrap();
        assert_eq!(got, message(i), "message {i} over {transport}");
    }
    sender.get().unwrap().unwrap();
    assert!(!device.ready(), "the proxy ended early: {:?}", device.get());
    device.kill().unwrap();
    assert!(device.ready());
}

#[test]
fn multipart_messages_arrive_whole_and_in_order_over_inproc() {
    run_through("inproc", 20_000);
}

#[test]
fn multipart_messages_arrive_whole_and_in_order_over_tcp() {
    run_through("tcp", 5_000);
}

#[test]
fn multipart_messages_arrive_whole_and_in_order_over_ipc() {
    run_through("ipc", 5_000);
}

/// A ROUTER frontend and a DEALER backend (the queue device): requests
/// carry the client's identity through the proxy and replies find their
/// way back, while another greenlet's traffic shares the hub.
#[test]
fn router_dealer_round_trips_through_the_proxy() {
    let _t = Timeout::start_new(BOUND);
    let ctx = Context::new();
    let frontend = socket(&ctx, zmq::ROUTER, 8);
    frontend.bind("inproc://proxy-rd-front").unwrap();
    let backend = socket(&ctx, zmq::DEALER, 8);
    backend.bind("inproc://proxy-rd-back").unwrap();
    let device = zgreen::spawn(move || zgreen::zmq::proxy(&frontend, &backend, None));
    let worker = socket(&ctx, zmq::REP, 8);
    worker.connect("inproc://proxy-rd-back").unwrap();
    let echo = zgreen::spawn(move || -> zgreen::Result<()> {
        loop {
            let m = worker.recv_multipart(0)?;
            worker.send_multipart(m, 0)?;
        }
    });
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let req = socket(&ctx, zmq::REQ, 8);
            req.connect("inproc://proxy-rd-front").unwrap();
            zgreen::spawn(move || -> zgreen::Result<()> {
                for i in 0..500u32 {
                    let body = format!("client {c} request {i}").into_bytes();
                    req.send_multipart([body.clone(), vec![0u8; (i % 3) as usize * 40]], 0)?;
                    let reply = req.recv_multipart(0)?;
                    assert_eq!(reply, vec![body, vec![0u8; (i % 3) as usize * 40]]);
                }
                Ok(())
            })
        })
        .collect();
    for c in clients {
        c.get().unwrap().unwrap();
    }
    echo.kill().unwrap();
    device.kill().unwrap();
}
