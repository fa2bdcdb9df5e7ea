//! Fault injection on the MDP broker and its workers, with real
//! processes: SIGKILL, a crash, SIGSTOP, a broker restart, SIGTERM with
//! requests in flight. Every request is sequence-numbered by `zclient`,
//! which counts late, duplicate and mismatched replies.

use std::time::{Duration, Instant};

use zgreen_integration::*;

mod common;
use common::{expect_metric, mdp_echo_args};

const HB: &str = "100";

fn worker(broker: &Broker, extra: &[&str]) -> Proc {
    let mut args = QUICK_SESSION.to_vec();
    args.extend_from_slice(extra);
    mdp_worker(&broker.endpoint, "echo", &args)
}

fn assert_exactly_once(summary: &serde_json::Value, count: u64, client: &Proc, broker: &Broker) {
    let ctx = format!("{summary}\n{}\n{}", client.dump(), broker.proc.dump());
    assert_eq!(field(summary, "sent"), count, "{ctx}");
    assert_eq!(field(summary, "received"), count, "{ctx}");
    assert_eq!(field(summary, "lost"), 0, "{ctx}");
    assert_eq!(field(summary, "late"), 0, "duplicate or late replies: {ctx}");
    assert_eq!(field(summary, "mismatched"), 0, "{ctx}");
}

threads_tests! {
    fn sigkill_worker_mid_request_every_request_answered_once() {
        let broker = Broker::start(&["--heartbeat-ms", HB, "--liveness", "3"]);
        let mut victim = worker(&broker, &["--delay-ms", "150"]);
        let _w2 = worker(&broker, &["--delay-ms", "150"]);
        let _w3 = worker(&broker, &["--delay-ms", "150"]);
        assert!(
            broker.wait_workers("echo", 3, Duration::from_secs(10)),
            "{}",
            broker.proc.dump()
        );
        let args = mdp_echo_args(&broker.endpoint, "60", "6", "800", "5");
        let mut client = Proc::start("zclient", &args);
        // Six clients on three workers: every worker is always busy, so the
        // SIGKILL lands in the middle of a request.
        std::thread::sleep(Duration::from_millis(700));
        victim.kill();
        let (code, summary) = client.finish(Duration::from_secs(60));
        assert_eq!(code, 0, "{}", client.dump());
        assert_exactly_once(&summary, 60, &client, &broker);
        assert!(
            field(&summary, "retries") >= 1,
            "the killed worker held a request: {summary}"
        );
        assert!(broker.wait_workers("echo", 2, Duration::from_secs(5)));
    }
}

threads_tests! {
    fn crashing_worker_mid_request_is_replaced() {
        let broker = Broker::start(&["--heartbeat-ms", HB]);
        let mut crasher = worker(&broker, &["--crash-after", "3"]);
        let _ok = worker(&broker, &["--delay-ms", "5"]);
        assert!(broker.wait_workers("echo", 2, Duration::from_secs(10)));
        let (code, summary, client) = run_client(
            &mdp_echo_args(&broker.endpoint, "40", "2", "500", "5"),
            Duration::from_secs(60),
        );
        assert_eq!(code, 0, "{}", client.dump());
        assert_exactly_once(&summary, 40, &client, &broker);
        assert_eq!(crasher.wait_exit(Duration::from_secs(5)).map(Proc::code), Some(3));
    }
}

threads_tests! {
    fn sigstopped_worker_is_dropped_after_liveness_and_retry_succeeds_elsewhere() {
        let broker = Broker::start(&["--heartbeat-ms", HB, "--liveness", "3"]);
        let stopped = worker(&broker, &["--delay-ms", "100"]);
        let _w2 = worker(&broker, &["--delay-ms", "100"]);
        assert!(broker.wait_workers("echo", 2, Duration::from_secs(10)));
        let args = mdp_echo_args(&broker.endpoint, "30", "2", "1000", "5");
        let mut client = Proc::start("zclient", &args);
        std::thread::sleep(Duration::from_millis(400));
        stopped.signal(libc::SIGSTOP);
        let t0 = Instant::now();
        // Dropped after interval × liveness (300 ms), at the next tick.
        expect_metric(
            &broker,
            "zgreen_workers_expired_total",
            "",
            1.0,
            "the stopped worker expired",
        );
        let dropped_after = t0.elapsed();
        assert!(
            dropped_after < Duration::from_millis(3000),
            "dropped after {dropped_after:?}"
        );
        assert!(broker.proc.log().contains("worker expired"));
        let (code, summary) = client.finish(Duration::from_secs(60));
        assert_eq!(code, 0, "{}", client.dump());
        assert_exactly_once(&summary, 30, &client, &broker);
        // SIGCONT: the worker comes back, is told to DISCONNECT (or finds the
        // broker silent) and registers again.
        stopped.signal(libc::SIGCONT);
        assert!(
            broker.wait_workers("echo", 2, Duration::from_secs(10)),
            "{}",
            stopped.dump()
        );
    }
}

