//! The MDP broker's state machine, driven without sockets: registration,
//! dispatch in LRU order, replies, MMI, DISCONNECT rules, heartbeats,
//! worker and request expiry, bounds; and a property test that arbitrary
//! message sequences never panic it.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use zgreen_brokers::frames::Frames;
use zgreen_brokers::mdp;
use zgreen_brokers::mdp_broker::{Broker, Config};

fn cfg() -> Config {
    Config {
        heartbeat: Duration::from_millis(100),
        liveness: 3,
        max_queue: 3,
        request_ttl: Duration::from_millis(500),
        max_services: 4,
        ..Config::default()
    }
}

fn peer(id: &[u8], frames: Frames) -> Frames {
    let mut f = vec![id.to_vec()];
    f.extend(frames);
    f
}

struct Harness {
    b: Broker,
    now: Instant,
    out: Vec<Frames>,
}

impl Harness {
    fn new() -> Harness {
        let now = Instant::now();
        Harness {
            b: Broker::new(cfg(), now, None),
            now,
            out: Vec::new(),
        }
    }
    /// Each of `workers` sends READY for service `echo`.
    fn ready_echo_workers(&mut self, workers: &[&[u8]]) {
        for w in workers {
            self.send(peer(w, mdp::ready(b"echo")));
        }
    }
    fn send(&mut self, frames: Frames) -> Vec<Frames> {
        self.b.handle(self.now, &frames, &mut self.out);
        std::mem::take(&mut self.out)
    }
    fn advance(&mut self, ms: u64) -> Vec<Frames> {
        self.now += Duration::from_millis(ms);
        self.b.tick(self.now, &mut self.out);
        std::mem::take(&mut self.out)
    }
}

#[test]
fn request_goes_to_the_least_recently_used_worker_and_back() {
    let mut h = Harness::new();
    assert!(h.send(peer(b"w1", mdp::ready(b"echo"))).is_empty());
    assert!(h.send(peer(b"w2", mdp::ready(b"echo"))).is_empty());
    assert_eq!(h.b.workers_for(b"echo"), 2);
    let out = h.send(peer(b"c1", mdp::client_request(b"echo", &[b"one"])));
    assert_eq!(out, vec![mdp::request_to_worker(b"w1", b"c1", &[b"one"])]);
    let out = h.send(peer(b"c2", mdp::client_request(b"echo", &[b"two"])));
    assert_eq!(out, vec![mdp::request_to_worker(b"w2", b"c2", &[b"two"])]);
    // No idle worker: queued.
    assert!(
        h.send(peer(b"c3", mdp::client_request(b"echo", &[b"three"])))
            .is_empty()
    );
    assert_eq!(h.b.queue_depth(b"echo"), 1);
    // w2 answers first and gets the queued request.
    let out = h.send(peer(b"w2", mdp::reply(b"c2", &[b"two"])));
    assert_eq!(
        out,
        vec![
            mdp::client_reply(b"c2", b"echo", &[b"two"]),
            mdp::request_to_worker(b"w2", b"c3", &[b"three"]),
        ]
    );
    assert_eq!(h.b.counters.replies, 1);
}

#[test]
fn mmi_service_200_404_501() {
    let mut h = Harness::new();
    h.send(peer(b"w1", mdp::ready(b"echo")));
    let ask =
        |h: &mut Harness, svc: &[u8], body: &[u8]| h.send(peer(b"c", mdp::client_request(svc, &[body])));
    assert_eq!(
        ask(&mut h, b"mmi.service", b"echo"),
        vec![mdp::client_reply(b"c", b"mmi.service", &[b"200"])]
    );
    assert_eq!(
        ask(&mut h, b"mmi.service", b"nope"),
        vec![mdp::client_reply(b"c", b"mmi.service", &[b"404"])]
    );
    assert_eq!(
        ask(&mut h, b"mmi.other", b"echo"),
        vec![mdp::client_reply(b"c", b"mmi.other", &[b"501"])]
    );
    assert_eq!(h.b.counters.mmi, 3);
}

#[test]
fn disconnect_rules() {
    let mut h = Harness::new();
    let disconnect = |w: &[u8]| mdp::signal_to_worker(w, mdp::DISCONNECT);
    // Unknown worker: HEARTBEAT and REPLY get DISCONNECT.
    assert_eq!(
        h.send(peer(b"x", mdp::worker_signal(mdp::HEARTBEAT))),
        vec![disconnect(b"x")]
    );
    assert_eq!(
        h.send(peer(b"x", mdp::reply(b"c", &[b"r"]))),
        vec![disconnect(b"x")]
    );
    // DISCONNECT from an unknown worker is ignored.
    assert!(h.send(peer(b"x", mdp::worker_signal(mdp::DISCONNECT))).is_empty());
    // A second READY: DISCONNECT, and the worker is forgotten.
    h.send(peer(b"w", mdp::ready(b"echo")));
    assert_eq!(h.send(peer(b"w", mdp::ready(b"echo"))), vec![disconnect(b"w")]);
    assert_eq!(h.b.workers_for(b"echo"), 0);
    // READY for mmi.*: dropped as malformed, and DISCONNECT.
    assert_eq!(
        h.send(peer(b"m", mdp::ready(b"mmi.service"))),
        vec![disconnect(b"m")]
    );
    assert_eq!(h.b.worker_total(), 0);
    assert_eq!(h.b.counters.dropped, 5 - 1); // the unknown DISCONNECT is not a drop
}

