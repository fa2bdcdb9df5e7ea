//! An echo server: each line a client sends comes back. The handler is
//! ordinary `BufRead`/`Write` code: zgreen's `TcpStream` implements the
//! standard I/O traits, so protocol code written for blocking sockets runs
//! cooperatively, one greenlet per connection, at most 100 at once.
//!
//! Run it with an address (default `127.0.0.1:6000`) and try `nc`;
//! SIGTERM or SIGINT stops it, waiting up to a second for open connections.

#[path = "common/hubs.rs"]
mod hubs;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::time::Duration;

use zgreen::net::{StreamServer, TcpStream};

fn echo(conn: TcpStream, peer: SocketAddr) -> std::io::Result<()> {
    println!("{peer} connected");
    let mut lines = BufReader::new(&conn);
    let mut line = String::new();
    while lines.read_line(&mut line)? > 0 {
        (&conn).write_all(line.as_bytes())?;
        line.clear();
    }
    println!("{peer} disconnected");
    Ok(())
}

fn main() -> zgreen::Result<()> {
    let Some(address) = hubs::many_hubs("127.0.0.1:6000", "Echo server on {}", server_on)? else {
        return Ok(());
    };
    let server = StreamServer::bind(address, echo)?.max_connections(100);
    println!("Echo server on {}", server.local_addr());

    for signal in [libc::SIGTERM, libc::SIGINT] {
        let server = server.clone();
        zgreen::signal_handler(signal, move || {
            if let Ok(killed) = server.stop(Duration::from_secs(1)) {
                println!("Stopped; {killed} connections cut off");
            }
        })?;
    }
    server.serve_forever()
}

/// The server of one hub (with `--threads N`): the echo handler, at most 100 connections.
fn server_on(listener: zgreen::net::TcpListener) -> zgreen::Result<StreamServer> {
    Ok(StreamServer::from_listener(listener, echo)?.max_connections(100))
}
