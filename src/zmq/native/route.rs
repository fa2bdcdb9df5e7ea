//! Socket-type semantics: where a sent message goes, which received
//! messages are kept, and the envelopes of REQ, REP and ROUTER.
//!
//! | type | send | receive |
//! |---|---|---|
//! | PUSH, DEALER | round-robin over peers with room; blocks while none has | DEALER: fair-queued |
//! | PULL | `ENOTSUP` | fair-queued |
//! | PAIR | the one peer | the one peer |
//! | REQ | `[""] + msg` round-robin, then must receive | the reply of that peer, delimiter stripped |
//! | REP | the envelope of the last request + msg | request, envelope kept |
//! | ROUTER | first frame picks the peer (unknown: dropped, or `EHOSTUNREACH` if mandatory); full: dropped | `[routing id] + msg` |
//! | PUB, XPUB | every matching peer with room (full: dropped), never blocks | XPUB: subscriptions as `[1|0, topic]` |
//! | SUB, XSUB | SUB: `ENOTSUP`; XSUB: `[1|0, topic]` (un)subscribes upstream | filtered by our subscriptions (SUB) |
//!
//! "Fair-queued" here: one inbound queue per socket (RCVHWM), filled by
//! one reader per connection; a reader that finds it full parks, so a
//! fast peer cannot crowd out the others for more than a queue's worth.

use std::rc::Rc;

use bytes::Bytes;
use omq_proto::Message;
use omq_proto::proto::Command;

use super::peer::Peer;
use super::shared::Shared;
use crate::error::{Error, Result};
use crate::hub::Deadline;

fn zerr(e: zmq::Error) -> Error {
    Error::Zmq(e)
}

/// A new handshaken peer joins the socket.
pub(super) fn attach(sock: &Shared, peer: &Rc<Peer>) {
    let mut st = sock.st.borrow_mut();
    if matches!(sock.kind, zmq::SUB | zmq::XSUB) {
        for (prefix, _) in st.subscriptions.iter() {
            peer.command(&Command::Subscribe(Bytes::from(prefix)));
        }
    }
    if sock.kind == zmq::ROUTER {
        st.by_routing_id.insert(peer.routing_id.clone(), peer.clone());
    }
    st.peers.push(peer.clone());
}

/// A peer leaves: forgotten, and (XPUB) its subscriptions cancelled.
pub(super) fn detach(sock: &Shared, peer: &Rc<Peer>) {
    let cancelled: Vec<(Vec<u8>, u64)> = peer.subs.borrow().iter().collect();
    {
        let mut st = sock.st.borrow_mut();
        st.peers.retain(|p| p.id != peer.id);
        if st
            .by_routing_id
            .get(&peer.routing_id)
            .is_some_and(|p| p.id == peer.id)
        {
            st.by_routing_id.remove(&peer.routing_id);
        }
    }
    if sock.kind == zmq::XPUB && !sock.closed.get() {
        for (prefix, count) in cancelled {
            for _ in 0..count {
                xpub_count(sock, peer, &prefix, false);
            }
        }
    }
}

/// Counts an XPUB subscription change; reports it to the application
/// when the count leaves or returns to zero.
fn xpub_count(sock: &Shared, peer: &Peer, prefix: &[u8], subscribe: bool) {
    let report = {
        let mut st = sock.st.borrow_mut();
        let n = st.xpub_counts.entry(prefix.to_vec()).or_insert(0);
        if subscribe {
            *n += 1;
            *n == 1
        } else if *n > 0 {
            *n -= 1;
            let zero = *n == 0;
            if zero {
                st.xpub_counts.remove(prefix);
            }
            zero
        } else {
            false
        }
    };
    if report {
        let mut frame = Vec::with_capacity(prefix.len() + 1);
        frame.push(u8::from(subscribe));
        frame.extend_from_slice(prefix);
        // A full inbound queue drops the report (libzmq does the same).
        let mut st = sock.st.borrow_mut();
        if st.inbound.len() < sock.opts.rcvhwm.get().max(1) {
            st.inbound
                .push_back((peer.id, Message::single(Bytes::from(frame))));
            drop(st);
            sock.readable.notify_one();
        }
    }
}

fn subscription_change(sock: &Shared, peer: &Peer, prefix: &[u8], subscribe: bool) {
    if subscribe {
        peer.subs.borrow_mut().add(prefix);
    } else {
        peer.subs.borrow_mut().remove(prefix);
    }
    if sock.kind == zmq::XPUB {
        xpub_count(sock, peer, prefix, subscribe);
    }
}

/// A command from a peer after the handshake.
pub(super) fn command(sock: &Shared, peer: &Rc<Peer>, cmd: Command) -> Result<()> {
    match cmd {
        Command::Subscribe(prefix) if matches!(sock.kind, zmq::PUB | zmq::XPUB) => {
            subscription_change(sock, peer, &prefix, true)
        }
        Command::Cancel(prefix) if matches!(sock.kind, zmq::PUB | zmq::XPUB) => {
            subscription_change(sock, peer, &prefix, false)
        }
        Command::Error { reason } => {
            tracing::debug!(target: "zgreen::zmq::native", "peer sent ERROR: {reason}");
        }
        _ => {}
    }
    Ok(())
}

