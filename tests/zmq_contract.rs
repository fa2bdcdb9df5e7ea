//! The contract of a green socket shared by several greenlets (the socket
//! module's docs): one test per way it used to break — a completed
//! operation reported as an interrupt, an interrupted poller that drops a
//! wakeup, edges lost after libzmq calls, torn messages, turn waiters that
//! hang, a reset socket that lets waiters through, a greenlet that ends
//! mid-message, a mandatory ROUTER that freezes the hub, context
//! termination on the hub, `close`, an interrupted frame-by-frame
//! receive, and `try_*` calls that park. Every test is bounded: a lost
//! wakeup fails it.
#![cfg(feature = "zmq")]

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use zgreen::zmq::{Context, Socket};
use zgreen::{Error, Greenlet, Timeout};
use zgreen_harness::ms;

mod common;
use common::{kill_expecting_killed, spawn_counting_sender, spawn_parked, zmq_pair_with_hwm};

const BOUND: Duration = Duration::from_secs(30);
/// How long a greenlet that should have been woken may take.
const PROMPTLY: Duration = Duration::from_secs(2);

fn push_pull(ctx: &Context, ep: &str) -> (Socket, Socket) {
    let push = ctx.socket(zmq::PUSH).unwrap();
    let pull = ctx.socket(zmq::PULL).unwrap();
    pull.bind(ep).unwrap();
    push.connect(&pull.last_endpoint().unwrap()).unwrap();
    (push, pull)
}

/// A greenlet that kills `target` (set later) when it runs.
fn killer(target: &Rc<RefCell<Option<zgreen::AnyGreenlet>>>) -> Greenlet<()> {
    let t = target.clone();
    zgreen::spawn(move || {
        if let Some(g) = t.borrow().as_ref() {
            g.kill_nowait();
        }
    })
}

// 1 ---------------------------------------------------------------------

/// A kill that arrives during the fairness yield after a successful
/// receive or send must not turn the success into an error: the message
/// would be lost (receive) or duplicated by a retry (send).
#[test]
fn a_completed_operation_returns_its_result_even_if_killed_right_after() {
    let _t = Timeout::start_new(BOUND);
    zgreen::zmq::set_fairness_ops(1); // every operation yields
    let ctx = Context::new();
    let (push, pull) = push_pull(&ctx, "inproc://outcome-wins");
    push.send("m", 0).unwrap();

    let target = Rc::new(RefCell::new(None));
    let p = pull.clone();
    let g = zgreen::spawn(move || p.recv_bytes(0));
    *target.borrow_mut() = Some(g.any());
    let k = killer(&target);
    assert_eq!(g.get().unwrap().unwrap(), b"m", "a received message was dropped");
    k.get().unwrap();

    let target = Rc::new(RefCell::new(None));
    let s = push.clone();
    let g = zgreen::spawn(move || s.send("sent once", 0));
    *target.borrow_mut() = Some(g.any());
    let k = killer(&target);
    assert!(g.get().unwrap().is_ok(), "a sent message was reported as failed");
    k.get().unwrap();
    assert_eq!(pull.recv_bytes(0).unwrap(), b"sent once");

    let target = Rc::new(RefCell::new(None));
    let s = push.clone();
    let g = zgreen::spawn(move || s.send_multipart(["a", "b"], 0));
    *target.borrow_mut() = Some(g.any());
    let k = killer(&target);
    assert!(g.get().unwrap().is_ok());
    k.get().unwrap();
    assert!(
        !push.needs_reset(),
        "a complete multipart send marked the socket for reset"
    );
    assert_eq!(
        pull.recv_multipart(0).unwrap(),
        vec![b"a".to_vec(), b"b".to_vec()]
    );
}

// 2 ---------------------------------------------------------------------

