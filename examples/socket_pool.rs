//! A service built around a pool (the tutorial's `SocketPool`): every
//! "socket" gets a listening greenlet from the pool, the pool refuses new
//! handlers when it is full, and shutting down kills every handler.
//!
//! The sockets here are in-process queues standing in for network
//! sockets: `listen` parks in `recv` exactly as it would on a socket.

use std::time::Duration;

use zgreen::pool::Pool;
use zgreen::queue::Queue;

/// A stand-in for a socket: messages arrive on a queue.
type Socket = Queue<String>;

/// `add_handler` on a full pool.
#[derive(Debug, thiserror::Error)]
#[error("At maximum pool size")]
struct AtMaximumPoolSize;

struct SocketPool {
    pool: Pool,
}

impl SocketPool {
    fn new(size: usize) -> SocketPool {
        SocketPool {
            pool: Pool::new(size),
        }
    }

    fn listen(name: String, socket: Socket) -> zgreen::Result<()> {
        loop {
            let msg = socket.get()?; // socket.recv()
            println!("{name} got {msg:?}");
        }
    }

    fn add_handler(&self, name: &str, socket: Socket) -> zgreen::Result<()> {
        if self.pool.full() {
            return Err(zgreen::Error::failed(AtMaximumPoolSize));
        }
        let name = name.to_string();
        self.pool.spawn(move || Self::listen(name, socket))?;
        Ok(())
    }

    fn shutdown(&self) -> zgreen::Result<()> {
        self.pool.kill()
    }
}

fn main() -> zgreen::Result<()> {
    let service = SocketPool::new(2);
    let sockets: Vec<Socket> = (0..3).map(|_| Queue::new()).collect();

    for (i, socket) in sockets.iter().enumerate() {
        let name = format!("socket {i}");
        match service.add_handler(&name, socket.clone()) {
            Ok(()) => println!("listening on {name}"),
            Err(e) => println!("cannot listen on {name}: {e}"),
        }
    }

    for (i, socket) in sockets.iter().enumerate() {
        socket.put(format!("hello {i}"))?;
    }
    zgreen::sleep(Duration::from_millis(10))?;

    service.shutdown()?;
    println!("shut down: {} handlers left", service.pool.len());
    Ok(())
}
