//! Behaviours found by porting gevent's own tests (`test__event.py`,
//! `test__greenlet.py`, `test__monitor.py`, `test__queue.py`) that zgreen
//! must share with gevent, and the deliberate differences, each tested.
//! Every test is bounded: its body runs under `with_timeout`, and every
//! wait that could hang on a regression has its own timeout.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use zgreen::queue::Channel;
use zgreen::sync::Event;
use zgreen::{AnyGreenlet, Error, LinkId, Result};
use zgreen_harness::ms;

mod common;
use common::{assert_timed_out, bounded, kill_parked_waiter, spawn_with};

/// What happened, in order, as the test's greenlets and callbacks note it.
#[derive(Clone, Default)]
struct Log(Rc<RefCell<Vec<&'static str>>>);

impl Log {
    fn push(&self, event: &'static str) {
        self.0.borrow_mut().push(event);
    }

    fn entries(&self) -> Vec<&'static str> {
        self.0.borrow().clone()
    }
}

fn log() -> Log {
    Log::default()
}

/// Waits (500 ms at most) for `g`, which ran a blocking call and then a
/// next one, `(call, next)`, and was killed meanwhile: the call succeeded
/// (it had been served), the next one failed with `Error::Killed`.
#[track_caller]
fn assert_served_then_killed<T: Clone + std::fmt::Debug + 'static>(
    g: &zgreen::Greenlet<(Result<T>, Result<()>)>,
) -> Result<()> {
    let (call, next) = g.get_timeout(ms(500))?;
    assert!(call.is_ok(), "{call:?}");
    assert!(matches!(next, Err(Error::Killed)), "{next:?}");
    Ok(())
}

