//! The steerable devices: `queue` (ROUTER/DEALER), `forwarder`
//! (XSUB/XPUB) and `streamer` (PULL/PUSH), on `zgreen::zmq::proxy_steerable`.

use zgreen::zmq::{Context, Socket};

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

/// Forwards whole messages between two sockets of either transport until
/// an error or a kill: the device of `--transport native`, on
/// [`zgreen::zmq::native::proxy`] (no control socket, no capture).
#[cfg(feature = "native")]
pub fn forward<A, B>(frontend: &A, backend: &B) -> zgreen::Result<()>
where
    A: zgreen::zmq::native::MessageSocket + Clone + 'static,
    B: zgreen::zmq::native::MessageSocket + Clone + 'static,
{
    zgreen::zmq::native::proxy(frontend, backend)
}
