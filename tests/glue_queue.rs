//! Queue behaviour, ported from gevent's `test__queue.py` (and Python's
//! `test_queue.py` for shutdown), plus property tests of ordering under
//! random put/get/timeout interleavings. Every test runs under a
//! `with_timeout`, so a stuck greenlet fails the test instead of hanging.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use zgreen::queue::{Channel, LifoQueue, PriorityQueue, Queue, ShutdownMode, TryGetError, TryPutError};
use zgreen::{Error, Result};
use zgreen_harness::ms;

mod common;
use common::{kill_parked_waiter, spawn_logging_waiters, spawn_parked, spawn_with};

const LIMIT: Duration = Duration::from_secs(10);

fn bounded(f: impl FnOnce() -> Result<()>) {
    common::bounded_by(LIMIT, f);
}

/// An unbounded queue holding `0..n`, in order.
fn queue_of(n: i32) -> Result<Queue<i32>> {
    let q = Queue::new();
    for i in 0..n {
        q.put(i)?;
    }
    Ok(q)
}

#[test]
fn fifo_order_and_len() {
    bounded(|| {
        let q = queue_of(5)?;
        assert_eq!(q.len(), 5);
        assert_eq!(q.peek(), Some(0));
        let got: Vec<i32> = (0..5).map(|_| q.get().unwrap()).collect();
        assert_eq!(got, [0, 1, 2, 3, 4]);
        assert!(q.is_empty());
        assert!(!q.is_full());
        Ok(())
    });
}

#[test]
fn lifo_and_priority_order() {
    bounded(|| {
        let l = LifoQueue::new();
        let p = PriorityQueue::new();
        for i in [3, 1, 4, 1, 5, 9, 2, 6] {
            l.put(i)?;
            p.put(i)?;
        }
        let lifo: Vec<i32> = (0..8).map(|_| l.get().unwrap()).collect();
        let prio: Vec<i32> = (0..8).map(|_| p.get().unwrap()).collect();
        assert_eq!(lifo, [6, 2, 9, 5, 1, 4, 1, 3]);
        assert_eq!(prio, [1, 1, 2, 3, 4, 5, 6, 9]);
        Ok(())
    });
}

#[test]
fn priority_queue_is_stable_for_equal_keys() {
    bounded(|| {
        let p = PriorityQueue::new();
        // Equal priorities: wrapped so that only the priority compares.
        #[derive(Debug)]
        struct ByPrio(u8, &'static str);
        impl PartialEq for ByPrio {
            fn eq(&self, o: &Self) -> bool {
                self.0 == o.0
            }
        }
        impl Eq for ByPrio {}
        impl PartialOrd for ByPrio {
            fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(o))
            }
        }
        impl Ord for ByPrio {
            fn cmp(&self, o: &Self) -> std::cmp::Ordering {
                self.0.cmp(&o.0)
            }
        }
        for (prio, name) in [(2, "a"), (1, "b"), (2, "c"), (1, "d")] {
            p.put(ByPrio(prio, name))?;
        }
        let names: Vec<&str> = (0..4).map(|_| p.get().unwrap().1).collect();
        assert_eq!(names, ["b", "d", "a", "c"]);
        Ok(())
    });
}

#[test]
fn nowait_errors_hand_the_item_back() {
    bounded(|| {
        let q = Queue::bounded(1);
        assert_eq!(q.try_get().unwrap_err(), TryGetError::Empty);
        q.try_put("a").unwrap();
        assert!(q.is_full());
        let err = q.try_put("b").unwrap_err();
        assert!(err.is_full());
        assert_eq!(err.to_string(), "the queue is full");
        assert_eq!(err.into_inner(), "b");
        assert_eq!(q.try_get().unwrap(), "a");
        Ok(())
    });
}

#[test]
fn get_blocks_until_put() {
    bounded(|| {
        let q = Queue::new();
        let getter = spawn_parked(&q, ms(10), move |q| q.get())?;
        assert!(!getter.ready());
        assert_eq!(q.waiting_getters(), 1);
        q.put(7)?;
        assert_eq!(getter.get()??, 7);
        Ok(())
    });
}

