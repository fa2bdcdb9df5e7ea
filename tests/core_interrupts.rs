//! Every blocking API of the foundation can be interrupted by a `Timeout`
//! scope and by a kill, promptly, with the right error.

use std::time::{Duration, Instant};

use zgreen::{Error, Greenlet, JoinAll, Timeout};
use zgreen_harness::ms;

fn long() -> Duration {
    Duration::from_secs(100)
}

/// A greenlet that stays parked for a long time.
fn sleeper() -> Greenlet<zgreen::Result<()>> {
    zgreen::spawn(|| zgreen::sleep(long()))
}

/// Runs `op` (which blocks for a long time) twice: under a 20 ms timeout
/// scope, and in a greenlet that gets killed after 20 ms. Both must end
/// it promptly with the matching error.
fn check(name: &str, op: fn() -> zgreen::Result<()>) {
    let _bound = Timeout::start_new(Duration::from_secs(30));

    let g = zgreen::spawn(move || {
        let t = Timeout::start_new(ms(20));
        let start = Instant::now();
        let r = op();
        (r.map_err(|e| t.is(&e)), start.elapsed())
    });
    let (r, took) = g.get().unwrap();
    assert_eq!(r, Err(true), "{name}: not interrupted by its timeout scope");
    assert!(took < ms(2000), "{name}: timeout took {took:?}");

    let g = zgreen::spawn(op);
    zgreen::sleep(ms(20)).unwrap();
    assert!(!g.ready(), "{name}: did not block");
    let start = Instant::now();
    g.kill().unwrap();
    assert!(
        start.elapsed() < ms(2000),
        "{name}: kill took {:?}",
        start.elapsed()
    );
    assert!(
        matches!(g.get().unwrap(), Err(Error::Killed)),
        "{name}: not killed"
    );
}

#[test]
fn sleep_is_interruptible() {
    check("sleep", || zgreen::sleep(long()));
}

#[test]
fn join_is_interruptible() {
    check("join", || sleeper().join());
    check("join_timeout", || sleeper().join_timeout(long()));
}

#[test]
fn get_is_interruptible() {
    check("get", || sleeper().get().map(|_| ()));
    check("get_timeout", || sleeper().get_timeout(long()).map(|_| ()));
    check("take", || sleeper().take().map(|_| ()));
}

#[test]
fn joinall_is_interruptible() {
    check("joinall", || zgreen::joinall([sleeper(), sleeper()]));
    check("joinall_with", || {
        zgreen::joinall_with([sleeper(), sleeper()], JoinAll::new().timeout(long())).map(|_| ())
    });
}

#[test]
fn idle_is_interruptible() {
    check("idle", || {
        // Keep the hub busy so it is never idle.
        zgreen::spawn(|| while zgreen::sleep(Duration::ZERO).is_ok() {});
        zgreen::idle()
    });
}

#[test]
fn threadpool_get_is_interruptible() {
    check("threadpool::apply", || {
        zgreen::threadpool::apply(|| std::thread::sleep(ms(300)))
    });
}

#[test]
fn per_call_timeouts_fire() {
    let _bound = Timeout::start_new(Duration::from_secs(30));
    let s = sleeper();
    for (name, r) in [
        ("join_timeout", s.join_timeout(ms(10))),
        ("get_timeout", s.get_timeout(ms(10)).map(|_| ())),
        (
            "threadpool get_timeout",
            zgreen::threadpool::spawn(|| std::thread::sleep(ms(200))).get_timeout(ms(10)),
        ),
    ] {
        assert!(
            matches!(r, Err(Error::Timeout(ref t)) if t.id == 0),
            "{name}: {r:?}"
        );
    }
    s.kill().unwrap();
}

#[test]
fn io_errors_carrying_a_zgreen_error_convert_back_to_it() {
    let io = std::io::Error::new(std::io::ErrorKind::TimedOut, Error::Killed);
    assert!(matches!(Error::from(io), Error::Killed));
    let plain = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
    assert!(matches!(Error::from(plain), Error::Io(ref e) if e.kind() == std::io::ErrorKind::BrokenPipe));
}
