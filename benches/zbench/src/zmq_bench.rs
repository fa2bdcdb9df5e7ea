//! Issue 4: green ZeroMQ against raw libzmq on the same machine.
//!
//! Every function measures one figure for one implementation in this
//! process and returns its JSON line. Implementations:
//!
//! * `green`: zgreen sockets, every party a greenlet on one hub;
//! * `green-2hubs`: (REQ/REP only) the two parties on two OS threads, each
//!   with its own hub;
//! * `blocking`: raw `zmq` crate sockets, blocking, one OS thread per
//!   party;
//! * `fdloop`: (PUSH/PULL only) both raw sockets in one thread, driven by
//!   `DONTWAIT` operations, `ZMQ_EVENTS` and `poll(2)` on the two
//!   `ZMQ_FD`s (the loop a hand-written single-thread event loop runs);
//! * `zmq-proxy`: (proxy only) libzmq's own `zmq_proxy_steerable` in an OS
//!   thread.
//!
//! Connections are set up and one warm-up message goes end to end before
//! the clock starts; the clock stops when the last message has arrived.

use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Instant;

use clap::ValueEnum;
use serde_json::{Value, json};

/// Where the sockets talk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum Transport {
    Tcp,
    Ipc,
    Inproc,
}

impl Transport {
    pub fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Ipc => "ipc",
            Transport::Inproc => "inproc",
        }
    }
}

static SEQ: AtomicU64 = AtomicU64::new(0);

/// An endpoint to bind (tcp resolves its port at bind time: read it back
/// with `last_endpoint`).
pub fn bind_endpoint(t: Transport) -> String {
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    match t {
        Transport::Tcp => "tcp://127.0.0.1:*".into(),
        Transport::Ipc => format!("ipc:///tmp/zbench-{pid}-{n}.ipc"),
        Transport::Inproc => format!("inproc://zbench-{n}"),
    }
}

fn zerr(e: zgreen::Error) -> String {
    e.to_string()
}

fn rerr(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn last_ep(s: &zmq::Socket) -> Result<String, String> {
    s.get_last_endpoint()
        .map_err(rerr)?
        .map_err(|_| "last_endpoint is not UTF-8".to_string())
}

/// The JSON line of a throughput figure.
pub(crate) fn thr_line(bench: &str, imp: &str, t: Transport, size: usize, count: u64, secs: f64) -> Value {
    json!({
        "bench": bench,
        "impl": imp,
        "transport": t.name(),
        "size": size,
        "count": count,
        "secs": secs,
        "msgs_per_s": count as f64 / secs,
        "mb_per_s": count as f64 * size as f64 / secs / 1e6,
    })
}

fn green_ctx(io_threads: Option<i32>) -> Result<zgreen::zmq::Context, String> {
    match io_threads {
        Some(n) => zgreen::zmq::Context::with_io_threads(n).map_err(zerr),
        None => Ok(zgreen::zmq::Context::new()),
    }
}

fn raw_ctx(io_threads: Option<i32>) -> Result<zmq::Context, String> {
    let ctx = zmq::Context::new();
    if let Some(n) = io_threads {
        ctx.set_io_threads(n).map_err(rerr)?;
    }
    Ok(ctx)
}

/// A green socket of `kind` bound on `t`, with the endpoint it got.
fn bound_green(
    ctx: &zgreen::zmq::Context,
    kind: zmq::SocketType,
    t: Transport,
) -> Result<(zgreen::zmq::Socket, String), String> {
    let s = ctx.socket(kind).map_err(zerr)?;
    s.bind(&bind_endpoint(t)).map_err(rerr)?;
    let ep = s.last_endpoint().map_err(zerr)?;
    Ok((s, ep))
}

/// A raw socket of `kind` bound on `t`, with the endpoint it got.
fn bound_raw(
    ctx: &zmq::Context,
    kind: zmq::SocketType,
    t: Transport,
) -> Result<(zmq::Socket, String), String> {
    let s = ctx.socket(kind).map_err(rerr)?;
    s.bind(&bind_endpoint(t)).map_err(rerr)?;
    let ep = last_ep(&s)?;
    Ok((s, ep))
}

/// A green socket of `kind` bound on `t`, and one of `peer` connected to
/// it.
fn pair_green(
    ctx: &zgreen::zmq::Context,
    t: Transport,
    kind: zmq::SocketType,
    peer: zmq::SocketType,
) -> Result<(zgreen::zmq::Socket, zgreen::zmq::Socket), String> {
    let (s, ep) = bound_green(ctx, kind, t)?;
    let p = ctx.socket(peer).map_err(zerr)?;
    p.connect(&ep).map_err(rerr)?;
    Ok((s, p))
}

/// A raw socket of `kind` bound on `t`, and one of `peer` connected to it.
fn pair_raw(
    ctx: &zmq::Context,
    t: Transport,
    kind: zmq::SocketType,
    peer: zmq::SocketType,
) -> Result<(zmq::Socket, zmq::Socket), String> {
    let (s, ep) = bound_raw(ctx, kind, t)?;
    let p = ctx.socket(peer).map_err(rerr)?;
    p.connect(&ep).map_err(rerr)?;
    Ok((s, p))
}

/// The value of a finished greenlet's body.
fn take<T: 'static>(g: zgreen::Greenlet<zgreen::Result<T>>) -> Result<T, String> {
    g.take().map_err(zerr)?.map_err(zerr)
}

