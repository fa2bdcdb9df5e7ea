//! Many cores: a [`Runtime`] of N hubs, each on its own named OS thread.
//!
//! Greenlets never migrate: a greenlet runs on the hub it was spawned on
//! until it ends, so thread-locals, greenlet-locals and `!Send` values
//! (ZeroMQ sockets, green streams) stay sound. Work crosses hubs as `Send`
//! values: the closures given to [`Runtime::spawn`], [`chan`]
//! channels, ZeroMQ `inproc://` sockets of one shared context, or
//! [`HubHandle::spawn`].
//!
//! ```
//! let rt = zgreen::runtime::Runtime::builder().hubs(2).build().unwrap();
//! let (tx, rx) = zgreen::chan::unbounded();
//! // One greenlet on each hub; each says where it ran.
//! for hub in 0..rt.hubs() {
//!     let tx = tx.clone();
//!     rt.spawn_on(hub, move || {
//!         tx.send(std::thread::current().name().map(String::from)).unwrap();
//!     });
//! }
//! drop(tx);
//! let mut names: Vec<_> = rx.iter().map(|n| n.unwrap().unwrap()).collect();
//! names.sort();
//! assert_eq!(names, ["zgreen-hub-0", "zgreen-hub-1"]);
//! let sum = rt.spawn(|| 40 + 2).join().unwrap();
//! assert_eq!(sum, 42);
//! rt.shutdown().unwrap();
//! ```

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::chan;
use crate::error::{Closed, Error, Result, TryRecvError};
use crate::hub::{self, HubHandle};

/// How long [`Runtime::shutdown`] (and dropping the runtime) lets killed
/// greenlets finish before it gives up on a hub.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Configures and starts a [`Runtime`].
#[derive(Debug, Clone)]
pub struct Builder {
    hubs: usize,
    name: String,
    grace: Duration,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            hubs: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            name: "zgreen-hub".into(),
            grace: DEFAULT_SHUTDOWN_GRACE,
        }
    }
}

impl Builder {
    /// The number of hubs (threads); default: the CPU count. At least 1.
    pub fn hubs(mut self, n: usize) -> Self {
        self.hubs = n.max(1);
        self
    }

    /// The threads' name prefix (default `zgreen-hub`): hub `i` runs on
    /// the thread `{prefix}-{i}`.
    pub fn name(mut self, prefix: impl Into<String>) -> Self {
        self.name = prefix.into();
        self
    }