#[test]
fn put_blocks_while_full() {
    bounded(|| {
        let q = Queue::bounded(2);
        let putter = spawn_with(&q, move |q| -> Result<()> {
            for i in 0..4 {
                q.put(i)?;
            }
            Ok(())
        });
        zgreen::sleep(ms(10))?;
        assert_eq!(q.len(), 2);
        assert_eq!(q.waiting_putters(), 1);
        assert!(!putter.ready());
        assert_eq!(q.get()?, 0);
        // The freed room went to the waiting putter at once.
        assert_eq!(q.len(), 2);
        assert_eq!(q.get()?, 1);
        assert_eq!(q.get()?, 2);
        assert_eq!(q.get()?, 3);
        putter.get()??;
        Ok(())
    });
}

#[test]
fn get_timeout_is_gevents_empty() {
    bounded(|| {
        let q: Queue<u8> = Queue::new();
        let t0 = Instant::now();
        let err = q.get_timeout(ms(20)).unwrap_err();
        assert!(err.is_timeout(), "{err:?}");
        assert!(t0.elapsed() >= ms(20));
        assert_eq!(q.waiting_getters(), 0, "a timed-out getter leaves the line");
        Ok(())
    });
}

#[test]
fn put_timeout_hands_the_item_back() {
    bounded(|| {
        let q = Queue::bounded(1);
        q.put(String::from("kept"))?;
        let err = q.put_timeout(String::from("returned"), ms(10)).unwrap_err();
        assert!(err.is_timeout());
        assert_eq!(err.into_inner(), "returned");
        assert_eq!(q.waiting_putters(), 0);
        assert_eq!(q.get()?, "kept");
        Ok(())
    });
}

#[test]
fn getters_are_served_first_come_first_served() {
    bounded(|| {
        let q = Queue::new();
        let (getters, order) = spawn_logging_waiters(5, &q, Queue::get);
        zgreen::sleep(ms(5))?;
        for item in 0..5 {
            q.try_put(item * 10).unwrap();
        }
        // A newcomer that never waited cannot take an item from them.
        assert_eq!(q.try_get().unwrap_err(), TryGetError::Empty);
        zgreen::joinall(getters.iter())?;
        // Woken in the order they came, each with the item of its turn.
        assert_eq!(*order.borrow(), [0, 1, 2, 3, 4]);
        let items = getters.iter().map(|g| g.get()?).collect::<Result<Vec<_>>>()?;
        assert_eq!(items, [0, 10, 20, 30, 40]);
        Ok(())
    });
}

#[test]
fn putters_are_served_first_come_first_served() {
    bounded(|| {
        let q = Queue::bounded(1);
        q.put(0)?;
        let putters: Vec<_> = (1..=4)
            .map(|i| spawn_with(&q, move |q| q.put(i).map_err(Error::from)))
            .collect();
        zgreen::sleep(ms(5))?;
        assert_eq!(q.waiting_putters(), 4);
        // A newcomer cannot overtake the waiting putters.
        assert!(q.try_put(99).unwrap_err().is_full());
        let got: Vec<i32> = (0..5).map(|_| q.get().unwrap()).collect();
        assert_eq!(got, [0, 1, 2, 3, 4]);
        zgreen::joinall(putters.iter())?;
        Ok(())
    });
}

#[test]
fn kill_and_timeout_scope_interrupt_waiters() {
    bounded(|| {
        let q: Queue<u32> = Queue::new();
        kill_parked_waiter(&q, ms(5), move |q| q.get())?;
        assert_eq!(q.waiting_getters(), 0);

        let t = zgreen::Timeout::start_new(ms(10));
        let err = q.get().unwrap_err();
        assert!(t.is(&err));
        drop(t);

        // A killed greenlet cannot block again, even on a call that would
        // not block.
        let g = spawn_with(&q, move |q| {
            zgreen::current().kill_nowait();
            q.put(1).map_err(|e| e.error().clone())
        });
        assert!(matches!(g.get()?, Err(Error::Killed)));
        assert!(q.is_empty());
        Ok(())
    });
}

