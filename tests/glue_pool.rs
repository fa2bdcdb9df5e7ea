//! Group and Pool, ported from gevent's `test__pool.py` behaviours (size
//! bounds, map/imap ordering, apply, kill, full/free_count). Every test
//! runs under a `with_timeout`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use zgreen::pool::{Group, Pool};
use zgreen::{Error, Result};
use zgreen_harness::ms;

mod common;
use common::{Concurrency, bounded, kill_parked_waiter};

#[test]
fn group_add_join_and_membership() {
    bounded(|| {
        let group = Group::new();
        let g1 = zgreen::spawn(|| zgreen::sleep(ms(5)));
        let g2 = zgreen::spawn(|| zgreen::sleep(ms(1)));
        group.add(&g1);
        group.add(&g2);
        group.add(&g1); // twice: no-op
        assert_eq!(group.len(), 2);
        assert!(group.contains(&g1.any()));
        group.join()?;
        assert!(g1.ready() && g2.ready());
        assert!(group.is_empty());
        // Adding a dead greenlet: it leaves at once (at the next turn).
        group.add(&g1);
        group.join()?;
        assert!(group.is_empty());
        Ok(())
    });
}

#[test]
fn members_leave_after_the_turn_they_die_in() {
    bounded(|| {
        let group = Group::new();
        let sizes = Rc::new(RefCell::new(Vec::new()));
        let out = group.map(
            {
                let (group, sizes) = (group.clone(), sizes.clone());
                move |_: u32| sizes.borrow_mut().push(group.len())
            },
            0..3,
        )?;
        assert_eq!(out.len(), 3);
        // As in gevent: all three run in one turn and see each other.
        assert_eq!(*sizes.borrow(), [3, 3, 3]);
        assert!(group.is_empty());
        Ok(())
    });
}

#[test]
fn group_discard_kill_and_killone() {
    bounded(|| {
        let group = Group::new();
        let sleepers: Vec<_> = (0..3)
            .map(|_| group.spawn(|| zgreen::sleep(Duration::from_secs(60))))
            .collect();
        assert_eq!(group.len(), 3);
        zgreen::sleep(ms(1))?; // let them start
        assert!(group.discard(&sleepers[0]));
        assert!(!group.discard(&sleepers[0]));
        assert_eq!(group.len(), 2);
        group.killone(&sleepers[1])?;
        assert!(matches!(sleepers[1].get()?, Err(Error::Killed)));
        assert_eq!(group.len(), 1);
        group.kill()?;
        assert!(group.is_empty());
        assert!(matches!(sleepers[2].get()?, Err(Error::Killed)));
        assert!(!sleepers[0].ready(), "a discarded greenlet is not killed");
        sleepers[0].kill()?;
        Ok(())
    });
}

#[test]
fn group_join_timeout() {
    bounded(|| {
        let group = Group::new();
        group.spawn(|| zgreen::sleep(ms(200)));
        assert!(group.join_timeout(ms(5)).unwrap_err().is_timeout());
        group.kill()?;
        Ok(())
    });
}

#[test]
fn pool_never_exceeds_its_size() {
    bounded(|| {
        for size in [1, 2, 5] {
            let pool = Pool::new(size);
            let running = Concurrency::default();
            let mut handles = Vec::new();
            for _ in 0..(size * 4) {
                let running = running.clone();
                handles.push(pool.spawn(move || running.run(|| zgreen::sleep(ms(1))))?);
                assert!(pool.len() <= size);
            }
            pool.join()?;
            for h in &handles {
                h.get()??;
            }
            assert_eq!(running.peak(), size, "size {size}");
            assert_eq!(pool.free_count(), size);
        }
        Ok(())
    });
}