/// A channel, a [`Log`], and a greenlet running `f` with its own handles
/// to both.
fn channel_and_greenlet(
    f: impl FnOnce(Channel<&'static str>, Log) -> Result<()> + 'static,
) -> (Channel<&'static str>, Log, zgreen::Greenlet<Result<()>>) {
    let (ch, events) = (Channel::new(), log());
    let g = {
        let (ch, events) = (ch.clone(), events.clone());
        zgreen::spawn(move || f(ch, events))
    };
    (ch, events, g)
}

// ---------------------------------------------------------------- Event

/// gevent (and Python's `threading.Event`): every waiter woken by `set`
/// returns true, even if the flag was cleared before it ran.
#[test]
fn event_set_then_clear_at_once_still_releases_every_waiter() {
    bounded(|| {
        let evt = Event::new();
        let plain: Vec<_> = (0..3).map(|_| spawn_with(&evt, move |evt| evt.wait())).collect();
        let timed = spawn_with(&evt, move |evt| evt.wait_timeout(ms(300)));
        zgreen::sleep(ms(5))?;
        evt.set();
        evt.clear();
        for w in &plain {
            let got = w.get_timeout(ms(500));
            assert!(matches!(got, Ok(Ok(()))), "a waiter woken by set: {got:?}");
        }
        let got = timed.get_timeout(ms(500));
        assert!(matches!(got, Ok(Ok(()))), "wait_timeout woken by set: {got:?}");
        assert!(!evt.is_set());
        // A wait that starts after the clear blocks again.
        assert_timed_out(evt.wait_timeout(ms(5)));
        Ok(())
    });
}

/// The same with a set from another OS thread that the hub had not
/// processed yet when `clear` ran.
#[test]
fn event_remote_set_then_clear_still_releases_the_waiter() {
    bounded(|| {
        let evt = Event::new();
        let setter = evt.setter();
        let waiter = spawn_with(&evt, move |evt| evt.wait());
        zgreen::sleep(ms(5))?;
        std::thread::spawn(move || setter.set())
            .join()
            .expect("the setter thread");
        evt.clear();
        let got = waiter.get_timeout(ms(500));
        assert!(matches!(got, Ok(Ok(()))), "a waiter of a remote set: {got:?}");
        Ok(())
    });
}

/// A waiter that `set` woke and that was killed in the same turn keeps
/// the outcome (the crate's rule for served waiters); the kill fails its
/// next blocking call.
#[test]
fn event_waiter_woken_and_killed_in_one_turn_keeps_the_wakeup() {
    bounded(|| {
        let evt = Event::new();
        let waiter = spawn_with(&evt, move |evt| (evt.wait(), zgreen::sleep(ms(1))));
        zgreen::sleep(ms(5))?;
        evt.set();
        evt.clear();
        waiter.kill_nowait();
        assert_served_then_killed(&waiter)?;
        Ok(())
    });
}

/// Timeouts and kills of a waiter that nothing sets are unchanged.
#[test]
fn event_wait_still_times_out_and_is_killed() {
    bounded(|| {
        let evt = Event::new();
        assert_timed_out(evt.wait_timeout(ms(10)));
        let scoped = zgreen::with_timeout(ms(10), || evt.wait());
        assert!(scoped.unwrap_err().is_timeout());
        kill_parked_waiter(&evt, ms(5), move |evt| evt.wait())?;
        Ok(())
    });
}

// ---------------------------------------------------------------- links

/// gevent runs links in order, one after the other, from one callback on
/// the hub: a link that an earlier link's callback removes never runs.
#[test]
fn unlink_from_a_link_callback_cancels_a_later_link() {
    bounded(|| {
        let seen = log();
        let second: Rc<Cell<Option<LinkId>>> = Rc::new(Cell::new(None));
        let g = zgreen::spawn(|| ());
        {
            let (seen, second) = (seen.clone(), second.clone());
            g.link(move |g: AnyGreenlet| {
                seen.push("first");
                let id = second.get().expect("the second link is registered");
                assert!(g.unlink(id), "the second link has not run yet");
            });
        }
        let s = seen.clone();
        second.set(Some(g.link(move |_| s.push("second"))));
        let s = seen.clone();
        g.link(move |_| s.push("third"));
        g.join()?;
        zgreen::sleep(ms(10))?;
        assert_eq!(seen.entries(), ["first", "third"]);
        Ok(())
    });
}

/// A link removed after the greenlet died, but before the link ran,
/// never runs either.
#[test]
fn unlink_after_death_before_the_link_ran_cancels_it() {
    bounded(|| {
        let seen = log();
        let g = zgreen::Greenlet::new(|| ());
        let s = seen.clone();
        let id = g.link(move |_| s.push("unlinked"));
        let s = seen.clone();
        g.link(move |_| s.push("kept"));
        g.kill()?; // dies at once, never started: its links are due now
        assert!(g.unlink(id), "the link has not run yet");
        zgreen::sleep(ms(10))?;
        assert_eq!(seen.entries(), ["kept"]);
        Ok(())
    });
}

/// Links start in the order they were made, each in its own greenlet: a
/// callback that blocks lets the next link start (as gevent's spawned
/// links do).
#[test]
fn links_start_in_order_and_a_blocking_one_does_not_hold_the_next() {
    bounded(|| {
        let seen = log();
        let g = zgreen::spawn(|| ());
        let s = seen.clone();
        g.link(move |_| {
            s.push("1 starts");
            zgreen::sleep(ms(20)).unwrap();
            s.push("1 ends");
        });
        let s = seen.clone();
        g.link_value(move |_| s.push("2"));
        let s = seen.clone();
        g.link_exception(move |_| s.push("never: g succeeded"));
        let s = seen.clone();
        g.link(move |_| s.push("3"));
        g.join()?;
        zgreen::sleep(ms(60))?;
        assert_eq!(seen.entries(), ["1 starts", "2", "3", "1 ends"]);
        Ok(())
    });
}

// ---------------------------------------------------------------- monitor

/// gevent's monitor reports the main greenlet too: the root context
/// (plain `main()`, id 0) that runs without yielding to the hub is
/// reported, while a root that blocks cooperatively is not.
#[test]
fn blocking_monitor_reports_the_root_context() {
    bounded(|| {
        zgreen::set_blocking_monitor(Some(ms(50)));
        zgreen::sleep(ms(200))?;
        let polite = zgreen::blocking_reports();
        std::thread::sleep(ms(300));
        let reports = zgreen::blocking_reports();
        zgreen::set_blocking_monitor(None);
        assert!(polite.is_empty(), "a cooperative sleep was reported: {polite:?}");
        assert_eq!(reports.len(), 1, "{reports:?}");
        assert_eq!(reports[0].greenlet, 0, "{reports:?}");
        assert_eq!(reports[0].name, None);
        assert!(reports[0].blocked_for >= ms(50), "{reports:?}");
        Ok(())
    });
}

// ---------------------------------------------------------------- Channel

/// gevent's `test__queue.TestChannel.test_send`: a put to a waiting
/// getter switches to the getter before the put returns.
#[test]
fn channel_put_to_a_waiting_getter_runs_the_getter_first() {
    bounded(|| {
        let (ch, events, g) = channel_and_greenlet(|ch, events| {
            for _ in 0..2 {
                let got = ch.get()?;
                events.push(got);
            }
            Ok(())
        });
        events.push("sending");
        ch.put_timeout("hello", ms(500)).map_err(Error::from)?;
        events.push("sent hello");
        ch.put_timeout("world", ms(500)).map_err(Error::from)?;
        events.push("sent world");
        assert_eq!(
            events.entries(),
            ["sending", "hello", "sent hello", "world", "sent world"]
        );
        g.get_timeout(ms(500))??;
        Ok(())
    });
}

/// gevent's `test__queue.TestChannel.test_wait`: the root context is the
/// getter, a greenlet the putter.
#[test]
fn channel_put_from_a_greenlet_to_a_root_getter_waits_for_it() {
    bounded(|| {
        let (ch, events, g) = channel_and_greenlet(|ch, events| {
            events.push("sending hello");
            ch.put("hello")?;
            events.push("sending world");
            ch.put("world")?;
            events.push("sent world");
            Ok(())
        });
        events.push("waiting");
        let got = ch.get_timeout(ms(500))?;
        events.push(got);
        let got = ch.get_timeout(ms(500))?;
        events.push(got);
        assert_eq!(
            events.entries(),
            ["waiting", "sending hello", "hello", "sending world", "world"]
        );
        zgreen::sleep(Duration::ZERO)?;
        assert_eq!(
            events.entries(),
            [
                "waiting",
                "sending hello",
                "hello",
                "sending world",
                "world",
                "sent world"
            ]
        );
        g.get_timeout(ms(500))??;
        Ok(())
    });
}

/// A putter killed while it lets the getter run keeps its outcome (the
/// item was delivered); the kill fails its next blocking call.
#[test]
fn channel_putter_killed_by_the_getter_it_fed_keeps_the_success() {
    bounded(|| {
        let ch: Channel<u32> = Channel::new();
        let putter_slot: Rc<RefCell<Option<AnyGreenlet>>> = Rc::new(RefCell::new(None));
        let getter = {
            let (ch, slot) = (ch.clone(), putter_slot.clone());
            zgreen::spawn(move || -> Result<u32> {
                let v = ch.get()?;
                slot.borrow().as_ref().expect("the putter is known").kill_nowait();
                Ok(v)
            })
        };
        zgreen::sleep(ms(5))?;
        let putter = spawn_with(&ch, move |ch| {
            (ch.put(7).map_err(Error::from), zgreen::sleep(ms(1)))
        });
        *putter_slot.borrow_mut() = Some(putter.any());
        assert_eq!(getter.get_timeout(ms(500))??, 7);
        assert_served_then_killed(&putter)?;
        Ok(())
    });
}

/// Deliberate difference: gevent's `put_nowait` is `put(block=False)`,
/// which also switches to the getter; zgreen's `*_nowait` calls never
/// park, so `put_nowait` hands the item to the waiting getter and returns
/// before the getter runs.
#[test]
fn channel_put_nowait_hands_over_without_switching() {
    bounded(|| {
        let ch = Channel::new();
        let getter = spawn_with(&ch, move |ch| ch.get());
        zgreen::sleep(ms(5))?;
        ch.try_put("y").expect("a getter waits");
        assert!(!getter.ready(), "put_nowait must not switch to the getter");
        assert_eq!(getter.get_timeout(ms(500))??, "y");
        Ok(())
    });
}

/// gevent's `Channel.full()` and `empty()` are always true, whether or not
/// a getter waits.
#[test]
fn channel_is_always_full_and_empty() {
    bounded(|| {
        let ch = Channel::new();
        assert!(ch.is_full() && ch.is_empty());
        let getter = spawn_with(&ch, move |ch| ch.get());
        zgreen::sleep(ms(5))?;
        assert_eq!(ch.waiting_getters(), 1);
        assert!(ch.is_full() && ch.is_empty());
        ch.put(1).map_err(Error::from)?;
        assert_eq!(getter.get_timeout(ms(500))??, 1);
        Ok(())
    });
}
