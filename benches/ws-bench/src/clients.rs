//! The load: many WebSocket clients in one process, each a zgreen
//! greenlet running `tungstenite`'s client over a green
//! [`TcpStream`] (zgreen driving a plain `Read + Write` crate).
//!
//! All clients connect; once every one is connected, client 0 sends the
//! `go` message and the clock starts; it stops when every client has
//! received all its messages, each checked for content and order. Every
//! wait is bounded, so a stall is an error, never a hang.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::protocol::WebSocketConfig;
use zgreen::Greenlet;
use zgreen::net::TcpStream;
use zgreen::sync::Event;

use crate::protocol::{self, MIN_SIZE, ServerStats};
use crate::sys::{CpuTime, ensure_open_files, loadavg};

/// How long the clients wait for the server's stats after the last
/// delivery.
const STATS_TIMEOUT: Duration = Duration::from_secs(30);

/// What to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientOptions {
    /// The server's address (`host:port`).
    pub addr: String,
    /// WebSocket connections to open.
    pub clients: usize,
    /// Messages each client must receive.
    pub messages: u64,
    /// Size of each message in bytes (at least [`MIN_SIZE`]).
    pub size: usize,
    /// Bound on each phase (connecting, delivering) and on each socket
    /// read: past it the run fails.
    pub timeout: Duration,
}

/// The figures of one run.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientReport {
    /// Connected clients.
    pub clients: usize,
    /// Messages each client received.
    pub messages: u64,
    /// Size of each message in bytes.
    pub size: usize,
    /// Messages received, all clients together.
    pub deliveries: u64,
    /// Wall time from `go` until the last delivery.
    pub elapsed_s: f64,
    /// `deliveries / elapsed_s`.
    pub deliveries_per_s: f64,
    /// CPU time (user + system) of the client process over the same span.
    pub client_cpu_s: f64,
    /// The server's account (its CPU time covers first send to drained
    /// queues).
    pub server: ServerStats,
    /// `/proc/loadavg` when the run started.
    pub loadavg: String,
}

impl ClientReport {
    /// The report as one JSON object.
    pub fn to_json(&self) -> Value {
        json!({
            "clients": self.clients,
            "messages": self.messages,
            "size": self.size,
            "deliveries": self.deliveries,
            "elapsed_s": self.elapsed_s,
            "deliveries_per_s": self.deliveries_per_s,
            "client_cpu_s": self.client_cpu_s,
            "server_cpu_s": self.server.cpu_s,
            "server_user_s": self.server.user_s,
            "server_sys_s": self.server.sys_s,
            "server_broadcast_s": self.server.broadcast_s,
            "server_clients": self.server.clients,
            "send_errors": self.server.send_errors,
            "slow_disconnects": self.server.slow_disconnects,
            "loadavg": self.loadavg,
        })
    }

    /// Reads back [`to_json`](Self::to_json).
    pub fn from_json(v: &Value) -> Option<ClientReport> {
        Some(ClientReport {
            clients: v["clients"].as_u64()? as usize,
            messages: v["messages"].as_u64()?,
            size: v["size"].as_u64()? as usize,
            deliveries: v["deliveries"].as_u64()?,
            elapsed_s: v["elapsed_s"].as_f64()?,
            deliveries_per_s: v["deliveries_per_s"].as_f64()?,
            client_cpu_s: v["client_cpu_s"].as_f64()?,
            // As `to_json` writes them: the counters unprefixed.
            server: ServerStats::from_fields(v, |name| match name {
                "send_errors" | "slow_disconnects" => name.to_string(),
                _ => format!("server_{name}"),
            })?,
            loadavg: v["loadavg"].as_str()?.to_string(),
        })
    }
}

/// What the client greenlets and the measuring greenlet share.
struct Shared {
    opts: ClientOptions,
    connected: Cell<usize>,
    /// Set when every client is connected (or one failed).
    all_connected: Event,
    /// Set to let client 0 send `go`.
    go: Event,
    delivered: Cell<u64>,
    /// Clients that have all their messages.
    finished: Cell<usize>,
    /// Set when every client has all its messages (or one failed).
    all_done: Event,
    server_stats: RefCell<Option<ServerStats>>,
    /// The first client failure.
    failure: RefCell<Option<String>>,
}

impl Shared {
    fn fail(&self, why: String) {
        self.failure.borrow_mut().get_or_insert(why);
        self.all_connected.set();
        self.all_done.set();
    }

    fn check(&self) -> Result<(), String> {
        match &*self.failure.borrow() {
            Some(why) => Err(why.clone()),
            None => Ok(()),
        }
    }
}

/// Kills the client greenlets still running when a run ends.
struct KillOnDrop(Vec<Greenlet<()>>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for g in &self.0 {
            g.kill_nowait();
        }
    }
}

