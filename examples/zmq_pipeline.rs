//! The ZeroMQ guide's parallel pipeline (PUSH/PULL) with green sockets: a
//! ventilator greenlet sends 100 tasks, each a workload in milliseconds;
//! four worker greenlets take them in turn, `sleep` that long and push a
//! result to the sink, which collects all 100 and times the batch. The
//! workers run concurrently, so the batch takes about a quarter of the
//! serial time (the sum of the workloads).

use std::time::{Duration, Instant};

use zgreen::zmq::{Context, Monitor, Socket};

const TASKS: usize = 100;
const WORKERS: usize = 4;

/// The workloads: 1 to 20 ms each, from a fixed pseudo-random sequence so
/// every run does the same work.
fn workloads() -> Vec<u64> {
    let mut seed: u32 = 12345;
    (0..TASKS)
        .map(|_| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            u64::from(seed >> 16) % 20 + 1
        })
        .collect()
}

/// Waits until `n` peers have connected to the socket `monitor` watches.
/// (PUSH deals tasks round-robin among the workers connected *when it
/// sends*: a worker that connects late gets none of the early tasks.)
fn wait_for_workers(monitor: &Monitor, n: usize) -> zgreen::Result<()> {
    let mut connected = 0;
    while connected < n {
        if monitor.recv()?.event == zmq::SocketEvent::HANDSHAKE_SUCCEEDED {
            connected += 1;
        }
    }
    Ok(())
}

/// Closes a monitored socket, then reads its monitor up to the last event
/// (`MONITOR_STOPPED`). A monitor must not be dropped while its socket can
/// still report events: libzmq's I/O thread would block on the next one.
fn close_monitored(socket: Socket, monitor: Monitor) -> zgreen::Result<()> {
    drop(socket);
    while monitor.recv()?.event != zmq::SocketEvent::MONITOR_STOPPED {}
    Ok(())
}

/// Tells the sink that the batch starts, sends every task, then one `stop`
/// per worker.
fn ventilator(sender: Socket, sink: Socket, monitor: Monitor, tasks: Vec<u64>) -> zgreen::Result<()> {
    wait_for_workers(&monitor, WORKERS)?;
    // The first message is "0" and signals the start of the batch.
    sink.send("0", 0)?;
    for workload in tasks {
        sender.send(workload.to_string(), 0)?;
    }
    for _ in 0..WORKERS {
        sender.send("stop", 0)?;
    }
    close_monitored(sender, monitor)
}

/// Does tasks until `stop`: sleeps for each workload, then passes it on to
/// the sink. Returns how many tasks it did.
fn worker(receiver: Socket, sender: Socket) -> zgreen::Result<usize> {
    let mut done = 0;
    loop {
        let task = receiver.recv_bytes(0)?;
        if task == b"stop" {
            return Ok(done);
        }
        let workload: u64 = String::from_utf8_lossy(&task)
            .parse()
            .map_err(zgreen::Error::failed)?;
        zgreen::sleep(Duration::from_millis(workload))?;
        sender.send(task, 0)?;
        done += 1;
    }
}

/// Waits for the start of the batch, then collects `TASKS` results;
/// returns how many arrived, the sum of their workloads and the time taken.
fn sink(receiver: Socket) -> zgreen::Result<(usize, u64, Duration)> {
    if receiver.recv_bytes(0)? != b"0" {
        return Err(zgreen::Error::other(
            "a result arrived before the start of the batch",
        ));
    }
    let start = Instant::now();
    let mut total = 0;
    for _ in 0..TASKS {
        let result = receiver.recv_bytes(0)?;
        total += String::from_utf8_lossy(&result)
            .parse::<u64>()
            .map_err(zgreen::Error::failed)?;
    }
    Ok((TASKS, total, start.elapsed()))
}

fn main() -> zgreen::Result<()> {
    let context = Context::new();
    // The ventilator's socket for tasks, and its monitor.
    let ventilator_socket = context.socket(zmq::PUSH)?;
    let monitor = ventilator_socket.monitor_events(zmq::SocketEvent::ALL as i32)?;
    ventilator_socket.bind("tcp://127.0.0.1:*")?;
    let tasks_endpoint = ventilator_socket.last_endpoint()?;
    // The sink's socket for results.
    let sink_socket = context.socket(zmq::PULL)?;
    sink_socket.bind("tcp://127.0.0.1:*")?;
    let results_endpoint = sink_socket.last_endpoint()?;

    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        let receiver = context.socket(zmq::PULL)?;
        receiver.connect(&tasks_endpoint)?;
        let sender = context.socket(zmq::PUSH)?;
        sender.connect(&results_endpoint)?;
        workers.push(zgreen::spawn(move || worker(receiver, sender)));
    }

    let tasks = workloads();
    let serial: u64 = tasks.iter().sum();
    println!("Sending {TASKS} tasks to {WORKERS} workers");
    println!("Total expected cost: {serial} ms");
    let to_sink = context.socket(zmq::PUSH)?;
    to_sink.connect(&results_endpoint)?;
    let sink = zgreen::spawn(move || sink(sink_socket));
    let ventilator = zgreen::spawn(move || ventilator(ventilator_socket, to_sink, monitor, tasks));

    let (arrived, total, elapsed) = sink.get()??;
    ventilator.get()??;
    println!("All {arrived} of {TASKS} tasks arrived, total workload {total} ms");
    for (i, w) in workers.iter().enumerate() {
        println!("Worker {} did {} tasks", i + 1, w.get()??);
    }
    println!("Total elapsed time: {} ms", elapsed.as_millis());
    let speedup = serial as f64 / elapsed.as_secs_f64() / 1000.0;
    println!("Speed-up versus serial: {speedup:.1}x");
    Ok(())
}
