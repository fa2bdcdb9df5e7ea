//! Green draft sockets (issue 16): CLIENT/SERVER, RADIO/DISH,
//! SCATTER/GATHER, PEER and CHANNEL against blocking libzmq sockets on
//! another thread (in both directions), several greenlets on one socket
//! with kills and timeouts landing anywhere, and the error cases.
#![cfg(feature = "draft")]

mod common;

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;
use std::thread;
use std::time::Duration;

use common::bounded;
use zgreen::Error;
use zgreen::zmq::Context;
use zgreen::zmq::draft::{DraftKind, DraftMessage, DraftSocket};

/// A blocking libzmq draft socket of its own context, for the peer thread:
/// the draft API straight from libzmq, none of zgreen in between. Every
/// receive is bounded by `ZMQ_RCVTIMEO` so a lost message fails the test.
mod blocking {
    use std::ffi::{CStr, CString, c_char, c_int, c_void};

    /// `zmq_msg_t`: 64 opaque bytes, 8-aligned.
    #[repr(C, align(8))]
    struct Msg([u8; 64]);

    unsafe extern "C" {
        fn zmq_ctx_new() -> *mut c_void;
        fn zmq_ctx_term(ctx: *mut c_void) -> c_int;
        fn zmq_socket(ctx: *mut c_void, kind: c_int) -> *mut c_void;
        fn zmq_close(s: *mut c_void) -> c_int;
        fn zmq_bind(s: *mut c_void, ep: *const c_char) -> c_int;
        fn zmq_connect(s: *mut c_void, ep: *const c_char) -> c_int;
        fn zmq_connect_peer(s: *mut c_void, ep: *const c_char) -> u32;
        fn zmq_join(s: *mut c_void, group: *const c_char) -> c_int;
        fn zmq_setsockopt(s: *mut c_void, opt: c_int, val: *const c_void, len: usize) -> c_int;
        fn zmq_getsockopt(s: *mut c_void, opt: c_int, val: *mut c_void, len: *mut usize) -> c_int;
        fn zmq_msg_init(m: *mut Msg) -> c_int;
        fn zmq_msg_init_size(m: *mut Msg, size: usize) -> c_int;
        fn zmq_msg_data(m: *mut Msg) -> *mut c_void;
        fn zmq_msg_size(m: *const Msg) -> usize;
        fn zmq_msg_close(m: *mut Msg) -> c_int;
        fn zmq_msg_send(m: *mut Msg, s: *mut c_void, flags: c_int) -> c_int;
        fn zmq_msg_recv(m: *mut Msg, s: *mut c_void, flags: c_int) -> c_int;
        fn zmq_msg_set_routing_id(m: *mut Msg, id: u32) -> c_int;
        fn zmq_msg_routing_id(m: *mut Msg) -> u32;
        fn zmq_msg_set_group(m: *mut Msg, group: *const c_char) -> c_int;
        fn zmq_msg_group(m: *mut Msg) -> *const c_char;
        fn zmq_errno() -> c_int;
    }

    const RCVTIMEO: c_int = 27;
    const SNDTIMEO: c_int = 28;
    const LINGER: c_int = 17;
    const LAST_ENDPOINT: c_int = 32;

    /// One blocking socket and its context, both closed on drop.
    pub struct Peer {
        ctx: *mut c_void,
        sock: *mut c_void,
    }

    /// What a blocking receive got: data, routing id, group.
    pub type Got = (Vec<u8>, u32, String);

    fn check(rc: c_int, what: &str) {
        // SAFETY: reads this thread's errno only.
        assert!(rc != -1, "{what}: errno {}", unsafe { zmq_errno() });
    }