#[test]
fn a_served_getter_keeps_its_item_even_if_killed_in_the_same_turn() {
    bounded(|| {
        let q = Queue::new();
        let g = spawn_parked(&q, ms(5), move |q| q.get())?;
        q.try_put(5).unwrap();
        g.kill_nowait();
        // The item was handed over before the kill: nothing is lost.
        assert_eq!(g.get()?.unwrap(), 5);
        assert!(q.is_empty());
        Ok(())
    });
}

#[test]
fn task_done_and_join() {
    bounded(|| {
        let q = queue_of(3)?;
        let worker = spawn_with(&q, move |q| -> Result<()> {
            for _ in 0..3 {
                q.get()?;
                zgreen::sleep(ms(1))?;
                q.task_done()?;
            }
            Ok(())
        });
        assert_eq!(q.unfinished_tasks(), 3);
        q.join()?;
        assert_eq!(q.unfinished_tasks(), 0);
        assert!(q.task_done().is_err(), "task_done past the count is an error");
        worker.get()??;
        // A queue with unfinished tasks times out joining.
        q.put(9)?;
        assert!(q.join_timeout(ms(5)).unwrap_err().is_timeout());
        Ok(())
    });
}

#[test]
fn shutdown_drain_keeps_items_and_wakes_everyone() {
    bounded(|| {
        let q = Queue::bounded(2);
        q.put(1)?;
        q.put(2)?;
        let blocked_putter = spawn_parked(&q, ms(5), move |q| {
            q.put(3).map_err(|e| (e.is_shut_down(), e.into_inner()))
        })?;
        assert!(q.shutdown(ShutdownMode::Drain).is_empty());
        assert!(q.is_shut_down());
        assert_eq!(blocked_putter.get()?, Err((true, 3)));
        assert!(q.try_put(4).unwrap_err().is_shut_down());
        assert_eq!(q.get()?, 1);
        assert_eq!(q.get()?, 2);
        assert_eq!(q.try_get().unwrap_err(), TryGetError::ShutDown);
        assert!(matches!(
            q.get(),
            Err(Error::Closed(zgreen::Closed::QueueShutDown))
        ));

        let empty: Queue<u8> = Queue::new();
        let getter = spawn_parked(&empty, ms(5), move |q| q.get())?;
        empty.shutdown(ShutdownMode::Drain);
        assert!(matches!(getter.get()?, Err(Error::Closed(_))));
        Ok(())
    });
}

#[test]
fn shutdown_immediate_returns_the_items() {
    bounded(|| {
        let q = queue_of(3)?;
        let joiner = spawn_parked(&q, ms(5), move |q| q.join())?;
        assert_eq!(q.shutdown(ShutdownMode::Immediate), [0, 1, 2]);
        assert!(q.is_empty());
        assert!(matches!(q.try_get(), Err(TryGetError::ShutDown)));
        joiner.get()??;
        Ok(())
    });
}

#[test]
fn channel_is_a_rendezvous() {
    bounded(|| {
        let ch = Channel::new();
        assert!(ch.is_full());
        assert!(matches!(ch.try_put("z"), Err(TryPutError::Full("z"))));
        let putter = spawn_parked(&ch, ms(5), move |ch| ch.put("x").map_err(Error::from))?;
        assert!(!putter.ready(), "a put waits for a getter");
        assert_eq!(ch.peek(), Some("x"));
        assert_eq!(ch.len(), 0);
        assert_eq!(ch.get()?, "x");
        putter.get()??;

        let getter = spawn_parked(&ch, ms(5), move |ch| ch.get())?;
        ch.try_put("y").unwrap();
        assert_eq!(getter.get()??, "y");
        assert!(ch.get_timeout(ms(5)).unwrap_err().is_timeout());
        Ok(())
    });
}

