//! The seed's `Simple Servers` example: a `StreamServer` on port 5000 that
//! greets each client and counts to four (try `nc 127.0.0.1 5000`).
//!
//! An address given as the first argument replaces `127.0.0.1:5000` (port
//! 0 picks a free one). SIGTERM or SIGINT stops the server gracefully.
//!
//! `--threads N` serves the same address from N hubs on N threads (one
//! `SO_REUSEPORT` listener each, see `zgreen::net::serve_each`).

#[path = "common/hubs.rs"]
mod hubs;

use std::net::SocketAddr;
use std::time::Duration;

use zgreen::net::{StreamServer, TcpStream};

fn handle(socket: TcpStream, _address: SocketAddr) -> zgreen::Result<()> {
    socket.send_all(b"Hello from a telnet!\n")?;
    for i in 0..5 {
        socket.send_all(format!("{i}\n").as_bytes())?;
    }
    Ok(()) // dropping the socket closes it
}

fn main() -> zgreen::Result<()> {
    let Some(address) = hubs::many_hubs("127.0.0.1:5000", "Listening on {}", server_on)? else {
        return Ok(());
    };
    let server = StreamServer::bind(address, handle)?;
    println!("Listening on {}", server.local_addr());

    server.stop_on_signals(&[libc::SIGTERM, libc::SIGINT], Duration::from_secs(1))?;

    server.serve_forever()?;
    println!("Server stopped after {} connections", server.accepted());
    Ok(())
}

/// The server of one hub (with `--threads N`): the greeting handler.
fn server_on(listener: zgreen::net::TcpListener) -> zgreen::Result<StreamServer> {
    StreamServer::from_listener(listener, handle)
}
