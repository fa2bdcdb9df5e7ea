//! The three benches on zgreen, run from plain `main()` (the root context
//! runs the hub while it blocks).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::core_bench::{Rss, spawn_line, timed_batches};

fn err(e: zgreen::Error) -> String {
    e.to_string()
}

/// Spawn `batch` trivial greenlets, join them all, repeat until `total`.
pub fn spawn(total: u64, batch: u64) -> Result<Value, String> {
    // Create the hub before timing (gevent's and may's hubs exist too).
    let _ = zgreen::hub_stats();
    let mut handles = Vec::with_capacity(batch as usize);
    let (elapsed, first_batch) = timed_batches(total / batch, || {
        for _ in 0..batch {
            handles.push(zgreen::spawn(|| ()));
        }
        zgreen::joinall(handles.drain(..)).map_err(err)
    })?;
    let mut v = spawn_line("zgreen", total, batch, elapsed, first_batch);
    v["pooled_stacks_after"] = json!(zgreen::hub_stats().pooled_stacks);
    Ok(v)
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
    let mut rss = Rss::start(zgreen::config::default_stack_bytes())?;
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
    rss.parked()?;
    let n = handles.len() as u64;
    zgreen::killall(handles).map_err(err)?;
    if n == 0 {
        return Err(format!("no greenlet could be spawned: {spawn_error:?}"));
    }
    let mut v = rss.line("zgreen", n, count);
    v["live_greenlets"] = json!(live);
    v["spawn_error"] = json!(spawn_error);
    Ok(v)
}
