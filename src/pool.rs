//! Groups of greenlets managed together (gevent's `gevent.pool`):
//! [`Group`], and [`Pool`], a group with a bound on how many of its
//! greenlets run at once.
//!
//! Both spawn into themselves, join, kill, and dispatch work the way
//! Python's `multiprocessing` does: [`map`](Group::map),
//! [`imap`](Group::imap) (results in input order, as they become
//! available), [`imap_unordered`](Group::imap_unordered) (results in
//! completion order), [`apply`](Group::apply) and
//! [`apply_async`](Group::apply_async).
//!
//! A greenlet leaves its group just after it dies, at the hub's next turn
//! (as gevent's `rawlink` callbacks run), so greenlets that run in the
//! same turn all still see each other in the group. Completion order, and
//! so `imap_unordered`'s order, depends only on what the greenlets do:
//! for deterministic inputs it is deterministic.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::marker::PhantomData;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::greenlet::{AnyGreenlet, Builder, Greenlet};
use crate::hub::task::WaitQueue;
use crate::hub::{self, Deadline, TimerAction, try_with_hub};
use crate::sync::{BoundKind, Bounded, SemState, Unbounded};

type Thunk<R> = Box<dyn FnOnce() -> R>;

/// The state shared by a group's handles and its members' exit hooks.
///
/// # Invariant
/// For a pool, every entry of `members` holds one permit of `limit`; the
/// permit is released exactly when the entry is removed.
#[derive(Default)]
struct GroupCore {
    members: RefCell<BTreeMap<u64, AnyGreenlet>>,
    /// Woken whenever a member leaves.
    changed: WaitQueue,
    limit: Option<Rc<SemState>>,
}

impl GroupCore {
    /// The core of a pool: at most `size` members.
    fn with_limit(size: usize) -> Rc<GroupCore> {
        Rc::new(GroupCore {
            limit: Some(SemState::new(size, Some(size))),
            ..GroupCore::default()
        })
    }

    fn acquire(&self, d: Option<Deadline>) -> Result<()> {
        match &self.limit {
            Some(sem) => sem.acquire(d),
            None => hub::check_interrupt(),
        }
    }

    fn remove(&self, id: u64) -> bool {
        let removed = self.members.borrow_mut().remove(&id).is_some();
        if removed {
            if let Some(sem) = &self.limit {
                // The entry held a permit, so there is room for it.
                let _ = sem.release();
            }
            self.changed.notify_all();
        }
        removed
    }

    /// Builds a member running `f` and starts it; a permit must already be
    /// held for a pool. The member leaves the group (releasing the permit)
    /// just after it ends, however it ends, and `then` runs at that point.
    /// The greenlet is returned even if it could not start (it is then
    /// dead with the error, which is also returned).
    fn spawn_member<T: 'static>(
        self: &Rc<Self>,
        builder: Builder,
        f: impl FnOnce() -> T + 'static,
        then: Option<Box<dyn FnOnce()>>,
    ) -> (Greenlet<T>, Result<()>) {
        let exit = Rc::new(MemberExit {
            core: Rc::downgrade(self),
            id: Cell::new(0),
            then: Cell::new(then),
        });
        let hook = ExitHook(exit.clone());
        let g = builder.build(move || {
            let _hook = hook;
            f()
        });
        exit.id.set(g.id());
        self.members.borrow_mut().insert(g.id(), g.any());
        // The hook is dropped when the body returns, panics, or is dropped
        // unstarted; a stack overflow kills the coroutine without running
        // any destructor on its stack, so failures also get a link.
        g.link_exception(move |_| exit.leave());
        let started = g.try_start();
        (g, started)
    }

    fn add(self: &Rc<Self>, g: AnyGreenlet) {
        let id = g.id();
        self.members.borrow_mut().insert(id, g.clone());
        let core = Rc::downgrade(self);
        g.link(move |_| {
            if let Some(core) = core.upgrade() {
                core.remove(id);
            }
        });
    }

    fn join(&self, d: Option<Deadline>) -> Result<()> {
        hub::check_interrupt()?;
        while !self.members.borrow().is_empty() {
            self.changed.wait(d)?;
        }
        Ok(())
    }

    fn snapshot(&self) -> Vec<AnyGreenlet> {
        self.members.borrow().values().cloned().collect()
    }

    fn kill(&self, deadline: Option<Deadline>) -> Result<()> {
        let all = self.snapshot();
        crate::greenlet::killall_until(all.iter(), deadline)?;
        for g in &all {
            self.remove(g.id());
        }
        Ok(())
    }

    fn contains_current(&self) -> bool {
        self.members.borrow().contains_key(&hub::current_task().id)
    }
}

