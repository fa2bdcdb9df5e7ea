//! `ws-bench`: the WebSocket broadcast benchmark of issue 7 (see the
//! library docs and `ws-bench --help`).

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use ws_bench::clients::{self, ClientOptions};
use ws_bench::driver::{self, RunOptions, ServerKind};
use ws_bench::peer::{self, FlushMode};
use ws_bench::server;
use zgreen::http::WsConfig;

/// WebSocket broadcast: messages per second delivered to many connected clients.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// The zgreen server: prints `listening <addr>`, then serves `/ws` until killed.
    Server {
        /// Address to listen on (port 0: any free port).
        #[arg(long, default_value = "127.0.0.1:0")]
        addr: String,
        /// Clients to expect (sizes the open-file limit).
        #[arg(long, default_value_t = 1000)]
        max_clients: u64,
        /// How long a broadcast `send` waits for room in a client's full send
        /// queue before disconnecting it (`WsConfig::send_timeout`; default: zgreen's).
        #[arg(long)]
        send_timeout_ms: Option<u64>,
    },
    /// The peer server: tokio-tungstenite on a current-thread tokio runtime.
    PeerServer {
        /// Address to listen on (port 0: any free port).
        #[arg(long, default_value = "127.0.0.1:0")]
        addr: String,
        /// Clients to expect (sizes the open-file limit).
        #[arg(long, default_value_t = 1000)]
        max_clients: u64,
        /// When each connection's writer flushes.
        #[arg(long, value_enum, default_value_t = Flush::Batch)]
        flush: Flush,
    },
    /// The load: opens the connections, starts the broadcast, prints one JSON line.
    Clients {
        /// The server's address (`host:port`).
        #[arg(long)]
        addr: String,
        #[command(flatten)]
        load: Load,
    },
    /// Runs server and clients `--runs` times and prints a markdown table.
    Run {
        #[command(flatten)]
        load: Load,
        /// Runs, each with a fresh server.
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Which server to measure.
        #[arg(long, value_enum, default_value_t = Server::Zgreen)]
        server: Server,
        /// The peer's flushing (with `--server peer`).
        #[arg(long, value_enum, default_value_t = Flush::Batch)]
        flush: Flush,
    },
}

/// The shape of the load.
#[derive(Debug, clap::Args)]
struct Load {
    /// WebSocket connections.
    #[arg(long, default_value_t = 1000)]
    clients: usize,
    /// Messages each client receives.
    #[arg(long, default_value_t = 200)]
    messages: u64,
    /// Size of each message in bytes (at least 8).
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Bound in seconds on connecting, on delivering and on each read.
    #[arg(long, default_value_t = 60)]
    timeout_s: u64,
}

/// `--server` values.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Server {
    /// zgreen's HttpServer.
    Zgreen,
    /// tokio-tungstenite on a current-thread runtime.
    Peer,
}

/// `--flush` values.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Flush {
    /// Flush after every message (`SinkExt::send`).
    Each,
    /// Write every queued message, then flush once (`feed` + `flush`).
    Batch,
}

impl From<Flush> for FlushMode {
    fn from(f: Flush) -> FlushMode {
        match f {
            Flush::Each => FlushMode::Each,
            Flush::Batch => FlushMode::Batch,
        }
    }
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Server {
            addr,
            max_clients,
            send_timeout_ms,
        } => {
            let mut config = WsConfig::default();
            if let Some(ms) = send_timeout_ms {
                config.send_timeout = Duration::from_millis(ms);
            }
            server::serve(&addr, max_clients, config)
        }
        Command::PeerServer {
            addr,
            max_clients,
            flush,
        } => peer::serve(&addr, max_clients, flush.into()),
        Command::Clients { addr, load } => clients::run(&ClientOptions {
            addr,
            clients: load.clients,
            messages: load.messages,
            size: load.size,
            timeout: Duration::from_secs(load.timeout_s),
        })
        .map(|report| println!("{}", report.to_json())),
        Command::Run {
            load,
            runs,
            server,
            flush,
        } => driver::run(&RunOptions {
            server: match server {
                Server::Zgreen => ServerKind::Zgreen,
                Server::Peer => ServerKind::Peer(flush.into()),
            },
            clients: load.clients,
            messages: load.messages,
            size: load.size,
            runs,
            timeout: Duration::from_secs(load.timeout_s),
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("ws-bench: {why}");
            ExitCode::FAILURE
        }
    }
}
