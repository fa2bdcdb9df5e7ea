//! Receiving and sending whole messages on green sockets, with limits.

use std::time::Duration;

use zgreen::zmq::Socket;

use crate::frames::{Frames, Limits, Malformed};

/// A message received under [`Limits`].
#[derive(Debug)]
pub struct Inbound {
    /// The frames kept: all of them, unless the message broke a limit
    /// (then at most `max_frames`, and oversized frames are left empty).
    pub frames: Frames,
    /// The first limit the message broke, if any.
    pub error: Option<Malformed>,
    /// The peer's ZAP user id (`User-Id` metadata: the Z85 key of a CURVE
    /// peer, the user name of a PLAIN one), when it has one.
    pub user_id: Option<String>,
}

impl Inbound {
    /// The first frame (the peer identity on a ROUTER), or empty.
    pub fn peer(&self) -> &[u8] {
        self.frames.first().map(|f| &f[..]).unwrap_or(&[])
    }
}

/// Receives one whole message, waiting at most `timeout` (`None`: no
/// limit) for its first frame; `Ok(None)` on timeout.
///
/// Memory stays bounded by the limits: frames past `max_frames` are read
/// and discarded, and an oversized frame is not copied.
pub fn recv_bounded(
    sock: &Socket,
    limits: &Limits,
    timeout: Option<Duration>,
) -> zgreen::Result<Option<Inbound>> {
    let mut msg = zmq::Message::new();
    let first = match timeout {
        Some(t) => sock.recv_timeout(&mut msg, 0, t),
        None => sock.recv(&mut msg, 0),
    };
    match first {
        Ok(()) => {}
        Err(zgreen::Error::Timeout(t)) if t.id == 0 => return Ok(None),
        Err(e) => return Err(e),
    }
    let user_id = msg.gets("User-Id").filter(|u| !u.is_empty()).map(str::to_string);
    let mut frames = Vec::new();
    let mut error = None;
    let mut index = 0usize;
    loop {
        let more = msg.get_more();
        if msg.len() > limits.max_frame_bytes {
            error.get_or_insert(Malformed::FrameTooLarge {
                index,
                bytes: msg.len(),
                max: limits.max_frame_bytes,
            });
            if frames.len() < limits.max_frames {
                frames.push(Vec::new());
            }
        } else if frames.len() < limits.max_frames {
            frames.push(msg.to_vec());
        }
        index += 1;
        if !more {
            break;
        }
        // The rest of a message is already here (atomic delivery).
        sock.recv(&mut msg, 0)?;
    }
    if index > limits.max_frames && !matches!(error, Some(Malformed::FrameTooLarge { .. })) {
        error = Some(Malformed::TooManyFrames {
            got: index,
            max: limits.max_frames,
        });
    }
    Ok(Some(Inbound {
        frames,
        error,
        user_id,
    }))
}

/// Why a message could not be handed to libzmq.
#[derive(Debug)]
pub enum SendFailure {
    /// The destination peer is not connected (ROUTER_MANDATORY).
    Unroutable(Frames),
    /// The peer's queue is full (high-water mark): the message was not
    /// sent.
    Full(Frames),
}

/// Sends a whole message without ever parking: on a ROUTER with
/// `ROUTER_MANDATORY` an unknown peer gives back the message.
pub fn send_nowait(sock: &Socket, frames: Frames) -> zgreen::Result<Result<(), SendFailure>> {
    match sock.send_multipart(&frames, zmq::DONTWAIT) {
        Ok(()) => Ok(Ok(())),
        Err(zgreen::Error::Zmq(zmq::Error::EHOSTUNREACH)) => Ok(Err(SendFailure::Unroutable(frames))),
        Err(zgreen::Error::Zmq(zmq::Error::EAGAIN)) => Ok(Err(SendFailure::Full(frames))),
        Err(e) => Err(e),
    }
}
