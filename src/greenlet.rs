//! Greenlets: spawn, join, kill, link, and the module-level helpers
//! (`joinall`, `killall`, `current`, `sleep`, `idle`).

use std::cell::RefCell;
use std::fmt;
use std::ops::Deref;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::hub::task::{ExitHook, State, Task};
use crate::hub::{self, Deadline, TimerAction, with_hub};

/// A greenlet whose result has type `T`.
///
/// A `Greenlet<T>` is a cheap, clonable handle (not `Send`: greenlets never
/// leave the thread whose hub runs them). It dereferences to
/// [`AnyGreenlet`], which carries everything that does not depend on `T`
/// (join, kill, links, state).
///
/// # Examples
///
/// ```
/// let g = zgreen::spawn(|| 6 * 7);
/// assert_eq!(g.get().unwrap(), 42);
/// assert!(g.successful());
/// ```
///
/// A greenlet cannot be sent to another thread (the compiler refuses it,
/// error E0277: `Rc` is not `Send`); a [`HubHandle`](crate::HubHandle)
/// can, to reach its hub from there:
///
/// ```compile_fail,E0277
/// let g = zgreen::spawn(|| 1);
/// std::thread::spawn(move || drop(g));
/// ```
pub struct Greenlet<T> {
    any: AnyGreenlet,
    value: Rc<RefCell<Option<T>>>,
}

/// A type-erased greenlet handle: join, kill, link and inspect a greenlet
/// whatever its result type.
#[derive(Clone)]
pub struct AnyGreenlet {
    pub(crate) task: Rc<Task>,
}

/// Identifies a link, for [`AnyGreenlet::unlink`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkId(u64);

/// A body that runs as a greenlet: the Rust form of subclassing gevent's
/// `Greenlet` and overriding `_run`.
///
/// ```
/// use zgreen::{Greenlet, Run};
///
/// struct Countdown(u32);
/// impl Run for Countdown {
///     type Output = u32;
///     fn run(self) -> u32 {
///         let mut n = self.0;
///         while n > 0 {
///             zgreen::sleep(std::time::Duration::ZERO).unwrap();
///             n -= 1;
///         }
///         self.0
///     }
/// }
///
/// let g = Greenlet::from_run(Countdown(3));
/// g.start();
/// assert_eq!(g.get().unwrap(), 3);
/// ```
pub trait Run: 'static {
    /// What the greenlet returns.
    type Output: 'static;
    /// The greenlet's body.
    fn run(self) -> Self::Output;
}

/// Configures a greenlet before spawning it: name and stack size.
///
/// ```
/// let g = zgreen::Builder::new()
///     .name("worker")
///     .stack_bytes(128 * 1024)
///     .spawn(|| "done")
///     .unwrap();
/// assert_eq!(g.name().as_deref(), Some("worker"));
/// assert_eq!(g.get().unwrap(), "done");
/// ```
#[derive(Clone, Debug, Default)]
pub struct Builder {
    name: Option<Arc<str>>,
    stack_bytes: Option<usize>,
}

