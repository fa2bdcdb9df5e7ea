//! Greenlet life cycle: spawn, join, get, kill, links, panics, state.
//! Every test is bounded: its body runs under a `Timeout` scope.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use zgreen::{Error, Greenlet, JoinAll, Timeout};
use zgreen_harness::ms;

mod common;
use common::kill_expecting_killed;

const BOUND: Duration = Duration::from_secs(20);

#[test]
fn spawn_returns_value_and_state() {
    let _t = Timeout::start_new(BOUND);
    let g = zgreen::spawn(|| 40 + 2);
    assert!(g.started());
    assert!(!g.ready());
    assert_eq!(g.get().unwrap(), 42);
    assert!(g.ready());
    assert!(g.successful());
    assert_eq!(g.value(), Some(42));
    assert!(g.exception().is_none());
}

#[test]
fn sleep_zero_interleaves_in_spawn_order() {
    let _t = Timeout::start_new(BOUND);
    let log = Rc::new(RefCell::new(Vec::new()));
    let mk = |name: &'static str| {
        let log = log.clone();
        zgreen::spawn(move || -> zgreen::Result<()> {
            for i in 0..3 {
                log.borrow_mut().push(format!("{name}{i}"));
                zgreen::sleep(Duration::ZERO)?;
            }
            Ok(())
        })
    };
    let a = mk("a");
    let b = mk("b");
    zgreen::joinall([&a, &b]).unwrap();
    assert!(a.get().unwrap().is_ok() && b.get().unwrap().is_ok());
    assert_eq!(*log.borrow(), ["a0", "b0", "a1", "b1", "a2", "b2"]);
}

#[test]
fn greenlets_run_concurrently_while_sleeping() {
    let _t = Timeout::start_new(BOUND);
    let start = Instant::now();
    let gs: Vec<_> = (0..100)
        .map(|_| zgreen::spawn(|| zgreen::sleep(ms(100))))
        .collect();
    zgreen::joinall(&gs).unwrap();
    let took = start.elapsed();
    assert!(took >= ms(100), "slept {took:?}");
    assert!(
        took < ms(2000),
        "100 sleeps of 100 ms took {took:?}: they did not overlap"
    );
    assert!(gs.iter().all(|g| g.get().unwrap().is_ok()));
}

#[test]
fn join_timeout_expires_and_target_keeps_running() {
    let _t = Timeout::start_new(BOUND);
    let g = zgreen::spawn(|| {
        zgreen::sleep(ms(200)).unwrap();
        7
    });
    let err = g.join_timeout(ms(20)).unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(!g.ready());
    let err = g.get_timeout(ms(20)).unwrap_err();
    assert!(err.is_timeout());
    assert_eq!(g.get().unwrap(), 7);
}

#[test]
fn panic_stays_inside_its_greenlet() {
    let _t = Timeout::start_new(BOUND);
    zgreen::config::set_panic_report(zgreen::config::PanicReport::Silent);
    let bad: Greenlet<()> = zgreen::spawn(|| panic!("You fail at failing."));
    let good = zgreen::spawn(|| {
        zgreen::sleep(ms(10)).unwrap();
        "still here"
    });
    zgreen::joinall([bad.any(), good.any()]).unwrap();
    assert!(bad.ready() && !bad.successful());
    match bad.get().unwrap_err() {
        Error::Panicked(p) => {
            assert_eq!(p.message, "You fail at failing.");
            assert_eq!(p.greenlet, bad.id());
            assert!(p.location.as_deref().unwrap_or("").contains("core_greenlet.rs"));
        }
        other => panic!("expected a panic error, got {other:?}"),
    }
    assert!(matches!(bad.exception(), Some(Error::Panicked(_))));
    assert_eq!(good.get().unwrap(), "still here");
    // The hub is still usable afterwards.
    assert_eq!(zgreen::spawn(|| 1).get().unwrap(), 1);
}

