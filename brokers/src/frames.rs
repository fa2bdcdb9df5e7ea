//! Frame-level limits and the typed error every parser returns.

use std::fmt;

/// A multipart message as byte vectors, one per frame.
pub type Frames = Vec<Vec<u8>>;

/// Size limits applied to every inbound message before it is parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most frames one message may have (the ROUTER identity frame
    /// included).
    pub max_frames: usize,
    /// Largest frame, in bytes.
    pub max_frame_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frames: 64,
            max_frame_bytes: 1 << 20,
        }
    }
}

impl Limits {
    /// Checks the frame count and every frame's size.
    pub fn check<F: AsRef<[u8]>>(&self, frames: &[F]) -> Result<(), Malformed> {
        if frames.len() > self.max_frames {
            return Err(Malformed::TooManyFrames {
                got: frames.len(),
                max: self.max_frames,
            });
        }
        for (index, f) in frames.iter().enumerate() {
            let bytes = f.as_ref().len();
            if bytes > self.max_frame_bytes {
                return Err(Malformed::FrameTooLarge {
                    index,
                    bytes,
                    max: self.max_frame_bytes,
                });
            }
        }
        Ok(())
    }
}

/// Why an inbound message was rejected. Every way a message can be
/// malformed has its own variant; none of them panics a peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// Fewer frames than the smallest valid message of its kind.
    TooFewFrames {
        /// Frames received.
        got: usize,
        /// The minimum.
        need: usize,
    },
    /// More frames than `--max-frames`.
    TooManyFrames {
        /// Frames received.
        got: usize,
        /// The limit.
        max: usize,
    },
    /// A frame larger than `--max-frame-bytes`.
    FrameTooLarge {
        /// Position of the frame in the message.
        index: usize,
        /// Its size.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// An empty delimiter frame was expected.
    MissingDelimiter {
        /// Position of the frame in the message.
        index: usize,
    },
    /// The protocol header frame is not the expected one.
    WrongHeader {
        /// The header received (lossy UTF-8, at most 32 characters).
        got: String,
    },
    /// A command frame that is not exactly one byte.
    BadCommandFrame {
        /// Its size.
        bytes: usize,
    },
    /// A command byte the protocol does not define.
    UnknownCommand(u8),
    /// A defined command that this side must never receive (a REQUEST
    /// sent to the broker by a worker, for example).
    UnexpectedCommand(&'static str),
    /// A command with the wrong number of frames.
    WrongFrameCount {
        /// The command.
        command: &'static str,
        /// Frames received.
        got: usize,
        /// Frames expected.
        expected: usize,
    },
    /// An empty service name.
    EmptyService,
    /// A service name over 255 bytes.
    ServiceTooLong(usize),
    /// A worker tried to register a reserved `mmi.*` service.
    ReservedService(String),
    /// An empty client address in a worker's REPLY.
    EmptyAddress,
}

impl Malformed {
    /// A short stable name, used as the `reason` label of the dropped
    /// messages counter.
    pub fn reason(&self) -> &'static str {
        match self {
            Malformed::TooFewFrames { .. } => "too_few_frames",
            Malformed::TooManyFrames { .. } => "too_many_frames",
            Malformed::FrameTooLarge { .. } => "frame_too_large",
            Malformed::MissingDelimiter { .. } => "missing_delimiter",
            Malformed::WrongHeader { .. } => "wrong_header",
            Malformed::BadCommandFrame { .. } => "bad_command_frame",
            Malformed::UnknownCommand(_) => "unknown_command",
            Malformed::UnexpectedCommand(_) => "unexpected_command",
            Malformed::WrongFrameCount { .. } => "wrong_frame_count",
            Malformed::EmptyService => "empty_service",
            Malformed::ServiceTooLong(_) => "service_too_long",
            Malformed::ReservedService(_) => "reserved_service",
            Malformed::EmptyAddress => "empty_address",
        }
    }
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::TooFewFrames { got, need } => write!(f, "too few frames: {got}, need at least {need}"),
            Malformed::TooManyFrames { got, max } => write!(f, "too many frames: {got}, at most {max}"),
            Malformed::FrameTooLarge { index, bytes, max } => {
                write!(f, "frame {index} is {bytes} bytes, over the limit of {max}")
            }
            Malformed::MissingDelimiter { index } => write!(f, "frame {index} should be an empty delimiter"),
            Malformed::WrongHeader { got } => write!(f, "wrong protocol header {got:?}"),
            Malformed::BadCommandFrame { bytes } => {
                write!(f, "a command frame must be one byte, this one has {bytes}")
            }
            Malformed::UnknownCommand(b) => write!(f, "unknown command byte 0x{b:02x}"),
            Malformed::UnexpectedCommand(c) => write!(f, "{c} is not valid in this direction"),
            Malformed::WrongFrameCount {
                command,
                got,
                expected,
            } => {
                write!(f, "{command} has {got} frames, expected {expected}")
            }
            Malformed::EmptyService => f.write_str("empty service name"),
            Malformed::ServiceTooLong(n) => write!(f, "service name of {n} bytes (at most 255)"),
            Malformed::ReservedService(s) => write!(f, "workers may not register the reserved service {s:?}"),
            Malformed::EmptyAddress => f.write_str("empty client address"),
        }
    }
}

