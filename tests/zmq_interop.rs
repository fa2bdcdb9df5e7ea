//! Green sockets against plain blocking libzmq.
//!
//! Every socket-type pair is exercised with the green side in a greenlet on
//! the test's thread and the other side as a blocking `zmq` crate socket,
//! in its own context, in another OS thread (and, for a few pairs, in a
//! separate process: this test binary re-executed with a role in
//! `ZGREEN_INTEROP_CHILD`). The exchanges carry a few hundred messages,
//! multipart ones with empty frames among them, and both sides check
//! content and order. Then proxies between green sockets with blocking
//! clients and workers, the steerable proxy's control commands, socket
//! monitor events, and a STREAM socket against a raw `TcpStream`.
//!
//! Every test is bounded: a `Timeout` scope on the test's thread, default
//! timeouts on green sockets, `RCVTIMEO`/`SNDTIMEO` on blocking ones and
//! deadlines on child processes.
#![cfg(feature = "zmq")]

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use zgreen::zmq::{Context, MonitorEvent, ProxyStats, Socket};
use zgreen::{Error, Timeout};

mod common;
use common::{Frames, interop_message as message, kill_expecting_killed, reversed as reply};

/// Bound of every test.
const BOUND: Duration = Duration::from_secs(30);
/// How long one blocking or green operation may wait before it fails.
const OP_TIMEOUT: Duration = Duration::from_secs(10);
/// Messages per exchange.
const N: usize = 300;
/// The environment variable that turns this binary into a child peer.
const CHILD_ENV: &str = "ZGREEN_INTEROP_CHILD";

type Res<T> = Result<T, String>;

// ------------------------------------------------------------- messages

