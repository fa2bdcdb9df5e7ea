//! A bounded queue: the boss can hand out at most three tasks ahead of
//! the workers, and the workers quit once no task comes within a timeout
//! (the tutorial's `Queue(maxsize=3)` example; gevent's `Empty` is a
//! timeout error here). The timeout is 100 ms where the seed waits 1 s.

use std::time::Duration;

use zgreen::queue::Queue;

fn worker(tasks: Queue<u32>, name: &str) -> zgreen::Result<()> {
    loop {
        match tasks.get_timeout(Duration::from_millis(100)) {
            Ok(task) => {
                println!("Worker {name} got task {task}");
                zgreen::sleep(Duration::ZERO)?;
            }
            // Nothing came within the timeout: gevent's `Empty`.
            Err(e) if e.is_timeout() => {
                println!("Quitting time!");
                return Ok(());
            }
            Err(e) => return Err(e),
        }
    }
}

/// The boss waits to hand out work until a worker is free, since the
/// queue holds at most 3 tasks.
fn boss(tasks: Queue<u32>) -> zgreen::Result<()> {
    for i in 1..10 {
        tasks.put(i)?;
    }
    println!("Assigned all work in iteration 1");

    for i in 10..20 {
        tasks.put(i)?;
    }
    println!("Assigned all work in iteration 2");
    Ok(())
}

fn main() -> zgreen::Result<()> {
    let tasks = Queue::bounded(3);
    let mut greenlets = vec![zgreen::spawn({
        let tasks = tasks.clone();
        move || boss(tasks)
    })];
    for name in ["steve", "john", "bob"] {
        let tasks = tasks.clone();
        greenlets.push(zgreen::spawn(move || worker(tasks, name)));
    }
    zgreen::joinall(greenlets.iter())?;
    for g in &greenlets {
        g.get()??;
    }
    Ok(())
}
