//! The hub: one event loop per OS thread, created lazily.
//!
//! The hub owns a `mio::Poll`, a deadline heap, a ready queue and a
//! cross-thread inbox. Greenlets always switch back to the hub (they are
//! asymmetric coroutines): a parked greenlet yields, the hub resumes the
//! next ready one. The hub loop itself runs on the thread's own stack, in
//! the "root context" (plain `main()`), whenever the root blocks: a root
//! `join`, `sleep` or `recv` runs the loop until the root is woken, exactly
//! like gevent's main greenlet.
//!
//! # The kernel
//!
//! `hub/` is the bottom layer of zgreen: it imports only `error` (and,
//! where needed, `sys`), never the layers above it. The whole life of a
//! task lives here — created on a pooled stack and started (`spawn.rs`),
//! parked and woken (`task.rs`: waiters and wait queues), interrupted by a
//! kill or a timeout scope (`interrupt.rs`), finished with its panic caught
//! and reported (`panic.rs`, `settings.rs`). The layers above hook into it
//! instead of being called by it: a greenlet's links are an [`ExitHook`]
//! that `greenlet.rs` registers on the task, and so is a ZeroMQ socket's
//! claim on a partial message. `config` is the public façade of
//! `settings.rs`.
//!
//! [`ExitHook`]: task::ExitHook

mod cross;
pub(crate) mod interrupt;
pub(crate) use self::interrupt::{kill, kill_all};
mod io;
pub(crate) mod monitor;
pub(crate) mod panic;
mod remote;
pub(crate) mod settings;
pub(crate) mod spawn;
mod stacks;
pub(crate) mod task;
mod timers;

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

// `Dir` is for the I/O layers above (net, zmq): unused in a build
// without them.
pub(crate) use self::cross::{CrossPark, Signal, Watch};
#[allow(unused_imports)]
pub(crate) use self::io::Dir;
pub(crate) use self::io::IoRegistration;
pub use self::remote::HubHandle;
use self::remote::{Remote, RemoteMsg};
use self::stacks::StackPool;
use self::task::{Gen, State, Task, WaitQueue, Waiter};
use self::timers::Timers;
pub(crate) use self::timers::{TimerAction, TimerId};
use crate::error::{Error, TimeoutError};

const WAKER_TOKEN: mio::Token = mio::Token(usize::MAX);

/// While greenlets keep the ready queue busy, the hub still polls for I/O
/// at least this often.
const FORCED_POLL_INTERVAL: Duration = Duration::from_millis(1);

/// A park's own deadline: when, and the duration it came from (for the
/// error message).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline {
    pub at: Instant,
    pub after: Duration,
}

impl Deadline {
    /// `after` from now.
    pub(crate) fn after(after: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + after,
            after,
        }
    }

    /// At `at`; the error message reports the time that was left when the
    /// call began.
    pub(crate) fn at(at: Instant) -> Deadline {
        Deadline {
            at,
            after: at.saturating_duration_since(Instant::now()),
        }
    }

    /// `None` stays `None`.
    pub(crate) fn from_timeout(timeout: Option<Duration>) -> Option<Deadline> {
        timeout.map(Deadline::after)
    }
}

/// Why a park ended normally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wake {
    /// A waiter token fired.
    Signaled,
    /// The park's own deadline passed.
    Deadline,
}

/// The result of [`park`]: `signaled` says whether a waiter fired even if
/// `result` is an error (so the caller can pass the notification on).
pub(crate) struct ParkOutcome {
    pub signaled: bool,
    pub result: crate::Result<Wake>,
}

/// A notification slot that other threads fire through a [`HubHandle`].
pub(crate) struct RemoteSlot {
    pub fired: Cell<bool>,
    pub waiters: WaitQueue,
}