#[test]
fn malformed_messages_are_dropped_and_counted_without_output() {
    let mut h = Harness::new();
    for bad in [
        vec![b"c".to_vec()],
        vec![b"c".to_vec(), vec![], b"XXX".to_vec(), b"echo".to_vec()],
        vec![b"c".to_vec(), vec![], b"MDPW01".to_vec(), vec![0x09]],
        vec![
            b"c".to_vec(),
            b"not-empty".to_vec(),
            b"MDPC01".to_vec(),
            b"echo".to_vec(),
        ],
    ] {
        assert!(h.send(bad).is_empty());
    }
    assert_eq!(h.b.counters.dropped, 4);
}

#[test]
fn heartbeats_and_worker_expiry() {
    let mut h = Harness::new();
    h.ready_echo_workers(&[b"w1", b"w2"]);
    let out = h.advance(100);
    assert_eq!(out.len(), 2, "one heartbeat per worker");
    assert!(out.contains(&mdp::signal_to_worker(b"w1", mdp::HEARTBEAT)));
    // w2 keeps talking; w1 falls silent past liveness × interval.
    for _ in 0..3 {
        h.send(peer(b"w2", mdp::worker_signal(mdp::HEARTBEAT)));
        h.advance(100);
    }
    h.send(peer(b"w2", mdp::worker_signal(mdp::HEARTBEAT)));
    h.advance(100);
    assert_eq!(h.b.workers_for(b"echo"), 1);
    assert_eq!(h.b.counters.workers_expired, 1);
    // Requests now go to w2 only.
    let out = h.send(peer(b"c", mdp::client_request(b"echo", &[b"x"])));
    assert_eq!(out, vec![mdp::request_to_worker(b"w2", b"c", &[b"x"])]);
}

#[test]
fn queued_requests_are_bounded_and_expire() {
    let mut h = Harness::new();
    for i in 0..5u8 {
        h.send(peer(&[b'c', i], mdp::client_request(b"nobody", &[b"x"])));
    }
    assert_eq!(h.b.queue_depth(b"nobody"), 3);
    assert_eq!(h.b.counters.rejected, 2);
    h.advance(400);
    assert_eq!(h.b.queue_depth(b"nobody"), 3);
    h.advance(200);
    assert_eq!(h.b.queue_depth(b"nobody"), 0);
    assert_eq!(h.b.counters.expired, 3);
    // A worker arriving later gets nothing stale.
    assert!(h.send(peer(b"w", mdp::ready(b"nobody"))).is_empty());
}

#[test]
fn services_are_bounded() {
    let mut h = Harness::new();
    for i in 0..6u8 {
        h.send(peer(b"c", mdp::client_request(&[b's', i], &[b"x"])));
    }
    assert_eq!(h.b.counters.rejected, 2);
}

#[test]
fn unroutable_request_is_requeued_to_another_worker() {
    let mut h = Harness::new();
    h.ready_echo_workers(&[b"w1", b"w2"]);
    let out = h.send(peer(b"c", mdp::client_request(b"echo", &[b"x"])));
    assert_eq!(out.len(), 1);
    // The ROUTER could not deliver it to w1 (gone): w1 is forgotten and
    // the request goes to w2.
    let mut out = Vec::new();
    h.b.undeliverable(mdp::request_to_worker(b"w1", b"c", &[b"x"]), &mut out);
    assert_eq!(out, vec![mdp::request_to_worker(b"w2", b"c", &[b"x"])]);
    assert_eq!(h.b.workers_for(b"echo"), 1);
    assert_eq!(h.b.counters.requeued, 1);
}

#[test]
fn unsolicited_reply_is_dropped() {
    let mut h = Harness::new();
    h.send(peer(b"w", mdp::ready(b"echo")));
    assert!(h.send(peer(b"w", mdp::reply(b"c", &[b"r"]))).is_empty());
    assert_eq!(h.b.counters.dropped, 1);
    assert_eq!(h.b.workers_for(b"echo"), 1);
}

fn any_message() -> impl Strategy<Value = Frames> {
    let id = prop_oneof![Just(b"w1".to_vec()), Just(b"w2".to_vec()), Just(b"c1".to_vec())];
    let svc = prop_oneof![
        Just(b"echo".to_vec()),
        Just(b"mmi.service".to_vec()),
        Just(b"x".to_vec())
    ];
    let body = proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..4), 0..3);
    (
        id,
        svc,
        body,
        0u8..8,
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..8), 0..6),
    )
        .prop_map(|(id, svc, body, kind, junk)| {
            let mut f = match kind {
                0 => mdp::client_request(&svc, &body),
                1 => mdp::ready(&svc),
                2 => mdp::reply(b"c1", &body),
                3 => mdp::worker_signal(mdp::HEARTBEAT),
                4 => mdp::worker_signal(mdp::DISCONNECT),
                _ => junk,
            };
            f.insert(0, id);
            f
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn any_sequence_keeps_the_broker_consistent(
        msgs in proptest::collection::vec((any_message(), 0u64..150), 0..60),
    ) {
        let mut h = Harness::new();
        for (m, dt) in msgs {
            let out = h.send(m);
            for o in &out {
                prop_assert!(o.len() >= 4, "every outbound message is routed and has a header");
            }
            if dt > 100 {
                h.advance(dt);
            }
            prop_assert!(h.b.workers_for(b"echo") + h.b.workers_for(b"x") == h.b.worker_total());
            prop_assert!(h.b.queue_depth(b"echo") <= 3);
        }
    }
}