/// A poller woken by an edge and killed before it runs must pass the
/// wakeup on to the greenlet parked behind it on the same socket.
#[test]
fn an_interrupted_poller_passes_its_wakeup_on() {
    let _t = Timeout::start_new(BOUND);
    let ctx = Context::new();
    let (push, pull) = push_pull(&ctx, "inproc://poller-pass-on");
    for use_socket_poll in [false, true] {
        let p = pull.clone();
        let poller = zgreen::spawn(move || -> zgreen::Result<()> {
            if use_socket_poll {
                p.poll(zmq::POLLIN, None)?;
            } else {
                let mut poller = zgreen::zmq::Poller::new();
                poller.add_socket(&p, zmq::POLLIN);
                poller.poll(None)?;
            }
            Ok(())
        });
        // Both parked, the poller first.
        let receiver = spawn_parked(&pull, ms(20), move |p| p.recv_bytes(0)).unwrap();
        let s = push.clone();
        let poller_any = poller.any();
        zgreen::spawn(move || {
            s.send("for the receiver", 0).unwrap();
            poller_any.kill_nowait();
            // Hold the thread past the hub's forced-poll interval, so that
            // the hub delivers the edge (to the poller, first in line)
            // before the killed poller runs again.
            std::thread::sleep(ms(3));
        });
        zgreen::sleep(ms(30)).unwrap();
        assert!(matches!(poller.get().unwrap(), Err(Error::Killed)));
        let got = receiver.get_timeout(PROMPTLY);
        assert_eq!(
            got.unwrap().unwrap(),
            b"for the receiver",
            "use_socket_poll={use_socket_poll}"
        );
    }
}

// 3 ---------------------------------------------------------------------

/// `bind` (like `connect`, `unbind`, `disconnect`) processes libzmq's
/// pending commands: a message that arrived just before must still wake
/// the greenlet parked on the socket.
#[test]
fn bind_right_after_an_arrival_does_not_hide_it() {
    let _t = Timeout::start_new(BOUND);
    let ctx = Context::new();
    let (push, pull) = push_pull(&ctx, "inproc://edge-bind");
    let receiver = spawn_parked(&pull, ms(20), move |p| p.recv_bytes(0)).unwrap();
    let (p, s) = (pull.clone(), push.clone());
    zgreen::spawn(move || {
        s.send("hidden?", 0).unwrap();
        p.bind("inproc://edge-bind-second").unwrap(); // same hub turn
    });
    // (`push` stays open: closing it would raise an edge of its own.)
    assert_eq!(receiver.get_timeout(PROMPTLY).unwrap().unwrap(), b"hidden?");
    drop(push);
}

/// A `try_recv_msg` that finds nothing processes commands too: one that
/// made the socket writable must still wake the greenlet parked in `send`.
#[test]
fn a_try_recv_that_finds_nothing_does_not_hide_room_to_send() {
    let _t = Timeout::start_new(BOUND);
    let ctx = Context::new();
    let (a, b) = zmq_pair_with_hwm(&ctx, (zmq::DEALER, zmq::DEALER), "inproc://edge-try-recv", 1);
    let (sender, sent) = spawn_counting_sender(a.clone(), 200);
    zgreen::sleep(ms(20)).unwrap();
    assert!(sent.get() < 200, "the sender never blocked");
    let mut got = 0u32;
    let give_up = Instant::now() + Duration::from_secs(10);
    while got < 200 {
        assert!(
            Instant::now() < give_up,
            "the parked sender was never woken ({got} received)"
        );
        // Drain what arrived, then at once look for a message on `a`: the
        // activation of `a`'s pipe is processed by that failed call.
        let (a2, b2) = (a.clone(), b.clone());
        got += zgreen::spawn(move || -> zgreen::Result<u32> {
            let mut n = 0;
            while zgreen::TryRecvError::optional(b2.try_recv_msg(0))?.is_some() {
                n += 1;
            }
            assert!(zgreen::TryRecvError::optional(a2.try_recv_msg(0))?.is_none());
            Ok(n)
        })
        .get()
        .unwrap()
        .unwrap();
        zgreen::sleep(ms(1)).unwrap();
    }
    sender.get().unwrap().unwrap();
}

// 4 ---------------------------------------------------------------------

