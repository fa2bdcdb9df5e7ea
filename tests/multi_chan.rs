//! Green channels between hubs: many producers and consumers on several
//! threads, disconnection, timeouts, kills, plain threads, `wait`, and a
//! soak across two hubs with random timeouts and kills.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use zgreen::chan;
use zgreen::runtime::Runtime;
use zgreen::{Closed, Error, Tagged};
use zgreen::{TryRecvError, TrySendError};
use zgreen_harness::{Watchdog, ms};

mod common;
#[cfg(feature = "zmq")]
use common::zmq_pair_with_hwm;

const BOUND: Duration = Duration::from_secs(60);

#[test]
fn many_greenlets_on_several_threads_move_every_item_once() {
    let _w = Watchdog::arm(BOUND, "mpmc");
    const PRODUCERS: u64 = 3;
    const PER: u64 = 5_000;
    let (tx, rx) = chan::bounded::<u64>(8);
    let got = Arc::new(Mutex::new(Vec::new()));
    let mut threads = Vec::new();
    for p in 0..PRODUCERS {
        let tx = tx.clone();
        threads.push(thread::spawn(move || {
            // Two greenlets per producer thread share one sender.
            let halves: Vec<_> = (0..2u64)
                .map(|h| {
                    let tx = tx.clone();
                    zgreen::spawn(move || {
                        for i in (h..PER).step_by(2) {
                            tx.send(p * PER + i).unwrap();
                        }
                    })
                })
                .collect();
            for g in halves {
                g.join().unwrap();
            }
        }));
    }
    drop(tx);
    for _ in 0..2 {
        let rx = rx.clone();
        let got = got.clone();
        threads.push(thread::spawn(move || {
            let consumers: Vec<_> = (0..3)
                .map(|_| {
                    let (rx, got) = (rx.clone(), got.clone());
                    zgreen::spawn(move || {
                        let mut mine = Vec::new();
                        for item in rx.iter() {
                            mine.push(item.unwrap());
                        }
                        got.lock().unwrap().extend(mine);
                    })
                })
                .collect();
            for g in consumers {
                g.join().unwrap();
            }
        }));
    }
    drop(rx);
    for t in threads {
        t.join().unwrap();
    }
    let mut got = got.lock().unwrap().clone();
    assert_eq!(got.len() as u64, PRODUCERS * PER, "no loss, no duplicate");
    got.sort_unstable();
    got.dedup();
    assert_eq!(got.len() as u64, PRODUCERS * PER);
}

#[test]
fn try_forms_hand_the_item_back() {
    let (tx, rx) = chan::bounded::<String>(1);
    assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));
    tx.try_send("a".into()).unwrap();
    let e = tx.try_send("b".into()).unwrap_err();
    assert!(e.is_full());
    assert_eq!(e.into_inner(), "b");
    assert_eq!(rx.len(), 1);
    assert_eq!(rx.capacity(), Some(1));
    drop(rx);
    assert!(tx.is_disconnected());
    match tx.try_send("c".into()) {
        Err(TrySendError::Failed(s, Error::Closed(Closed::Disconnected))) => assert_eq!(s, "c"),
        other => panic!("{other:?}"),
    }
    let e = tx.send("d".into()).unwrap_err();
    assert!(e.is_disconnected());
    assert_eq!(e.into_inner(), "d");
}

#[test]
fn receivers_drain_every_item_after_the_senders_are_gone() {
    let _w = Watchdog::arm(BOUND, "drain");
    let (tx, rx) = chan::unbounded::<u32>();
    let t = thread::spawn(move || {
        for i in 0..100 {
            tx.send(i).unwrap();
        }
    });
    t.join().unwrap();
    assert!(rx.is_disconnected());
    let items: Vec<u32> = rx.iter().map(Result::unwrap).collect();
    assert_eq!(items, (0..100).collect::<Vec<_>>());
    assert!(matches!(
        rx.try_recv(),
        Err(TryRecvError::Failed(Error::Closed(Closed::Disconnected)))
    ));
    assert!(matches!(rx.recv(), Err(Error::Closed(Closed::Disconnected))));
}

#[test]
fn a_parked_receiver_wakes_when_the_last_sender_drops() {
    let _w = Watchdog::arm(BOUND, "wake on disconnect");
    let (tx, rx) = chan::bounded::<u32>(4);
    let waiter = zgreen::spawn(move || rx.recv());
    zgreen::sleep(ms(5)).unwrap();
    let t = thread::spawn(move || {
        thread::sleep(ms(20));
        drop(tx);
    });
    let r = waiter.get_timeout(Duration::from_secs(10)).unwrap();
    assert!(matches!(r, Err(Error::Closed(Closed::Disconnected))), "{r:?}");
    t.join().unwrap();
}