/// What happens when a member ends: it leaves its group, then `then`
/// runs. Runs at most once, from whichever comes first: the member's
/// [`ExitHook`] or its failure link.
struct MemberExit {
    core: Weak<GroupCore>,
    id: Cell<u64>,
    then: Cell<Option<Box<dyn FnOnce()>>>,
}

impl MemberExit {
    fn leave(&self) {
        if let Some(core) = self.core.upgrade() {
            core.remove(self.id.get());
        }
        if let Some(then) = self.then.take() {
            then();
        }
    }
}

/// Lives in a member's body: dropped when the body returns, panics, or is
/// dropped unstarted. The member then leaves at the hub's next turn,
/// when the greenlet is dead (its value stored) and the greenlets of the
/// same turn have all still seen it in the group.
struct ExitHook(Rc<MemberExit>);

impl Drop for ExitHook {
    fn drop(&mut self) {
        let exit = self.0.clone();
        let _ =
            try_with_hub(|h| h.add_timer(Instant::now(), TimerAction::Call(Box::new(move || exit.leave()))));
    }
}

/// A collection of greenlets managed and joined together (gevent's
/// `Group`): the unbounded [`GenericGroup`]. Greenlets leave it when they
/// die.
///
/// A `Group` is a cheap handle: clones share the same members.
///
/// # Examples
///
/// ```
/// use zgreen::pool::Group;
///
/// let group = Group::new();
/// let a = group.spawn(|| 1);
/// let b = group.spawn(|| 2);
/// assert_eq!(group.len(), 2);
/// group.join().unwrap();
/// assert!(group.is_empty());
/// assert_eq!(a.get().unwrap() + b.get().unwrap(), 3);
/// assert_eq!(group.map(|n: u32| n * 10, 0..3).unwrap(), vec![0, 10, 20]);
/// ```
pub type Group = GenericGroup<Unbounded>;

/// A group that runs at most `size` greenlets at once (gevent's `Pool`).
///
/// [`spawn`](Self::spawn) (and [`add`](Self::add), and the dispatchers)
/// park the caller while the pool is full; callers are served first come,
/// first served as members leave. [`full`](Self::full) lets a server
/// refuse work instead.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use std::time::Duration;
/// use zgreen::pool::Pool;
///
/// let pool = Pool::new(3);
/// let (running, peak) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
/// let out = pool
///     .map(
///         {
///             let (running, peak) = (running.clone(), peak.clone());
///             move |i: u64| {
///                 running.set(running.get() + 1);
///                 peak.set(peak.get().max(running.get()));
///                 zgreen::sleep(Duration::from_millis(1)).unwrap();
///                 running.set(running.get() - 1);
///                 i * i
///             }
///         },
///         0..10,
///     )
///     .unwrap();
/// assert_eq!(out[9], 81);
/// assert_eq!(peak.get(), 3);
/// ```
pub type Pool = GenericGroup<Bounded>;

/// A group of greenlets of either kind: use it as [`Group`] or [`Pool`].
/// The methods here (membership, join, kill and the dispatchers) are
/// common to both; spawning and adding are on each kind's own `impl`
/// (a pool's park the caller while it is full).
///
/// A cheap handle: clones share the same members.
pub struct GenericGroup<K: BoundKind> {
    core: Rc<GroupCore>,
    kind: PhantomData<K>,
}

impl<K: BoundKind> Clone for GenericGroup<K> {
    fn clone(&self) -> Self {
        GenericGroup {
            core: self.core.clone(),
            kind: PhantomData,
        }
    }
}

