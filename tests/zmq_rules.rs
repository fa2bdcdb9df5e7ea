//! One test per ZeroMQ readiness rule (DESIGN.md), plus interruption.
//! Every test runs under a `Timeout` scope, so a lost wakeup fails the
//! test instead of hanging it.
#![cfg(feature = "zmq")]

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use zgreen::zmq::{Context, Socket};
use zgreen::{Error, Timeout};
use zgreen_harness::ms;

mod common;
use common::{kill_expecting_killed, spawn_counting_sender, zmq_pair_with_hwm};

const BOUND: Duration = Duration::from_secs(60);

fn pair(ctx: &Context, a: zmq::SocketType, b: zmq::SocketType, ep: &str) -> (Socket, Socket) {
    let x = ctx.socket(a).unwrap();
    let y = ctx.socket(b).unwrap();
    x.bind(ep).unwrap();
    let ep = x.last_endpoint().unwrap();
    y.connect(&ep).unwrap();
    (x, y)
}

/// A [`pair`] PUSH -> PULL on `ep`, then both high-water marks set to
/// `hwm`.
fn push_pull_with_hwm(ctx: &Context, ep: &str, hwm: i32) -> (Socket, Socket) {
    let (push, pull) = pair(ctx, zmq::PUSH, zmq::PULL, ep);
    push.set_sndhwm(hwm).unwrap();
    pull.set_rcvhwm(hwm).unwrap();
    (push, pull)
}

/// How many iterations a stress test runs: `in_debug` in a debug build
/// (slow), a million in a release build.
fn iterations(in_debug: u32) -> u32 {
    if cfg!(debug_assertions) {
        in_debug
    } else {
        1_000_000
    }
}

