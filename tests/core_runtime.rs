//! Signals, the thread pool and the blocking monitor.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use zgreen::{Error, Timeout};
use zgreen_harness::ms;

const BOUND: Duration = Duration::from_secs(20);

#[test]
fn signal_handler_runs_in_a_greenlet_and_can_kill() {
    let _t = Timeout::start_new(BOUND);
    let hits = Rc::new(Cell::new(0));
    let forever = zgreen::spawn(|| zgreen::sleep(Duration::from_secs(1000)));
    let (h, f) = (hits.clone(), forever.clone());
    let handler = zgreen::signal_handler(libc::SIGUSR1, move || {
        h.set(h.get() + 1);
        // The handler is a greenlet: it may block.
        zgreen::sleep(ms(1)).unwrap();
        f.kill().unwrap();
    })
    .unwrap();
    assert_eq!(handler.signal(), libc::SIGUSR1);
    // Deliver the signal from another thread after the root has blocked.
    let sender = std::thread::spawn(|| {
        std::thread::sleep(ms(50));
        // SAFETY: kill(2) with our own pid and a valid signal number.
        unsafe { libc::kill(libc::getpid(), libc::SIGUSR1) };
    });
    let start = Instant::now();
    assert!(matches!(forever.get().unwrap(), Err(Error::Killed)));
    assert!(start.elapsed() < Duration::from_secs(5));
    sender.join().unwrap();
    assert_eq!(hits.get(), 1);
    handler.cancel().unwrap();
}

#[test]
fn threadpool_apply_parks_only_the_caller() {
    let _t = Timeout::start_new(BOUND);
    let ticks = Rc::new(Cell::new(0u32));
    let t = ticks.clone();
    let ticker = zgreen::spawn(move || {
        for _ in 0..20 {
            t.set(t.get() + 1);
            zgreen::sleep(ms(5))?;
        }
        Ok::<_, Error>(())
    });
    let v = zgreen::threadpool::apply(|| {
        std::thread::sleep(ms(100));
        std::thread::current().name().map(|n| n.to_string())
    })
    .unwrap();
    assert!(v.unwrap().starts_with("zgreen-pool-"));
    // The hub kept running the ticker while the pool thread slept.
    assert!(ticks.get() >= 5, "ticker ran {} times", ticks.get());
    ticker.get().unwrap().unwrap();
}

#[test]
fn threadpool_panics_and_timeouts_are_errors() {
    let _t = Timeout::start_new(BOUND);
    zgreen::config::set_panic_report(zgreen::config::PanicReport::Silent);
    let err = zgreen::threadpool::apply(|| -> u32 { panic!("pool job failed") }).unwrap_err();
    assert!(
        matches!(err, Error::Panicked(ref p) if p.message == "pool job failed"),
        "{err:?}"
    );
    let r = zgreen::threadpool::spawn(|| std::thread::sleep(ms(300)));
    assert!(r.get_timeout(ms(20)).unwrap_err().is_timeout());
}

#[test]
fn threadpool_many_results_from_greenlets() {
    let _t = Timeout::start_new(BOUND);
    let gs: Vec<_> = (0..200u64)
        .map(|i| zgreen::spawn(move || zgreen::threadpool::apply(move || i * i)))
        .collect();
    let sum: u64 = gs.iter().map(|g| g.get().unwrap().unwrap()).sum();
    assert_eq!(sum, (0..200u64).map(|i| i * i).sum::<u64>());
}

#[test]
fn threadpool_wait_is_interrupted_by_kill() {
    let _t = Timeout::start_new(BOUND);
    let g = zgreen::spawn(|| zgreen::threadpool::apply(|| std::thread::sleep(ms(500))));
    zgreen::sleep(ms(10)).unwrap();
    let start = Instant::now();
    g.kill().unwrap();
    assert!(start.elapsed() < ms(400));
    assert!(matches!(g.get().unwrap(), Err(Error::Killed)));
}

#[test]
fn blocking_monitor_names_the_greenlet_that_held_the_hub() {
    let _t = Timeout::start_new(BOUND);
    zgreen::set_blocking_monitor(Some(ms(50)));
    // Well-behaved greenlets that sleep cooperatively are not reported.
    let polite = zgreen::spawn(|| zgreen::sleep(ms(200)));
    polite.join().unwrap();
    assert!(
        zgreen::blocking_reports().is_empty(),
        "{:?}",
        zgreen::blocking_reports()
    );
    let hog = zgreen::Builder::new()
        .name("hog")
        .spawn(|| std::thread::sleep(ms(300)))
        .unwrap();
    hog.join().unwrap();
    let reports = zgreen::blocking_reports();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].greenlet, hog.id());
    assert_eq!(reports[0].name.as_deref(), Some("hog"));
    assert!(reports[0].blocked_for >= ms(50));
    zgreen::set_blocking_monitor(None);
}