threads_tests! {
    fn broker_restart_on_same_port_workers_reregister_clients_recover() {
        let broker = Broker::start(&["--heartbeat-ms", HB]);
        let endpoint = broker.endpoint.clone();
        let w1 = worker(&broker, &["--delay-ms", "5"]);
        let _w2 = worker(&broker, &["--delay-ms", "5"]);
        assert!(broker.wait_workers("echo", 2, Duration::from_secs(10)));
        let mut args = mdp_echo_args(&endpoint, "60", "2", "400", "20");
        args.extend(["--interval-ms", "40"]);
        let mut client = Proc::start("zclient", &args);
        std::thread::sleep(Duration::from_millis(600));
        let mut broker = broker;
        broker.proc.kill();
        std::thread::sleep(Duration::from_millis(400));
        let broker = Broker::start_on(Some(&endpoint), &["--heartbeat-ms", HB]);
        assert!(
            broker.wait_workers("echo", 2, Duration::from_secs(10)),
            "{}\n{}",
            broker.proc.dump(),
            w1.dump()
        );
        let (code, summary) = client.finish(Duration::from_secs(60));
        assert_eq!(code, 0, "{}", client.dump());
        assert_eq!(field(&summary, "received"), 60, "{summary}");
        assert_eq!(field(&summary, "lost"), 0);
        assert_eq!(field(&summary, "mismatched"), 0);
        assert!(
            field(&summary, "retries") >= 1,
            "the restart cost at least one retry: {summary}"
        );
    }
}

threads_tests! {
    fn sigterm_with_requests_in_flight_exits_promptly_with_0() {
        let mut broker = Broker::start(&["--heartbeat-ms", HB, "--linger-ms", "200"]);
        let mut w = worker(&broker, &["--delay-ms", "300", "--linger-ms", "200"]);
        assert!(broker.wait_workers("echo", 1, Duration::from_secs(10)));
        let args = mdp_echo_args(&broker.endpoint, "1000", "4", "2000", "3");
        let mut client = Proc::start("zclient", &args);
        std::thread::sleep(Duration::from_millis(500));
        // Worker first (it is in the middle of a 300 ms request), then broker,
        // then client: each exits within linger + a small bound.
        let t = Instant::now();
        w.signal(libc::SIGTERM);
        let ws = w
            .wait_exit(Duration::from_secs(3))
            .unwrap_or_else(|| panic!("worker hung\n{}", w.dump()));
        assert_eq!(Proc::code(ws), 0, "{}", w.dump());
        let t = t.elapsed();
        assert!(t < Duration::from_millis(2000), "worker took {t:?}");
        let t = Instant::now();
        broker.proc.signal(libc::SIGTERM);
        let bs = broker
            .proc
            .wait_exit(Duration::from_secs(3))
            .unwrap_or_else(|| panic!("broker hung\n{}", broker.proc.dump()));
        assert_eq!(Proc::code(bs), 0, "{}", broker.proc.dump());
        assert!(
            t.elapsed() < Duration::from_millis(2000),
            "broker took {:?}",
            t.elapsed()
        );
        let t = Instant::now();
        client.signal(libc::SIGTERM);
        let cs = client
            .wait_exit(Duration::from_secs(4))
            .unwrap_or_else(|| panic!("client hung\n{}", client.dump()));
        assert!(
            t.elapsed() < Duration::from_millis(3000),
            "client took {:?}",
            t.elapsed()
        );
        assert_eq!(Proc::code(cs), 0, "{}", client.dump());
        assert!(
            client.log().contains("\"sent\""),
            "the client still prints its summary"
        );
    }
}