fn show(frames: &[Vec<u8>]) -> String {
    let parts: Vec<String> = frames
        .iter()
        .map(|f| {
            if f.len() > 16 {
                format!("<{} bytes>", f.len())
            } else {
                format!("{:?}", String::from_utf8_lossy(f))
            }
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

fn expect_frames(what: &str, got: &[Vec<u8>], want: &[Vec<u8>]) -> Res<()> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {}, expected {}", show(got), show(want)))
    }
}

// ------------------------------------------------- one API for both sides

/// The operations the exchanges need, for green and blocking sockets alike.
trait Wire {
    fn wire_send(&self, frames: &[Vec<u8>]) -> Res<()>;
    fn wire_recv(&self) -> Res<Frames>;
    /// A message if one arrives within `ms` milliseconds.
    fn wire_recv_within(&self, ms: u64) -> Res<Option<Frames>>;
    fn wire_subscribe(&self, topic: &[u8]) -> Res<()>;
    fn wire_unsubscribe(&self, topic: &[u8]) -> Res<()>;
}

impl Wire for Socket {
    fn wire_send(&self, frames: &[Vec<u8>]) -> Res<()> {
        self.send_multipart(frames, 0)
            .map_err(|e| format!("green send: {e}"))
    }
    fn wire_recv(&self) -> Res<Frames> {
        self.recv_multipart(0).map_err(|e| format!("green recv: {e}"))
    }
    fn wire_recv_within(&self, ms: u64) -> Res<Option<Frames>> {
        match self.recv_multipart_timeout(0, Duration::from_millis(ms)) {
            Ok(f) => Ok(Some(f)),
            Err(Error::Timeout(t)) if t.id == 0 => Ok(None),
            Err(e) => Err(format!("green recv: {e}")),
        }
    }
    fn wire_subscribe(&self, topic: &[u8]) -> Res<()> {
        self.subscribe(topic).map_err(|e| e.to_string())
    }
    fn wire_unsubscribe(&self, topic: &[u8]) -> Res<()> {
        self.unsubscribe(topic).map_err(|e| e.to_string())
    }
}

impl Wire for zmq::Socket {
    fn wire_send(&self, frames: &[Vec<u8>]) -> Res<()> {
        self.send_multipart(frames, 0)
            .map_err(|e| format!("blocking send: {e}"))
    }
    fn wire_recv(&self) -> Res<Frames> {
        self.recv_multipart(0).map_err(|e| format!("blocking recv: {e}"))
    }
    fn wire_recv_within(&self, ms: u64) -> Res<Option<Frames>> {
        match self.poll(zmq::POLLIN, ms as i64) {
            Ok(0) => Ok(None),
            Ok(_) => self.wire_recv().map(Some),
            Err(e) => Err(format!("blocking poll: {e}")),
        }
    }
    fn wire_subscribe(&self, topic: &[u8]) -> Res<()> {
        self.set_subscribe(topic).map_err(|e| e.to_string())
    }
    fn wire_unsubscribe(&self, topic: &[u8]) -> Res<()> {
        self.set_unsubscribe(topic).map_err(|e| e.to_string())
    }
}

// ------------------------------------------------------------ exchanges

/// Sends `n` requests and checks each reply. `delimited`: add and strip
/// the empty delimiter frame a REQ socket would (a DEALER talking to REP
/// or to a ROUTER that expects REQ envelopes). `pipelined`: send every
/// request before reading any reply.
fn client<W: Wire>(w: &W, delimited: bool, pipelined: bool, n: usize) -> Res<String> {
    let request = |i: usize| -> Res<()> {
        let mut frames = message(i);
        if delimited {
            frames.insert(0, Vec::new());
        }
        w.wire_send(&frames)
    };
    let check_reply = |i: usize| -> Res<()> {
        let mut got = w.wire_recv()?;
        if delimited {
            if got.first().is_none_or(|f| !f.is_empty()) {
                return Err(format!("reply {i} without delimiter: {}", show(&got)));
            }
            got.remove(0);
        }
        expect_frames(&format!("reply {i}"), &got, &reply(&message(i)))
    };
    if pipelined {
        (0..n).try_for_each(request)?;
        (0..n).try_for_each(check_reply)?;
    } else {
        for i in 0..n {
            request(i)?;
            check_reply(i)?;
        }
    }
    Ok(format!("{n} replies in order"))
}

/// Answers `n` requests, checking that they come in order. `routed`: the
/// first frame is a ROUTER's peer identity; `delimited`: then an empty
/// delimiter (from a REQ, or a DEALER playing one).
fn server<W: Wire>(w: &W, routed: bool, delimited: bool, n: usize) -> Res<String> {
    for i in 0..n {
        let mut frames = w.wire_recv()?;
        let mut envelope = Vec::new();
        if routed {
            envelope.push(frames.remove(0));
        }
        if delimited {
            if frames.first().is_none_or(|f| !f.is_empty()) {
                return Err(format!("request {i} without delimiter: {}", show(&frames)));
            }
            envelope.push(frames.remove(0));
        }
        expect_frames(&format!("request {i}"), &frames, &message(i))?;
        envelope.extend(reply(&frames));
        w.wire_send(&envelope)?;
    }
    Ok(format!("answered {n} requests in order"))
}

fn pusher<W: Wire>(w: &W, n: usize) -> Res<String> {
    (0..n).try_for_each(|i| w.wire_send(&message(i)))?;
    Ok(format!("pushed {n} messages"))
}

fn puller<W: Wire>(w: &W, n: usize) -> Res<String> {
    for i in 0..n {
        expect_frames(&format!("message {i}"), &w.wire_recv()?, &message(i))?;
    }
    Ok(format!("pulled {n} messages in order"))
}

/// Topics of published messages: subscribers take `A` and `B`, never `C`.
const TOPICS: [&[u8]; 3] = [b"A", b"B", b"C"];

/// Published message `i`: its topic frame, then `message(i)`.
fn published(i: usize) -> Frames {
    let mut frames = vec![TOPICS[i % 3].to_vec()];
    frames.extend(message(i));
    frames
}

fn subscribed(i: usize) -> bool {
    i % 3 != 2
}

/// How a publisher knows that its subscriber listens (the slow-joiner
/// problem: what is published before the subscription arrives is lost).
enum Ready<'a, W> {
    /// An XPUB: read the subscriptions (`A`, `B`, `END`), and at the end
    /// the cancellation of `A`.
    Subscriptions,
    /// A PUB: publish `sync` probes until the subscriber says `ready` on
    /// this back channel (a PULL).
    Probes(&'a W),
}

fn publisher<W: Wire>(w: &W, ready: Ready<'_, W>, n: usize) -> Res<String> {
    match &ready {
        Ready::Subscriptions => {
            let mut want: BTreeSet<Vec<u8>> = [&b"\x01A"[..], b"\x01B", b"\x01END"]
                .iter()
                .map(|s| s.to_vec())
                .collect();
            while !want.is_empty() {
                let sub = w.wire_recv()?;
                if sub.len() != 1 || !want.remove(&sub[0]) {
                    return Err(format!("unexpected subscription message {}", show(&sub)));
                }
            }
        }
        Ready::Probes(back) => loop {
            w.wire_send(&[b"sync".to_vec()])?;
            if let Some(m) = back.wire_recv_within(10)? {
                expect_frames("back channel", &m, &[b"ready".to_vec()])?;
                break;
            }
        },
    }
    (0..n).try_for_each(|i| w.wire_send(&published(i)))?;
    w.wire_send(&[b"END".to_vec()])?;
    if let Ready::Subscriptions = ready {
        expect_frames("cancellation", &w.wire_recv()?, &[b"\x00A".to_vec()])?;
    }
    Ok(format!("published {n} messages"))
}

/// Subscribes to `A`, `B` and `END` (and `sync` with a back channel; an
/// XSUB sends its subscriptions as messages), checks that exactly the
/// messages of `A` and `B` arrive, in order, then cancels `A`.
fn subscriber<W: Wire>(w: &W, xsub: bool, back: Option<&W>, n: usize) -> Res<String> {
    let mut topics = vec![&b"A"[..], b"B", b"END"];
    if back.is_some() {
        topics.push(b"sync");
    }
    for t in &topics {
        if xsub {
            w.wire_send(&[[&[1u8][..], t].concat()])?;
        } else {
            w.wire_subscribe(t)?;
        }
    }
    if let Some(back) = back {
        expect_frames("first message", &w.wire_recv()?, &[b"sync".to_vec()])?;
        back.wire_send(&[b"ready".to_vec()])?;
    }
    let mut wanted = (0..n).filter(|i| subscribed(*i));
    let mut count = 0;
    loop {
        let frames = w.wire_recv()?;
        if frames == [b"sync".to_vec()] {
            continue;
        }
        if frames == [b"END".to_vec()] {
            break;
        }
        let Some(i) = wanted.next() else {
            return Err(format!("unexpected message {}", show(&frames)));
        };
        expect_frames(&format!("published {i}"), &frames, &published(i))?;
        count += 1;
    }
    if let Some(i) = wanted.next() {
        return Err(format!("END before published message {i}"));
    }
    if xsub {
        w.wire_send(&[b"\x00A".to_vec()])?;
    } else {
        w.wire_unsubscribe(b"A")?;
    }
    Ok(format!("received {count} of {n} messages in order"))
}

// --------------------------------------------------------------- set-up

fn green_socket(ctx: &Context, kind: zmq::SocketType) -> Socket {
    let s = ctx.socket(kind).expect("green socket");
    s.set_recv_timeout(Some(OP_TIMEOUT));
    s.set_send_timeout(Some(OP_TIMEOUT));
    s
}

fn blocking_socket(ctx: &zmq::Context, kind: zmq::SocketType) -> zmq::Socket {
    let s = ctx.socket(kind).expect("blocking socket");
    let ms = OP_TIMEOUT.as_millis() as i32;
    s.set_rcvtimeo(ms).unwrap();
    s.set_sndtimeo(ms).unwrap();
    s.set_linger(1000).unwrap();
    s
}

/// A wildcard endpoint of `transport` (`tcp` or `ipc`).
fn any_endpoint(transport: &str) -> &'static str {
    match transport {
        "tcp" => "tcp://127.0.0.1:*",
        "ipc" => "ipc://*",
        other => panic!("unknown transport {other}"),
    }
}

