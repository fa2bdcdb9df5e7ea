//! The routing of `zbroker mdp --threads N` without sockets: a
//! [`FrontEnd`] feeding [`Shard`]s through real bounded `zgreen::chan`
//! queues, pumped by hand.

use std::time::Instant;

use zgreen::chan::{self, Receiver};
use zgreen_brokers::frames::Frames;
use zgreen_brokers::io::Inbound;
use zgreen_brokers::mdp_broker::{Broker, Config};
use zgreen_brokers::mdp_shards::{FromShard, FrontEnd, Shard, ToShard, shard_of};
use zgreen_brokers::metrics::Metrics;

const SHARDS: usize = 2;

fn inbound(frames: &[&[u8]]) -> Inbound {
    Inbound {
        frames: frames.iter().map(|f| f.to_vec()).collect(),
        error: None,
        user_id: None,
    }
}

fn frames(v: &[&[u8]]) -> Frames {
    v.iter().map(|f| f.to_vec()).collect()
}

/// A name of the form `{prefix}{n}` that lives on `shard`.
fn name_on(prefix: &str, shard: usize) -> Vec<u8> {
    (0..1000)
        .map(|n| format!("{prefix}{n}").into_bytes())
        .find(|s| shard_of(s, SHARDS) == shard)
        .expect("a name on every shard")
}

struct Rig {
    front: FrontEnd,
    rxs: Vec<Receiver<ToShard>>,
    shards: Vec<Shard>,
    /// Each shard's messages handled, in order: (shard, frames).
    seen: Vec<(usize, Frames)>,
}

impl Rig {
    fn new(capacity: usize) -> Rig {
        let (txs, rxs): (Vec<_>, Vec<_>) = (0..SHARDS).map(|_| chan::bounded::<ToShard>(capacity)).unzip();
        let shards = (0..SHARDS)
            .map(|i| Shard::new(i, Broker::new(Config::default(), Instant::now(), None)))
            .collect();
        Rig {
            front: FrontEnd::new(txs, None),
            rxs,
            shards,
            seen: Vec::new(),
        }
    }

    fn send(&mut self, f: &[&[u8]]) {
        self.front.forward(inbound(f)).expect("shards alive");
    }

    /// Delivers every queued message to its shard, and every shard's
    /// output to the front-end; returns the frames to send on the ROUTER.
    fn pump(&mut self) -> Vec<(usize, Frames)> {
        let mut sent = Vec::new();
        loop {
            let mut out = Vec::new();
            for (i, rx) in self.rxs.iter().enumerate() {
                while let Ok(m) = rx.try_recv() {
                    if let ToShard::Inbound { frames, .. } = &m {
                        self.seen.push((i, frames.clone()));
                    }
                    self.shards[i].handle(Instant::now(), m, &mut out);
                }
            }
            if out.is_empty() {
                return sent;
            }
            for o in out {
                match o {
                    FromShard::Send { shard, frames } => sent.push((shard, frames)),
                    FromShard::Forget { shard, worker, seq } => self.front.forget(&worker, shard, seq),
                }
            }
        }
    }
}

#[test]
fn shard_of_is_stable_and_in_range() {
    assert_eq!(shard_of(b"echo", 4), shard_of(b"echo", 4));
    for n in 1..8 {
        assert!(shard_of(b"anything", n) < n);
    }
    assert_eq!(shard_of(b"echo", 1), 0);
    // FNV-1a of "a" is 0xaf63dc4c8601ec8c.
    assert_eq!(shard_of(b"a", 1000), (0xaf63_dc4c_8601_ec8c_u64 % 1000) as usize);
}

#[test]
fn a_workers_commands_reach_the_shard_of_its_service() {
    let mut rig = Rig::new(16);
    let service = name_on("svc", 1);
    // A worker whose own identity hashes to the other shard: only the
    // READY can tell the front-end where it lives.
    let worker = name_on("worker", 0);
    rig.send(&[&worker, b"", b"MDPW01", &[0x01], &service]);
    rig.pump();
    assert_eq!(rig.front.routes().worker_shard(&worker), Some(1));
    assert_eq!(rig.shards[1].broker.workers_for(&service), 1);

    let client = name_on("client", 0);
    rig.send(&[&client, b"", b"MDPC01", &service, b"ping"]);
    let out = rig.pump();
    assert_eq!(
        out,
        vec![(
            1,
            frames(&[&worker, b"", b"MDPW01", &[0x02], &client, b"", b"ping"])
        )]
    );
    rig.send(&[&worker, b"", b"MDPW01", &[0x04]]);
    rig.send(&[&worker, b"", b"MDPW01", &[0x03], &client, b"", b"pong"]);
    let out = rig.pump();
    assert_eq!(
        out,
        vec![(1, frames(&[&client, b"", b"MDPC01", &service, b"pong"]))]
    );
    assert!(rig.seen.iter().all(|(shard, _)| *shard == 1), "{:?}", rig.seen);
    assert_eq!(rig.shards[0].broker.counters.dropped, 0);

    // DISCONNECT: the shard forgets the worker and so does the front-end.
    rig.send(&[&worker, b"", b"MDPW01", &[0x05]]);
    rig.pump();
    assert_eq!(rig.shards[1].broker.worker_total(), 0);
    assert_eq!(rig.front.routes().worker_shard(&worker), None);
    assert_eq!(rig.front.routes().mapped(), 0);
}

