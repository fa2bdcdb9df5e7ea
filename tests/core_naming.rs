//! The naming scheme of blocking calls (crate docs, "One naming scheme"):
//! every `_deadline` form fails with `Error::Timeout` at its instant,
//! every `try_` form never parks and hands its payload back, and errors
//! are typed variants.

use std::time::{Duration, Instant};

use zgreen::pool::Pool;
use zgreen::queue::{Channel, Queue, ShutdownMode, TryGetError, TryPutError};
use zgreen::sync::{AsyncResult, BoundedSemaphore, Event, Lock, RLock, Semaphore};
use zgreen::{Closed, Error, Result};
use zgreen_harness::ms;

mod common;
use common::{bounded, spawn_with};

/// `f` parks until the deadline, then fails with a timeout of id 0 (the
/// call's own), not earlier.
fn times_out_at<T: std::fmt::Debug>(what: &str, f: impl FnOnce(Instant) -> Result<T>) {
    let t0 = Instant::now();
    let err = f(t0 + ms(20)).expect_err(what);
    assert!(matches!(&err, Error::Timeout(t) if t.id == 0), "{what}: {err:?}");
    assert!(t0.elapsed() >= ms(20), "{what} returned early");
}

#[test]
fn deadline_forms_of_the_glue_time_out_at_their_instant() {
    bounded(|| {
        let q: Queue<u8> = Queue::bounded(1);
        times_out_at("Queue::get_deadline", |d| q.get_deadline(d));
        q.put(1)?;
        times_out_at("Queue::put_deadline", |d| {
            q.put_deadline(2, d).map_err(Error::from)
        });
        times_out_at("Queue::join_deadline", |d| q.join_deadline(d));
        let evt = Event::new();
        times_out_at("Event::wait_deadline", |d| evt.wait_deadline(d));
        times_out_at("Event::wait_timeout", |_| evt.wait_timeout(ms(20)));
        let r: AsyncResult<u8> = AsyncResult::new();
        times_out_at("AsyncResult::get_deadline", |d| r.get_deadline(d));
        times_out_at("AsyncResult::wait_deadline", |d| r.wait_deadline(d));
        let lock = Lock::new();
        let _held = lock.acquire()?;
        let other = spawn_with(&lock, move |lock| {
            times_out_at("Lock::acquire_deadline", |d| lock.acquire_deadline(d).map(drop));
        });
        other.join()?;
        assert!(other.successful());
        let sem = Semaphore::new(0);
        times_out_at("Semaphore::acquire_deadline", |d| {
            sem.acquire_deadline(d).map(drop)
        });
        times_out_at("Semaphore::wait_deadline", |d| sem.wait_deadline(d));
        let sleeper = zgreen::spawn(|| zgreen::sleep(Duration::from_secs(60)));
        times_out_at("Greenlet::join_deadline", |d| sleeper.join_deadline(d));
        times_out_at("Greenlet::get_deadline", |d| sleeper.get_deadline(d));
        sleeper.kill()?;
        Ok(())
    });
}

#[test]
fn kill_and_pool_deadlines() {
    bounded(|| {
        // A greenlet that ignores its kill for a while.
        let stubborn = zgreen::spawn(|| {
            let _ = zgreen::sleep(Duration::from_secs(60));
            std::thread::sleep(ms(1)); // keeps running on the OS clock
        });
        zgreen::sleep(ms(1))?;
        stubborn.kill_deadline(Instant::now() + ms(50))?;
        assert!(stubborn.killed());

        let pool = Pool::new(1);
        let busy = pool.spawn(|| zgreen::sleep(Duration::from_secs(60)))?;
        times_out_at("Pool::spawn_deadline", |d| {
            pool.spawn_deadline(d, || ()).map(drop)
        });
        times_out_at("Pool::wait_available_deadline", |d| {
            pool.wait_available_deadline(d)
        });
        times_out_at("Pool::join_deadline", |d| pool.join_deadline(d));
        zgreen::killall_timeout([busy.any()], ms(500))?;
        assert!(busy.ready());
        Ok(())
    });
}

#[test]
fn wait_timeout_returns_what_is_ready_instead_of_failing() {
    bounded(|| {
        let (never, now) = (Event::new(), Event::new());
        now.set();
        let ready = zgreen::wait_deadline([&never, &now], Instant::now() + ms(10))?;
        assert_eq!(ready.len(), 1);
        assert!(ready[0].is_set());
        let yielded: Vec<_> = zgreen::iwait_timeout([&never, &now], ms(10)).collect::<Result<_>>()?;
        assert_eq!(yielded.len(), 1);
        Ok(())
    });
}

