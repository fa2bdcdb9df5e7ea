//! The three benches on zgreen, run from plain `main()` (the root context
//! runs the hub while it blocks).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::machine::{map_count, stack_residency, vm_rss_bytes};

fn err(e: zgreen::Error) -> String {
    e.to_string()
}

/// Spawn `batch` trivial greenlets, join them all, repeat until `total`.
pub fn spawn(total: u64, batch: u64) -> Result<Value, String> {
    // Create the hub before timing (gevent's and may's hubs exist too).
    let _ = zgreen::hub_stats();
    let batches = total / batch;
    let mut handles = Vec::with_capacity(batch as usize);
    let start = Instant::now();
    let mut first_batch = Duration::ZERO;
    for b in 0..batches {
        for _ in 0..batch {
            handles.push(zgreen::spawn(|| ()));
        }
        zgreen::joinall(handles.drain(..)).map_err(err)?;
        if b == 0 {
            first_batch = start.elapsed();
        }
    }
    let elapsed = start.elapsed();
    let rest = elapsed - first_batch;
    Ok(json!({
        "bench": "spawn",
        "impl": "zgreen",
        "ns_per_op": elapsed.as_nanos() as f64 / total as f64,
        "first_batch_ns_per_op": first_batch.as_nanos() as f64 / batch as f64,
        "later_batches_ns_per_op": if batches > 1 { rest.as_nanos() as f64 / (total - batch) as f64 } else { f64::NAN },
        "total": total,
        "batch": batch,
        "pooled_stacks_after": zgreen::hub_stats().pooled_stacks,
    }))
}

/// Two greenlets each yield `yields / 2` times with `sleep(ZERO)`.
pub fn yields(yields: u64) -> Result<Value, String> {
    let _ = zgreen::hub_stats();
    let half = yields / 2;
    let body = move || -> zgreen::Result<()> {
        for _ in 0..half {
            zgreen::sleep(Duration::ZERO)?;
        }
        Ok(())
    };
    let switches_before = zgreen::hub_stats().switches;
    let start = Instant::now();
    let a = zgreen::spawn(body);
    let b = zgreen::spawn(body);
    zgreen::joinall([a.any(), b.any()]).map_err(err)?;
    let elapsed = start.elapsed();
    a.get().map_err(err)?.map_err(err)?;
    b.get().map_err(err)?.map_err(err)?;
    let done = half * 2;
    Ok(json!({
        "bench": "yield",
        "impl": "zgreen",
        "ns_per_op": elapsed.as_nanos() as f64 / done as f64,
        "yields": done,
        "switches": zgreen::hub_stats().switches - switches_before,
    }))
}

/// `count` greenlets parked in a long sleep: RSS growth per greenlet.
pub fn rss(count: u64) -> Result<Value, String> {
    let _ = zgreen::hub_stats();
    zgreen::sleep(Duration::ZERO).map_err(err)?;
    let maps_before = map_count();
    let before = vm_rss_bytes()?;
    let mut handles = Vec::new();
    let mut spawn_error = None;
    for _ in 0..count {
        match zgreen::try_spawn(|| {
            let _ = zgreen::sleep(Duration::from_secs(3600));
        }) {
            Ok(g) => handles.push(g),
            Err(e) => {
                spawn_error = Some(e.to_string());
                break;
            }
        }
    }
    // Let every new greenlet run up to its park.
    zgreen::idle().map_err(err)?;
    let live = zgreen::hub_stats().live_greenlets as u64;
    let after = vm_rss_bytes()?;
    let maps_after = map_count();
    let residency = stack_residency(zgreen::config::default_stack_bytes());
    let n = handles.len() as u64;
    zgreen::killall(handles).map_err(err)?;
    if n == 0 {
        return Err(format!("no greenlet could be spawned: {spawn_error:?}"));
    }
    let per = after.saturating_sub(before) as f64 / n as f64;
    Ok(json!({
        "bench": "rss",
        "impl": "zgreen",
        "bytes_per_greenlet": per,
        "kib_per_greenlet": per / 1024.0,
        "count": n,
        "requested": count,
        "live_greenlets": live,
        "rss_before": before,
        "rss_after": after,
        "maps_before": maps_before,
        "maps_after": maps_after,
        "stack_mappings": residency.map(|r| r.0),
        "stack_pages_resident_mean": residency.map(|r| r.1),
        "stack_lowest_page_resident": residency.map(|r| r.2),
        "stack_highest_page_resident": residency.map(|r| r.3),
        "stack_bytes": zgreen::config::default_stack_bytes(),
        "spawn_error": spawn_error,
    }))
}
