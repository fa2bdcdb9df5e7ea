//! Event, AsyncResult, semaphores and locks, ported from gevent's
//! `test__event.py`, `test__semaphore.py` and `test__lock.py` behaviours,
//! plus cross-thread setting. Every test runs under a `with_timeout`.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use zgreen::sync::{AsyncResult, BoundedSemaphore, Event, Lock, RLock, Semaphore};
use zgreen::{Error, Result};
use zgreen_harness::{Fail, ms};

mod common;
use common::{
    BODY_LIMIT as LIMIT, Concurrency, assert_timed_out, bounded, kill_expecting_killed, kill_parked_waiter,
    spawn_logging_waiters, spawn_parked, spawn_with,
};

/// The test's own error.
const BOOM: Fail = Fail("boom");

// ---------------------------------------------------------------- Event

#[test]
fn event_set_wakes_every_waiter_in_order() {
    bounded(|| {
        let evt = Event::new();
        let (waiters, woke) = spawn_logging_waiters(5, &evt, Event::wait);
        zgreen::sleep(ms(5))?;
        assert!(woke.borrow().is_empty());
        evt.set();
        zgreen::joinall(waiters.iter())?;
        assert_eq!(*woke.borrow(), [0, 1, 2, 3, 4]);
        Ok(())
    });
}

#[test]
fn event_wait_returns_at_once_while_set_and_blocks_after_clear() {
    bounded(|| {
        let evt = Event::new();
        evt.set();
        assert!(evt.is_set());
        evt.wait()?;
        evt.wait_timeout(ms(1))?;
        evt.clear();
        assert!(!evt.is_set());
        let t0 = Instant::now();
        assert_timed_out(evt.wait_timeout(ms(20)));
        assert!(t0.elapsed() >= ms(20));
        Ok(())
    });
}

#[test]
fn event_wait_honours_kill_and_timeout_scopes() {
    bounded(|| {
        let evt = Event::new();
        kill_parked_waiter(&evt, ms(2), move |evt| evt.wait())?;
        let t = zgreen::Timeout::start_new(ms(5));
        let err = evt.wait_timeout(Duration::from_secs(5)).unwrap_err();
        assert!(t.is(&err), "a scope's timeout is an error, not Ok(false)");
        Ok(())
    });
}

#[test]
fn event_set_from_another_thread() {
    bounded(|| {
        let evt = Event::new();
        let waiter = spawn_parked(&evt, ms(2), move |evt| evt.wait())?;
        // The setter is created after a greenlet started waiting.
        let setter = evt.setter();
        let t = std::thread::spawn(move || {
            std::thread::sleep(ms(10));
            setter.set()
        });
        waiter.get()??;
        assert!(evt.is_set());
        assert!(t.join().unwrap());
        Ok(())
    });
}

// ---------------------------------------------------------- AsyncResult

#[test]
fn async_result_value_reaches_every_getter() {
    bounded(|| {
        let a = AsyncResult::new();
        let getters: Vec<_> = (0..3).map(|_| spawn_with(&a, move |a| a.get())).collect();
        zgreen::sleep(ms(2))?;
        assert!(!a.ready());
        assert!(
            matches!(a.try_get(), Err(zgreen::sync::TryGetError::Empty)),
            "gevent's get_nowait raises Timeout"
        );
        a.set(String::from("Hello!"));
        for g in &getters {
            assert_eq!(g.get()??, "Hello!");
        }
        assert!(a.ready() && a.successful());
        assert_eq!(a.value().as_deref(), Some("Hello!"));
        assert!(a.exception().is_none());
        Ok(())
    });
}

#[test]
fn async_result_error_propagates_to_every_getter() {
    bounded(|| {
        let a: AsyncResult<u32> = AsyncResult::new();
        let getters: Vec<_> = (0..3).map(|_| spawn_with(&a, move |a| a.get())).collect();
        zgreen::sleep(ms(2))?;
        a.set_error(Error::failed(BOOM));
        for g in &getters {
            let err = g.get()?.unwrap_err();
            assert_eq!(err.to_string(), "boom");
        }
        assert!(a.ready() && !a.successful());
        assert_eq!(a.exception().unwrap().to_string(), "boom");
        assert!(a.value().is_none());
        // wait does not raise the stored error.
        a.wait()?;
        Ok(())
    });
}

