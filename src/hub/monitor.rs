//! The blocking monitor: a watchdog thread that reports when the hub has
//! not switched for longer than a threshold while a greenlet runs (gevent's
//! `max_blocking_time`).
//!
//! The root context (plain `main()`, id 0) is watched like any greenlet,
//! as gevent's monitor watches the main greenlet: it "runs" whenever it is
//! not inside the hub loop (between two of its blocking calls), and it
//! switches whenever a park or yield of the root hands over to the loop.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Hub;
use super::task::Task;

/// One report of a greenlet that held the hub too long.
#[derive(Clone, Debug)]
pub struct BlockingReport {
    /// The id of the greenlet that was running (0 for the root context,
    /// plain `main()`).
    pub greenlet: u64,
    /// Its name, if it had one.
    pub name: Option<String>,
    /// How long the hub had gone without a switch when reported.
    pub blocked_for: Duration,
}

/// State shared between the hub and its watchdog thread.
struct Shared {
    /// Incremented at every switch into a greenlet.
    switches: AtomicU64,
    /// The id of the greenlet running now, or `u64::MAX` when the hub is
    /// in its own loop (idle or polling).
    running: AtomicU64,
    running_name: Mutex<Option<Arc<str>>>,
    reports: Mutex<Vec<BlockingReport>>,
    stop: AtomicBool,
}

/// The hub side of an enabled monitor.
pub(crate) struct Monitor {
    shared: Arc<Shared>,
}

/// Most recent reports kept per hub.
const MAX_REPORTS: usize = 64;

impl Monitor {
    /// Starts a watchdog thread for the current hub, whose running task
    /// (a greenlet, or the root) is `running`.
    pub(crate) fn start(threshold: Duration, running: &Task) -> Monitor {
        let shared = Arc::new(Shared {
            switches: AtomicU64::new(0),
            running: AtomicU64::new(u64::MAX),
            running_name: Mutex::new(None),
            reports: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let watch = shared.clone();
        let period = (threshold / 4).max(Duration::from_millis(1));
        std::thread::Builder::new()
            .name("zgreen-blocking-monitor".into())
            .spawn(move || watchdog(watch, threshold, period))
            .expect("zgreen: cannot start the blocking-monitor thread");
        let monitor = Monitor { shared };
        monitor.on_switch(running);
        monitor
    }

    /// Called by the hub before it switches into `task`.
    pub(crate) fn on_switch(&self, task: &Task) {
        self.shared.switches.fetch_add(1, Ordering::Relaxed);
        self.shared.running.store(task.id, Ordering::Relaxed);
        let name = task.name.borrow().clone();
        if let Ok(mut n) = self.shared.running_name.lock() {
            *n = name;
        }
    }

    /// Called by the hub when it is back in its own loop.
    pub(crate) fn on_idle(&self) {
        self.shared.running.store(u64::MAX, Ordering::Relaxed);
    }

    /// The reports so far (most recent last).
    pub(crate) fn reports(&self) -> Vec<BlockingReport> {
        self.shared.reports.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Hub {
    /// Called when the root context leaves its own code for the hub loop
    /// (a park of the root begins).
    pub(super) fn monitor_root_parks(&self) {
        if self.monitor_on.get() {
            if let Some(m) = &*self.monitor.borrow() {
                m.on_idle();
            }
        }
    }

    /// Called when the root context runs its own code again (a park or
    /// yield of the root ends): a switch into the root.
    pub(super) fn monitor_root_resumes(&self) {
        if self.monitor_on.get() {
            if let Some(m) = &*self.monitor.borrow() {
                m.on_switch(&self.root);
            }
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
    }
}

fn watchdog(shared: Arc<Shared>, threshold: Duration, period: Duration) {
    let mut last_switches = u64::MAX;
    let mut since = Instant::now();
    let mut reported_for = u64::MAX;
    while !shared.stop.load(Ordering::Relaxed) {
        std::thread::sleep(period);
        let switches = shared.switches.load(Ordering::Relaxed);
        let running = shared.running.load(Ordering::Relaxed);
        if switches != last_switches || running == u64::MAX {
            last_switches = switches;
            since = Instant::now();
            continue;
        }
        let blocked_for = since.elapsed();
        if blocked_for >= threshold && reported_for != switches {
            reported_for = switches;
            let name = shared
                .running_name
                .lock()
                .ok()
                .and_then(|n| n.as_ref().map(|s| s.to_string()));
            let who = if running == 0 {
                "the root context (#0)".to_string()
            } else {
                format!("greenlet #{running}")
            };
            tracing::warn!(
                greenlet = running,
                name = name.as_deref().unwrap_or(""),
                blocked_ms = blocked_for.as_millis() as u64,
                "zgreen: {who} has blocked the hub for {blocked_for:?} without switching"
            );
            if let Ok(mut r) = shared.reports.lock() {
                if r.len() == MAX_REPORTS {
                    r.remove(0);
                }
                r.push(BlockingReport {
                    greenlet: running,
                    name,
                    blocked_for,
                });
            }
        }
    }
}
