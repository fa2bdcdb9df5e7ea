//! `zchat`: the chat room server, and the backbone forwarder.
//!
//! ```text
//! zchat forwarder --frontend tcp://127.0.0.1:5555 --backend tcp://127.0.0.1:5556
//! zchat serve --http 127.0.0.1:5000 --pub tcp://127.0.0.1:5555 --sub tcp://127.0.0.1:5556
//! zchat serve --http 127.0.0.1:5001 --pub tcp://127.0.0.1:5555 --sub tcp://127.0.0.1:5556
//! zchat serve --http 127.0.0.1:5002 --threads 4
//! ```
//!
//! (`zbroker forwarder` works as the forwarder too.) Without `--pub` and
//! `--sub` a server runs alone. `--threads N` serves on N hubs, one
//! `SO_REUSEPORT` listener each, all on one state (see the README).

use std::io::Write;
use std::time::Duration;

use clap::{Parser, Subcommand};
use zgreen::http::{Handler, HttpServer, Request};
use zgreen::runtime::Runtime;
use zgreen::sync::Event;
use zgreen_chat::{Chat, Config};

#[derive(Parser, Debug)]
#[command(name = "zchat", version, about = "The seed's realtime chat room on zgreen")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Serves the chat over HTTP (pages, long polling, WebSocket).
    Serve(ServeArgs),
    /// Runs the backbone's XSUB/XPUB forwarder.
    Forwarder {
        /// Endpoint to bind for publishers (the servers' --pub).
        #[arg(long)]
        frontend: String,
        /// Endpoint to bind for subscribers (the servers' --sub).
        #[arg(long)]
        backend: String,
    },
}

#[derive(clap::Args, Debug)]
struct ServeArgs {
    /// Address to serve HTTP on (port 0: a free one; the address is printed).
    #[arg(long, default_value = "127.0.0.1:5000")]
    http: String,
    /// The forwarder's frontend, to publish to.
    #[arg(long = "pub", requires = "sub_endpoint")]
    pub_endpoint: Option<String>,
    /// The forwarder's backend, to subscribe to.
    #[arg(long = "sub", requires = "pub_endpoint")]
    sub_endpoint: Option<String>,
    /// The rooms, comma-separated.
    #[arg(long, default_value = "topic1,topic2", value_delimiter = ',')]
    rooms: Vec<String>,
    /// This server's name on the backbone (default: zchat-PID).
    #[arg(long)]
    server_id: Option<String>,
    /// How long a poll waits for a message, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    poll_timeout_ms: u64,
    /// Messages kept per room for users who join later.
    #[arg(long, default_value_t = 25)]
    backlog: usize,
    /// Bytes of messages kept per room.
    #[arg(long, default_value_t = 128 * 1024)]
    history_bytes: usize,
    /// Longest message text, in bytes (UTF-8, after trimming).
    #[arg(long, default_value_t = 4000)]
    max_message_bytes: usize,
    /// Undelivered messages kept per user (the oldest are dropped).
    #[arg(long, default_value_t = 100)]
    user_queue: usize,
    /// Bytes of undelivered messages kept per user (the oldest are
    /// dropped).
    #[arg(long, default_value_t = 256 * 1024)]
    user_queue_bytes: usize,
    /// Most users on this server at once (a join beyond gets 503).
    #[arg(long, default_value_t = 10_000)]
    max_users: usize,
    /// Origins a WebSocket may come from, comma-separated: full origins
    /// (`https://chat.example.com`), `self` (the request's Host) or `*`.
    #[arg(long, default_value = "self", value_delimiter = ',')]
    ws_origins: Vec<String>,
    /// Largest WebSocket message taken from a client, in bytes (larger:
    /// the connection is closed).
    #[arg(long, default_value_t = 64 * 1024)]
    ws_max_message_bytes: usize,
    /// Most connections served at once (with `--threads N`, a share of
    /// ⌈M/N⌉ per hub).
    #[arg(long, default_value_t = 10_000)]
    max_connections: usize,
    /// Seconds after which a user with no poll, put or open WebSocket is
    /// forgotten.
    #[arg(long, default_value_t = 600)]
    user_expiry_s: u64,
    /// Hubs (threads) serving HTTP: one listener each on the same
    /// address (`SO_REUSEPORT`), all serving the same rooms and users.
    /// Responses then carry `X-Zchat-Hub: INDEX`.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1024))]
    threads: u16,
}

/// The response header that names the hub which served a request (with
/// `--threads` above 1).
const HUB_HEADER: &str = "X-Zchat-Hub";

