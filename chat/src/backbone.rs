//! The ZeroMQ backbone: publishing this server's messages, taking the
//! other servers' (checked like local ones), their heartbeats, and the
//! XSUB/XPUB forwarder between them.

use super::*;

impl Chat {
    /// Joins the backbone: publishes to the forwarder's frontend
    /// (`pub_endpoint`, its XSUB side) and subscribes to its backend
    /// (`sub_endpoint`, its XPUB side). Runs a receiver and a heartbeat
    /// greenlet for as long as the process lives.
    pub fn connect_backbone(
        &self,
        ctx: &Context,
        pub_endpoint: &str,
        sub_endpoint: &str,
    ) -> zgreen::Result<()> {
        let publisher = ctx.socket(zmq::PUB)?;
        publisher.raw().set_sndhwm(10_000)?;
        publisher.connect(pub_endpoint)?;
        let subscriber = ctx.socket(zmq::SUB)?;
        subscriber.subscribe("")?;
        subscriber.connect(sub_endpoint)?;
        *self.inner.publisher.borrow_mut() = Some(publisher);

        let chat = self.clone();
        zgreen::spawn(move || {
            while let Ok(frames) = subscriber.recv_multipart(0) {
                chat.on_backbone(&frames);
            }
        });
        let chat = self.clone();
        zgreen::spawn(move || {
            loop {
                chat.publish(&[b"hb", chat.inner.config.server_id.as_bytes()]);
                if zgreen::sleep(HEARTBEAT).is_err() {
                    return;
                }
            }
        });
        Ok(())
    }

    pub(super) fn publish(&self, frames: &[&[u8]]) {
        if let Some(p) = self.inner.publisher.borrow().as_ref() {
            // PUB never blocks: past its high-water mark it drops.
            if let Err(e) = p.send_multipart(frames.iter().copied(), zmq::DONTWAIT) {
                tracing::debug!("zchat: cannot publish: {e}");
            }
        }
    }

    /// The longest backbone message body worth parsing: a message of
    /// [`Config::max_message_bytes`] whose every byte JSON escapes as
    /// `\u00XX`, and room for the other fields.
    pub(super) fn max_backbone_body(&self) -> usize {
        self.inner.config.max_message_bytes.saturating_mul(6) + 1024
    }

    pub(super) fn on_backbone(&self, frames: &[Vec<u8>]) {
        let me = self.inner.config.server_id.as_bytes();
        match frames {
            [kind, id] if kind == b"hb" => {
                if id != me {
                    self.heard(id);
                }
            }
            [kind, body] if kind == b"msg" => {
                if body.len() > self.max_backbone_body() {
                    self.count(|s| s.rejected += 1);
                    return;
                }
                match serde_json::from_slice::<ChatMessage>(body) {
                    Ok(msg) if msg.server.as_bytes() != me => {
                        if self.valid_remote(&msg) {
                            self.count(|s| s.remote += 1);
                            self.deliver(Rc::new(msg));
                        } else {
                            self.count(|s| s.rejected += 1);
                        }
                    }
                    Ok(_) => {} // our own, already delivered
                    Err(_) => self.count(|s| s.malformed += 1),
                }
            }
            _ => self.count(|s| s.malformed += 1),
        }
    }

    /// Notes a heartbeat of peer `id` (if it is a valid name, and either
    /// known or there is room for it).
    pub(super) fn heard(&self, id: &[u8]) {
        let Some(id) = std::str::from_utf8(id).ok().filter(|id| valid_server_id(id)) else {
            self.count(|s| s.rejected += 1);
            return;
        };
        let mut peers = self.inner.peers.borrow_mut();
        if !peers.contains_key(id) && peers.len() >= MAX_PEERS {
            peers.retain(|_, seen| seen.elapsed() < PEER_EXPIRY);
            if peers.len() >= MAX_PEERS {
                drop(peers);
                self.count(|s| s.rejected += 1);
                return;
            }
        }
        peers.insert(id.to_string(), Instant::now());
    }

    /// Whether a message from another server passes the checks of a
    /// local put: a room of ours, valid names, a text of at most
    /// [`Config::max_message_bytes`], nonempty and trimmed.
    pub(super) fn valid_remote(&self, msg: &ChatMessage) -> bool {
        self.inner.rooms.borrow().contains_key(&msg.room)
            && valid_uid(&msg.uid)
            && valid_server_id(&msg.server)
            && self.check_text(&msg.text) == Ok(msg.text.as_str())
    }

    /// The other servers heard from lately.
    pub fn peers(&self) -> Vec<String> {
        let mut peers = self.inner.peers.borrow_mut();
        peers.retain(|_, seen| seen.elapsed() < PEER_EXPIRY);
        peers.keys().cloned().collect()
    }
}

/// Binds an XSUB/XPUB forwarder (the backbone's hub, like `zbroker
/// forwarder`: servers publish to `frontend` and subscribe to `backend`)
/// and runs it in a greenlet, which ends only on an error or a kill.
pub fn forwarder(
    ctx: &Context,
    frontend: &str,
    backend: &str,
) -> zgreen::Result<Greenlet<zgreen::Result<()>>> {
    let xsub = ctx.socket(zmq::XSUB)?;
    xsub.bind(frontend)?;
    let xpub = ctx.socket(zmq::XPUB)?;
    xpub.bind(backend)?;
    Ok(zgreen::spawn(move || zgreen::zmq::proxy(&xsub, &xpub, None)))
}
