//! Codec tests: builders and parsers agree, byte for byte, for every
//! message of 7/MDP, 8/MMI, 6/PPP and the lb broker; property tests show
//! that no parser panics on arbitrary frames.

use proptest::prelude::*;
use zgreen_brokers::frames::{Limits, Malformed};
use zgreen_brokers::mdp::{self, BrokerInbound, WorkerCommand, WorkerInbound};
use zgreen_brokers::{lb, ppp};

fn with_peer(peer: &[u8], mut frames: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    frames.insert(0, peer.to_vec());
    frames
}

#[test]
fn mdp_wire_bytes_match_the_rfc() {
    assert_eq!(
        mdp::client_request(b"echo", &[b"hi"]),
        vec![b"".to_vec(), b"MDPC01".to_vec(), b"echo".to_vec(), b"hi".to_vec()]
    );
    assert_eq!(
        mdp::ready(b"echo"),
        vec![b"".to_vec(), b"MDPW01".to_vec(), vec![0x01], b"echo".to_vec()]
    );
    assert_eq!(
        mdp::request_to_worker(b"W", b"C", &[b"x"]),
        vec![
            b"W".to_vec(),
            b"".to_vec(),
            b"MDPW01".to_vec(),
            vec![0x02],
            b"C".to_vec(),
            b"".to_vec(),
            b"x".to_vec()
        ]
    );
    assert_eq!(
        mdp::reply(b"C", &[b"x"]),
        vec![
            b"".to_vec(),
            b"MDPW01".to_vec(),
            vec![0x03],
            b"C".to_vec(),
            b"".to_vec(),
            b"x".to_vec()
        ]
    );
    assert_eq!(
        mdp::worker_signal(mdp::HEARTBEAT),
        vec![b"".to_vec(), b"MDPW01".to_vec(), vec![0x04]]
    );
    assert_eq!(
        mdp::worker_signal(mdp::DISCONNECT),
        vec![b"".to_vec(), b"MDPW01".to_vec(), vec![0x05]]
    );
    assert_eq!(
        mdp::client_reply(b"C", b"echo", &[b"x"]),
        vec![
            b"C".to_vec(),
            b"".to_vec(),
            b"MDPC01".to_vec(),
            b"echo".to_vec(),
            b"x".to_vec()
        ]
    );
}

#[test]
fn mdp_round_trips() {
    let l = Limits::default();
    let req = with_peer(b"client", mdp::client_request(b"echo", &[b"a", b"b"]));
    assert_eq!(
        mdp::parse_broker_inbound(&req, &l),
        Ok(BrokerInbound::Request {
            client: b"client".to_vec(),
            service: b"echo".to_vec(),
            body: vec![b"a".to_vec(), b"b".to_vec()],
        })
    );
    let ready = with_peer(b"w", mdp::ready(b"echo"));
    assert_eq!(
        mdp::parse_broker_inbound(&ready, &l),
        Ok(BrokerInbound::Worker {
            worker: b"w".to_vec(),
            command: WorkerCommand::Ready {
                service: b"echo".to_vec()
            },
        })
    );
    let reply = with_peer(b"w", mdp::reply(b"client", &[b"r"]));
    assert_eq!(
        mdp::parse_broker_inbound(&reply, &l),
        Ok(BrokerInbound::Worker {
            worker: b"w".to_vec(),
            command: WorkerCommand::Reply {
                client: b"client".to_vec(),
                body: vec![b"r".to_vec()],
            },
        })
    );
    // What the worker's DEALER receives is the REQUEST minus the identity.
    let to_worker = mdp::request_to_worker(b"w", b"client", &[b"q"]);
    assert_eq!(
        mdp::parse_worker_inbound(&to_worker[1..], &l),
        Ok(WorkerInbound::Request {
            client: b"client".to_vec(),
            body: vec![b"q".to_vec()],
        })
    );
    let to_client = mdp::client_reply(b"client", b"echo", &[b"r"]);
    let parsed = mdp::parse_client_reply(&to_client[1..], &l).unwrap();
    assert_eq!(
        (parsed.service, parsed.body),
        (b"echo".to_vec(), vec![b"r".to_vec()])
    );
}

#[test]
fn mmi_answers() {
    let registered = |name: &[u8]| name == b"echo";
    assert_eq!(
        mdp::mmi_answer(b"mmi.service", &[b"echo".to_vec()], registered),
        b"200"
    );
    assert_eq!(
        mdp::mmi_answer(b"mmi.service", &[b"nope".to_vec()], registered),
        b"404"
    );
    assert_eq!(mdp::mmi_answer(b"mmi.service", &[], registered), b"404");
    assert_eq!(
        mdp::mmi_answer(b"mmi.echo", &[b"echo".to_vec()], registered),
        b"501"
    );
    assert!(mdp::is_mmi(b"mmi.anything") && !mdp::is_mmi(b"echo"));
}