#[test]
fn root_get_on_a_queue_nobody_feeds_does_not_hang() {
    // No `with_timeout` here: its timer would itself be something that can
    // wake the hub. The wait runs on its own thread (and hub) instead, and
    // the test fails if it does not come back in time.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let q: Queue<u8> = Queue::new();
        let _ = tx.send(matches!(q.get(), Err(Error::WouldBlockForever)));
    });
    let would_block = rx
        .recv_timeout(LIMIT)
        .expect("a get that nothing can satisfy hung");
    assert!(would_block);
}

#[test]
fn wait_and_iwait_see_queues() {
    bounded(|| {
        let (a, b) = (Queue::new(), Queue::new());
        spawn_with(&b, move |b| {
            zgreen::sleep(ms(5)).unwrap();
            b.try_put(2).unwrap();
        });
        let first: Vec<&str> =
            zgreen::iwait_timeout([zgreen::Tagged("a", &a), zgreen::Tagged("b", &b)], ms(500))
                .take(1)
                .map(|r| r.unwrap().0)
                .collect();
        assert_eq!(first, ["b"]);
        assert_eq!(b.get()?, 2);
        a.put(1)?;
        assert_eq!(zgreen::wait([&a])?.len(), 1);
        Ok(())
    });
}

// ---------------------------------------------------------------------
// Property tests.

#[derive(Clone, Debug)]
enum NowaitOp {
    Put(u8),
    Get,
}

fn nowait_ops() -> impl Strategy<Value = (Option<usize>, Vec<NowaitOp>)> {
    let op = prop_oneof![any::<u8>().prop_map(NowaitOp::Put), Just(NowaitOp::Get)];
    (
        proptest::option::of(0usize..5),
        proptest::collection::vec(op, 0..60),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, .. ProptestConfig::default() })]

    /// Without concurrency every queue type matches a simple model,
    /// including Full/Empty and the item handed back.
    #[test]
    fn nowait_ops_match_the_model((maxsize, ops) in nowait_ops()) {
        let fifo = match maxsize { Some(n) => Queue::bounded(n), None => Queue::new() };
        let lifo = match maxsize { Some(n) => LifoQueue::bounded(n), None => LifoQueue::new() };
        let prio = match maxsize { Some(n) => PriorityQueue::bounded(n), None => PriorityQueue::new() };
        let mut m_fifo: VecDeque<u8> = VecDeque::new();
        let mut m_lifo: Vec<u8> = Vec::new();
        let mut m_prio: Vec<u8> = Vec::new();
        for op in ops {
            let full = maxsize.is_some_and(|n| m_fifo.len() >= n);
            match op {
                NowaitOp::Put(x) => {
                    for r in [fifo.try_put(x), lifo.try_put(x), prio.try_put(x)] {
                        match r {
                            Ok(()) => prop_assert!(!full),
                            Err(e) => {
                                prop_assert!(full && e.is_full());
                                prop_assert_eq!(e.into_inner(), x);
                            }
                        }
                    }
                    if !full {
                        m_fifo.push_back(x);
                        m_lifo.push(x);
                        m_prio.push(x);
                    }
                }
                NowaitOp::Get => {
                    let want = |v: Option<u8>| v.ok_or(TryGetError::Empty);
                    prop_assert_eq!(fifo.try_get(), want(m_fifo.pop_front()));
                    prop_assert_eq!(lifo.try_get(), want(m_lifo.pop()));
                    let min = m_prio.iter().enumerate().min_by_key(|(_, v)| **v).map(|(i, _)| i);
                    prop_assert_eq!(prio.try_get(), want(min.map(|i| m_prio.remove(i))));
                }
            }
            prop_assert_eq!(fifo.len(), m_fifo.len());
            prop_assert_eq!(lifo.peek(), m_lifo.last().copied());
            prop_assert_eq!(prio.is_full(), maxsize.is_some_and(|n| m_prio.len() >= n));
        }
    }
}

#[derive(Clone, Debug)]
enum Step {
    /// Put the next item of this producer, with an optional timeout (ms).
    Put(Option<u8>),
    /// Get, with an optional timeout (ms).
    Get(Option<u8>),
    /// Sleep this many ms (0 = yield).
    Sleep(u8),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        proptest::option::of(0u8..4).prop_map(Step::Put),
        proptest::option::of(0u8..4).prop_map(Step::Get),
        (0u8..3).prop_map(Step::Sleep),
    ]
}