    impl Peer {
        /// A socket of libzmq type `kind` whose sends and receives give up
        /// after 5 s.
        pub fn new(kind: i32) -> Peer {
            // SAFETY: plain libzmq calls on objects created here; the
            // options are ints of the size given.
            unsafe {
                let ctx = zmq_ctx_new();
                assert!(!ctx.is_null());
                let sock = zmq_socket(ctx, kind);
                assert!(!sock.is_null(), "zmq_socket({kind})");
                for (opt, v) in [(RCVTIMEO, 5000), (SNDTIMEO, 5000), (LINGER, 0)] {
                    check(
                        zmq_setsockopt(sock, opt, (&v as *const c_int).cast(), 4),
                        "setsockopt",
                    );
                }
                Peer { ctx, sock }
            }
        }

        pub fn bind(&self, ep: &str) -> String {
            let ep = CString::new(ep).unwrap();
            // SAFETY: live socket; libzmq copies the string and writes at
            // most `len` bytes of the endpoint.
            unsafe {
                check(zmq_bind(self.sock, ep.as_ptr()), "bind");
                let mut buf = [0u8; 256];
                let mut len = buf.len();
                check(
                    zmq_getsockopt(self.sock, LAST_ENDPOINT, buf.as_mut_ptr().cast(), &mut len),
                    "endpoint",
                );
                CStr::from_ptr(buf.as_ptr().cast()).to_string_lossy().into_owned()
            }
        }

        pub fn connect(&self, ep: &str) {
            let ep = CString::new(ep).unwrap();
            // SAFETY: live socket; libzmq copies the string.
            check(unsafe { zmq_connect(self.sock, ep.as_ptr()) }, "connect");
        }

        pub fn connect_peer(&self, ep: &str) -> u32 {
            let ep = CString::new(ep).unwrap();
            // SAFETY: live socket; libzmq copies the string.
            let id = unsafe { zmq_connect_peer(self.sock, ep.as_ptr()) };
            assert_ne!(id, 0, "zmq_connect_peer");
            id
        }

        pub fn join(&self, group: &str) {
            let g = CString::new(group).unwrap();
            // SAFETY: live socket; libzmq copies the string.
            check(unsafe { zmq_join(self.sock, g.as_ptr()) }, "join");
        }

        /// Sends `data` (to peer `id` if non-zero, in `group` if given).
        pub fn send(&self, data: &[u8], id: u32, group: Option<&str>) {
            let mut m = Msg([0; 64]);
            // SAFETY: `m` is initialized with room for `data`, which is
            // copied in; libzmq takes it on success, and it is closed on
            // failure.
            unsafe {
                check(zmq_msg_init_size(&mut m, data.len()), "msg init");
                std::ptr::copy_nonoverlapping(data.as_ptr(), zmq_msg_data(&mut m).cast(), data.len());
                if id != 0 {
                    check(zmq_msg_set_routing_id(&mut m, id), "routing id");
                }
                if let Some(g) = group {
                    let g = CString::new(g).unwrap();
                    check(zmq_msg_set_group(&mut m, g.as_ptr()), "group");
                }
                let rc = zmq_msg_send(&mut m, self.sock, 0);
                if rc == -1 {
                    zmq_msg_close(&mut m);
                }
                check(rc, "send");
            }
        }

        /// Receives one message, or panics after 5 s.
        pub fn recv(&self) -> Got {
            let mut m = Msg([0; 64]);
            // SAFETY: `m` is an initialized message, closed after its
            // bytes and metadata are copied out.
            unsafe {
                zmq_msg_init(&mut m);
                let rc = zmq_msg_recv(&mut m, self.sock, 0);
                check(rc, "recv (5 s)");
                let data =
                    std::slice::from_raw_parts(zmq_msg_data(&mut m).cast::<u8>(), zmq_msg_size(&m)).to_vec();
                let id = zmq_msg_routing_id(&mut m);
                let g = zmq_msg_group(&mut m);
                let group = if g.is_null() {
                    String::new()
                } else {
                    CStr::from_ptr(g).to_string_lossy().into_owned()
                };
                zmq_msg_close(&mut m);
                (data, id, group)
            }
        }
    }