/// A greenlet parked on readiness that wakes while another greenlet is in
/// the middle of a message must not take that message's next frame.
#[test]
fn a_parked_receiver_never_takes_another_greenlets_next_frame() {
    let _t = Timeout::start_new(BOUND);
    let ctx = Context::new();
    let (push, pull) = push_pull(&ctx, "inproc://torn-recv");
    let parked = spawn_parked(&pull, ms(20), move |p| p.recv_multipart(0)).unwrap();
    let p = pull.clone();
    let s = push.clone();
    let frame_by_frame = zgreen::spawn(move || -> zgreen::Result<Vec<Vec<u8>>> {
        s.send_multipart(["first of A", "second of A"], 0)?;
        // Takes the first frame before the parked greenlet runs.
        let first = loop {
            if let Some(m) = zgreen::TryRecvError::optional(p.try_recv_msg(0))? {
                break m;
            }
            zgreen::sleep(Duration::ZERO)?;
        };
        assert!(first.get_more());
        zgreen::sleep(ms(20))?; // the parked greenlet runs meanwhile
        let second = p.recv_msg(0)?;
        Ok(vec![first.to_vec(), second.to_vec()])
    });
    let mine = frame_by_frame.get().unwrap().unwrap();
    assert_eq!(mine, vec![b"first of A".to_vec(), b"second of A".to_vec()]);
    push.send_multipart(["B1", "B2"], 0).unwrap();
    let theirs = parked.get_timeout(PROMPTLY).unwrap().unwrap();
    assert_eq!(theirs, vec![b"B1".to_vec(), b"B2".to_vec()]);
}

/// The same for a parked sender: its frame must not land inside another
/// greenlet's message.
#[test]
fn a_parked_sender_never_puts_a_frame_inside_another_greenlets_message() {
    let _t = Timeout::start_new(BOUND);
    let ctx = Context::new();
    let push = ctx.socket(zmq::PUSH).unwrap(); // no peer yet: sends park
    let parked = spawn_parked(&push, ms(20), move |s| s.send("lone", 0)).unwrap();
    let pull = ctx.socket(zmq::PULL).unwrap();
    pull.bind("inproc://torn-send").unwrap();
    let s = push.clone();
    let frame_by_frame = zgreen::spawn(move || -> zgreen::Result<()> {
        // The connect makes room, and this greenlet starts first.
        s.connect("inproc://torn-send")?;
        s.send("A1", zmq::SNDMORE)?;
        zgreen::sleep(ms(20))?; // the parked sender runs meanwhile
        s.send("A2", 0)
    });
    frame_by_frame.get().unwrap().unwrap();
    parked.get_timeout(PROMPTLY).unwrap().unwrap();
    let mut got = vec![pull.recv_multipart(0).unwrap(), pull.recv_multipart(0).unwrap()];
    got.sort();
    assert_eq!(
        got,
        vec![vec![b"A1".to_vec(), b"A2".to_vec()], vec![b"lone".to_vec()]]
    );
}

// 5 ---------------------------------------------------------------------

/// When the owner of a partial message finishes, every greenlet that
/// waited for its turn goes on, even when the first of them only moves a
/// one-frame message or fails.
#[test]
fn every_greenlet_waiting_for_a_turn_goes_on_when_the_owner_finishes() {
    let _t = Timeout::start_new(BOUND);
    let ctx = Context::new();
    let (push, pull) = push_pull(&ctx, "inproc://turn-waiters");
    push.send_multipart(["own 1", "own 2"], 0).unwrap();
    push.send("one", 0).unwrap();
    push.send("two", 0).unwrap();
    let first = pull.recv_msg(0).unwrap(); // the root owns the receive turn
    assert!(first.get_more());
    let waiters: Vec<_> = (0..3)
        .map(|i| {
            let p = pull.clone();
            zgreen::spawn(move || {
                if i == 0 {
                    p.recv_timeout(&mut zmq::Message::new(), 0, ms(1))
                        .map(|_| b"x".to_vec()) // fails
                } else {
                    p.recv_bytes(0)
                }
            })
        })
        .collect();
    zgreen::sleep(ms(20)).unwrap(); // all three wait for the turn
    assert_eq!(pull.recv_bytes(0).unwrap(), b"own 2");
    assert!(
        waiters[0]
            .get_timeout(PROMPTLY)
            .unwrap()
            .unwrap_err()
            .is_timeout()
    );
    let mut got = vec![
        waiters[1].get_timeout(PROMPTLY).unwrap().unwrap(),
        waiters[2].get_timeout(PROMPTLY).unwrap().unwrap(),
    ];
    got.sort();
    assert_eq!(got, vec![b"one".to_vec(), b"two".to_vec()]);
}