#[test]
fn a_parked_sender_wakes_when_the_last_receiver_drops_and_gets_its_item_back() {
    let _w = Watchdog::arm(BOUND, "sender wake");
    let (tx, rx) = chan::bounded::<u32>(1);
    tx.send(1).unwrap();
    let sender = zgreen::spawn(move || tx.send(2).map_err(|e| (e.is_disconnected(), e.into_inner())));
    zgreen::sleep(ms(5)).unwrap();
    let t = thread::spawn(move || {
        thread::sleep(ms(20));
        drop(rx);
    });
    assert_eq!(sender.take().unwrap(), Err((true, 2)));
    t.join().unwrap();
}

#[test]
fn timeouts_and_deadlines_fail_with_timeout_and_keep_the_item() {
    let (tx, rx) = chan::bounded::<u32>(1);
    let start = Instant::now();
    assert!(rx.recv_timeout(ms(30)).unwrap_err().is_timeout());
    assert!(start.elapsed() >= ms(25));
    assert!(rx.recv_deadline(Instant::now() + ms(5)).unwrap_err().is_timeout());
    tx.send(7).unwrap();
    let e = tx.send_timeout(8, ms(10)).unwrap_err();
    assert!(e.is_timeout());
    assert_eq!(e.into_inner(), 8);
    let e = tx.send_deadline(9, Instant::now() + ms(5)).unwrap_err();
    assert_eq!(*e.item(), 9);
    assert_eq!(rx.recv().unwrap(), 7);
    // An enclosing Timeout scope interrupts a wait too.
    let r = zgreen::with_timeout(ms(10), || rx.recv());
    assert!(matches!(r, Err(Error::Timeout(_))), "{r:?}");
}

#[test]
fn a_killed_receiver_passes_its_wakeup_on() {
    let _w = Watchdog::arm(BOUND, "pass on");
    let (tx, rx) = chan::bounded::<u32>(4);
    let first = {
        let rx = rx.clone();
        zgreen::spawn(move || rx.recv())
    };
    let second = {
        let rx = rx.clone();
        zgreen::spawn(move || rx.recv())
    };
    zgreen::sleep(ms(5)).unwrap();
    // The item arrives from another thread; the first waiter is killed
    // before it runs again: the item must reach the second one.
    let t = thread::spawn(move || tx.send(42).unwrap());
    t.join().unwrap();
    first.kill().unwrap();
    assert!(matches!(first.get().unwrap(), Err(Error::Killed)));
    assert_eq!(second.get_timeout(Duration::from_secs(10)).unwrap().unwrap(), 42);
}

#[test]
fn a_plain_thread_blocks_and_is_woken_by_a_greenlet() {
    let _w = Watchdog::arm(BOUND, "plain thread");
    let (tx, rx) = chan::bounded::<u32>(1);
    let (back_tx, back_rx) = chan::bounded::<u32>(1);
    // This thread never touches zgreen otherwise: no hub of its own.
    let plain = thread::spawn(move || {
        let mut sum = 0;
        for _ in 0..50 {
            let v = rx.recv().unwrap();
            back_tx.send(v + 1).unwrap();
            sum += v;
        }
        // The greenlet ends and drops the sender: the plain thread, parked
        // again, is woken by the disconnection.
        assert!(matches!(rx.recv(), Err(Error::Closed(Closed::Disconnected))));
        sum
    });
    let g = zgreen::spawn(move || {
        for i in 0..50 {
            tx.send(i).unwrap();
            assert_eq!(back_rx.recv().unwrap(), i + 1);
        }
    });
    g.join().unwrap();
    assert_eq!(plain.join().unwrap(), (0..50).sum::<u32>());
}

#[test]
fn wait_watches_a_channel_beside_an_event() {
    let _w = Watchdog::arm(BOUND, "wait");
    let (tx, rx) = chan::unbounded::<&str>();
    let never = zgreen::sync::Event::new();
    let t = thread::spawn(move || {
        thread::sleep(ms(20));
        tx.send("hello").unwrap();
        tx
    });
    let start = Instant::now();
    let ready = zgreen::wait_timeout(
        [
            Tagged("event", &never as &dyn zgreen::Waitable),
            Tagged("chan", &rx as &dyn zgreen::Waitable),
        ],
        ms(300),
    )
    .unwrap();
    // wait returns once everything is ready or at the timeout (the event
    // never is): iwait gives the first one instead.
    assert!(start.elapsed() >= ms(250));
    assert_eq!(ready.iter().map(|t| t.0).collect::<Vec<_>>(), ["chan"]);
    let first = zgreen::iwait([
        Tagged("event", &never as &dyn zgreen::Waitable),
        Tagged("chan", &rx),
    ])
    .next()
    .unwrap()
    .unwrap();
    assert_eq!(first.0, "chan");
    assert_eq!(rx.recv().unwrap(), "hello");
    // Repeated waits on a quiet channel do not pile up subscriptions.
    for _ in 0..200 {
        let r = zgreen::wait_timeout([&rx], Duration::from_micros(50)).unwrap();
        assert!(r.is_empty());
    }
    drop(t.join().unwrap());
    let r = zgreen::wait_timeout([&rx], Duration::from_secs(10)).unwrap();
    assert_eq!(r.len(), 1, "a disconnected channel is ready");
}

