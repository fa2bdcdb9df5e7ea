//! # zgreen
//!
//! gevent's programming model in Rust, built around ZeroMQ.
//!
//! Greenlets are stackful coroutines (from the `generator` crate) driven by
//! one hub per OS thread, a `mio` event loop with timers and a cross-thread
//! waker. Blocking calls park the calling greenlet instead of the thread,
//! so code reads like blocking code and runs like an event loop. Calling a
//! blocking function from plain `main()` runs the hub until it returns: no
//! `run` wrapper is needed.
//!
//! ```
//! use std::time::Duration;
//!
//! let a = zgreen::spawn(|| {
//!     zgreen::sleep(Duration::from_millis(20)).unwrap();
//!     "slow"
//! });
//! let b = zgreen::spawn(|| "fast");
//! zgreen::joinall([a.any(), b.any()]).unwrap();
//! assert_eq!((a.get().unwrap(), b.get().unwrap()), ("slow", "fast"));
//! ```
//!
//! Many cores are many hubs: [`runtime::Runtime`] runs N hubs on N
//! threads, [`chan`] carries `Send` values between them, and
//! `net::serve_each` serves one address from every hub (the model is in
//! `docs/multicore.md`). Greenlets never migrate between threads.
//!
//! Blocking calls return [`Result`]: timeouts ([`Timeout`], `*_timeout`
//! methods) and kills surface as [`Error`] values at the blocking point,
//! and a panic stays inside its greenlet.
//!
//! # One naming scheme for blocking calls
//!
//! Every type (greenlets, groups and pools, events, async results, locks,
//! semaphores, queues and channels, actors, ZeroMQ sockets and monitors,
//! listeners, child processes, relays, WebSockets, thread-pool results,
//! channels between hubs ([`chan`]) and greenlets of other hubs
//! ([`runtime::Spawned`]))
//! names its blocking operations the same way:
//!
//! | form | meaning |
//! |---|---|
//! | `x(..)` | blocks: parks the greenlet (runs the hub, from the root) until done, killed, or an enclosing [`Timeout`] fires |
//! | `x_timeout(.., Duration)` | the same, failing with [`Error::Timeout`] once the duration has passed |
//! | `x_deadline(.., Instant)` | the same, failing with [`Error::Timeout`] at the instant |
//! | `try_x(..)` | never parks; `Result<T, TryXError>`, whose error hands the payload back where there is one ([`queue::TryPutError`], [`TrySendError`]) |
//!
//! For example [`AnyGreenlet::join`] / `join_timeout` / `join_deadline`,
//! [`queue::Queue::put`] / `put_timeout` / `put_deadline` / `try_put`,
//! [`sync::Lock::acquire`] / ... / `try_acquire` →
//! `Result<LockGuard, TryAcquireError>`. Errors are typed variants
//! ([`Error::Closed`] with a [`Closed`] kind, [`Error::NeedsReset`] with a
//! [`ResetReason`]), never free text to compare.
//!
//! Exceptions, each for a reason:
//!
//! * [`wait_timeout`] / [`iwait_timeout`] (and their `_deadline` forms)
//!   return the objects ready by then instead of failing: reporting which
//!   are ready is their whole job (gevent's `wait(timeout=)`).
//! * [`JoinAll`]'s `timeout` / `deadline` options likewise return the
//!   greenlets finished by then ([`joinall_with`]).
//! * Green streams, pipes and UDP sockets implement std's `Read` / `Write`;
//!   their timeouts are std's `set_read_timeout` / `set_write_timeout`
//!   (a ZeroMQ socket's `set_recv_timeout` / `set_send_timeout` likewise
//!   set a default deadline for calls without one).
//! * [`sleep`] takes the time to sleep itself, so it has no `_timeout`.
//! * [`try_spawn`] and [`AnyGreenlet::try_start`] are the fallible forms of
//!   calls that never park (std's `try_reserve` sense): they fail only
//!   with [`Error::StackAlloc`].
//! * [`AnyGreenlet::kill_nowait`] requests a kill and returns (gevent's
//!   `kill(block=False)`); it cannot fail, so it has no `try_` form.
//! * `WebSocket::send_or_disconnect` does not wait for room in a full
//!   send queue: it drops the slow client instead, so it is not a `try_`.
#![deny(missing_docs, missing_debug_implementations, rust_2018_idioms)]
#![warn(clippy::undocumented_unsafe_blocks)]
// Kernel and sys helpers serve the optional layers: in a build without some
// of them, the helpers only those layers use are unused. The full build
// (the one clippy checks with -D warnings) keeps dead code an error.
#![cfg_attr(
    not(all(feature = "zmq", feature = "net", feature = "process", feature = "http")),
    allow(dead_code)
)]

