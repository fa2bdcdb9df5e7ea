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
                Ok(release_sentinel_page(g, stack_bytes).0)
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
        } else {
            retire(coro);
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
        for (_, v) in self.idle.drain() {
            v.into_iter().for_each(retire);
        }
        self.idle_count = 0;
    }
}

/// The marker `generator` writes at the bottom of every new stack for its
/// (unused here) stack-usage estimate.
const STACK_SENTINEL: usize = 0xDEAD_BEEF;

/// Gives back to the kernel the lowest page of a fresh stack.
///
/// `generator` writes eight sentinel words at the bottom of each new stack,
/// which makes that page resident although no frame ever reaches it: half
/// of a parked greenlet's memory. The page is found from the generator's
/// own header, which lives in the top page of its stack (the stack spans
/// `stack_bytes` below the top of that page), and released only if it is
/// resident and holds exactly the sentinel, so a miscalculation can only
/// make this a no-op. Since the sentinel is gone afterwards, coroutines are
/// never dropped directly but through [`retire`], whose drop skips the
/// sentinel check. Returns whether the page was found and released: this
/// relies on `generator`'s private stack layout, which the test
/// `generator_stack_layout_is_the_one_the_sentinel_release_expects`
/// checks, so an update of `generator` that changes it fails loudly.
fn release_sentinel_page(coro: Gen, stack_bytes: usize) -> (Gen, bool) {
    let page = page_size();
    let raw = coro.into_raw();
    let top = (raw as usize | (page - 1)) + 1;
    let mut released = false;
    if let Some(bottom) = top.checked_sub(stack_bytes) {
        let mut resident = 0u8;
        // SAFETY: mincore only inspects the page table for one page; an
        // unmapped address yields an error, not a fault.
        let rc = unsafe { libc::mincore(bottom as *mut libc::c_void, page, &mut resident) };
        if rc == 0 && resident & 1 == 1 {
            // SAFETY: the page is resident, hence mapped and readable (the
            // guard page is PROT_NONE and never resident); we read 8 words
            // inside it.
            let words = unsafe { std::slice::from_raw_parts(bottom as *const usize, 8) };
            if words.iter().all(|w| *w == STACK_SENTINEL) {
                // SAFETY: the page belongs to this coroutine's stack, which
                // has not run yet: only the sentinel lives there.
                let rc = unsafe { libc::madvise(bottom as *mut libc::c_void, page, libc::MADV_DONTNEED) };
                released = rc == 0;
            }
        }
    }
    // SAFETY: `raw` came from `into_raw` just above and is reconstructed
    // once, with the same type.
    (unsafe { Gen::from_raw(raw) }, released)
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 { n as usize } else { 4096 }
}

/// Drops a coroutine without `generator`'s drop-time stack-usage check
/// (which reads the sentinel [`release_sentinel_page`] discarded): a
/// suspended body is unwound first, then a no-op body is installed, and a
/// generator that has not started is dropped without the check.
pub(crate) fn retire(mut coro: Gen) {
    coro.init_code(|| {});
    drop(coro);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `release_sentinel_page` reads `generator`'s private stack layout
    /// (its header in the top page, eight sentinel words at the bottom of
    /// the stack). If an update of `generator` changes that layout, the
    /// release silently becomes a no-op and every parked greenlet costs a
    /// page more: this test makes that a failure instead.
    #[test]
    fn generator_stack_layout_is_the_one_the_sentinel_release_expects() {
        for stack_bytes in [16 * 1024, 64 * 1024, 256 * 1024] {
            let words = stack_bytes / std::mem::size_of::<usize>();
            let g: Gen = generator::Gn::<()>::new_opt(words, || {});
            let (g, released) = release_sentinel_page(g, stack_bytes);
            retire(g);
            assert!(
                released,
                "the sentinel page of a fresh {stack_bytes}-byte generator stack was not found: \
                 `generator`'s stack layout changed (see release_sentinel_page)"
            );
        }
    }
}