// 6 and 7 ---------------------------------------------------------------

/// A sender that ends mid-message (here: killed between frames, then
/// returning with `?`) marks the socket for reset, and the greenlets that
/// wait for the turn get `NeedsReset` at once instead of completing the
/// cut message with their own frame.
#[test]
fn a_sender_that_ends_mid_message_resets_the_socket_for_every_waiter() {
    let _t = Timeout::start_new(BOUND);
    let ctx = Context::new();
    let (push, pull) = push_pull(&ctx, "inproc://reset-waiters");
    let s = push.clone();
    let owner = zgreen::spawn(move || -> zgreen::Result<()> {
        s.send("cut", zmq::SNDMORE)?;
        zgreen::sleep(Duration::from_secs(100))?; // killed here
        s.send("never", 0)
    });
    zgreen::sleep(ms(10)).unwrap();
    let waiter = spawn_parked(&push, ms(10), move |s| s.send("mine", 0)).unwrap();
    kill_expecting_killed(&owner).unwrap();
    let w = waiter.get_timeout(PROMPTLY).unwrap();
    assert!(matches!(w, Err(Error::NeedsReset(_))), "{w:?}");
    assert!(push.needs_reset());
    zgreen::sleep(ms(50)).unwrap();
    assert!(
        pull.try_recv_msg(0).unwrap_err().is_empty(),
        "a torn message was delivered"
    );
}

/// A receiver that ends between frames — by an early return, a panic or a
/// kill — gives its message up: the rest is dropped and the next receiver
/// starts at a message boundary instead of hanging.
#[test]
fn a_receiver_that_ends_mid_message_gives_the_turn_back() {
    let _t = Timeout::start_new(BOUND);
    zgreen::config::set_panic_report(zgreen::config::PanicReport::Silent);
    let ctx = Context::new();
    let (push, pull) = push_pull(&ctx, "inproc://receiver-ends");
    for how in ["return", "panic", "kill"] {
        push.send_multipart(["cut 1", "cut 2", "cut 3"], 0).unwrap();
        push.send_multipart(["next 1", "next 2"], 0).unwrap();
        let p = pull.clone();
        let quitter = zgreen::spawn(move || -> zgreen::Result<()> {
            let first = p.recv_msg(0)?;
            assert!(first.get_more());
            match how {
                "return" => Err(Error::WouldBlockForever),
                "panic" => panic!("between frames"),
                _ => zgreen::sleep(Duration::from_secs(100)), // killed here
            }
        });
        zgreen::sleep(ms(10)).unwrap();
        if how == "kill" {
            quitter.kill().unwrap();
        }
        assert!(quitter.get().is_err() || quitter.get().unwrap().is_err());
        let p = pull.clone();
        let next = zgreen::spawn(move || p.recv_multipart(0));
        let got = next.get_timeout(PROMPTLY).unwrap().unwrap();
        assert_eq!(got, vec![b"next 1".to_vec(), b"next 2".to_vec()], "after a {how}");
    }
}

// 8 ---------------------------------------------------------------------

