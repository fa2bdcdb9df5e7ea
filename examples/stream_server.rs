//! The seed's `Simple Servers` example: a `StreamServer` on port 5000 that
//! greets each client and counts to four (try `nc 127.0.0.1 5000`).
//!
//! An address given as the first argument replaces `127.0.0.1:5000` (port
//! 0 picks a free one). SIGTERM or SIGINT stops the server gracefully.

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
    let address = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:5000".into());
    let server = StreamServer::bind(address, handle)?;
    println!("Listening on {}", server.local_addr());

    server.stop_on_signals(&[libc::SIGTERM, libc::SIGINT], Duration::from_secs(1))?;

    server.serve_forever()?;
    println!("Server stopped after {} connections", server.accepted());
    Ok(())
}