impl Builder {
    /// A builder with the default stack size and no name.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the greenlet (shown in panic reports and by the blocking
    /// monitor).
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(Arc::from(name.into()));
        self
    }

    /// The usable stack size in bytes, rounded up to whole 4 KiB pages.
    /// Defaults to [`config::default_stack_bytes`](crate::config::default_stack_bytes).
    pub fn stack_bytes(mut self, bytes: usize) -> Builder {
        self.stack_bytes = Some(crate::config::round_stack(bytes));
        self
    }

    /// Creates the greenlet without starting it; call
    /// [`AnyGreenlet::start`] later.
    pub fn build<T: 'static, F: FnOnce() -> T + 'static>(self, f: F) -> Greenlet<T> {
        let g = self.make();
        *g.any.task.pending.borrow_mut() = Some(Box::new(body(f, g.value.clone())));
        g
    }

    /// A task and its value slot, with nothing to run yet.
    fn make<T: 'static>(self) -> Greenlet<T> {
        let stack_bytes = self
            .stack_bytes
            .unwrap_or_else(crate::config::default_stack_bytes);
        let task = hub::spawn::new_task(self.name, stack_bytes);
        Greenlet {
            any: AnyGreenlet { task },
            value: Rc::new(RefCell::new(None)),
        }
    }

    /// Creates the greenlet with its coroutine ready (no boxing of the
    /// body); on failure the greenlet is already dead with the error.
    fn spawn_inner<T: 'static, F: FnOnce() -> T + 'static>(self, f: F) -> (Greenlet<T>, Result<()>) {
        let g = self.make();
        let r = hub::spawn::install(&g.any.task, body(f, g.value.clone()));
        (g, r)
    }

    /// Spawns the greenlet; it runs as soon as the current greenlet
    /// blocks. Fails with [`Error::StackAlloc`] if no stack can be mapped.
    pub fn spawn<T: 'static, F: FnOnce() -> T + 'static>(self, f: F) -> Result<Greenlet<T>> {
        let (g, r) = self.spawn_inner(f);
        r?;
        with_hub(|h| h.schedule(g.any.task.clone()));
        Ok(g)
    }

    /// Spawns the greenlet to start after `delay`.
    pub fn spawn_later<T: 'static, F: FnOnce() -> T + 'static>(
        self,
        delay: Duration,
        f: F,
    ) -> Result<Greenlet<T>> {
        let g = self.build(f);
        g.any.try_start_later(delay)?;
        Ok(g)
    }
}

/// The body of a greenlet's task: run `f` and keep its value.
fn body<T: 'static, F: FnOnce() -> T + 'static>(
    f: F,
    value: Rc<RefCell<Option<T>>>,
) -> impl FnOnce() + 'static {
    move || *value.borrow_mut() = Some(f())
}

/// Spawns `f` as a new greenlet on the current thread's hub.
///
/// If no stack can be allocated (see [`Error::StackAlloc`]) the returned
/// greenlet is already dead and its `join`/`get` report the error; use
/// [`try_spawn`] to get the error at once.
pub fn spawn<T: 'static, F: FnOnce() -> T + 'static>(f: F) -> Greenlet<T> {
    let (g, r) = Builder::new().spawn_inner(f);
    match r {
        Ok(()) => with_hub(|h| h.schedule(g.any.task.clone())),
        Err(e) => crate::config::report_failure(&g.any.task, &e),
    }
    g
}

/// Like [`spawn`], but returns the stack-allocation error instead of a dead
/// greenlet.
pub fn try_spawn<T: 'static, F: FnOnce() -> T + 'static>(f: F) -> Result<Greenlet<T>> {
    Builder::new().spawn(f)
}

/// Spawns `f` to start after `delay` (gevent's `spawn_later`).
pub fn spawn_later<T: 'static, F: FnOnce() -> T + 'static>(delay: Duration, f: F) -> Greenlet<T> {
    let g = Builder::new().build(f);
    g.start_later(delay);
    g
}

