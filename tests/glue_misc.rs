//! wait/iwait over mixed waitables, greenlet-local storage and actors.
//! Every test runs under a `with_timeout`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use zgreen::actor::{Actor, Address, Context};
use zgreen::local::Local;
use zgreen::queue::Queue;
use zgreen::sync::{AsyncResult, Event, Semaphore};
use zgreen::{Error, Result, Tagged};
use zgreen_harness::ms;

mod common;
use common::{bounded, kill_expecting_killed, spawn_with};

// ------------------------------------------------------------ wait/iwait

#[test]
fn iwait_yields_in_completion_order_over_mixed_waitables() {
    bounded(|| {
        let evt = Event::new();
        let res: AsyncResult<u8> = AsyncResult::new();
        let q: Queue<u8> = Queue::new();
        // A causal chain, so the order does not depend on timing: the queue
        // gets an item, then the result is set, which lets the greenlet
        // finish, and only then is the event set.
        let g = spawn_with(&res, move |res| res.wait());
        {
            let (evt, res, q, g) = (evt.clone(), res.clone(), q.clone(), g.clone());
            zgreen::spawn(move || -> Result<()> {
                zgreen::sleep(ms(1))?;
                q.try_put(1).unwrap();
                zgreen::sleep(ms(1))?;
                res.set(2);
                g.join()?;
                zgreen::sleep(ms(1))?;
                evt.set();
                Ok(())
            });
        }
        let objects: Vec<Tagged<&str, Box<dyn zgreen::Waitable>>> = vec![
            Tagged("event", Box::new(evt.clone())),
            Tagged("result", Box::new(res.clone())),
            Tagged("queue", Box::new(q.clone())),
            Tagged("greenlet", Box::new(g.clone())),
        ];
        let order: Vec<&str> = zgreen::iwait(objects).map(|r| r.unwrap().0).collect();
        assert_eq!(order, ["queue", "result", "greenlet", "event"]);
        Ok(())
    });
}

#[test]
fn iwait_timeout_stops_early_and_wait_returns_the_ready_ones() {
    bounded(|| {
        let fast = zgreen::spawn(|| ());
        let slow = zgreen::spawn(|| zgreen::sleep(Duration::from_secs(60)));
        let got: Vec<_> = zgreen::iwait_timeout([fast.any(), slow.any()], ms(10)).collect();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].as_ref().unwrap().id(), fast.id());
        let ready = zgreen::wait_timeout([fast.any(), slow.any()], ms(5))?;
        assert_eq!(ready, [fast.any()]);
        slow.kill()?;
        Ok(())
    });
}

#[test]
fn iwait_reports_interruption_once() {
    bounded(|| {
        let never = Event::new();
        let _keep_alive = zgreen::spawn(|| zgreen::sleep(ms(100)));
        let t = zgreen::Timeout::start_new(ms(5));
        let mut it = zgreen::iwait([&never]);
        assert!(t.is(&it.next().unwrap().unwrap_err()));
        assert!(it.next().is_none());
        Ok(())
    });
}

#[test]
fn wait_on_a_semaphore() {
    bounded(|| {
        let sem = Semaphore::new(0);
        spawn_with(&sem, move |sem| {
            zgreen::sleep(ms(5)).unwrap();
            sem.release();
        });
        assert_eq!(zgreen::wait([&sem])?.len(), 1);
        assert_eq!(sem.available_permits(), 1);
        Ok(())
    });
}

// ----------------------------------------------------------------- Local

static X: Local<i32> = Local::new();
static Y: Local<i32> = Local::new();
static COUNTER: Local<Vec<u32>> = Local::with_init(Vec::new);

#[test]
fn locals_are_per_greenlet() {
    bounded(|| {
        let f1 = zgreen::spawn(|| {
            X.set(1);
            zgreen::sleep(Duration::ZERO).unwrap();
            X.get()
        });
        let f2 = zgreen::spawn(|| {
            Y.set(2);
            zgreen::sleep(Duration::ZERO).unwrap();
            (Y.get(), X.get())
        });
        assert_eq!(f1.get()?, Some(1));
        assert_eq!(f2.get()?, (Some(2), None));
        assert_eq!(X.get(), None, "the root has its own values");
        Ok(())
    });
}

#[test]
fn local_with_init_take_and_nested_access() {
    bounded(|| {
        let g = zgreen::spawn(|| {
            assert!(!COUNTER.is_set());
            COUNTER.with(|v| v.push(1));
            COUNTER.with(|v| v.push(2));
            let inner = COUNTER.with(|_| X.with(|x| *x).is_none());
            let taken = COUNTER.take();
            (taken, inner, COUNTER.get())
        });
        assert_eq!(g.get()?, (Some(vec![1, 2]), Some(true), Some(vec![])));
        assert_eq!(X.with(|x| *x), None);
        assert_eq!(X.set(5), None);
        assert_eq!(X.set(6), Some(5));
        assert_eq!(X.take(), Some(6));
        Ok(())
    });
}