pub mod actor;
pub mod chan;
pub mod config;
mod error;
mod greenlet;
#[cfg(feature = "http")]
pub mod http;
mod hub;
pub mod local;
#[cfg(feature = "net")]
pub mod net;
pub mod pool;
#[cfg(feature = "process")]
pub mod process;
pub mod queue;
pub mod runtime;
mod signal;
/// The supertrait that seals zgreen's marker traits ([`net::Family`],
/// [`sync::BoundKind`]): public in name so they can use it, but
/// unreachable, so no other crate can implement them.
mod sealed {
    /// Implemented only inside zgreen.
    pub trait Sealed {}
}
pub mod sync;
mod sys;
pub mod threadpool;
mod timeout;
mod wait;
#[cfg(feature = "zmq")]
pub mod zmq;

use std::time::Duration;

pub use crate::error::{
    Closed, Error, ItemError, PanicError, ResetReason, Result, TimeoutError, TryRecvError, TrySendError,
};
pub use crate::greenlet::{
    AnyGreenlet, Builder, Greenlet, JoinAll, LinkId, Run, current, idle, joinall, joinall_with, killall,
    killall_deadline, killall_timeout, sleep, spawn, spawn_later, try_spawn,
};
pub use crate::hub::HubHandle;
pub use crate::hub::monitor::BlockingReport;
pub use crate::signal::{SignalHandler, signal_handler};
pub use crate::timeout::{Timeout, with_timeout, with_timeout_or};
pub use crate::wait::{
    IWait, Tagged, WaitToken, Waitable, iwait, iwait_deadline, iwait_timeout, wait, wait_deadline,
    wait_timeout,
};

/// A handle that wakes this thread's hub from other threads (and runs
/// closures on it with [`HubHandle::spawn`]).
pub fn hub_handle() -> HubHandle {
    hub::with_hub(|h| h.handle())
}

/// Counters of this thread's hub.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HubStats {
    /// Greenlets that hold a stack (started, not finished).
    pub live_greenlets: usize,
    /// Finished stacks kept for reuse.
    pub pooled_stacks: usize,
    /// Switches into greenlets so far.
    pub switches: u64,
}

/// This thread's hub counters.
pub fn hub_stats() -> HubStats {
    hub::with_hub(|h| HubStats {
        live_greenlets: h.live_greenlets(),
        pooled_stacks: h.pooled_stacks(),
        switches: h.switch_count(),
    })
}

/// Frees the finished stacks this thread's hub keeps for reuse.
pub fn release_pooled_stacks() {
    hub::with_hub(|h| h.clear_stack_pool());
}

/// Starts (or, with `None`, stops) the blocking monitor of this thread's
/// hub: a watchdog thread that reports, as a `tracing` warning and in
/// [`blocking_reports`], every time a greenlet runs longer than `threshold`
/// without switching (gevent's `max_blocking_time`). The root context
/// (plain `main()`, reported as greenlet 0) is watched too, between its
/// blocking calls, as gevent's monitor watches the main greenlet.
pub fn set_blocking_monitor(threshold: Option<Duration>) {
    hub::with_hub(|h| {
        let current = h.current();
        h.set_monitor(threshold.map(|t| hub::monitor::Monitor::start(t, &current)));
    });
}

/// The blocking monitor's reports so far on this thread's hub (most recent
/// last, at most 64).
pub fn blocking_reports() -> Vec<BlockingReport> {
    hub::with_hub(|h| {
        h.monitor
            .borrow()
            .as_ref()
            .map(|m| m.reports())
            .unwrap_or_default()
    })
}
