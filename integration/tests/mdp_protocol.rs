//! `zbroker mdp` spoken to by raw ZeroMQ sockets: the golden exchange byte
//! for byte, 8/MMI, and every kind of malformed input (dropped, counted,
//! logged, and the broker keeps serving a good client).

use std::time::Duration;

use zgreen_integration::*;

mod common;
use common::expect_metric;

const HB: &str = "200";

fn frames(v: &[&[u8]]) -> Vec<Vec<u8>> {
    v.iter().map(|f| f.to_vec()).collect()
}

threads_tests! {
    fn golden_exchange_byte_for_byte() {
        let broker = Broker::start(&["--heartbeat-ms", HB]);
        let ctx = zmq::Context::new();
        let worker = raw_socket(&ctx, zmq::DEALER, &broker.endpoint, Some(b"worker-1"));
        worker
            .send_multipart([&b""[..], b"MDPW01", &[0x01], b"echo"], 0)
            .unwrap();
        assert!(
            broker.wait_workers("echo", 1, Duration::from_secs(5)),
            "{}",
            broker.proc.dump()
        );

        let client = raw_socket(&ctx, zmq::DEALER, &broker.endpoint, Some(b"client-1"));
        client
            .send_multipart([&b""[..], b"MDPC01", b"echo", b"hello", b"world"], 0)
            .unwrap();
        let req = recv_skip_heartbeats(&worker).expect("request");
        assert_eq!(
            req,
            frames(&[b"", b"MDPW01", &[0x02], b"client-1", b"", b"hello", b"world"])
        );

        worker
            .send_multipart(
                [&b""[..], b"MDPW01", &[0x03], b"client-1", b"", b"HELLO", b"WORLD"],
                0,
            )
            .unwrap();
        let reply = recv(&client).expect("reply");
        assert_eq!(reply, frames(&[b"", b"MDPC01", b"echo", b"HELLO", b"WORLD"]));

        // The broker heartbeats an idle worker: exactly `"" | MDPW01 | 0x04`.
        let hb = recv(&worker).expect("heartbeat");
        assert_eq!(hb, frames(&[b"", b"MDPW01", &[0x04]]));

        // A worker's DISCONNECT unregisters it.
        worker.send_multipart([&b""[..], b"MDPW01", &[0x05]], 0).unwrap();
        assert!(broker.wait_workers("echo", 0, Duration::from_secs(5)));
    }
}

threads_tests! {
    fn mmi_200_404_501() {
        let broker = Broker::start(&["--heartbeat-ms", HB]);
        let _w = mdp_worker(&broker.endpoint, "echo", &["--heartbeat-ms", HB]);
        broker.expect_workers("echo", 1);
        let ctx = zmq::Context::new();
        // (service, request body, the reply's last frame); the last one: the
        // real service answers too.
        let cases: [(&[u8], &[u8], &[u8]); 4] = [
            (b"mmi.service", b"echo", b"200"),
            (b"mmi.service", b"nothing", b"404"),
            (b"mmi.foo", b"echo", b"501"),
            (b"echo", b"ping", b"ping"),
        ];
        for (svc, body, answer) in cases {
            let reply = mdp_call(&ctx, &broker.endpoint, svc, &[body]).expect("mmi reply");
            assert_eq!(reply, frames(&[b"", b"MDPC01", svc, answer]));
        }
    }
}