    impl Drop for Peer {
        fn drop(&mut self) {
            // SAFETY: both were created in `new` and are freed once here.
            unsafe {
                zmq_close(self.sock);
                zmq_ctx_term(self.ctx);
            }
        }
    }

    // SAFETY: the peer is moved to its thread whole and used there only.
    unsafe impl Send for Peer {}
}

use blocking::Peer;

const SERVER: i32 = 12;
const CLIENT: i32 = 13;
const RADIO: i32 = 14;
const DISH: i32 = 15;
const GATHER: i32 = 16;
const SCATTER: i32 = 17;
const PEER: i32 = 19;
const CHANNEL: i32 = 20;

const ROUNDS: u32 = 200;
/// How long one receive may wait before the test fails.
const WITHIN: Duration = Duration::from_secs(5);

fn green(ctx: &Context, kind: DraftKind) -> DraftSocket {
    let s = ctx.draft_socket(kind).unwrap();
    s.set_linger(0).unwrap();
    s
}

fn bind_tcp(s: &DraftSocket) -> String {
    s.bind("tcp://127.0.0.1:*").unwrap();
    s.last_endpoint().unwrap()
}

/// A blocking peer of libzmq type `kind` on a new thread, connected to
/// `ep`, running `f`.
fn connected_peer<T: Send + 'static>(
    kind: i32,
    ep: String,
    f: impl FnOnce(Peer) -> T + Send + 'static,
) -> thread::JoinHandle<T> {
    thread::Builder::new()
        .name("blocking peer".into())
        .spawn(move || {
            let p = Peer::new(kind);
            p.connect(&ep);
            f(p)
        })
        .unwrap()
}

/// A blocking peer of libzmq type `kind` on a new thread, bound to an
/// ephemeral TCP port, running `f`; returns the endpoint (waited for off
/// the hub) and the thread.
fn bound_peer<T: Send + 'static>(
    kind: i32,
    f: impl FnOnce(Peer) -> T + Send + 'static,
) -> (String, thread::JoinHandle<T>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = thread::Builder::new()
        .name("blocking peer".into())
        .spawn(move || {
            let p = Peer::new(kind);
            tx.send(p.bind("tcp://127.0.0.1:*")).unwrap();
            f(p)
        })
        .unwrap();
    let ep = zgreen::threadpool::apply(move || rx.recv())
        .unwrap()
        .expect("the peer's endpoint");
    (ep, handle)
}

/// What the blocking peer thread returned, waited for off the hub; panics
/// naming `what` if the peer failed.
fn join_peer<T: Send + 'static>(peer: thread::JoinHandle<T>, what: &str) -> T {
    zgreen::threadpool::apply(move || peer.join())
        .unwrap()
        .unwrap_or_else(|_| panic!("{what} failed (see its panic above)"))
}

// ------------------------------------------------------------ CLIENT/SERVER

#[test]
fn green_server_answers_a_blocking_client() {
    bounded(|| {
        let ctx = Context::new();
        let server = green(&ctx, DraftKind::Server);
        let client = connected_peer(CLIENT, bind_tcp(&server), |c| {
            for i in 0..ROUNDS {
                c.send(format!("req {i}").as_bytes(), 0, None);
                assert_eq!(c.recv().0, format!("rep {i}").into_bytes());
            }
        });
        for i in 0..ROUNDS {
            let got = server.recv_timeout(WITHIN)?;
            assert_eq!(got.data, format!("req {i}").into_bytes());
            let id = got.routing_id.expect("a SERVER message names its peer");
            server.send(DraftMessage::new(format!("rep {i}")).to_peer(id))?;
        }
        join_peer(client, "the blocking client");
        Ok(())
    });
}

