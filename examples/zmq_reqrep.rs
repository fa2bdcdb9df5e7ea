//! ZeroMQ request/reply with green sockets (the tutorial's zmq.green
//! example): the server greenlet's REQ socket sends "Hello" nine times, the
//! client greenlet's REP socket answers "World". Every `send`/`recv` that
//! cannot complete parks its greenlet, so the two take turns: the program
//! prints `Switched to Server for 1`, `Switched to Client for 1`,
//! `Switched to Server for 2`, ...
//!
//! The seed binds the fixed port 5000; here the server binds
//! `tcp://127.0.0.1:*` and hands the port it got to the client.

use zgreen::zmq::{Context, Socket};

/// Sends nine requests and waits for each reply.
fn server(server_socket: Socket) -> zgreen::Result<()> {
    for request in 1..10 {
        server_socket.send("Hello", 0)?;
        println!("Switched to Server for {request}");
        // Implicit context switch occurs here
        server_socket.recv_bytes(0)?;
    }
    Ok(())
}

/// Answers nine requests.
fn client(client_socket: Socket) -> zgreen::Result<()> {
    for request in 1..10 {
        client_socket.recv_bytes(0)?;
        println!("Switched to Client for {request}");
        // Implicit context switch occurs here
        client_socket.send("World", 0)?;
    }
    Ok(())
}

fn main() -> zgreen::Result<()> {
    // Global Context
    let context = Context::new();

    let server_socket = context.socket(zmq::REQ)?;
    server_socket.bind("tcp://127.0.0.1:*")?;
    let endpoint = server_socket.last_endpoint()?;
    let client_socket = context.socket(zmq::REP)?;
    client_socket.connect(&endpoint)?;

    let publisher = zgreen::spawn(move || server(server_socket));
    let client = zgreen::spawn(move || client(client_socket));

    zgreen::joinall([publisher.any(), client.any()])?;
    publisher.get()??;
    client.get()?
}