struct Tracked(Rc<Cell<u32>>);
impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn local_values_are_dropped_when_the_greenlet_ends() {
    static SLOT: Local<Tracked> = Local::new();
    bounded(|| {
        let drops = Rc::new(Cell::new(0));
        let g = spawn_with(&drops, move |drops| -> Result<()> {
            SLOT.set(Tracked(drops));
            zgreen::sleep(ms(2))
        });
        zgreen::sleep(ms(1))?;
        assert_eq!(drops.get(), 0);
        g.get()??;
        assert_eq!(drops.get(), 1);
        Ok(())
    });
}

// ----------------------------------------------------------------- Actor

/// One side of the ping-pong: records every message, answers with `reply`,
/// and, given a number of rounds (the pinger), stops both sides once that
/// many "pong"s came back.
struct Player {
    other: Address<&'static str>,
    reply: &'static str,
    rounds: Option<u32>,
    seen: Rc<RefCell<Vec<&'static str>>>,
}

impl Actor for Player {
    type Message = &'static str;
    fn receive(&mut self, ctx: &Context<&'static str>, message: &'static str) -> Result<()> {
        self.seen.borrow_mut().push(message);
        if let Some(rounds) = &mut self.rounds {
            if message == "pong" {
                *rounds -= 1;
            }
            if *rounds == 0 {
                self.other.stop();
                ctx.stop();
                return Ok(());
            }
        }
        // The pinger may have stopped already: a closed inbox ends the ponger.
        self.other.send(self.reply)?;
        zgreen::sleep(Duration::ZERO)
    }
}

#[test]
fn ping_pong_actors() {
    bounded(|| {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let ping = Address::new();
        let pong = Address::new();
        let a = ping.start(Player {
            other: pong.clone(),
            reply: "ping",
            rounds: Some(3),
            seen: seen.clone(),
        });
        let b = pong.start(Player {
            other: ping.clone(),
            reply: "pong",
            rounds: None,
            seen: seen.clone(),
        });
        ping.send("start")?;
        zgreen::joinall([a.any(), b.any()])?;
        a.get()??;
        b.get()??;
        assert_eq!(
            *seen.borrow(),
            ["start", "ping", "pong", "ping", "pong", "ping", "pong"]
        );
        assert!(ping.is_stopped() && pong.is_stopped());
        assert!(ping.send("late").unwrap_err().is_shut_down());
        Ok(())
    });
}

struct Failing;
impl Actor for Failing {
    type Message = u8;
    fn receive(&mut self, _ctx: &Context<u8>, n: u8) -> Result<()> {
        if n == 2 {
            return Err(Error::other("two"));
        }
        Ok(())
    }
}

#[test]
fn actor_errors_and_kills_end_it_and_close_the_inbox() {
    bounded(|| {
        let addr = Address::new();
        let g = addr.start(Failing);
        for n in 0..4 {
            addr.send(n)?;
        }
        assert_eq!(g.get()?.unwrap_err().to_string(), "two");
        assert!(addr.try_send(9).unwrap_err().is_shut_down());
        assert!(addr.inbox().is_empty(), "leftover messages are dropped");

        let addr2: Address<u8> = Address::new();
        let g2 = addr2.start(Failing);
        zgreen::sleep(ms(1))?;
        kill_expecting_killed(&g2)?;
        assert!(addr2.is_stopped());
        Ok(())
    });
}

#[test]
fn actor_stop_drains_the_inbox_first() {
    bounded(|| {
        struct Collect(Rc<RefCell<Vec<u8>>>);
        impl Actor for Collect {
            type Message = u8;
            fn receive(&mut self, _ctx: &Context<u8>, n: u8) -> Result<()> {
                self.0.borrow_mut().push(n);
                Ok(())
            }
        }
        let got = Rc::new(RefCell::new(Vec::new()));
        let addr = Address::bounded(8);
        for n in 0..3 {
            addr.send(n)?;
        }
        addr.stop();
        let g = addr.start(Collect(got.clone()));
        g.get()??;
        assert_eq!(*got.borrow(), [0, 1, 2]);
        Ok(())
    });
}

#[test]
fn iwait_wakes_for_results_and_events_set_from_other_threads() {
    bounded(|| {
        let res: AsyncResult<u32> = AsyncResult::new();
        let evt = Event::new();
        let (tx, setter) = (res.sender(), evt.setter());
        let (ack_tx, ack_rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || {
            std::thread::sleep(ms(5));
            setter.set();
            // The result only once the event was seen: no timing involved.
            ack_rx.recv().unwrap();
            tx.set(7);
        });
        let objects: Vec<Tagged<&str, Box<dyn zgreen::Waitable>>> = vec![
            Tagged("result", Box::new(res.clone())),
            Tagged("event", Box::new(evt.clone())),
        ];
        let mut it = zgreen::iwait_timeout(objects, Duration::from_secs(5));
        assert_eq!(it.next().unwrap()?.0, "event");
        ack_tx.send(()).unwrap();
        assert_eq!(it.next().unwrap()?.0, "result");
        assert!(it.next().is_none());
        assert_eq!(res.get()?, 7);
        t.join().unwrap();
        Ok(())
    });
}