#[test]
fn green_client_talks_to_a_blocking_server() {
    bounded(|| {
        let ctx = Context::new();
        let (ep, server) = bound_peer(SERVER, |s| {
            for _ in 0..ROUNDS {
                let (data, id, _) = s.recv();
                assert_ne!(id, 0);
                s.send(&[&b"re: "[..], &data].concat(), id, None);
            }
        });
        let client = green(&ctx, DraftKind::Client);
        client.connect(&ep)?;
        for i in 0..ROUNDS {
            client.send(format!("{i}").as_str())?;
            let got = client.recv_timeout(WITHIN)?;
            assert_eq!(got.data, format!("re: {i}").into_bytes());
            assert_eq!((got.routing_id, got.group), (None, None));
        }
        join_peer(server, "the blocking server");
        Ok(())
    });
}

// --------------------------------------------------------------- RADIO/DISH

/// Sends to groups "a" and "b" in turn, every 2 ms, until `stop` is set:
/// a RADIO drops what no DISH has joined yet (the join travels after the
/// connection), so the sender keeps going until the receiver has enough.
fn radio_until(radio: &DraftSocket, stop: &Rc<RefCell<bool>>) -> zgreen::Result<()> {
    let mut i = 0u32;
    while !*stop.borrow() {
        for g in ["a", "b"] {
            radio.send(DraftMessage::new(format!("{g}{i}")).in_group(g))?;
        }
        i += 1;
        zgreen::sleep(Duration::from_millis(2))?;
    }
    Ok(())
}

#[test]
fn green_radio_reaches_a_blocking_dish_in_its_group_only() {
    bounded(|| {
        let ctx = Context::new();
        let radio = green(&ctx, DraftKind::Radio);
        let ep = bind_tcp(&radio);
        // Joined before it connects: the join goes out with the connection.
        let dish = thread::spawn(move || {
            let d = Peer::new(DISH);
            d.join("a");
            d.connect(&ep);
            (0..50).map(|_| d.recv()).collect::<Vec<_>>()
        });
        let stop = Rc::new(RefCell::new(false));
        let s = stop.clone();
        let sender = zgreen::spawn(move || radio_until(&radio, &s));
        let got = join_peer(dish, "the blocking dish");
        *stop.borrow_mut() = true;
        sender.get()??;
        for (data, _, group) in &got {
            let text = String::from_utf8_lossy(data);
            assert_eq!(group, "a", "a message of another group: {text:?}");
            assert!(data.starts_with(b"a"), "{text:?}");
        }
        Ok(())
    });
}

#[test]
fn green_dish_gets_a_blocking_radios_group() {
    bounded(|| {
        let ctx = Context::new();
        let dish = green(&ctx, DraftKind::Dish);
        dish.join("b")?;
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop = done.clone();
        let radio = connected_peer(RADIO, bind_tcp(&dish), move |r| {
            let mut i = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                r.send(format!("a{i}").as_bytes(), 0, Some("a"));
                r.send(format!("b{i}").as_bytes(), 0, Some("b"));
                i += 1;
                thread::sleep(Duration::from_millis(2));
            }
        });
        for _ in 0..50 {
            let got = dish.recv_timeout(WITHIN)?;
            assert_eq!(got.group.as_deref(), Some("b"));
            assert!(got.data.starts_with(b"b"), "{:?}", got.data);
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        join_peer(radio, "the blocking radio");
        Ok(())
    });
}

// ----------------------------------------------------------- SCATTER/GATHER

#[test]
fn scatter_and_gather_interoperate_both_ways() {
    bounded(|| {
        let ctx = Context::new();
        let numbered = |i: u32| i.to_be_bytes().to_vec();
        // Green SCATTER to a blocking GATHER.
        let scatter = green(&ctx, DraftKind::Scatter);
        let gather = connected_peer(GATHER, bind_tcp(&scatter), |g| {
            (0..ROUNDS).map(|_| g.recv().0).collect::<Vec<_>>()
        });
        for i in 0..ROUNDS {
            scatter.send(numbered(i))?;
        }
        let got = join_peer(gather, "the blocking gather");
        let want: Vec<Vec<u8>> = (0..ROUNDS).map(numbered).collect();
        assert_eq!(got, want, "one SCATTER to one GATHER keeps the order");

        // A blocking SCATTER to a green GATHER.
        let gather = green(&ctx, DraftKind::Gather);
        let scatter = connected_peer(SCATTER, bind_tcp(&gather), move |s| {
            for i in 0..ROUNDS {
                s.send(&numbered(i), 0, None);
            }
            // Keep the socket until the receiver has everything.
            thread::sleep(Duration::from_millis(200));
        });
        for i in 0..ROUNDS {
            assert_eq!(gather.recv_timeout(WITHIN)?.data, numbered(i));
        }
        join_peer(scatter, "the blocking scatter");
        Ok(())
    });
}