#[test]
fn async_result_carries_a_greenlets_failure() {
    bounded(|| {
        zgreen::config::set_panic_report(zgreen::config::PanicReport::Silent);
        let a: AsyncResult<u32> = AsyncResult::new();
        let g = zgreen::spawn(|| -> u32 { panic!("worker failed") });
        {
            let (a, g2) = (a.clone(), g.clone());
            g.link(move |_| match g2.get() {
                Ok(v) => a.set(v),
                Err(e) => a.set_error(e),
            });
        }
        let err = a.get().unwrap_err();
        assert!(
            matches!(&err, Error::Panicked(p) if p.message.contains("worker failed")),
            "{err:?}"
        );
        Ok(())
    });
}

#[test]
fn async_result_get_timeout_and_wait_timeout() {
    bounded(|| {
        let a: AsyncResult<u8> = AsyncResult::new();
        assert!(a.get_timeout(ms(10)).unwrap_err().is_timeout());
        assert_timed_out(a.wait_timeout(ms(5)));
        a.set(1);
        a.wait_timeout(ms(5))?;
        a.set(2); // setting again replaces the outcome
        assert_eq!(a.get()?, 2);
        Ok(())
    });
}

#[test]
fn async_result_set_from_another_thread() {
    bounded(|| {
        let a = AsyncResult::new();
        let tx = a.sender();
        std::thread::spawn(move || {
            std::thread::sleep(ms(5));
            tx.set(42u64);
        });
        assert_eq!(a.get()?, 42);
        Ok(())
    });
}

/// 10 000 results set from another OS thread, each awaited by a greenlet
/// that was already parked: not one wakeup is lost.
#[test]
fn ten_thousand_cross_thread_results_lose_no_wakeup() {
    bounded(|| {
        const N: usize = 10_000;
        let (tx, rx) = std::sync::mpsc::channel::<zgreen::sync::AsyncResultSender<usize>>();
        let setter = std::thread::spawn(move || {
            let mut n = 0;
            for sender in rx {
                if n % 3 == 0 {
                    std::thread::yield_now();
                }
                assert!(sender.set(n));
                n += 1;
            }
            n
        });
        for i in 0..N {
            let a = AsyncResult::new();
            tx.send(a.sender()).unwrap();
            let got = if i % 2 == 0 {
                // From a greenlet...
                let a2 = a.clone();
                zgreen::spawn(move || a2.get_timeout(Duration::from_secs(5))).get()??
            } else {
                // ...and from the root context.
                a.get_timeout(Duration::from_secs(5))?
            };
            assert_eq!(got, i);
        }
        drop(tx);
        assert_eq!(setter.join().unwrap(), N);
        Ok(())
    });
}

#[test]
fn cross_thread_setters_can_outlive_their_result() {
    bounded(|| {
        let tx = {
            let a: AsyncResult<u8> = AsyncResult::new();
            a.sender()
        };
        // The hub forgot the slot: the notification is dropped quietly.
        std::thread::spawn(move || tx.set(1)).join().unwrap();
        zgreen::sleep(ms(2))?;
        Ok(())
    });
}

// ------------------------------------------------------------ Semaphore

#[test]
fn bounded_semaphore_refuses_over_release() {
    bounded(|| {
        let sem = BoundedSemaphore::new(2);
        assert!(sem.release().is_err(), "nothing acquired yet");
        sem.acquire()?.forget();
        sem.release().unwrap();
        let err = sem.release().unwrap_err();
        assert_eq!(err.bound(), 2);
        assert_eq!(sem.available_permits(), 2);
        let e: Error = err.into();
        assert!(e.to_string().contains("released too many times"));
        Ok(())
    });
}

#[test]
fn plain_semaphore_release_adds_permits() {
    bounded(|| {
        let sem = Semaphore::new(0);
        assert!(sem.locked());
        sem.release();
        sem.release();
        assert_eq!(sem.available_permits(), 2);
        Ok(())
    });
}

#[test]
fn semaphore_bounds_concurrency_and_is_fifo() {
    bounded(|| {
        let sem = BoundedSemaphore::new(2);
        let inside = Concurrency::default();
        let order = Rc::new(RefCell::new(Vec::new()));
        let workers: Vec<_> = (0..6)
            .map(|i| {
                let (sem, inside, order) = (sem.clone(), inside.clone(), order.clone());
                zgreen::spawn(move || -> Result<()> {
                    let _permit = sem.acquire()?;
                    order.borrow_mut().push(i);
                    inside.run(|| zgreen::sleep(ms(2)))
                })
            })
            .collect();
        zgreen::joinall(workers.iter())?;
        for w in &workers {
            w.get()??;
        }
        assert_eq!(inside.peak(), 2);
        assert_eq!(*order.borrow(), [0, 1, 2, 3, 4, 5]);
        assert_eq!(sem.available_permits(), 2);
        Ok(())
    });
}