impl Default for Group {
    fn default() -> Self {
        Group::new()
    }
}

impl<K: BoundKind> fmt::Debug for GenericGroup<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct(if K::BOUNDED { "Pool" } else { "Group" });
        if let Some(sem) = &self.core.limit {
            d.field("size", &sem.bound().unwrap_or(0));
        }
        d.field("len", &self.len()).finish()
    }
}

impl<K: BoundKind> GenericGroup<K> {
    /// Builds a member running `f` and starts it (for a pool, a permit is
    /// already held).
    fn start_member<T: 'static>(
        &self,
        builder: Builder,
        f: impl FnOnce() -> T + 'static,
    ) -> Result<Greenlet<T>> {
        let (g, started) = self.core.spawn_member(builder, f, None);
        started.map(|()| g)
    }

    /// Removes a greenlet from the group without killing it (in a pool,
    /// its room is freed). Returns false if it was not a member.
    pub fn discard(&self, g: impl Into<AnyGreenlet>) -> bool {
        self.core.remove(g.into().id())
    }

    /// True if `g` is a member.
    pub fn contains(&self, g: &AnyGreenlet) -> bool {
        self.core.members.borrow().contains_key(&g.id())
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.core.members.borrow().len()
    }

    /// True if the group has no members.
    pub fn is_empty(&self) -> bool {
        self.core.members.borrow().is_empty()
    }

    /// The members, oldest first.
    pub fn greenlets(&self) -> Vec<AnyGreenlet> {
        self.core.snapshot()
    }

    /// Waits until every member (including those added meanwhile) has
    /// died and left the group.
    pub fn join(&self) -> Result<()> {
        self.core.join(None)
    }

    /// [`join`](Self::join), giving up with `Error::Timeout` after
    /// `timeout`.
    pub fn join_timeout(&self, timeout: Duration) -> Result<()> {
        self.core.join(Some(Deadline::after(timeout)))
    }

    /// [`join`](Self::join), giving up with `Error::Timeout` at
    /// `deadline`.
    pub fn join_deadline(&self, deadline: Instant) -> Result<()> {
        self.core.join(Some(Deadline::at(deadline)))
    }

    /// Kills every member and waits for them to die (gevent's `kill`).
    pub fn kill(&self) -> Result<()> {
        self.core.kill(None)
    }

    /// [`kill`](Self::kill), waiting at most `timeout` for them to die.
    pub fn kill_timeout(&self, timeout: Duration) -> Result<()> {
        self.core.kill(Some(Deadline::after(timeout)))
    }

    /// [`kill`](Self::kill), waiting until `deadline` at the latest.
    pub fn kill_deadline(&self, deadline: Instant) -> Result<()> {
        self.core.kill(Some(Deadline::at(deadline)))
    }

    /// Kills one member, waits for it to die and removes it.
    pub fn killone(&self, g: impl Into<AnyGreenlet>) -> Result<()> {
        let g = g.into();
        g.kill()?;
        self.core.remove(g.id());
        Ok(())
    }

    /// Runs `f` on every item, each in its own member greenlet, and
    /// returns the results in input order; the first failure (a panic, a
    /// kill) is returned as the error. Greenlets still running then go on
    /// in the group.
    pub fn map<I, F, R>(&self, f: F, items: I) -> Result<Vec<R>>
    where
        I: IntoIterator,
        I::IntoIter: 'static,
        I::Item: 'static,
        F: Fn(I::Item) -> R + 'static,
        R: 'static,
    {
        IMap::new(&self.core, f, items, true).collect()
    }

    /// Runs `f` on every item, each in its own member greenlet, and yields
    /// the results in input order as they become available.
    ///
    /// A [`Group`] has no bound: every item gets its greenlet at the first
    /// `next`. For long inputs use a [`Pool`], which keeps at most its size
    /// running and pulls the next item only when there is room.
    pub fn imap<I, F, R>(&self, f: F, items: I) -> IMap<R>
    where
        I: IntoIterator,
        I::IntoIter: 'static,
        I::Item: 'static,
        F: Fn(I::Item) -> R + 'static,
        R: 'static,
    {
        IMap::new(&self.core, f, items, true)
    }

    /// Like [`imap`](Self::imap), but yields results in the order the
    /// greenlets finish.
    pub fn imap_unordered<I, F, R>(&self, f: F, items: I) -> IMap<R>
    where
        I: IntoIterator,
        I::IntoIter: 'static,
        I::Item: 'static,
        F: Fn(I::Item) -> R + 'static,
        R: 'static,
    {
        IMap::new(&self.core, f, items, false)
    }
}