// ------------------------------------------------------------ PEER, CHANNEL

#[test]
fn green_peer_and_blocking_peer_address_each_other() {
    bounded(|| {
        let ctx = Context::new();
        let me = green(&ctx, DraftKind::Peer);
        let ep = bind_tcp(&me);
        let other = thread::spawn(move || {
            let p = Peer::new(PEER);
            let id = p.connect_peer(&ep);
            p.send(b"hello", id, None);
            let (data, from, _) = p.recv();
            assert_eq!((data.as_slice(), from), (&b"hello back"[..], id));
        });
        let got = me.recv_timeout(WITHIN)?;
        assert_eq!(got.data, b"hello");
        let id = got.routing_id.expect("a PEER message names its peer");
        me.send(DraftMessage::new("hello back").to_peer(id))?;
        join_peer(other, "the blocking peer");

        // And the green side connecting: connect_peer gives the id to send to.
        let (ep, other) = bound_peer(PEER, |p| {
            let (data, from, _) = p.recv();
            p.send(&[&data[..], b"!"].concat(), from, None);
        });
        let id = me.connect_peer(&ep)?;
        me.send(DraftMessage::new("ping").to_peer(id))?;
        let got = me.recv_timeout(WITHIN)?;
        assert_eq!((got.data.as_slice(), got.routing_id), (&b"ping!"[..], Some(id)));
        join_peer(other, "the blocking peer");
        Ok(())
    });
}

#[test]
fn green_channel_and_blocking_channel_exchange_messages() {
    bounded(|| {
        let ctx = Context::new();
        let chan = green(&ctx, DraftKind::Channel);
        let other = connected_peer(CHANNEL, bind_tcp(&chan), |c| {
            for _ in 0..ROUNDS {
                let (data, _, _) = c.recv();
                c.send(&data, 0, None);
            }
        });
        for i in 0..ROUNDS {
            chan.send(i.to_le_bytes().as_slice())?;
            assert_eq!(chan.recv_timeout(WITHIN)?.data, i.to_le_bytes());
        }
        join_peer(other, "the blocking channel");
        Ok(())
    });
}

// ------------------------------------------------------ several greenlets