/// CPU time (user + system) of the calling thread: the hub's thread,
/// where a greenlet or the loop would spin. (Other tests run in other
/// threads of this process, so the process's time would mix them in.)
fn cpu_time() -> Duration {
    // SAFETY: rusage is plain data; all-zero is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Rule 2 + 5 + 6: one greenlet parked in `recv` on a DEALER while another
/// greenlet sends on the same DEALER, many iterations, no stall.
#[test]
fn recv_and_send_on_one_dealer_from_two_greenlets() {
    let _t = Timeout::start_new(BOUND);
    let n = iterations(200_000);
    let ctx = Context::new();
    let (dealer, echo) = pair(&ctx, zmq::DEALER, zmq::DEALER, "inproc://rule-dealer");
    let e = zgreen::spawn(move || -> zgreen::Result<()> {
        for _ in 0..n {
            let m = echo.recv_msg(0)?;
            echo.send_msg(m, 0)?;
        }
        Ok(())
    });
    let d = dealer.clone();
    let receiver = zgreen::spawn(move || -> zgreen::Result<u32> {
        let mut expect = 0u32;
        for _ in 0..n {
            let m = d.recv_bytes(0)?;
            assert_eq!(u32::from_le_bytes(m[..].try_into().unwrap()), expect);
            expect += 1;
        }
        Ok(expect)
    });
    let sender = zgreen::spawn(move || -> zgreen::Result<()> {
        for i in 0..n {
            dealer.send(i.to_le_bytes(), 0)?;
        }
        Ok(())
    });
    sender.get().unwrap().unwrap();
    assert_eq!(receiver.get().unwrap().unwrap(), n);
    e.get().unwrap().unwrap();
}

/// Rule 3 and 4: PUSH at its high-water mark parks the sender without
/// burning CPU, and resumes when the receiver drains.
#[test]
fn push_at_hwm_parks_quietly_and_resumes() {
    let _t = Timeout::start_new(BOUND);
    let ctx = Context::new();
    let (push, pull) = zmq_pair_with_hwm(&ctx, (zmq::PUSH, zmq::PULL), "inproc://hwm-park", 10);
    let (sender, sent) = spawn_counting_sender(push, 1000);
    zgreen::sleep(ms(200)).unwrap();
    let stalled_at = sent.get();
    assert!(stalled_at < 1000, "the sender never hit the high-water mark");
    // Parked: ~0% CPU while nothing moves.
    let (cpu0, wall0) = (cpu_time(), Instant::now());
    zgreen::sleep(ms(500)).unwrap();
    let cpu = cpu_time() - cpu0;
    let wall = wall0.elapsed();
    assert_eq!(sent.get(), stalled_at, "the sender moved without a receiver");
    assert!(cpu < wall / 10, "parked sender used {cpu:?} CPU in {wall:?}");
    for i in 0..1000u32 {
        let m = pull.recv_bytes(0).unwrap();
        assert_eq!(u32::from_le_bytes(m[..].try_into().unwrap()), i);
    }
    sender.get().unwrap().unwrap();
}

/// Rule 6: `EAGAIN` in the middle of a multipart send (HWM = 1) never lets
/// another greenlet's frames in between.
#[test]
fn multipart_sends_never_interleave_at_hwm_one() {
    let _t = Timeout::start_new(BOUND);
    let ctx = Context::new();
    let (push, pull) = push_pull_with_hwm(&ctx, "tcp://127.0.0.1:*", 1);
    let senders: Vec<_> = (0..4u8)
        .map(|id| {
            let p = push.clone();
            zgreen::spawn(move || -> zgreen::Result<()> {
                for seq in 0..500u32 {
                    p.send_multipart([vec![id], seq.to_le_bytes().to_vec(), vec![id; 3000]], 0)?;
                }
                Ok(())
            })
        })
        .collect();
    let mut next = [0u32; 4];
    for _ in 0..2000 {
        let parts = pull.recv_multipart(0).unwrap();
        assert_eq!(parts.len(), 3, "frames of two messages were mixed");
        let id = parts[0][0];
        assert_eq!(
            u32::from_le_bytes(parts[1][..].try_into().unwrap()),
            next[id as usize]
        );
        assert!(parts[2].iter().all(|b| *b == id), "payload of another sender");
        next[id as usize] += 1;
    }
    for s in senders {
        s.get().unwrap().unwrap();
    }
}

/// Rule 4: many idle sockets with parked receivers leave the process idle.
#[test]
fn ten_thousand_idle_sockets_cost_no_cpu() {
    let _t = Timeout::start_new(BOUND);
    let n = 10_000;
    raise_fd_limit(n as u64 + 2000);
    let ctx = Context::new();
    ctx.set_max_sockets(n + 100).unwrap();
    let receivers: Vec<_> = (0..n)
        .map(|i| {
            let s = ctx.socket(zmq::PULL).unwrap();
            s.bind(&format!("inproc://idle-{i}")).unwrap();
            zgreen::Builder::new()
                .stack_bytes(32 * 1024)
                .spawn(move || s.recv_bytes(0))
                .unwrap()
        })
        .collect();
    zgreen::sleep(ms(100)).unwrap();
    let (cpu0, wall0) = (cpu_time(), Instant::now());
    zgreen::sleep(ms(500)).unwrap();
    let cpu = cpu_time() - cpu0;
    assert!(cpu < wall0.elapsed() / 10, "{n} idle sockets used {cpu:?} CPU");
    // They still work: wake a few of them.
    for i in [0, n / 2, n - 1] {
        let p = ctx.socket(zmq::PUSH).unwrap();
        p.connect(&format!("inproc://idle-{i}")).unwrap();
        p.send("wake", 0).unwrap();
        assert_eq!(receivers[i as usize].get().unwrap().unwrap(), b"wake");
    }
    zgreen::killall(&receivers).unwrap();
}

/// Raises RLIMIT_NOFILE to at least `want` (CI runs as root, which may
/// raise the hard limit too); fails the test if it cannot.
fn raise_fd_limit(want: u64) {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write the struct we own.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) };
    if rl.rlim_cur >= want {
        return;
    }
    let new = libc::rlimit {
        rlim_cur: want.max(rl.rlim_cur),
        rlim_max: want.max(rl.rlim_max),
    };
    // SAFETY: as above.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &new) };
    assert_eq!(
        rc, 0,
        "cannot raise RLIMIT_NOFILE to {want} (have {}/{})",
        rl.rlim_cur, rl.rlim_max
    );
}

