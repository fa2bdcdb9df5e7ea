//! Lazy Pirate, the 6/PPP queue, the lb broker and the steerable devices,
//! with real processes; and zdemo end to end.

use std::time::{Duration, Instant};

use zgreen_integration::*;

/// `zclient lazy` (Lazy Pirate) on `ep`: `count` requests from
/// `concurrency` green clients, each retried `retries` times after
/// `timeout_ms` (see [`load_args`]).
fn lazy_client(ep: &str, count: &str, concurrency: &str, timeout_ms: &str, retries: &str) -> Proc {
    Proc::start(
        "zclient",
        &load_args(
            &["lazy", "--connect", ep],
            count,
            concurrency,
            timeout_ms,
            retries,
        ),
    )
}

/// A raw ROUTER socket (linger 0) bound to a fresh endpoint, and the
/// endpoint.
fn router_server(ctx: &zmq::Context) -> (zmq::Socket, String) {
    let (ep, _) = endpoint();
    let server = ctx.socket(zmq::ROUTER).unwrap();
    server.set_linger(0).unwrap();
    server.bind(&ep).unwrap();
    (server, ep)
}

/// A ROUTER server (raw, in this test) that swallows the first request,
/// answers it late (after the retry arrived, to the first socket) and
/// answers everything else at once.
#[test]
fn lazy_pirate_survives_a_swallowed_reply_and_never_matches_a_late_one() {
    let ctx = zmq::Context::new();
    let (server, ep) = router_server(&ctx);
    server.set_rcvtimeo(200).unwrap();
    let mut client = lazy_client(&ep, "5", "1", "300", "3");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut swallowed: Option<Vec<Vec<u8>>> = None;
    let mut served = 0;
    let mut requests = 0;
    while Instant::now() < deadline && client.alive() {
        let Ok(req) = server.recv_multipart(0) else {
            continue;
        };
        requests += 1;
        if requests == 1 {
            swallowed = Some(req);
            continue;
        }
        if let Some(old) = swallowed.take() {
            // The late reply, for the first (abandoned) REQ socket.
            let _ = server.send_multipart(&old, 0);
        }
        server.send_multipart(&req, 0).unwrap();
        served += 1;
    }
    // No stuck REQ: it finishes within 5 s.
    let (code, s) = client.finish(Duration::from_secs(5));
    assert_eq!(code, 0, "{}", client.dump());
    assert_eq!(field(&s, "received"), 5, "{s}");
    assert_eq!(field(&s, "retries"), 1, "{s}");
    assert_eq!(field(&s, "lost"), 0);
    assert_eq!(
        field(&s, "mismatched"),
        0,
        "a late reply was matched to a newer request: {s}"
    );
    assert_eq!(served, 5);
}

#[test]
fn lazy_pirate_gives_up_after_retries_with_a_clear_error() {
    let ctx = zmq::Context::new();
    let (_server, ep) = router_server(&ctx); // never answers
    let t = Instant::now();
    let mut client = lazy_client(&ep, "2", "1", "200", "2");
    let (code, s) = client.finish(Duration::from_secs(20));
    assert_eq!(code, 1, "{}", client.dump());
    assert_eq!(field(&s, "lost"), 2);
    assert_eq!(field(&s, "retries"), 4);
    assert!(client.log().contains("request lost after 2 retries"));
    assert!(t.elapsed() < Duration::from_secs(10));
}

/// `zclient <pattern> --connect <endpoint> --count <count>`, then the
/// `extra` flags.
fn zclient(pattern: &str, endpoint: &str, count: &str, extra: &[&str]) -> Proc {
    let mut args = vec![pattern, "--connect", endpoint, "--count", count];
    args.extend_from_slice(extra);
    Proc::start("zclient", &args)
}

/// Waits (`within` at most) for client `c` to finish, and checks that it
/// exited with 0 having received `n` replies through `via` (whose log is
/// shown if not).
fn expect_all_received(c: &mut Proc, within: Duration, n: u64, via: &Proc) {
    let (code, s) = c.finish(within);
    assert_eq!(
        (code, field(&s, "received")),
        (0, n),
        "{}\n{}",
        c.dump(),
        via.dump()
    );
}

/// `zbroker ppq` between `fe` and `be`, heartbeating every 100 ms.
fn ppp_queue(fe: &str, be: &str) -> Proc {
    Proc::start(
        "zbroker",
        &["ppq", "--frontend", fe, "--backend", be, "--heartbeat-ms", "100"],
    )
}

/// `zworker ppp` on `be`, heartbeating every 100 ms, with `extra` flags.
fn ppp_worker(be: &str, extra: &[&str]) -> Proc {
    let mut args = vec!["ppp", "--connect", be, "--heartbeat-ms", "100"];
    args.extend_from_slice(extra);
    Proc::start("zworker", &args)
}