#[test]
fn limits_are_checked_first() {
    let l = Limits {
        max_frames: 5,
        max_frame_bytes: 8,
    };
    let many = with_peer(b"c", mdp::client_request(b"echo", &[b"1", b"2"]));
    assert_eq!(
        mdp::parse_broker_inbound(&many, &l),
        Err(Malformed::TooManyFrames { got: 6, max: 5 })
    );
    let big = with_peer(b"c", mdp::client_request(b"echo", &[b"123456789"]));
    assert_eq!(
        mdp::parse_broker_inbound(&big, &l),
        Err(Malformed::FrameTooLarge {
            index: 4,
            bytes: 9,
            max: 8
        })
    );
}

#[test]
fn ppp_and_lb_round_trips() {
    let l = Limits::default();
    assert_eq!(ppp::signal(ppp::READY), vec![vec![0x01]]);
    assert_eq!(ppp::heartbeat_to(b"w"), vec![b"w".to_vec(), vec![0x02]]);
    let req = ppp::request_to(b"w", b"c", &[b"x"]);
    assert_eq!(
        ppp::parse_worker_inbound(&req[1..], &l),
        Ok(ppp::WorkerInbound::Request {
            client: b"c".to_vec(),
            body: vec![b"x".to_vec()],
        })
    );
    let reply = with_peer(b"w", ppp::reply(b"c", &[b"x"]));
    assert_eq!(
        ppp::parse_queue_inbound(&reply, &l),
        Ok(ppp::QueueInbound::Reply {
            worker: b"w".to_vec(),
            client: b"c".to_vec(),
            body: vec![b"x".to_vec()],
        })
    );
    let to_worker = lb::request_to(b"w", b"c", &[b"x"]);
    // The worker's REQ strips the outer delimiter.
    assert_eq!(
        lb::parse_worker_request(&to_worker[2..], &l),
        Ok((b"c".to_vec(), vec![b"x".to_vec()]))
    );
    let back = vec![b"w".to_vec(), vec![], b"c".to_vec(), vec![], b"y".to_vec()];
    assert_eq!(
        lb::parse_backend(&back, &l),
        Ok(lb::BackendInbound::Reply {
            worker: b"w".to_vec(),
            client: b"c".to_vec(),
            body: vec![b"y".to_vec()],
        })
    );
}

/// Frames biased towards the interesting values (headers, command bytes,
/// empty frames) so the parsers' deeper branches are reached.
fn frame() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(Vec::new()),
        Just(b"MDPC01".to_vec()),
        Just(b"MDPW01".to_vec()),
        Just(b"mmi.service".to_vec()),
        (0u8..8).prop_map(|b| vec![b]),
        proptest::collection::vec(any::<u8>(), 0..40),
    ]
}

fn frames() -> impl Strategy<Value = Vec<Vec<u8>>> {
    proptest::collection::vec(frame(), 0..12)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn parsers_never_panic(f in frames(), max_frames in 1usize..16, max_bytes in 0usize..64) {
        let l = Limits { max_frames, max_frame_bytes: max_bytes };
        for limits in [l, Limits::default()] {
            let _ = mdp::parse_broker_inbound(&f, &limits);
            let _ = mdp::parse_worker_inbound(&f, &limits);
            let _ = mdp::parse_client_reply(&f, &limits);
            let _ = ppp::parse_queue_inbound(&f, &limits);
            let _ = ppp::parse_worker_inbound(&f, &limits);
            let _ = ppp::parse_client_request(&f, &limits);
            let _ = lb::parse_backend(&f, &limits);
            let _ = lb::parse_worker_request(&f, &limits);
        }
    }

    #[test]
    fn accepted_messages_respect_the_limits(f in frames(), max_frames in 1usize..16, max_bytes in 0usize..64) {
        let l = Limits { max_frames, max_frame_bytes: max_bytes };
        if mdp::parse_broker_inbound(&f, &l).is_ok() {
            prop_assert!(f.len() <= max_frames);
            prop_assert!(f.iter().all(|x| x.len() <= max_bytes));
        }
    }

    #[test]
    fn client_requests_round_trip(
        peer in proptest::collection::vec(any::<u8>(), 1..20),
        service in proptest::collection::vec(any::<u8>(), 1..40),
        body in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..30), 0..6),
    ) {
        let msg = with_peer(&peer, mdp::client_request(&service, &body));
        let parsed = mdp::parse_broker_inbound(&msg, &Limits::default());
        prop_assert_eq!(parsed, Ok(BrokerInbound::Request { client: peer, service, body }));
    }

    #[test]
    fn replies_round_trip(
        client in proptest::collection::vec(any::<u8>(), 1..20),
        body in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..30), 0..6),
    ) {
        let msg = with_peer(b"w", mdp::reply(&client, &body));
        let parsed = mdp::parse_broker_inbound(&msg, &Limits::default());
        prop_assert_eq!(parsed, Ok(BrokerInbound::Worker {
            worker: b"w".to_vec(),
            command: WorkerCommand::Reply { client, body },
        }));
    }
}
