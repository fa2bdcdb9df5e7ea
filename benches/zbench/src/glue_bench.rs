//! Issue 3: queue put/get throughput and `Pool(100).map`.
//!
//! * `queue --impl zgreen`: a producer greenlet puts `count` integers into
//!   a `zgreen::queue::Queue` (unbounded with `--maxsize 0`, else
//!   `Queue::bounded(maxsize)`) and a consumer greenlet gets them, on one
//!   hub.
//! * `queue --impl crossbeam`: the same between two OS threads through
//!   `crossbeam_channel::unbounded()` / `bounded(maxsize)`.
//! * `pool-map`: `Pool::new(size).map(|i| i, 0..items)`.
//!
//! The clock runs from before the producer starts until the consumer has
//! the last item.

use std::time::Instant;

use serde_json::{Value, json};

fn zerr(e: zgreen::Error) -> String {
    e.to_string()
}

pub fn queue(imp: &str, maxsize: usize, count: u64) -> Result<Value, String> {
    let secs = match imp {
        "zgreen" => queue_zgreen(maxsize, count)?,
        "crossbeam" => queue_crossbeam(maxsize, count)?,
        other => return Err(format!("queue: unknown impl {other:?}")),
    };
    Ok(json!({
        "bench": "queue",
        "impl": imp,
        "maxsize": maxsize,
        "count": count,
        "secs": secs,
        "items_per_s": count as f64 / secs,
        "ns_per_item": secs * 1e9 / count as f64,
    }))
}

fn queue_zgreen(maxsize: usize, count: u64) -> Result<f64, String> {
    let _ = zgreen::hub_stats();
    let q: zgreen::queue::Queue<u64> = if maxsize == 0 {
        zgreen::queue::Queue::new()
    } else {
        zgreen::queue::Queue::bounded(maxsize)
    };
    let start = Instant::now();
    let producer = {
        let q = q.clone();
        zgreen::spawn(move || -> zgreen::Result<()> {
            for i in 0..count {
                q.put(i).map_err(|e| e.error().clone())?;
            }
            Ok(())
        })
    };
    let consumer = zgreen::spawn(move || -> zgreen::Result<(f64, u64)> {
        let mut sum = 0u64;
        for _ in 0..count {
            sum = sum.wrapping_add(q.get()?);
        }
        Ok((start.elapsed().as_secs_f64(), sum))
    });
    let (secs, sum) = consumer.take().map_err(zerr)?.map_err(zerr)?;
    producer.take().map_err(zerr)?.map_err(zerr)?;
    if sum != count.wrapping_mul(count.wrapping_sub(1)) / 2 {
        return Err("queue: items lost".into());
    }
    Ok(secs)
}

fn queue_crossbeam(maxsize: usize, count: u64) -> Result<f64, String> {
    let (tx, rx) = if maxsize == 0 {
        crossbeam_channel::unbounded::<u64>()
    } else {
        crossbeam_channel::bounded::<u64>(maxsize)
    };
    let start = Instant::now();
    let producer = std::thread::spawn(move || {
        for i in 0..count {
            tx.send(i).expect("receiver alive");
        }
    });
    let mut sum = 0u64;
    for _ in 0..count {
        sum = sum.wrapping_add(rx.recv().map_err(|e| e.to_string())?);
    }
    let secs = start.elapsed().as_secs_f64();
    producer.join().map_err(|_| "producer panicked".to_string())?;
    if sum != count.wrapping_mul(count.wrapping_sub(1)) / 2 {
        return Err("queue: items lost".into());
    }
    Ok(secs)
}

pub fn pool_map(size: usize, items: u64) -> Result<Value, String> {
    let _ = zgreen::hub_stats();
    let pool = zgreen::pool::Pool::new(size);
    let start = Instant::now();
    let out = pool.map(|i: u64| i, 0..items).map_err(zerr)?;
    let secs = start.elapsed().as_secs_f64();
    if out.len() as u64 != items || out.last().copied() != items.checked_sub(1) {
        return Err("pool-map: wrong results".into());
    }
    Ok(json!({
        "bench": "pool-map",
        "impl": "zgreen",
        "size": size,
        "items": items,
        "secs": secs,
        "items_per_s": items as f64 / secs,
        "ns_per_item": secs * 1e9 / items as f64,
    }))
}
