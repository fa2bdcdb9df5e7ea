//! `Timeout`: a scope guard that makes the blocking calls of one greenlet
//! fail once a duration has passed, and `with_timeout`.
//!
//! # Semantics
//!
//! * A started `Timeout` belongs to the greenlet that started it. When it
//!   expires, that greenlet's current blocking call (or its next one)
//!   returns `Err(Error::Timeout(..))` whose [`TimeoutError::id`](crate::error::TimeoutError::id) is the
//!   scope's [`id`](Timeout::id); [`Timeout::is`] tells whether an error is
//!   this scope's.
//! * Expiry is sticky while the scope is active: every later blocking call
//!   inside it fails the same way, so code that ignores the error cannot
//!   overrun its budget.
//! * Scopes nest exactly: when several have expired, blocking calls report
//!   the *outermost* one, so an inner handler can never swallow an outer
//!   timeout.
//! * Dropping the guard (leaving the scope) cancels its timer.

use std::cell::Cell;
use std::fmt;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::hub::interrupt::TimeoutState;
use crate::hub::{self, TimerAction, with_hub};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A timeout scope (gevent's `Timeout`).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use zgreen::Timeout;
///
/// let t = Timeout::start_new(Duration::from_millis(10));
/// let err = zgreen::sleep(Duration::from_secs(10)).unwrap_err();
/// assert!(t.is(&err));
/// ```
///
/// A custom error, like the tutorial's `TooLong`:
///
/// ```
/// use std::time::Duration;
///
/// #[derive(Debug)]
/// struct TooLong;
/// impl std::fmt::Display for TooLong {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("too long")
///     }
/// }
/// impl std::error::Error for TooLong {}
///
/// let _t = zgreen::Timeout::with_error(Duration::from_millis(5), TooLong).start();
/// let err = zgreen::sleep(Duration::from_secs(10)).unwrap_err();
/// assert!(err.timeout_payload::<TooLong>().is_some());
/// ```
#[must_use = "a Timeout is cancelled when dropped"]
pub struct Timeout {
    state: Rc<TimeoutState>,
}

impl fmt::Debug for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("id", &self.state.id)
            .field("after", &self.state.after)
            .field("pending", &self.pending())
            .field("expired", &self.expired())
            .finish()
    }
}

impl Timeout {
    /// A timeout of `after`, not started yet.
    pub fn new(after: Duration) -> Timeout {
        Timeout::build(after, None)
    }

    /// A timeout whose error carries `payload` (see
    /// [`Error::timeout_payload`]), not started yet.
    pub fn with_error<E: std::error::Error + Send + Sync + 'static>(after: Duration, payload: E) -> Timeout {
        Timeout::build(after, Some(Arc::new(payload)))
    }

    fn build(after: Duration, payload: Option<Arc<dyn std::error::Error + Send + Sync>>) -> Timeout {
        Timeout {
            state: Rc::new(TimeoutState {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                after,
                payload,
                owner: std::cell::RefCell::new(Weak::new()),
                fired: Cell::new(false),
                timer: Cell::new(None),
            }),
        }
    }

    /// Creates and starts a timeout in one step (gevent's
    /// `Timeout.start_new`).
    pub fn start_new(after: Duration) -> Timeout {
        Timeout::new(after).start()
    }

    /// Arms the timeout for the current greenlet and returns it (so
    /// `let t = Timeout::new(d).start();` reads like gevent). Starting an
    /// armed timeout does nothing; starting one that was cancelled or
    /// expired re-arms it.
    pub fn start(self) -> Timeout {
        self.arm();
        self
    }

    fn arm(&self) {
        let st = &self.state;
        if st.timer.get().is_some() {
            return;
        }
        st.fired.set(false);
        let task = hub::current_task();
        *st.owner.borrow_mut() = Rc::downgrade(&task);
        task.scopes.borrow_mut().push(st.clone());
        let weak = Rc::downgrade(st);
        let at = Instant::now() + st.after;
        let id = with_hub(|h| {
            h.add_timer(
                at,
                TimerAction::Call(Box::new(move || {
                    if let Some(st) = weak.upgrade() {
                        st.timer.set(None);
                        st.fired.set(true);
                        if let Some(task) = st.owner.borrow().upgrade() {
                            hub::interrupt(&task);
                        }
                    }
                })),
            )
        });
        st.timer.set(Some(id));
    }

    /// Disarms the timeout and leaves its scope. Whether it had expired
    /// stays visible through [`expired`](Self::expired).
    pub fn cancel(&self) {
        let st = &self.state;
        if let Some(id) = st.timer.take() {
            let _ = hub::try_with_hub(|h| h.cancel_timer(id));
        }
        let owner = st.owner.replace(Weak::new());
        if let Some(task) = owner.upgrade() {
            task.scopes.borrow_mut().retain(|s| !Rc::ptr_eq(s, st));
        }
    }

    /// True if `err` is this scope's timeout.
    pub fn is(&self, err: &Error) -> bool {
        matches!(err, Error::Timeout(t) if t.id == self.state.id)
    }

    /// The scope's id (as found in [`TimeoutError::id`](crate::error::TimeoutError::id)).
    pub fn id(&self) -> u64 {
        self.state.id
    }

    /// True while armed and not expired.
    pub fn pending(&self) -> bool {
        self.state.timer.get().is_some()
    }

    /// True once the timeout has expired.
    pub fn expired(&self) -> bool {
        self.state.fired.get()
    }

    /// The configured duration.
    pub fn duration(&self) -> Duration {
        self.state.after
    }
}

impl Drop for Timeout {
    fn drop(&mut self) {
        self.cancel();
    }
}

/// Runs `f` under a timeout of `after` (gevent's `with_timeout`). Blocking
/// calls inside `f` fail with a timeout error once `after` has passed; `f`
/// normally returns that error with `?`, and it comes back from here.
///
/// ```
/// use std::time::Duration;
/// let r = zgreen::with_timeout(Duration::from_millis(10), || {
///     zgreen::sleep(Duration::from_secs(5))
/// });
/// assert!(r.unwrap_err().is_timeout());
/// ```
pub fn with_timeout<R>(after: Duration, f: impl FnOnce() -> Result<R>) -> Result<R> {
    let _t = Timeout::start_new(after);
    f()
}

/// Like [`with_timeout`], but returns `default` if this very timeout
/// expired (gevent's `timeout_value`). Other errors, including an outer
/// timeout, are returned unchanged.
pub fn with_timeout_or<R>(after: Duration, default: R, f: impl FnOnce() -> Result<R>) -> Result<R> {
    let t = Timeout::start_new(after);
    match f() {
        Err(e) if t.is(&e) => Ok(default),
        other => other,
    }
}