/// A small deterministic generator (xorshift), one per greenlet.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Kills three random greenlets of `batch` at random moments (under
/// 0.5 ms apart).
fn kill_some<T>(batch: &[zgreen::Greenlet<T>], mut rng: Rng) {
    for _ in 0..3 {
        zgreen::sleep(Duration::from_micros(rng.below(500))).unwrap();
        batch[rng.below(batch.len() as u64) as usize].kill_nowait();
    }
}

#[test]
fn soak_two_hubs_with_random_timeouts_and_kills_loses_nothing() {
    let _w = Watchdog::arm(Duration::from_secs(120), "soak");
    let rt = Runtime::builder().hubs(2).build().unwrap();
    let (tx, rx) = chan::bounded::<u64>(4);
    let sent = Arc::new(Mutex::new(HashSet::new()));
    let received = Arc::new(Mutex::new(Vec::new()));
    const PRODUCERS: u64 = 6;
    const CONSUMERS: u64 = 6;
    const ROUNDS: u64 = 20_000;
    // Producers on hub 0, consumers on hub 1; a killer on each hub kills
    // random workers, which are restarted until every round is done.
    let producers = {
        let (tx, sent) = (tx.clone(), sent.clone());
        rt.spawn_on(0, move || {
            let next = std::rc::Rc::new(std::cell::Cell::new(0u64));
            let mut rounds_left = PRODUCERS * ROUNDS;
            let mut seed = 1u64;
            while rounds_left > 0 {
                let batch: Vec<_> = (0..PRODUCERS)
                    .map(|p| {
                        let (tx, sent, next) = (tx.clone(), sent.clone(), next.clone());
                        seed += 7;
                        let mut rng = Rng(seed * 0x9E37_79B9 + p);
                        zgreen::spawn(move || {
                            for _ in 0..ROUNDS / 10 {
                                let id = next.get();
                                next.set(id + 1);
                                let r = if rng.below(3) == 0 {
                                    tx.send_timeout(id, Duration::from_micros(rng.below(300)))
                                } else {
                                    tx.send(id)
                                };
                                match r {
                                    Ok(()) => {
                                        sent.lock().unwrap().insert(id);
                                    }
                                    Err(e) if e.is_timeout() => assert_eq!(e.into_inner(), id),
                                    Err(e) => {
                                        assert!(matches!(e.error(), Error::Killed), "{e:?}");
                                        assert_eq!(e.into_inner(), id);
                                        return;
                                    }
                                }
                            }
                        })
                    })
                    .collect();
                kill_some(&batch, Rng(seed + 99));
                for g in &batch {
                    g.join().unwrap();
                }
                rounds_left = rounds_left.saturating_sub(PRODUCERS * ROUNDS / 10);
            }
        })
    };
    let consumers_done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let consumers = {
        let (rx, received, done) = (rx.clone(), received.clone(), consumers_done.clone());
        rt.spawn_on(1, move || {
            let mut seed = 5u64;
            loop {
                let batch: Vec<_> = (0..CONSUMERS)
                    .map(|c| {
                        let (rx, received) = (rx.clone(), received.clone());
                        seed += 11;
                        let mut rng = Rng(seed * 0x85EB_CA6B + c);
                        zgreen::spawn(move || {
                            for _ in 0..ROUNDS / 5 {
                                let r = if rng.below(3) == 0 {
                                    rx.recv_timeout(Duration::from_micros(rng.below(300)))
                                } else {
                                    rx.recv()
                                };
                                match r {
                                    Ok(id) => received.lock().unwrap().push(id),
                                    Err(Error::Timeout(_)) => {}
                                    Err(Error::Closed(Closed::Disconnected)) => return true,
                                    Err(Error::Killed) => return false,
                                    Err(e) => panic!("{e}"),
                                }
                            }
                            false
                        })
                    })
                    .collect();
                kill_some(&batch, Rng(seed + 3));
                let mut finished = false;
                for g in &batch {
                    finished |= g.get().unwrap_or(false);
                }
                if finished {
                    done.store(true, std::sync::atomic::Ordering::SeqCst);
                    return;
                }
            }
        })
    };
    drop((tx, rx));
    producers.join().unwrap();
    consumers.join().unwrap();
    assert!(consumers_done.load(std::sync::atomic::Ordering::SeqCst));
    let sent = sent.lock().unwrap();
    let received = received.lock().unwrap();
    let got: HashSet<u64> = received.iter().copied().collect();
    assert_eq!(got.len(), received.len(), "an item was received twice");
    assert!(sent.len() > 1_000, "the soak sent too little: {}", sent.len());
    let lost: Vec<_> = sent.difference(&got).take(10).collect();
    assert!(lost.is_empty(), "items sent but never received: {lost:?}");
    let phantom: Vec<_> = got.difference(&sent).take(10).collect();
    assert!(phantom.is_empty(), "items received but never sent: {phantom:?}");
    rt.shutdown().unwrap();
}