impl GenericGroup<Unbounded> {
    /// An empty group.
    pub fn new() -> Group {
        GenericGroup {
            core: Rc::default(),
            kind: PhantomData,
        }
    }

    /// Spawns `f` as a member. If no stack can be allocated the greenlet
    /// is returned dead with the error, as [`spawn`](crate::spawn) does.
    pub fn spawn<T: 'static>(&self, f: impl FnOnce() -> T + 'static) -> Greenlet<T> {
        let (g, started) = self.core.spawn_member(Builder::new(), f, None);
        if let Err(e) = started {
            tracing::warn!("zgreen: a group member could not start: {e}");
        }
        g
    }

    /// Spawns `f` as a member configured by `builder` (name, stack size).
    pub fn spawn_with<T: 'static>(
        &self,
        builder: Builder,
        f: impl FnOnce() -> T + 'static,
    ) -> Result<Greenlet<T>> {
        self.start_member(builder, f)
    }

    /// Adds a greenlet spawned elsewhere; it leaves the group when it
    /// dies. Adding a member again does nothing.
    pub fn add(&self, g: impl Into<AnyGreenlet>) {
        let g = g.into();
        if !self.contains(&g) {
            self.core.add(g);
        }
    }

    /// Runs `f` in a member greenlet and waits for its result (directly in
    /// the caller if the caller is a member already).
    pub fn apply<R: 'static>(&self, f: impl FnOnce() -> R + 'static) -> Result<R> {
        if self.core.contains_current() {
            return Ok(f());
        }
        self.spawn(f).take()
    }

    /// Spawns `f` as a member and returns its greenlet (gevent's
    /// `apply_async`; link a callback with
    /// [`link_value`](AnyGreenlet::link_value)).
    pub fn apply_async<R: 'static>(&self, f: impl FnOnce() -> R + 'static) -> Greenlet<R> {
        self.spawn(f)
    }
}

impl GenericGroup<Bounded> {
    /// A pool of at most `size` concurrent greenlets.
    ///
    /// # Panics
    /// If `size` is 0 (nothing could ever run).
    pub fn new(size: usize) -> Pool {
        assert!(size > 0, "a Pool needs a size of at least 1");
        GenericGroup {
            core: GroupCore::with_limit(size),
            kind: PhantomData,
        }
    }

    fn sem(&self) -> &SemState {
        self.core.limit.as_deref().expect("a pool always has a limit")
    }

