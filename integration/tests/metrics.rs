//! The `--metrics ADDR` endpoint of real processes: `GET /metrics` with
//! the counters, `404` and `405` elsewhere, port 0, and a broker that
//! keeps serving ZeroMQ traffic while metrics clients stall (the endpoint
//! is a greenlet on the broker's hub, which must not block).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use zgreen_integration::*;

mod common;
use common::mdp_echo_args;

const HB: &str = "100";

/// One raw HTTP/1.1 request with `Connection: close`: (status, head, body).
fn http(addr: &str, method: &str, path: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).expect("connect to the metrics endpoint");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).expect("a whole response");
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {out:?}"));
    (status, head.to_string(), body.to_string())
}

/// The address a process logged in its `serving metrics` line (the
/// pretty log format writes `local=127.0.0.1:PORT`).
fn logged_metrics_addr(p: &Proc) -> String {
    let mut found = None;
    let logged = wait_until(Duration::from_secs(10), || {
        found = p
            .log()
            .lines()
            .filter(|l| l.contains("serving metrics"))
            .find_map(|l| {
                let rest = &l[l.find("local=")? + "local=".len()..];
                Some(rest.split_whitespace().next()?.to_string())
            });
        found.is_some()
    });
    assert!(logged, "no `serving metrics` line\n{}", p.dump());
    found.unwrap()
}

threads_tests! {
    fn port_zero_serves_counters_404_and_405() {
        let (ep, _) = endpoint();
        let broker = Proc::start(
            "zbroker",
            &[
                "mdp",
                "--bind",
                &ep,
                "--heartbeat-ms",
                HB,
                "--metrics",
                "127.0.0.1:0",
            ],
        );
        let addr = logged_metrics_addr(&broker);
        assert!(!addr.ends_with(":0"), "{addr}");

        let (status, head, body) = http(&addr, "GET", "/metrics");
        assert_eq!(status, 200, "{head}\n{body}");
        let head_lc = head.to_ascii_lowercase();
        assert!(
            head_lc.contains("content-type: application/openmetrics-text; version=1.0.0; charset=utf-8"),
            "{head}"
        );
        assert!(body.trim_end().ends_with("# EOF"), "{body}");
        assert!(body.contains("# TYPE zgreen_messages_in counter"), "{body}");

        let mut worker = mdp_worker(&ep, "echo", &["--heartbeat-ms", HB, "--metrics", "127.0.0.1:0"]);
        // The worker's own endpoint answers too.
        let worker_addr = logged_metrics_addr(&worker);
        assert_eq!(http(&worker_addr, "GET", "/metrics").0, 200, "{}", worker.dump());
        assert!(wait_until(Duration::from_secs(10), || {
            scrape(&addr)
                .ok()
                .and_then(|t| metric(&t, "zgreen_live_workers", "service=\"echo\""))
                == Some(1.0)
        }));

        let args = mdp_echo_args(&ep, "10", "2", "2000", "2");
        let (code, summary, client) = run_client(&args, Duration::from_secs(60));
        assert_eq!(code, 0, "{}\n{}", client.dump(), broker.dump());
        assert_eq!(field(&summary, "received"), 10, "{summary}");

        let text = scrape(&addr).unwrap();
        // READY, heartbeats and ten requests in; ten replies and heartbeats out.
        let got_in = metric(&text, "zgreen_messages_in_total", "socket=\"router\"").unwrap_or(0.0);
        let got_out = metric(&text, "zgreen_messages_out_total", "socket=\"router\"").unwrap_or(0.0);
        assert!(got_in >= 21.0, "messages in {got_in}\n{text}");
        assert!(got_out >= 10.0, "messages out {got_out}\n{text}");

        let (status, _, _) = http(&addr, "GET", "/");
        assert_eq!(status, 404);
        let (status, _, _) = http(&addr, "GET", "/metrics/extra");
        assert_eq!(status, 404);
        let (status, head, _) = http(&addr, "POST", "/metrics");
        assert_eq!(status, 405, "{head}");
        assert!(head.to_ascii_lowercase().contains("allow: get, head"), "{head}");
        let (status, _, body) = http(&addr, "HEAD", "/metrics");
        assert_eq!((status, body.as_str()), (200, ""));
        worker.kill();
    }
}

threads_tests! {
    fn stalled_metrics_clients_do_not_block_the_broker() {
        let broker = Broker::start(&["--heartbeat-ms", HB]);
        let _worker = mdp_worker(&broker.endpoint, "echo", &["--heartbeat-ms", HB]);
        assert!(broker.wait_workers("echo", 1, Duration::from_secs(10)));

        // One client sends half a request head and stalls; another connects
        // and sends nothing.
        let mut slow = TcpStream::connect(&broker.metrics).unwrap();
        slow.write_all(b"GET /metr").unwrap();
        let mut idle = TcpStream::connect(&broker.metrics).unwrap();
        let held = Instant::now();

        // ZeroMQ traffic and other scrapes go on meanwhile.
        let args = mdp_echo_args(&broker.endpoint, "20", "2", "2000", "2");
        let (code, summary, client) = run_client(&args, Duration::from_secs(30));
        assert_eq!(code, 0, "{}\n{}", client.dump(), broker.proc.dump());
        assert_eq!(field(&summary, "received"), 20, "{summary}");
        let t = Instant::now();
        let text = scrape(&broker.metrics).expect("a scrape while two clients stall");
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
        assert!(
            metric(&text, "zgreen_live_workers", "service=\"echo\"") == Some(1.0),
            "{text}"
        );
        assert!(
            held.elapsed() < Duration::from_secs(5),
            "the check ran past the header timeout"
        );

        // The header timeout (5 s) cuts both off: 408 for the partial head,
        // a plain close for the silent one.
        for (conn, want) in [(&mut slow, "HTTP/1.1 408"), (&mut idle, "")] {
            conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut out = String::new();
            conn.read_to_string(&mut out).expect("closed by the server");
            assert!(out.starts_with(want), "{out:?}");
        }
        let waited = held.elapsed();
        assert!(
            waited >= Duration::from_millis(4500) && waited < Duration::from_secs(9),
            "cut off after {waited:?}"
        );
        assert!(broker.proc.log().contains("mdp broker listening"));
    }
}
