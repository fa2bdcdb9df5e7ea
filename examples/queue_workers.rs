//! Queues: the boss fills a queue, then three workers empty it, taking
//! turns (the tutorial's steve/john/nancy example).

use std::time::Duration;

use zgreen::queue::Queue;

fn worker(tasks: Queue<u32>, n: &str) -> zgreen::Result<()> {
    while !tasks.is_empty() {
        let task = tasks.get()?;
        println!("Worker {n} got task {task}");
        zgreen::sleep(Duration::ZERO)?;
    }
    println!("Quitting time!");
    Ok(())
}

fn boss(tasks: Queue<u32>) {
    for i in 1..25 {
        tasks.try_put(i).expect("an unbounded queue is never full");
    }
}

fn main() -> zgreen::Result<()> {
    let tasks = Queue::new();

    zgreen::spawn({
        let tasks = tasks.clone();
        move || boss(tasks)
    })
    .join()?;

    let workers: Vec<_> = ["steve", "john", "nancy"]
        .into_iter()
        .map(|name| {
            let tasks = tasks.clone();
            zgreen::spawn(move || worker(tasks, name))
        })
        .collect();
    zgreen::joinall(workers.iter())?;
    for w in &workers {
        w.get()??;
    }
    Ok(())
}