/// Rule 8: a backstop re-check never finds a socket ready that nobody woke.
#[test]
fn backstop_never_rescues_a_wakeup() {
    let _t = Timeout::start_new(BOUND);
    let n = iterations(100_000);
    let ctx = Context::new();
    let (a, b) = pair(&ctx, zmq::PAIR, zmq::PAIR, "tcp://127.0.0.1:*");
    a.set_sndhwm(100).unwrap();
    b.set_sndhwm(100).unwrap();
    a.set_backstop(Some(ms(2)));
    b.set_backstop(Some(ms(2)));
    let spawn_side = |s: Socket| {
        let (tx, rx) = (s.clone(), s);
        let sender = zgreen::spawn(move || -> zgreen::Result<()> {
            for i in 0..n {
                tx.send(i.to_le_bytes(), 0)?;
            }
            Ok(())
        });
        let receiver = zgreen::spawn(move || -> zgreen::Result<()> {
            for i in 0..n {
                let m = rx.recv_bytes(0)?;
                assert_eq!(u32::from_le_bytes(m[..].try_into().unwrap()), i);
            }
            Ok(())
        });
        (sender, receiver)
    };
    let (s1, r1) = spawn_side(a);
    let (s2, r2) = spawn_side(b);
    for g in [s1, r1, s2, r2] {
        g.get().unwrap().unwrap();
    }
    assert_eq!(zgreen::zmq::backstop_rescues(), 0, "a wakeup was lost");
}

/// Fairness: a greenlet whose sends never block still lets others run.
#[test]
fn a_greenlet_that_never_blocks_still_yields() {
    let _t = Timeout::start_new(BOUND);
    let ctx = Context::new();
    let (push, pull) = push_pull_with_hwm(&ctx, "inproc://fair", 0);
    let ticks = Rc::new(Cell::new(0u32));
    let t = ticks.clone();
    let ticker = zgreen::spawn(move || {
        while zgreen::sleep(Duration::ZERO).is_ok() {
            t.set(t.get() + 1);
        }
    });
    let ticks_during = zgreen::spawn(move || -> zgreen::Result<u32> {
        let start = ticks.get();
        for i in 0..20_000u32 {
            push.send(i.to_le_bytes(), 0)?;
        }
        Ok(ticks.get() - start)
    });
    let during = ticks_during.get().unwrap().unwrap();
    assert!(
        during >= 20_000 / 128 - 1,
        "the other greenlet ran only {during} times"
    );
    ticker.kill().unwrap();
    drop(pull);
}

#[test]
fn recv_timeout_kill_and_scope_interrupt_a_parked_recv() {
    let _t = Timeout::start_new(BOUND);
    let ctx = Context::new();
    let (a, _b) = pair(&ctx, zmq::PAIR, zmq::PAIR, "inproc://interrupt-recv");
    // Per-call timeout.
    let mut msg = zmq::Message::new();
    let err = a.recv_timeout(&mut msg, 0, ms(20)).unwrap_err();
    assert!(matches!(err, Error::Timeout(ref t) if t.id == 0), "{err:?}");
    // Socket-level default timeout.
    a.set_recv_timeout(Some(ms(20)));
    assert!(a.recv_bytes(0).unwrap_err().is_timeout());
    a.set_recv_timeout(None);
    // Enclosing scope.
    let scope = Timeout::start_new(ms(20));
    assert!(scope.is(&a.recv_bytes(0).unwrap_err()));
    drop(scope);
    // Kill.
    let a2 = a.clone();
    let g = zgreen::spawn(move || a2.recv_bytes(0));
    zgreen::sleep(ms(10)).unwrap();
    kill_expecting_killed(&g).unwrap();
    // The socket is still fine for a PAIR.
    assert!(!a.needs_reset());
    _b.send("after", 0).unwrap();
    assert_eq!(a.recv_bytes(0).unwrap(), b"after");
}

#[test]
fn send_at_hwm_is_interruptible_and_the_socket_stays_usable() {
    let _t = Timeout::start_new(BOUND);
    let ctx = Context::new();
    let push = ctx.socket(zmq::PUSH).unwrap();
    // No peer: a PUSH without peers blocks on send.
    let err = push.send_timeout("x", 0, ms(20)).unwrap_err();
    assert!(err.is_timeout());
    let p = push.clone();
    let g = zgreen::spawn(move || p.send("y", 0));
    zgreen::sleep(ms(10)).unwrap();
    kill_expecting_killed(&g).unwrap();
    assert!(!push.needs_reset());
    assert!(push.try_send("z", 0).unwrap_err().is_full());
}