fn last_endpoint(s: &zmq::Socket) -> String {
    s.get_last_endpoint().unwrap().unwrap()
}

/// Waits for an OS thread without blocking the hub (other greenlets, a
/// proxy for instance, keep running); bounded by the caller's `Timeout`.
fn wait_thread<T>(h: JoinHandle<T>) -> T {
    while !h.is_finished() {
        zgreen::sleep(Duration::from_millis(2)).expect("the test's bound expired waiting for a thread");
    }
    h.join().expect("peer thread panicked")
}

/// Receives from a std channel without blocking the hub.
fn green_recv<T>(rx: &mpsc::Receiver<T>, timeout: Duration) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match rx.try_recv() {
            Ok(v) => return v,
            Err(mpsc::TryRecvError::Empty) if Instant::now() < deadline => {
                zgreen::sleep(Duration::from_millis(1)).expect("bounded");
            }
            Err(e) => panic!("nothing from the channel within {timeout:?}: {e}"),
        }
    }
}

/// One interop run: the green socket of type `green_kind` runs `green` in
/// a greenlet; a blocking socket of type `peer_kind` runs `peer` in an OS
/// thread. `green_binds` picks the side that binds (the other connects).
fn interop(
    (green_kind, peer_kind): (zmq::SocketType, zmq::SocketType),
    transport: &str,
    green_binds: bool,
    green: impl FnOnce(&Socket) -> Res<String> + 'static,
    peer: impl FnOnce(&zmq::Socket) -> Res<String> + Send + 'static,
) {
    let _t = Timeout::start_new(BOUND);
    let ctx = Context::new();
    let g = green_socket(&ctx, green_kind);
    let peer_ctx = zmq::Context::new();
    let p = blocking_socket(&peer_ctx, peer_kind);
    if green_binds {
        g.bind(any_endpoint(transport)).unwrap();
        p.connect(&g.last_endpoint().unwrap()).unwrap();
    } else {
        p.bind(any_endpoint(transport)).unwrap();
        g.connect(&last_endpoint(&p)).unwrap();
    }
    let peer = thread::spawn(move || peer(&p));
    let green_result = zgreen::spawn(move || green(&g)).get().expect("the greenlet died");
    let peer_result = wait_thread(peer);
    let label = format!("{green_kind:?} (green) with {peer_kind:?} (blocking) over {transport}");
    assert!(
        green_result.is_ok() && peer_result.is_ok(),
        "{label}:\n  green side: {green_result:?}\n  blocking side: {peer_result:?}"
    );
}

// ------------------------------------------ pairs: green vs blocking thread

/// One `#[test]` per row: `name: (green kind, blocking kind), transport,
/// whether the green side binds, the green side's run, the blocking
/// side's run;` (see [`interop`]).
macro_rules! interop_tests {
    ($($name:ident: $kinds:expr, $transport:expr, $green_binds:expr, $green:expr, $peer:expr;)*) => {
        $(
            #[test]
            fn $name() {
                interop($kinds, $transport, $green_binds, $green, $peer);
            }
        )*
    };
}

interop_tests! {
    req_rep: (zmq::REQ, zmq::REP), "tcp", true, |g| client(g, false, false, N), |p| server(p, false, false, N);
    req_rep_over_ipc: (zmq::REQ, zmq::REP), "ipc", false, |g| client(g, false, false, N), |p| server(p, false, false, N);
    rep_req: (zmq::REP, zmq::REQ), "tcp", false, |g| server(g, false, false, N), |p| client(p, false, false, N);
    dealer_router: (zmq::DEALER, zmq::ROUTER), "tcp", true, |g| client(g, false, true, N), |p| server(p, true, false, N);
    router_dealer: (zmq::ROUTER, zmq::DEALER), "tcp", false, |g| server(g, true, false, N), |p| client(p, false, true, N);
    dealer_rep: (zmq::DEALER, zmq::REP), "tcp", true, |g| client(g, true, false, N), |p| server(p, false, false, N);
    req_router: (zmq::REQ, zmq::ROUTER), "tcp", false, |g| client(g, false, false, N), |p| server(p, true, true, N);
    dealer_dealer: (zmq::DEALER, zmq::DEALER), "tcp", true, |g| client(g, false, true, N), |p| server(p, false, false, N);
    pair_pair: (zmq::PAIR, zmq::PAIR), "tcp", false, |g| client(g, false, true, N), |p| server(p, false, false, N);
    push_pull: (zmq::PUSH, zmq::PULL), "tcp", true, |g| pusher(g, N), |p| puller(p, N);
    push_pull_over_ipc: (zmq::PUSH, zmq::PULL), "ipc", true, |g| pusher(g, N), |p| puller(p, N);
    pull_push: (zmq::PULL, zmq::PUSH), "tcp", false, |g| puller(g, N), |p| pusher(p, N);
}

