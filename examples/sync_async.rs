//! Synchronous versus asynchronous execution (the tutorial's `task`
//! example): ten tasks that each sleep a random 0-2 ms, run one after the
//! other, then as ten greenlets at once.

use std::cell::Cell;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

thread_local! {
    /// State of a tiny xorshift PRNG, seeded from the clock.
    static RNG: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    nanos | 1 // xorshift must never start from 0
}

/// A random integer in `lo..=hi` (Python's `random.randint`).
fn randint(lo: u64, hi: u64) -> u64 {
    RNG.with(|state| {
        let mut x = state.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        lo + x % (hi - lo + 1)
    })
}

/// Some non-deterministic task.
fn task(pid: u32) -> zgreen::Result<()> {
    zgreen::sleep(Duration::from_millis(randint(0, 2)))?;
    println!("Task {pid} done");
    Ok(())
}

fn synchronous() -> zgreen::Result<()> {
    for i in 1..=10 {
        task(i)?;
    }
    Ok(())
}

fn asynchronous() -> zgreen::Result<()> {
    let threads: Vec<_> = (1..=10).map(|i| zgreen::spawn(move || task(i))).collect();
    zgreen::joinall(&threads)
}

/// Runs `f` and prints how long it took.
fn timed(name: &str, f: fn() -> zgreen::Result<()>) -> zgreen::Result<()> {
    let start = Instant::now();
    f()?;
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    println!("{name} took {ms:.3} ms");
    Ok(())
}

fn main() -> zgreen::Result<()> {
    println!("Synchronous:");
    timed("Synchronous", synchronous)?;

    println!("Asynchronous:");
    timed("Asynchronous", asynchronous)
}
