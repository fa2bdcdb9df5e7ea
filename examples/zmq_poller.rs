//! Waiting on several sources in one loop with a green `Poller`: two zmq
//! sockets (tasks and a control channel) and a raw file descriptor (one end
//! of a Unix socket pair). `poll` parks only the calling greenlet, so the
//! producer greenlet keeps running while the loop waits.
//!
//! The loop handles tasks first, then the pipe, then the control channel,
//! as the ZeroMQ guide's `mspoller` does: whatever is waiting is handled
//! in that order.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use zgreen::zmq::{Context, Poller, Socket};

/// Sends three tasks, 20 ms apart, then a tick through the pipe, then
/// `quit` on the control channel.
fn producer(tasks: Socket, mut pipe: UnixStream, control: Socket) -> zgreen::Result<()> {
    for n in 1..=3 {
        tasks.send(format!("task {n}"), 0)?;
        zgreen::sleep(Duration::from_millis(20))?;
    }
    pipe.write_all(b"tick")?;
    control.send("quit", 0)
}

/// Prints what arrives on each source until `quit`.
fn serve(tasks: &Socket, mut pipe: UnixStream, control: &Socket) -> zgreen::Result<()> {
    let mut poller = Poller::new();
    let task_item = poller.add_socket(tasks, zmq::POLLIN);
    let pipe_item = poller.add_fd(pipe.as_raw_fd(), zmq::POLLIN);
    let control_item = poller.add_socket(control, zmq::POLLIN);
    loop {
        if poller.poll(Some(Duration::from_secs(5)))? == 0 {
            println!("nothing for 5 s: giving up");
            return Ok(());
        }
        if poller.revents(task_item).contains(zmq::POLLIN) {
            // Take every task that is waiting.
            while let Some(task) = zgreen::TryRecvError::optional(tasks.try_recv_msg(0))? {
                println!("got {}", task.as_str().unwrap_or("?"));
            }
        }
        if poller.revents(pipe_item).contains(zmq::POLLIN) {
            let mut buf = [0; 64];
            let n = pipe.read(&mut buf)?;
            println!("pipe says {}", String::from_utf8_lossy(&buf[..n]));
        }
        if poller.revents(control_item).contains(zmq::POLLIN) {
            println!("control says {}", control.recv_string(0)?.unwrap_or_default());
            return Ok(());
        }
    }
}

fn main() -> zgreen::Result<()> {
    let context = Context::new();
    let tasks = context.socket(zmq::PULL)?;
    tasks.bind("inproc://tasks")?;
    let control = context.socket(zmq::PULL)?;
    control.bind("inproc://control")?;
    let (pipe_writer, pipe_reader) = UnixStream::pair()?;
    // The loop reads the pipe only when the poller says it is readable;
    // non-blocking anyway, so a mistake could never block the hub.
    pipe_reader.set_nonblocking(true)?;

    // Nothing has been sent yet: a poll with a timeout returns 0.
    let mut poller = Poller::new();
    poller.add_socket(&tasks, zmq::POLLIN);
    println!(
        "ready before anything was sent: {}",
        poller.poll(Some(Duration::from_millis(50)))?
    );

    let task_sender = context.socket(zmq::PUSH)?;
    task_sender.connect("inproc://tasks")?;
    let control_sender = context.socket(zmq::PUSH)?;
    control_sender.connect("inproc://control")?;
    let producer = zgreen::spawn(move || producer(task_sender, pipe_writer, control_sender));

    serve(&tasks, pipe_reader, &control)?;
    producer.get()?
}