/// A pub/sub run: the publisher binds its socket and, for a PUB, a PULL
/// back channel; the subscriber connects to both.
fn pubsub(green_publishes: bool, pub_kind: zmq::SocketType, sub_kind: zmq::SocketType) {
    let _t = Timeout::start_new(BOUND);
    let probes = pub_kind == zmq::PUB;
    let xsub = sub_kind == zmq::XSUB;
    let ctx = Context::new();
    let peer_ctx = zmq::Context::new();
    let label = format!(
        "{pub_kind:?} ({}) with {sub_kind:?} ({})",
        if green_publishes { "green" } else { "blocking" },
        if green_publishes { "blocking" } else { "green" }
    );
    let (green_result, peer_result) = if green_publishes {
        let publ = green_socket(&ctx, pub_kind);
        publ.bind("tcp://127.0.0.1:*").unwrap();
        let back = green_socket(&ctx, zmq::PULL);
        back.bind("tcp://127.0.0.1:*").unwrap();
        let sub = blocking_socket(&peer_ctx, sub_kind);
        sub.connect(&publ.last_endpoint().unwrap()).unwrap();
        let push = blocking_socket(&peer_ctx, zmq::PUSH);
        push.connect(&back.last_endpoint().unwrap()).unwrap();
        let peer = thread::spawn(move || subscriber(&sub, xsub, probes.then_some(&push), N));
        let green = zgreen::spawn(move || {
            let ready = if probes {
                Ready::Probes(&back)
            } else {
                Ready::Subscriptions
            };
            publisher(&publ, ready, N)
        });
        (green.get().unwrap(), wait_thread(peer))
    } else {
        let publ = blocking_socket(&peer_ctx, pub_kind);
        publ.bind("tcp://127.0.0.1:*").unwrap();
        let back = blocking_socket(&peer_ctx, zmq::PULL);
        back.bind("tcp://127.0.0.1:*").unwrap();
        let sub = green_socket(&ctx, sub_kind);
        sub.connect(&last_endpoint(&publ)).unwrap();
        let push = green_socket(&ctx, zmq::PUSH);
        push.connect(&last_endpoint(&back)).unwrap();
        let peer = thread::spawn(move || {
            let ready = if probes {
                Ready::Probes(&back)
            } else {
                Ready::Subscriptions
            };
            publisher(&publ, ready, N)
        });
        let green = zgreen::spawn(move || subscriber(&sub, xsub, probes.then_some(&push), N));
        (green.get().unwrap(), wait_thread(peer))
    };
    assert!(
        green_result.is_ok() && peer_result.is_ok(),
        "{label}:\n  green side: {green_result:?}\n  blocking side: {peer_result:?}"
    );
}

/// One `#[test]` per row: `name: whether the green side publishes, the
/// publisher's kind, the subscriber's kind;` (see [`pubsub`]).
macro_rules! pubsub_tests {
    ($($name:ident: $green_publishes:expr, $pub_kind:expr, $sub_kind:expr;)*) => {
        $(
            #[test]
            fn $name() {
                pubsub($green_publishes, $pub_kind, $sub_kind);
            }
        )*
    };
}

pubsub_tests! {
    pub_sub: true, zmq::PUB, zmq::SUB;
    xpub_sub: true, zmq::XPUB, zmq::SUB;
    pub_xsub: true, zmq::PUB, zmq::XSUB;
    xpub_xsub: true, zmq::XPUB, zmq::XSUB;
    sub_pub: false, zmq::PUB, zmq::SUB;
    xsub_xpub: false, zmq::XPUB, zmq::XSUB;
}

// ------------------------------------------------ STREAM vs raw TcpStream

/// A green STREAM socket echoes what a raw TCP client writes, reports the
/// client's connect and disconnect as empty frames, and closes a second
/// connection itself by sending an empty frame.
#[test]
fn stream_against_raw_tcp() {
    let _t = Timeout::start_new(BOUND);
    let ctx = Context::new();
    let stream = green_socket(&ctx, zmq::STREAM);
    stream.bind("tcp://127.0.0.1:*").unwrap();
    let addr = stream
        .last_endpoint()
        .unwrap()
        .trim_start_matches("tcp://")
        .to_string();

    let raw = thread::spawn(move || -> Res<usize> {
        let io = |e: std::io::Error| e.to_string();
        // First connection: echo rounds, then the client hangs up.
        let mut tcp = std::net::TcpStream::connect(&addr).map_err(io)?;
        tcp.set_read_timeout(Some(OP_TIMEOUT)).map_err(io)?;
        let mut total = 0;
        for round in 0..200usize {
            let chunk: Vec<u8> = (0..1 + round * 37 % 3000).map(|k| (k + round) as u8).collect();
            tcp.write_all(&chunk).map_err(io)?;
            let mut back = vec![0; chunk.len()];
            tcp.read_exact(&mut back).map_err(io)?;
            if back != chunk {
                return Err(format!("round {round}: echo differs"));
            }
            total += chunk.len();
        }
        tcp.shutdown(std::net::Shutdown::Write).map_err(io)?;
        let mut rest = Vec::new();
        tcp.read_to_end(&mut rest)
            .map_err(|e| format!("first connection, after shutdown: {e}"))?;
        if !rest.is_empty() {
            return Err(format!("{} unexpected bytes after the echo", rest.len()));
        }
        // Second connection: the server speaks first, then closes.
        let mut tcp = std::net::TcpStream::connect(&addr).map_err(io)?;
        tcp.set_read_timeout(Some(OP_TIMEOUT)).map_err(io)?;
        let mut got = Vec::new();
        tcp.read_to_end(&mut got)
            .map_err(|e| format!("second connection: {e}"))?;
        if got != b"hello, then goodbye" {
            return Err(format!(
                "second connection read {:?}",
                String::from_utf8_lossy(&got)
            ));
        }
        Ok(total)
    });

    // First connection: [id, ""] on connect, [id, data]..., [id, ""] on
    // disconnect.
    let hello = stream.recv_multipart(0).unwrap();
    assert_eq!(hello.len(), 2);
    assert!(hello[1].is_empty(), "connect notification: {}", show(&hello));
    let id = hello[0].clone();
    let mut echoed = 0;
    loop {
        let frames = stream.recv_multipart(0).unwrap();
        assert_eq!(frames.len(), 2, "{}", show(&frames));
        assert_eq!(frames[0], id, "data from an unknown peer");
        if frames[1].is_empty() {
            break; // the client hung up
        }
        echoed += frames[1].len();
        stream.send_multipart(&frames, 0).unwrap();
    }
    // Second connection: say something, then close it from this side.
    let hello = stream.recv_multipart(0).unwrap();
    assert!(hello[1].is_empty() && hello[0] != id, "{}", show(&hello));
    stream
        .send_multipart([&hello[0][..], b"hello, then goodbye"], 0)
        .unwrap();
    stream.send_multipart([&hello[0][..], b""], 0).unwrap();
    // libzmq completes the close when the socket next processes its
    // commands (as with a blocking socket): keep serving it meanwhile. A
    // connection closed from this side is not notified.
    while !raw.is_finished() {
        if let Some(m) = stream.wire_recv_within(10).unwrap() {
            panic!("unexpected message {}", show(&m));
        }
    }
    let total = raw.join().unwrap().expect("raw TCP side");
    assert_eq!(echoed, total, "every byte echoed once");
}

