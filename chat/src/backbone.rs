//! The ZeroMQ backbone: publishing this server's messages, taking the
//! other servers' (checked like local ones), their heartbeats, and the
//! XSUB/XPUB forwarder between them.

use super::*;

/// Messages waiting for the backbone publisher (beyond: dropped, as a
/// PUB socket drops past its high-water mark).
const PUBLISH_QUEUE: usize = 1024;

impl Chat {
    /// Joins the backbone: publishes to the forwarder's frontend
    /// (`pub_endpoint`, its XSUB side) and subscribes to its backend
    /// (`sub_endpoint`, its XPUB side). Runs a receiver and a publisher
    /// greenlet (which also sends the heartbeats) on the calling hub for
    /// as long as the process lives; puts on any hub reach the publisher
    /// through a bounded [`chan`] channel.
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
        let (tx, rx) = chan::bounded::<Vec<u8>>(PUBLISH_QUEUE);
        *lock(&self.inner.publisher) = Some(tx);

        let chat = self.clone();
        zgreen::spawn(move || {
            while let Ok(frames) = subscriber.recv_multipart(0) {
                chat.on_backbone(&frames);
            }
        });
        let id = self.inner.config.server_id.clone();
        zgreen::spawn(move || {
            let send = |frames: [&[u8]; 2]| {
                // PUB never blocks: past its high-water mark it drops.
                if let Err(e) = publisher.send_multipart(frames, zmq::DONTWAIT) {
                    tracing::debug!("zchat: cannot publish: {e}");
                }
            };
            let mut heartbeat = Instant::now();
            loop {
                if Instant::now() >= heartbeat {
                    send([b"hb", id.as_bytes()]);
                    heartbeat = Instant::now() + HEARTBEAT;
                }
                match rx.recv_deadline(heartbeat) {
                    Ok(body) => send([b"msg", &body]),
                    Err(e) if e.is_timeout() => {}
                    Err(_) => return,
                }
            }
        });
        Ok(())
    }

    /// Hands a message's JSON to the backbone publisher, if there is one.
    pub(super) fn publish(&self, body: Vec<u8>) {
        if let Some(p) = lock(&self.inner.publisher).as_ref() {
            if p.try_send(body).is_err() {
                tracing::debug!("zchat: the backbone publisher is behind: a message was not published");
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
                    heard(&mut self.state(), id);
                }
            }
            [kind, body] if kind == b"msg" => {
                if body.len() > self.max_backbone_body() {
                    self.state().stats.rejected += 1;
                    return;
                }
                match serde_json::from_slice::<ChatMessage>(body) {
                    Ok(msg) if msg.server.as_bytes() != me => {
                        let valid = valid_uid(&msg.uid)
                            && valid_server_id(&msg.server)
                            && self.check_text(&msg.text) == Ok(msg.text.as_str());
                        let mut st = self.state();
                        if valid && st.rooms.contains_key(&msg.room) {
                            st.stats.remote += 1;
                            self.deliver(&mut st, Arc::new(msg));
                        } else {
                            st.stats.rejected += 1;
                        }
                    }
                    Ok(_) => {} // our own, already delivered
                    Err(_) => self.state().stats.malformed += 1,
                }
            }
            _ => self.state().stats.malformed += 1,
        }
    }

    /// The other servers heard from lately.
    pub fn peers(&self) -> Vec<String> {
        live_peers(&mut self.state())
    }
}

/// Notes a heartbeat of peer `id` (if it is a valid name, and either
/// known or there is room for it).
fn heard(st: &mut State, id: &[u8]) {
    let Some(id) = std::str::from_utf8(id).ok().filter(|id| valid_server_id(id)) else {
        st.stats.rejected += 1;
        return;
    };
    if !st.peers.contains_key(id) && st.peers.len() >= MAX_PEERS {
        st.peers.retain(|_, seen| seen.elapsed() < PEER_EXPIRY);
        if st.peers.len() >= MAX_PEERS {
            st.stats.rejected += 1;
            return;
        }
    }
    st.peers.insert(id.to_string(), Instant::now());
}

/// The peers heard from within [`PEER_EXPIRY`] (the others are forgotten).
pub(super) fn live_peers(st: &mut State) -> Vec<String> {
    st.peers.retain(|_, seen| seen.elapsed() < PEER_EXPIRY);
    st.peers.keys().cloned().collect()
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
