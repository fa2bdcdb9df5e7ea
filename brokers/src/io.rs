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

/// A socket the MDP broker can run on: a green libzmq socket, or (feature
/// `native`) a native ZMTP one.
pub trait BrokerSocket {
    /// [`recv_bounded`] on this socket.
    fn recv_bounded(&self, limits: &Limits, timeout: Option<Duration>) -> zgreen::Result<Option<Inbound>>;
    /// [`send_nowait`] on this socket.
    fn send_nowait(&self, frames: Frames) -> zgreen::Result<Result<(), SendFailure>>;
}

impl BrokerSocket for Socket {
    fn recv_bounded(&self, limits: &Limits, timeout: Option<Duration>) -> zgreen::Result<Option<Inbound>> {
        recv_bounded(self, limits, timeout)
    }

    fn send_nowait(&self, frames: Frames) -> zgreen::Result<Result<(), SendFailure>> {
        send_nowait(self, frames)
    }
}

/// A native socket receives whole messages; MAXMSGSIZE (set from the
/// limits by the caller) refuses oversized ones at the frame header, and
/// the limits are checked here on what was received. Native sockets carry
/// no ZAP user id.
#[cfg(feature = "native")]
impl BrokerSocket for zgreen::zmq::native::Socket {
    fn recv_bounded(&self, limits: &Limits, timeout: Option<Duration>) -> zgreen::Result<Option<Inbound>> {
        let got = match timeout {
            Some(t) => self.recv_multipart_timeout(0, t),
            None => self.recv_multipart(0),
        };
        let mut frames = match got {
            Ok(frames) => frames,
            Err(zgreen::Error::Timeout(t)) if t.id == 0 => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut error = None;
        if let Some((index, f)) = frames
            .iter()
            .enumerate()
            .find(|(_, f)| f.len() > limits.max_frame_bytes)
        {
            error = Some(Malformed::FrameTooLarge {
                index,
                bytes: f.len(),
                max: limits.max_frame_bytes,
            });
        } else if frames.len() > limits.max_frames {
            error = Some(Malformed::TooManyFrames {
                got: frames.len(),
                max: limits.max_frames,
            });
        }
        if error.is_some() {
            frames.truncate(limits.max_frames);
            for f in &mut frames {
                if f.len() > limits.max_frame_bytes {
                    *f = Vec::new();
                }
            }
        }
        Ok(Some(Inbound {
            frames,
            error,
            user_id: None,
        }))
    }

    fn send_nowait(&self, frames: Frames) -> zgreen::Result<Result<(), SendFailure>> {
        match zgreen::zmq::native::Socket::send_multipart(self, &frames, zmq::DONTWAIT) {
            Ok(()) => Ok(Ok(())),
            Err(zgreen::Error::Zmq(zmq::Error::EHOSTUNREACH)) => Ok(Err(SendFailure::Unroutable(frames))),
            Err(zgreen::Error::Zmq(zmq::Error::EAGAIN)) => Ok(Err(SendFailure::Full(frames))),
            Err(e) => Err(e),
        }
    }
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