// ------------------------------------------------- against another process

/// The child-process peer: when this binary runs with `CHILD_ENV` set to
/// `ROLE ENDPOINT...`, this test plays that role with blocking sockets and
/// prints `child ROLE: SUMMARY`. Without the variable it does nothing.
#[test]
fn child_peer() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let words: Vec<&str> = spec.split_whitespace().collect();
    let (role, endpoints) = (words[0], &words[1..]);
    let ctx = zmq::Context::new();
    let socket = |kind, i: usize| {
        let s = blocking_socket(&ctx, kind);
        s.connect(endpoints[i]).unwrap();
        s
    };
    let result = match role {
        "rep" => server(&socket(zmq::REP, 0), false, false, N),
        "router" => server(&socket(zmq::ROUTER, 0), true, false, N),
        "sub" => subscriber(&socket(zmq::SUB, 0), false, Some(&socket(zmq::PUSH, 1)), N),
        "pull" => puller(&socket(zmq::PULL, 0), N),
        other => Err(format!("unknown role {other}")),
    };
    match result {
        // On a line of its own (libtest has printed `test child_peer ... `).
        Ok(summary) => println!("\nchild {role}: {summary}"),
        Err(e) => panic!("child {role} failed: {e}"),
    }
}

/// Starts this test binary as a child peer playing `role`.
fn start_child(role: &str, endpoints: &[String]) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_peer", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, format!("{role} {}", endpoints.join(" ")))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("re-execute the test binary")
}

/// Waits (blocking the thread: the green side is done) for the child,
/// killing it at the deadline; checks that it succeeded and printed
/// `expected`.
fn finish_child(mut child: Child, role: &str, expected: &str) {
    let read = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut s = String::new();
            let _ = pipe.read_to_string(&mut s);
            s
        })
    };
    let out = read(Box::new(child.stdout.take().unwrap()));
    let err = read(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(5));
    };
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    let line = format!("child {role}: {expected}");
    assert!(
        status.is_some_and(|s| s.success()) && out.lines().any(|l| l == line),
        "child {role}: status {status:?}, expected the line {line:?}\n--- stdout ---\n{out}\n--- stderr ---\n{err}"
    );
}

/// A green socket of `kind`, bound on a fresh tcp port, runs `green` in a
/// greenlet against a child peer playing `role`; checks that both
/// succeeded and that the child printed `expected`.
fn green_against_child(
    kind: zmq::SocketType,
    role: &str,
    expected: &str,
    green: impl FnOnce(&Socket) -> Res<String> + 'static,
) {
    let _t = Timeout::start_new(BOUND);
    let ctx = Context::new();
    let (socket, ep) = bound(&ctx, kind);
    let child = start_child(role, &[ep]);
    let green = zgreen::spawn(move || green(&socket)).get().unwrap();
    finish_child(child, role, expected);
    green.unwrap_or_else(|e| panic!("green {kind:?}: {e}"));
}

#[test]
fn req_rep_with_a_child_process() {
    let expected = format!("answered {N} requests in order");
    green_against_child(zmq::REQ, "rep", &expected, |req| client(req, false, false, N));
}

#[test]
fn dealer_router_with_a_child_process() {
    let expected = format!("answered {N} requests in order");
    green_against_child(zmq::DEALER, "router", &expected, |dealer| {
        client(dealer, false, true, N)
    });
}

#[test]
fn pub_sub_with_a_child_process() {
    let _t = Timeout::start_new(BOUND);
    let ctx = Context::new();
    let (publ, publ_ep) = bound(&ctx, zmq::PUB);
    let (back, back_ep) = bound(&ctx, zmq::PULL);
    let child = start_child("sub", &[publ_ep, back_ep]);
    let green = zgreen::spawn(move || publisher(&publ, Ready::Probes(&back), N));
    let green = green.get().unwrap();
    let count = (0..N).filter(|i| subscribed(*i)).count();
    finish_child(
        child,
        "sub",
        &format!("received {count} of {N} messages in order"),
    );
    green.expect("green PUB");
}

#[test]
fn push_pull_with_a_child_process() {
    let expected = format!("pulled {N} messages in order");
    green_against_child(zmq::PUSH, "pull", &expected, |push| pusher(push, N));
}

// --------------------------------------------------------------- proxies

/// Binds a green socket of `kind` on a fresh tcp port.
fn bound(ctx: &Context, kind: zmq::SocketType) -> (Socket, String) {
    let s = green_socket(ctx, kind);
    s.bind("tcp://127.0.0.1:*").unwrap();
    let ep = s.last_endpoint().unwrap();
    (s, ep)
}

/// A blocking socket of `kind` in its own context, connected to `ep`.
fn connected(kind: zmq::SocketType, ep: &str) -> zmq::Socket {
    let s = blocking_socket(&zmq::Context::new(), kind);
    s.connect(ep).unwrap();
    s
}

