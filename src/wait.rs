//! Waiting on several things at once (gevent's `wait` and `iwait`):
//! greenlets, events, async results, queues and semaphores, mixed.

use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::greenlet::{AnyGreenlet, Greenlet};
use crate::hub::task::Waiter;
use crate::hub::{self, Deadline, Wake};
use crate::queue::{GenericQueue, Order};
use crate::sync::{AsyncResult, BoundKind, Event, GenericSemaphore};

/// An opaque token that wakes one waiting greenlet; handed to
/// [`Waitable::subscribe`].
pub struct WaitToken(pub(crate) Waiter);

impl fmt::Debug for WaitToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitToken")
            .field("greenlet", &self.0.task.id)
            .finish()
    }
}

/// Something [`wait`] and [`iwait`] can wait on.
///
/// zgreen implements it for greenlets (ready once dead), [`Event`] (set),
/// [`AsyncResult`] (an outcome stored), the queues (a `get` would not
/// park, or the queue is shut down) and semaphores (a permit is free). It
/// can be implemented for your own types by delegating to one of those.
pub trait Waitable {
    /// True if the thing is ready now. It may wake other greenlets that
    /// can proceed (a socket's check reads `ZMQ_EVENTS`, which passes a
    /// notification on), never consume what it reports.
    fn is_ready(&self) -> bool;

    /// Arranges for `token` to be woken when the thing may have become
    /// ready. Spurious wakeups are allowed: the waiter checks
    /// [`is_ready`](Self::is_ready) again.
    fn subscribe(&self, token: &WaitToken);
}

impl Waitable for AnyGreenlet {
    fn is_ready(&self) -> bool {
        self.ready()
    }
    fn subscribe(&self, token: &WaitToken) {
        self.task.joiners.push(token.0.clone());
    }
}

impl<T> Waitable for Greenlet<T> {
    fn is_ready(&self) -> bool {
        self.ready()
    }
    fn subscribe(&self, token: &WaitToken) {
        self.task.joiners.push(token.0.clone());
    }
}

impl Waitable for Event {
    fn is_ready(&self) -> bool {
        self.is_set()
    }
    fn subscribe(&self, token: &WaitToken) {
        Event::subscribe(self, &token.0);
    }
}

impl<T> Waitable for AsyncResult<T> {
    fn is_ready(&self) -> bool {
        self.ready()
    }
    fn subscribe(&self, token: &WaitToken) {
        AsyncResult::subscribe(self, &token.0);
    }
}

impl<T, O: Order<T>> Waitable for GenericQueue<T, O> {
    fn is_ready(&self) -> bool {
        self.ready_for_get()
    }
    fn subscribe(&self, token: &WaitToken) {
        GenericQueue::subscribe(self, &token.0);
    }
}

impl<K: BoundKind> Waitable for GenericSemaphore<K> {
    fn is_ready(&self) -> bool {
        self.available_permits() > 0
    }
    fn subscribe(&self, token: &WaitToken) {
        self.state.available.push(token.0.clone());
    }
}

impl<W: Waitable + ?Sized> Waitable for &W {
    fn is_ready(&self) -> bool {
        (**self).is_ready()
    }
    fn subscribe(&self, token: &WaitToken) {
        (**self).subscribe(token)
    }
}

impl<W: Waitable + ?Sized> Waitable for Rc<W> {
    fn is_ready(&self) -> bool {
        (**self).is_ready()
    }
    fn subscribe(&self, token: &WaitToken) {
        (**self).subscribe(token)
    }
}

impl<W: Waitable + ?Sized> Waitable for Box<W> {
    fn is_ready(&self) -> bool {
        (**self).is_ready()
    }
    fn subscribe(&self, token: &WaitToken) {
        (**self).subscribe(token)
    }
}

/// Yields each object as it becomes ready (gevent's `iwait`); objects
/// that are ready at the same time come out in the order given.
///
/// The iteration ends when every object was yielded, or when `timeout`
/// (if any) has passed since the call, as gevent's does. If the waiting
/// greenlet is killed or its `Timeout` scope expires, that error is
/// yielded once and the iteration ends.
///
/// ```
/// use std::time::Duration;
/// use zgreen::Tagged;
/// use zgreen::sync::Event;
///
/// let (slow, fast) = (Event::new(), Event::new());
/// {
///     let (slow, fast) = (slow.clone(), fast.clone());
///     zgreen::spawn(move || -> zgreen::Result<()> {
///         fast.set();
///         zgreen::sleep(Duration::from_millis(5))?;
///         slow.set();
///         Ok(())
///     });
/// }
/// let order: Vec<&str> = zgreen::iwait([Tagged("slow", &slow), Tagged("fast", &fast)])
///     .map(|r| r.unwrap().0)
///     .collect();
/// assert_eq!(order, ["fast", "slow"]);
/// ```
pub fn iwait<I>(objects: I) -> IWait<I::Item>
where
    I: IntoIterator,
    I::Item: Waitable,
{
    iwait_until(objects, None)
}

