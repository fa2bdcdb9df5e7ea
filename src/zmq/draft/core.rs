//! The operation core of the draft sockets: try with `DONTWAIT`, on
//! `EAGAIN` read the poller's events and park, wake the others (the
//! readiness rules of the module docs).

use std::cell::Cell;
use std::os::fd::RawFd;
use std::time::Duration;

use super::DraftKind;
use crate::error::{Error, Result};
use crate::hub::{self, Deadline, Dir, IoRegistration};
use crate::zmq::Context;
use crate::zmq::endpoints::Endpoints;
use crate::zmq::ffi::{self, draft};

pub(crate) struct Inner {
    /// Watches `sock`; its descriptor is registered with the hub.
    pub(super) poller: draft::Poller,
    pub(super) fd: RawFd,
    pub(super) reg: IoRegistration,
    pub(super) kind: DraftKind,
    pub(super) closed: Cell<bool>,
    /// Endpoints set up through `bind`, `connect` and `connect_peer`,
    /// ended by `close`.
    pub(super) endpoints: Endpoints,
    pub(super) recv_timeout: Cell<Option<Duration>>,
    pub(super) send_timeout: Cell<Option<Duration>>,
    /// The libzmq socket behind `sock`.
    ///
    /// # Invariant
    /// Valid while `sock` is alive, i.e. for the life of this `Inner`.
    pub(super) raw: ffi::Raw,
    /// Dropped after the poller that points to it.
    pub(super) sock: zmq::Socket,
    /// Dropped last: the context outlives its socket.
    pub(super) _ctx: Context,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Deregister before libzmq closes the descriptor with the poller.
        let fd = self.fd;
        let _ = hub::try_with_hub(|h| h.deregister(&mut mio::unix::SourceFd(&fd)));
    }
}

impl Inner {
    /// Runs one operation: `attempt` makes the `DONTWAIT` libzmq call.
    /// A blocking one checks for a kill or timeout first and parks on
    /// `EAGAIN`; once the call has succeeded its result is returned
    /// (outcome wins over interrupt).
    pub(super) fn run_op<T>(
        &self,
        dir: Dir,
        deadline: Option<Deadline>,
        blocking: bool,
        mut attempt: impl FnMut(&Inner) -> std::result::Result<T, zmq::Error>,
    ) -> Result<T> {
        if blocking {
            hub::check_interrupt()?;
        }
        loop {
            self.check_open()?;
            match attempt(self) {
                Ok(v) => {
                    self.wake_ready();
                    crate::zmq::socket::count_ops(1);
                    return Ok(v);
                }
                Err(zmq::Error::EAGAIN) if blocking => self.park(dir, deadline)?,
                Err(e) => {
                    self.wake_ready();
                    return Err(e.into());
                }
            }
        }
    }

    /// Fails once the socket is closed.
    pub(super) fn check_open(&self) -> Result<()> {
        if self.closed.get() {
            Err(Error::SocketClosed)
        } else {
            Ok(())
        }
    }

    /// Reads the socket's events through the poller (which consumes one
    /// signal of its descriptor) and wakes the first waiter of each
    /// direction that can proceed.
    pub(super) fn poll_events(&self) -> std::result::Result<i16, zmq::Error> {
        let ev = self.poller.events()?;
        if ev & draft::POLLIN != 0 {
            self.reg.entry.readers.notify_one();
        }
        if ev & draft::POLLOUT != 0 {
            self.reg.entry.writers.notify_one();
        }
        Ok(ev)
    }

    /// After a libzmq call (which may have processed commands and so
    /// consumed the signal meant for a parked greenlet): if anybody is
    /// parked, read the events again and wake who can proceed.
    pub(super) fn wake_ready(&self) {
        let e = &self.reg.entry;
        if e.readers.has_waiters() || e.writers.has_waiters() {
            let _ = self.poll_events();
        }
    }

    /// Parks until `dir` may be ready. The events are read first, after
    /// the signal is consumed: a command that arrives later signals the
    /// descriptor again, which wakes this greenlet.
    fn park(&self, dir: Dir, deadline: Option<Deadline>) -> Result<()> {
        let (want, queue) = match dir {
            Dir::Read => (draft::POLLIN, &self.reg.entry.readers),
            Dir::Write => (draft::POLLOUT, &self.reg.entry.writers),
        };
        if self.poll_events()? & want != 0 {
            return Ok(()); // ready already: retry at once
        }
        queue.wait(deadline)
    }

    /// Wakes every parked greenlet (each checks the socket's state again).
    pub(super) fn wake_all(&self) {
        self.reg.entry.readers.notify_all();
        self.reg.entry.writers.notify_all();
    }
}