#[test]
fn ppp_queue_restart_workers_reconnect_with_backoff() {
    let (fe, _) = endpoint();
    let (be, _) = endpoint();
    let mut queue = ppp_queue(&fe, &be);
    let backoff = [
        "--liveness",
        "3",
        "--reconnect-ms",
        "100",
        "--reconnect-max-ms",
        "800",
    ];
    let w1 = ppp_worker(&be, &backoff);
    let _w2 = ppp_worker(&be, &backoff);
    // 20 requests through `queue`, every one answered.
    let load = |queue: &Proc| {
        let mut c = lazy_client(&fe, "20", "2", "500", "10");
        expect_all_received(&mut c, Duration::from_secs(60), 20, queue);
    };
    load(&queue);
    // Kill the queue for a while: the workers notice the silence after
    // liveness × interval and back off 100, 200, 400 ms ...
    queue.kill();
    assert!(
        w1.wait_log("reconnecting after back-off", 3, Duration::from_secs(10)),
        "{}",
        w1.dump()
    );
    let log = w1.log();
    for d in ["delay_ms=100", "delay_ms=200", "delay_ms=400"] {
        assert!(log.contains(d), "no {d} back-off step\n{log}");
    }
    let mut queue = ppp_queue(&fe, &be);
    load(&queue);
    assert!(w1.log().matches("ppp worker ready").count() >= 2);
    queue.signal(libc::SIGTERM);
    assert_eq!(queue.wait_exit(Duration::from_secs(3)).map(Proc::code), Some(0));
}

#[test]
fn ppp_queue_drops_a_hung_worker() {
    let (fe, _) = endpoint();
    let (be, _) = endpoint();
    let _queue = ppp_queue(&fe, &be);
    let _hung = ppp_worker(&be, &["--hang-after", "2"]);
    let _ok = ppp_worker(&be, &[]);
    let mut c = lazy_client(&fe, "30", "2", "500", "5");
    let (code, s) = c.finish(Duration::from_secs(60));
    assert_eq!(code, 0, "{}", c.dump());
    assert_eq!(field(&s, "received"), 30);
    assert_eq!(field(&s, "mismatched"), 0);
}

#[test]
fn lb_broker_routes_to_workers_and_survives_one_dying() {
    let (fe, _) = endpoint();
    let (be, _) = endpoint();
    let _lb = Proc::start("zbroker", &["lb", "--frontend", &fe, "--backend", &be]);
    let mut victim = Proc::start("zworker", &["lb", "--connect", &be, "--delay-ms", "50"]);
    let _w2 = Proc::start("zworker", &["lb", "--connect", &be, "--delay-ms", "50"]);
    let mut client = lazy_client(&fe, "40", "2", "500", "5");
    std::thread::sleep(Duration::from_millis(500));
    victim.kill();
    let (code, s) = client.finish(Duration::from_secs(60));
    assert_eq!(code, 0, "{}", client.dump());
    assert_eq!(field(&s, "received"), 40, "{s}");
    assert_eq!(field(&s, "mismatched"), 0);
}

threads_tests! {
    fn queue_device_with_steerable_control() {
        let (fe, _) = endpoint();
        let (be, _) = endpoint();
        let (ctl, _) = endpoint();
        let mut dev = Proc::start(
            "zbroker",
            &["queue", "--frontend", &fe, "--backend", &be, "--control", &ctl],
        );
        let _rep = Proc::start("zworker", &["rep", "--connect", &be]);
        let mut c = zclient(
            "req",
            &fe,
            "50",
            &[
                "--concurrency",
                "2",
                "--timeout-ms",
                "2000",
                "--progress-ms",
                "0",
                "--json",
            ],
        );
        expect_all_received(&mut c, Duration::from_secs(30), 50, &dev);
        let ctx = zmq::Context::new();
        let control = raw_socket(&ctx, zmq::PAIR, &ctl, None);
        control.send("STATISTICS", 0).unwrap();
        let stats = recv(&control).expect("statistics");
        assert_eq!(stats.len(), 8);
        let n = |i: usize| u64::from_ne_bytes(stats[i].as_slice().try_into().unwrap());
        // 50 requests of (identity, delimiter, 2 body frames) in, the same out.
        assert!(
            n(0) >= 50 * 4 && n(6) >= 50 * 4,
            "{:?}",
            (0..8).map(n).collect::<Vec<_>>()
        );
        control.send("TERMINATE", 0).unwrap();
        assert_eq!(
            dev.wait_exit(Duration::from_secs(5)).map(Proc::code),
            Some(0),
            "{}",
            dev.dump()
        );
    }
}

threads_tests! {
    fn streamer_moves_every_message() {
        let (fe, _) = endpoint();
        let (be, _) = endpoint();
        let _dev = Proc::start("zbroker", &["streamer", "--frontend", &fe, "--backend", &be]);
        let mut pull = zclient("pull", &be, "500", &["--timeout-ms", "10000", "--json"]);
        let _push = zclient("push", &fe, "500", &[]);
        let st = pull.wait_exit(Duration::from_secs(30)).expect("pull finishes");
        assert_eq!(Proc::code(st), 0, "{}", pull.dump());
        assert!(pull.log().contains("\"messages\":500"), "{}", pull.dump());
    }
}