fn scripts() -> impl Strategy<Value = (Option<usize>, Vec<Vec<Step>>)> {
    (
        proptest::option::of(0usize..4),
        proptest::collection::vec(proptest::collection::vec(step(), 0..12), 1..5),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, .. ProptestConfig::default() })]

    /// Several greenlets put and get with random timeouts. Whatever the
    /// interleaving: every item whose put succeeded is taken exactly once
    /// (by a get, or by the final drain); an item whose put failed comes
    /// back to its putter and is never taken; and the items of each
    /// producer come out in the order it put them (FIFO).
    #[test]
    fn random_interleavings_keep_fifo_and_lose_nothing((maxsize, scripts) in scripts()) {
        let outcome = zgreen::with_timeout(LIMIT, || {
            let q: Queue<(usize, u32)> = match maxsize { Some(n) => Queue::bounded(n), None => Queue::new() };
            let taken = Rc::new(RefCell::new(Vec::new()));
            let accepted = Rc::new(RefCell::new(Vec::new()));
            let rejected = Rc::new(RefCell::new(Vec::new()));
            let workers: Vec<_> = scripts.into_iter().enumerate().map(|(who, script)| {
                let (q, taken, accepted, rejected) = (q.clone(), taken.clone(), accepted.clone(), rejected.clone());
                zgreen::spawn(move || -> Result<()> {
                    let mut seq = 0u32;
                    for step in script {
                        match step {
                            Step::Put(t) => {
                                seq += 1;
                                let item = (who, seq);
                                let r = match t {
                                    None => q.put_timeout(item, ms(50)),
                                    Some(t) => q.put_timeout(item, ms(u64::from(t))),
                                };
                                match r {
                                    Ok(()) => accepted.borrow_mut().push(item),
                                    Err(e) => {
                                        assert!(e.is_timeout(), "{e:?}");
                                        assert_eq!(*e.item(), item);
                                        rejected.borrow_mut().push(item);
                                    }
                                }
                            }
                            Step::Get(t) => {
                                let r = match t {
                                    None => q.get_timeout(ms(50)),
                                    Some(t) => q.get_timeout(ms(u64::from(t))),
                                };
                                match r {
                                    Ok(item) => taken.borrow_mut().push((who, item)),
                                    Err(e) => assert!(e.is_timeout(), "{e:?}"),
                                }
                            }
                            Step::Sleep(n) => zgreen::sleep(ms(u64::from(n)))?,
                        }
                    }
                    Ok(())
                })
            }).collect();
            zgreen::joinall(workers.iter())?;
            for w in &workers {
                w.get()??;
            }
            while let Ok(item) = q.try_get() {
                taken.borrow_mut().push((usize::MAX, item));
            }
            let taken = taken.borrow().clone();
            let mut acc = accepted.borrow().clone();
            let rej = rejected.borrow().clone();
            Ok((taken, std::mem::take(&mut acc), rej))
        });
        let (taken, accepted, rejected) = outcome.expect("the scripts finish in time");
        let mut sorted_taken: Vec<(usize, u32)> = taken.iter().map(|&(_, item)| item).collect();
        sorted_taken.sort_unstable();
        let mut sorted_accepted = accepted;
        sorted_accepted.sort_unstable();
        prop_assert_eq!(&sorted_taken, &sorted_accepted, "taken exactly once");
        for item in &rejected {
            prop_assert!(!sorted_taken.contains(item), "a rejected item was taken");
        }
        // FIFO: each getter sees each producer's items in put order.
        let mut last: std::collections::HashMap<(usize, usize), u32> = Default::default();
        for (getter, (who, seq)) in taken {
            let prev = last.insert((getter, who), seq).unwrap_or(0);
            prop_assert!(seq > prev, "producer {} out of order for getter {}: {} after {}", who, getter, seq, prev);
        }
    }
}
