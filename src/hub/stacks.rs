//! Pooled coroutine stacks.
//!
//! A fresh `mmap`ed stack with its guard page costs ~20 µs; a finished
//! coroutine is kept and re-initialised with the next greenlet's body
//! instead, which costs well under a microsecond.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::panic::quietly;
use super::task::Gen;
use crate::error::Error;

/// Carries a greenlet body into the `generator` API, which asks for `Send`
/// because its generators may be moved between threads.
///
/// # Invariant
/// The coroutine (and so the body) never leaves the thread that created
/// it: coroutines live in their hub's thread-local state, tasks are `Rc`,
/// and nothing hands a `Gen` to another thread.
struct AssertSend<F>(F);

// SAFETY: see the type's invariant: the wrapped body is created, run and
// dropped on one thread, so no `!Send` value it captures is ever accessed
// from another thread.
unsafe impl<F> Send for AssertSend<F> {}

impl<F: FnOnce() + 'static> AssertSend<F> {
    /// The body as a `Send` closure (the closure captures the whole
    /// wrapper, not just its field).
    fn into_fn(self) -> impl FnOnce() + Send + 'static {
        move || {
            let this = self;
            (this.0)()
        }
    }
}

/// Finished coroutines waiting for reuse, by usable stack size.
#[derive(Default)]
pub(crate) struct StackPool {
    idle: HashMap<usize, Vec<Gen>>,
    idle_count: usize,
    /// Coroutines handed out and not yet returned.
    pub live: usize,
}

/// A non-null marker stored as the generator's local data. Its presence
/// turns the generator into a "coroutine" for the `generator` crate: it can
/// yield from any call depth (`co_yield_with`) and its panics are not
/// re-raised in the hub.
static COROUTINE_MARK: u8 = 0;

impl StackPool {
    /// A coroutine ready to run `body` on a stack of `stack_bytes`.
    pub(crate) fn get<F: FnOnce() + 'static>(&mut self, stack_bytes: usize, body: F) -> Result<Gen, Error> {
        if let Some(mut g) = self.idle.get_mut(&stack_bytes).and_then(|v| v.pop()) {
            self.idle_count -= 1;
            g.init_code(AssertSend(body).into_fn());
            self.live += 1;
            return Ok(g);
        }
        let words = stack_bytes / std::mem::size_of::<usize>();
        // `generator` panics when mmap/mprotect fail (ENOMEM from
        // vm.max_map_count or RLIMIT_AS): turn that into an error.
        let made = quietly(|| {
            catch_unwind(AssertUnwindSafe(move || {
                generator::Gn::<()>::new_opt(words, AssertSend(body).into_fn())
            }))
        });
        match made {
            Ok(mut g) => {
                g.set_local_data(std::ptr::from_ref(&COROUTINE_MARK).cast_mut());
                self.live += 1;
                Ok(g)
            }
            Err(payload) => Err(Error::StackAlloc {
                stack_bytes,
                cause: super::panic::payload_message(payload.as_ref()),
                live: self.live,
            }),
        }
    }

    /// Takes back a finished coroutine; keeps it if the pool has room.
    pub(crate) fn put(&mut self, coro: Gen, stack_bytes: usize, max_idle: usize) {
        self.live -= 1;
        if self.idle_count < max_idle {
            self.idle_count += 1;
            self.idle.entry(stack_bytes).or_default().push(coro);
        }
    }

    /// Forgets a coroutine that cannot be reused (it overflowed).
    pub(crate) fn discard(&mut self) {
        self.live -= 1;
    }

    /// Number of idle pooled stacks.
    pub(crate) fn idle(&self) -> usize {
        self.idle_count
    }

    /// Frees every idle stack.
    pub(crate) fn clear(&mut self) {
        self.idle.clear();
        self.idle_count = 0;
    }
}
