//! The steerable devices: `queue` (ROUTER/DEALER), `forwarder`
//! (XSUB/XPUB) and `streamer` (PULL/PUSH), on `zgreen::zmq::proxy_steerable`.

use zgreen::zmq::{Context, Poller, ProxyStats, Socket};

/// Which device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    /// ROUTER frontend, DEALER backend.
    Queue,
    /// XSUB frontend, XPUB backend.
    Forwarder,
    /// PULL frontend, PUSH backend.
    Streamer,
}

impl Device {
    /// (frontend, backend) socket types.
    pub fn kinds(self) -> (zmq::SocketType, zmq::SocketType) {
        match self {
            Device::Queue => (zmq::ROUTER, zmq::DEALER),
            Device::Forwarder => (zmq::XSUB, zmq::XPUB),
            Device::Streamer => (zmq::PULL, zmq::PUSH),
        }
    }
}

/// The bound sockets of a device.
#[derive(Debug)]
pub struct DeviceSockets {
    /// Frontend.
    pub frontend: Socket,
    /// Backend.
    pub backend: Socket,
    /// PAIR control socket (`PAUSE`, `RESUME`, `TERMINATE`, `STATISTICS`).
    pub control: Option<Socket>,
    /// PUB socket receiving a copy of every frame.
    pub capture: Option<Socket>,
}

/// Runs the device until `TERMINATE`, an error or a kill.
pub fn run(s: &DeviceSockets, ctx: &Context) -> zgreen::Result<()> {
    if s.backend.kind() == zmq::PUSH {
        // zgreen's proxy also tries to receive on the backend, which a
        // PUSH socket refuses (ENOTSUP): the pipeline runs its own
        // one-way loop.
        let stats = one_way(s)?;
        tracing::info!(?stats, "device terminated");
        return Ok(());
    }
    match &s.control {
        Some(ctl) => {
            let stats = zgreen::zmq::proxy_steerable(&s.frontend, &s.backend, s.capture.as_ref(), ctl)?;
            tracing::info!(?stats, "device terminated");
            Ok(())
        }
        None => {
            let _ = ctx;
            zgreen::zmq::proxy(&s.frontend, &s.backend, s.capture.as_ref())
        }
    }
}

/// A steerable one-way proxy (frontend → backend), for PULL/PUSH.
fn one_way(s: &DeviceSockets) -> zgreen::Result<ProxyStats> {
    let mut stats = ProxyStats::default();
    let mut paused = false;
    loop {
        let mut poller = Poller::new();
        let fi = (!paused).then(|| poller.add_socket(&s.frontend, zmq::POLLIN));
        let ci = s.control.as_ref().map(|c| poller.add_socket(c, zmq::POLLIN));
        poller.poll(None)?;
        if let (Some(ci), Some(ctl)) = (ci, s.control.as_ref()) {
            if poller.revents(ci).contains(zmq::POLLIN) {
                let cmd = ctl.recv_multipart(0)?;
                match cmd.first().map(|c| &c[..]) {
                    Some(b"PAUSE") => paused = true,
                    Some(b"RESUME") => paused = false,
                    Some(b"TERMINATE") => return Ok(stats),
                    Some(b"STATISTICS") => ctl.send_multipart(stats.to_frames(), 0)?,
                    _ => tracing::warn!("ignoring unknown control command"),
                }
            }
        }
        if fi.is_some_and(|i| poller.revents(i).contains(zmq::POLLIN)) {
            for _ in 0..256 {
                let Some(mut msg) = s.frontend.try_recv_msg(0)? else {
                    break;
                };
                loop {
                    let more = msg.get_more();
                    let len = msg.len() as u64;
                    stats.frontend_msgs_in += 1;
                    stats.frontend_bytes_in += len;
                    let flags = if more { zmq::SNDMORE } else { 0 };
                    if let Some(cap) = &s.capture {
                        cap.send(&msg[..], flags)?;
                    }
                    s.backend.send_msg(msg, flags)?;
                    stats.backend_msgs_out += 1;
                    stats.backend_bytes_out += len;
                    if !more {
                        break;
                    }
                    msg = s.frontend.recv_msg(0)?;
                }
            }
        }
    }
}