    /// Spawns `f` as a member, first parking while the pool is full.
    /// Fails if the caller is killed or its `Timeout` scope expires while
    /// waiting, or if no stack can be allocated.
    pub fn spawn<T: 'static>(&self, f: impl FnOnce() -> T + 'static) -> Result<Greenlet<T>> {
        self.spawn_until(Builder::new(), None, f)
    }

    /// [`spawn`](Self::spawn), giving up with `Error::Timeout` if no room
    /// frees up within `timeout`.
    pub fn spawn_timeout<T: 'static>(
        &self,
        timeout: Duration,
        f: impl FnOnce() -> T + 'static,
    ) -> Result<Greenlet<T>> {
        self.spawn_until(Builder::new(), Some(Deadline::after(timeout)), f)
    }

    /// [`spawn`](Self::spawn), giving up with `Error::Timeout` if no room
    /// frees up by `deadline`.
    pub fn spawn_deadline<T: 'static>(
        &self,
        deadline: Instant,
        f: impl FnOnce() -> T + 'static,
    ) -> Result<Greenlet<T>> {
        self.spawn_until(Builder::new(), Some(Deadline::at(deadline)), f)
    }

    /// [`spawn`](Self::spawn) with a [`Builder`] (name, stack size).
    pub fn spawn_with<T: 'static>(
        &self,
        builder: Builder,
        f: impl FnOnce() -> T + 'static,
    ) -> Result<Greenlet<T>> {
        self.spawn_until(builder, None, f)
    }

    /// Takes a place (parking until `deadline` at most), then starts `f`.
    fn spawn_until<T: 'static>(
        &self,
        builder: Builder,
        deadline: Option<Deadline>,
        f: impl FnOnce() -> T + 'static,
    ) -> Result<Greenlet<T>> {
        self.core.acquire(deadline)?;
        self.start_member(builder, f)
    }

    /// Adds a greenlet spawned elsewhere, first parking while the pool is
    /// full. Adding a member again does nothing.
    pub fn add(&self, g: impl Into<AnyGreenlet>) -> Result<()> {
        let g = g.into();
        if self.contains(&g) {
            return Ok(());
        }
        self.core.acquire(None)?;
        self.core.add(g);
        Ok(())
    }

    /// The most greenlets that run at once.
    pub fn size(&self) -> usize {
        self.sem().bound().unwrap_or(0)
    }

    /// True if a spawn would have to wait.
    pub fn full(&self) -> bool {
        self.sem().permits() == 0
    }

    /// How many more greenlets could be spawned without waiting.
    pub fn free_count(&self) -> usize {
        self.sem().permits()
    }

    /// Waits until a spawn would not have to wait (without reserving the
    /// room).
    pub fn wait_available(&self) -> Result<()> {
        self.sem().wait(None)
    }

    /// [`wait_available`](Self::wait_available), giving up with
    /// `Error::Timeout` after `timeout`.
    pub fn wait_available_timeout(&self, timeout: Duration) -> Result<()> {
        self.sem().wait(Some(Deadline::after(timeout)))
    }

    /// [`wait_available`](Self::wait_available), giving up with
    /// `Error::Timeout` at `deadline`.
    pub fn wait_available_deadline(&self, deadline: Instant) -> Result<()> {
        self.sem().wait(Some(Deadline::at(deadline)))
    }

    /// Runs `f` in a member greenlet (parking while the pool is full) and
    /// waits for its result; runs it directly if the caller is a member
    /// already (so a member cannot deadlock a full pool).
    pub fn apply<R: 'static>(&self, f: impl FnOnce() -> R + 'static) -> Result<R> {
        if self.core.contains_current() {
            return Ok(f());
        }
        self.spawn(f)?.take()
    }

    /// Spawns `f` as a member (parking while the pool is full) and returns
    /// its greenlet.
    pub fn apply_async<R: 'static>(&self, f: impl FnOnce() -> R + 'static) -> Result<Greenlet<R>> {
        self.spawn(f)
    }
}

/// Completion notices shared between an [`IMap`] and its greenlets.
#[derive(Default)]
struct MapState {
    done: RefCell<VecDeque<usize>>,
    notify: WaitQueue,
}

/// The iterator of [`Group::imap`] / [`Group::imap_unordered`] (and the
/// same on [`Pool`]): yields each item's result, `Ok(value)` or the error
/// its greenlet died with.
///
/// Greenlets are spawned as the group's bound allows, ahead of the
/// consumer. If the *consuming* greenlet is killed or its `Timeout` scope
/// expires while it waits, that error is yielded once and the iteration
/// ends; greenlets already spawned go on in the group. Dropping the
/// iterator early leaves them running too.
pub struct IMap<R> {
    core: Rc<GroupCore>,
    input: Box<dyn Iterator<Item = Thunk<R>>>,
    /// The next input, pulled but not yet spawned (no room in the pool).
    pending: Option<Thunk<R>>,
    exhausted: bool,
    ended: bool,
    ordered: bool,
    state: Rc<MapState>,
    inflight: HashMap<usize, Greenlet<R>>,
    /// Finished results not yet yielded (ordered mode).
    buffered: BTreeMap<usize, Result<R>>,
    next_spawn: usize,
    next_yield: usize,
}

