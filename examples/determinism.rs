//! Determinism (the tutorial's "Детерминированность" section): the same
//! tasks through a pool of OS threads and through a zgreen `Pool`, four
//! runs each, in completion order (`imap_unordered`). The OS threads'
//! order varies from run to run; the greenlets' never does.

use std::sync::mpsc;
use std::time::Duration;

use zgreen::pool::Pool;

/// Four runs of `echo` over 0..10 on 10 OS threads, results in completion
/// order (Python's `multiprocessing.Pool(10).imap_unordered`).
fn os_thread_runs() -> Vec<Vec<u32>> {
    (0..4)
        .map(|_| {
            let (tx, rx) = mpsc::channel();
            std::thread::scope(|s| {
                for i in 0..10 {
                    let tx = tx.clone();
                    s.spawn(move || {
                        std::thread::sleep(Duration::from_millis(1));
                        tx.send(i).expect("the receiver outlives the threads");
                    });
                }
            });
            drop(tx);
            rx.iter().collect()
        })
        .collect()
}

fn echo(i: u32) -> u32 {
    zgreen::sleep(Duration::from_millis(1)).expect("not killed");
    i
}

fn main() -> zgreen::Result<()> {
    // Non-deterministic: OS threads.
    let runs = os_thread_runs();
    let same = runs.windows(2).all(|w| w[0] == w[1]);
    println!("OS threads, four identical runs: {same}");

    // Deterministic: a zgreen pool.
    let p = Pool::new(10);
    let mut runs = Vec::new();
    for _ in 0..4 {
        let run: Vec<u32> = p.imap_unordered(echo, 0..10).collect::<zgreen::Result<_>>()?;
        runs.push(run);
    }
    let same = runs.windows(2).all(|w| w[0] == w[1]);
    println!("zgreen Pool, four identical runs: {same}");
    Ok(())
}
