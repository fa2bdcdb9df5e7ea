//! A bounded semaphore lets two workers at a time in (the tutorial's
//! "Locks and Semaphores" example): `worker1` acquires and releases by
//! hand, `worker2` holds a guard for a scope (Python's `with sem:`).

use std::time::Duration;

use zgreen::pool::Group;
use zgreen::sync::BoundedSemaphore;

fn worker1(sem: &BoundedSemaphore, n: u32) -> zgreen::Result<()> {
    let permit = sem.acquire()?;
    println!("Worker {n} acquired semaphore");
    zgreen::sleep(Duration::ZERO)?;
    drop(permit); // sem.release()
    println!("Worker {n} released semaphore");
    Ok(())
}

fn worker2(sem: &BoundedSemaphore, n: u32) -> zgreen::Result<()> {
    {
        let _permit = sem.acquire()?;
        println!("Worker {n} acquired semaphore");
        zgreen::sleep(Duration::ZERO)?;
    }
    println!("Worker {n} released semaphore");
    Ok(())
}

fn main() -> zgreen::Result<()> {
    let sem = BoundedSemaphore::new(2);

    // gevent's `Pool()` without a size is a group.
    let pool = Group::new();
    let s = sem.clone();
    for r in pool.map(move |n| worker1(&s, n), 0..2)? {
        r?;
    }
    let s = sem.clone();
    for r in pool.map(move |n| worker2(&s, n), 3..6)? {
        r?;
    }
    Ok(())
}