/// A greenlet running `zgreen::zmq::proxy` between green sockets of
/// `front` and `back` kinds, each bound on a fresh tcp port; the
/// greenlet and the two endpoints.
fn start_proxy(
    ctx: &Context,
    front: zmq::SocketType,
    back: zmq::SocketType,
) -> (zgreen::Greenlet<zgreen::Result<()>>, String, String) {
    let (frontend, front_ep) = bound(ctx, front);
    let (backend, back_ep) = bound(ctx, back);
    let device = zgreen::spawn(move || zgreen::zmq::proxy(&frontend, &backend, None));
    (device, front_ep, back_ep)
}

/// The queue device: REQ clients -> green ROUTER | proxy | green DEALER
/// -> REP workers, all blocking clients and workers in their own threads.
#[test]
fn proxy_queue_with_blocking_clients_and_workers() {
    let _t = Timeout::start_new(BOUND);
    let ctx = Context::new();
    let (device, front_ep, back_ep) = start_proxy(&ctx, zmq::ROUTER, zmq::DEALER);

    let done = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..2)
        .map(|w| {
            let (ep, done) = (back_ep.clone(), done.clone());
            thread::spawn(move || -> Res<usize> {
                let rep = connected(zmq::REP, &ep);
                let mut served = 0;
                while !done.load(Ordering::SeqCst) {
                    let Some(req) = rep.wire_recv_within(50)? else {
                        continue;
                    };
                    let mut answer = reply(&req);
                    answer.push(format!("worker {w}").into_bytes());
                    rep.wire_send(&answer)?;
                    served += 1;
                }
                Ok(served)
            })
        })
        .collect();
    let per_client = 50;
    let clients: Vec<_> = (0..3)
        .map(|c| {
            let ep = front_ep.clone();
            thread::spawn(move || -> Res<()> {
                let req = connected(zmq::REQ, &ep);
                for i in 0..per_client {
                    let mut request = vec![format!("client {c}").into_bytes()];
                    request.extend(message(i));
                    req.wire_send(&request)?;
                    let mut got = req.wire_recv()?;
                    let from = got.pop().unwrap_or_default();
                    if !from.starts_with(b"worker ") {
                        return Err(format!("reply without worker tag: {}", show(&got)));
                    }
                    expect_frames(&format!("client {c} reply {i}"), &got, &reply(&request))?;
                }
                Ok(())
            })
        })
        .collect();
    for (c, h) in clients.into_iter().enumerate() {
        wait_thread(h).unwrap_or_else(|e| panic!("client {c}: {e}"));
    }
    done.store(true, Ordering::SeqCst);
    let served: usize = workers.into_iter().map(|h| wait_thread(h).expect("worker")).sum();
    assert_eq!(served, 3 * per_client, "every request served exactly once");
    kill_expecting_killed(&device).unwrap();
}

/// The forwarder: blocking PUB -> green XSUB | proxy | green XPUB ->
/// blocking SUB; subscriptions travel up through the proxy.
#[test]
fn proxy_forwarder_with_blocking_publisher_and_subscriber() {
    let _t = Timeout::start_new(BOUND);
    let ctx = Context::new();
    let (device, front_ep, back_ep) = start_proxy(&ctx, zmq::XSUB, zmq::XPUB);

    // The publisher's back channel: the subscriber says `ready` there.
    let pub_ctx = zmq::Context::new();
    let ready = blocking_socket(&pub_ctx, zmq::PULL);
    ready.bind("tcp://127.0.0.1:*").unwrap();
    let ready_ep = last_endpoint(&ready);
    let publisher = thread::spawn(move || {
        let publ = blocking_socket(&pub_ctx, zmq::PUB);
        publ.connect(&front_ep).unwrap();
        publisher(&publ, Ready::Probes(&ready), N)
    });
    let subscriber = thread::spawn(move || {
        let sub = connected(zmq::SUB, &back_ep);
        subscriber(&sub, false, Some(&connected(zmq::PUSH, &ready_ep)), N)
    });
    let (p, s) = (wait_thread(publisher), wait_thread(subscriber));
    assert!(p.is_ok() && s.is_ok(), "publisher: {p:?}\nsubscriber: {s:?}");
    device.kill().unwrap();
}

/// Frames and bytes of messages `range`.
fn counts(range: std::ops::Range<usize>) -> (u64, u64) {
    range.map(message).fold((0, 0), |(f, b), m| {
        (
            f + m.len() as u64,
            b + m.iter().map(|x| x.len() as u64).sum::<u64>(),
        )
    })
}

fn statistics(control: &Socket) -> ProxyStats {
    control.send("STATISTICS", 0).unwrap();
    let frames = control.recv_multipart(0).unwrap();
    ProxyStats::from_frames(&frames).unwrap_or_else(|| panic!("bad STATISTICS reply {}", show(&frames)))
}

fn forwarded(range: std::ops::Range<usize>) -> ProxyStats {
    let (frames, bytes) = counts(range);
    ProxyStats {
        frontend_msgs_in: frames,
        frontend_bytes_in: bytes,
        backend_msgs_out: frames,
        backend_bytes_out: bytes,
        ..ProxyStats::default()
    }
}