#[test]
fn joinall_raise_error_returns_first_failure() {
    let _t = Timeout::start_new(BOUND);
    zgreen::config::set_panic_report(zgreen::config::PanicReport::Silent);
    let ok = zgreen::spawn(|| zgreen::sleep(ms(50)).is_ok());
    let bad: Greenlet<()> = zgreen::spawn(|| panic!("boom"));
    let err = zgreen::joinall_with([ok.any(), bad.any()], JoinAll::new().raise_error(true)).unwrap_err();
    assert!(
        matches!(err, Error::Panicked(ref p) if p.message == "boom"),
        "{err:?}"
    );
    assert!(ok.get().unwrap());
}

#[test]
fn joinall_with_timeout_and_count() {
    let _t = Timeout::start_new(BOUND);
    let fast = zgreen::spawn(|| zgreen::sleep(ms(5)));
    let slow = zgreen::spawn(|| zgreen::sleep(ms(300)));
    let done = zgreen::joinall_with([fast.any(), slow.any()], JoinAll::new().timeout(ms(100))).unwrap();
    assert_eq!(done, vec![fast.any()]);
    let done = zgreen::joinall_with([fast.any(), slow.any()], JoinAll::new().count(1)).unwrap();
    assert_eq!(done.len(), 1);
    zgreen::joinall([&fast, &slow]).unwrap();
}

#[test]
fn kill_interrupts_a_parked_greenlet_and_is_sticky() {
    let _t = Timeout::start_new(BOUND);
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    let g = zgreen::spawn(move || {
        let first = zgreen::sleep(Duration::from_secs(100));
        s.borrow_mut().push(first.clone());
        // Every later blocking call fails the same way, even a zero sleep
        // or a join of something already finished.
        s.borrow_mut().push(zgreen::sleep(ms(1)));
        s.borrow_mut().push(zgreen::sleep(Duration::ZERO));
        s.borrow_mut().push(zgreen::spawn(|| ()).join());
        "cleaned up"
    });
    zgreen::sleep(ms(10)).unwrap();
    let start = Instant::now();
    g.kill().unwrap();
    assert!(start.elapsed() < ms(1000));
    assert!(g.ready() && g.killed());
    // It returned normally after handling the kill.
    assert_eq!(g.get().unwrap(), "cleaned up");
    let seen = seen.borrow();
    assert_eq!(seen.len(), 4);
    assert!(seen.iter().all(|r| matches!(r, Err(Error::Killed))), "{seen:?}");
}

#[test]
fn kill_before_start_means_it_never_runs() {
    let _t = Timeout::start_new(BOUND);
    let ran = Rc::new(RefCell::new(false));
    let r = ran.clone();
    let g = zgreen::spawn(move || *r.borrow_mut() = true);
    g.kill().unwrap();
    zgreen::sleep(ms(5)).unwrap();
    assert!(!*ran.borrow());
    assert!(g.ready() && !g.successful());
    assert!(matches!(g.get(), Err(Error::Killed)));
    assert!(matches!(g.exception(), Some(Error::Killed)));
}

#[test]
fn kill_self_fails_the_next_blocking_call() {
    let _t = Timeout::start_new(BOUND);
    let g = zgreen::spawn(|| {
        zgreen::current().kill().unwrap();
        zgreen::sleep(ms(1))
    });
    assert!(matches!(g.get().unwrap(), Err(Error::Killed)));
}

#[test]
fn kill_timeout_and_killall() {
    let _t = Timeout::start_new(BOUND);
    let g = zgreen::spawn(|| zgreen::sleep(Duration::from_secs(100)));
    g.kill_timeout(ms(500)).unwrap();
    assert!(g.ready());
    let gs: Vec<_> = (0..50)
        .map(|_| zgreen::spawn(|| zgreen::sleep(Duration::from_secs(100))))
        .collect();
    zgreen::sleep(ms(1)).unwrap();
    zgreen::killall(&gs).unwrap();
    assert!(gs.iter().all(|g| matches!(g.get().unwrap(), Err(Error::Killed))));
}

