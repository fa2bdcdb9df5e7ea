//! The type-erased core of a greenlet, and the waiter tokens that wake it.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;

use super::interrupt::TimeoutState;
use crate::error::Error;

/// A coroutine whose stack comes from the hub's pool.
pub(crate) type Gen = generator::Generator<'static, (), ()>;

/// Where a greenlet is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// Created with `Greenlet::new`, `start` not called yet.
    Unstarted,
    /// Started, waiting in the ready queue (or on a `spawn_later` timer)
    /// for its first run.
    Scheduled,
    /// Executing right now.
    Running,
    /// Suspended in `park`.
    Parked,
    /// Woken, waiting in the ready queue to be resumed.
    Ready,
    /// Finished (returned, panicked, or killed).
    Dead,
}

/// Something that must run when a task ends, however it ends (returns,
/// panics, is killed, or is dropped while suspended): a socket the task
/// owns a partial message of gives that message up, for example.
///
/// Hooks are registered by the layers above the hub; the hub only calls
/// them, once, in the order they were added.
pub(crate) trait ExitHook {
    /// The task with id `task_id` has ended.
    fn task_exited(&self, task_id: u64);
}

/// The exit hooks of one task, with its id.
pub(crate) type OrphanHooks = (u64, Vec<Rc<dyn ExitHook>>);

/// The core of a greenlet (or of the root context, id 0, which has no
/// coroutine of its own).
///
/// # Invariant
/// `park_seq` only grows; a [`Waiter`] is valid while its `seq` equals it.
/// `woken` and `interrupted` describe the current park only and are reset
/// when the park ends.
pub(crate) struct Task {
    pub id: u64,
    pub name: RefCell<Option<Arc<str>>>,
    pub state: Cell<State>,
    pub killed: Cell<bool>,
    pub park_seq: Cell<u64>,
    /// A waiter of the current park fired.
    pub woken: Cell<bool>,
    /// The current park's own deadline passed.
    pub deadline_hit: Cell<bool>,
    /// Kill or a timeout scope made the task ready without a waiter.
    pub interrupted: Cell<bool>,
    /// Active `Timeout` scopes, outermost first.
    pub scopes: RefCell<Vec<Rc<TimeoutState>>>,
    pub coro: RefCell<Option<Gen>>,
    /// The body of a greenlet created but not started yet.
    pub pending: RefCell<Option<Box<dyn FnOnce()>>>,
    pub stack_bytes: usize,
    /// The failure, once dead and unsuccessful.
    pub error: RefCell<Option<Error>>,
    pub successful: Cell<bool>,
    pub joiners: WaitQueue,
    /// State the layers above the kernel keep per task (the greenlet
    /// layer's links); the kernel never looks inside.
    pub upper: RefCell<Option<Rc<dyn Any>>>,
    /// Greenlet-local values, keyed by the address of their `Local`.
    pub locals: RefCell<Vec<(usize, Box<dyn Any>)>>,
    /// Run once when the task ends (see [`ExitHook`]).
    pub exit_hooks: RefCell<Vec<Rc<dyn ExitHook>>>,
    /// The task's key in its hub's list of live tasks (`usize::MAX`: not
    /// listed).
    pub registry_key: Cell<usize>,
}

impl Task {
    pub(crate) fn new(id: u64, stack_bytes: usize) -> Task {
        Task {
            id,
            name: RefCell::new(None),
            state: Cell::new(State::Unstarted),
            killed: Cell::new(false),
            park_seq: Cell::new(0),
            woken: Cell::new(false),
            deadline_hit: Cell::new(false),
            interrupted: Cell::new(false),
            scopes: RefCell::new(Vec::new()),
            coro: RefCell::new(None),
            pending: RefCell::new(None),
            stack_bytes,
            error: RefCell::new(None),
            successful: Cell::new(false),
            joiners: WaitQueue::default(),
            upper: RefCell::new(None),
            locals: RefCell::new(Vec::new()),
            exit_hooks: RefCell::new(Vec::new()),
            registry_key: Cell::new(usize::MAX),
        }
    }

    /// Adds a hook that runs when this task ends.
    pub(crate) fn add_exit_hook(&self, hook: Rc<dyn ExitHook>) {
        self.exit_hooks.borrow_mut().push(hook);
    }

    /// Removes a hook added with [`add_exit_hook`](Self::add_exit_hook)
    /// (the same `Rc`); a hook not found is ignored.
    pub(crate) fn remove_exit_hook(&self, hook: &Rc<dyn ExitHook>) {
        let mut hooks = self.exit_hooks.borrow_mut();
        if let Some(i) = hooks
            .iter()
            .position(|h| std::ptr::addr_eq(Rc::as_ptr(h), Rc::as_ptr(hook)))
        {
            hooks.swap_remove(i);
        }
    }

    /// Runs and forgets every exit hook.
    pub(crate) fn run_exit_hooks(&self) {
        let hooks = std::mem::take(&mut *self.exit_hooks.borrow_mut());
        for h in hooks {
            h.task_exited(self.id);
        }
    }

    /// The error a blocking call of this task must return right now, if
    /// any: kill first, then the outermost expired timeout scope, so an
    /// inner timeout can never hide an outer one.
    pub(crate) fn pending_interrupt(&self) -> Option<Error> {
        if self.killed.get() {
            return Some(Error::Killed);
        }
        let scopes = self.scopes.borrow();
        scopes.iter().find(|s| s.fired.get()).map(|s| s.error())
    }