impl<T: 'static> Greenlet<T> {
    /// Creates a greenlet without starting it (gevent's `Greenlet(f)`).
    pub fn new<F: FnOnce() -> T + 'static>(f: F) -> Greenlet<T> {
        Builder::new().build(f)
    }

    /// Creates an unstarted greenlet from a [`Run`] implementation.
    pub fn from_run<R: Run<Output = T>>(r: R) -> Greenlet<T> {
        Builder::new().build(move || r.run())
    }

    /// Spawns `f` (same as [`spawn`]; gevent's `Greenlet.spawn`).
    pub fn spawn<F: FnOnce() -> T + 'static>(f: F) -> Greenlet<T> {
        spawn(f)
    }

    /// Waits for the greenlet and returns its value, or the error it died
    /// with (panic, kill, ...).
    pub fn get(&self) -> Result<T>
    where
        T: Clone,
    {
        self.get_until(None)
    }

    /// [`get`](Self::get), failing with `Error::Timeout` if the greenlet
    /// is still running after `timeout`.
    pub fn get_timeout(&self, timeout: Duration) -> Result<T>
    where
        T: Clone,
    {
        self.get_until(Some(Deadline::after(timeout)))
    }

    /// [`get`](Self::get), failing with `Error::Timeout` if the greenlet
    /// is still running at `deadline`.
    pub fn get_deadline(&self, deadline: Instant) -> Result<T>
    where
        T: Clone,
    {
        self.get_until(Some(Deadline::at(deadline)))
    }

    fn get_until(&self, d: Option<Deadline>) -> Result<T>
    where
        T: Clone,
    {
        self.any.join_until(d)?;
        match &*self.value.borrow() {
            Some(v) => Ok(v.clone()),
            None => Err(self.any.exception().unwrap_or(Error::ValueTaken)),
        }
    }

    /// Waits for the greenlet and moves its value out (for `T` that is not
    /// `Clone`). Later `get`/`take` calls then report that it was taken.
    pub fn take(&self) -> Result<T> {
        self.any.join()?;
        if let Some(v) = self.value.borrow_mut().take() {
            return Ok(v);
        }
        Err(self.any.exception().unwrap_or(Error::ValueTaken))
    }

    /// The value, if the greenlet finished successfully (does not block).
    pub fn value(&self) -> Option<T>
    where
        T: Clone,
    {
        self.value.borrow().clone()
    }

    /// A type-erased handle to the same greenlet.
    pub fn any(&self) -> AnyGreenlet {
        self.any.clone()
    }
}

impl<T> Clone for Greenlet<T> {
    fn clone(&self) -> Self {
        Greenlet {
            any: self.any.clone(),
            value: self.value.clone(),
        }
    }
}

impl<T> Deref for Greenlet<T> {
    type Target = AnyGreenlet;
    fn deref(&self) -> &AnyGreenlet {
        &self.any
    }
}

impl<T> fmt::Debug for Greenlet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.any.fmt(f)
    }
}

impl<T> From<&Greenlet<T>> for AnyGreenlet {
    fn from(g: &Greenlet<T>) -> AnyGreenlet {
        g.any.clone()
    }
}

impl<T> From<Greenlet<T>> for AnyGreenlet {
    fn from(g: Greenlet<T>) -> AnyGreenlet {
        g.any
    }
}

impl From<&AnyGreenlet> for AnyGreenlet {
    fn from(g: &AnyGreenlet) -> AnyGreenlet {
        g.clone()
    }
}

impl fmt::Debug for AnyGreenlet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Greenlet")
            .field("id", &self.task.id)
            .field("name", &self.task.name.borrow())
            .field("state", &self.task.state.get())
            .finish()
    }
}

impl PartialEq for AnyGreenlet {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.task, &other.task)
    }
}

impl Eq for AnyGreenlet {}

impl AnyGreenlet {
    /// The greenlet's id, unique per hub (the root context is 0).
    pub fn id(&self) -> u64 {
        self.task.id
    }

    /// The greenlet's name, if it has one.
    pub fn name(&self) -> Option<String> {
        self.task.name.borrow().as_ref().map(|n| n.to_string())
    }

    /// Names the greenlet.
    pub fn set_name(&self, name: impl Into<String>) {
        *self.task.name.borrow_mut() = Some(Arc::from(name.into()));
    }

    /// Schedules an unstarted greenlet. A no-op if it was started already.
    /// If no stack can be allocated, the greenlet dies with
    /// [`Error::StackAlloc`] (reported once, and returned by `join`/`get`).
    pub fn start(&self) {
        if let Err(e) = self.try_start() {
            crate::config::report_failure(&self.task, &e);
        }
    }

    /// Like [`start`](Self::start), returning the allocation error.
    pub fn try_start(&self) -> Result<()> {
        self.prepare()?;
        if self.task.state.get() == State::Scheduled {
            with_hub(|h| h.schedule(self.task.clone()));
        }
        Ok(())
    }

    /// Schedules an unstarted greenlet to start after `delay`.
    pub fn start_later(&self, delay: Duration) {
        if let Err(e) = self.try_start_later(delay) {
            crate::config::report_failure(&self.task, &e);
        }
    }