#[test]
fn killed_greenlet_blocked_in_join_is_released() {
    let _t = Timeout::start_new(BOUND);
    let forever = zgreen::spawn(|| zgreen::sleep(Duration::from_secs(100)));
    let f = forever.clone();
    let joiner = zgreen::spawn(move || f.join());
    zgreen::sleep(ms(5)).unwrap();
    kill_expecting_killed(&joiner).unwrap();
    assert!(!forever.ready());
    forever.kill().unwrap();
}

#[test]
fn links_run_by_outcome_and_unlink_removes() {
    let _t = Timeout::start_new(BOUND);
    zgreen::config::set_panic_report(zgreen::config::PanicReport::Silent);
    let log = Rc::new(RefCell::new(Vec::new()));
    let push = |tag: &'static str| {
        let log = log.clone();
        move |g: zgreen::AnyGreenlet| log.borrow_mut().push((tag, g.id()))
    };
    let ok = zgreen::spawn(|| zgreen::sleep(ms(5)));
    let bad: Greenlet<()> = zgreen::spawn(|| {
        zgreen::sleep(ms(5)).unwrap();
        panic!("x")
    });
    ok.link(push("ok-any"));
    ok.link_value(push("ok-value"));
    ok.link_exception(push("ok-exc"));
    bad.link(push("bad-any"));
    bad.link_value(push("bad-value"));
    bad.link_exception(push("bad-exc"));
    let removed = ok.link(push("unlinked"));
    assert!(ok.unlink(removed));
    zgreen::joinall([ok.any(), bad.any()]).unwrap();
    zgreen::sleep(ms(5)).unwrap();
    let mut got: Vec<_> = log.borrow().iter().map(|(t, _)| *t).collect();
    got.sort();
    assert_eq!(got, ["bad-any", "bad-exc", "ok-any", "ok-value"]);
    // Linking to a dead greenlet runs the callback soon.
    ok.link(push("late"));
    zgreen::sleep(ms(1)).unwrap();
    assert!(log.borrow().iter().any(|(t, id)| *t == "late" && *id == ok.id()));
}

#[test]
fn spawn_later_starts_after_delay_and_can_be_killed_first() {
    let _t = Timeout::start_new(BOUND);
    let start = Instant::now();
    let g = zgreen::spawn_later(ms(50), move || start.elapsed());
    assert!(g.started());
    let waited = g.get().unwrap();
    assert!(waited >= ms(50), "{waited:?}");
    let ran = Rc::new(RefCell::new(false));
    let r = ran.clone();
    let g = zgreen::spawn_later(ms(20), move || *r.borrow_mut() = true);
    g.kill().unwrap();
    zgreen::sleep(ms(40)).unwrap();
    assert!(!*ran.borrow());
}

#[test]
fn unstarted_greenlet_runs_only_after_start() {
    let _t = Timeout::start_new(BOUND);
    let g = Greenlet::new(|| "late");
    assert!(!g.started());
    zgreen::sleep(ms(1)).unwrap();
    assert!(!g.ready());
    g.start();
    assert_eq!(g.get().unwrap(), "late");
}

#[test]
fn joining_something_nothing_can_finish_fails_instead_of_hanging() {
    let g = Greenlet::new(|| ());
    assert!(matches!(g.join(), Err(Error::WouldBlockForever)));
}

#[test]
fn a_greenlet_cannot_join_itself() {
    let _t = Timeout::start_new(BOUND);
    let g = zgreen::spawn(|| zgreen::current().join());
    assert!(matches!(g.get().unwrap(), Err(Error::JoinSelf)));
}

#[test]
fn current_is_root_outside_greenlets() {
    let _t = Timeout::start_new(BOUND);
    assert_eq!(zgreen::current().id(), 0);
    let g = zgreen::spawn(|| zgreen::current().id());
    assert_eq!(g.get().unwrap(), g.id());
}

#[test]
fn idle_waits_until_nothing_is_ready() {
    let _t = Timeout::start_new(BOUND);
    let count = Rc::new(RefCell::new(0));
    for _ in 0..10 {
        let c = count.clone();
        zgreen::spawn(move || {
            for _ in 0..5 {
                *c.borrow_mut() += 1;
                zgreen::sleep(Duration::ZERO).unwrap();
            }
        });
    }
    zgreen::idle().unwrap();
    assert_eq!(*count.borrow(), 50);
}

