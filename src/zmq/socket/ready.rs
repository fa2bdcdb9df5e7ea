//! A socket's readiness as something [`wait`](crate::wait) and
//! [`iwait`](crate::iwait) watch, beside channels, events and greenlets.

use super::Socket;
use crate::wait::{WaitToken, Waitable};

/// Ready when a receive on the socket would not wait (a message is
/// queued), or the socket is in error (the receive reports it). Made by
/// [`Socket::readable`].
#[derive(Clone, Debug)]
pub struct Readable(pub(super) Socket);

/// Ready when a send on the socket would not wait, or the socket is in
/// error. Made by [`Socket::writable`].
#[derive(Clone, Debug)]
pub struct Writable(pub(super) Socket);

impl Readable {
    /// The socket watched.
    pub fn socket(&self) -> &Socket {
        &self.0
    }
}

impl Writable {
    /// The socket watched.
    pub fn socket(&self) -> &Socket {
        &self.0
    }
}

/// Reads `ZMQ_EVENTS` (which also wakes a parked greenlet of either
/// direction that can proceed, so a wait never keeps a wakeup from a
/// receiver) and tests for `want`; an error counts as ready.
fn ready(s: &Socket, want: zmq::PollEvents) -> bool {
    s.poll_events().map_or(true, |ev| ev.contains(want))
}

impl Waitable for Readable {
    fn is_ready(&self) -> bool {
        ready(&self.0, zmq::POLLIN)
    }

    fn subscribe(&self, token: &WaitToken) {
        self.0.queues().0.push(token.0.clone());
    }
}

impl Waitable for Writable {
    fn is_ready(&self) -> bool {
        ready(&self.0, zmq::POLLOUT)
    }

    fn subscribe(&self, token: &WaitToken) {
        self.0.queues().1.push(token.0.clone());
    }
}
