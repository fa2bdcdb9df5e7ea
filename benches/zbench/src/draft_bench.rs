//! Round trips through the green draft sockets (CLIENT to SERVER), for
//! comparison with the green and blocking REQ/REP of `zmq_bench`: the same
//! message size, transport and count, and the same JSON line.

use std::time::Instant;

use zgreen::zmq::draft::{DraftKind, DraftMessage, DraftSocket};

use crate::zmq_bench::{Transport, bind_endpoint};

fn zerr(e: zgreen::Error) -> String {
    e.to_string()
}

/// The SERVER side: echoes `count + 1` requests (the first is the
/// warm-up) to the peer each came from.
fn echo(server: &DraftSocket, count: u64) -> zgreen::Result<()> {
    for _ in 0..=count {
        let m = server.recv()?;
        let peer = m.routing_id.expect("a SERVER message names its peer");
        server.send(DraftMessage {
            data: m.data,
            routing_id: Some(peer),
            group: None,
        })?;
    }
    Ok(())
}

/// The CLIENT side: one warm-up round trip, then `count` timed ones.
fn client(client: &DraftSocket, size: usize, count: u64) -> zgreen::Result<f64> {
    let buf = vec![b'x'; size];
    client.send(buf.as_slice())?;
    client.recv()?;
    let start = Instant::now();
    for _ in 0..count {
        client.send(buf.as_slice())?;
        client.recv()?;
    }
    Ok(start.elapsed().as_secs_f64())
}

/// Seconds for `count` CLIENT/SERVER round trips of `size` bytes on `t`,
/// both ends green on this thread's hub.
pub fn client_server(t: Transport, size: usize, count: u64) -> Result<f64, String> {
    let ctx = zgreen::zmq::Context::new();
    let server = ctx.draft_socket(DraftKind::Server).map_err(zerr)?;
    server.bind(&bind_endpoint(t)).map_err(zerr)?;
    let ep = server.last_endpoint().map_err(zerr)?;
    let c = ctx.draft_socket(DraftKind::Client).map_err(zerr)?;
    c.connect(&ep).map_err(zerr)?;
    let srv = zgreen::spawn(move || echo(&server, count));
    let cli = zgreen::spawn(move || client(&c, size, count));
    let secs = cli.get().map_err(zerr)?.map_err(zerr)?;
    srv.get().map_err(zerr)?.map_err(zerr)?;
    Ok(secs)
}
