//! A queue device in a greenlet: REQ clients talk to a ROUTER frontend,
//! REP workers to a DEALER backend, and `proxy_steerable` moves messages
//! between the two. Clients and workers are greenlets too here, but they
//! could be anywhere: the frontend is on tcp. A PAIR control socket asks
//! the running proxy for its statistics, then terminates it.

use zgreen::zmq::{Context, ProxyStats, Socket, proxy_steerable};

const CLIENTS: usize = 3;
const REQUESTS: usize = 3;

/// Sends `REQUESTS` requests through the device; returns how many replies
/// came back.
fn client(context: Context, endpoint: String, id: usize) -> zgreen::Result<usize> {
    let socket = context.socket(zmq::REQ)?;
    socket.connect(&endpoint)?;
    let mut replies = 0;
    for n in 1..=REQUESTS {
        socket.send(format!("request {n} from client {id}"), 0)?;
        let reply = socket.recv_bytes(0)?;
        assert!(reply.starts_with(b"done: request"), "{reply:?}");
        replies += 1;
    }
    Ok(replies)
}

/// Answers requests forever (until killed).
fn worker(socket: Socket) -> zgreen::Result<()> {
    loop {
        let request = socket.recv_bytes(0)?;
        socket.send([&b"done: "[..], &request].concat(), 0)?;
    }
}

/// Asks the proxy for its eight counters.
fn statistics(control: &Socket) -> zgreen::Result<ProxyStats> {
    control.send("STATISTICS", 0)?;
    let frames = control.recv_multipart(0)?;
    ProxyStats::from_frames(&frames).ok_or(zgreen::Error::other("malformed STATISTICS reply"))
}

fn main() -> zgreen::Result<()> {
    let context = Context::new();
    let frontend = context.socket(zmq::ROUTER)?;
    frontend.bind("tcp://127.0.0.1:*")?;
    let endpoint = frontend.last_endpoint()?;
    let backend = context.socket(zmq::DEALER)?;
    backend.bind("inproc://workers")?;
    let (control, proxy_control) = (context.socket(zmq::PAIR)?, context.socket(zmq::PAIR)?);
    proxy_control.bind("inproc://proxy-control")?;
    control.connect("inproc://proxy-control")?;

    let device = zgreen::spawn(move || proxy_steerable(&frontend, &backend, None, &proxy_control));

    let mut workers = Vec::new();
    for _ in 0..2 {
        let socket = context.socket(zmq::REP)?;
        socket.connect("inproc://workers")?;
        workers.push(zgreen::spawn(move || worker(socket)));
    }
    let clients: Vec<_> = (1..=CLIENTS)
        .map(|id| {
            let (context, endpoint) = (context.clone(), endpoint.clone());
            zgreen::spawn(move || client(context, endpoint, id))
        })
        .collect();
    for (id, c) in clients.iter().enumerate() {
        println!("client {} got {} replies", id + 1, c.get()??);
    }

    // Each request crosses the device as three frames (the client's
    // identity, an empty delimiter, the body), and so does each reply.
    let stats = statistics(&control)?;
    println!(
        "frontend: {} frames in, {} frames out",
        stats.frontend_msgs_in, stats.frontend_msgs_out
    );
    println!(
        "backend: {} frames in, {} frames out",
        stats.backend_msgs_in, stats.backend_msgs_out
    );

    control.send("TERMINATE", 0)?;
    let last = device.get()??;
    println!(
        "proxy terminated after {} bytes of requests",
        last.frontend_bytes_in
    );
    zgreen::killall(&workers)
}