/// A message from a peer: kept for the application (parking while the
/// inbound queue is full), or consumed here.
pub(super) fn deliver(sock: &Shared, peer: &Rc<Peer>, msg: Message) -> Result<()> {
    match sock.kind {
        zmq::PUB | zmq::XPUB => {
            // ZMTP 3.0 subscriptions arrive as messages.
            if let Some(body) = msg.get(0).filter(|_| msg.len() == 1)
                && let Some((&tag @ (0 | 1), prefix)) = body.split_first()
            {
                subscription_change(sock, peer, prefix, tag == 1);
            }
            return Ok(());
        }
        zmq::SUB => {
            let topic = msg.get(0).unwrap_or(&[]);
            if !sock.st.borrow().subscriptions.matches(topic) {
                return Ok(());
            }
        }
        _ => {}
    }
    loop {
        if sock.closed.get() || !peer.alive.get() {
            return Err(Error::SocketClosed);
        }
        let room = sock.st.borrow().inbound.len() < sock.opts.rcvhwm.get().max(1);
        if room {
            break;
        }
        sock.inbound_room.wait(None)?;
    }
    sock.st.borrow_mut().inbound.push_back((peer.id, msg));
    sock.readable.notify_one();
    Ok(())
}

/// Takes the next inbound message, parking until `deadline`; `None` with
/// DONTWAIT means there is none (`EAGAIN`).
fn next_inbound(sock: &Shared, deadline: Option<Deadline>, dontwait: bool) -> Result<(u64, Message)> {
    loop {
        if sock.closed.get() {
            return Err(Error::SocketClosed);
        }
        let (got, left) = {
            let mut st = sock.st.borrow_mut();
            (st.inbound.pop_front(), st.inbound.len())
        };
        if let Some(m) = got {
            // Readers parked on a full queue resume once it is half
            // empty, not after every message (one switch per message).
            if left <= sock.opts.rcvhwm.get() / 2 {
                sock.inbound_room.notify_one();
            }
            return Ok(m);
        }
        if dontwait {
            return Err(zerr(zmq::Error::EAGAIN));
        }
        sock.readable.wait(deadline)?;
    }
}

fn frames(msg: &Message) -> Vec<Vec<u8>> {
    msg.iter().map(|b| b.to_vec()).collect()
}

/// Receives one whole message per the socket type's rules.
pub(super) fn recv(sock: &Shared, deadline: Option<Deadline>, dontwait: bool) -> Result<Vec<Vec<u8>>> {
    match sock.kind {
        zmq::PUSH | zmq::PUB => return Err(zerr(zmq::Error::ENOTSUP)),
        zmq::REQ if sock.st.borrow().req_peer.is_none() => return Err(zerr(zmq::Error::EFSM)),
        zmq::REP if sock.st.borrow().rep_envelope.is_some() => return Err(zerr(zmq::Error::EFSM)),
        _ => {}
    }
    loop {
        let (from, msg) = next_inbound(sock, deadline, dontwait)?;
        match sock.kind {
            zmq::ROUTER => {
                let Some(routing_id) = sock
                    .st
                    .borrow()
                    .peers
                    .iter()
                    .find(|p| p.id == from)
                    .map(|p| p.routing_id.to_vec())
                else {
                    continue; // the peer left meanwhile: its message is dropped
                };
                let mut out = Vec::with_capacity(msg.len() + 1);
                out.push(routing_id);
                out.extend(frames(&msg));
                return Ok(out);
            }
            zmq::REQ => {
                let mut st = sock.st.borrow_mut();
                if st.req_peer != Some(from) || msg.get(0).is_none_or(|f| !f.is_empty()) {
                    continue; // not the reply we wait for: dropped, as libzmq
                }
                st.req_peer = None;
                return Ok(frames(&msg).split_off(1));
            }
            zmq::REP => {
                let mut all = frames(&msg);
                let Some(split) = all.iter().position(|f| f.is_empty()) else {
                    continue; // no envelope delimiter: malformed request, dropped
                };
                let body = all.split_off(split + 1);
                let envelope = all.into_iter().map(Bytes::from).collect();
                sock.st.borrow_mut().rep_envelope = Some((from, envelope));
                return Ok(body);
            }
            _ => return Ok(frames(&msg)),
        }
    }
}

/// Picks a peer round-robin among those with room, parking until one has
/// room (or `deadline`).
fn pick_peer(sock: &Shared, deadline: Option<Deadline>, dontwait: bool) -> Result<Rc<Peer>> {
    let hwm = sock.opts.sndhwm.get();
    loop {
        if sock.closed.get() {
            return Err(Error::SocketClosed);
        }
        {
            let mut st = sock.st.borrow_mut();
            let n = st.peers.len();
            for i in 0..n {
                let k = (st.rr + i) % n;
                if st.peers[k].has_room(hwm) {
                    st.rr = (k + 1) % n.max(1);
                    return Ok(st.peers[k].clone());
                }
            }
        }
        if dontwait {
            return Err(zerr(zmq::Error::EAGAIN));
        }
        sock.room.wait(deadline)?;
    }
}