/// Runs the clients against a server already listening on `opts.addr`
/// and returns the figures; fails if a client fails, a message is wrong
/// or missing, or a phase takes longer than `opts.timeout`.
pub fn run(opts: &ClientOptions) -> Result<ClientReport, String> {
    if opts.size < MIN_SIZE {
        return Err(format!("--size must be at least {MIN_SIZE} bytes"));
    }
    if opts.clients == 0 || opts.messages == 0 {
        return Err("--clients and --messages must be at least 1".to_string());
    }
    ensure_open_files(opts.clients as u64 + 64)?;
    let load = loadavg();
    let shared = Rc::new(Shared {
        opts: opts.clone(),
        connected: Cell::new(0),
        all_connected: Event::new(),
        go: Event::new(),
        delivered: Cell::new(0),
        finished: Cell::new(0),
        all_done: Event::new(),
        server_stats: RefCell::new(None),
        failure: RefCell::new(None),
    });
    let greenlets = KillOnDrop(
        (0..opts.clients)
            .map(|i| {
                let shared = shared.clone();
                zgreen::spawn(move || {
                    if let Err(why) = client(i, &shared) {
                        shared.fail(format!("client {i}: {why}"));
                    }
                })
            })
            .collect(),
    );

    let connected = set_within(&shared.all_connected, opts.timeout)?;
    shared.check()?;
    if !connected {
        return Err(format!(
            "only {} of {} clients connected after {:?}",
            shared.connected.get(),
            opts.clients,
            opts.timeout
        ));
    }

    let cpu_start = CpuTime::now();
    let start = Instant::now();
    shared.go.set();
    let done = set_within(&shared.all_done, opts.timeout)?;
    let elapsed = start.elapsed();
    let cpu = CpuTime::now().since(cpu_start);
    shared.check()?;
    let expected = opts.clients as u64 * opts.messages;
    if !done {
        return Err(format!(
            "deliveries stalled: {} of {expected} after {:?} ({} of {} clients complete)",
            shared.delivered.get(),
            opts.timeout,
            shared.finished.get(),
            opts.clients
        ));
    }

    zgreen::joinall_with(
        greenlets.0.iter().map(Greenlet::any),
        zgreen::JoinAll::new().timeout(STATS_TIMEOUT),
    )
    .map_err(|e| e.to_string())?;
    shared.check()?;
    let server = shared
        .server_stats
        .borrow_mut()
        .take()
        .ok_or_else(|| format!("no stats from the server within {STATS_TIMEOUT:?}"))?;
    let deliveries = shared.delivered.get();
    let elapsed_s = elapsed.as_secs_f64();
    Ok(ClientReport {
        clients: opts.clients,
        messages: opts.messages,
        size: opts.size,
        deliveries,
        elapsed_s,
        deliveries_per_s: deliveries as f64 / elapsed_s,
        client_cpu_s: cpu.total_s(),
        server,
        loadavg: load,
    })
}

/// Client `i`: connects, (client 0: sends `go`), then checks every
/// message until the server's stats arrive.
fn client(i: usize, shared: &Shared) -> Result<(), String> {
    use tungstenite::Message;

    let opts = &shared.opts;
    let stream = TcpStream::connect_timeout(opts.addr.as_str(), opts.timeout)
        .map_err(|e| format!("connect {}: {e}", opts.addr))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(opts.timeout));
    stream.set_write_timeout(Some(opts.timeout));
    // The default 128 KiB read buffer would be 128 MiB for 1000 clients.
    let config = WebSocketConfig::default()
        .read_buffer_size(16 * 1024)
        .write_buffer_size(0);
    let url = format!("ws://{}/ws", opts.addr);
    let (mut ws, _) = tungstenite::client::client_with_config(url.as_str(), stream, Some(config))
        .map_err(|e| format!("handshake: {e}"))?;
    shared.connected.set(shared.connected.get() + 1);
    if shared.connected.get() == opts.clients {
        shared.all_connected.set();
    }
    if i == 0 {
        shared.go.wait().map_err(|e| e.to_string())?;
        let go = protocol::go_message(opts.messages, opts.size, opts.clients);
        ws.send(Message::text(go)).map_err(|e| format!("send go: {e}"))?;
    }
    let mut seq = 0;
    loop {
        match ws.read() {
            Ok(Message::Binary(data)) => {
                if seq == opts.messages {
                    return Err(format!("more than the {} messages expected", opts.messages));
                }
                protocol::check(seq, opts.size, &data)?;
                seq += 1;
                shared.delivered.set(shared.delivered.get() + 1);
                if seq == opts.messages {
                    shared.finished.set(shared.finished.get() + 1);
                    if shared.finished.get() == opts.clients {
                        shared.all_done.set();
                    }
                }
            }
            Ok(Message::Text(text)) => {
                let stats =
                    ServerStats::parse(&text).ok_or_else(|| format!("unexpected text message {text:?}"))?;
                if seq != opts.messages {
                    return Err(format!("server stats after {seq} of {} messages", opts.messages));
                }
                if i == 0 {
                    *shared.server_stats.borrow_mut() = Some(stats);
                }
                return Ok(());
            }
            Ok(_) => {}
            Err(e) => return Err(format!("read after {seq} of {} messages: {e}", opts.messages)),
        }
    }
}

/// Waits at most `timeout` for `event`: `Ok(false)` if this wait's own
/// timeout passed first, an error for anything else (a kill, a scope).
fn set_within(event: &zgreen::sync::Event, timeout: Duration) -> Result<bool, String> {
    match event.wait_timeout(timeout) {
        Ok(()) => Ok(true),
        Err(zgreen::Error::Timeout(t)) if t.id == 0 => Ok(false),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_round_trips() {
        let report = ClientReport {
            clients: 10,
            messages: 200,
            size: 64,
            deliveries: 2000,
            elapsed_s: 1.5,
            deliveries_per_s: 1333.0,
            client_cpu_s: 0.25,
            server: ServerStats {
                clients: 10,
                send_errors: 2,
                slow_disconnects: 1,
                broadcast_s: 1.25,
                cpu_s: 0.75,
                user_s: 0.5,
                sys_s: 0.25,
            },
            loadavg: "0.10 0.20 0.30 1/100 42".into(),
        };
        assert_eq!(ClientReport::from_json(&report.to_json()), Some(report));
    }
}
