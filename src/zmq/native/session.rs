//! Connections: the handshake (bounded by HANDSHAKE_IVL), the reader loop
//! (one greenlet per connection, which is also its connector or was
//! spawned by its acceptor), heartbeats, and reconnecting with back-off.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::IoSlice;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use omq_proto::proto::connection::{ConnectionConfig, Event, Role};
use omq_proto::proto::{Command, Connection, PeerProperties};
use omq_proto::subscription::SubscriptionSet;

use super::peer::{self, Peer};
use super::shared::Shared;
use super::wire::{Endpoint, Listener, Wire};
use super::{omq_type, route, security};
use crate::error::{Error, Result};
use crate::hub::Deadline;

/// Bytes read from a stream at a time.
const READ_BYTES: usize = 64 * 1024;
/// The stack of a session greenlet (its reader, which also runs the
/// handshake): CURVE's key exchange needs more than the default 64 KiB.
pub(super) const SESSION_STACK_BYTES: usize = 256 * 1024;
/// The pause after a failed accept before the next.
const ACCEPT_RETRY: Duration = Duration::from_millis(10);
/// How long one connect attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a connection ended (logged at debug level; never surfaces to the
/// socket's caller, as with libzmq).
fn protocol(e: omq_proto::Error) -> Error {
    Error::failed(e)
}

/// Writes everything the codec holds, parking until `deadline`.
fn flush(wire: &Wire, conn: &mut Connection, deadline: Option<Deadline>) -> Result<()> {
    while conn.has_pending_transmit() {
        let chunks = conn.clone_transmit_chunks();
        let slices: Vec<IoSlice<'_>> = chunks.iter().take(64).map(|b| IoSlice::new(b)).collect();
        let n = wire.send_vectored_deadline(&slices, deadline)?;
        conn.advance_transmit(n);
    }
    Ok(())
}

/// Runs the ZMTP greeting and mechanism handshake; returns the codec (which
/// may already hold messages that came with the handshake) and the peer's
/// properties.
fn handshake(
    sock: &Shared,
    wire: &Wire,
    role: Role,
    from: &str,
    buf: &mut [u8],
) -> Result<(Connection, PeerProperties)> {
    let identity = sock.opts.identity.borrow().clone();
    let zap_domain = sock.opts.zap_domain.borrow().clone();
    let mut config = ConnectionConfig::new(role, omq_type(sock.kind)?)
        .identity(Bytes::from(identity.clone()))
        .mechanism(security::setup(&sock.opts.security.borrow(), &zap_domain))
        .peer_address(from)
        .defer_authentication(true);
    if let Some(max) = sock.opts.max_msg_bytes.get() {
        config = config.max_message_size(max);
    }
    let mut conn = Connection::new(config);
    let hs_deadline = Deadline::after(sock.opts.handshake_ivl.get());
    let deadline = Some(hs_deadline);
    loop {
        if let Some(request) = conn.take_authentication_request() {
            let verdict = security::zap(
                &sock.zap_context(),
                &zap_domain,
                sock.opts.zap_enforce.get(),
                request.peer(),
                &identity,
                hs_deadline,
            );
            // A refusal queues the mechanism's ERROR: say it, then end.
            let refused = conn.complete_authentication(verdict);
            let _ = flush(wire, &mut conn, deadline);
            refused.map_err(protocol)?;
        }
        flush(wire, &mut conn, deadline)?;
        while let Some(event) = conn.poll_event() {
            if let Event::HandshakeSucceeded { peer_properties, .. } = event {
                flush(wire, &mut conn, deadline)?;
                return Ok((conn, PeerProperties::clone(&peer_properties)));
            }
        }
        let n = wire.recv_deadline(buf, deadline)?;
        if n == 0 {
            return Err(Error::Closed(crate::error::Closed::Peer));
        }
        conn.handle_input(Bytes::copy_from_slice(&buf[..n]))
            .map_err(protocol)?;
    }
}