/// One `DONTWAIT` send: false when the socket would block.
fn try_send(s: &zmq::Socket, buf: &[u8]) -> Result<bool, String> {
    match s.send(buf, zmq::DONTWAIT) {
        Ok(()) => Ok(true),
        Err(zmq::Error::EAGAIN) => Ok(false),
        Err(e) => Err(rerr(e)),
    }
}

/// One `DONTWAIT` receive: false when nothing is queued.
fn try_recv(s: &zmq::Socket, msg: &mut zmq::Message) -> Result<bool, String> {
    match s.recv(msg, zmq::DONTWAIT) {
        Ok(()) => Ok(true),
        Err(zmq::Error::EAGAIN) => Ok(false),
        Err(e) => Err(rerr(e)),
    }
}

// ------------------------------------------------------------ PUSH -> PULL

pub fn pushpull(imp: &str, t: Transport, size: usize, count: u64, io: Option<i32>) -> Result<Value, String> {
    let secs = match imp {
        "green" => pushpull_green(t, size, count, io)?,
        "blocking" => pushpull_blocking(t, size, count, io)?,
        "fdloop" => pushpull_fdloop(t, size, count, io)?,
        other => return Err(format!("pushpull: unknown impl {other:?}")),
    };
    let mut v = thr_line("pushpull", imp, t, size, count, secs);
    v["io_threads"] = json!(io.unwrap_or(1));
    Ok(v)
}

fn pushpull_green(t: Transport, size: usize, count: u64, io: Option<i32>) -> Result<f64, String> {
    let ctx = green_ctx(io)?;
    let (pull, push) = pair_green(&ctx, t, zmq::PULL, zmq::PUSH)?;
    let buf = vec![b'x'; size];
    push.send(&buf[..], 0).map_err(zerr)?;
    pull.recv_msg(0).map_err(zerr)?;

    let start = Instant::now();
    let sender = zgreen::spawn(move || -> zgreen::Result<()> {
        for _ in 0..count {
            push.send(&buf[..], 0)?;
        }
        Ok(())
    });
    let receiver = zgreen::spawn(move || -> zgreen::Result<f64> {
        let mut msg = zmq::Message::new();
        for _ in 0..count {
            pull.recv(&mut msg, 0)?;
        }
        Ok(start.elapsed().as_secs_f64())
    });
    let secs = take(receiver)?;
    take(sender)?;
    Ok(secs)
}

