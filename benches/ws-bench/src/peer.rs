//! The peer server (`ws-bench peer-server`): the same broadcast server
//! written with tokio-tungstenite on a current-thread tokio runtime, so
//! that `ws-bench run --server peer` gives a side-by-side figure.
//!
//! It mirrors [`server`](crate::server) and zgreen's WebSocket design:
//! one task reading each connection, one writing it from a bounded
//! queue of [`SEND_QUEUE_MESSAGES`] (zgreen's default), a broadcaster
//! whose send waits up to [`SEND_TIMEOUT`] for room in a full queue and
//! disconnects the client after that. The writer either flushes after
//! each message (`FlushMode::Each`, what `SinkExt::send` does) or writes
//! every message already queued before one flush (`FlushMode::Batch`,
//! `feed` then `flush`).
//!
//! It upgrades any path (the clients only use `/ws`).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::io::Write;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::protocol::{self, Go, ServerStats};
use crate::sys::{CpuTime, ensure_open_files};

/// Messages waiting to be written to one client (zgreen's default).
pub const SEND_QUEUE_MESSAGES: usize = 256;
/// How long a broadcast send waits for room (zgreen's default).
pub const SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a broadcaster waits for the announced clients to register.
const REGISTER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a broadcaster waits for the send queues to drain.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

/// When the writer task flushes the socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlushMode {
    /// After every message (`SinkExt::send`).
    Each,
    /// After writing every message already queued (`feed`, then `flush`).
    Batch,
}

/// One connected client, as the broadcaster sees it.
#[derive(Clone)]
struct Conn {
    tx: mpsc::Sender<Message>,
    /// Messages queued or buffered, not yet flushed to the socket.
    pending: Rc<Cell<usize>>,
    /// Disconnected for being too slow.
    slow: Rc<Cell<bool>>,
}

/// The connected clients.
#[derive(Default)]
struct Registry {
    conns: RefCell<BTreeMap<u64, Conn>>,
    next_id: Cell<u64>,
    busy: Cell<bool>,
}

impl Registry {
    fn snapshot(&self) -> Vec<(u64, Conn)> {
        self.conns
            .borrow()
            .iter()
            .map(|(id, c)| (*id, c.clone()))
            .collect()
    }
}

/// Serves WebSockets on `addr` forever, printing `listening <addr>` on
/// stdout once it accepts connections.
pub fn serve(addr: &str, max_clients: u64, flush: FlushMode) -> Result<(), String> {
    ensure_open_files(max_clients + 64)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, accept_loop(addr, flush))
}

async fn accept_loop(addr: &str, flush: FlushMode) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("bind {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening {local}")
        .and_then(|()| out.flush())
        .map_err(|e| format!("stdout: {e}"))?;
    drop(out);
    let registry = Rc::new(Registry::default());
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("ws-bench peer-server: accept: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let registry = registry.clone();
        tokio::task::spawn_local(async move {
            if let Err(e) = connection(stream, &registry, flush).await {
                eprintln!("ws-bench peer-server: {e}");
            }
        });
    }
}