#[test]
fn a_released_permit_goes_to_the_waiter_not_a_newcomer() {
    bounded(|| {
        let sem = Semaphore::new(1);
        let held = sem.acquire()?;
        let waiter = spawn_parked(&sem, ms(2), move |sem| sem.acquire().map(|g| g.forget()))?;
        assert_eq!(sem.waiting(), 1);
        drop(held);
        // Handed over: not available to the root, although the waiter has
        // not run yet.
        assert!(sem.try_acquire().is_err());
        waiter.get()??;
        assert_eq!(sem.available_permits(), 0);
        Ok(())
    });
}

#[test]
fn semaphore_acquire_timeout_kill_and_wait() {
    bounded(|| {
        let sem = Semaphore::new(1);
        let held = sem.acquire()?;
        assert!(sem.acquire_timeout(ms(5)).unwrap_err().is_timeout());
        assert_eq!(sem.waiting(), 0);
        kill_parked_waiter(&sem, ms(2), move |sem| sem.acquire().map(drop))?;
        assert!(sem.wait_timeout(ms(5)).unwrap_err().is_timeout());
        let w = spawn_parked(&sem, ms(2), move |sem| sem.wait())?;
        drop(held);
        w.get()??;
        assert_eq!(sem.available_permits(), 1, "wait does not take the permit");
        Ok(())
    });
}

// ---------------------------------------------------------------- Locks

#[test]
fn lock_excludes_and_times_out() {
    bounded(|| {
        let lock = Lock::new();
        let g = lock.acquire()?;
        assert!(lock.locked());
        assert!(lock.try_acquire().is_err());
        // Not re-entrant: the holder itself waits.
        assert!(lock.acquire_timeout(ms(5)).unwrap_err().is_timeout());
        drop(g);
        assert!(!lock.locked());
        let _g = lock.try_acquire().expect("free again");
        Ok(())
    });
}

#[test]
fn rlock_is_reentrant_for_its_owner_only() {
    bounded(|| {
        let lock = RLock::new();
        let a = lock.acquire()?;
        let b = lock.acquire()?;
        assert!(lock.is_owned());
        assert_eq!(lock.count(), 2);
        let other = spawn_with(&lock, move |lock| -> Result<bool> {
            assert!(!lock.is_owned());
            assert!(lock.try_acquire().is_err());
            let g = lock.acquire()?;
            let owned = lock.is_owned();
            drop(g);
            Ok(owned)
        });
        zgreen::sleep(ms(2))?;
        drop(b);
        zgreen::sleep(ms(2))?;
        assert!(!other.ready(), "one guard is still alive");
        drop(a);
        assert!(other.get()??);
        assert!(!lock.locked());
        assert!(lock.acquire_timeout(ms(1)).is_ok());
        Ok(())
    });
}

#[test]
fn rlock_waiters_time_out_and_get_killed() {
    bounded(|| {
        let lock = RLock::new();
        let _held = lock.acquire()?;
        let timed = spawn_with(&lock, move |lock| lock.acquire_timeout(ms(5)).map(drop));
        let killed = spawn_with(&lock, move |lock| lock.acquire().map(drop));
        assert!(timed.get()?.unwrap_err().is_timeout());
        kill_expecting_killed(&killed)?;
        assert_eq!(lock.count(), 1);
        Ok(())
    });
}

/// Waiting from the root on something nothing can ever set fails with
/// `WouldBlockForever` instead of hanging. (Each wait runs on its own
/// thread and hub: a `with_timeout` timer would itself keep the hub
/// waiting.)
#[test]
fn root_waits_that_cannot_end_fail_instead_of_hanging() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let event = Event::new().wait();
        let result = AsyncResult::<u8>::new().get();
        let sem = Semaphore::new(0).acquire().map(drop);
        let lock = Lock::new();
        let _held = lock.acquire().unwrap();
        let again = lock.acquire().map(drop);
        let _ = tx.send([event, result.map(drop), sem, again]);
    });
    let outcomes = rx.recv_timeout(LIMIT).expect("a root wait hung");
    for r in outcomes {
        assert!(matches!(r, Err(Error::WouldBlockForever)), "{r:?}");
    }
}