/// The steerable proxy (green DEALER -> green DEALER, a blocking DEALER
/// producer and consumer): PAUSE stops forwarding, RESUME resumes,
/// STATISTICS returns the eight counters (frames and bytes), TERMINATE
/// ends it.
#[test]
fn steerable_proxy_pause_resume_statistics_terminate() {
    let _t = Timeout::start_new(BOUND);
    let ctx = Context::new();
    let (frontend, front_ep) = bound(&ctx, zmq::DEALER);
    let (backend, back_ep) = bound(&ctx, zmq::DEALER);
    let ctl = green_socket(&ctx, zmq::PAIR);
    ctl.bind("inproc://interop-steerable").unwrap();
    let control = green_socket(&ctx, zmq::PAIR);
    control.connect("inproc://interop-steerable").unwrap();
    let device = zgreen::spawn(move || zgreen::zmq::proxy_steerable(&frontend, &backend, None, &ctl));

    // The producer sends the messages of each range it is given.
    let (to_producer, batches) = mpsc::channel::<std::ops::Range<usize>>();
    let (sent_tx, sent) = mpsc::channel::<()>();
    let producer = thread::spawn(move || -> Res<()> {
        let producer = connected(zmq::DEALER, &front_ep);
        for range in batches {
            range
                .into_iter()
                .try_for_each(|i| producer.wire_send(&message(i)))?;
            sent_tx.send(()).unwrap();
        }
        Ok(())
    });
    // The consumer hands every message it gets to the test.
    let (got_tx, got) = mpsc::channel::<Frames>();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let consumer = thread::spawn(move || -> Res<()> {
        let consumer = connected(zmq::DEALER, &back_ep);
        while !stop2.load(Ordering::SeqCst) {
            if let Some(m) = consumer.wire_recv_within(20)? {
                got_tx.send(m).unwrap();
            }
        }
        Ok(())
    });
    let expect_batch = |range: std::ops::Range<usize>| {
        for i in range {
            let m = green_recv(&got, OP_TIMEOUT);
            assert_eq!(m, message(i), "message {i} through the proxy");
        }
    };

    to_producer.send(0..10).unwrap();
    expect_batch(0..10);
    assert_eq!(statistics(&control), forwarded(0..10));

    control.send("PAUSE", 0).unwrap();
    assert_eq!(statistics(&control), forwarded(0..10), "PAUSE was taken in order");
    to_producer.send(10..20).unwrap();
    green_recv(&sent, OP_TIMEOUT);
    zgreen::sleep(Duration::from_millis(300)).unwrap();
    assert!(got.try_recv().is_err(), "a paused proxy forwarded a message");
    assert_eq!(
        statistics(&control),
        forwarded(0..10),
        "nothing read while paused"
    );

    control.send("RESUME", 0).unwrap();
    expect_batch(10..20);
    let stats = statistics(&control);
    assert_eq!(stats, forwarded(0..20));

    control.send("TERMINATE", 0).unwrap();
    let last = device.get().unwrap().expect("TERMINATE returns the counters");
    assert_eq!(last, stats);

    drop(to_producer);
    wait_thread(producer).expect("producer");
    stop.store(true, Ordering::SeqCst);
    wait_thread(consumer).expect("consumer");
}

// --------------------------------------------------------------- monitor

/// Reads monitor events into `seen` until the last one seen is `last`
/// (at once if it already is).
fn events_through(monitor: &zgreen::zmq::Monitor, seen: &mut Vec<MonitorEvent>, last: zmq::SocketEvent) {
    while seen.last().is_none_or(|e| e.event != last) {
        let ev = monitor.recv_timeout(OP_TIMEOUT);
        seen.push(ev.unwrap_or_else(|e| panic!("up to {last:?}: {e:?}")));
    }
}

/// Reads monitor events until `MONITOR_STOPPED` (the socket must be closed
/// first). A monitor must outlive its socket's events: dropping it early
/// blocks libzmq's I/O thread at the next event.
fn events_until_stopped(
    monitor: &zgreen::zmq::Monitor,
    mut seen: Vec<MonitorEvent>,
) -> Vec<zmq::SocketEvent> {
    loop {
        let ev = monitor.recv_timeout(OP_TIMEOUT).expect("monitor event");
        let stopped = ev.event == zmq::SocketEvent::MONITOR_STOPPED;
        seen.push(ev);
        if stopped {
            return seen.into_iter().map(|e| e.event).collect();
        }
    }
}

/// Closes `socket`, reads its monitor to the end, and checks that `want`
/// appears among all the events (`seen` first) in this order (other
/// events may come between).
fn assert_in_order_after_close(
    socket: zgreen::zmq::Socket,
    monitor: &zgreen::zmq::Monitor,
    seen: Vec<MonitorEvent>,
    want: &[zmq::SocketEvent],
) {
    drop(socket);
    let events = events_until_stopped(monitor, seen);
    let mut it = events.iter();
    for w in want {
        assert!(it.any(|e| e == w), "{w:?} missing or out of order in {events:?}");
    }
}

/// A bound green socket's monitor reports Listening, Accepted,
/// HandshakeSucceeded and Disconnected (the blocking peer closes), then
/// Closed and MonitorStopped when the socket closes.
#[test]
fn monitor_of_a_bound_socket() {
    use zmq::SocketEvent as E;
    let _t = Timeout::start_new(BOUND);
    let ctx = Context::new();
    let router = green_socket(&ctx, zmq::ROUTER);
    let monitor = router.monitor_events(E::ALL as i32).unwrap();
    router.bind("tcp://127.0.0.1:*").unwrap();
    let ep = router.last_endpoint().unwrap();
    let listening = monitor.recv_timeout(OP_TIMEOUT).unwrap();
    assert_eq!(
        (listening.event, listening.endpoint()),
        (E::LISTENING, ep.as_str())
    );

    let peer = thread::spawn(move || -> Res<()> {
        let dealer = connected(zmq::DEALER, &ep);
        dealer.wire_send(&[b"hi".to_vec()])?;
        expect_frames("answer", &dealer.wire_recv()?, &[b"hi back".to_vec()])
        // The socket and its context close here: a disconnect.
    });
    let request = router.recv_multipart(0).unwrap();
    router.send_multipart([&request[0][..], b"hi back"], 0).unwrap();
    wait_thread(peer).expect("blocking DEALER");
    let mut seen = Vec::new();
    events_through(&monitor, &mut seen, E::DISCONNECTED);
    assert_in_order_after_close(
        router,
        &monitor,
        seen,
        &[
            E::ACCEPTED,
            E::HANDSHAKE_SUCCEEDED,
            E::DISCONNECTED,
            E::CLOSED,
            E::MONITOR_STOPPED,
        ],
    );
}