#[cfg(feature = "zmq")]
#[test]
fn iwait_over_a_channel_a_socket_and_an_event_together() {
    let _w = Watchdog::arm(BOUND, "iwait sockets");
    let ctx = zgreen::zmq::Context::new();
    let (a, b) = zmq_pair_with_hwm(&ctx, (zmq::PAIR, zmq::PAIR), "inproc://multi-iwait", 1000);
    let (tx, rx) = chan::bounded::<u32>(1);
    let ev = zgreen::sync::Event::new();
    // The channel is fed from another thread after 20 ms, the socket by a
    // greenlet after 40 ms, the event after 60 ms.
    let t = thread::spawn(move || {
        thread::sleep(ms(20));
        tx.send(1).unwrap();
        tx
    });
    let (a2, ev2) = (a.clone(), ev.clone());
    zgreen::spawn(move || {
        zgreen::sleep(ms(40)).unwrap();
        a2.send("m", 0).unwrap();
        zgreen::sleep(ms(20)).unwrap();
        ev2.set();
    });
    let readable = b.readable();
    let order: Vec<&str> = zgreen::iwait_timeout(
        [
            Tagged("event", &ev as &dyn zgreen::Waitable),
            Tagged("socket", &readable),
            Tagged("chan", &rx),
        ],
        Duration::from_secs(10),
    )
    .map(|r| r.unwrap().0)
    .collect();
    assert_eq!(order, ["chan", "socket", "event"]);
    assert_eq!(rx.recv().unwrap(), 1);
    assert_eq!(b.recv_bytes(0).unwrap(), b"m");
    drop(t.join().unwrap());
}

#[cfg(feature = "zmq")]
#[test]
fn a_killed_wait_on_a_socket_does_not_keep_the_message_from_its_receiver() {
    let _w = Watchdog::arm(BOUND, "pass on socket");
    let ctx = zgreen::zmq::Context::new();
    let (a, b) = zmq_pair_with_hwm(&ctx, (zmq::PAIR, zmq::PAIR), "inproc://multi-pass-on", 1000);
    // A wait subscribes first, a receiver queues behind it.
    let watcher = {
        let b = b.clone();
        zgreen::spawn(move || zgreen::wait([b.readable()]).map(|r| r.len()))
    };
    zgreen::sleep(ms(5)).unwrap();
    let receiver = {
        let b = b.clone();
        zgreen::spawn(move || b.recv_bytes(0))
    };
    zgreen::sleep(ms(5)).unwrap();
    a.send("only", 0).unwrap();
    // Let the edge arrive, then kill the watcher before it runs.
    std::thread::sleep(ms(20));
    watcher.kill_nowait();
    assert_eq!(
        receiver.get_timeout(Duration::from_secs(10)).unwrap().unwrap(),
        b"only"
    );
    assert!(matches!(watcher.get().unwrap(), Err(Error::Killed) | Ok(1)));
}

#[test]
fn a_greenlet_whose_sends_never_wait_still_lets_the_others_run() {
    let _w = Watchdog::arm(BOUND, "fairness");
    let (tx, rx) = chan::unbounded::<u32>();
    let ran = std::rc::Rc::new(std::cell::Cell::new(0u32));
    let other = {
        let ran = ran.clone();
        zgreen::spawn(move || {
            loop {
                ran.set(ran.get() + 1);
                if zgreen::sleep(Duration::ZERO).is_err() {
                    return;
                }
            }
        })
    };
    let ran_during = {
        let ran = ran.clone();
        zgreen::spawn(move || {
            let before = ran.get();
            for i in 0..100_000 {
                tx.send(i).unwrap();
            }
            ran.get() - before
        })
    };
    let turns = ran_during.get().unwrap();
    other.kill().unwrap();
    assert!(
        turns >= 50,
        "the other greenlet ran {turns} times during 100 000 sends"
    );
    assert_eq!(rx.len(), 100_000);
}