#[test]
fn pool_full_free_count_and_wait_available() {
    bounded(|| {
        let pool = Pool::new(2);
        assert_eq!((pool.size(), pool.free_count(), pool.full()), (2, 2, false));
        let a = pool.spawn(|| zgreen::sleep(ms(10)))?;
        let _b = pool.spawn(|| zgreen::sleep(ms(30)))?;
        assert!(pool.full());
        assert_eq!(pool.free_count(), 0);
        assert!(pool.spawn_timeout(ms(2), || ()).unwrap_err().is_timeout());
        assert!(pool.wait_available_timeout(ms(2)).unwrap_err().is_timeout());
        pool.wait_available()?;
        assert!(a.ready());
        assert_eq!(pool.free_count(), 1);
        pool.join()?;
        Ok(())
    });
}

#[test]
fn pool_spawners_are_served_in_order() {
    bounded(|| {
        let pool = Pool::new(1);
        let order = Rc::new(RefCell::new(Vec::new()));
        pool.spawn(|| zgreen::sleep(ms(5)))?;
        let spawners: Vec<_> = (0..4)
            .map(|i| {
                let (pool, order) = (pool.clone(), order.clone());
                zgreen::spawn(move || -> Result<()> {
                    pool.spawn(move || order.borrow_mut().push(i))?;
                    Ok(())
                })
            })
            .collect();
        zgreen::joinall(spawners.iter())?;
        pool.join()?;
        assert_eq!(*order.borrow(), [0, 1, 2, 3]);
        Ok(())
    });
}

#[test]
fn pool_add_counts_against_the_size() {
    bounded(|| {
        let pool = Pool::new(1);
        let g = zgreen::spawn(|| zgreen::sleep(ms(5)));
        pool.add(&g)?;
        assert!(pool.full());
        pool.join()?;
        assert!(!pool.full());
        assert!(g.ready());
        Ok(())
    });
}

#[test]
fn map_and_imap_keep_input_order() {
    bounded(|| {
        let pool = Pool::new(3);
        let slow_first = |n: u64| -> u64 {
            zgreen::sleep(ms(10 - 2 * n)).unwrap();
            n * n
        };
        assert_eq!(pool.map(slow_first, 0..5)?, [0, 1, 4, 9, 16]);
        let imap: Vec<u64> = pool.imap(slow_first, 0..5).collect::<Result<_>>()?;
        assert_eq!(imap, [0, 1, 4, 9, 16]);
        let group = Group::new();
        let unordered: Vec<u64> = group.imap_unordered(slow_first, 0..5).collect::<Result<_>>()?;
        assert_eq!(unordered, [16, 9, 4, 1, 0], "all at once: the fastest first");
        Ok(())
    });
}

#[test]
fn imap_unordered_is_deterministic() {
    bounded(|| {
        let echo = |i: u32| {
            zgreen::sleep(ms(1)).unwrap();
            i
        };
        let pool = Pool::new(10);
        let runs: Vec<Vec<u32>> = (0..4)
            .map(|_| pool.imap_unordered(echo, 0..10).collect::<Result<_>>().unwrap())
            .collect();
        assert!(runs.windows(2).all(|w| w[0] == w[1]), "{runs:?}");
        let pool = Pool::new(3);
        let runs: Vec<Vec<u32>> = (0..4)
            .map(|_| pool.imap_unordered(echo, 0..20).collect::<Result<_>>().unwrap())
            .collect();
        assert!(runs.windows(2).all(|w| w[0] == w[1]), "{runs:?}");
        Ok(())
    });
}

#[test]
fn map_reports_a_failing_item() {
    bounded(|| {
        zgreen::config::set_panic_report(zgreen::config::PanicReport::Silent);
        let pool = Pool::new(2);
        let err = pool
            .map(
                |n: u32| {
                    if n == 3 {
                        panic!("bad item {n}");
                    }
                    n
                },
                0..6,
            )
            .unwrap_err();
        assert!(
            matches!(&err, Error::Panicked(p) if p.message.contains("bad item 3")),
            "{err:?}"
        );
        let results: Vec<Result<u32>> = pool
            .imap(|n: u32| if n == 1 { panic!("one") } else { n }, 0..3)
            .collect();
        assert!(results[0].is_ok() && results[1].is_err() && results[2].is_ok());
        pool.join()?;
        Ok(())
    });
}