/// One connection: handshake, writer task, then reading until it closes.
async fn connection(
    stream: tokio::net::TcpStream,
    registry: &Rc<Registry>,
    flush: FlushMode,
) -> Result<(), String> {
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let config = WebSocketConfig::default().read_buffer_size(8 * 1024);
    let ws = tokio_tungstenite::accept_async_with_config(stream, Some(config))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let (mut sink, mut source) = ws.split();
    let (tx, mut rx) = mpsc::channel::<Message>(SEND_QUEUE_MESSAGES);
    let conn = Conn {
        tx,
        pending: Rc::new(Cell::new(0)),
        slow: Rc::new(Cell::new(false)),
    };
    let pending = conn.pending.clone();
    let writer = tokio::task::spawn_local(async move {
        while let Some(msg) = rx.recv().await {
            let mut written = 1;
            let result = match flush {
                FlushMode::Each => sink.send(msg).await,
                FlushMode::Batch => {
                    let mut r = sink.feed(msg).await;
                    while r.is_ok() {
                        let Ok(more) = rx.try_recv() else { break };
                        written += 1;
                        r = sink.feed(more).await;
                    }
                    match r {
                        Ok(()) => sink.flush().await,
                        e => e,
                    }
                }
            };
            pending.set(pending.get().saturating_sub(written));
            if result.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let id = registry.next_id.get();
    registry.next_id.set(id + 1);
    registry.conns.borrow_mut().insert(id, conn);
    while let Some(Ok(msg)) = source.next().await {
        let Message::Text(text) = msg else { continue };
        match Go::parse(text.as_str()) {
            Some(go) if !registry.busy.get() => {
                registry.busy.set(true);
                let registry = registry.clone();
                tokio::task::spawn_local(async move {
                    broadcast(&registry, go).await;
                    registry.busy.set(false);
                });
            }
            _ => eprintln!("ws-bench peer-server: ignoring {text:?}"),
        }
    }
    registry.conns.borrow_mut().remove(&id);
    writer.abort();
    Ok(())
}

/// Queues `msg` for `conn`, waiting up to [`SEND_TIMEOUT`] for room; a
/// client still without room is disconnected. False if not sent.
async fn send(registry: &Registry, id: u64, conn: &Conn, msg: Message) -> bool {
    conn.pending.set(conn.pending.get() + 1);
    // Queue without an await while there is room: an await on the channel
    // spends tokio's cooperative budget and yields every ~128 sends, which
    // would hand each writer one message per wake-up. With room, this is
    // what zgreen's `send` does too (no switch).
    let msg = match conn.tx.try_send(msg) {
        Ok(()) => return true,
        Err(mpsc::error::TrySendError::Full(msg)) => msg,
        Err(mpsc::error::TrySendError::Closed(_)) => {
            conn.pending.set(conn.pending.get() - 1);
            return false;
        }
    };
    match conn.tx.send_timeout(msg, SEND_TIMEOUT).await {
        Ok(()) => true,
        Err(e) => {
            conn.pending.set(conn.pending.get() - 1);
            if matches!(e, mpsc::error::SendTimeoutError::Timeout(_)) {
                conn.slow.set(true);
                // Dropping the registry's sender ends the writer.
                registry.conns.borrow_mut().remove(&id);
            }
            false
        }
    }
}

/// Sends `go.messages` messages to every client, waits for the queues to
/// drain, then sends each client the [`ServerStats`].
async fn broadcast(registry: &Registry, go: Go) {
    let wait_start = Instant::now();
    while registry.conns.borrow().len() < go.clients {
        if wait_start.elapsed() > REGISTER_TIMEOUT {
            eprintln!("ws-bench peer-server: not all clients registered; broadcasting anyway");
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let initial = registry.snapshot();
    let cpu_start = CpuTime::now();
    let start = Instant::now();
    let mut send_errors = 0;
    for seq in 0..go.messages {
        let payload = Bytes::from(protocol::message(seq, go.size));
        for (id, conn) in registry.snapshot() {
            if !send(registry, id, &conn, Message::Binary(payload.clone())).await {
                send_errors += 1;
            }
        }
    }
    let drain_start = Instant::now();
    while initial
        .iter()
        .any(|(_, c)| !c.tx.is_closed() && c.pending.get() > 0)
    {
        if drain_start.elapsed() > DRAIN_TIMEOUT {
            eprintln!("ws-bench peer-server: send queues not drained after {DRAIN_TIMEOUT:?}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let cpu = CpuTime::now().since(cpu_start);
    let stats = ServerStats {
        clients: initial.len(),
        send_errors,
        slow_disconnects: initial.iter().filter(|(_, c)| c.slow.get()).count() as u64,
        broadcast_s: start.elapsed().as_secs_f64(),
        cpu_s: cpu.total_s(),
        user_s: cpu.user.as_secs_f64(),
        sys_s: cpu.system.as_secs_f64(),
    };
    let text = stats.to_message();
    for (id, conn) in registry.snapshot() {
        send(registry, id, &conn, Message::text(text.clone())).await;
    }
}