/// One event loop, owned by one OS thread.
pub(crate) struct Hub {
    poll: RefCell<mio::Poll>,
    registry: mio::Registry,
    events: RefCell<mio::Events>,
    ready: RefCell<VecDeque<Rc<Task>>>,
    timers: RefCell<Timers>,
    io: RefCell<slab::Slab<Rc<io::IoEntry>>>,
    /// Every task started and not finished (for [`kill_all`]).
    tasks: RefCell<slab::Slab<std::rc::Weak<Task>>>,
    remote: Arc<Remote>,
    inbox: Receiver<RemoteMsg>,
    remote_slots: RefCell<HashMap<u64, Rc<RemoteSlot>>>,
    next_slot: Cell<u64>,
    root: Rc<Task>,
    current: RefCell<Rc<Task>>,
    next_id: Cell<u64>,
    stacks: RefCell<StackPool>,
    idle_waiters: WaitQueue,
    /// Coroutines of tasks dropped while suspended, unwound at a safe point.
    graveyard: RefCell<Vec<Gen>>,
    /// Exit hooks of tasks dropped without finishing, run at a safe point.
    orphaned_hooks: RefCell<Vec<task::OrphanHooks>>,
    /// The root's loop returned because nothing could ever wake it.
    would_block: Cell<bool>,
    next_forced_poll: Cell<Instant>,
    pub(crate) monitor: RefCell<Option<monitor::Monitor>>,
    /// `monitor` is set (checked on every switch without a borrow).
    monitor_on: Cell<bool>,
    switches: Cell<u64>,
    /// Batches run since the clock was last read (see `run_root`).
    batches: Cell<u32>,
}

thread_local! {
    static HUB: Rc<Hub> = Rc::new(Hub::new());
    /// Set once this thread's hub exists (a plain thread that never used
    /// zgreen has none, and cross-thread waits park it without making one).
    static HUB_MADE: Cell<bool> = const { Cell::new(false) };
}

/// True if this thread has a hub already (none is created).
pub(crate) fn hub_exists() -> bool {
    HUB_MADE.try_with(Cell::get).unwrap_or(false)
}

/// Runs `f` with this thread's hub (creating it on first use).
#[inline]
pub(crate) fn with_hub<R>(f: impl FnOnce(&Hub) -> R) -> R {
    HUB.with(|h| f(h))
}

/// True if no other task of this thread's hub is ready to run (or the
/// thread has no hub): a wait that is about to park may spin briefly
/// without delaying anyone.
pub(crate) fn nothing_else_ready() -> bool {
    !hub_exists() || HUB.try_with(|h| h.ready.borrow().is_empty()).unwrap_or(true)
}

/// True while a greenlet (not the root context) runs on this thread.
pub(crate) fn in_greenlet() -> bool {
    HUB.try_with(|h| h.current.try_borrow().map(|c| c.id != 0).unwrap_or(false))
        .unwrap_or(false)
}

/// Like [`with_hub`], but fails instead of panicking while the thread's
/// locals are being destroyed.
pub(crate) fn try_with_hub<R>(f: impl FnOnce(&Hub) -> R) -> Option<R> {
    HUB.try_with(|h| f(h)).ok()
}

impl Hub {
    fn new() -> Hub {
        panic::install_hook();
        HUB_MADE.with(|m| m.set(true));
        let poll = mio::Poll::new().expect("zgreen: cannot create the epoll instance");
        let registry = poll
            .registry()
            .try_clone()
            .expect("zgreen: cannot clone the mio registry");
        let waker = mio::Waker::new(&registry, WAKER_TOKEN).expect("zgreen: cannot create a mio waker");
        let (remote, inbox) = Remote::new(waker);
        let root = Rc::new(Task::new(0, 0));
        root.state.set(State::Running);
        Hub {
            poll: RefCell::new(poll),
            registry,
            events: RefCell::new(mio::Events::with_capacity(1024)),
            ready: RefCell::new(VecDeque::new()),
            timers: RefCell::new(Timers::default()),
            io: RefCell::new(slab::Slab::new()),
            tasks: RefCell::new(slab::Slab::new()),
            remote: Arc::new(remote),
            inbox,
            remote_slots: RefCell::new(HashMap::new()),
            next_slot: Cell::new(1),
            current: RefCell::new(root.clone()),
            root,
            next_id: Cell::new(1),
            stacks: RefCell::new(StackPool::default()),
            idle_waiters: WaitQueue::default(),
            graveyard: RefCell::new(Vec::new()),
            orphaned_hooks: RefCell::new(Vec::new()),
            would_block: Cell::new(false),
            next_forced_poll: Cell::new(Instant::now()),
            monitor: RefCell::new(None),
            monitor_on: Cell::new(false),
            switches: Cell::new(0),
            batches: Cell::new(0),
        }
    }

    /// Installs or removes the blocking monitor.
    pub(crate) fn set_monitor(&self, monitor: Option<monitor::Monitor>) {
        self.monitor_on.set(monitor.is_some());
        *self.monitor.borrow_mut() = monitor;
    }

