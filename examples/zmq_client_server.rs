//! CLIENT and SERVER, two of the thread-safe draft sockets: three client
//! greenlets, each with its own CLIENT socket, send requests to one SERVER;
//! the server greenlet answers each request to the peer it came from (its
//! routing id), so every client gets its own replies back. Messages are
//! always a single part.
//!
//! Prints each client's three replies (`client 0 got: echo 0.0`, ...; the
//! clients' lines interleave as the scheduler picks), then
//! `server answered 9 requests`.

use zgreen::zmq::Context;
use zgreen::zmq::draft::{DraftKind, DraftMessage, DraftSocket};

/// Answers `n` requests, each to the peer that sent it; returns how many.
fn serve(server: DraftSocket, n: usize) -> zgreen::Result<usize> {
    for _ in 0..n {
        let request = server.recv()?;
        let peer = request.routing_id.expect("a SERVER message names its peer");
        let reply = [&b"echo "[..], &request.data].concat();
        server.send(DraftMessage::new(reply).to_peer(peer))?;
    }
    Ok(n)
}

/// Sends three requests and prints the replies.
fn client(id: usize, client: DraftSocket) -> zgreen::Result<()> {
    for r in 0..3 {
        client.send(format!("{id}.{r}").as_str())?;
        let reply = client.recv()?;
        println!("client {id} got: {}", String::from_utf8_lossy(&reply.data));
    }
    Ok(())
}

fn main() -> zgreen::Result<()> {
    let ctx = Context::new();
    let server = ctx.draft_socket(DraftKind::Server)?;
    server.bind("tcp://127.0.0.1:*")?;
    let endpoint = server.last_endpoint()?;

    let mut clients = Vec::new();
    for id in 0..3 {
        let socket = ctx.draft_socket(DraftKind::Client)?;
        socket.connect(&endpoint)?;
        clients.push(zgreen::spawn(move || client(id, socket)));
    }
    let serving = zgreen::spawn(move || serve(server, 9));

    for c in clients {
        c.get()??;
    }
    println!("server answered {} requests", serving.get()??);
    Ok(())
}
