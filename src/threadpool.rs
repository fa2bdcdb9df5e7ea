//! Blocking work on OS threads, with the result delivered back to the
//! calling greenlet through the hub's waker (gevent's `threadpool`).
//!
//! The pool is process-wide: up to [`max_threads`] worker threads (default
//! 10, `ZGREEN_THREADPOOL_MAX`), started on demand and kept. The calling
//! greenlet parks; the rest of its hub keeps running.

use std::any::Any;
use std::fmt;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use crate::error::{Error, Result};
use crate::hub::{self, Deadline, HubHandle, RemoteSlot, with_hub};

type Job = Box<dyn FnOnce() + Send>;

struct Pool {
    tx: Sender<Job>,
    rx: Receiver<Job>,
    threads: AtomicUsize,
    idle: AtomicUsize,
}

static MAX_THREADS: AtomicUsize = AtomicUsize::new(0);

/// The most worker threads the pool starts.
pub fn max_threads() -> usize {
    let n = MAX_THREADS.load(Ordering::Relaxed);
    if n != 0 {
        return n;
    }
    std::env::var("ZGREEN_THREADPOOL_MAX")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(10)
}

/// Sets the most worker threads the pool starts (at least 1). Threads
/// already started are kept.
pub fn set_max_threads(n: usize) {
    MAX_THREADS.store(n.max(1), Ordering::Relaxed);
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let (tx, rx) = crossbeam_channel::unbounded();
        Pool {
            tx,
            rx,
            threads: AtomicUsize::new(0),
            idle: AtomicUsize::new(0),
        }
    })
}

fn submit(job: Job) {
    let p = pool();
    if p.idle.load(Ordering::SeqCst) == 0 && p.threads.load(Ordering::SeqCst) < max_threads() {
        let n = p.threads.fetch_add(1, Ordering::SeqCst);
        let rx = p.rx.clone();
        let started = std::thread::Builder::new()
            .name(format!("zgreen-pool-{n}"))
            .spawn(move || {
                let p = pool();
                loop {
                    p.idle.fetch_add(1, Ordering::SeqCst);
                    let job = rx.recv();
                    p.idle.fetch_sub(1, Ordering::SeqCst);
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            });
        if started.is_err() {
            p.threads.fetch_sub(1, Ordering::SeqCst);
            tracing::warn!("zgreen threadpool: cannot start another worker thread");
        }
    }
    // The channel lives as long as the process: sending cannot fail.
    let _ = p.tx.send(job);
}

/// The pending result of a job running on the thread pool.
pub struct ThreadResult<T> {
    key: u64,
    slot: Rc<RemoteSlot>,
    result: Arc<Mutex<Option<std::thread::Result<T>>>>,
}

impl<T> fmt::Debug for ThreadResult<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadResult")
            .field("ready", &self.ready())
            .finish()
    }
}

/// Runs `f` on a pool thread; the returned handle's `get` parks the calling
/// greenlet until the result is back.
///
/// ```
/// let r = zgreen::threadpool::spawn(|| std::fs::metadata("/").is_ok());
/// assert!(r.get().unwrap());
/// ```
pub fn spawn<T, F>(f: F) -> ThreadResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (key, slot) = with_hub(|h| h.new_remote_slot());
    let result = Arc::new(Mutex::new(None));
    let out = result.clone();
    let handle: HubHandle = with_hub(|h| h.handle());
    submit(Box::new(move || {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        if let Ok(mut o) = out.lock() {
            *o = Some(r);
        }
        handle.notify(key);
    }));
    ThreadResult { key, slot, result }
}

/// Runs `f` on a pool thread and waits for its result (gevent's
/// `threadpool.apply`).
pub fn apply<T, F>(f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    spawn(f).get()
}

impl<T> ThreadResult<T> {
    /// True once the job has finished.
    pub fn ready(&self) -> bool {
        self.result.lock().map(|r| r.is_some()).unwrap_or(true)
    }

    /// Waits for the job's result. A panic in the job comes back as
    /// [`Error::Panicked`].
    pub fn get(self) -> Result<T> {
        self.get_until(None)
    }

    /// [`get`](Self::get) with a deadline; on timeout the handle is lost
    /// but the job still runs to completion.
    pub fn get_timeout(self, timeout: Duration) -> Result<T> {
        self.get_until(Some(Deadline::after(timeout)))
    }

    /// [`get`](Self::get), failing with `Error::Timeout` at `deadline` (the
    /// job still runs to completion).
    pub fn get_deadline(self, deadline: Instant) -> Result<T> {
        self.get_until(Some(Deadline::at(deadline)))
    }

    fn get_until(self, d: Option<Deadline>) -> Result<T> {
        hub::check_interrupt()?;
        loop {
            // A poisoned lock still holds a whole `Option`: the job's
            // panic is caught before the result is stored.
            let taken = self
                .result
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
            if let Some(r) = taken {
                return r.map_err(panic_error);
            }
            self.slot.fired.set(false);
            self.slot.waiters.wait(d)?;
        }
    }
}

impl<T> Drop for ThreadResult<T> {
    fn drop(&mut self) {
        let _ = hub::try_with_hub(|h| h.drop_remote_slot(self.key));
    }
}

fn panic_error(payload: Box<dyn Any + Send>) -> Error {
    hub::panic::error(payload.as_ref(), hub::current_task().id)
}