    /// A new greenlet id (0 is the root).
    pub(crate) fn next_task_id(&self) -> u64 {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        id
    }

    /// A coroutine for `body`, from the pool or freshly mapped.
    pub(crate) fn alloc_gen<F: FnOnce() + 'static>(&self, stack_bytes: usize, body: F) -> crate::Result<Gen> {
        self.stacks.borrow_mut().get(stack_bytes, body)
    }

    /// Lists a task that got its coroutine (see [`kill_all`]), and
    /// publishes how many are listed where other threads read it
    /// ([`HubHandle::live_greenlets`]).
    pub(crate) fn register_task(&self, task: &Rc<Task>) {
        let mut tasks = self.tasks.borrow_mut();
        task.registry_key.set(tasks.insert(Rc::downgrade(task)));
        self.remote.set_live(tasks.len());
    }

    /// Takes a task off the list of live ones (finished or dropped).
    pub(crate) fn unregister_task(&self, task: &Task) {
        let key = task.registry_key.replace(usize::MAX);
        if key != usize::MAX {
            let mut tasks = self.tasks.borrow_mut();
            if tasks.contains(key) {
                tasks.remove(key);
            }
            self.remote.set_live(tasks.len());
        }
    }

    /// The tasks started and not finished.
    pub(crate) fn live_tasks(&self) -> Vec<Rc<Task>> {
        self.tasks
            .borrow()
            .iter()
            .filter_map(|(_, w)| w.upgrade())
            .collect()
    }

    /// Appends a task to the ready queue.
    #[inline]
    pub(crate) fn schedule(&self, task: Rc<Task>) {
        self.ready.borrow_mut().push_back(task);
    }

    /// Arms a timer.
    pub(crate) fn add_timer(&self, at: Instant, action: TimerAction) -> TimerId {
        self.timers.borrow_mut().add(at, action)
    }

    /// Disarms a timer.
    pub(crate) fn cancel_timer(&self, id: TimerId) {
        self.timers.borrow_mut().cancel(id);
    }

    /// The task running now (the root when no greenlet runs).
    #[inline]
    pub(crate) fn current(&self) -> Rc<Task> {
        self.current.borrow().clone()
    }

    /// Live greenlets holding a stack.
    pub(crate) fn live_greenlets(&self) -> usize {
        self.stacks.borrow().live
    }

    /// Idle pooled stacks.
    pub(crate) fn pooled_stacks(&self) -> usize {
        self.stacks.borrow().idle()
    }

    /// Removes an I/O source from the poller (errors are ignored: the
    /// source is going away).
    pub(crate) fn deregister<S: mio::event::Source + ?Sized>(&self, source: &mut S) {
        let _ = self.registry.deregister(source);
    }

    /// Frees idle pooled stacks.
    pub(crate) fn clear_stack_pool(&self) {
        self.stacks.borrow_mut().clear();
    }

    /// Number of greenlet switches so far.
    pub(crate) fn switch_count(&self) -> u64 {
        self.switches.get()
    }

    /// A handle other threads can use to wake this hub.
    pub(crate) fn handle(&self) -> HubHandle {
        HubHandle {
            remote: self.remote.clone(),
        }
    }

    /// Creates a notification slot that other threads fire by key.
    pub(crate) fn new_remote_slot(&self) -> (u64, Rc<RemoteSlot>) {
        let key = self.next_slot.get();
        self.next_slot.set(key + 1);
        let slot = Rc::new(RemoteSlot {
            fired: Cell::new(false),
            waiters: WaitQueue::default(),
        });
        self.remote_slots.borrow_mut().insert(key, slot.clone());
        (key, slot)
    }

    /// The notification slot with this key, if it still exists.
    pub(crate) fn remote_slot(&self, key: u64) -> Option<Rc<RemoteSlot>> {
        self.remote_slots.borrow().get(&key).cloned()
    }

    /// Forgets a notification slot.
    pub(crate) fn drop_remote_slot(&self, key: u64) {
        self.remote_slots.borrow_mut().remove(&key);
    }

    /// Runs the loop until the root is woken, interrupted, its deadline
    /// passes, or nothing can ever wake it.
    fn run_root(&self) {
        let root = &self.root;
        let done = || root.woken.get() || root.interrupted.get() || root.deadline_hit.get();
        loop {
            self.run_ready_batch();
            self.bury_dead();
            if done() {
                return;
            }
            let busy = !self.ready.borrow().is_empty();
            // While only greenlets keep the hub busy and no timer is armed,
            // read the clock every 16th batch only.
            if busy && self.timers.borrow().is_empty() {
                let b = self.batches.get().wrapping_add(1);
                self.batches.set(b);
                if b % 16 != 0 {
                    continue;
                }
            }
            let mut now = Instant::now();
            self.fire_timers(now);
            if done() {
                return;
            }
            let busy = !self.ready.borrow().is_empty();
            if busy && now < self.next_forced_poll.get() {
                continue;
            }
            let timeout = if busy {
                Some(Duration::ZERO)
            } else if !self.idle_waiters.is_empty() {
                self.idle_waiters.notify_all();
                continue;
            } else {
                let next = self.timers.borrow_mut().next_deadline();
                match next {
                    Some(at) => Some(at.saturating_duration_since(now)),
                    None => {
                        if self.nothing_can_wake() {
                            self.would_block.set(true);
                            return;
                        }
                        None
                    }
                }
            };
            self.poll_io(timeout);
            now = Instant::now();
            self.next_forced_poll.set(now + FORCED_POLL_INTERVAL);
            self.fire_timers(now);
            if done() {
                return;
            }
        }
    }

    /// True when no timer, I/O source, ready task or other thread's handle
    /// could ever wake the root.
    fn nothing_can_wake(&self) -> bool {
        self.ready.borrow().is_empty()
            && self.timers.borrow().is_empty()
            && self.io.borrow().is_empty()
            && Arc::strong_count(&self.remote) == 1
            && self.inbox.is_empty()
    }

    /// Resumes every task that was ready when the batch began, once.
    fn run_ready_batch(&self) {
        let n = self.ready.borrow().len();
        for _ in 0..n {
            let task = match self.ready.borrow_mut().pop_front() {
                Some(t) => t,
                None => break,
            };
            self.resume(task);
        }
    }

    /// Switches into one task until it parks, yields or ends.
    fn resume(&self, task: Rc<Task>) {
        match task.state.get() {
            State::Scheduled | State::Ready => {}
            // A stale queue entry (killed before start, or resumed already).
            _ => return,
        }
        task.state.set(State::Running);
        self.switches.set(self.switches.get() + 1);
        if self.monitor_on.get() {
            if let Some(m) = &*self.monitor.borrow() {
                m.on_switch(&task);
            }
        }
        let prev = self.current.replace(task.clone());
        let failure = {
            let mut coro = task.coro.borrow_mut();
            match coro.as_mut() {
                Some(g) => {
                    g.resume();
                    g.get_panic_data()
                }
                None => None,
            }
        };
        self.current.replace(prev);
        if self.monitor_on.get() {
            if let Some(m) = &*self.monitor.borrow() {
                m.on_idle();
            }
        }
        if let Some(payload) = failure {
            // Only a stack overflow (or a bug in zgreen's own wrapper)
            // escapes the body's catch_unwind.
            let err = if payload.downcast_ref::<generator::Error>().is_some() {
                Error::StackOverflow {
                    stack_bytes: task.stack_bytes,
                }
            } else {
                panic::error(payload.as_ref(), task.id)
            };
            *task.error.borrow_mut() = Some(err);
            task.successful.set(false);
            task.state.set(State::Dead);
            // An overflowed coroutine cannot be reused.
            // An overflowed coroutine cannot be reused; `generator` drops
            // it without its usage check (the overflow was reported).
            let coro = task.coro.borrow_mut().take();
            drop(coro);
            self.stacks.borrow_mut().discard();
            self.finish(&task);
        } else if task.state.get() == State::Dead {
            let coro = task.coro.borrow_mut().take();
            if let Some(coro) = coro {
                let max_idle = settings::stack_pool_max();
                self.stacks.borrow_mut().put(coro, task.stack_bytes, max_idle);
            }
            self.finish(&task);
        }
    }

    /// Reports, frees per-greenlet state, wakes joiners and runs the exit
    /// hooks (the greenlet layer's links among them) of a task that just
    /// died.
    pub(crate) fn finish(&self, task: &Rc<Task>) {
        self.unregister_task(task);
        if let Some(Error::Panicked(p)) = &*task.error.borrow() {
            settings::report_panic(p);
        } else if let Some(e @ Error::StackOverflow { .. }) = &*task.error.borrow() {
            settings::report_failure(task, e);
        }
        task.scopes.borrow_mut().clear();
        let locals = std::mem::take(&mut *task.locals.borrow_mut());
        drop(locals);
        task.joiners.notify_all();
        task.run_exit_hooks();
    }

    /// Unwinds coroutines whose tasks were dropped while suspended.
    fn bury_dead(&self) {
        if !self.orphaned_hooks.borrow().is_empty() {
            let orphans = std::mem::take(&mut *self.orphaned_hooks.borrow_mut());
            for (id, hooks) in orphans {
                for h in hooks {
                    h.task_exited(id);
                }
            }
        }
        if self.graveyard.borrow().is_empty() {
            return;
        }
        loop {
            let coro = self.graveyard.borrow_mut().pop();
            let Some(coro) = coro else { return };
            // Destructors that run during the unwind must not block: run
            // them as a task that is already killed.
            let zombie = Rc::new(Task::new(u64::MAX, 0));
            zombie.killed.set(true);
            zombie.state.set(State::Running);
            let prev = self.current.replace(zombie);
            stacks::retire(coro);
            self.current.replace(prev);
            self.stacks.borrow_mut().discard();
        }
    }

    /// Keeps the exit hooks of a task dropped without finishing, to run
    /// them at the next safe point (not inside whatever dropped it).
    pub(crate) fn orphan_hooks(&self, task_id: u64, hooks: Vec<Rc<dyn task::ExitHook>>) {
        self.orphaned_hooks.borrow_mut().push((task_id, hooks));
    }

    /// Hands a suspended coroutine of a dropped task to the graveyard.
    pub(crate) fn bury(&self, coro: Gen) {
        self.graveyard.borrow_mut().push(coro);
    }

    /// Fires all due timers.
    fn fire_timers(&self, now: Instant) {
        if self.timers.borrow().is_empty() {
            return;
        }
        loop {
            let action = self.timers.borrow_mut().pop_due(now);
            match action {
                None => return,
                Some(TimerAction::Deadline(w)) => {
                    if w.is_live() {
                        w.task.deadline_hit.set(true);
                        make_ready(&w.task);
                    }
                }
                Some(TimerAction::Call(f)) => f(),
            }
        }
    }

    /// Polls for I/O (and cross-thread messages) and dispatches events.
    fn poll_io(&self, timeout: Option<Duration>) {
        let mut events = self.events.borrow_mut();
        if let Err(e) = self.poll.borrow_mut().poll(&mut events, timeout) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                tracing::error!("zgreen hub: epoll_wait failed: {e}");
            }
            return;
        }
        let mut inbox = false;
        for ev in events.iter() {
            if ev.token() == WAKER_TOKEN {
                inbox = true;
                continue;
            }
            let entry = self.io.borrow().get(ev.token().0).cloned();
            if let Some(entry) = entry {
                entry.on_event(ev);
            }
        }
        drop(events);
        if inbox || !self.inbox.is_empty() {
            self.drain_inbox();
        }
    }

    /// Handles messages from other threads.
    fn drain_inbox(&self) {
        self.remote.clear_pending();
        while let Ok(msg) = self.inbox.try_recv() {
            match msg {
                RemoteMsg::Notify(key) => {
                    let slot = self.remote_slots.borrow().get(&key).cloned();
                    if let Some(slot) = slot {
                        slot.fired.set(true);
                        slot.waiters.notify_all();
                    }
                }
                RemoteMsg::DropSlot(key) => self.drop_remote_slot(key),
                RemoteMsg::Spawn(f) => {
                    if let Err(e) = spawn::spawn_detached(f) {
                        tracing::error!("zgreen hub: cannot spawn a greenlet sent from another thread: {e}");
                    }
                }
            }
        }
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        // Suspended coroutines still referenced from here are leaked, not
        // unwound: their destructors would run while the thread's locals
        // are being torn down.
        for coro in self.graveyard.get_mut().drain(..) {
            std::mem::forget(coro);
        }
        // Finished pooled coroutines hold no user state: free them.
        self.stacks.get_mut().clear();
    }
}