/// A raw PULL bound on `t` and a PUSH connected to it, one warm-up
/// message of `size` bytes already through; returns them, the payload and
/// the message buffer.
fn pushpull_raw(
    t: Transport,
    size: usize,
    io: Option<i32>,
) -> Result<(zmq::Socket, zmq::Socket, Vec<u8>, zmq::Message), String> {
    let ctx = raw_ctx(io)?;
    let (pull, push) = pair_raw(&ctx, t, zmq::PULL, zmq::PUSH)?;
    let buf = vec![b'x'; size];
    let mut msg = zmq::Message::new();
    push.send(&buf[..], 0).map_err(rerr)?;
    pull.recv(&mut msg, 0).map_err(rerr)?;
    Ok((pull, push, buf, msg))
}

/// A thread that sends `buf` `count` times on `s`, blocking.
fn send_thread(s: zmq::Socket, buf: Vec<u8>, count: u64) -> thread::JoinHandle<Result<(), String>> {
    thread::spawn(move || {
        for _ in 0..count {
            s.send(&buf[..], 0).map_err(rerr)?;
        }
        Ok(())
    })
}

fn pushpull_blocking(t: Transport, size: usize, count: u64, io: Option<i32>) -> Result<f64, String> {
    let (pull, push, buf, mut msg) = pushpull_raw(t, size, io)?;
    let start = Instant::now();
    let sender = send_thread(push, buf, count);
    for _ in 0..count {
        pull.recv(&mut msg, 0).map_err(rerr)?;
    }
    let secs = start.elapsed().as_secs_f64();
    sender.join().map_err(|_| "sender panicked".to_string())??;
    Ok(secs)
}

/// Waits until one of the `fds` signals (they are edge-triggered: only
/// call this after `ZMQ_EVENTS` showed nothing to do).
fn poll_fds(fds: &[i32]) -> Result<(), String> {
    let mut p: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    loop {
        // SAFETY: `p` is a valid array of pollfds for the call's duration.
        let rc = unsafe { libc::poll(p.as_mut_ptr(), p.len() as libc::nfds_t, -1) };
        if rc >= 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("poll: {e}"));
        }
    }
}

fn pushpull_fdloop(t: Transport, size: usize, count: u64, io: Option<i32>) -> Result<f64, String> {
    let (pull, push, buf, mut msg) = pushpull_raw(t, size, io)?;
    let fds = [push.get_fd().map_err(rerr)?, pull.get_fd().map_err(rerr)?];
    let (mut sent, mut got) = (0u64, 0u64);
    let mut waits = 0u64;

    let start = Instant::now();
    while got < count {
        let mut progress = false;
        while sent < count && try_send(&push, &buf)? {
            sent += 1;
            progress = true;
        }
        while try_recv(&pull, &mut msg)? {
            got += 1;
            progress = true;
        }
        if progress {
            continue;
        }
        // Nothing moved: ZMQ_EVENTS first (the edge may have fired
        // already), then poll the fds.
        let pe = push.get_events().map_err(rerr)?;
        let le = pull.get_events().map_err(rerr)?;
        if (sent < count && pe.contains(zmq::POLLOUT)) || le.contains(zmq::POLLIN) {
            continue;
        }
        waits += 1;
        poll_fds(&fds)?;
    }
    let secs = start.elapsed().as_secs_f64();
    let _ = waits;
    Ok(secs)
}

// ----------------------------------------------------------------- REQ/REP

/// The JSON line of a round-trip figure.
pub(crate) fn rtt_line(imp: &str, t: Transport, size: usize, count: u64, secs: f64) -> Value {
    json!({
        "bench": "reqrep",
        "impl": imp,
        "transport": t.name(),
        "size": size,
        "count": count,
        "secs": secs,
        "us_per_rtt": secs * 1e6 / count as f64,
    })
}