    fn try_start_later(&self, delay: Duration) -> Result<()> {
        self.prepare()?;
        if self.task.state.get() == State::Scheduled {
            let task = self.task.clone();
            with_hub(|h| {
                h.add_timer(
                    std::time::Instant::now() + delay,
                    TimerAction::Call(Box::new(move || {
                        if task.state.get() == State::Scheduled {
                            with_hub(|h| h.schedule(task));
                        }
                    })),
                )
            });
        }
        Ok(())
    }

    /// Moves an unstarted task to `Scheduled` with a coroutine ready.
    fn prepare(&self) -> Result<()> {
        if self.task.state.get() != State::Unstarted {
            return Ok(());
        }
        let Some(body) = self.task.pending.borrow_mut().take() else {
            return Ok(());
        };
        hub::spawn::install(&self.task, body)
    }

    /// Waits until the greenlet has finished, however it finished (gevent's
    /// `join`; use `get` to see its failure).
    ///
    /// Fails with `Killed` or a timeout if the *caller* is killed or its
    /// timeout scope expires, and with [`Error::JoinSelf`] when a greenlet
    /// joins itself.
    pub fn join(&self) -> Result<()> {
        self.join_until(None)
    }

    /// [`join`](Self::join), failing with `Error::Timeout` after
    /// `timeout`.
    pub fn join_timeout(&self, timeout: Duration) -> Result<()> {
        self.join_until(Some(Deadline::after(timeout)))
    }

    /// [`join`](Self::join), failing with `Error::Timeout` at `deadline`.
    pub fn join_deadline(&self, deadline: Instant) -> Result<()> {
        self.join_until(Some(Deadline::at(deadline)))
    }

    pub(crate) fn join_until(&self, d: Option<Deadline>) -> Result<()> {
        hub::check_interrupt()?;
        if self.task.state.get() == State::Dead {
            return Ok(());
        }
        if Rc::ptr_eq(&self.task, &hub::current_task()) {
            return Err(Error::JoinSelf);
        }
        while self.task.state.get() != State::Dead {
            self.task.joiners.wait(d)?;
        }
        Ok(())
    }

    /// Kills the greenlet and waits for it to die (gevent's `kill()`).
    ///
    /// Kill is cooperative: the greenlet's current (or next) blocking call
    /// returns [`Error::Killed`], and so does every later one. A greenlet
    /// that has not started yet never runs. Killing the current greenlet
    /// only marks it and returns at once.
    pub fn kill(&self) -> Result<()> {
        self.kill_until(None)
    }

    /// [`kill`](Self::kill), waiting at most `timeout` for the greenlet to
    /// die (then `Error::Timeout`; the kill stays requested).
    pub fn kill_timeout(&self, timeout: Duration) -> Result<()> {
        self.kill_until(Some(Deadline::after(timeout)))
    }

    /// [`kill`](Self::kill), waiting until `deadline` at the latest for the
    /// greenlet to die.
    pub fn kill_deadline(&self, deadline: Instant) -> Result<()> {
        self.kill_until(Some(Deadline::at(deadline)))
    }

    fn kill_until(&self, d: Option<Deadline>) -> Result<()> {
        self.kill_nowait();
        if Rc::ptr_eq(&self.task, &hub::current_task()) {
            return Ok(());
        }
        self.join_until(d)
    }

    /// Requests the kill without waiting (gevent's `kill(block=False)`).
    pub fn kill_nowait(&self) {
        hub::kill(&self.task);
    }

    /// True once the greenlet has finished (gevent's `ready()`/`dead`).
    pub fn ready(&self) -> bool {
        self.task.state.get() == State::Dead
    }

    /// True once the greenlet has been started (scheduled), even if it has
    /// not run yet.
    pub fn started(&self) -> bool {
        self.task.state.get() != State::Unstarted
    }

    /// True if the greenlet finished by returning (not by a panic, a kill
    /// before start, or a stack failure).
    pub fn successful(&self) -> bool {
        self.ready() && self.task.successful.get()
    }

    /// True if a kill was requested.
    pub fn killed(&self) -> bool {
        self.task.killed.get()
    }