/// The current task.
#[inline]
pub(crate) fn current_task() -> Rc<Task> {
    with_hub(|h| h.current())
}

/// A waiter token for the current task's next park.
#[inline]
pub(crate) fn waiter() -> Waiter {
    let task = current_task();
    let seq = task.park_seq.get();
    Waiter { task, seq }
}

/// Makes a parked task runnable (no-op for tasks in other states).
#[inline]
pub(crate) fn make_ready(task: &Rc<Task>) {
    if task.id == 0 {
        return; // the root's loop checks its flags
    }
    if task.state.get() == State::Parked {
        task.state.set(State::Ready);
        with_hub(|h| h.schedule(task.clone()));
    }
}

/// Wakes a task without a waiter: kill, or an expired timeout scope.
pub(crate) fn interrupt(task: &Rc<Task>) {
    task.interrupted.set(true);
    make_ready(task);
}

/// The error for a park whose own deadline passed.
pub(crate) fn deadline_error(deadline: Option<Deadline>) -> Error {
    Error::Timeout(TimeoutError {
        id: 0,
        after: deadline.map(|d| d.after).unwrap_or_default(),
        payload: None,
    })
}

/// Checks kill and expired timeout scopes of the current task.
#[inline]
pub(crate) fn check_interrupt() -> crate::Result<()> {
    // Measured: this form (an `Rc` clone of the task) is about twice as
    // fast in the queue benchmark as checking inside `with_hub`'s
    // closure, whose `Option<Error>` result does not inline as well.
    let task = current_task();
    match task.pending_interrupt() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Suspends the current task until a waiter taken with [`waiter`] fires,
/// `deadline` passes, or the task is killed / a timeout scope expires.
pub(crate) fn park(deadline: Option<Deadline>) -> ParkOutcome {
    with_hub(|hub| {
        let task = hub.current();
        if let Some(e) = task.pending_interrupt() {
            return ParkOutcome {
                signaled: false,
                result: Err(e),
            };
        }
        if !task.woken.get() {
            let timer = deadline.map(|d| {
                let w = Waiter {
                    task: task.clone(),
                    seq: task.park_seq.get(),
                };
                hub.add_timer(d.at, TimerAction::Deadline(w))
            });
            if task.id == 0 {
                hub.monitor_root_parks();
                hub.run_root();
                hub.monitor_root_resumes();
            } else {
                task.state.set(State::Parked);
                generator::co_yield_with(());
            }
            if let Some(t) = timer {
                if !task.deadline_hit.get() {
                    hub.cancel_timer(t);
                }
            }
        }
        // This park is over: every token taken for it is now stale.
        task.park_seq.set(task.park_seq.get() + 1);
        let signaled = task.woken.replace(false);
        let deadline_hit = task.deadline_hit.replace(false);
        task.interrupted.set(false);
        let would_block = task.id == 0 && hub.would_block.replace(false);
        let result = if let Some(e) = task.pending_interrupt() {
            Err(e)
        } else if signaled {
            Ok(Wake::Signaled)
        } else if deadline_hit {
            Ok(Wake::Deadline)
        } else if would_block {
            Err(Error::WouldBlockForever)
        } else {
            // Interrupted by something that is no longer pending (a scope
            // that was cancelled meanwhile): a spurious wakeup.
            Ok(Wake::Signaled)
        };
        ParkOutcome { signaled, result }
    })
}

/// Lets every other ready greenlet run once, then continues (gevent's
/// `sleep(0)`).
pub(crate) fn yield_now() -> crate::Result<()> {
    with_hub(|hub| {
        let task = hub.current();
        if let Some(e) = task.pending_interrupt() {
            return Err(e);
        }
        if task.id == 0 {
            hub.run_ready_batch();
            hub.bury_dead();
            let now = Instant::now();
            hub.fire_timers(now);
            if now >= hub.next_forced_poll.get() {
                hub.poll_io(Some(Duration::ZERO));
                hub.next_forced_poll.set(now + FORCED_POLL_INTERVAL);
            }
            hub.monitor_root_resumes();
        } else {
            task.state.set(State::Ready);
            hub.schedule(task.clone());
            generator::co_yield_with(());
        }
        match task.pending_interrupt() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    })
}

/// Parks until the hub has nothing ready to run (gevent's `idle()`).
pub(crate) fn wait_idle(deadline: Option<Deadline>) -> crate::Result<()> {
    with_hub(|hub| hub.idle_waiters.push(waiter()));
    let outcome = park(deadline);
    match outcome.result {
        Ok(Wake::Signaled) => Ok(()),
        Ok(Wake::Deadline) => Err(deadline_error(deadline)),
        Err(e) => Err(e),
    }
}