#[test]
fn interrupted_req_is_reported_as_needing_a_reset() {
    let _t = Timeout::start_new(BOUND);
    let ctx = Context::new();
    let (rep, req) = pair(&ctx, zmq::REP, zmq::REQ, "inproc://req-reset");
    req.send("ping", 0).unwrap();
    // The server swallows the request and never answers.
    assert_eq!(rep.recv_bytes(0).unwrap(), b"ping");
    let err = req.recv_multipart_timeout(0, ms(20)).unwrap_err();
    assert!(err.is_timeout());
    assert!(req.needs_reset());
    assert!(matches!(req.send("again", 0), Err(Error::NeedsReset(_))));
    assert!(matches!(req.recv_bytes(0), Err(Error::NeedsReset(_))));
}

#[test]
fn interrupted_multipart_send_needs_a_reset() {
    let _t = Timeout::start_new(BOUND);
    let ctx = Context::new();
    let (push, pull) = push_pull_with_hwm(&ctx, "tcp://127.0.0.1:*", 1);
    // Fill the pipe so that sending stalls, then interrupt a multipart send
    // whose first frames are gone.
    let big = vec![0u8; 1 << 20];
    let r: zgreen::Result<()> = zgreen::with_timeout(ms(300), || {
        loop {
            push.send_multipart([&big[..], &big[..], &big[..]], 0)?;
        }
    });
    assert!(r.unwrap_err().is_timeout());
    // Either the message was cut (reset needed) or it stalled on its first
    // frame (still usable); both must be reported truthfully.
    if push.needs_reset() {
        assert!(matches!(push.send("x", 0), Err(Error::NeedsReset(_))));
    } else {
        match push.try_send("x", 0) {
            Ok(()) => assert!(!push.needs_reset()),
            Err(e) => assert!(e.is_full(), "{e}"),
        }
    }
    drop(pull);
}

#[test]
fn panic_while_parked_elsewhere_does_not_disturb_a_socket() {
    let _t = Timeout::start_new(BOUND);
    zgreen::config::set_panic_report(zgreen::config::PanicReport::Silent);
    let ctx = Context::new();
    let (a, b) = pair(&ctx, zmq::PAIR, zmq::PAIR, "inproc://panic");
    let a2 = a.clone();
    let waiter = zgreen::spawn(move || a2.recv_bytes(0));
    let bad: zgreen::Greenlet<()> = zgreen::spawn(|| panic!("boom"));
    assert!(bad.get().is_err());
    b.send("still works", 0).unwrap();
    assert_eq!(waiter.get().unwrap().unwrap(), b"still works");
}

#[test]
fn poller_waits_on_sockets_and_raw_fds() {
    let _t = Timeout::start_new(BOUND);
    let ctx = Context::new();
    let (a, b) = pair(&ctx, zmq::PAIR, zmq::PAIR, "inproc://poller");
    let mut fds = [0; 2];
    // SAFETY: pipe(2) fills the two-element array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let mut poller = zgreen::zmq::Poller::new();
    let ia = poller.add_socket(&a, zmq::POLLIN);
    let ifd = poller.add_fd(fds[0], zmq::POLLIN);
    assert_eq!(poller.poll(Some(ms(20))).unwrap(), 0);
    let w = fds[1];
    zgreen::spawn(move || {
        zgreen::sleep(ms(20)).unwrap();
        // SAFETY: writes one byte from a valid buffer to our pipe.
        unsafe { libc::write(w, b"x".as_ptr().cast(), 1) };
    });
    let start = Instant::now();
    assert_eq!(poller.poll(Some(Duration::from_secs(5))).unwrap(), 1);
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(poller.revents(ifd).contains(zmq::POLLIN));
    assert!(!poller.revents(ia).contains(zmq::POLLIN));
    b.send("m", 0).unwrap();
    assert_eq!(poller.poll(None).unwrap(), 2);
    assert!(poller.revents(ia).contains(zmq::POLLIN));
    // SAFETY: closing the pipe fds we created.
    unsafe {
        libc::close(fds[0]);
        libc::close(fds[1]);
    }
    // A kill interrupts a parked poll.
    let g = zgreen::spawn(move || {
        let mut p = zgreen::zmq::Poller::new();
        p.add_socket(&b, zmq::POLLIN);
        p.poll(None)
    });
    zgreen::sleep(ms(10)).unwrap();
    kill_expecting_killed(&g).unwrap();
}