    /// The error the greenlet died with, if it failed (gevent's
    /// `exception`).
    pub fn exception(&self) -> Option<Error> {
        if self.task.successful.get() {
            return None;
        }
        self.task.error.borrow().clone()
    }

    /// Calls `f` (in a new greenlet) when this greenlet finishes, however
    /// it finishes. If it already has, `f` is scheduled at once.
    ///
    /// Links run in the order they were made, as in gevent: each one
    /// starts once the previous link's callback has blocked or returned,
    /// so a callback can still [`unlink`](Self::unlink) the links after
    /// it.
    pub fn link(&self, f: impl FnOnce(AnyGreenlet) + 'static) -> LinkId {
        self.add_link(LinkWhen::Always, Box::new(f))
    }

    /// Calls `f` only if the greenlet finishes successfully.
    pub fn link_value(&self, f: impl FnOnce(AnyGreenlet) + 'static) -> LinkId {
        self.add_link(LinkWhen::Success, Box::new(f))
    }

    /// Calls `f` only if the greenlet fails (panic, kill, stack failure).
    pub fn link_exception(&self, f: impl FnOnce(AnyGreenlet) + 'static) -> LinkId {
        self.add_link(LinkWhen::Failure, Box::new(f))
    }

    /// Removes a link that has not run yet, even if this greenlet has
    /// died and its links are being run (then the link never runs).
    /// Returns false if it had run (or started) or was unknown.
    pub fn unlink(&self, id: LinkId) -> bool {
        let Some(links) = Links::of(&self.task) else {
            return false;
        };
        let mut list = links.list.borrow_mut();
        let before = list.len();
        list.retain(|l| l.id != id.0);
        list.len() != before
    }

    fn add_link(&self, when: LinkWhen, callback: Box<dyn FnOnce(AnyGreenlet)>) -> LinkId {
        let id = with_hub(|h| h.next_task_id());
        Links::get_or_add(&self.task)
            .list
            .borrow_mut()
            .push(Link { id, when, callback });
        if self.ready() {
            run_links(&self.task);
        }
        LinkId(id)
    }
}

/// A callback registered with `link`, `link_value` or `link_exception`.
struct Link {
    id: u64,
    when: LinkWhen,
    callback: Box<dyn FnOnce(AnyGreenlet)>,
}

/// Which outcomes trigger a link.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LinkWhen {
    Always,
    Success,
    Failure,
}

/// A greenlet's links, kept in its task's slot for the layers above the
/// kernel, and the exit hook that starts them when the task ends (gevent's
/// model: the greenlet schedules its links; the hub knows nothing of them).
struct Links {
    task: std::rc::Weak<Task>,
    list: RefCell<Vec<Link>>,
}

impl Links {
    /// The links of `task`, if it ever had one.
    fn of(task: &Task) -> Option<Rc<Links>> {
        let upper = task.upper.borrow();
        upper.as_ref().and_then(|u| u.clone().downcast::<Links>().ok())
    }

    /// The links of `task`, created (with their exit hook, unless the task
    /// is already dead) on first use.
    fn get_or_add(task: &Rc<Task>) -> Rc<Links> {
        if let Some(links) = Links::of(task) {
            return links;
        }
        let links = Rc::new(Links {
            task: Rc::downgrade(task),
            list: RefCell::new(Vec::new()),
        });
        *task.upper.borrow_mut() = Some(links.clone());
        if task.state.get() != State::Dead {
            task.add_exit_hook(links.clone());
        }
        links
    }
}

impl ExitHook for Links {
    fn task_exited(&self, _task_id: u64) {
        if let Some(task) = self.task.upgrade() {
            run_links(&task);
        }
    }
}

/// Starts the link callbacks of a task that just died (or of a dead task
/// that got a new link), in link order, as gevent's `_notify_links` does.
///
/// Each callback runs in its own greenlet, and the next link is taken
/// only once that greenlet has run until it blocks or ends: the runner of
/// link *k* spawns the runner of link *k + 1* just before calling its
/// callback, and that runner picks the first link still registered when
/// it starts. So a link removed with [`AnyGreenlet::unlink`] before its
/// turn (by an earlier callback or anyone else) never runs, and a
/// callback that blocks does not hold the links after it.
fn run_links(task: &Rc<Task>) {
    if has_due_link(task) {
        spawn_link_runner(task);
    }
}