    /// Human-readable name: `#id` or `#id (name)`.
    pub(crate) fn describe(&self) -> String {
        match &*self.name.borrow() {
            Some(n) => format!("#{} ({n})", self.id),
            None => format!("#{}", self.id),
        }
    }
}

/// A token that wakes one park of one task. Stale tokens (the task has
/// moved on to another park, or already woke) do nothing.
#[derive(Clone)]
pub(crate) struct Waiter {
    pub task: Rc<Task>,
    pub seq: u64,
}

impl Waiter {
    /// True while this token can still wake its park.
    pub(crate) fn is_live(&self) -> bool {
        self.task.park_seq.get() == self.seq && !self.task.woken.get()
    }

    /// Wakes the park this token belongs to. Returns false for a stale token.
    pub(crate) fn wake(&self) -> bool {
        if !self.is_live() {
            return false;
        }
        self.task.woken.set(true);
        super::make_ready(&self.task);
        true
    }
}

/// A FIFO of waiters (per direction, per object).
///
/// Most queues hold at most one waiter (a greenlet joined by one other, a
/// socket read by one greenlet), so the first waiter is stored inline and
/// only a second one allocates.
#[derive(Default)]
pub(crate) struct WaitQueue {
    inner: RefCell<Fifo>,
}

/// # Invariant
/// If `first` is `None`, the next waiter to pop is the front of `rest`; a
/// push goes to `first` only when both are empty, which keeps FIFO order.
#[derive(Default)]
struct Fifo {
    first: Option<Waiter>,
    rest: VecDeque<Waiter>,
}

impl Fifo {
    fn push(&mut self, w: Waiter) {
        if self.first.is_none() && self.rest.is_empty() {
            self.first = Some(w);
        } else {
            self.rest.push_back(w);
        }
    }

    fn pop(&mut self) -> Option<Waiter> {
        self.first.take().or_else(|| self.rest.pop_front())
    }
}

impl WaitQueue {
    /// Adds a waiter at the back.
    pub(crate) fn push(&self, w: Waiter) {
        self.inner.borrow_mut().push(w);
    }

    /// Wakes the first live waiter. Returns false if there was none.
    pub(crate) fn notify_one(&self) -> bool {
        loop {
            let w = self.inner.borrow_mut().pop();
            match w {
                None => return false,
                Some(w) => {
                    if w.wake() {
                        return true;
                    }
                }
            }
        }
    }

    /// Wakes every live waiter; returns how many woke.
    pub(crate) fn notify_all(&self) -> usize {
        let all: Vec<Waiter> = {
            let mut q = self.inner.borrow_mut();
            if q.first.is_none() && q.rest.is_empty() {
                return 0;
            }
            q.first.take().into_iter().chain(q.rest.drain(..)).collect()
        };
        all.iter().filter(|w| w.wake()).count()
    }

    /// True if no waiter, live or stale, is queued: a cheap check for hot
    /// paths (a stale entry only costs a spurious check later).
    pub(crate) fn has_entries(&self) -> bool {
        let q = self.inner.borrow();
        q.first.is_some() || !q.rest.is_empty()
    }

    /// True if a live waiter is queued (cheap when nobody ever queued).
    pub(crate) fn has_waiters(&self) -> bool {
        self.has_entries() && !self.is_empty()
    }

    /// True if no live waiter is queued (drops stale ones on the way).
    pub(crate) fn is_empty(&self) -> bool {
        let mut q = self.inner.borrow_mut();
        if q.first.as_ref().is_some_and(|w| !w.is_live()) {
            q.first = None;
        }
        q.rest.retain(|w| w.is_live());
        q.first.is_none() && q.rest.is_empty()
    }

    /// The first live waiter as (task id, park sequence), dropping stale
    /// ones on the way: two equal keys seen at two moments mean that
    /// waiter was not woken in between.
    pub(crate) fn front_key(&self) -> Option<(u64, u64)> {
        let mut q = self.inner.borrow_mut();
        loop {
            let w = q.first.as_ref().or_else(|| q.rest.front())?;
            if w.is_live() {
                return Some((w.task.id, w.seq));
            }
            let _ = q.pop();
        }
    }

    /// Parks the current greenlet in this queue until notified, `deadline`
    /// passes (then `Err(Timeout)`), or it is killed / its timeout scope
    /// fires. A waiter that was notified but leaves with an error passes
    /// the notification on, so no wakeup is ever lost.
    pub(crate) fn wait(&self, deadline: Option<super::Deadline>) -> crate::Result<()> {
        let waiter = super::waiter();
        self.push(waiter);
        let outcome = super::park(deadline);
        match outcome.result {
            Ok(super::Wake::Signaled) => Ok(()),
            Ok(super::Wake::Deadline) => Err(super::deadline_error(deadline)),
            Err(e) => {
                if outcome.signaled {
                    self.notify_one();
                }
                Err(e)
            }
        }
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        // A suspended (or never started) coroutine must be unwound at a
        // safe point of the hub loop, not in whatever code dropped the last
        // reference to its task. While the thread's locals are being torn
        // down there is no safe point left: leak it instead.
        if self.registry_key.get() != usize::MAX {
            let _ = super::try_with_hub(|hub| hub.unregister_task(self));
        }
        let hooks = std::mem::take(self.exit_hooks.get_mut());
        if !hooks.is_empty() {
            let id = self.id;
            let _ = super::try_with_hub(|hub| hub.orphan_hooks(id, hooks));
        }
        let mut coro = self.coro.get_mut().take();
        if coro.is_some() {
            let _ = super::try_with_hub(|hub| hub.bury(coro.take().expect("checked above")));
            if let Some(coro) = coro {
                std::mem::forget(coro);
            }
        }
    }
}