impl<R> fmt::Debug for IMap<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IMap")
            .field("ordered", &self.ordered)
            .field("inflight", &self.inflight.len())
            .field("buffered", &self.buffered.len())
            .field("exhausted", &self.exhausted)
            .finish()
    }
}

impl<R: 'static> IMap<R> {
    fn new<I, F>(core: &Rc<GroupCore>, f: F, items: I, ordered: bool) -> IMap<R>
    where
        I: IntoIterator,
        I::IntoIter: 'static,
        I::Item: 'static,
        F: Fn(I::Item) -> R + 'static,
    {
        let f = Rc::new(f);
        let input = items.into_iter().map(move |item| {
            let f = f.clone();
            Box::new(move || f(item)) as Thunk<R>
        });
        IMap {
            core: core.clone(),
            input: Box::new(input),
            pending: None,
            exhausted: false,
            ended: false,
            ordered,
            state: Rc::new(MapState::default()),
            inflight: HashMap::new(),
            buffered: BTreeMap::new(),
            next_spawn: 0,
            next_yield: 0,
        }
    }

    /// Spawns one input; a permit must be held for a pool.
    fn spawn_one(&mut self, thunk: Thunk<R>) {
        let idx = self.next_spawn;
        self.next_spawn += 1;
        let state = self.state.clone();
        let then = Box::new(move || {
            state.done.borrow_mut().push_back(idx);
            state.notify.notify_all();
        });
        // A start failure leaves the greenlet dead with the error, which
        // `take` reports as this item's result.
        let (g, _started) = self.core.spawn_member(Builder::new(), thunk, Some(then));
        self.inflight.insert(idx, g);
    }

    /// Pulls the next input into `pending`; false when there is none.
    fn have_pending(&mut self) -> bool {
        if self.pending.is_none() && !self.exhausted {
            self.pending = self.input.next();
            self.exhausted = self.pending.is_none();
        }
        self.pending.is_some()
    }

    /// Spawns as many inputs as the group has room for right now.
    fn fill(&mut self) {
        while self.have_pending() {
            if let Some(sem) = &self.core.limit {
                if !sem.try_acquire() {
                    return;
                }
            }
            let thunk = self.pending.take().expect("checked by have_pending");
            self.spawn_one(thunk);
        }
    }

    fn end_with(&mut self, e: Error) -> Option<Result<R>> {
        self.ended = true;
        Some(Err(e))
    }
}

impl<R: 'static> Iterator for IMap<R> {
    type Item = Result<R>;

    fn next(&mut self) -> Option<Result<R>> {
        if self.ended {
            return None;
        }
        if let Err(e) = hub::check_interrupt() {
            return self.end_with(e);
        }
        loop {
            self.fill();
            loop {
                let idx = self.state.done.borrow_mut().pop_front();
                let Some(idx) = idx else { break };
                let Some(g) = self.inflight.remove(&idx) else {
                    continue;
                };
                let r = g.take();
                if !self.ordered {
                    return Some(r);
                }
                self.buffered.insert(idx, r);
            }
            if let Some(r) = self.buffered.remove(&self.next_yield) {
                self.next_yield += 1;
                return Some(r);
            }
            if self.inflight.is_empty() {
                if !self.have_pending() {
                    self.ended = true;
                    return None;
                }
                // None of ours runs and the pool is full of others' work:
                // queue for room like any other spawner.
                if let Err(e) = self.core.acquire(None) {
                    return self.end_with(e);
                }
                let thunk = self.pending.take().expect("checked by have_pending");
                self.spawn_one(thunk);
                continue;
            }
            let w = hub::waiter();
            self.state.notify.push(w.clone());
            if self.have_pending() {
                if let Some(sem) = &self.core.limit {
                    sem.available.push(w);
                }
            }
            if let Err(e) = hub::park(None).result {
                return self.end_with(e);
            }
        }
    }
}