/// Whether a link triggered by `when` runs for a task whose outcome is
/// `ok`.
fn triggers(when: LinkWhen, ok: bool) -> bool {
    match when {
        LinkWhen::Always => true,
        LinkWhen::Success => ok,
        LinkWhen::Failure => !ok,
    }
}

/// True if a registered link of the dead `task` is still to run.
fn has_due_link(task: &Task) -> bool {
    let ok = task.successful.get();
    Links::of(task).is_some_and(|links| links.list.borrow().iter().any(|l| triggers(l.when, ok)))
}

/// Removes and returns the first link of the dead `task` that its outcome
/// triggers; the links before it, which it does not trigger, are dropped.
fn take_due_link(task: &Task) -> Option<Link> {
    let ok = task.successful.get();
    let links = Links::of(task)?;
    loop {
        let link = {
            let mut list = links.list.borrow_mut();
            if list.is_empty() {
                return None;
            }
            list.remove(0)
        };
        if triggers(link.when, ok) {
            return Some(link);
        }
        // Dropped here, outside the borrow: a callback's captures may
        // touch this greenlet's links when they are dropped.
    }
}

/// Spawns a greenlet that runs the next due link of `task`. Returns false
/// (after logging) if no stack could be allocated.
fn spawn_link_runner(task: &Rc<Task>) -> bool {
    let task = task.clone();
    match hub::spawn::spawn_detached(Box::new(move || run_due_links(task))) {
        Ok(()) => true,
        Err(e) => {
            tracing::error!("zgreen: cannot run a link callback: {e}");
            false
        }
    }
}

/// The body of a link runner (see [`run_links`]). If the next runner
/// cannot be spawned, this one goes on with the next link itself once its
/// callback returns.
fn run_due_links(task: Rc<Task>) {
    while let Some(link) = take_due_link(&task) {
        let handed_on = !has_due_link(&task) || spawn_link_runner(&task);
        (link.callback)(AnyGreenlet { task: task.clone() });
        if handed_on {
            return;
        }
    }
}

/// The greenlet running now; the root context (plain `main()`) has id 0.
pub fn current() -> AnyGreenlet {
    AnyGreenlet {
        task: hub::current_task(),
    }
}

/// Suspends the current greenlet for `duration`. `sleep(Duration::ZERO)`
/// only lets every other ready greenlet run once (gevent's `sleep(0)`).
///
/// Fails with `Killed` or a timeout if the greenlet is killed or its
/// timeout scope expires meanwhile.
pub fn sleep(duration: Duration) -> Result<()> {
    if duration.is_zero() {
        return hub::yield_now();
    }
    let d = Some(Deadline::after(duration));
    loop {
        // No waiter is handed out: only the deadline or an interrupt can
        // end this park.
        match hub::park(d).result? {
            hub::Wake::Deadline => return Ok(()),
            hub::Wake::Signaled => {}
        }
    }
}

/// Waits until the hub has nothing else ready to run (gevent's `idle()`).
pub fn idle() -> Result<()> {
    hub::wait_idle(None)
}

/// Options for [`joinall_with`].
#[derive(Clone, Copy, Debug, Default)]
pub struct JoinAll {
    deadline: Option<Deadline>,
    raise_error: bool,
    count: Option<usize>,
}

impl JoinAll {
    /// Wait for all, no timeout, failures not raised.
    pub fn new() -> JoinAll {
        JoinAll::default()
    }

    /// Stop waiting after `timeout` (then the finished ones are returned,
    /// without an error, as gevent does).
    pub fn timeout(mut self, timeout: Duration) -> JoinAll {
        self.deadline = Some(Deadline::after(timeout));
        self
    }

    /// Stop waiting at `deadline` (then the finished ones are returned,
    /// without an error).
    pub fn deadline(mut self, deadline: Instant) -> JoinAll {
        self.deadline = Some(Deadline::at(deadline));
        self
    }

