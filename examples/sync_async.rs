//! Synchronous versus asynchronous execution (the tutorial's `task`
//! example): ten tasks that each sleep a random 0-2 ms, run one after the
//! other, then as ten greenlets at once.

use std::time::{Duration, Instant};

/// Some non-deterministic task.
fn task(pid: u32) -> zgreen::Result<()> {
    // Python's `random.randint(0, 2)`.
    zgreen::sleep(Duration::from_millis(fastrand::u64(0..=2)))?;
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
