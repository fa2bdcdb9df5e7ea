//! [`AsyncResult`]: a value (or an error) that will be set later, waited
//! on by greenlets, settable from other threads through an
//! [`AsyncResultSender`].

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::RemoteLink;
use super::error::TryGetError;
use crate::error::{Error, Result};
use crate::hub::task::{WaitQueue, Waiter};
use crate::hub::{self, Deadline, HubHandle, Wake};

type Shared<T> = Arc<Mutex<Option<Result<T>>>>;

struct ArState<T> {
    value: RefCell<Option<Result<T>>>,
    waiters: WaitQueue,
    /// Created by the first [`AsyncResult::sender`] call.
    remote: RefCell<Option<ArRemote<T>>>,
}

struct ArRemote<T> {
    link: RemoteLink,
    /// Written by other threads; moved into `value` by the hub's thread.
    shared: Shared<T>,
}

impl<T> ArState<T> {
    /// Moves a value set by another thread into `value`.
    fn absorb(&self) {
        let remote = self.remote.borrow();
        let Some(r) = &*remote else { return };
        // A poisoned lock means a sender panicked while storing: whatever
        // it holds is still a complete value.
        let taken = match r.shared.lock() {
            Ok(mut g) => g.take(),
            Err(p) => p.into_inner().take(),
        };
        if let Some(v) = taken {
            *self.value.borrow_mut() = Some(v);
        }
    }

    fn is_ready(&self) -> bool {
        self.absorb();
        self.value.borrow().is_some()
    }

    fn subscribe(&self, w: &Waiter) {
        self.waiters.push(w.clone());
        if let Some(r) = &*self.remote.borrow() {
            r.link.slot.waiters.push(w.clone());
        }
    }
}

/// A value that some greenlet (or thread) will provide later: a
/// one-place future (gevent's `AsyncResult`).
///
/// [`set`](Self::set) stores a value, [`set_error`](Self::set_error) an
/// error; either wakes every greenlet waiting in [`get`](Self::get) or
/// [`wait`](Self::wait), and they all see the same outcome. Setting again
/// replaces the outcome.
///
/// An `AsyncResult` is a cheap handle (clones share the outcome) and is
/// not `Send`. Another OS thread sets it through an [`AsyncResultSender`]
/// from [`sender`](Self::sender), which wakes the hub.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use zgreen::sync::AsyncResult;
///
/// let a = AsyncResult::new();
/// let setter = {
///     let a = a.clone();
///     zgreen::spawn(move || -> zgreen::Result<()> {
///         zgreen::sleep(Duration::from_millis(5))?;
///         a.set("Hello!");
///         Ok(())
///     })
/// };
/// assert_eq!(a.get().unwrap(), "Hello!");
/// setter.join().unwrap();
/// ```
pub struct AsyncResult<T> {
    state: Rc<ArState<T>>,
}

impl<T> Clone for AsyncResult<T> {
    fn clone(&self) -> Self {
        AsyncResult {
            state: self.state.clone(),
        }
    }
}

impl<T> Default for AsyncResult<T> {
    fn default() -> Self {
        AsyncResult::new()
    }
}

impl<T> fmt::Debug for AsyncResult<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncResult")
            .field("ready", &self.ready())
            .field("successful", &self.successful())
            .finish()
    }
}

impl<T> AsyncResult<T> {
    /// An empty result.
    pub fn new() -> AsyncResult<T> {
        AsyncResult {
            state: Rc::new(ArState {
                value: RefCell::new(None),
                waiters: WaitQueue::default(),
                remote: RefCell::new(None),
            }),
        }
    }

    /// Stores `value` and wakes every waiter.
    pub fn set(&self, value: T) {
        self.set_result(Ok(value));
    }

    /// Stores a failure (anything that converts into [`Error`], such as
    /// `Error::failed(my_error)` or an `io::Error`); `get` returns it to
    /// every waiter.
    pub fn set_error(&self, error: impl Into<Error>) {
        self.set_result(Err(error.into()));
    }

    /// Stores an outcome and wakes every waiter.
    pub fn set_result(&self, result: Result<T>) {
        let st = &self.state;
        *st.value.borrow_mut() = Some(result);
        st.waiters.notify_all();
        if let Some(r) = &*st.remote.borrow() {
            r.link.slot.waiters.notify_all();
        }
    }

    /// True once an outcome is stored (gevent's `ready()`).
    pub fn ready(&self) -> bool {
        self.state.is_ready()
    }

    /// True once a value (not an error) is stored.
    pub fn successful(&self) -> bool {
        self.state.absorb();
        matches!(&*self.state.value.borrow(), Some(Ok(_)))
    }

    /// The stored error, if the outcome is a failure (gevent's
    /// `exception`).
    pub fn exception(&self) -> Option<Error> {
        self.state.absorb();
        match &*self.state.value.borrow() {
            Some(Err(e)) => Some(e.clone()),
            _ => None,
        }
    }

    /// Waits until an outcome is stored, without reading it.
    pub fn wait(&self) -> Result<()> {
        self.wait_until(None)
    }

    /// [`wait`](Self::wait), failing with `Error::Timeout` after `timeout`
    /// (gevent's `wait(timeout)` returns `None` instead).
    pub fn wait_timeout(&self, timeout: Duration) -> Result<()> {
        self.wait_until(Some(Deadline::after(timeout)))
    }

