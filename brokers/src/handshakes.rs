//! Handshake diagnostics of the binaries: every failed security handshake
//! of a socket is logged with both addresses and the reason, and counted
//! (`zgreen_handshake_failures_total{socket, reason}`), so that a wrong
//! key, a denied client or a mechanism mismatch is told apart from a peer
//! that is down (see [`zgreen::zmq::handshake`] for the reasons and which
//! side sees which).
//!
//! Logging is bounded: at most [`LOG_PER_SECOND`] lines a second per
//! socket (a hostile peer may fail handshakes in a loop); the counter
//! counts every failure.

use std::sync::Arc;
use std::time::{Duration, Instant};

use zgreen::zmq::Socket;
use zgreen::zmq::handshake::HandshakeFailure;

use crate::metrics::Metrics;

/// Most handshake failures logged per second and socket; the others are
/// only counted (and their number logged once the second is over).
pub const LOG_PER_SECOND: u32 = 20;

/// The monitor events a watch reads.
const EVENTS: i32 = zmq::SocketEvent::HANDSHAKE_FAILED_NO_DETAIL as i32
    | zmq::SocketEvent::HANDSHAKE_FAILED_PROTOCOL as i32
    | zmq::SocketEvent::HANDSHAKE_FAILED_AUTH as i32
    | zmq::SocketEvent::MONITOR_STOPPED as i32;

/// Starts watching the handshakes of `sock` (named `socket` in logs and
/// metrics) from a greenlet of this hub, until the socket is closed.
pub fn watch(sock: &Socket, socket: &'static str, metrics: Option<Arc<Metrics>>) -> zgreen::Result<()> {
    let monitor = sock.monitor_events(EVENTS)?;
    zgreen::spawn(move || {
        let mut limit = LogLimit::default();
        while let Ok(ev) = monitor.recv() {
            if ev.event == zmq::SocketEvent::MONITOR_STOPPED {
                break;
            }
            let Some(failure) = HandshakeFailure::from_event(&ev) else {
                continue;
            };
            if let Some(m) = &metrics {
                m.handshake_failed(socket, failure.label());
            }
            if let Some(suppressed) = limit.admit(Instant::now()) {
                if suppressed > 0 {
                    tracing::warn!(
                        socket,
                        suppressed,
                        "handshake failures not logged in the last second"
                    );
                }
                tracing::warn!(
                    socket,
                    peer = %ev.remote,
                    local = %ev.local,
                    reason = failure.label(),
                    "handshake failed: {failure}"
                );
            }
        }
    });
    Ok(())
}

/// A per-second budget of log lines.
#[derive(Debug, Default)]
struct LogLimit {
    second: Option<Instant>,
    logged: u32,
    suppressed: u64,
}

impl LogLimit {
    /// `Some(n)` if a line may be logged now (`n`: lines suppressed in
    /// the second before), `None` if this one is suppressed.
    fn admit(&mut self, now: Instant) -> Option<u64> {
        let fresh = self
            .second
            .is_none_or(|s| now.duration_since(s) >= Duration::from_secs(1));
        if fresh {
            self.second = Some(now);
            self.logged = 0;
        }
        if self.logged < LOG_PER_SECOND {
            self.logged += 1;
            return Some(if fresh {
                std::mem::take(&mut self.suppressed)
            } else {
                0
            });
        }
        self.suppressed += 1;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_limit_admits_a_budget_per_second_and_reports_the_rest() {
        let mut l = LogLimit::default();
        let t0 = Instant::now();
        for i in 0..LOG_PER_SECOND {
            assert_eq!(l.admit(t0), Some(0), "line {i}");
        }
        for _ in 0..5 {
            assert_eq!(l.admit(t0 + Duration::from_millis(500)), None);
        }
        assert_eq!(l.admit(t0 + Duration::from_millis(1000)), Some(5));
        assert_eq!(l.admit(t0 + Duration::from_millis(1001)), Some(0));
    }
}
