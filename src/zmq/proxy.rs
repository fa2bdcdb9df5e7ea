//! `proxy` and the steerable proxy, as green loops (libzmq's `zmq_proxy`
//! and `zmq_proxy_steerable`).

use super::{Poller, Socket};
use crate::error::{Result, TryRecvError};

/// Messages forwarded per side before the other side gets a turn.
const BATCH: usize = 256;

/// Frames up to this size are forwarded by copy rather than zero-copy.
const COPY_MAX: usize = 8 * 1024;

/// The eight counters of a steerable proxy's `STATISTICS` reply, in
/// libzmq's order. Counts are of message frames, as in libzmq.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Frames received from the frontend.
    pub frontend_msgs_in: u64,
    /// Bytes received from the frontend.
    pub frontend_bytes_in: u64,
    /// Frames sent to the frontend.
    pub frontend_msgs_out: u64,
    /// Bytes sent to the frontend.
    pub frontend_bytes_out: u64,
    /// Frames received from the backend.
    pub backend_msgs_in: u64,
    /// Bytes received from the backend.
    pub backend_bytes_in: u64,
    /// Frames sent to the backend.
    pub backend_msgs_out: u64,
    /// Bytes sent to the backend.
    pub backend_bytes_out: u64,
}

impl ProxyStats {
    /// The counters as the eight frames of a `STATISTICS` reply
    /// (native-endian `u64`, as libzmq sends them).
    pub fn to_frames(&self) -> [[u8; 8]; 8] {
        [
            self.frontend_msgs_in,
            self.frontend_bytes_in,
            self.frontend_msgs_out,
            self.frontend_bytes_out,
            self.backend_msgs_in,
            self.backend_bytes_in,
            self.backend_msgs_out,
            self.backend_bytes_out,
        ]
        .map(u64::to_ne_bytes)
    }

    /// Parses a `STATISTICS` reply; `None` unless it is eight 8-byte frames.
    pub fn from_frames(frames: &[Vec<u8>]) -> Option<ProxyStats> {
        if frames.len() != 8 {
            return None;
        }
        let mut v = [0u64; 8];
        for (slot, f) in v.iter_mut().zip(frames) {
            *slot = u64::from_ne_bytes(f.as_slice().try_into().ok()?);
        }
        Some(ProxyStats {
            frontend_msgs_in: v[0],
            frontend_bytes_in: v[1],
            frontend_msgs_out: v[2],
            frontend_bytes_out: v[3],
            backend_msgs_in: v[4],
            backend_bytes_in: v[5],
            backend_msgs_out: v[6],
            backend_bytes_out: v[7],
        })
    }
}

/// Forwards messages both ways between `frontend` and `backend` until an
/// error (a kill, an enclosing `Timeout`, a closed context), copying each
/// frame to `capture` if given. Run it in its own greenlet.
pub fn proxy(frontend: &Socket, backend: &Socket, capture: Option<&Socket>) -> Result<()> {
    run(frontend, backend, capture, None).map(|_| ())
}

/// A proxy steered through `control`: `PAUSE` stops forwarding, `RESUME`
/// restarts it, `STATISTICS` replies on `control` with the eight counters,
/// `TERMINATE` returns the final counters. Unknown commands are logged and
/// ignored.
pub fn proxy_steerable(
    frontend: &Socket,
    backend: &Socket,
    capture: Option<&Socket>,
    control: &Socket,
) -> Result<ProxyStats> {
    run(frontend, backend, capture, Some(control))
}

fn run(
    frontend: &Socket,
    backend: &Socket,
    capture: Option<&Socket>,
    control: Option<&Socket>,
) -> Result<ProxyStats> {
    let mut stats = ProxyStats::default();
    let mut paused = false;
    loop {
        let mut progressed = false;
        if let Some(ctl) = control {
            while let Some(cmd) = TryRecvError::optional(ctl.try_recv_msg(0))? {
                // Drop any further frames of a malformed multipart command.
                let mut more = cmd.get_more();
                while more {
                    more = ctl.recv_msg(0)?.get_more();
                }
                match &cmd[..] {
                    b"PAUSE" => paused = true,
                    b"RESUME" => paused = false,
                    b"TERMINATE" => return Ok(stats),
                    b"STATISTICS" => ctl.send_multipart(stats.to_frames(), 0)?,
                    other => tracing::warn!(
                        "zgreen proxy: ignoring unknown control command {:?}",
                        String::from_utf8_lossy(other)
                    ),
                }
                progressed = true;
            }
        }
        if !paused {
            // One batch each way, where the receiving side has something
            // and the sending side has room.
            let pump = |from: &Socket, to: &Socket| {
                if from.can_recv() && to.can_send() {
                    forward(from, to, capture)
                } else {
                    Ok(((0, 0), (0, 0)))
                }
            };
            let (fin, fout) = pump(frontend, backend)?;
            stats.frontend_msgs_in += fin.0;
            stats.frontend_bytes_in += fin.1;
            stats.backend_msgs_out += fout.0;
            stats.backend_bytes_out += fout.1;
            let (bin, bout) = pump(backend, frontend)?;
            stats.backend_msgs_in += bin.0;
            stats.backend_bytes_in += bin.1;
            stats.frontend_msgs_out += bout.0;
            stats.frontend_bytes_out += bout.1;
            progressed |= fin.0 + bin.0 > 0;
        }
        if !progressed {
            let mut poller = Poller::new();
            if !paused {
                if frontend.can_recv() && backend.can_send() {
                    poller.add_socket(frontend, zmq::POLLIN);
                }
                if backend.can_recv() && frontend.can_send() {
                    poller.add_socket(backend, zmq::POLLIN);
                }
            }
            if let Some(ctl) = control {
                poller.add_socket(ctl, zmq::POLLIN);
            }
            poller.poll(None)?;
        }
    }
}

/// Moves up to `BATCH` whole messages from `src` to `dst`; returns
/// (frames, bytes) received and (frames, bytes) sent.
fn forward(src: &Socket, dst: &Socket, capture: Option<&Socket>) -> Result<((u64, u64), (u64, u64))> {
    if capture.is_none() {
        if let Some(moved) = super::socket::forward_messages(src, dst, BATCH)? {
            return Ok((moved, moved));
        }
    }
    let (mut frames, mut bytes) = (0u64, 0u64);
    for _ in 0..BATCH {
        let Some(mut msg) = TryRecvError::optional(src.try_recv_msg(0))? else {
            break;
        };
        loop {
            let more = msg.get_more();
            let len = msg.len() as u64;
            frames += 1;
            bytes += len;
            let flags = if more { zmq::SNDMORE } else { 0 };
            if let Some(cap) = capture {
                cap.send(&msg[..], flags)?;
            }
            // Small frames are copied: `send_msg` must read ZMQ_EVENTS
            // (a syscall in libzmq 4.3) before every frame to keep the
            // message safe from EAGAIN, which costs more than the copy.
            if msg.len() <= COPY_MAX {
                dst.send(&msg[..], flags)?;
            } else {
                dst.send_msg(msg, flags)?;
            }
            if !more {
                break;
            }
            // The rest of a message is already here (atomic delivery).
            msg = src.recv_msg(0)?;
        }
    }
    Ok(((frames, bytes), (frames, bytes)))
}