/// A mandatory ROUTER sending to a full peer while another peer has room:
/// libzmq says `EAGAIN` and `ZMQ_EVENTS` says POLLOUT. The send must park
/// (other greenlets and timers run), time out, and complete once the peer
/// reads. The scenario runs on its own thread, so a frozen hub fails the
/// test instead of hanging it.
#[test]
fn a_mandatory_router_send_to_a_full_peer_parks_instead_of_spinning() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _t = Timeout::start_new(BOUND);
        let ctx = Context::new();
        let router = ctx.socket(zmq::ROUTER).unwrap();
        router.set_router_mandatory(true).unwrap();
        router.set_sndhwm(1).unwrap();
        router.bind("inproc://mandatory").unwrap();
        let peer = |id: &str| {
            let d = ctx.socket(zmq::DEALER).unwrap();
            d.set_identity(id.as_bytes()).unwrap();
            d.set_rcvhwm(1).unwrap();
            d.connect("inproc://mandatory").unwrap();
            d
        };
        let (full, _roomy) = (peer("full"), peer("roomy"));
        zgreen::sleep(ms(20)).unwrap(); // both peers are known to the router
        let ticks = Rc::new(std::cell::Cell::new(0u32));
        let t = ticks.clone();
        let ticker = zgreen::spawn(move || {
            while zgreen::sleep(ms(5)).is_ok() {
                t.set(t.get() + 1);
            }
        });
        let mut timed_out = false;
        for i in 0..100u32 {
            match router.send_multipart_timeout([b"full".to_vec(), i.to_le_bytes().to_vec()], 0, ms(300)) {
                Ok(()) => {}
                Err(e) => {
                    assert!(e.is_timeout(), "{e:?}");
                    timed_out = true;
                    break;
                }
            }
        }
        assert!(timed_out, "the full peer never pushed back");
        assert!(
            ticks.get() >= 10,
            "other greenlets ran only {} times",
            ticks.get()
        );
        // Once the peer reads, a parked send completes.
        let sender = spawn_parked(&router, ms(20), move |r| r.send_multipart(["full", "late"], 0)).unwrap();
        let mut last = Vec::new();
        while last != b"late" {
            last = full.recv_bytes(0).unwrap();
        }
        sender.get_timeout(PROMPTLY).unwrap().unwrap();
        ticker.kill().unwrap();
        tx.send(()).unwrap();
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("the hub froze: a mandatory ROUTER send spun without yielding");
}

// 9 ---------------------------------------------------------------------

/// Dropping the last socket of a context inside a greenlet terminates the
/// context off the hub: the LINGER wait (a second here) must not stall the
/// other greenlets.
#[test]
fn dropping_the_last_socket_of_a_context_does_not_stall_the_hub() {
    let _t = Timeout::start_new(BOUND);
    let ticks = Rc::new(std::cell::Cell::new(0u32));
    let t = ticks.clone();
    let ticker = zgreen::spawn(move || {
        while zgreen::sleep(ms(5)).is_ok() {
            t.set(t.get() + 1);
        }
    });
    let dropper = zgreen::spawn(|| {
        let ctx = Context::new();
        let push = ctx.socket(zmq::PUSH).unwrap();
        push.connect("tcp://127.0.0.1:1").unwrap(); // nobody listens
        push.try_send("lingers", 0).unwrap();
        drop(ctx);
        let start = Instant::now();
        drop(push); // the last handle: terminates the context
        start.elapsed()
    });
    let took = dropper.get().unwrap();
    assert!(
        took < ms(200),
        "dropping the last socket stalled the hub for {took:?}"
    );
    ticker.kill().unwrap();
}

// 10 --------------------------------------------------------------------

