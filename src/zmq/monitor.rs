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
    /// The endpoint it concerns.
    pub endpoint: String,
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
    pub fn monitor_events(&self, events: i32) -> Result<Monitor> {
        let endpoint = format!(
            "inproc://zgreen.monitor.{}.{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
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

/// Two frames: `u16 event | u32 value` (native endian), then the endpoint.
fn parse(frames: Vec<Vec<u8>>) -> Result<MonitorEvent> {
    let malformed = Error::MalformedMonitorEvent;
    if frames.len() != 2 || frames[0].len() != 6 {
        return Err(malformed);
    }
    let event = u16::from_ne_bytes([frames[0][0], frames[0][1]]);
    let value = u32::from_ne_bytes([frames[0][2], frames[0][3], frames[0][4], frames[0][5]]);
    Ok(MonitorEvent {
        event: zmq::SocketEvent::from_raw(event),
        value,
        endpoint: String::from_utf8_lossy(&frames[1]).into_owned(),
    })
}