/// One connection from handshake to hang-up: registers the peer with the
/// socket, runs its writer (and PINGs), reads until the peer leaves, the
/// connection fails, or the socket closes, then unregisters it.
pub(super) fn run(sock: &Rc<Shared>, wire: Wire, role: Role, from: &str) -> Result<()> {
    let mut buf = vec![0u8; READ_BYTES];
    let (conn, props) = handshake(sock, &wire, role, from, &mut buf)?;
    let id = {
        let mut st = sock.st.borrow_mut();
        st.next_peer_id += 1;
        st.next_peer_id
    };
    let routing_id = match props.identity {
        Some(ref identity)
            if !identity.is_empty() && !sock.st.borrow().by_routing_id.contains_key(identity) =>
        {
            identity.clone()
        }
        _ => {
            let mut generated = vec![0u8];
            generated.extend_from_slice(&(id as u32).to_be_bytes());
            Bytes::from(generated)
        }
    };
    let peer = Rc::new(Peer {
        id,
        routing_id,
        wire,
        conn: RefCell::new(conn),
        out: RefCell::new(VecDeque::new()),
        flat: RefCell::new(Bytes::new()),
        work: Default::default(),
        alive: Cell::new(true),
        inline_ok: Cell::new(true),
        subs: RefCell::new(SubscriptionSet::new()),
    });
    let writer = {
        let (peer, room) = (peer.clone(), sock.room.clone());
        crate::greenlet::Builder::new()
            .stack_bytes(SESSION_STACK_BYTES)
            .spawn(move || peer::writer(peer, room))?
    };
    let pinger = match sock.opts.heartbeat_ivl.get() {
        Some(ivl) if !ivl.is_zero() => {
            let peer = peer.clone();
            let ttl = sock.opts.heartbeat_ttl.get().unwrap_or_default();
            Some(crate::greenlet::try_spawn(move || ping(&peer, ivl, ttl))?)
        }
        _ => None,
    };
    route::attach(sock, &peer);
    {
        let mut st = sock.st.borrow_mut();
        st.writers.retain(|(g, _)| !g.ready());
        st.writers.push((writer.any(), peer.clone()));
    }
    sock.room.notify_all();
    let result = read_loop(sock, &peer, &mut buf);
    route::detach(sock, &peer);
    match result {
        // The peer closed, or the socket is closing: the writer writes
        // what is queued (bounded by LINGER), then hangs up.
        Ok(()) => {
            peer.alive.set(false);
            peer.work.notify_all();
        }
        Err(ref e) if e.is_killed() => {
            peer.alive.set(false);
            peer.work.notify_all();
        }
        // A broken, hostile or silent connection ends now.
        Err(_) => peer.hang_up(),
    }
    if let Some(p) = pinger {
        p.kill_nowait();
    }
    result
}

/// PINGs the peer every `ivl` while the connection lives.
fn ping(peer: &Peer, ivl: Duration, ttl: Duration) -> Result<()> {
    let ttl_deciseconds = u16::try_from(ttl.as_millis() / 100).unwrap_or(u16::MAX);
    while peer.alive.get() {
        crate::greenlet::sleep(ivl)?;
        peer.command(&Command::Ping {
            ttl_deciseconds,
            context: Bytes::new(),
        });
    }
    Ok(())
}

/// How long the connection may stay silent: our HEARTBEAT_TIMEOUT (when
/// heartbeats are on) and the TTL of the peer's last PING, whichever is
/// shorter.
fn silence_deadline(sock: &Shared, conn: &Connection) -> Option<Deadline> {
    let ours = sock
        .opts
        .heartbeat_ivl
        .get()
        .filter(|i| !i.is_zero())
        .map(|ivl| sock.opts.heartbeat_timeout.get().unwrap_or(ivl));
    let limit = match (ours, conn.peer_heartbeat_ttl()) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    limit.map(Deadline::after)
}