/// Queues `msg` on `peer`; `Ok(false)` if the peer was full after all.
fn put(sock: &Shared, peer: &Peer, msg: Message) -> bool {
    peer.enqueue(msg, sock.opts.sndhwm.get()).is_ok()
}

/// Sends one whole message per the socket type's rules.
pub(super) fn send(
    sock: &Shared,
    mut parts: Vec<Bytes>,
    deadline: Option<Deadline>,
    dontwait: bool,
) -> Result<()> {
    if sock.closed.get() {
        return Err(Error::SocketClosed);
    }
    match sock.kind {
        zmq::PULL | zmq::SUB => Err(zerr(zmq::Error::ENOTSUP)),
        zmq::PUSH | zmq::DEALER | zmq::PAIR => {
            let msg = Message::multipart(parts);
            let peer = pick_peer(sock, deadline, dontwait)?;
            if !put(sock, &peer, msg) {
                return Err(zerr(zmq::Error::EAGAIN));
            }
            Ok(())
        }
        zmq::REQ => {
            if sock.st.borrow().req_peer.is_some() {
                return Err(zerr(zmq::Error::EFSM));
            }
            parts.insert(0, Bytes::new());
            let peer = pick_peer(sock, deadline, dontwait)?;
            if !put(sock, &peer, Message::multipart(parts)) {
                return Err(zerr(zmq::Error::EAGAIN));
            }
            sock.st.borrow_mut().req_peer = Some(peer.id);
            Ok(())
        }
        zmq::REP => {
            let Some((to, mut envelope)) = sock.st.borrow_mut().rep_envelope.take() else {
                return Err(zerr(zmq::Error::EFSM));
            };
            let peer = sock.st.borrow().peers.iter().find(|p| p.id == to).cloned();
            if let Some(peer) = peer {
                envelope.extend(parts);
                // A full or gone requester loses the reply, as with libzmq.
                put(sock, &peer, Message::multipart(envelope));
            }
            Ok(())
        }
        zmq::ROUTER => {
            if parts.is_empty() {
                return Err(zerr(zmq::Error::EINVAL));
            }
            let routing_id = parts.remove(0);
            let peer = sock.st.borrow().by_routing_id.get(&routing_id).cloned();
            match peer {
                Some(peer) => {
                    if !put(sock, &peer, Message::multipart(parts)) && sock.opts.router_mandatory.get() {
                        return Err(zerr(zmq::Error::EAGAIN));
                    }
                    Ok(())
                }
                None if sock.opts.router_mandatory.get() => Err(zerr(zmq::Error::EHOSTUNREACH)),
                None => Ok(()),
            }
        }
        zmq::PUB | zmq::XPUB => {
            let msg = Message::multipart(parts);
            let topic = msg.get(0).unwrap_or(&[]).to_vec();
            let peers = sock.st.borrow().peers.clone();
            for peer in peers {
                if peer.subs.borrow().matches(&topic) {
                    put(sock, &peer, msg.clone());
                }
            }
            Ok(())
        }
        zmq::XSUB => {
            let sub = parts.first().filter(|_| parts.len() == 1).and_then(|f| {
                f.split_first()
                    .filter(|(t, _)| **t <= 1)
                    .map(|(t, p)| (*t == 1, p.to_vec()))
            });
            let peers = sock.st.borrow().peers.clone();
            match sub {
                Some((subscribe, prefix)) => {
                    let cmd = if subscribe {
                        sock.st.borrow_mut().subscriptions.add(&prefix);
                        Command::Subscribe(Bytes::from(prefix))
                    } else {
                        sock.st.borrow_mut().subscriptions.remove(&prefix);
                        Command::Cancel(Bytes::from(prefix))
                    };
                    for peer in peers {
                        peer.command(&cmd);
                    }
                }
                None => {
                    let msg = Message::multipart(parts);
                    for peer in peers {
                        put(sock, &peer, msg.clone());
                    }
                }
            }
            Ok(())
        }
        _ => Err(zerr(zmq::Error::ENOTSUP)),
    }
}

/// SUB: adds (`true`) or cancels a subscription and tells every peer.
pub(super) fn subscribe(sock: &Shared, prefix: &[u8], on: bool) -> Result<()> {
    if sock.kind != zmq::SUB {
        return Err(zerr(zmq::Error::EINVAL));
    }
    let cmd = if on {
        sock.st.borrow_mut().subscriptions.add(prefix);
        Command::Subscribe(Bytes::copy_from_slice(prefix))
    } else {
        sock.st.borrow_mut().subscriptions.remove(prefix);
        Command::Cancel(Bytes::copy_from_slice(prefix))
    };
    let peers = sock.st.borrow().peers.clone();
    for peer in peers {
        peer.command(&cmd);
    }
    Ok(())
}