#[test]
fn a_long_map_on_a_small_pool_uses_few_greenlets() {
    bounded(|| {
        let pool = Pool::new(4);
        let live_peak = Rc::new(Cell::new(0));
        let out = pool.map(
            {
                let live_peak = live_peak.clone();
                move |i: u32| {
                    live_peak.set(live_peak.get().max(zgreen::hub_stats().live_greenlets));
                    i + 1
                }
            },
            0..2000,
        )?;
        assert_eq!(out.len(), 2000);
        assert_eq!(out[1999], 2000);
        assert!(
            live_peak.get() <= 4 + 1,
            "peak live greenlets {}",
            live_peak.get()
        );
        Ok(())
    });
}

#[test]
fn imap_consumer_interrupted_ends_the_iteration() {
    bounded(|| {
        let group = Group::new();
        let t = zgreen::Timeout::start_new(ms(5));
        let mut it = group.imap(|_: u32| zgreen::sleep(Duration::from_secs(60)), 0..3);
        let first = it.next().unwrap();
        assert!(t.is(&first.unwrap_err()));
        assert!(it.next().is_none());
        drop(t);
        assert_eq!(group.len(), 3, "spawned greenlets go on");
        group.kill()?;
        Ok(())
    });
}

#[test]
fn apply_and_apply_async() {
    bounded(|| {
        let pool = Pool::new(1);
        assert_eq!(pool.apply(|| 6 * 7)?, 42);
        let g = pool.apply_async(|| "later")?;
        assert_eq!(g.get()?, "later");
        // apply from inside a full pool runs inline instead of deadlocking.
        let inner = {
            let p = pool.clone();
            pool.spawn(move || p.apply(|| 1))?
        };
        assert_eq!(inner.get()??, 1);
        let group = Group::new();
        assert_eq!(group.apply(|| 5)?, 5);
        assert_eq!(group.apply_async(|| 6).get()?, 6);
        Ok(())
    });
}

#[test]
fn pool_spawn_in_a_killed_greenlet_fails() {
    bounded(|| {
        let pool = Pool::new(1);
        pool.spawn(|| zgreen::sleep(ms(50)))?;
        kill_parked_waiter(&pool, ms(2), move |pool| pool.spawn(|| ()).map(drop))?;
        pool.kill()?;
        assert_eq!(pool.free_count(), 1);
        Ok(())
    });
}

#[test]
fn a_member_that_overflows_its_stack_still_leaves_the_pool() {
    bounded(|| {
        zgreen::config::set_panic_report(zgreen::config::PanicReport::Silent);
        fn recurse(n: u64) -> u64 {
            let buf = [n; 64];
            if n == 0 {
                0
            } else {
                std::hint::black_box(buf)[0] + recurse(n - 1)
            }
        }
        let pool = Pool::new(1);
        let g = pool.spawn_with(zgreen::Builder::new().stack_bytes(16 * 1024), || {
            recurse(1_000_000)
        })?;
        let err = g.get().unwrap_err();
        assert!(matches!(err, Error::StackOverflow { .. }), "{err:?}");
        pool.join_timeout(Duration::from_secs(2))?;
        assert_eq!(pool.free_count(), 1);
        // imap hears about it too, and goes on with the next item.
        let small = Pool::new(2);
        let mut it = small.imap(|n: u64| if n == 1 { recurse(1_000_000) } else { n }, 0..3);
        assert_eq!(it.next().unwrap()?, 0);
        let second = it.next().unwrap();
        assert!(second.is_err(), "{second:?}");
        assert_eq!(it.next().unwrap()?, 2);
        Ok(())
    });
}