impl std::error::Error for Malformed {}

/// Lossy, bounded text of a frame, for logs and errors.
pub fn show(frame: &[u8]) -> String {
    let cut = &frame[..frame.len().min(32)];
    let mut s: String = String::from_utf8_lossy(cut)
        .chars()
        .map(|c| if c.is_control() { '.' } else { c })
        .collect();
    if frame.len() > 32 {
        s.push('…');
    }
    s
}

/// Hex of a peer identity (libzmq's generated identities are binary).
pub fn peer_hex(id: &[u8]) -> String {
    id.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn need<F>(frames: &[F], need: usize) -> Result<(), Malformed> {
    if frames.len() < need {
        Err(Malformed::TooFewFrames {
            got: frames.len(),
            need,
        })
    } else {
        Ok(())
    }
}

pub(crate) fn delimiter<F: AsRef<[u8]>>(frames: &[F], index: usize) -> Result<(), Malformed> {
    if frames[index].as_ref().is_empty() {
        Ok(())
    } else {
        Err(Malformed::MissingDelimiter { index })
    }
}

pub(crate) fn header<F: AsRef<[u8]>>(frame: &F, want: &[u8]) -> Result<(), Malformed> {
    if frame.as_ref() == want {
        Ok(())
    } else {
        Err(Malformed::WrongHeader {
            got: show(frame.as_ref()),
        })
    }
}

pub(crate) fn command_byte<F: AsRef<[u8]>>(frame: &F) -> Result<u8, Malformed> {
    match frame.as_ref() {
        [b] => Ok(*b),
        other => Err(Malformed::BadCommandFrame { bytes: other.len() }),
    }
}

pub(crate) fn service_name<F: AsRef<[u8]>>(frame: &F) -> Result<Vec<u8>, Malformed> {
    let s = frame.as_ref();
    if s.is_empty() {
        Err(Malformed::EmptyService)
    } else if s.len() > 255 {
        Err(Malformed::ServiceTooLong(s.len()))
    } else {
        Ok(s.to_vec())
    }
}

/// Checks `limits` and the layout `peer | "" | …` (at least three
/// frames) of what a ROUTER received from a peer that sends a delimiter;
/// returns the peer's identity.
pub(crate) fn router_peer<F: AsRef<[u8]>>(frames: &[F], limits: &Limits) -> Result<Vec<u8>, Malformed> {
    limits.check(frames)?;
    need(frames, 3)?;
    delimiter(frames, 1)?;
    Ok(frames[0].as_ref().to_vec())
}

/// Checks `limits` and the layout `"" | header | …` (at least three
/// frames) of what a DEALER received.
pub(crate) fn dealer_header<F: AsRef<[u8]>>(
    frames: &[F],
    limits: &Limits,
    want: &[u8],
) -> Result<(), Malformed> {
    limits.check(frames)?;
    need(frames, 3)?;
    delimiter(frames, 0)?;
    header(&frames[1], want)
}

/// The envelope `client | "" | body…` from frame `at` on: a non-empty
/// client address, an empty delimiter, then the body (the caller checks
/// first that there are frames enough for the body it needs). Returns the
/// address and the body.
pub(crate) fn envelope<F: AsRef<[u8]>>(frames: &[F], at: usize) -> Result<(Vec<u8>, Frames), Malformed> {
    need(frames, at + 2)?;
    if frames[at].as_ref().is_empty() {
        return Err(Malformed::EmptyAddress);
    }
    delimiter(frames, at + 1)?;
    Ok((frames[at].as_ref().to_vec(), to_vecs(&frames[at + 2..])))
}

pub(crate) fn to_vecs<F: AsRef<[u8]>>(frames: &[F]) -> Frames {
    frames.iter().map(|f| f.as_ref().to_vec()).collect()
}