fn read_loop(sock: &Rc<Shared>, peer: &Rc<Peer>, buf: &mut [u8]) -> Result<()> {
    loop {
        loop {
            let event = peer.conn.borrow_mut().poll_event();
            match event {
                None => break,
                Some(Event::Message(msg)) => route::deliver(sock, peer, msg)?,
                Some(Event::Command(cmd)) => route::command(sock, peer, cmd)?,
                Some(Event::HandshakeSucceeded { .. }) => {}
            }
        }
        loop {
            // The codec keeps messages apart from commands.
            let msg = peer.conn.borrow_mut().poll_message();
            match msg {
                None => break,
                Some(msg) => route::deliver(sock, peer, msg)?,
            }
        }
        if peer.conn.borrow().has_pending_transmit() {
            // Automatic PONGs.
            peer.work.notify_one();
        }
        while !peer.conn.borrow().accepts_input() {
            peer.work.notify_one();
            crate::greenlet::sleep(Duration::from_millis(1))?;
            if peer.conn.borrow().has_pending_input() {
                peer.conn.borrow_mut().resume_input().map_err(protocol)?;
            }
        }
        let deadline = silence_deadline(sock, &peer.conn.borrow());
        let n = match peer.wire.recv_deadline(buf, deadline) {
            Ok(n) => n,
            Err(e) if e.is_call_timeout() => {
                tracing::debug!(target: "zgreen::zmq::native", "peer silent past the heartbeat timeout: disconnecting");
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok(());
        }
        peer.conn
            .borrow_mut()
            .handle_input(Bytes::copy_from_slice(&buf[..n]))
            .map_err(protocol)?;
    }
}

/// Accepts connections on `listener` until the socket closes; each gets a
/// session greenlet of its own.
pub(super) fn accept_loop(sock: Rc<Shared>, listener: Listener, key: String) -> Result<()> {
    loop {
        let (wire, from) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) if e.is_killed() || sock.closed.get() => return Err(e),
            // Out of descriptors, a connection reset before accept, ...:
            // the listener stays; try again shortly (never spin).
            Err(e) => {
                tracing::warn!(target: "zgreen::zmq::native", "accept failed: {e}");
                crate::greenlet::sleep(ACCEPT_RETRY)?;
                continue;
            }
        };
        if sock.closed.get() {
            return Ok(());
        }
        let s = sock.clone();
        let g = crate::greenlet::Builder::new()
            .stack_bytes(SESSION_STACK_BYTES)
            .spawn(move || {
                let r = run(&s, wire, Role::Server, &from);
                if let Err(ref e) = r {
                    tracing::debug!(target: "zgreen::zmq::native", peer = %from, "connection ended: {e}");
                }
            })?;
        sock.add_task(&key, g.any());
    }
}

/// Connects to `endpoint`, runs the session, and reconnects after
/// RECONNECT_IVL (doubling up to RECONNECT_IVL_MAX while attempts fail)
/// until the socket closes.
pub(super) fn connect_loop(sock: Rc<Shared>, endpoint: Endpoint) -> Result<()> {
    let mut pause = sock.opts.reconnect_ivl.get();
    loop {
        if sock.closed.get() {
            return Ok(());
        }
        match endpoint.connect(CONNECT_TIMEOUT) {
            Ok(wire) => {
                let started = Instant::now();
                let r = run(&sock, wire, Role::Client, &endpoint.to_string());
                if sock.closed.get() {
                    return Ok(());
                }
                if let Err(e) = r {
                    if e.is_killed() {
                        return Err(e);
                    }
                    tracing::debug!(target: "zgreen::zmq::native", ?endpoint, "connection ended: {e}");
                }
                if started.elapsed() > sock.opts.reconnect_ivl.get() {
                    pause = sock.opts.reconnect_ivl.get();
                }
            }
            Err(e) if e.is_killed() => return Err(e),
            Err(e) => tracing::debug!(target: "zgreen::zmq::native", ?endpoint, "connect failed: {e}"),
        }
        crate::greenlet::sleep(pause)?;
        if let Some(max) = sock.opts.reconnect_ivl_max.get() {
            pause = (pause * 2).min(max.max(sock.opts.reconnect_ivl.get()));
        }
    }
}
