//! The hub's timers: a deadline heap with lazy cancellation.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::time::Instant;

use super::task::Waiter;

/// What happens when a timer fires.
pub(crate) enum TimerAction {
    /// A park's own deadline: mark it and wake the task.
    Deadline(Waiter),
    /// Anything else (timeout scopes, `spawn_later`).
    Call(Box<dyn FnOnce()>),
}

/// Identifies an armed timer, for cancellation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TimerId(pub u64);

/// Timer ids are unique counters: hashing them is the identity.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A min-heap of deadlines. Cancelled timers are removed from `actions`
/// at once and their heap entries skipped when they surface.
///
/// # Invariant
/// Every key of `actions` has exactly one entry in `heap`.
#[derive(Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    actions: HashMap<u64, TimerAction, BuildHasherDefault<IdHasher>>,
    next_id: u64,
}

impl Timers {
    /// Arms a timer.
    pub(crate) fn add(&mut self, at: Instant, action: TimerAction) -> TimerId {
        self.next_id += 1;
        let id = self.next_id;
        self.heap.push(Reverse((at, id)));
        self.actions.insert(id, action);
        TimerId(id)
    }

    /// Disarms a timer; a no-op if it already fired.
    pub(crate) fn cancel(&mut self, id: TimerId) {
        if self.actions.remove(&id.0).is_some() && self.actions.is_empty() {
            // Nothing armed: drop the stale heap entries in one go.
            self.heap.clear();
        }
    }

    /// True if no timer is armed.
    pub(crate) fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// The earliest armed deadline.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(Reverse((at, id))) = self.heap.peek() {
            if self.actions.contains_key(id) {
                return Some(*at);
            }
            self.heap.pop();
        }
        None
    }

    /// Removes and returns one action due at `now`, if any.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<TimerAction> {
        while let Some(Reverse((at, id))) = self.heap.peek() {
            if *at > now {
                return None;
            }
            let id = *id;
            self.heap.pop();
            if let Some(action) = self.actions.remove(&id) {
                return Some(action);
            }
        }
        None
    }
}