    /// How long a shutdown waits for each hub's killed greenlets (default
    /// [`DEFAULT_SHUTDOWN_GRACE`]).
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Starts the hub threads. Fails if a thread cannot be started (the
    /// ones already started are shut down).
    pub fn build(self) -> std::io::Result<Runtime> {
        let mut rt = Runtime {
            hubs: Vec::with_capacity(self.hubs),
            next: AtomicUsize::new(0),
            grace: self.grace,
        };
        for i in 0..self.hubs {
            rt.hubs.push(HubThread::start(format!("{}-{i}", self.name))?);
        }
        Ok(rt)
    }
}

/// One hub thread.
struct HubThread {
    name: String,
    handle: HubHandle,
    /// Spawns sent and not yet started (a load figure the hub has not
    /// published yet).
    queued: Arc<AtomicUsize>,
    /// Dropping it (or sending) tells the hub to shut down.
    stop: Option<chan::Sender<Duration>>,
    thread: Option<JoinHandle<ShutdownReport>>,
}

/// What a hub thread reports when it ends.
#[derive(Clone, Copy, Debug, Default)]
struct ShutdownReport {
    /// Greenlets still alive when the grace period ran out.
    left: usize,
}

impl HubThread {
    fn start(name: String) -> std::io::Result<HubThread> {
        let (stop_tx, stop_rx) = chan::bounded::<Duration>(1);
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel::<HubHandle>(1);
        let thread = std::thread::Builder::new().name(name.clone()).spawn(move || {
            // The root context: runs this hub's greenlets until told to
            // stop, then kills them and waits for them to end.
            let _ = ready_tx.send(crate::hub_handle());
            let grace = stop_rx.recv().unwrap_or(DEFAULT_SHUTDOWN_GRACE);
            drain(grace)
        })?;
        let handle = ready_rx
            .recv()
            .map_err(|_| std::io::Error::other("zgreen runtime: a hub thread ended while starting"))?;
        Ok(HubThread {
            name,
            handle,
            queued: Arc::new(AtomicUsize::new(0)),
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    fn load(&self) -> usize {
        self.handle.live_greenlets() + self.queued.load(Ordering::Relaxed)
    }

    /// Tells the hub to stop (once; later calls do nothing).
    fn tell_stop(&mut self, grace: Duration) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.try_send(grace);
        }
    }

    /// Waits for the hub's thread, told to stop already.
    fn join(&mut self, grace: Duration) -> Result<()> {
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        match thread.join() {
            Ok(r) if r.left == 0 => Ok(()),
            Ok(r) => Err(Error::other(format!(
                "zgreen runtime: {} greenlet(s) of {} did not end within {grace:?} of being killed",
                r.left, self.name
            ))),
            Err(_) => Err(Error::other(format!(
                "zgreen runtime: the thread of {} panicked",
                self.name
            ))),
        }
    }
}

/// On the hub's thread: kill every greenlet (again, for any spawned
/// meanwhile) until none is left or `grace` has passed.
fn drain(grace: Duration) -> ShutdownReport {
    let until = Instant::now() + grace;
    loop {
        hub::kill_all();
        let left = hub::with_hub(|h| h.live_greenlets());
        if left == 0 {
            return ShutdownReport { left: 0 };
        }
        if Instant::now() >= until {
            return ShutdownReport { left };
        }
        let _ = crate::sleep(Duration::from_millis(1));
    }
}

/// N hubs on N threads (see the [module docs](self)).
///
/// Dropping the runtime shuts it down as [`shutdown`](Self::shutdown)
/// does, ignoring the report.
pub struct Runtime {
    hubs: Vec<HubThread>,
    next: AtomicUsize,
    grace: Duration,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime").field("hubs", &self.hubs.len()).finish()
    }
}

impl Runtime {
    /// A runtime with one hub per CPU.
    pub fn new() -> std::io::Result<Runtime> {
        Builder::default().build()
    }

    /// A [`Builder`] to choose the number of hubs and their names.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The number of hubs.
    pub fn hubs(&self) -> usize {
        self.hubs.len()
    }

    /// The handle of hub `index` (to wake it, or [`HubHandle::spawn`] a
    /// fire-and-forget closure on it).
    ///
    /// # Panics
    /// If `index >= self.hubs()`.
    pub fn handle(&self, index: usize) -> &HubHandle {
        &self.hubs[index].handle
    }

    /// Greenlets alive or queued on each hub, as the hubs last published.
    pub fn loads(&self) -> Vec<usize> {
        self.hubs.iter().map(HubThread::load).collect()
    }