    /// Return the first failure among the greenlets as the error.
    pub fn raise_error(mut self, yes: bool) -> JoinAll {
        self.raise_error = yes;
        self
    }

    /// Return once this many have finished.
    pub fn count(mut self, n: usize) -> JoinAll {
        self.count = Some(n);
        self
    }
}

/// Waits for all greenlets to finish (gevent's `joinall`). Their failures
/// stay inside them: inspect each with `exception()`/`get()`.
///
/// ```
/// let a = zgreen::spawn(|| 1);
/// let b = zgreen::spawn(|| "two");
/// zgreen::joinall([a.any(), b.any()]).unwrap();
/// assert!(a.ready() && b.ready());
/// ```
pub fn joinall<I>(greenlets: I) -> Result<()>
where
    I: IntoIterator,
    I::Item: Into<AnyGreenlet>,
{
    joinall_with(greenlets, JoinAll::new()).map(|_| ())
}

/// [`joinall`] with options; returns the greenlets that finished, in the
/// order they were given.
pub fn joinall_with<I>(greenlets: I, opts: JoinAll) -> Result<Vec<AnyGreenlet>>
where
    I: IntoIterator,
    I::Item: Into<AnyGreenlet>,
{
    let all: Vec<AnyGreenlet> = greenlets.into_iter().map(Into::into).collect();
    let want = opts.count.unwrap_or(all.len()).min(all.len());
    let deadline = opts.deadline;
    hub::check_interrupt()?;
    let me = hub::current_task();
    loop {
        let done = all.iter().filter(|g| g.ready()).count();
        if opts.raise_error {
            if let Some(e) = all.iter().find_map(|g| g.exception()) {
                return Err(e);
            }
        }
        if done >= want {
            break;
        }
        if all.iter().any(|g| !g.ready() && Rc::ptr_eq(&g.task, &me)) {
            return Err(Error::JoinSelf);
        }
        let w = hub::waiter();
        for g in all.iter().filter(|g| !g.ready()) {
            g.task.joiners.push(w.clone());
        }
        match hub::park(deadline).result {
            Ok(hub::Wake::Signaled) => {}
            Ok(hub::Wake::Deadline) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(all.into_iter().filter(|g| g.ready()).collect())
}

/// Kills all greenlets and waits for them to die (gevent's `killall`).
pub fn killall<I>(greenlets: I) -> Result<()>
where
    I: IntoIterator,
    I::Item: Into<AnyGreenlet>,
{
    killall_until(greenlets, None)
}

/// [`killall`], failing with `Error::Timeout` if some are still alive
/// after `timeout` (their kills stay requested).
pub fn killall_timeout<I>(greenlets: I, timeout: Duration) -> Result<()>
where
    I: IntoIterator,
    I::Item: Into<AnyGreenlet>,
{
    killall_until(greenlets, Some(Deadline::after(timeout)))
}

/// [`killall`], failing with `Error::Timeout` if some are still alive at
/// `deadline`.
pub fn killall_deadline<I>(greenlets: I, deadline: Instant) -> Result<()>
where
    I: IntoIterator,
    I::Item: Into<AnyGreenlet>,
{
    killall_until(greenlets, Some(Deadline::at(deadline)))
}

pub(crate) fn killall_until<I>(greenlets: I, deadline: Option<Deadline>) -> Result<()>
where
    I: IntoIterator,
    I::Item: Into<AnyGreenlet>,
{
    let all: Vec<AnyGreenlet> = greenlets.into_iter().map(Into::into).collect();
    let me = hub::current_task();
    for g in &all {
        g.kill_nowait();
    }
    let others: Vec<AnyGreenlet> = all.into_iter().filter(|g| !Rc::ptr_eq(&g.task, &me)).collect();
    let opts = JoinAll {
        deadline,
        ..JoinAll::new()
    };
    let n = others.len();
    let done = joinall_with(others, opts)?;
    if done.len() < n {
        return Err(hub::deadline_error(deadline));
    }
    Ok(())
}