/// A connecting green socket's monitor reports Connected,
/// HandshakeSucceeded and, when the blocking peer goes away, Disconnected.
#[test]
fn monitor_of_a_connecting_socket() {
    use zmq::SocketEvent as E;
    let _t = Timeout::start_new(BOUND);
    let ctx = Context::new();
    let peer_ctx = zmq::Context::new();
    let router = blocking_socket(&peer_ctx, zmq::ROUTER);
    router.bind("tcp://127.0.0.1:*").unwrap();
    let ep = last_endpoint(&router);
    let (close_tx, close_rx) = mpsc::channel::<()>();
    let peer = thread::spawn(move || -> Res<()> {
        let request = router.wire_recv()?;
        router.wire_send(&[request[0].clone(), b"hi back".to_vec()])?;
        close_rx.recv().map_err(|e| e.to_string())
        // The ROUTER and its context close here.
    });

    let dealer = green_socket(&ctx, zmq::DEALER);
    let monitor = dealer.monitor_events(E::ALL as i32).unwrap();
    dealer.connect(&ep).unwrap();
    dealer.send("hi", 0).unwrap();
    assert_eq!(dealer.recv_bytes(0).unwrap(), b"hi back");
    let mut seen = Vec::new();
    events_through(&monitor, &mut seen, E::HANDSHAKE_SUCCEEDED);
    close_tx.send(()).unwrap();
    wait_thread(peer).expect("blocking ROUTER");
    events_through(&monitor, &mut seen, E::DISCONNECTED);
    let disconnected = seen.last().unwrap();
    assert_eq!(disconnected.endpoint(), ep);
    assert_in_order_after_close(
        dealer,
        &monitor,
        seen,
        &[
            E::CONNECTED,
            E::HANDSHAKE_SUCCEEDED,
            E::DISCONNECTED,
            E::MONITOR_STOPPED,
        ],
    );
}

/// The streamer: blocking PUSH producers -> green PULL | proxy | green
/// PUSH -> blocking PULL consumers. Every message arrives exactly once, and
/// each consumer sees each producer's messages in order.
#[test]
fn proxy_streamer_with_blocking_producers_and_consumers() {
    let _t = Timeout::start_new(BOUND);
    let ctx = Context::new();
    let (device, front_ep, back_ep) = start_proxy(&ctx, zmq::PULL, zmq::PUSH);

    let per_producer = N / 2;
    let received = Arc::new(AtomicUsize::new(0));
    let consumers: Vec<_> = (0..2)
        .map(|_| {
            let (ep, received) = (back_ep.clone(), received.clone());
            thread::spawn(move || -> Res<Vec<(usize, usize)>> {
                let pull = connected(zmq::PULL, &ep);
                let mut got = Vec::new();
                let deadline = Instant::now() + OP_TIMEOUT;
                while received.load(Ordering::SeqCst) < 2 * per_producer {
                    if Instant::now() > deadline {
                        return Err(format!(
                            "messages missing: {} in all, {} here",
                            received.load(Ordering::SeqCst),
                            got.len()
                        ));
                    }
                    let Some(mut frames) = pull.wire_recv_within(20)? else {
                        continue;
                    };
                    let head = frames.remove(0);
                    let (p, i) = (head[0] as usize, u16::from_le_bytes([head[1], head[2]]) as usize);
                    expect_frames(&format!("producer {p} message {i}"), &frames, &message(i))?;
                    got.push((p, i));
                    received.fetch_add(1, Ordering::SeqCst);
                }
                Ok(got)
            })
        })
        .collect();
    let producers: Vec<_> = (0..2u8)
        .map(|p| {
            let ep = front_ep.clone();
            thread::spawn(move || -> Res<()> {
                let push = connected(zmq::PUSH, &ep);
                for i in 0..per_producer {
                    let mut frames = vec![[&[p][..], &(i as u16).to_le_bytes()].concat()];
                    frames.extend(message(i));
                    push.wire_send(&frames)?;
                }
                Ok(())
            })
        })
        .collect();
    for h in producers {
        wait_thread(h).expect("producer");
    }
    let mut all = BTreeSet::new();
    for h in consumers {
        let got = wait_thread(h).expect("consumer");
        for p in 0..2 {
            let seq: Vec<usize> = got.iter().filter(|m| m.0 == p).map(|m| m.1).collect();
            assert!(
                seq.windows(2).all(|w| w[0] < w[1]),
                "producer {p} out of order: {seq:?}"
            );
        }
        for m in got {
            assert!(all.insert(m), "message {m:?} delivered twice");
        }
    }
    assert_eq!(all.len(), 2 * per_producer);
    device.kill().unwrap();
}

/// Dropping a `Monitor` while its socket lives stops the monitoring, so
/// libzmq's I/O thread never blocks on an event nobody will read (which
/// would freeze every tcp connection of the context).
#[test]
fn dropping_a_monitor_does_not_freeze_the_context() {
    let _t = Timeout::start_new(BOUND);
    let ctx = Context::new();
    let pull = ctx.socket(zmq::PULL).unwrap();
    let mon = pull.monitor_events(zmq::SocketEvent::ALL as i32).unwrap();
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = ctx.socket(zmq::PUSH).unwrap();
    push.connect(&pull.last_endpoint().unwrap()).unwrap();
    push.send("one", 0).unwrap();
    assert_eq!(pull.recv_bytes(0).unwrap(), b"one");
    drop(mon);
    zgreen::sleep(Duration::from_millis(100)).unwrap();
    drop(push); // a disconnect event nobody reads
    zgreen::sleep(Duration::from_millis(100)).unwrap();
    let a = ctx.socket(zmq::PAIR).unwrap();
    a.bind("tcp://127.0.0.1:*").unwrap();
    let b = ctx.socket(zmq::PAIR).unwrap();
    b.connect(&a.last_endpoint().unwrap()).unwrap();
    b.send("still alive", 0).unwrap();
    assert_eq!(
        a.recv_multipart_timeout(0, Duration::from_secs(2)).unwrap(),
        vec![b"still alive".to_vec()]
    );
}
