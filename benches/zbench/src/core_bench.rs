//! What the spawn and rss benches of zgreen and may share: the batch clock
//! and the common part of their JSON lines (each implementation adds its
//! own fields).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::machine::{map_count, stack_residency, vm_rss_bytes};

/// Runs `batch` `batches` times on one clock; returns the time of all of
/// them and of the first one.
pub fn timed_batches(
    batches: u64,
    mut batch: impl FnMut() -> Result<(), String>,
) -> Result<(Duration, Duration), String> {
    let start = Instant::now();
    let mut first_batch = Duration::ZERO;
    for b in 0..batches {
        batch()?;
        if b == 0 {
            first_batch = start.elapsed();
        }
    }
    Ok((start.elapsed(), first_batch))
}

/// The spawn line of `imp`: `total` spawns in batches of `batch`, all of
/// them in `elapsed`, the first batch in `first_batch`.
pub fn spawn_line(imp: &str, total: u64, batch: u64, elapsed: Duration, first_batch: Duration) -> Value {
    let batches = total / batch;
    let rest = elapsed - first_batch;
    json!({
        "bench": "spawn",
        "impl": imp,
        "ns_per_op": elapsed.as_nanos() as f64 / total as f64,
        "first_batch_ns_per_op": first_batch.as_nanos() as f64 / batch as f64,
        "later_batches_ns_per_op": if batches > 1 { rest.as_nanos() as f64 / (total - batch) as f64 } else { f64::NAN },
        "total": total,
        "batch": batch,
    })
}

/// The rss probe: what an rss run measures before it spawns and once its
/// coroutines are parked.
#[derive(Clone, Debug)]
pub struct Rss {
    /// Resident set size before spawning, in bytes.
    pub before: u64,
    /// Resident set size once all of them were parked.
    pub after: u64,
    /// Memory mappings before spawning.
    pub maps_before: Option<u64>,
    /// Memory mappings once all of them were parked.
    pub maps_after: Option<u64>,
    /// `stack_residency(stack_bytes)` once all of them were parked.
    pub residency: Option<(u64, f64, f64, f64)>,
    /// Size of one coroutine stack.
    pub stack_bytes: usize,
}

impl Rss {
    /// Measures before spawning coroutines with stacks of `stack_bytes`.
    pub fn start(stack_bytes: usize) -> Result<Rss, String> {
        let maps_before = map_count();
        let before = vm_rss_bytes()?;
        Ok(Rss {
            before,
            after: 0,
            maps_before,
            maps_after: None,
            residency: None,
            stack_bytes,
        })
    }

    /// Measures again, every coroutine parked.
    pub fn parked(&mut self) -> Result<(), String> {
        self.after = vm_rss_bytes()?;
        self.maps_after = map_count();
        self.residency = stack_residency(self.stack_bytes);
        Ok(())
    }

    /// The rss line of `imp` for `n` parked coroutines of `requested`.
    pub fn line(&self, imp: &str, n: u64, requested: u64) -> Value {
        let per = self.after.saturating_sub(self.before) as f64 / n as f64;
        json!({
            "bench": "rss",
            "impl": imp,
            "bytes_per_greenlet": per,
            "kib_per_greenlet": per / 1024.0,
            "count": n,
            "requested": requested,
            "rss_before": self.before,
            "rss_after": self.after,
            "maps_before": self.maps_before,
            "maps_after": self.maps_after,
            "stack_mappings": self.residency.map(|r| r.0),
            "stack_pages_resident_mean": self.residency.map(|r| r.1),
            "stack_lowest_page_resident": self.residency.map(|r| r.2),
            "stack_highest_page_resident": self.residency.map(|r| r.3),
            "stack_bytes": self.stack_bytes,
        })
    }
}