threads_tests! {
    /// One malformed message per case; after each, the broker still serves a
    /// good client, its counter for the reason went up by one and its log
    /// names the drop.
    fn malformed_input_is_dropped_counted_logged_and_harmless() {
        let broker = Broker::start(&[
            "--heartbeat-ms",
            HB,
            "--max-frame-bytes",
            "1024",
            "--max-frames",
            "10",
        ]);
        let _w = mdp_worker(&broker.endpoint, "echo", &["--heartbeat-ms", HB]);
        broker.expect_workers("echo", 1);
        let ctx = zmq::Context::new();
        let big = vec![b'x'; 2048];
        let cases: Vec<(&str, Vec<Vec<u8>>)> = vec![
            ("too_few_frames", frames(&[b""])),
            ("too_few_frames", frames(&[b"", b"MDPC01"])),
            ("wrong_header", frames(&[b"", b"MDPX01", b"echo", b"x"])),
            ("missing_delimiter", frames(&[b"junk", b"MDPC01", b"echo", b"x"])),
            ("unknown_command", frames(&[b"", b"MDPW01", &[0x07]])),
            ("bad_command_frame", frames(&[b"", b"MDPW01", b"READY", b"echo"])),
            (
                "reserved_service",
                frames(&[b"", b"MDPW01", &[0x01], b"mmi.service"]),
            ),
            (
                "frame_too_large",
                vec![b"".to_vec(), b"MDPC01".to_vec(), b"echo".to_vec(), big.clone()],
            ),
            (
                "too_many_frames",
                frames(&[
                    b"", b"MDPC01", b"echo", b"1", b"2", b"3", b"4", b"5", b"6", b"7", b"8",
                ]),
            ),
            ("unknown_worker", frames(&[b"", b"MDPW01", &[0x04]])),
        ];
        let mut expected: std::collections::HashMap<&str, f64> = Default::default();
        for (reason, msg) in &cases {
            let bad = raw_socket(&ctx, zmq::DEALER, &broker.endpoint, None);
            bad.send_multipart(msg, 0).unwrap();
            *expected.entry(reason).or_default() += 1.0;
            let want = expected[reason];
            let labels = format!("reason=\"{reason}\"");
            expect_metric(
                &broker,
                "zgreen_dropped_messages_total",
                &labels,
                want,
                &format!("{reason}: not counted"),
            );
            if *reason == "reserved_service" || *reason == "unknown_worker" {
                // A worker that broke the rules is told to go away.
                let m = recv_skip_heartbeats(&bad).expect("DISCONNECT");
                assert_eq!(m, frames(&[b"", b"MDPW01", &[0x05]]), "{reason}");
            }
            let reply = mdp_call(&ctx, &broker.endpoint, b"echo", &[b"still-there"]);
            assert_eq!(
                reply,
                Some(frames(&[b"", b"MDPC01", b"echo", b"still-there"])),
                "after {reason}"
            );
        }
        let log = broker.proc.log();
        for (reason, _) in &cases {
            assert!(
                log.contains(&format!("reason=\"{reason}\"")),
                "log lacks {reason}\n{log}"
            );
        }
        assert!(broker.proc.log().contains("dropped message"));
    }
}

threads_tests! {
    fn second_ready_gets_disconnect_and_the_worker_is_forgotten() {
        let broker = Broker::start(&["--heartbeat-ms", HB]);
        let ctx = zmq::Context::new();
        let w = raw_socket(&ctx, zmq::DEALER, &broker.endpoint, Some(b"twice"));
        w.send_multipart([&b""[..], b"MDPW01", &[0x01], b"echo"], 0)
            .unwrap();
        assert!(broker.wait_workers("echo", 1, Duration::from_secs(5)));
        w.send_multipart([&b""[..], b"MDPW01", &[0x01], b"echo"], 0)
            .unwrap();
        let m = recv_skip_heartbeats(&w).expect("DISCONNECT");
        assert_eq!(m, frames(&[b"", b"MDPW01", &[0x05]]));
        assert!(broker.wait_workers("echo", 0, Duration::from_secs(5)));
        expect_metric(
            &broker,
            "zgreen_dropped_messages_total",
            "reason=\"duplicate_ready\"",
            1.0,
            "a second READY",
        );
    }
}

/// A raw DEALER client of `broker` that has sent one request, `q`, to
/// `service`, which no worker serves yet, and waited until the broker's
/// metric `name` with `labels` counts it.
fn unserved_request(
    ctx: &zmq::Context,
    broker: &Broker,
    service: &str,
    name: &str,
    labels: &str,
) -> zmq::Socket {
    let client = raw_socket(ctx, zmq::DEALER, &broker.endpoint, None);
    client
        .send_multipart([&b""[..], b"MDPC01", service.as_bytes(), b"q"], 0)
        .unwrap();
    expect_metric(broker, name, labels, 1.0, &format!("a request to {service}"));
    client
}

threads_tests! {
    fn request_without_worker_is_queued_then_served() {
        let broker = Broker::start(&["--heartbeat-ms", HB]);
        let ctx = zmq::Context::new();
        let client = unserved_request(&ctx, &broker, "late", "zgreen_queue_depth", "service=\"late\"");
        let _w = mdp_worker(&broker.endpoint, "late", &["--heartbeat-ms", HB]);
        assert_eq!(recv(&client), Some(frames(&[b"", b"MDPC01", b"late", b"q"])));
    }
}

threads_tests! {
    fn queued_requests_expire() {
        let broker = Broker::start(&["--heartbeat-ms", "100", "--request-ttl-ms", "300"]);
        let ctx = zmq::Context::new();
        let _client = unserved_request(&ctx, &broker, "nobody", "zgreen_requests_expired_total", "");
    }
}