/// [`iwait`], ending (without an error) once `timeout` has passed: the
/// objects not ready by then are not yielded.
pub fn iwait_timeout<I>(objects: I, timeout: Duration) -> IWait<I::Item>
where
    I: IntoIterator,
    I::Item: Waitable,
{
    iwait_until(objects, Some(Deadline::after(timeout)))
}

/// [`iwait`], ending (without an error) at `deadline`.
pub fn iwait_deadline<I>(objects: I, deadline: Instant) -> IWait<I::Item>
where
    I: IntoIterator,
    I::Item: Waitable,
{
    iwait_until(objects, Some(Deadline::at(deadline)))
}

fn iwait_until<I>(objects: I, deadline: Option<Deadline>) -> IWait<I::Item>
where
    I: IntoIterator,
    I::Item: Waitable,
{
    let pending: Vec<Option<I::Item>> = objects.into_iter().map(Some).collect();
    IWait {
        left: pending.len(),
        pending,
        deadline,
        expired: false,
        ended: false,
    }
}

/// Waits until every object is ready and returns them in the order they
/// became ready (gevent's `wait`). A kill or an expired `Timeout` scope is
/// an error.
///
/// ```
/// let a = zgreen::spawn(|| 1);
/// let b = zgreen::spawn(|| 2);
/// let done = zgreen::wait([&a, &b]).unwrap();
/// assert_eq!(done.len(), 2);
/// ```
pub fn wait<I>(objects: I) -> Result<Vec<I::Item>>
where
    I: IntoIterator,
    I::Item: Waitable,
{
    iwait(objects).collect()
}

/// [`wait`], returning after `timeout` with the objects ready by then.
/// Reaching the timeout is not an error here (gevent's `wait(timeout=)`):
/// fewer objects come back. This is the one `_timeout` call that does not
/// fail on its own timeout, because reporting which objects are ready is
/// its whole job.
///
/// ```
/// use std::time::Duration;
/// use zgreen::sync::Event;
///
/// let (never, now) = (Event::new(), Event::new());
/// now.set();
/// let ready = zgreen::wait_timeout([&never, &now], Duration::from_millis(5)).unwrap();
/// assert_eq!(ready.len(), 1);
/// ```
pub fn wait_timeout<I>(objects: I, timeout: Duration) -> Result<Vec<I::Item>>
where
    I: IntoIterator,
    I::Item: Waitable,
{
    iwait_timeout(objects, timeout).collect()
}

/// [`wait`], returning at `deadline` with the objects ready by then (not
/// an error, as for [`wait_timeout`]).
pub fn wait_deadline<I>(objects: I, deadline: Instant) -> Result<Vec<I::Item>>
where
    I: IntoIterator,
    I::Item: Waitable,
{
    iwait_deadline(objects, deadline).collect()
}

/// Pairs a value (a tag, an index, a name) with a waitable, so that
/// [`iwait`] tells which one became ready.
#[derive(Clone, Copy, Debug)]
pub struct Tagged<T, W>(pub T, pub W);

impl<T, W: Waitable> Waitable for Tagged<T, W> {
    fn is_ready(&self) -> bool {
        self.1.is_ready()
    }
    fn subscribe(&self, token: &WaitToken) {
        self.1.subscribe(token)
    }
}

/// The iterator of [`iwait`].
pub struct IWait<W> {
    pending: Vec<Option<W>>,
    /// How many entries of `pending` are still `Some`.
    left: usize,
    deadline: Option<Deadline>,
    /// The deadline passed: yield what is ready, never wait again.
    expired: bool,
    /// The waiter was interrupted: yield nothing more.
    ended: bool,
}

impl<W> fmt::Debug for IWait<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IWait").field("left", &self.left).finish()
    }
}

impl<W: Waitable> IWait<W> {
    fn take_ready(&mut self) -> Option<W> {
        let slot = self
            .pending
            .iter_mut()
            .find(|w| w.as_ref().is_some_and(|w| w.is_ready()))?;
        self.left -= 1;
        slot.take()
    }
}

impl<W: Waitable> Iterator for IWait<W> {
    type Item = Result<W>;

    fn next(&mut self) -> Option<Result<W>> {
        if self.ended || self.left == 0 {
            return None;
        }
        if let Err(e) = hub::check_interrupt() {
            self.ended = true;
            return Some(Err(e));
        }
        loop {
            if let Some(w) = self.take_ready() {
                return Some(Ok(w));
            }
            if self.expired {
                return None;
            }
            let token = WaitToken(hub::waiter());
            for w in self.pending.iter().flatten() {
                w.subscribe(&token);
            }
            let outcome = hub::park(self.deadline);
            match outcome.result {
                Ok(Wake::Signaled) => {}
                Ok(Wake::Deadline) => self.expired = true,
                Err(e) => {
                    if outcome.signaled {
                        // Woken and interrupted at once: the notification
                        // may have been the only one for a greenlet parked
                        // behind this one (a socket's receiver); checking
                        // readiness passes it on.
                        for w in self.pending.iter().flatten() {
                            let _ = w.is_ready();
                        }
                    }
                    self.ended = true;
                    return Some(Err(e));
                }
            }
        }
    }
}
