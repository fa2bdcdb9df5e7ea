//! The zgreen side: an [`HttpServer`] whose `/ws` route upgrades each
//! connection and registers its [`WebSocket`]; a `go` message starts a
//! broadcaster greenlet that [`send`](WebSocket::send)s every message to
//! every registered client. This is the code a user of zgreen would write:
//! only its public API, default [`WsConfig`].

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::io::Write;
use std::rc::Rc;
use std::time::{Duration, Instant};

use zgreen::http::{
    HttpServer, Message, PreparedMessage, Request, Router, WebSocket, WsConfig, upgrade_with,
};

use crate::protocol::{self, Go, ServerStats};
use crate::sys::{CpuTime, ensure_open_files};

/// How long a broadcaster waits for the announced clients to register.
const REGISTER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a broadcaster waits for the send queues to drain.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

/// The connected clients.
#[derive(Default)]
struct Registry {
    sockets: RefCell<BTreeMap<u64, WebSocket>>,
    next_id: Cell<u64>,
    /// A broadcast is running (one at a time).
    busy: Cell<bool>,
}

impl Registry {
    fn add(&self, ws: WebSocket) -> u64 {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        self.sockets.borrow_mut().insert(id, ws);
        id
    }

    fn remove(&self, id: u64) {
        self.sockets.borrow_mut().remove(&id);
    }

    fn len(&self) -> usize {
        self.sockets.borrow().len()
    }

    /// The clients now (a copy: sending parks, and clients come and go
    /// meanwhile).
    fn snapshot(&self) -> Vec<WebSocket> {
        self.sockets.borrow().values().cloned().collect()
    }
}

/// Serves `/ws` on `addr` forever, printing `listening <addr>` on stdout
/// once it accepts connections. `max_clients` sizes the open-file limit;
/// `config` is each connection's (the benchmark uses the default but for
/// `send_timeout`, which a test shortens).
pub fn serve(addr: &str, max_clients: u64, config: WsConfig) -> Result<(), String> {
    ensure_open_files(max_clients + 64)?;
    let registry = Rc::new(Registry::default());
    let router = Router::new().get("/ws", move |req: &Request| {
        let registry = registry.clone();
        upgrade_with(req, config.clone(), move |ws: WebSocket| {
            client_session(ws, &registry)
        })
    });
    let server = HttpServer::bind(addr, router).map_err(|e| format!("bind {addr}: {e}"))?;
    server.start().map_err(|e| format!("start: {e}"))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening {}", server.local_addr())
        .and_then(|()| out.flush())
        .map_err(|e| format!("stdout: {e}"))?;
    drop(out);
    server.serve_forever().map_err(|e| format!("serve: {e}"))
}

/// One client's connection: registered until it closes; its `go`
/// messages start broadcasts.
fn client_session(ws: WebSocket, registry: &Rc<Registry>) {
    let id = registry.add(ws.clone());
    while let Ok(msg) = ws.recv() {
        let Message::Text(text) = msg else { continue };
        match Go::parse(&text) {
            Some(go) if !registry.busy.get() => {
                registry.busy.set(true);
                let registry = registry.clone();
                zgreen::spawn(move || {
                    broadcast(&registry, go);
                    registry.busy.set(false);
                });
            }
            Some(_) => eprintln!("ws-bench server: a broadcast is already running; ignoring {text:?}"),
            None => eprintln!("ws-bench server: unknown control message {text:?}"),
        }
    }
    registry.remove(id);
}

/// Sends `go.messages` messages to every client, waits for the send
/// queues to drain, then sends each client the [`ServerStats`].
fn broadcast(registry: &Registry, go: Go) {
    let wait_start = Instant::now();
    while registry.len() < go.clients {
        if wait_start.elapsed() > REGISTER_TIMEOUT || zgreen::sleep(Duration::from_millis(1)).is_err() {
            eprintln!(
                "ws-bench server: only {} of {} clients registered; broadcasting anyway",
                registry.len(),
                go.clients
            );
            break;
        }
    }
    let initial = registry.snapshot();
    let cpu_start = CpuTime::now();
    let start = Instant::now();
    let mut send_errors = 0;
    let mut payload = vec![0; go.size];
    for seq in 0..go.messages {
        protocol::fill(seq, &mut payload);
        // Encoded once; every client's queue references the same frame.
        let msg = PreparedMessage::new(Message::Binary(payload.clone()));
        for ws in registry.snapshot() {
            if !ws.is_closed() && ws.send_prepared(&msg).is_err() {
                send_errors += 1;
            }
        }
    }
    let drain_start = Instant::now();
    while initial
        .iter()
        .any(|ws| !ws.is_closed() && ws.stats().queued_messages > 0)
    {
        if drain_start.elapsed() > DRAIN_TIMEOUT || zgreen::sleep(Duration::from_millis(1)).is_err() {
            eprintln!("ws-bench server: send queues not drained after {DRAIN_TIMEOUT:?}");
            break;
        }
    }
    let cpu = CpuTime::now().since(cpu_start);
    let stats = ServerStats {
        clients: initial.len(),
        send_errors,
        slow_disconnects: initial.iter().filter(|ws| ws.stats().dropped_slow).count() as u64,
        broadcast_s: start.elapsed().as_secs_f64(),
        cpu_s: cpu.total_s(),
        user_s: cpu.user.as_secs_f64(),
        sys_s: cpu.system.as_secs_f64(),
    };
    let text = stats.to_message();
    for ws in registry.snapshot() {
        let _ = ws.send_text(text.clone());
    }
}
