//! The interrupt primitive of the kernel: a timeout scope's shared state.
//! A task's active scopes are kept outermost first
//! ([`Task::scopes`](super::task::Task)); a fired one interrupts every
//! blocking call of the task ([`Task::pending_interrupt`]) until the
//! scope ends. The user's guard, `zgreen::Timeout`, lives above the
//! kernel, in `timeout.rs`.

use std::cell::{Cell, RefCell};
use std::rc::Weak;
use std::sync::Arc;
use std::time::Duration;

use super::TimerId;
use super::task::Task;
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