    /// [`wait`](Self::wait), failing with `Error::Timeout` at `deadline`.
    pub fn wait_deadline(&self, deadline: Instant) -> Result<()> {
        self.wait_until(Some(Deadline::at(deadline)))
    }

    fn wait_until(&self, d: Option<Deadline>) -> Result<()> {
        hub::check_interrupt()?;
        loop {
            if self.state.is_ready() {
                return Ok(());
            }
            let w = hub::waiter();
            self.state.subscribe(&w);
            match hub::park(d).result? {
                Wake::Signaled => {}
                Wake::Deadline => {
                    if self.state.is_ready() {
                        return Ok(());
                    }
                    return Err(hub::deadline_error(d));
                }
            }
        }
    }

    pub(crate) fn subscribe(&self, w: &Waiter) {
        self.state.subscribe(w);
    }
}

impl<T: Clone> AsyncResult<T> {
    /// Waits for the outcome and returns it: the value, or the stored
    /// error. Fails with `Killed` or a timeout error if the caller is
    /// killed or its `Timeout` scope expires first.
    pub fn get(&self) -> Result<T> {
        self.get_until(None)
    }

    /// [`get`](Self::get), failing with `Error::Timeout` after `timeout`.
    pub fn get_timeout(&self, timeout: Duration) -> Result<T> {
        self.get_until(Some(Deadline::after(timeout)))
    }

    /// [`get`](Self::get), failing with `Error::Timeout` at `deadline`.
    pub fn get_deadline(&self, deadline: Instant) -> Result<T> {
        self.get_until(Some(Deadline::at(deadline)))
    }

    fn get_until(&self, d: Option<Deadline>) -> Result<T> {
        self.wait_until(d)?;
        self.peek().expect("an outcome is stored once wait returns")
    }

    /// The outcome if it is stored, without blocking (gevent's
    /// `get_nowait`): the value, [`TryGetError::Empty`] while nothing is
    /// stored, or [`TryGetError::Failed`] with the stored error.
    ///
    /// ```
    /// use zgreen::sync::{AsyncResult, TryGetError};
    ///
    /// let r = AsyncResult::new();
    /// assert!(matches!(r.try_get(), Err(TryGetError::Empty)));
    /// r.set(7);
    /// assert_eq!(r.try_get().unwrap(), 7);
    /// ```
    pub fn try_get(&self) -> std::result::Result<T, TryGetError> {
        match self.peek() {
            None => Err(TryGetError::Empty),
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => Err(TryGetError::Failed(e)),
        }
    }

    /// The value, if a value (not an error) is stored.
    pub fn value(&self) -> Option<T> {
        self.peek().and_then(|r| r.ok())
    }

    fn peek(&self) -> Option<Result<T>> {
        self.state.absorb();
        self.state.value.borrow().clone()
    }
}

impl<T: Send + 'static> AsyncResult<T> {
    /// A thread-safe handle that sets this result from any OS thread,
    /// waking this thread's hub (gevent's cross-thread `set`).
    ///
    /// ```
    /// use zgreen::sync::AsyncResult;
    ///
    /// let a = AsyncResult::new();
    /// let tx = a.sender();
    /// std::thread::spawn(move || tx.set(42));
    /// assert_eq!(a.get().unwrap(), 42);
    /// ```
    pub fn sender(&self) -> AsyncResultSender<T> {
        let st = &self.state;
        let mut remote = st.remote.borrow_mut();
        let r = remote.get_or_insert_with(|| ArRemote {
            link: RemoteLink::new(),
            shared: Arc::new(Mutex::new(None)),
        });
        let sender = AsyncResultSender {
            shared: r.shared.clone(),
            key: r.link.key,
            handle: hub::with_hub(|h| h.handle()),
        };
        drop(remote);
        // Greenlets already waiting subscribed before the slot existed:
        // wake them so they subscribe to it too.
        st.waiters.notify_all();
        sender
    }
}

/// Sets an [`AsyncResult`] from any OS thread (obtained with
/// [`AsyncResult::sender`]). While a sender exists, the result's hub does
/// not report [`WouldBlockForever`](crate::Error::WouldBlockForever).
pub struct AsyncResultSender<T> {
    shared: Shared<T>,
    key: u64,
    handle: HubHandle,
}

impl<T> Clone for AsyncResultSender<T> {
    fn clone(&self) -> Self {
        AsyncResultSender {
            shared: self.shared.clone(),
            key: self.key,
            handle: self.handle.clone(),
        }
    }
}

impl<T> fmt::Debug for AsyncResultSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncResultSender")
            .field("key", &self.key)
            .finish()
    }
}

impl<T: Send> AsyncResultSender<T> {
    /// Stores `value` and wakes the result's waiters. Returns false if the
    /// result's hub (its thread) is gone.
    pub fn set(&self, value: T) -> bool {
        self.set_result(Ok(value))
    }

    /// Stores a failure.
    pub fn set_error(&self, error: impl Into<Error>) -> bool {
        self.set_result(Err(error.into()))
    }

    /// Stores an outcome and wakes the result's waiters.
    pub fn set_result(&self, result: Result<T>) -> bool {
        match self.shared.lock() {
            Ok(mut g) => *g = Some(result),
            Err(p) => *p.into_inner() = Some(result),
        }
        self.handle.notify(self.key)
    }
}
