//! The journal's records and their framing.
//!
//! A journal file is the 8-byte magic [`MAGIC`] followed by records. Each
//! record is framed as
//!
//! ```text
//! len: u32 LE | crc: u32 LE | payload: len bytes
//! ```
//!
//! where `crc` is the CRC-32 (IEEE, [`crc32fast`]) of the payload. The
//! payload is `kind: u8 | uuid: 16 bytes | body`:
//!
//! | kind | body |
//! |---|---|
//! | `1` REQUEST | frames: the service name, then the request body |
//! | `2` REPLY | frames: the reply body |
//! | `3` CLOSE | empty |
//!
//! Frames are encoded as `count: u32 LE`, then for each frame
//! `len: u32 LE | bytes`. A record that is cut short, whose CRC does not
//! match, or whose payload does not decode exactly is *torn*: recovery
//! stops there ([`decode_next`] says why) and never returns a record it
//! could not read whole.

use uuid::Uuid;

use crate::frames::Frames;

/// The first 8 bytes of every journal file (format version 1).
pub const MAGIC: &[u8; 8] = b"ZGTITAN1";

/// Bytes of a record's frame header (length and CRC).
pub const HEADER_BYTES: usize = 8;

const REQUEST: u8 = 1;
const REPLY: u8 = 2;
const CLOSE: u8 = 3;

/// One journal record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// A request was accepted: its service and body.
    Request {
        /// The request's id, as the client got it.
        uuid: Uuid,
        /// The MDP service to send it to.
        service: Vec<u8>,
        /// The request body frames.
        body: Frames,
    },
    /// The service answered the request.
    Reply {
        /// The request's id.
        uuid: Uuid,
        /// The reply body frames.
        body: Frames,
    },
    /// The client closed the request: it may be forgotten.
    Close {
        /// The request's id.
        uuid: Uuid,
    },
}

impl Record {
    /// The id the record is about.
    pub fn uuid(&self) -> Uuid {
        match self {
            Record::Request { uuid, .. } | Record::Reply { uuid, .. } | Record::Close { uuid } => *uuid,
        }
    }

    /// Appends the framed record (header and payload) to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0; HEADER_BYTES]);
        let (kind, uuid) = match self {
            Record::Request { uuid, .. } => (REQUEST, uuid),
            Record::Reply { uuid, .. } => (REPLY, uuid),
            Record::Close { uuid } => (CLOSE, uuid),
        };
        out.push(kind);
        out.extend_from_slice(uuid.as_bytes());
        match self {
            Record::Request { service, body, .. } => {
                put_u32(out, body.len() + 1);
                put_frame(out, service);
                body.iter().for_each(|f| put_frame(out, f));
            }
            Record::Reply { body, .. } => {
                put_u32(out, body.len());
                body.iter().for_each(|f| put_frame(out, f));
            }
            Record::Close { .. } => {}
        }
        let payload = &out[start + HEADER_BYTES..];
        let len = (payload.len() as u32).to_le_bytes();
        let crc = crc32fast::hash(payload).to_le_bytes();
        out[start..start + 4].copy_from_slice(&len);
        out[start + 4..start + 8].copy_from_slice(&crc);
    }

    /// The framed record as bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }
}

fn put_u32(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u32).to_le_bytes());
}

fn put_frame(out: &mut Vec<u8>, f: &[u8]) {
    put_u32(out, f.len());
    out.extend_from_slice(f);
}

/// Why the bytes at an offset are not a whole record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Torn {
    /// Fewer bytes than a record header.
    ShortHeader,
    /// The header announces more bytes than the file has.
    ShortPayload,
    /// The payload's CRC-32 does not match the header's.
    BadCrc,
    /// The CRC matches but the payload does not decode (unknown kind,
    /// frame lengths that do not add up).
    BadPayload,
}

impl std::fmt::Display for Torn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Torn::ShortHeader => "a record header cut short",
            Torn::ShortPayload => "a record cut short",
            Torn::BadCrc => "a record whose CRC-32 does not match",
            Torn::BadPayload => "a record whose payload does not decode",
        })
    }
}

/// Decodes the record at the start of `bytes`: the record and the bytes
/// it took, or why it is torn. Never panics and never allocates more than
/// `bytes` holds.
pub fn decode_next(bytes: &[u8]) -> Result<(Record, usize), Torn> {
    if bytes.len() < HEADER_BYTES {
        return Err(Torn::ShortHeader);
    }
    let len = u32::from_le_bytes(bytes[0..4].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(bytes[4..8].try_into().expect("4 bytes"));
    let Some(payload) = bytes.get(HEADER_BYTES..HEADER_BYTES.saturating_add(len)) else {
        return Err(Torn::ShortPayload);
    };
    if crc32fast::hash(payload) != crc {
        return Err(Torn::BadCrc);
    }
    let record = decode_payload(payload).ok_or(Torn::BadPayload)?;
    Ok((record, HEADER_BYTES + len))
}

fn decode_payload(p: &[u8]) -> Option<Record> {
    let (&kind, rest) = p.split_first()?;
    let uuid = Uuid::from_bytes(rest.get(..16)?.try_into().ok()?);
    let rest = &rest[16..];
    match kind {
        REQUEST => {
            let mut frames = decode_frames(rest)?;
            if frames.is_empty() {
                return None;
            }
            let service = frames.remove(0);
            Some(Record::Request {
                uuid,
                service,
                body: frames,
            })
        }
        REPLY => Some(Record::Reply {
            uuid,
            body: decode_frames(rest)?,
        }),
        CLOSE if rest.is_empty() => Some(Record::Close { uuid }),
        _ => None,
    }
}

fn take_u32(p: &mut &[u8]) -> Option<usize> {
    let (head, rest) = p.split_at_checked(4)?;
    *p = rest;
    Some(u32::from_le_bytes(head.try_into().ok()?) as usize)
}

fn decode_frames(mut p: &[u8]) -> Option<Frames> {
    let count = take_u32(&mut p)?;
    // Each frame takes at least 4 bytes: a count beyond that is a lie.
    if count > p.len() / 4 + 1 {
        return None;
    }
    let mut frames = Vec::with_capacity(count);
    for _ in 0..count {
        let len = take_u32(&mut p)?;
        let (f, rest) = p.split_at_checked(len)?;
        frames.push(f.to_vec());
        p = rest;
    }
    p.is_empty().then_some(frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Record> {
        let uuid = Uuid::from_u128(0x1234);
        vec![
            Record::Request {
                uuid,
                service: b"echo".to_vec(),
                body: vec![b"a".to_vec(), vec![], b"ccc".to_vec()],
            },
            Record::Reply {
                uuid,
                body: vec![b"reply".to_vec()],
            },
            Record::Reply { uuid, body: vec![] },
            Record::Close { uuid },
        ]
    }

    #[test]
    fn records_round_trip() {
        for r in samples() {
            let bytes = r.encode();
            assert_eq!(decode_next(&bytes), Ok((r, bytes.len())));
        }
    }

    #[test]
    fn every_cut_of_a_record_is_torn() {
        for r in samples() {
            let bytes = r.encode();
            for cut in 0..bytes.len() {
                assert!(decode_next(&bytes[..cut]).is_err(), "cut at {cut} of {r:?}");
            }
        }
    }

    #[test]
    fn a_flipped_bit_is_detected() {
        let bytes = samples()[0].encode();
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                match decode_next(&b) {
                    Err(_) => {}
                    // A flipped length bit can only make the record longer
                    // than the buffer or shorter with a bad CRC.
                    Ok(x) => panic!("flip at {i}.{bit} decoded as {x:?}"),
                }
            }
        }
    }
}
