//! Timeout scopes: expiry, custom errors, nesting, stickiness, cancel.

use std::time::{Duration, Instant};

use zgreen::{Error, Timeout};
use zgreen_harness::{Fail, ms};

/// The test's own error.
const TOO_LONG: Fail = Fail("too long");

#[test]
fn scope_interrupts_a_sleep_at_the_right_time() {
    let start = Instant::now();
    let t = Timeout::start_new(ms(50));
    let err = zgreen::sleep(Duration::from_secs(10)).unwrap_err();
    let took = start.elapsed();
    assert!(t.is(&err), "{err:?}");
    assert!(t.expired());
    assert!(took >= ms(50) && took < ms(2000), "{took:?}");
}

#[test]
fn custom_error_payload() {
    let t = Timeout::with_error(ms(10), TOO_LONG).start();
    let err = zgreen::sleep(Duration::from_secs(10)).unwrap_err();
    assert!(t.is(&err));
    assert_eq!(err.timeout_payload::<Fail>(), Some(&TOO_LONG));
    assert_eq!(err.to_string(), "too long");
}

#[test]
fn scope_applies_to_join_and_get_in_a_greenlet() {
    let outer = Timeout::start_new(Duration::from_secs(20));
    let g = zgreen::spawn(|| {
        let sleeper = zgreen::spawn(|| zgreen::sleep(Duration::from_secs(10)));
        let t = Timeout::start_new(ms(20));
        let e1 = sleeper.join().unwrap_err();
        let mine1 = t.is(&e1);
        drop(t);
        let t2 = Timeout::start_new(ms(20));
        let e2 = sleeper.get().unwrap_err();
        let mine2 = t2.is(&e2);
        drop(t2);
        sleeper.kill().unwrap();
        (mine1, mine2)
    });
    assert_eq!(g.get().unwrap(), (true, true));
    drop(outer);
}

#[test]
fn outer_timeout_is_never_swallowed_by_an_inner_one() {
    let outer = Timeout::start_new(ms(30));
    let inner = Timeout::start_new(ms(5000));
    let err = zgreen::sleep(Duration::from_secs(10)).unwrap_err();
    assert!(outer.is(&err), "inner scope got the outer's error: {err:?}");
    assert!(!inner.is(&err));
    drop(inner);
    // Still expired: every blocking call in the outer scope fails.
    assert!(outer.is(&zgreen::sleep(ms(1)).unwrap_err()));
}

#[test]
fn inner_timeout_then_outer_continues() {
    let outer = Timeout::start_new(ms(300));
    {
        let inner = Timeout::start_new(ms(20));
        let err = zgreen::sleep(Duration::from_secs(10)).unwrap_err();
        assert!(inner.is(&err));
    }
    // The inner scope is gone; the outer one has time left.
    zgreen::sleep(ms(10)).unwrap();
    let err = zgreen::sleep(Duration::from_secs(10)).unwrap_err();
    assert!(outer.is(&err));
}

#[test]
fn when_both_expired_the_outermost_is_reported() {
    let outer = Timeout::start_new(ms(20));
    let inner = Timeout::start_new(ms(10));
    // Hog the hub so both expire before the next blocking call.
    std::thread::sleep(ms(60));
    let err = zgreen::sleep(ms(1)).unwrap_err();
    assert!(outer.is(&err));
    assert!(inner.expired());
}

#[test]
fn expiry_is_sticky_inside_the_scope() {
    let t = Timeout::start_new(ms(10));
    assert!(t.is(&zgreen::sleep(Duration::from_secs(5)).unwrap_err()));
    for _ in 0..3 {
        assert!(t.is(&zgreen::sleep(Duration::ZERO).unwrap_err()));
    }
    drop(t);
    zgreen::sleep(ms(1)).unwrap();
}

#[test]
fn dropping_the_guard_cancels_the_timer() {
    {
        let _t = Timeout::start_new(ms(10));
        zgreen::sleep(ms(1)).unwrap();
    }
    zgreen::sleep(ms(40)).unwrap();
    let t = Timeout::start_new(ms(10));
    t.cancel();
    assert!(!t.pending());
    zgreen::sleep(ms(30)).unwrap();
    assert!(!t.expired());
}

#[test]
fn timeout_in_one_greenlet_does_not_touch_another() {
    let _bound = Timeout::start_new(Duration::from_secs(20));
    let a = zgreen::spawn(|| {
        let _t = Timeout::start_new(ms(10));
        zgreen::sleep(Duration::from_secs(10))
    });
    let b = zgreen::spawn(|| zgreen::sleep(ms(50)));
    assert!(a.get().unwrap().unwrap_err().is_timeout());
    assert!(b.get().unwrap().is_ok());
}

#[test]
fn with_timeout_forms() {
    let r = zgreen::with_timeout(ms(10), || zgreen::sleep(Duration::from_secs(10)));
    assert!(r.unwrap_err().is_timeout());
    let r = zgreen::with_timeout(ms(500), || {
        zgreen::sleep(ms(1))?;
        Ok(5)
    });
    assert_eq!(r.unwrap(), 5);
    let r = zgreen::with_timeout_or(ms(10), "default", || {
        zgreen::sleep(Duration::from_secs(10))?;
        Ok("finished")
    });
    assert_eq!(r.unwrap(), "default");
    // An outer timeout passes through with_timeout_or untouched.
    let outer = Timeout::start_new(ms(10));
    let r = zgreen::with_timeout_or(ms(5000), 0, || {
        zgreen::sleep(Duration::from_secs(10))?;
        Ok(1)
    });
    assert!(outer.is(&r.unwrap_err()));
}

#[test]
fn call_deadlines_report_id_zero() {
    let g = zgreen::spawn(|| zgreen::sleep(ms(200)));
    match g.join_timeout(ms(10)) {
        Err(Error::Timeout(t)) => {
            assert_eq!(t.id, 0);
            assert_eq!(t.after, ms(10));
        }
        other => panic!("{other:?}"),
    }
    g.kill().unwrap();
}

#[test]
fn restarting_a_cancelled_timeout_rearms_it() {
    let t = Timeout::new(ms(20));
    assert!(!t.pending());
    let t = t.start();
    t.cancel();
    let t = t.start();
    assert!(t.pending());
    assert!(t.is(&zgreen::sleep(Duration::from_secs(5)).unwrap_err()));
}