/// Eight greenlets receive on one SERVER while four clients send; some
/// receivers time out in a loop and two are killed while parked. Every
/// message arrives exactly once, whole, and nobody hangs.
#[test]
fn many_greenlets_on_one_server_lose_and_duplicate_nothing() {
    bounded(|| {
        const CLIENTS: u32 = 4;
        const EACH: u32 = 250;
        let ctx = Context::new();
        let server = green(&ctx, DraftKind::Server);
        server.bind("inproc://draft-many")?;
        let seen = Rc::new(RefCell::new(Vec::<Vec<u8>>::new()));
        let receivers: Vec<_> = (0..8)
            .map(|r| {
                let (server, seen) = (server.clone(), seen.clone());
                zgreen::spawn(move || -> zgreen::Result<()> {
                    loop {
                        // Short timeouts land while parked, between messages.
                        let got = if r % 2 == 0 {
                            match server.recv_timeout(Duration::from_millis(1 + r as u64)) {
                                Err(e) if e.is_timeout() => continue,
                                other => other?,
                            }
                        } else {
                            server.recv()?
                        };
                        if got.data == b"end" {
                            return Ok(());
                        }
                        seen.borrow_mut().push(got.data);
                    }
                })
            })
            .collect();
        let senders: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let client = green(&ctx, DraftKind::Client);
                client.connect("inproc://draft-many").unwrap();
                zgreen::spawn(move || -> zgreen::Result<DraftSocket> {
                    for i in 0..EACH {
                        client.send(format!("{c}:{i}").as_str())?;
                    }
                    Ok(client)
                })
            })
            .collect();
        // Two receivers are killed mid-run: parked or between messages.
        zgreen::sleep(Duration::from_millis(2))?;
        receivers[1].kill()?;
        receivers[3].kill()?;
        let clients: Vec<DraftSocket> = senders
            .into_iter()
            .map(|s| s.get()?)
            .collect::<zgreen::Result<_>>()?;
        // Wait until everything sent has been received, then end the rest.
        let total = (CLIENTS * EACH) as usize;
        while seen.borrow().len() < total {
            zgreen::sleep(Duration::from_millis(5))?;
        }
        for _ in 0..6 {
            clients[0].send("end")?;
        }
        for (i, r) in receivers.into_iter().enumerate() {
            match r.get() {
                Ok(Ok(())) => {}
                Ok(Err(Error::Killed)) | Err(Error::Killed) if i == 1 || i == 3 => {}
                other => panic!("receiver {i}: {other:?}"),
            }
        }
        let seen = seen.borrow();
        let unique: HashSet<&Vec<u8>> = seen.iter().collect();
        assert_eq!(seen.len(), total, "received count");
        assert_eq!(unique.len(), total, "a message was received twice");
        for c in 0..CLIENTS {
            for i in 0..EACH {
                assert!(unique.contains(&format!("{c}:{i}").into_bytes()), "lost {c}:{i}");
            }
        }
        Ok(())
    });
}

/// Several greenlets send on one CLIENT at once, one of them killed
/// while parked on a full pipe: everything the others sent arrives.
#[test]
fn greenlets_sharing_a_client_parked_on_a_full_pipe() {
    bounded(|| {
        let ctx = Context::new();
        let server = green(&ctx, DraftKind::Server);
        server.set_rcvhwm(10)?;
        server.bind("inproc://draft-full")?;
        let client = green(&ctx, DraftKind::Client);
        client.set_sndhwm(10)?;
        client.connect("inproc://draft-full")?;
        let senders: Vec<_> = (0..3u8)
            .map(|g| {
                let client = client.clone();
                zgreen::spawn(move || -> zgreen::Result<u32> {
                    let mut sent = 0;
                    for i in 0..100u8 {
                        client.send([g, i].as_slice())?;
                        sent += 1;
                    }
                    Ok(sent)
                })
            })
            .collect();
        // Nobody receives yet: every sender parks on the full pipe.
        zgreen::sleep(Duration::from_millis(20))?;
        senders[2].kill()?;
        let mut got = Vec::new();
        while got.iter().filter(|m: &&Vec<u8>| m[0] != 2).count() < 200 {
            got.push(server.recv_timeout(Duration::from_secs(5))?.data);
        }
        let sent: u32 = senders[..2].iter().map(|s| s.get().unwrap().unwrap()).sum();
        assert_eq!(sent, 200);
        for g in 0..2u8 {
            let mine: Vec<u8> = got.iter().filter(|m| m[0] == g).map(|m| m[1]).collect();
            assert_eq!(
                mine,
                (0..100).collect::<Vec<u8>>(),
                "greenlet {g}'s messages, in order"
            );
        }
        Ok(())
    });
}

