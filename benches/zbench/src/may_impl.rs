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
use crate::machine::{map_count, stack_residency, vm_rss_bytes};

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
        let batches = total / batch;
        let mut handles = Vec::with_capacity(batch as usize);
        let start = Instant::now();
        let mut first_batch = Duration::ZERO;
        for b in 0..batches {
            for _ in 0..batch {
                handles.push(go!(|| ()));
            }
            for h in handles.drain(..) {
                if h.join().is_err() {
                    return Err("a may coroutine panicked".to_string());
                }
            }
            if b == 0 {
                first_batch = start.elapsed();
            }
        }
        Ok((start.elapsed(), first_batch))
    });
    let (elapsed, first_batch) = join(outer)??;
    let batches = total / batch;
    let rest = elapsed - first_batch;
    Ok(json!({
        "bench": "spawn",
        "impl": "may",
        "ns_per_op": elapsed.as_nanos() as f64 / total as f64,
        "first_batch_ns_per_op": first_batch.as_nanos() as f64 / batch as f64,
        "later_batches_ns_per_op": if batches > 1 { rest.as_nanos() as f64 / (total - batch) as f64 } else { f64::NAN },
        "total": total,
        "batch": batch,
        "workers": may::config().get_workers(),
        "pool_capacity": may::config().get_pool_capacity(),
    }))
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
    Ok(json!({
        "bench": "yield",
        "impl": "may",
        "ns_per_op": elapsed.as_nanos() as f64 / done as f64,
        "yields": done,
        "workers": may::config().get_workers(),
        "pool_capacity": may::config().get_pool_capacity(),
    }))
}

/// `count` coroutines parked in a long sleep: RSS growth per coroutine.
pub fn rss(opts: MayOpts, count: u64) -> Result<Value, String> {
    configure(opts);
    join(go!(|| may::coroutine::sleep(Duration::from_millis(1))))?;
    let maps_before = map_count();
    let before = vm_rss_bytes()?;
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
    let after = vm_rss_bytes()?;
    let maps_after = map_count();
    let residency = stack_residency(may::config().get_stack_size() * std::mem::size_of::<usize>());
    let n = handles.len() as u64;
    for h in &handles {
        // SAFETY: the coroutines hold no resource beyond an Arc clone; a
        // cancel unwinds them out of their sleep.
        unsafe { h.coroutine().cancel() };
    }
    for h in handles {
        let _ = h.join();
    }
    let per = after.saturating_sub(before) as f64 / n as f64;
    Ok(json!({
        "bench": "rss",
        "impl": "may",
        "bytes_per_greenlet": per,
        "kib_per_greenlet": per / 1024.0,
        "count": n,
        "requested": count,
        "rss_before": before,
        "rss_after": after,
        "maps_before": maps_before,
        "maps_after": maps_after,
        "stack_mappings": residency.map(|r| r.0),
        "stack_pages_resident_mean": residency.map(|r| r.1),
        "stack_lowest_page_resident": residency.map(|r| r.2),
        "stack_highest_page_resident": residency.map(|r| r.3),
        "stack_bytes": may::config().get_stack_size() * std::mem::size_of::<usize>(),
        "workers": may::config().get_workers(),
        "pool_capacity": may::config().get_pool_capacity(),
    }))
}