/// `close` wakes every greenlet parked on the socket (in either direction
/// or waiting for a turn) with `SocketClosed`, fails every later call, and
/// frees the bound address.
#[test]
fn close_wakes_every_parked_greenlet_with_a_clear_error() {
    let _t = Timeout::start_new(BOUND);
    let ctx = Context::new();
    let dealer = ctx.socket(zmq::DEALER).unwrap();
    dealer.bind("tcp://127.0.0.1:*").unwrap();
    let ep = dealer.last_endpoint().unwrap();
    let d = dealer.clone();
    let receiver = zgreen::spawn(move || d.recv_bytes(0));
    let d = dealer.clone();
    let sender = zgreen::spawn(move || d.send("no peer", 0)); // no peer: parks
    zgreen::sleep(ms(20)).unwrap();
    dealer.close().unwrap();
    for r in [
        receiver.get_timeout(PROMPTLY).unwrap().map(|_| ()),
        sender.get_timeout(PROMPTLY).unwrap(),
    ] {
        assert!(matches!(r, Err(Error::SocketClosed)), "{r:?}");
    }
    assert!(dealer.is_closed());
    assert!(matches!(dealer.send("x", 0), Err(Error::SocketClosed)));
    assert!(matches!(
        dealer.try_recv_msg(0),
        Err(zgreen::TryRecvError::Failed(Error::SocketClosed))
    ));
    dealer.close().unwrap(); // twice is fine
    // The listener closes on libzmq's I/O thread: allow it a moment.
    let again = ctx.socket(zmq::DEALER).unwrap();
    let start = Instant::now();
    while let Err(e) = again.bind(&ep) {
        assert!(start.elapsed() < PROMPTLY, "close must free the address: {e}");
        zgreen::sleep(ms(10)).unwrap();
    }
}

// 11 --------------------------------------------------------------------

/// The contract for an interrupted frame-by-frame receive: a greenlet
/// killed after the first frame of a message still gets the rest (its
/// frames are already there), so the message is never cut; its next
/// blocking call that would start a message fails with the kill.
#[test]
fn a_killed_greenlet_still_receives_the_rest_of_its_message() {
    let _t = Timeout::start_new(BOUND);
    let ctx = Context::new();
    let (push, pull) = push_pull(&ctx, "inproc://killed-frame-by-frame");
    push.send_multipart(["1", "2", "3"], 0).unwrap();
    push.send("after", 0).unwrap();
    let p = pull.clone();
    let g = zgreen::spawn(move || {
        let first = p.recv_bytes(0).unwrap();
        let slept = zgreen::sleep(Duration::from_secs(100)); // killed here
        let rest = [p.recv_bytes(0), p.recv_bytes(0)];
        let next = p.recv_bytes(0);
        (first, slept, rest, next)
    });
    zgreen::sleep(ms(10)).unwrap();
    g.kill().unwrap();
    let (first, slept, rest, next) = g.get().unwrap();
    assert_eq!(first, b"1");
    assert!(matches!(slept, Err(Error::Killed)));
    let rest: Vec<_> = rest.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(rest, vec![b"2".to_vec(), b"3".to_vec()]);
    assert!(matches!(next, Err(Error::Killed)), "{next:?}");
    assert_eq!(pull.recv_bytes(0).unwrap(), b"after", "the next message was lost");
}

// 12 --------------------------------------------------------------------

/// `try_*` never parks: while another greenlet is in the middle of a
/// message it reports "not now" at once.
#[test]
fn try_calls_never_park_while_another_greenlet_is_mid_message() {
    let _t = Timeout::start_new(BOUND);
    let ctx = Context::new();
    let (push, pull) = push_pull(&ctx, "inproc://try-never-parks");
    push.send_multipart(["a", "b"], 0).unwrap();
    push.send("c", 0).unwrap();
    let (p, s) = (pull.clone(), push.clone());
    let owner = zgreen::spawn(move || -> zgreen::Result<()> {
        p.recv_msg(0)?; // owns the receive turn
        s.send("x", zmq::SNDMORE)?; // and the send turn
        zgreen::sleep(ms(300))?;
        p.recv_msg(0)?;
        s.send("y", 0)
    });
    zgreen::sleep(ms(10)).unwrap();
    let start = Instant::now();
    assert!(pull.try_recv_msg(0).unwrap_err().is_empty());
    assert!(push.try_send("z", 0).unwrap_err().is_full());
    assert!(matches!(
        push.send("z", zmq::DONTWAIT),
        Err(Error::Zmq(zmq::Error::EAGAIN))
    ));
    assert!(
        start.elapsed() < ms(100),
        "try_* parked for {:?}",
        start.elapsed()
    );
    owner.get().unwrap().unwrap();
    assert_eq!(pull.try_recv_msg(0).unwrap().to_vec(), b"c");
}