pub fn reqrep(imp: &str, t: Transport, size: usize, count: u64, io: Option<i32>) -> Result<Value, String> {
    let secs = match imp {
        "green" => reqrep_green(t, size, count, io)?,
        "green-2hubs" => reqrep_green_2hubs(t, size, count, io)?,
        "blocking" => reqrep_blocking(t, size, count, io)?,
        // CLIENT/SERVER draft sockets, green (one context, default I/O threads).
        "green-draft" => crate::draft_bench::client_server(t, size, count)?,
        other => return Err(format!("reqrep: unknown impl {other:?}")),
    };
    let mut v = rtt_line(imp, t, size, count, secs);
    v["io_threads"] = json!(io.unwrap_or(1));
    Ok(v)
}

/// The green REP side: echoes `count + 1` requests (the first is the
/// warm-up).
fn echo_green(rep: &zgreen::zmq::Socket, count: u64) -> zgreen::Result<()> {
    let mut msg = zmq::Message::new();
    for _ in 0..=count {
        rep.recv(&mut msg, 0)?;
        rep.send(&msg[..], 0)?;
    }
    Ok(())
}

/// The green REQ side: one warm-up round trip, then `count` timed ones;
/// returns their seconds.
fn client_green(req: &zgreen::zmq::Socket, size: usize, count: u64) -> zgreen::Result<f64> {
    let buf = vec![b'x'; size];
    let mut msg = zmq::Message::new();
    req.send(&buf[..], 0)?;
    req.recv(&mut msg, 0)?;
    let start = Instant::now();
    for _ in 0..count {
        req.send(&buf[..], 0)?;
        req.recv(&mut msg, 0)?;
    }
    Ok(start.elapsed().as_secs_f64())
}

fn reqrep_green(t: Transport, size: usize, count: u64, io: Option<i32>) -> Result<f64, String> {
    let ctx = green_ctx(io)?;
    let (rep, req) = pair_green(&ctx, t, zmq::REP, zmq::REQ)?;
    let server = zgreen::spawn(move || echo_green(&rep, count));
    let client = zgreen::spawn(move || client_green(&req, size, count));
    let secs = take(client)?;
    take(server)?;
    Ok(secs)
}

fn reqrep_green_2hubs(t: Transport, size: usize, count: u64, io: Option<i32>) -> Result<f64, String> {
    let ctx = green_ctx(io)?;
    let (tx, rx) = std::sync::mpsc::channel::<Result<String, String>>();
    let ctx2 = ctx.clone();
    let bind = bind_endpoint(t);
    // The REP side: its own thread, its own hub (the thread's root context
    // runs the hub while it blocks).
    let server = thread::spawn(move || -> Result<(), String> {
        let rep = match ctx2.socket(zmq::REP) {
            Ok(s) => s,
            Err(e) => {
                let _ = tx.send(Err(zerr(e.clone())));
                return Err(zerr(e));
            }
        };
        if let Err(e) = rep.bind(&bind) {
            let _ = tx.send(Err(rerr(&e)));
            return Err(rerr(e));
        }
        let _ = tx.send(rep.last_endpoint().map_err(zerr));
        take(zgreen::spawn(move || echo_green(&rep, count)))
    });
    let ep = rx.recv().map_err(|_| "server thread died".to_string())??;
    let req = ctx.socket(zmq::REQ).map_err(zerr)?;
    req.connect(&ep).map_err(rerr)?;
    let client = zgreen::spawn(move || client_green(&req, size, count));
    let secs = take(client)?;
    server.join().map_err(|_| "server panicked".to_string())??;
    Ok(secs)
}

fn reqrep_blocking(t: Transport, size: usize, count: u64, io: Option<i32>) -> Result<f64, String> {
    let ctx = raw_ctx(io)?;
    let (rep, req) = pair_raw(&ctx, t, zmq::REP, zmq::REQ)?;
    let server = thread::spawn(move || -> Result<(), String> {
        let mut msg = zmq::Message::new();
        for _ in 0..=count {
            rep.recv(&mut msg, 0).map_err(rerr)?;
            rep.send(&msg[..], 0).map_err(rerr)?;
        }
        Ok(())
    });
    let buf = vec![b'x'; size];
    let mut msg = zmq::Message::new();
    req.send(&buf[..], 0).map_err(rerr)?;
    req.recv(&mut msg, 0).map_err(rerr)?;
    let start = Instant::now();
    for _ in 0..count {
        req.send(&buf[..], 0).map_err(rerr)?;
        req.recv(&mut msg, 0).map_err(rerr)?;
    }
    let secs = start.elapsed().as_secs_f64();
    server.join().map_err(|_| "server panicked".to_string())??;
    Ok(secs)
}