fn serve(a: ServeArgs) -> zgreen::Result<()> {
    let defaults = Config::default();
    let config = Config {
        server_id: a.server_id.unwrap_or(defaults.server_id),
        rooms: a.rooms,
        backlog: a.backlog,
        history_bytes: a.history_bytes,
        max_message_bytes: a.max_message_bytes,
        user_queue: a.user_queue,
        user_queue_bytes: a.user_queue_bytes,
        max_users: a.max_users,
        ws_origins: a.ws_origins,
        ws: zgreen::http::WsConfig {
            max_message_bytes: a.ws_max_message_bytes,
            ..defaults.ws
        },
        poll_timeout: Duration::from_millis(a.poll_timeout_ms),
        user_expiry: Duration::from_secs(a.user_expiry_s),
    };
    if !zgreen_chat::valid_server_id(&config.server_id) {
        return Err(zgreen::Error::other(
            "--server-id: 1-64 printable ASCII characters, no spaces",
        ));
    }
    let chat = Chat::new(config);
    if let (Some(p), Some(s)) = (&a.pub_endpoint, &a.sub_endpoint) {
        let ctx = zgreen::zmq::Context::new();
        chat.connect_backbone(&ctx, p, s)?;
        tracing::info!(publish = %p, subscribe = %s, "joined the backbone");
    }
    if a.threads > 1 {
        return serve_on_hubs(&chat, &a.http, a.threads.into(), a.max_connections);
    }
    let server = HttpServer::bind(a.http.as_str(), chat.router())?.max_connections(a.max_connections);
    server.start()?;
    serving(&chat, server.local_addr());
    stop_on_signals(&Event::new(), move || {
        let _ = server.stop(Duration::from_secs(1));
    })
}

/// Prints the line that says the server is up (tests wait for it).
fn serving(chat: &Chat, addr: std::net::SocketAddr) {
    println!("zchat {} serving http://{addr}/", chat.config().server_id);
    let _ = std::io::stdout().flush();
}

/// `--threads N`: a [`Runtime`] of `n` hubs, each with its own listener
/// on `addr` and its own HTTP server, all on the one [`Chat`]. This
/// thread keeps the backbone's greenlets and the signal handlers; on
/// SIGTERM or SIGINT every hub stops its server (1 s for the requests in
/// progress), then the runtime shuts down.
fn serve_on_hubs(chat: &Chat, addr: &str, n: usize, max_connections: usize) -> zgreen::Result<()> {
    let rt = Runtime::builder().hubs(n).build()?;
    // Each hub says once whether its server started, then waits for one
    // of the n stop tokens.
    let (ready_tx, ready_rx) = zgreen::chan::bounded::<Result<(), String>>(n);
    let (stop_tx, stop_rx) = zgreen::chan::bounded::<()>(n);
    let per_hub = max_connections.div_ceil(n).max(1);
    let c = chat.clone();
    let (local, servers) = zgreen::net::serve_each(&rt, addr, move |hub, listener| {
        let router = c.router();
        let name = hub.to_string();
        let handler = move |req: &Request| router.handle(req).with_header(HUB_HEADER, &name);
        let server = HttpServer::from_listener(listener, handler).map(|s| s.max_connections(per_hub));
        let started = server.and_then(|s| s.start().map(|()| s));
        let _ = ready_tx.try_send(started.as_ref().map(drop).map_err(|e| format!("hub {hub}: {e}")));
        let server = started?;
        let _ = stop_rx.recv();
        server.stop(Duration::from_secs(1)).map(drop)
    })?;
    for _ in 0..n {
        match ready_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(zgreen::Error::other(e)),
            Err(e) => return Err(e),
        }
    }
    tracing::info!(hubs = n, "serving on {n} hubs");
    serving(chat, local);
    let stop = move || {
        for _ in 0..n {
            let _ = stop_tx.try_send(()); // full: the hubs were told already
        }
    };
    let signalled = stop_on_signals(&Event::new(), stop.clone());
    stop(); // also when the signal handlers could not be installed
    for s in &servers {
        if let Err(e) = s.join_timeout(Duration::from_secs(3)) {
            if !e.is_killed() {
                tracing::warn!("zchat: hub {}: {e}", s.hub());
            }
        }
    }
    signalled.and(rt.shutdown())
}

/// Runs `stop` on SIGTERM or SIGINT, and waits for that (or for `done`
/// to be set otherwise).
fn stop_on_signals(done: &Event, stop: impl Fn() + Clone + 'static) -> zgreen::Result<()> {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let (stop, done) = (stop.clone(), done.clone());
        zgreen::signal_handler(signal, move || {
            stop();
            done.set();
        })?;
    }
    done.wait()
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match Cli::parse().cmd {
        Cmd::Serve(a) => serve(a),
        Cmd::Forwarder { frontend, backend } => {
            let ctx = zgreen::zmq::Context::new();
            zgreen_chat::forwarder(&ctx, &frontend, &backend).and_then(|device| {
                println!("zchat forwarder {frontend} -> {backend}");
                let _ = std::io::stdout().flush();
                let done = Event::new();
                let (d, ended) = (device.clone(), done.clone());
                let watch = zgreen::spawn(move || {
                    let _ = d.join();
                    ended.set();
                });
                let d = device.clone();
                stop_on_signals(&done, move || d.kill_nowait())?;
                watch.kill_nowait();
                match device.get() {
                    Ok(Err(e)) if !e.is_killed() => Err(e),
                    _ => Ok(()),
                }
            })
        }
    };
    if let Err(e) = result {
        eprintln!("zchat: {e}");
        std::process::exit(1);
    }
}