    /// Runs `f` in a new greenlet on hub `index`; the [`Spawned`] handle
    /// joins it from any thread or hub.
    ///
    /// # Panics
    /// If `index >= self.hubs()`.
    pub fn spawn_on<F, T>(&self, index: usize, f: F) -> Spawned<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let hub = &self.hubs[index];
        let (tx, rx) = chan::bounded::<Result<T>>(1);
        let queued = hub.queued.clone();
        queued.fetch_add(1, Ordering::Relaxed);
        let report = Report(Some(tx));
        let sent = hub.handle.spawn(move || {
            queued.fetch_sub(1, Ordering::Relaxed);
            let g = crate::spawn(f);
            report.send(g.take());
        });
        if !sent {
            hub.queued.fetch_sub(1, Ordering::Relaxed);
        }
        Spawned {
            rx,
            hub: index,
            taken: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Runs `f` on the least-loaded hub (fewest greenlets alive or queued;
    /// ties go round-robin).
    pub fn spawn<F, T>(&self, f: F) -> Spawned<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let n = self.hubs.len();
        let index = (0..n)
            .map(|k| (start + k) % n)
            .min_by_key(|&i| self.hubs[i].load())
            .unwrap_or(0);
        self.spawn_on(index, f)
    }

    /// Runs `f(index)` once on every hub (a server's accept loop per hub,
    /// say); the handles come in hub order.
    pub fn spawn_each<F, T>(&self, f: F) -> Vec<Spawned<T>>
    where
        F: Fn(usize) -> T + Send + Sync + 'static,
        T: Send + 'static,
    {
        let f = Arc::new(f);
        (0..self.hubs.len())
            .map(|i| {
                let f = f.clone();
                self.spawn_on(i, move || f(i))
            })
            .collect()
    }

    /// Stops every hub: each kills all its greenlets (their blocking calls
    /// return [`Error::Killed`], so sockets are dropped and closed within
    /// their linger) and waits up to the shutdown grace for them to end.
    /// Fails, after every hub was stopped, if greenlets of some hub were
    /// still alive at the end of the grace.
    pub fn shutdown(mut self) -> Result<()> {
        self.stop_all()
    }

    fn stop_all(&mut self) -> Result<()> {
        // Tell every hub first, so they drain in parallel.
        for h in &mut self.hubs {
            h.tell_stop(self.grace);
        }
        let mut first_err = None;
        for h in &mut self.hubs {
            if let Err(e) = h.join(self.grace) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Err(e) = self.stop_all() {
            tracing::warn!("{e}");
        }
    }
}

/// The sending end of a [`Spawned`]'s outcome. Dropped unsent (the
/// greenlet was killed before it ran, or its hub ended with the spawn
/// still queued), it reports [`Error::Killed`].
struct Report<T>(Option<chan::Sender<Result<T>>>);

impl<T> Report<T> {
    fn send(mut self, outcome: Result<T>) {
        if let Some(tx) = self.0.take() {
            let _ = tx.try_send(outcome);
        }
    }
}

impl<T> Drop for Report<T> {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.try_send(Err(Error::Killed));
        }
    }
}

/// A greenlet started by [`Runtime::spawn`] on some hub; join it from any
/// thread or hub. Dropping it does not stop the greenlet.
pub struct Spawned<T> {
    rx: chan::Receiver<Result<T>>,
    hub: usize,
    /// The outcome was received already.
    taken: std::sync::atomic::AtomicBool,
}

impl<T> fmt::Debug for Spawned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spawned").field("hub", &self.hub).finish()
    }
}

/// Why [`Spawned::try_join`] returned no value.
#[derive(Debug, thiserror::Error)]
pub enum TryJoinError {
    /// The greenlet has not finished.
    #[error("the greenlet is still running")]
    Running,
    /// The greenlet failed (panicked, killed), or its hub is gone.
    #[error(transparent)]
    Failed(Error),
}

impl<T> Spawned<T> {
    /// The hub it runs on.
    pub fn hub(&self) -> usize {
        self.hub
    }

    /// Waits for the greenlet's value; its error if it failed (a panic,
    /// [`Error::Killed`] at shutdown, even before it ran), and
    /// [`Error::ValueTaken`] for a second join.
    pub fn join(&self) -> Result<T> {
        self.outcome(self.rx.recv())
    }

    /// [`join`](Self::join), failing with [`Error::Timeout`] after
    /// `timeout` (the join can be tried again).
    pub fn join_timeout(&self, timeout: Duration) -> Result<T> {
        self.outcome(self.rx.recv_timeout(timeout))
    }

    /// [`join`](Self::join), failing with [`Error::Timeout`] at
    /// `deadline`.
    pub fn join_deadline(&self, deadline: Instant) -> Result<T> {
        self.outcome(self.rx.recv_deadline(deadline))
    }

    /// The value if the greenlet has finished, without waiting.
    pub fn try_join(&self) -> std::result::Result<T, TryJoinError> {
        match self.rx.try_recv() {
            Err(TryRecvError::Empty) => Err(TryJoinError::Running),
            Ok(r) => self.outcome(Ok(r)).map_err(TryJoinError::Failed),
            Err(TryRecvError::Failed(e)) => self.outcome(Err(e)).map_err(TryJoinError::Failed),
        }
    }

    fn outcome(&self, r: Result<Result<T>>) -> Result<T> {
        match r {
            Ok(r) => {
                self.taken.store(true, Ordering::SeqCst);
                r
            }
            Err(Error::Closed(Closed::Disconnected)) if self.taken.load(Ordering::SeqCst) => {
                Err(Error::ValueTaken)
            }
            Err(Error::Closed(Closed::Disconnected)) => Err(hub_gone()),
            Err(e) => Err(e),
        }
    }
}

fn hub_gone() -> Error {
    Error::other("zgreen runtime: the hub ended before the greenlet reported (shut down)")
}