/// `zclient sub` on `be`: `count` messages (0: until `timeout_ms` of
/// silence), a JSON summary.
fn subscriber(be: &str, count: &str, timeout_ms: &str, extra: &[&str]) -> Proc {
    zclient(
        "sub",
        be,
        count,
        &[&["--timeout-ms", timeout_ms], extra, &["--json"]].concat(),
    )
}

threads_tests! {
    fn forwarder_slow_subscriber_does_not_slow_a_fast_one_and_restart_resubscribes() {
        let (fe, _) = endpoint();
        let (be, _) = endpoint();
        let dev_args = ["forwarder", "--frontend", &fe, "--backend", &be];
        let mut dev = Proc::start("zbroker", &dev_args);
        let mut fast = subscriber(&be, "0", "3000", &[]);
        let mut slow = subscriber(&be, "0", "3000", &["--delay-ms", "20"]);
        std::thread::sleep(Duration::from_millis(500));
        // About 1000 messages of 10 kB a second for 3 s (30 MB, more than the
        // socket buffers hold): easy for the fast subscriber, 20 times too
        // many for the slow one (50 a second).
        let t = Instant::now();
        let mut publisher = zclient(
            "pub",
            &fe,
            "3000",
            &["--size", "10000", "--interval-ms", "1", "--warmup-ms", "300"],
        );
        assert!(publisher.wait_exit(Duration::from_secs(30)).is_some());
        let publish_secs = t.elapsed().as_secs_f64();
        let fast_done = fast
            .wait_exit(Duration::from_secs(20))
            .expect("fast subscriber stops after silence");
        assert_eq!(Proc::code(fast_done), 0);
        let fast_v = fast.last_json();
        slow.signal(libc::SIGTERM);
        let slow_done = slow
            .wait_exit(Duration::from_secs(5))
            .expect("slow subscriber stops on SIGTERM");
        assert_eq!(Proc::code(slow_done), 0);
        let slow_v = slow.last_json();
        // The fast one got everything, in order, while the slow one lost
        // messages at its high-water mark instead of holding anyone back.
        assert_eq!(field(&fast_v, "messages"), 3000, "fast: {fast_v}, slow: {slow_v}");
        assert_eq!(field(&fast_v, "gaps"), 0, "fast: {fast_v}");
        assert!(field(&slow_v, "messages") < 3000, "slow: {slow_v}");
        assert!(publish_secs < 15.0, "publishing took {publish_secs} s");
        // Bounded memory: the forwarder's RSS stays small.
        let rss_kb = zgreen_harness::rss_bytes(u32::try_from(dev.pid()).expect("a pid"))
            .expect("the forwarder's RSS")
            / 1024;
        assert!(rss_kb < 200_000, "forwarder RSS {rss_kb} kB");

        // Restart: a subscriber that stays connected gets messages again
        // (ZeroMQ re-sends its subscription on reconnect).
        let mut sub = subscriber(&be, "5", "20000", &[]);
        std::thread::sleep(Duration::from_millis(300));
        dev.kill();
        std::thread::sleep(Duration::from_millis(300));
        let _dev2 = Proc::start("zbroker", &dev_args);
        let _p2 = zclient("pub", &fe, "200", &["--interval-ms", "20", "--warmup-ms", "500"]);
        let st = sub
            .wait_exit(Duration::from_secs(30))
            .expect("subscriber gets messages after the restart");
        assert_eq!(Proc::code(st), 0, "{}", sub.dump());
        assert!(sub.log().contains("\"messages\":5"), "{}", sub.dump());
    }
}

threads_tests! {
    fn zdemo_runs_and_loses_nothing() {
        let mut demo = Proc::start("zdemo", &["--count", "1200", "--heartbeat-ms", "200"]);
        let st = demo
            .wait_exit(Duration::from_secs(90))
            .unwrap_or_else(|| panic!("zdemo hung\n{}", demo.dump()));
        let out = demo.log();
        assert_eq!(Proc::code(st), 0, "{out}");
        assert!(out.contains("PASS"), "{out}");
        assert!(out.contains("SIGKILL worker-1"), "{out}");
        assert!(out.contains("recovery time"), "{out}");
        assert!(out.contains("lost              0"), "{out}");
    }
}

#[test]
fn zdemo_other_patterns() {
    for pattern in ["ppp", "lb", "pubsub"] {
        let mut demo = Proc::start(
            "zdemo",
            &["--pattern", pattern, "--count", "600", "--heartbeat-ms", "200"],
        );
        let st = demo
            .wait_exit(Duration::from_secs(90))
            .unwrap_or_else(|| panic!("zdemo hung\n{}", demo.dump()));
        assert_eq!(Proc::code(st), 0, "{pattern}: {}", demo.dump());
    }
}
