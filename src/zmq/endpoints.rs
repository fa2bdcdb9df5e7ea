//! The endpoints a green socket set up (through its `bind`, `connect` or
//! `connect_peer`), so that `close` can end them all: peers see the
//! connections close and the addresses are free again, although libzmq
//! frees the socket itself only when the last handle is dropped.

use std::cell::RefCell;

/// One kind of endpoint: bound, or connected to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    /// `bind`: ended with `unbind`.
    Bound,
    /// `connect`: ended with `disconnect`.
    Connected,
}

/// The endpoints of one socket, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Endpoints(RefCell<Vec<(Side, String)>>);

impl Endpoints {
    /// Records an endpoint the socket just set up.
    pub(crate) fn add(&self, side: Side, endpoint: String) {
        self.0.borrow_mut().push((side, endpoint));
    }

    /// Forgets an endpoint the socket just ended.
    pub(crate) fn forget(&self, side: Side, endpoint: &str) {
        self.0
            .borrow_mut()
            .retain(|(s, e)| !(*s == side && e == endpoint));
    }

    /// Ends every endpoint on `sock` and forgets them. One already gone
    /// (a peer's inproc socket closed) is no reason to stop ending the
    /// others.
    pub(crate) fn end_all(&self, sock: &zmq::Socket) {
        for (side, ep) in std::mem::take(&mut *self.0.borrow_mut()) {
            let _ = end(sock, side, &ep);
        }
    }
}

/// `unbind` or `disconnect`, as `side` says.
pub(crate) fn end(sock: &zmq::Socket, side: Side, endpoint: &str) -> Result<(), zmq::Error> {
    match side {
        Side::Bound => sock.unbind(endpoint),
        Side::Connected => sock.disconnect(endpoint),
    }
}