#[test]
fn stacks_are_pooled_and_reused() {
    let _t = Timeout::start_new(BOUND);
    for _ in 0..3 {
        let gs: Vec<_> = (0..1000).map(|i| zgreen::spawn(move || i)).collect();
        zgreen::joinall(&gs).unwrap();
    }
    let stats = zgreen::hub_stats();
    assert_eq!(stats.live_greenlets, 0, "{stats:?}");
    assert!(stats.pooled_stacks >= 1000, "{stats:?}");
    let before = zgreen::hub_stats().pooled_stacks;
    let gs: Vec<_> = (0..500).map(|i| zgreen::spawn(move || i)).collect();
    assert_eq!(zgreen::hub_stats().pooled_stacks, before - 500);
    zgreen::joinall(&gs).unwrap();
    zgreen::release_pooled_stacks();
    assert_eq!(zgreen::hub_stats().pooled_stacks, 0);
}

#[test]
fn per_spawn_stack_size_and_name() {
    let _t = Timeout::start_new(BOUND);
    let g = zgreen::Builder::new()
        .name("big")
        .stack_bytes(1024 * 1024)
        .spawn(|| {
            // Uses ~512 KiB of stack: would overflow the 64 KiB default.
            let buf = [7u8; 512 * 1024];
            std::hint::black_box(&buf).iter().map(|b| *b as u64).sum::<u64>()
        })
        .unwrap();
    assert_eq!(g.name().as_deref(), Some("big"));
    assert_eq!(g.get().unwrap(), 7 * 512 * 1024);
}

#[test]
fn stack_overflow_is_an_error_not_a_crash() {
    let _t = Timeout::start_new(BOUND);
    zgreen::config::set_panic_report(zgreen::config::PanicReport::Silent);
    #[inline(never)]
    fn deep(n: u64) -> u64 {
        let buf = [n as u8; 1024];
        std::hint::black_box(&buf);
        if n == 0 { 0 } else { deep(n - 1) + buf[0] as u64 }
    }
    let g = zgreen::Builder::new()
        .stack_bytes(16 * 1024)
        .spawn(|| deep(1_000_000))
        .unwrap();
    match g.get() {
        Err(Error::StackOverflow { stack_bytes }) => assert_eq!(stack_bytes, 16 * 1024),
        other => panic!("expected StackOverflow, got {other:?}"),
    }
    assert_eq!(zgreen::spawn(|| 5).get().unwrap(), 5);
}

#[test]
fn each_thread_has_its_own_hub() {
    let handles: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                let _t = Timeout::start_new(BOUND);
                let gs: Vec<_> = (0..100)
                    .map(|i| {
                        zgreen::spawn(move || {
                            zgreen::sleep(ms(1)).unwrap();
                            t * 1000 + i
                        })
                    })
                    .collect();
                gs.iter().map(|g| g.get().unwrap()).sum::<u64>()
            })
        })
        .collect();
    for (t, h) in handles.into_iter().enumerate() {
        let t = t as u64;
        assert_eq!(h.join().unwrap(), 100 * t * 1000 + 4950);
    }
}

#[test]
fn hub_handle_spawns_from_another_thread() {
    let _t = Timeout::start_new(BOUND);
    let handle = zgreen::hub_handle();
    let (tx, rx) = std::sync::mpsc::channel();
    let done = Rc::new(RefCell::new(0));
    let other = std::thread::spawn(move || {
        for i in 0..1000 {
            let tx = tx.clone();
            assert!(handle.spawn(move || tx.send(i).unwrap()));
        }
    });
    let d = done.clone();
    let waiter = zgreen::spawn(move || {
        while *d.borrow() < 1000 {
            while rx.try_recv().is_ok() {
                *d.borrow_mut() += 1;
            }
            zgreen::sleep(ms(1))?;
        }
        Ok::<_, Error>(())
    });
    waiter.get().unwrap().unwrap();
    other.join().unwrap();
    assert_eq!(*done.borrow(), 1000);
}
