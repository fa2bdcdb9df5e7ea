//! Issue 17: green channels between two hubs against crossbeam-channel
//! between two OS threads.
//!
//! * `chan --impl zgreen`: a `Runtime` of two hubs; a producer greenlet on
//!   hub 0 sends `count` integers into `zgreen::chan::bounded(cap)` (or
//!   `unbounded()` with `--cap 0`), a consumer greenlet on hub 1 receives
//!   them.
//! * `chan --impl crossbeam`: the same between two plain threads through
//!   `crossbeam_channel`.
//! * `--pingpong`: instead, `count` round trips of one item over two
//!   channels (one each way); the figure is µs per round trip.
//!
//! The clock runs from before the producer starts until the consumer has
//! the last item (or the last reply is back).

use std::time::Instant;

use serde_json::{Value, json};

pub fn chan(imp: &str, cap: usize, count: u64, pingpong: bool) -> Result<Value, String> {
    let secs = match (imp, pingpong) {
        ("zgreen", false) => stream_zgreen(cap, count)?,
        ("crossbeam", false) => stream_crossbeam(cap, count),
        ("zgreen", true) => pingpong_zgreen(count)?,
        ("crossbeam", true) => pingpong_crossbeam(count),
        (other, _) => return Err(format!("chan: unknown impl {other:?}")),
    };
    let mut v = json!({
        "bench": if pingpong { "chan-pingpong" } else { "chan" },
        "impl": imp,
        "cap": cap,
        "count": count,
        "secs": secs,
    });
    if pingpong {
        v["us_per_round_trip"] = json!(secs * 1e6 / count as f64);
    } else {
        v["items_per_s"] = json!(count as f64 / secs);
    }
    Ok(v)
}

fn runtime() -> Result<zgreen::runtime::Runtime, String> {
    zgreen::runtime::Runtime::builder()
        .hubs(2)
        .build()
        .map_err(|e| e.to_string())
}

fn zgreen_pair(cap: usize) -> (zgreen::chan::Sender<u64>, zgreen::chan::Receiver<u64>) {
    if cap == 0 {
        zgreen::chan::unbounded()
    } else {
        zgreen::chan::bounded(cap)
    }
}

fn stream_zgreen(cap: usize, count: u64) -> Result<f64, String> {
    let rt = runtime()?;
    let (tx, rx) = zgreen_pair(cap);
    let start = Instant::now();
    let consumer = rt.spawn_on(1, move || -> zgreen::Result<u64> {
        let mut sum = 0u64;
        for _ in 0..count {
            sum = sum.wrapping_add(rx.recv()?);
        }
        Ok(sum)
    });
    let producer = rt.spawn_on(0, move || -> zgreen::Result<()> {
        for i in 0..count {
            tx.send(i).map_err(|e| e.error().clone())?;
        }
        Ok(())
    });
    producer.join().and_then(|r| r).map_err(|e| e.to_string())?;
    let sum = consumer.join().and_then(|r| r).map_err(|e| e.to_string())?;
    let secs = start.elapsed().as_secs_f64();
    check_sum(sum, count)?;
    rt.shutdown().map_err(|e| e.to_string())?;
    Ok(secs)
}

fn stream_crossbeam(cap: usize, count: u64) -> f64 {
    let (tx, rx) = if cap == 0 {
        crossbeam_channel::unbounded()
    } else {
        crossbeam_channel::bounded(cap)
    };
    let start = Instant::now();
    let consumer = std::thread::spawn(move || {
        (0..count)
            .map(|_| rx.recv().unwrap())
            .fold(0u64, u64::wrapping_add)
    });
    let producer = std::thread::spawn(move || {
        for i in 0..count {
            tx.send(i).unwrap();
        }
    });
    producer.join().unwrap();
    let sum = consumer.join().unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(sum, count.wrapping_mul(count.wrapping_sub(1)) / 2);
    secs
}

fn check_sum(sum: u64, count: u64) -> Result<(), String> {
    let want = count.wrapping_mul(count.wrapping_sub(1)) / 2;
    if sum == want {
        Ok(())
    } else {
        Err(format!("chan: sum {sum}, want {want}"))
    }
}

fn pingpong_zgreen(count: u64) -> Result<f64, String> {
    let rt = runtime()?;
    let (ping_tx, ping_rx) = zgreen::chan::bounded::<u64>(1);
    let (pong_tx, pong_rx) = zgreen::chan::bounded::<u64>(1);
    let echo = rt.spawn_on(1, move || -> zgreen::Result<()> {
        for _ in 0..count {
            let v = ping_rx.recv()?;
            pong_tx.send(v + 1).map_err(|e| e.error().clone())?;
        }
        Ok(())
    });
    let start = Instant::now();
    let client = rt.spawn_on(0, move || -> zgreen::Result<()> {
        for i in 0..count {
            ping_tx.send(i).map_err(|e| e.error().clone())?;
            let back = pong_rx.recv()?;
            if back != i + 1 {
                return Err(zgreen::Error::other(format!("pong {back} for {i}")));
            }
        }
        Ok(())
    });
    client.join().and_then(|r| r).map_err(|e| e.to_string())?;
    let secs = start.elapsed().as_secs_f64();
    echo.join().and_then(|r| r).map_err(|e| e.to_string())?;
    rt.shutdown().map_err(|e| e.to_string())?;
    Ok(secs)
}

fn pingpong_crossbeam(count: u64) -> f64 {
    let (ping_tx, ping_rx) = crossbeam_channel::bounded::<u64>(1);
    let (pong_tx, pong_rx) = crossbeam_channel::bounded::<u64>(1);
    let echo = std::thread::spawn(move || {
        for _ in 0..count {
            let v = ping_rx.recv().unwrap();
            pong_tx.send(v + 1).unwrap();
        }
    });
    let start = Instant::now();
    for i in 0..count {
        ping_tx.send(i).unwrap();
        assert_eq!(pong_rx.recv().unwrap(), i + 1);
    }
    let secs = start.elapsed().as_secs_f64();
    echo.join().unwrap();
    secs
}
