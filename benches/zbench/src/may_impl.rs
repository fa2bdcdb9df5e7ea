//! The three benches on `may`, with one worker thread so that, like zgreen
//! and gevent, every coroutine runs on a single core. All spawning and
//! joining happens inside coroutines on that worker; the main thread only
//! waits for the outer coroutine.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use may::go;
use serde_json::{Value, json};

use crate::MayOpts;
use crate::core_bench::{Rss, spawn_line, timed_batches};

fn configure(opts: MayOpts) {
    may::config().set_workers(1);
    if let Some(n) = opts.may_pool_capacity {
        may::config().set_pool_capacity(n);
    }
}

fn join<T>(h: may::coroutine::JoinHandle<T>) -> Result<T, String> {
    h.join().map_err(|_| "a may coroutine panicked".to_string())
}

/// Spawn `batch` trivial coroutines, join them all, repeat until `total`.
pub fn spawn(opts: MayOpts, total: u64, batch: u64) -> Result<Value, String> {
    configure(opts);
    // Start the scheduler before timing.
    join(go!(|| ()))?;
    let outer = go!(move || {
        let mut handles = Vec::with_capacity(batch as usize);
        timed_batches(total / batch, || {
            for _ in 0..batch {
                handles.push(go!(|| ()));
            }
            for h in handles.drain(..) {
                if h.join().is_err() {
                    return Err("a may coroutine panicked".to_string());
                }
            }
            Ok(())
        })
    });
    let (elapsed, first_batch) = join(outer)??;
    Ok(with_config(spawn_line("may", total, batch, elapsed, first_batch)))
}

/// `v` with may's configuration.
fn with_config(mut v: Value) -> Value {
    v["workers"] = json!(may::config().get_workers());
    v["pool_capacity"] = json!(may::config().get_pool_capacity());
    v
}

/// Two coroutines each call `yield_now` `yields / 2` times.
pub fn yields(opts: MayOpts, yields: u64) -> Result<Value, String> {
    configure(opts);
    join(go!(|| ()))?;
    let half = yields / 2;
    let outer = go!(move || {
        let start = Instant::now();
        let body = move || {
            for _ in 0..half {
                may::coroutine::yield_now();
            }
        };
        let a = go!(body);
        let b = go!(body);
        let ok = a.join().is_ok() & b.join().is_ok();
        (start.elapsed(), ok)
    });
    let (elapsed, ok) = join(outer)?;
    if !ok {
        return Err("a may coroutine panicked".into());
    }
    let done = half * 2;
    Ok(with_config(json!({
        "bench": "yield",
        "impl": "may",
        "ns_per_op": elapsed.as_nanos() as f64 / done as f64,
        "yields": done,
    })))
}

/// `count` coroutines parked in a long sleep: RSS growth per coroutine.
pub fn rss(opts: MayOpts, count: u64) -> Result<Value, String> {
    configure(opts);
    join(go!(|| may::coroutine::sleep(Duration::from_millis(1))))?;
    let mut rss = Rss::start(may::config().get_stack_size() * std::mem::size_of::<usize>())?;
    let parked = Arc::new(AtomicU64::new(0));
    let p = parked.clone();
    let outer = go!(move || {
        let mut handles = Vec::new();
        for _ in 0..count {
            let p = p.clone();
            handles.push(go!(move || {
                p.fetch_add(1, Ordering::Relaxed);
                may::coroutine::sleep(Duration::from_secs(3600));
            }));
        }
        handles
    });
    let handles = join(outer)?;
    // Each coroutine counts itself just before it parks; give the last ones
    // time to reach the park.
    let deadline = Instant::now() + Duration::from_secs(60);
    while parked.load(Ordering::Relaxed) < count {
        if Instant::now() > deadline {
            return Err(format!(
                "only {} of {count} may coroutines started",
                parked.load(Ordering::Relaxed)
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(100));
    rss.parked()?;
    let n = handles.len() as u64;
    for h in &handles {
        // SAFETY: the coroutines hold no resource beyond an Arc clone; a
        // cancel unwinds them out of their sleep.
        unsafe { h.coroutine().cancel() };
    }
    for h in handles {
        let _ = h.join();
    }
    Ok(with_config(rss.line("may", n, count)))
}