// ------------------------------------------------------------------- proxy

/// The sockets around the proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum Topology {
    /// PUSH → PULL frontend [proxy] PUSH backend → PULL (libzmq's
    /// "streamer" device).
    PushPull,
    /// PUSH → PULL frontend [proxy] DEALER backend → DEALER.
    PullDealer,
    /// DEALER → ROUTER frontend [proxy] DEALER backend → ROUTER (libzmq's
    /// "queue" device; every message is two frames at the frontend and
    /// three at the consumer).
    RouterDealer,
}

impl Topology {
    pub fn name(self) -> &'static str {
        match self {
            Topology::PushPull => "push-pull",
            Topology::PullDealer => "pull-dealer",
            Topology::RouterDealer => "router-dealer",
        }
    }

    /// (producer, frontend, backend, consumer)
    fn kinds(self) -> [zmq::SocketType; 4] {
        match self {
            Topology::PushPull => [zmq::PUSH, zmq::PULL, zmq::PUSH, zmq::PULL],
            Topology::PullDealer => [zmq::PUSH, zmq::PULL, zmq::DEALER, zmq::DEALER],
            Topology::RouterDealer => [zmq::DEALER, zmq::ROUTER, zmq::DEALER, zmq::ROUTER],
        }
    }
}

/// Receives one whole (possibly multipart) message.
fn recv_whole(s: &zmq::Socket, msg: &mut zmq::Message) -> Result<(), String> {
    loop {
        s.recv(msg, 0).map_err(rerr)?;
        if !msg.get_more() {
            return Ok(());
        }
    }
}