#[test]
fn context_term_with_undelivered_messages_does_not_freeze() {
    let _t = Timeout::start_new(BOUND);
    let ctx = Context::new();
    let push = ctx.socket(zmq::PUSH).unwrap();
    push.set_linger(100).unwrap();
    push.connect("tcp://127.0.0.1:1").unwrap(); // nobody listens
    // Queued for a peer that never comes.
    assert!(push.try_send("lost", 0).is_ok());
    drop(push);
    let ticks = Rc::new(Cell::new(0));
    let t = ticks.clone();
    let ticker = zgreen::spawn(move || {
        while zgreen::sleep(ms(5)).is_ok() {
            t.set(t.get() + 1);
        }
    });
    let start = Instant::now();
    ctx.term().unwrap();
    assert!(start.elapsed() < Duration::from_secs(3), "{:?}", start.elapsed());
    ticker.kill().unwrap();
}

#[test]
fn a_kill_between_frames_lets_the_message_finish_or_marks_the_socket_for_reset() {
    let _t = Timeout::start_new(BOUND);
    let ctx = Context::new();
    let (push, pull) = pair(&ctx, zmq::PUSH, zmq::PULL, "inproc://kill-mid-message");
    // Killed between two frames, the greenlet may still finish its own
    // message: the frame is tried before the interrupt could cut it.
    let p = push.clone();
    let g = zgreen::spawn(move || {
        p.send("first", zmq::SNDMORE).unwrap();
        let slept = zgreen::sleep(Duration::from_secs(100)); // killed here
        (slept, p.send("second", 0), p.needs_reset())
    });
    zgreen::sleep(ms(10)).unwrap();
    g.kill().unwrap();
    let (slept, second, reset) = g.get().unwrap();
    assert!(matches!(slept, Err(Error::Killed)), "{slept:?}");
    assert!(second.is_ok(), "{second:?}");
    assert!(!reset);
    assert_eq!(
        pull.recv_multipart(0).unwrap(),
        vec![b"first".to_vec(), b"second".to_vec()]
    );
    // Ending without the rest of the message cuts it: the socket needs a
    // reset, for everybody.
    let p = push.clone();
    let g = zgreen::spawn(move || -> zgreen::Result<()> {
        p.send("first", zmq::SNDMORE)?;
        zgreen::sleep(Duration::from_secs(100))?; // killed here: `?` returns
        p.send("second", 0)
    });
    zgreen::sleep(ms(10)).unwrap();
    kill_expecting_killed(&g).unwrap();
    assert!(
        push.needs_reset(),
        "an unfinished message must mark the socket for reset"
    );
    assert!(matches!(push.send("x", 0), Err(Error::NeedsReset(_))));

    // A killed greenlet may still make non-blocking calls (a goodbye).
    let (a, b) = pair(&ctx, zmq::PAIR, zmq::PAIR, "inproc://killed-dontwait");
    let g = zgreen::spawn(move || {
        let _ = zgreen::sleep(Duration::from_secs(100)); // killed here
        a.try_send("bye", 0).is_ok()
    });
    zgreen::sleep(ms(10)).unwrap();
    g.kill().unwrap();
    assert!(g.get().unwrap());
    assert_eq!(b.recv_bytes(0).unwrap(), b"bye");
    drop(pull);
}

#[test]
fn zap_enforce_domain_can_be_set_on_a_green_socket() {
    let ctx = Context::new();
    let s = ctx.socket(zmq::REP).unwrap();
    s.set_zap_enforce_domain(true).unwrap();
    s.set_zap_enforce_domain(false).unwrap();
}