/// Three greenlets send 100 messages each on one shared socket (`wrap`
/// addresses each payload), three greenlets receive on the other shared
/// socket: one with short timeouts landing while parked, one killed
/// while parked. Every message arrives exactly once, and each receiver
/// sees each sender's messages in order.
fn shared_both_ends(
    what: &str,
    tx: DraftSocket,
    rx: DraftSocket,
    wrap: impl Fn(Vec<u8>) -> DraftMessage + 'static,
) -> zgreen::Result<()> {
    const SENDERS: u8 = 3;
    const EACH: u8 = 100;
    let wrap = Rc::new(wrap);
    let seen = Rc::new(RefCell::new(Vec::<(usize, Vec<u8>)>::new()));
    let receivers: Vec<_> = (0..3)
        .map(|r| {
            let (rx, seen) = (rx.clone(), seen.clone());
            zgreen::spawn(move || -> zgreen::Result<()> {
                loop {
                    let got = if r == 0 {
                        match rx.recv_timeout(Duration::from_millis(1)) {
                            Err(e) if e.is_timeout() => continue,
                            other => other?,
                        }
                    } else {
                        rx.recv()?
                    };
                    seen.borrow_mut().push((r, got.data));
                }
            })
        })
        .collect();
    zgreen::sleep(Duration::from_millis(2))?;
    receivers[2].kill()?; // parked: nothing sent yet
    let senders: Vec<_> = (0..SENDERS)
        .map(|g| {
            let (tx, wrap) = (tx.clone(), wrap.clone());
            zgreen::spawn(move || -> zgreen::Result<()> {
                for i in 0..EACH {
                    tx.send(wrap(vec![g, i]))?;
                }
                Ok(())
            })
        })
        .collect();
    for s in senders {
        s.get()??;
    }
    let total = usize::from(SENDERS) * usize::from(EACH);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while seen.borrow().len() < total && std::time::Instant::now() < deadline {
        zgreen::sleep(Duration::from_millis(2))?;
    }
    for r in &receivers {
        r.kill()?;
    }
    let seen = seen.borrow();
    assert_eq!(seen.len(), total, "{what}: messages received");
    let mut all: Vec<&Vec<u8>> = seen.iter().map(|(_, m)| m).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), total, "{what}: a message arrived twice");
    for r in 0..2 {
        for g in 0..SENDERS {
            let mine: Vec<u8> = seen
                .iter()
                .filter(|(by, m)| *by == r && m[0] == g)
                .map(|(_, m)| m[1])
                .collect();
            assert!(
                mine.windows(2).all(|w| w[0] < w[1]),
                "{what}: receiver {r} got sender {g}'s out of order: {mine:?}"
            );
        }
    }
    Ok(())
}

/// Sends `probe` through `tx` until `rx` gets one: RADIO drops what no
/// DISH has joined yet, so the join must have arrived before a count.
fn until_joined(tx: &DraftSocket, rx: &DraftSocket, probe: impl Fn() -> DraftMessage) -> zgreen::Result<()> {
    loop {
        tx.send(probe())?;
        match rx.recv_timeout(Duration::from_millis(10)) {
            Ok(_) => break,
            Err(e) if e.is_timeout() => {}
            Err(e) => return Err(e),
        }
    }
    // Drain the probes still on their way.
    while rx.recv_timeout(Duration::from_millis(20)).is_ok() {}
    Ok(())
}

#[test]
fn every_draft_pattern_shared_by_several_greenlets_on_both_ends() {
    bounded(|| {
        let ctx = Context::new();
        let pair = |tx: DraftKind, rx: DraftKind, ep: &str| -> zgreen::Result<(DraftSocket, DraftSocket)> {
            let (t, r) = (green(&ctx, tx), green(&ctx, rx));
            r.bind(ep)?;
            t.connect(ep)?;
            Ok((t, r))
        };
        let (t, r) = pair(DraftKind::Client, DraftKind::Server, "inproc://shared-cs")?;
        shared_both_ends("CLIENT to SERVER", t, r, DraftMessage::new)?;
        let (t, r) = pair(DraftKind::Scatter, DraftKind::Gather, "inproc://shared-sg")?;
        shared_both_ends("SCATTER to GATHER", t, r, DraftMessage::new)?;
        let (t, r) = pair(DraftKind::Channel, DraftKind::Channel, "inproc://shared-ch")?;
        shared_both_ends("CHANNEL to CHANNEL", t, r, DraftMessage::new)?;

        let (radio, dish) = (green(&ctx, DraftKind::Radio), green(&ctx, DraftKind::Dish));
        dish.join("g")?;
        dish.bind("inproc://shared-rd")?;
        radio.connect("inproc://shared-rd")?;
        until_joined(&radio, &dish, || DraftMessage::new("probe").in_group("g"))?;
        shared_both_ends("RADIO to DISH", radio, dish, |d| {
            DraftMessage::new(d).in_group("g")
        })?;

        let (a, b) = (green(&ctx, DraftKind::Peer), green(&ctx, DraftKind::Peer));
        b.bind("inproc://shared-peer")?;
        let id = a.connect_peer("inproc://shared-peer")?;
        shared_both_ends("PEER to PEER", a, b, move |d| DraftMessage::new(d).to_peer(id))?;
        Ok(())
    });
}