#[test]
fn try_forms_never_park_and_hand_the_payload_back() {
    bounded(|| {
        let q = Queue::bounded(1);
        q.try_put("a").unwrap();
        assert!(matches!(q.try_put("b"), Err(TryPutError::Full("b"))));
        assert_eq!(q.try_get(), Ok("a"));
        assert_eq!(q.try_get(), Err(TryGetError::Empty));
        let ch: Channel<u8> = Channel::new();
        assert_eq!(ch.try_put(7).unwrap_err().into_inner(), 7);

        let r: AsyncResult<u8> = AsyncResult::new();
        assert!(matches!(r.try_get(), Err(zgreen::sync::TryGetError::Empty)));
        r.set_error(Error::other("boom"));
        match r.try_get() {
            Err(zgreen::sync::TryGetError::Failed(e)) => assert_eq!(e.to_string(), "boom"),
            other => panic!("{other:?}"),
        }

        let lock = Lock::new();
        let held = lock.try_acquire().unwrap();
        assert!(lock.try_acquire().is_err());
        drop(held);
        assert!(lock.try_acquire().is_ok());
        let rlock = RLock::new();
        let _a = rlock.try_acquire().unwrap();
        let _b = rlock.try_acquire().expect("re-entrant for its owner");
        let sem = BoundedSemaphore::new(1);
        let _p = sem.try_acquire().unwrap();
        assert_eq!(sem.try_acquire().unwrap_err(), zgreen::sync::TryAcquireError);
        Ok(())
    });
}

#[test]
fn closed_errors_are_typed() {
    bounded(|| {
        let q: Queue<u8> = Queue::new();
        q.shutdown(ShutdownMode::Drain);
        let err = q.get().unwrap_err();
        assert!(matches!(err, Error::Closed(Closed::QueueShutDown)), "{err:?}");
        assert!(err.is_closed());
        assert_eq!(err.to_string(), "the queue is shut down");
        let put = q.put(1).unwrap_err();
        assert!(put.is_shut_down());
        assert_eq!(put.into_inner(), 1);
        let g = zgreen::spawn(|| String::from("v"));
        assert_eq!(g.take()?, "v");
        assert!(matches!(g.take(), Err(Error::ValueTaken)));
        Ok(())
    });
}

#[cfg(feature = "zmq")]
#[test]
fn zmq_socket_deadline_and_try_forms() {
    use zgreen::{TryRecvError, TrySendError};
    bounded(|| {
        let ctx = zgreen::zmq::Context::new();
        let push = ctx.socket(zmq::PUSH)?;
        push.set_sndhwm(1)?;
        push.bind("inproc://naming-push")?;
        // No peer yet: a PUSH socket cannot take a message.
        match push.try_send(vec![1u8, 2, 3], 0) {
            Err(TrySendError::Full(back)) => assert_eq!(back, [1, 2, 3]),
            other => panic!("{other:?}"),
        }
        times_out_at("Socket::send_deadline", |d| push.send_deadline("x", 0, d));
        let pull = ctx.socket(zmq::PULL)?;
        pull.connect("inproc://naming-push")?;
        assert!(matches!(pull.try_recv_msg(0), Err(TryRecvError::Empty)));
        let mut msg = zmq::Message::new();
        times_out_at("Socket::recv_deadline", |d| pull.recv_deadline(&mut msg, 0, d));
        times_out_at("Socket::recv_multipart_deadline", |d| {
            pull.recv_multipart_deadline(0, d)
        });
        push.send_multipart_deadline(["a", "b"], 0, Instant::now() + ms(500))?;
        assert_eq!(pull.recv_multipart(0)?, [b"a".to_vec(), b"b".to_vec()]);
        pull.close()?;
        match pull.try_recv_msg(0) {
            Err(TryRecvError::Failed(Error::SocketClosed)) => {}
            other => panic!("{other:?}"),
        }
        Ok(())
    });
}

#[cfg(feature = "process")]
#[test]
fn child_try_wait_and_wait_deadline() {
    use zgreen::process::{Command, TryWaitError};
    bounded(|| {
        let child = Command::new("sleep").arg("10").spawn()?;
        assert!(matches!(child.try_wait(), Err(TryWaitError::Running)));
        times_out_at("Child::wait_deadline", |d| child.wait_deadline(d));
        child.kill()?;
        child.wait()?;
        assert!(child.try_wait().is_ok());
        Ok(())
    });
}
