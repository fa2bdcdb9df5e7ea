//! The interrupt primitive of the kernel: a timeout scope's shared state.
//! A task's active scopes are kept outermost first
//! ([`Task::scopes`](super::task::Task)); a fired one interrupts every
//! blocking call of the task ([`Task::pending_interrupt`]) until the
//! scope ends. The user's guard, `zgreen::Timeout`, lives above the
//! kernel, in `timeout.rs`.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::time::Duration;

use super::TimerId;
use super::task::{State, Task};
use crate::error::{Error, TimeoutError};

/// The shared state of a timeout scope.
pub(crate) struct TimeoutState {
    pub(crate) id: u64,
    pub(crate) after: Duration,
    pub(crate) payload: Option<Arc<dyn std::error::Error + Send + Sync>>,
    pub(crate) owner: RefCell<Weak<Task>>,
    pub(crate) fired: Cell<bool>,
    pub(crate) timer: Cell<Option<TimerId>>,
}

impl TimeoutState {
    /// The error blocking calls return once this scope expired.
    pub(crate) fn error(&self) -> Error {
        Error::Timeout(TimeoutError {
            id: self.id,
            after: self.after,
            payload: self.payload.clone(),
        })
    }
}

/// Requests that `task` be killed (the one place a kill changes a task's
/// state): an unstarted or scheduled task dies at once without running;
/// a parked or ready one is interrupted, so its blocking call returns
/// [`Error::Killed`]; the running one (the caller itself) gets the error
/// from its next blocking call. A dead task is left alone.
pub(crate) fn kill(task: &Rc<Task>) {
    match task.state.get() {
        State::Dead => {}
        State::Unstarted | State::Scheduled => {
            task.killed.set(true);
            task.pending.borrow_mut().take();
            *task.error.borrow_mut() = Some(Error::Killed);
            task.state.set(State::Dead);
            let coro = task.coro.borrow_mut().take();
            super::with_hub(|h| {
                if let Some(coro) = coro {
                    h.bury(coro);
                }
                h.finish(task);
            });
        }
        State::Running => task.killed.set(true),
        State::Parked | State::Ready => {
            task.killed.set(true);
            super::interrupt(task);
        }
    }
    if task.id == 0 {
        task.killed.set(true);
    }
}

/// Kills every live greenlet of this hub except the caller (the hub's
/// shutdown). Greenlets spawned after this call are not affected.
pub(crate) fn kill_all() {
    let me = super::current_task();
    let tasks = super::with_hub(|h| h.live_tasks());
    for t in tasks.iter().filter(|t| !Rc::ptr_eq(t, &me)) {
        kill(t);
    }
}