// ------------------------------------------------------------- the errors

#[test]
fn try_calls_never_park_and_hand_the_message_back() {
    bounded(|| {
        let ctx = Context::new();
        let client = green(&ctx, DraftKind::Client);
        // No peer: a CLIENT cannot send.
        let err = client.try_send("kept").unwrap_err();
        assert!(err.is_full(), "{err:?}");
        assert_eq!(err.into_inner().data, b"kept");
        assert!(client.try_recv().unwrap_err().is_empty());
        let t = std::time::Instant::now();
        assert!(
            client
                .recv_timeout(Duration::from_millis(30))
                .unwrap_err()
                .is_timeout()
        );
        common::assert_took_between(t.elapsed(), Duration::from_millis(25), Duration::from_secs(2));
        Ok(())
    });
}

#[test]
fn bad_messages_get_clear_errors() {
    bounded(|| {
        let ctx = Context::new();
        let server = green(&ctx, DraftKind::Server);
        server.bind("inproc://draft-bad")?;
        // A SERVER needs a routing id, and that peer must exist.
        assert!(matches!(
            server.send("no id"),
            Err(Error::Zmq(zmq::Error::EHOSTUNREACH))
        ));
        let to_nobody = server.send(DraftMessage::new("x").to_peer(12345));
        assert!(
            matches!(to_nobody, Err(Error::Zmq(zmq::Error::EHOSTUNREACH))),
            "{to_nobody:?}"
        );
        // Groups: at most 255 bytes (libzmq alone would truncate a longer
        // one), no NUL.
        let radio = green(&ctx, DraftKind::Radio);
        for group in ["g".repeat(256), "a\0b".to_string()] {
            let r = radio.send(DraftMessage::new("x").in_group(group.clone()));
            assert!(
                matches!(r, Err(Error::Zmq(zmq::Error::EINVAL))),
                "group of {} bytes: {r:?}",
                group.len()
            );
        }
        let dish = green(&ctx, DraftKind::Dish);
        assert!(matches!(
            dish.join(&"g".repeat(256)),
            Err(Error::Zmq(zmq::Error::EINVAL))
        ));
        // The socket stays usable after each refusal.
        radio.send(DraftMessage::new("fine").in_group("g"))?;
        Ok(())
    });
}

#[test]
fn close_wakes_every_parked_greenlet() {
    bounded(|| {
        let ctx = Context::new();
        let gather = green(&ctx, DraftKind::Gather);
        gather.bind("inproc://draft-close")?;
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let g = gather.clone();
                zgreen::spawn(move || g.recv())
            })
            .collect();
        zgreen::sleep(Duration::from_millis(5))?;
        gather.close()?;
        for w in waiters {
            assert!(matches!(w.get()?, Err(Error::SocketClosed)));
        }
        assert!(matches!(
            gather.try_recv(),
            Err(zgreen::TryRecvError::Failed(Error::SocketClosed))
        ));
        // The address is free again.
        green(&ctx, DraftKind::Gather).bind("inproc://draft-close")?;
        Ok(())
    });
}