/// producer thread → frontend [proxy] backend → consumer (the main
/// thread). The producer and consumer are blocking `zmq` sockets of their
/// own context in both cases; only the proxy differs: zgreen's
/// `proxy_steerable` in a greenlet on a hub thread, or libzmq's
/// `zmq_proxy_steerable` in a thread. The control socket is a PAIR over
/// the same transport.
pub fn proxy(imp: &str, topo: Topology, t: Transport, size: usize, count: u64) -> Result<Value, String> {
    if t == Transport::Inproc {
        return Err("proxy: inproc cannot cross the proxy's own context; use tcp or ipc".into());
    }
    let [kp, kf, kb, kc] = topo.kinds();
    let (tx, rx) = std::sync::mpsc::channel::<Result<[String; 3], String>>();
    let proxy_thread = match imp {
        "green" => thread::spawn(move || -> Result<String, String> {
            let ctx = zgreen::zmq::Context::new();
            let mk = |kind| bound_green(&ctx, kind, t);
            let made = (|| Ok::<_, String>((mk(kf)?, mk(kb)?, mk(zmq::PAIR)?)))();
            let ((front, fe), (back, be), (ctl, ce)) = match made {
                Ok(m) => m,
                Err(e) => {
                    let _ = tx.send(Err(e.clone()));
                    return Err(e);
                }
            };
            let _ = tx.send(Ok([fe, be, ce]));
            let g = zgreen::spawn(move || zgreen::zmq::proxy_steerable(&front, &back, None, &ctl));
            let stats = g
                .take()
                .map_err(zerr)?
                .map_err(|e| format!("zgreen::zmq::proxy_steerable failed: {e}"))?;
            Ok(format!("{stats:?}"))
        }),
        "zmq-proxy" => thread::spawn(move || -> Result<String, String> {
            let ctx = zmq::Context::new();
            let mk = |kind| bound_raw(&ctx, kind, t);
            let made = (|| Ok::<_, String>((mk(kf)?, mk(kb)?, mk(zmq::PAIR)?)))();
            let ((mut front, fe), (mut back, be), (mut ctl, ce)) = match made {
                Ok(m) => m,
                Err(e) => {
                    let _ = tx.send(Err(e.clone()));
                    return Err(e);
                }
            };
            let _ = tx.send(Ok([fe, be, ce]));
            zmq::proxy_steerable(&mut front, &mut back, &mut ctl)
                .map_err(|e| format!("zmq::proxy_steerable failed: {e}"))?;
            Ok(String::new())
        }),
        other => return Err(format!("proxy: unknown impl {other:?}")),
    };
    let [fe, be, ce] = rx.recv().map_err(|_| "proxy thread died".to_string())??;
    let ctx = zmq::Context::new();
    let consumer = ctx.socket(kc).map_err(rerr)?;
    consumer.connect(&be).map_err(rerr)?;
    let producer = ctx.socket(kp).map_err(rerr)?;
    producer.connect(&fe).map_err(rerr)?;
    let ctl = ctx.socket(zmq::PAIR).map_err(rerr)?;
    ctl.connect(&ce).map_err(rerr)?;
    let buf = vec![b'x'; size];
    let mut msg = zmq::Message::new();
    producer.send(&buf[..], 0).map_err(rerr)?;
    // Warm-up: if the proxy died, say why instead of waiting forever.
    consumer.set_rcvtimeo(10_000).map_err(rerr)?;
    if let Err(e) = recv_whole(&consumer, &mut msg) {
        if proxy_thread.is_finished() {
            let why = match proxy_thread.join() {
                Ok(Err(e)) => e,
                Ok(Ok(_)) => "the proxy returned".into(),
                Err(_) => "the proxy panicked".into(),
            };
            return Err(format!("proxy ({}): no warm-up message: {why}", topo.name()));
        }
        return Err(format!(
            "proxy ({}): no warm-up message in 10 s: {e}",
            topo.name()
        ));
    }

    let start = Instant::now();
    let prod = send_thread(producer, buf, count);
    for i in 0..count {
        // 10 s without a message: the proxy has stalled.
        if let Err(e) = recv_whole(&consumer, &mut msg) {
            return Err(format!(
                "proxy ({}, {imp}): stalled after {i} of {count} messages ({e}); producer done: {}",
                topo.name(),
                prod.is_finished()
            ));
        }
    }
    let secs = start.elapsed().as_secs_f64();
    prod.join().map_err(|_| "producer panicked".to_string())??;
    ctl.send("TERMINATE", 0).map_err(rerr)?;
    let stats = proxy_thread.join().map_err(|_| "proxy panicked".to_string())??;
    let mut v = thr_line("proxy", imp, t, size, count, secs);
    v["topology"] = json!(topo.name());
    v["final_stats"] = json!(stats);
    Ok(v)
}

// ------------------------------------------------------------------ fan-in

/// `dealers` DEALER greenlets, each sending `count / dealers` messages, into
/// one ROUTER greenlet, all on one hub. `dealers = 1` is the single pair.
pub fn fanin(imp: &str, dealers: u64, t: Transport, size: usize, count: u64) -> Result<Value, String> {
    if dealers == 0 || count % dealers != 0 {
        return Err("fanin: --count must be a positive multiple of --dealers".into());
    }
    match imp {
        "green" => {}
        "raw" => return fanin_raw(dealers, t, size, count),
        other => return Err(format!("fanin: unknown impl {other:?}")),
    }
    let per = count / dealers;
    let ctx = zgreen::zmq::Context::new();
    ctx.set_max_sockets((dealers as i32).saturating_add(64))
        .map_err(zerr)?;
    let (router, ep) = bound_green(&ctx, zmq::ROUTER, t)?;
    let go = zgreen::sync::Event::new();
    let mut senders = Vec::with_capacity(dealers as usize);
    for _ in 0..dealers {
        let s = ctx.socket(zmq::DEALER).map_err(zerr)?;
        s.connect(&ep).map_err(rerr)?;
        let go = go.clone();
        let buf = vec![b'x'; size];
        senders.push(zgreen::spawn(move || -> zgreen::Result<()> {
            s.send(&buf[..], 0)?; // warm-up: the connection is up
            go.wait()?;
            for _ in 0..per {
                s.send(&buf[..], 0)?;
            }
            Ok(())
        }));
    }
    let receiver = {
        let go = go.clone();
        zgreen::spawn(move || -> zgreen::Result<f64> {
            let (mut id, mut msg) = (zmq::Message::new(), zmq::Message::new());
            for _ in 0..dealers {
                router.recv(&mut id, 0)?;
                router.recv(&mut msg, 0)?;
            }
            let start = Instant::now();
            go.set();
            for _ in 0..count {
                router.recv(&mut id, 0)?;
                router.recv(&mut msg, 0)?;
            }
            Ok(start.elapsed().as_secs_f64())
        })
    };
    let secs = take(receiver)?;
    for s in senders {
        take(s)?;
    }
    Ok(fanin_line("green", dealers, t, size, count, secs))
}

