//! What the clients and the server say to each other.
//!
//! * A client starts a broadcast with the text message
//!   `go <messages> <size> <clients>`: once `clients` WebSockets are
//!   registered, the server sends `messages` binary messages of `size`
//!   bytes to every registered client.
//! * Message `seq` (from 0) is `seq` as 8 little-endian bytes followed by
//!   the bytes `seq + i` (mod 256) at each index `i` from 8 on, so a client
//!   checks that each one arrived intact and in order.
//! * When every send queue is drained, the server sends every client one
//!   text message `stats <json>` ([`ServerStats`]).

use serde_json::{Value, json};

/// The smallest message: it must hold the sequence number.
pub const MIN_SIZE: usize = 8;

/// The text message that starts a broadcast.
pub fn go_message(messages: u64, size: usize, clients: usize) -> String {
    format!("go {messages} {size} {clients}")
}

/// A parsed `go` message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Go {
    /// Messages to send to each client.
    pub messages: u64,
    /// Size of each message in bytes (at least [`MIN_SIZE`]).
    pub size: usize,
    /// Clients to wait for before sending.
    pub clients: usize,
}

impl Go {
    /// Parses `go <messages> <size> <clients>`.
    pub fn parse(text: &str) -> Option<Go> {
        let mut words = text.split_whitespace();
        if words.next()? != "go" {
            return None;
        }
        let go = Go {
            messages: words.next()?.parse().ok()?,
            size: words.next()?.parse().ok()?,
            clients: words.next()?.parse().ok()?,
        };
        (words.next().is_none() && go.size >= MIN_SIZE).then_some(go)
    }
}

/// Fills `buf` with message `seq`.
pub fn fill(seq: u64, buf: &mut [u8]) {
    buf[..8].copy_from_slice(&seq.to_le_bytes());
    for (i, b) in buf.iter_mut().enumerate().skip(8) {
        *b = (seq as u8).wrapping_add(i as u8);
    }
}

/// Message `seq` of `size` bytes.
pub fn message(seq: u64, size: usize) -> Vec<u8> {
    let mut buf = vec![0; size];
    fill(seq, &mut buf);
    buf
}

/// Checks that `got` is message `seq` of `size` bytes; says what is wrong
/// if not.
pub fn check(seq: u64, size: usize, got: &[u8]) -> Result<(), String> {
    if got.len() != size {
        return Err(format!("message {seq}: {} bytes, expected {size}", got.len()));
    }
    let got_seq = u64::from_le_bytes(got[..8].try_into().expect("8 bytes"));
    if got_seq != seq {
        return Err(format!("expected message {seq}, got message {got_seq}"));
    }
    let bad = got
        .iter()
        .enumerate()
        .skip(8)
        .find(|&(i, &b)| b != (seq as u8).wrapping_add(i as u8));
    match bad {
        Some((i, b)) => Err(format!("message {seq}: byte {i} is {b}, corrupted")),
        None => Ok(()),
    }
}

/// The server's account of one broadcast.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServerStats {
    /// Clients registered when the broadcast started.
    pub clients: usize,
    /// Sends that failed (the connection was closed).
    pub send_errors: u64,
    /// Clients disconnected for being too slow (`WsStats::dropped_slow`).
    pub slow_disconnects: u64,
    /// Wall time from the first send until every send queue was drained.
    pub broadcast_s: f64,
    /// Server CPU time (user + system) over the same span.
    pub cpu_s: f64,
    /// Its user part.
    pub user_s: f64,
    /// Its system part.
    pub sys_s: f64,
}

impl ServerStats {
    /// The `stats <json>` text message.
    pub fn to_message(&self) -> String {
        let v = json!({
            "clients": self.clients,
            "send_errors": self.send_errors,
            "slow_disconnects": self.slow_disconnects,
            "broadcast_s": self.broadcast_s,
            "cpu_s": self.cpu_s,
            "user_s": self.user_s,
            "sys_s": self.sys_s,
        });
        format!("stats {v}")
    }

    /// Parses a `stats <json>` text message.
    pub fn parse(text: &str) -> Option<ServerStats> {
        let v: Value = serde_json::from_str(text.strip_prefix("stats ")?).ok()?;
        ServerStats::from_fields(&v, str::to_string)
    }

    /// Reads the stats from the JSON object `v`, where the field `name`
    /// is under the key `key(name)` (the message's own keys are the field
    /// names; a client report prefixes some of them).
    pub fn from_fields(v: &Value, key: impl Fn(&str) -> String) -> Option<ServerStats> {
        let field = |name: &str| &v[key(name)];
        Some(ServerStats {
            clients: field("clients").as_u64()? as usize,
            send_errors: field("send_errors").as_u64()?,
            slow_disconnects: field("slow_disconnects").as_u64()?,
            broadcast_s: field("broadcast_s").as_f64()?,
            cpu_s: field("cpu_s").as_f64()?,
            user_s: field("user_s").as_f64()?,
            sys_s: field("sys_s").as_f64()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        for seq in [0, 1, 255, 256, 1 << 40] {
            let m = message(seq, 64);
            assert_eq!(check(seq, 64, &m), Ok(()));
            assert!(check(seq + 1, 64, &m).is_err());
            let mut bad = m.clone();
            bad[40] ^= 1;
            assert!(check(seq, 64, &bad).is_err());
        }
    }

    #[test]
    fn control_messages_round_trip() {
        let go = Go::parse(&go_message(200, 64, 1000)).unwrap();
        assert_eq!((go.messages, go.size, go.clients), (200, 64, 1000));
        assert_eq!(
            Go::parse("go 1 4 1"),
            None,
            "too small to hold the sequence number"
        );
        let stats = ServerStats {
            clients: 3,
            slow_disconnects: 1,
            cpu_s: 0.5,
            ..ServerStats::default()
        };
        assert_eq!(ServerStats::parse(&stats.to_message()), Some(stats));
    }
}
