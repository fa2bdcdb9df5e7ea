//! Socket monitor events as a green stream (`zmq_socket_monitor`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::Socket;
use crate::error::{Error, Result, TryRecvError};

/// One socket monitor event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonitorEvent {
    /// What happened.
    pub event: zmq::SocketEvent,
    /// The event's value: a file descriptor, an errno, a retry interval
    /// or a handshake error code, depending on the event.
    pub value: u32,
    /// This socket's address of the connection (or the listening
    /// address). Without the `draft` feature: the one address libzmq's
    /// version-1 events name (see [`endpoint`](Self::endpoint)).
    pub local: String,
    /// The peer's address, empty for events of a listener (`LISTENING`,
    /// `BIND_FAILED`, `CLOSED`, ...).
    pub remote: String,
}

impl MonitorEvent {
    /// The address the event concerns: the peer's if there is one, else
    /// this socket's (a connecting socket's events name the endpoint it
    /// connects to, a listener's its bound address).
    pub fn endpoint(&self) -> &str {
        if self.remote.is_empty() {
            &self.local
        } else {
            &self.remote
        }
    }
}

/// The receiving end of a socket monitor.
///
/// Dropping it stops the monitoring (libzmq's I/O thread would otherwise
/// block forever on the next event for a reader that is gone, freezing
/// every connection of the context). Events are buffered without limit
/// until read, for the same reason.
pub struct Monitor {
    pair: Socket,
    monitored: std::rc::Weak<super::socket::Inner>,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor").field("pair", &self.pair).finish()
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        if let Some(sock) = self.monitored.upgrade() {
            sock.stop_monitor();
        }
    }
}

static NEXT: AtomicU64 = AtomicU64::new(1);

impl Socket {
    /// Starts monitoring this socket for `events` (a mask of
    /// `zmq::SocketEvent` values, e.g. `zmq::SocketEvent::ALL as i32`).
    /// With the `draft` feature (the default) events name both ends of
    /// each connection (libzmq's version-2 monitor), so a listener's
    /// events say which peer they concern. Without it (a libzmq without
    /// the draft API) they are libzmq's version-1 events, which name one
    /// address only: it is in `local`, and `remote` is empty.
    pub fn monitor_events(&self, events: i32) -> Result<Monitor> {
        let endpoint = format!(
            "inproc://zgreen.monitor.{}.{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        #[cfg(feature = "draft")]
        // SAFETY: the socket is live and this runs on its thread.
        unsafe { super::ffi::draft::monitor_v2(self.raw_ptr(), &endpoint, events as u32 as u64) }?;
        #[cfg(not(feature = "draft"))]
        self.raw().monitor(&endpoint, events)?;
        let pair = self.context().socket(zmq::PAIR)?;
        pair.set_rcvhwm(0)?;
        pair.connect(&endpoint)?;
        Ok(Monitor {
            pair,
            monitored: self.downgrade(),
        })
    }
}

impl Monitor {
    /// Waits for the next event.
    pub fn recv(&self) -> Result<MonitorEvent> {
        parse(self.pair.recv_multipart(0)?)
    }

    /// [`recv`](Self::recv), failing with `Error::Timeout` after
    /// `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<MonitorEvent> {
        parse(self.pair.recv_multipart_timeout(0, timeout)?)
    }

    /// [`recv`](Self::recv), failing with `Error::Timeout` at `deadline`.
    pub fn recv_deadline(&self, deadline: Instant) -> Result<MonitorEvent> {
        parse(self.pair.recv_multipart_deadline(0, deadline)?)
    }

    /// The next event if one is waiting ([`TryRecvError::Empty`] if not).
    pub fn try_recv(&self) -> std::result::Result<MonitorEvent, TryRecvError> {
        let first = self.pair.try_recv_msg(0)?;
        let mut frames = vec![first.to_vec()];
        let mut more = first.get_more();
        while more {
            let m = self.pair.recv_msg(0)?;
            more = m.get_more();
            frames.push(m.to_vec());
        }
        Ok(parse(frames)?)
    }
}

/// libzmq's version-2 event: the event (`u64`), the number of values
/// (`u64`), each value (`u64`), the local address, the remote address;
/// integers in native byte order.
#[cfg(feature = "draft")]
fn parse(frames: Vec<Vec<u8>>) -> Result<MonitorEvent> {
    let bad = || Error::MalformedMonitorEvent;
    let word = |f: &[u8]| f.try_into().map(u64::from_ne_bytes).map_err(|_| bad());
    let [event, count, rest @ ..] = frames.as_slice() else {
        return Err(bad());
    };
    let [values @ .., local, remote] = rest else {
        return Err(bad());
    };
    if values.len() as u64 != word(count)? {
        return Err(bad());
    }
    let value = match values.first() {
        Some(v) => word(v)?,
        None => 0,
    };
    let text = |f: &[u8]| String::from_utf8_lossy(f).into_owned();
    Ok(MonitorEvent {
        event: zmq::SocketEvent::from_raw(u16::try_from(word(event)?).map_err(|_| bad())?),
        value: u32::try_from(value).unwrap_or(u32::MAX),
        local: text(local),
        remote: text(remote),
    })
}

/// libzmq's version-1 event: `u16 event | u32 value` (native byte order),
/// then the one address the event concerns.
#[cfg(not(feature = "draft"))]
fn parse(frames: Vec<Vec<u8>>) -> Result<MonitorEvent> {
    let [head, address] = frames.as_slice() else {
        return Err(Error::MalformedMonitorEvent);
    };
    let [e0, e1, v0, v1, v2, v3] = head.as_slice() else {
        return Err(Error::MalformedMonitorEvent);
    };
    Ok(MonitorEvent {
        event: zmq::SocketEvent::from_raw(u16::from_ne_bytes([*e0, *e1])),
        value: u32::from_ne_bytes([*v0, *v1, *v2, *v3]),
        local: String::from_utf8_lossy(address).into_owned(),
        remote: String::new(),
    })
}

#[cfg(all(test, feature = "draft"))]
mod tests {
    use super::*;

    fn word(v: u64) -> Vec<u8> {
        v.to_ne_bytes().to_vec()
    }

    #[test]
    fn version_2_events_parse_and_malformed_ones_are_refused() {
        let ev = parse(vec![
            word(zmq::SocketEvent::HANDSHAKE_FAILED_AUTH as u64),
            word(1),
            word(400),
            b"tcp://127.0.0.1:5555".to_vec(),
            b"tcp://127.0.0.1:40000".to_vec(),
        ])
        .unwrap();
        assert_eq!(
            (ev.event, ev.value),
            (zmq::SocketEvent::HANDSHAKE_FAILED_AUTH, 400)
        );
        assert_eq!(ev.endpoint(), "tcp://127.0.0.1:40000");
        for bad in [
            vec![],
            vec![word(1), word(1)],
            // The count says two values, one is there.
            vec![word(1), word(2), word(0), b"a".to_vec(), b"b".to_vec()],
            // A short event word.
            vec![vec![1, 0], word(0), b"a".to_vec(), b"b".to_vec()],
            // An event number beyond u16.
            vec![word(1 << 20), word(0), b"a".to_vec(), b"b".to_vec()],
        ] {
            assert!(
                matches!(parse(bad.clone()), Err(Error::MalformedMonitorEvent)),
                "{bad:?}"
            );
        }
    }
}