/// The JSON line of a fan-in run: implementation `{family}-pair` with one
/// DEALER, `{family}-fanin` with more.
fn fanin_line(family: &str, dealers: u64, t: Transport, size: usize, count: u64, secs: f64) -> Value {
    let shape = if dealers == 1 { "pair" } else { "fanin" };
    let mut v = thr_line("fanin", &format!("{family}-{shape}"), t, size, count, secs);
    v["dealers"] = json!(dealers);
    v
}

/// The same fan-in on raw libzmq in one thread: every DEALER and the
/// ROUTER driven by `DONTWAIT` operations, `ZMQ_EVENTS` and `poll(2)` on
/// the `ZMQ_FD`s (each DEALER sends up to 128 messages per turn, like a
/// green sender before its fairness yield).
fn fanin_raw(dealers: u64, t: Transport, size: usize, count: u64) -> Result<Value, String> {
    let per = count / dealers;
    // The zmq crate cannot raise ZMQ_MAX_SOCKETS: libzmq's default 1023
    // allows up to 1022 DEALERs here.
    let ctx = zmq::Context::new();
    let (router, ep) = bound_raw(&ctx, zmq::ROUTER, t)?;
    let buf = vec![b'x'; size];
    let mut socks = Vec::with_capacity(dealers as usize);
    for _ in 0..dealers {
        let s = ctx.socket(zmq::DEALER).map_err(rerr)?;
        s.connect(&ep).map_err(rerr)?;
        s.send(&buf[..], 0).map_err(rerr)?; // warm-up
        socks.push(s);
    }
    let (mut id, mut msg) = (zmq::Message::new(), zmq::Message::new());
    for _ in 0..dealers {
        router.recv(&mut id, 0).map_err(rerr)?;
        router.recv(&mut msg, 0).map_err(rerr)?;
    }
    let mut fds = vec![router.get_fd().map_err(rerr)?];
    for s in &socks {
        fds.push(s.get_fd().map_err(rerr)?);
    }
    let mut left = vec![per; dealers as usize];
    let mut got = 0u64;
    let start = Instant::now();
    while got < count {
        let mut progress = false;
        for (s, l) in socks.iter().zip(left.iter_mut()) {
            let mut n = 0;
            while *l > 0 && n < 128 && try_send(s, &buf)? {
                *l -= 1;
                n += 1;
                progress = true;
            }
        }
        while try_recv(&router, &mut id)? {
            router.recv(&mut msg, 0).map_err(rerr)?;
            got += 1;
            progress = true;
        }
        if progress {
            continue;
        }
        let mut ready = router.get_events().map_err(rerr)?.contains(zmq::POLLIN);
        for (s, l) in socks.iter().zip(&left) {
            if *l > 0 && s.get_events().map_err(rerr)?.contains(zmq::POLLOUT) {
                ready = true;
            }
        }
        if !ready {
            poll_fds(&fds)?;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    Ok(fanin_line("raw", dealers, t, size, count, secs))
}