#[test]
fn a_second_ready_goes_to_the_workers_shard_and_is_refused_there() {
    let mut rig = Rig::new(16);
    let (a, b) = (name_on("svc", 0), name_on("svc", 1));
    let worker = b"w".to_vec();
    rig.send(&[&worker, b"", b"MDPW01", &[0x01], &a]);
    rig.pump();
    // READY for a service of the other shard: still the worker's shard,
    // which answers a duplicate READY with DISCONNECT, as one broker does.
    rig.send(&[&worker, b"", b"MDPW01", &[0x01], &b]);
    let out = rig.pump();
    assert_eq!(out, vec![(0, frames(&[&worker, b"", b"MDPW01", &[0x05]]))]);
    assert_eq!(rig.shards[1].broker.worker_total(), 0);
    assert_eq!(rig.front.routes().mapped(), 0);
    // It registers afresh on the right shard.
    rig.send(&[&worker, b"", b"MDPW01", &[0x01], &b]);
    rig.pump();
    assert_eq!(rig.front.routes().worker_shard(&worker), Some(1));
    assert_eq!(rig.shards[1].broker.workers_for(&b), 1);
}

#[test]
fn a_forget_older_than_a_new_ready_keeps_the_mapping() {
    let mut rig = Rig::new(16);
    let service = name_on("svc", 1);
    let worker = b"w".to_vec();
    rig.send(&[&worker, b"", b"MDPW01", &[0x01], &service]);
    rig.pump();
    // The shard forgot the worker after its first message, but a READY
    // (message 3) was forwarded meanwhile: the mapping stays.
    rig.send(&[&worker, b"", b"MDPW01", &[0x05]]);
    rig.send(&[&worker, b"", b"MDPW01", &[0x01], &service]);
    rig.front.forget(&worker, 1, 1);
    assert_eq!(rig.front.routes().worker_shard(&worker), Some(1));
    rig.pump();
    assert_eq!(rig.shards[1].broker.workers_for(&service), 1);
    assert_eq!(rig.front.routes().worker_shard(&worker), Some(1));
}

#[test]
fn mmi_answers_for_a_service_on_another_shard() {
    let mut rig = Rig::new(16);
    let mmi_shard = shard_of(b"mmi.service", SHARDS);
    let other = 1 - mmi_shard;
    let service = name_on("svc", other);
    rig.send(&[b"w", b"", b"MDPW01", &[0x01], &service]);
    rig.pump();
    rig.send(&[b"c", b"", b"MDPC01", b"mmi.service", &service]);
    assert_eq!(
        rig.pump(),
        vec![(other, frames(&[b"c", b"", b"MDPC01", b"mmi.service", b"200"]))]
    );
    rig.send(&[b"c", b"", b"MDPC01", b"mmi.service", b"nobody"]);
    let out = rig.pump();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].1, frames(&[b"c", b"", b"MDPC01", b"mmi.service", b"404"]));
    rig.send(&[b"c", b"", b"MDPC01", b"mmi.foo"]);
    let out = rig.pump();
    assert_eq!(out[0].1, frames(&[b"c", b"", b"MDPC01", b"mmi.foo", b"501"]));
}

#[test]
fn malformed_and_unknown_messages_are_dropped_and_counted_by_a_shard() {
    let mut rig = Rig::new(16);
    rig.send(&[b"peer", b"", b"MDPX01", b"echo"]);
    rig.send(&[b"peer", b"", b"MDPW01", &[0x04]]);
    let out = rig.pump();
    // The unknown worker is told to DISCONNECT.
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].1, frames(&[b"peer", b"", b"MDPW01", &[0x05]]));
    let dropped: u64 = rig.shards.iter().map(|s| s.broker.counters.dropped).sum();
    assert_eq!(dropped, 2);
    assert_eq!(rig.front.routes().mapped(), 0);
}

#[test]
fn a_full_shard_queue_is_counted_not_waited_for() {
    let (tx, rx) = chan::bounded::<ToShard>(1);
    let (tx2, _rx2) = chan::bounded::<ToShard>(1);
    let metrics = Metrics::new();
    let mut front = FrontEnd::new(vec![tx, tx2], Some(metrics.clone()));
    let service = name_on("svc", 0);
    let t = Instant::now();
    for _ in 0..3 {
        front
            .forward(inbound(&[b"c", b"", b"MDPC01", &service, b"x"]))
            .expect("never blocks, never fails");
    }
    assert!(t.elapsed().as_secs() < 1);
    assert_eq!(front.counters.forwarded, 1);
    assert_eq!(front.counters.shard_full, 2);
    assert_eq!(rx.len(), 1);
    let text = metrics.render();
    assert!(
        text.contains("zgreen_dropped_messages_total{reason=\"shard_queue_full\"} 2"),
        "{text}"
    );
    // A READY that was dropped maps nothing.
    front
        .forward(inbound(&[b"w", b"", b"MDPW01", &[0x01], &service]))
        .unwrap();
    assert_eq!(front.routes().mapped(), 0);
    // A shard that is gone is an error, not a hang.
    drop(rx);
    assert!(
        front
            .forward(inbound(&[b"c", b"", b"MDPC01", &service, b"x"]))
            .is_err()
    );
}
