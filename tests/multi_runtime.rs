//! The runtime of N hubs: placement, joining from anywhere, and a
//! shutdown that kills every greenlet and closes every socket.

use std::time::Duration;

use zgreen::Error;
use zgreen::runtime::{Runtime, TryJoinError};
use zgreen_harness::{Watchdog, ms};

const BOUND: Duration = Duration::from_secs(60);

#[test]
fn hubs_run_on_named_threads_and_spawn_on_places_work() {
    let _w = Watchdog::arm(BOUND, "named hubs");
    let rt = Runtime::builder().hubs(3).name("worker").build().unwrap();
    assert_eq!(rt.hubs(), 3);
    for i in 0..3 {
        let s = rt.spawn_on(i, || std::thread::current().name().unwrap().to_string());
        assert_eq!(s.hub(), i);
        assert_eq!(s.join().unwrap(), format!("worker-{i}"));
    }
    rt.shutdown().unwrap();
}

#[test]
fn the_default_is_one_hub_per_cpu() {
    let rt = Runtime::new().unwrap();
    let cpus = std::thread::available_parallelism().unwrap().get();
    assert_eq!(rt.hubs(), cpus);
}

#[test]
fn spawn_goes_to_the_least_loaded_hub() {
    let _w = Watchdog::arm(BOUND, "least loaded");
    let rt = Runtime::builder().hubs(2).build().unwrap();
    // Load hub 0 with sleepers and let it publish its count.
    let sleepers: Vec<_> = (0..20)
        .map(|_| rt.spawn_on(0, || zgreen::sleep(Duration::from_secs(100))))
        .collect();
    let start = std::time::Instant::now();
    while rt.loads()[0] < 20 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "loads: {:?}",
            rt.loads()
        );
        std::thread::sleep(ms(1));
    }
    for _ in 0..5 {
        assert_eq!(rt.spawn(|| ()).hub(), 1, "loads: {:?}", rt.loads());
    }
    rt.shutdown().unwrap();
    for s in sleepers {
        // Killed at shutdown: the sleep failed with Killed, or the
        // greenlet was killed before it ran (the hub had not started all
        // twenty when its load figure passed 20: each spawn counts the
        // runtime's wrapper greenlet too).
        let r = s.join();
        assert!(matches!(r, Ok(Err(Error::Killed)) | Err(Error::Killed)), "{r:?}");
    }
}

#[test]
fn join_forms_follow_the_naming_scheme() {
    let _w = Watchdog::arm(BOUND, "join forms");
    let rt = Runtime::builder().hubs(1).build().unwrap();
    let s = rt.spawn(|| {
        zgreen::sleep(ms(50)).unwrap();
        7
    });
    assert!(matches!(s.try_join(), Err(TryJoinError::Running)));
    assert!(s.join_timeout(ms(1)).unwrap_err().is_timeout());
    assert_eq!(
        s.join_deadline(std::time::Instant::now() + Duration::from_secs(10))
            .unwrap(),
        7
    );
    assert!(matches!(s.join(), Err(Error::ValueTaken)));
    let p = rt.spawn(|| panic!("boom"));
    assert!(matches!(p.join(), Err(Error::Panicked(_))));
    rt.shutdown().unwrap();
}

#[test]
fn a_greenlet_joins_work_of_another_hub_without_blocking_its_own() {
    let _w = Watchdog::arm(BOUND, "cross join");
    let rt = std::sync::Arc::new(Runtime::builder().hubs(2).build().unwrap());
    let rt2 = rt.clone();
    let r = rt
        .spawn_on(0, move || {
            // While this greenlet waits for hub 1, its own hub runs others.
            let ticker = zgreen::spawn(|| {
                let mut n = 0;
                while zgreen::sleep(ms(1)).is_ok() {
                    n += 1;
                }
                n
            });
            let far = rt2.spawn_on(1, || {
                std::thread::sleep(ms(60)); // blocks hub 1's thread only
                std::thread::current().name().unwrap().to_string()
            });
            let name = far.join().unwrap();
            ticker.kill().unwrap();
            (name, ticker.get().unwrap())
        })
        .join()
        .unwrap();
    assert_eq!(r.0, "zgreen-hub-1");
    assert!(r.1 >= 10, "hub 0 kept running while it waited: {} ticks", r.1);
    std::sync::Arc::into_inner(rt).unwrap().shutdown().unwrap();
}

#[cfg(feature = "zmq")]
#[test]
fn shutdown_kills_nested_greenlets_and_closes_their_sockets() {
    let _w = Watchdog::arm(BOUND, "shutdown");
    let ctx = zgreen::zmq::Context::new();
    let rt = Runtime::builder().hubs(2).build().unwrap();
    let each = rt.spawn_each({
        let ctx = ctx.clone();
        move |i| {
            let ctx = ctx.clone();
            // A greenlet spawned by a greenlet, not known to the runtime,
            // holding a socket.
            let inner = zgreen::spawn(move || {
                let s = ctx.socket(zmq::PULL).unwrap();
                s.bind(&format!("inproc://shutdown-{i}")).unwrap();
                s.recv_bytes(0)
            });
            inner.get()
        }
    });
    std::thread::sleep(ms(50));
    rt.shutdown().unwrap();
    for s in each {
        assert!(
            matches!(s.join(), Err(Error::Killed)),
            "the outer greenlet was killed"
        );
    }
    // Every socket was closed: terminating the context does not hang.
    let term = std::thread::spawn(move || drop(ctx));
    let start = std::time::Instant::now();
    while !term.is_finished() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "context term hangs: a socket is open"
        );
        std::thread::sleep(ms(5));
    }
}
