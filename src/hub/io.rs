//! Readiness of I/O sources registered with the hub's `mio::Poll`.
//!
//! Sources are registered edge-triggered. The hub records each edge in the
//! entry and wakes the waiters of that direction; a waiter that then hits
//! `WouldBlock` clears the flag and parks again. Nothing runs between the
//! failed operation and the clearing (no switch happens there), so no edge
//! can be lost.

use std::cell::Cell;
use std::io;
use std::rc::Rc;

use super::task::WaitQueue;
use super::{Deadline, with_hub};

/// Which direction an I/O operation waits for: a readable (a receive)
/// or a writable (a send) source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dir {
    /// Readable: data (or a connection, or end of file) to receive.
    Read,
    /// Writable: room to send.
    Write,
}

/// Readiness state and waiters of one registered source.
#[derive(Default)]
pub(crate) struct IoEntry {
    pub readable: Cell<bool>,
    pub writable: Cell<bool>,
    /// The source reported an error or hang-up: every waiter must retry.
    pub closed: Cell<bool>,
    pub readers: WaitQueue,
    pub writers: WaitQueue,
    /// A ZeroMQ `ZMQ_FD`: it only ever signals "readable", for both
    /// directions, so an edge wakes the first waiter of each direction
    /// (who then read `ZMQ_EVENTS`).
    pub zmq: Cell<bool>,
    /// Edges delivered so far (read by the ZeroMQ backstop's audit).
    pub edges: Cell<u64>,
}

impl IoEntry {
    /// Records an event and wakes waiters of the affected directions.
    pub(crate) fn on_event(&self, ev: &mio::event::Event) {
        if self.zmq.get() {
            self.edges.set(self.edges.get().wrapping_add(1));
            self.readers.notify_one();
            self.writers.notify_one();
            return;
        }
        let hup = ev.is_error() || ev.is_read_closed() || ev.is_write_closed();
        if ev.is_readable() || hup {
            self.readable.set(true);
            self.readers.notify_all();
        }
        if ev.is_writable() || hup {
            self.writable.set(true);
            self.writers.notify_all();
        }
        if hup {
            self.closed.set(true);
        }
    }
}

/// A source's registration with the current thread's hub. Dropping it
/// frees the token; deregister the source itself first.
pub(crate) struct IoRegistration {
    pub token: mio::Token,
    pub entry: Rc<IoEntry>,
}

impl IoRegistration {
    /// Registers `source` with the current hub for `interest`.
    pub(crate) fn register<S: mio::event::Source + ?Sized>(
        source: &mut S,
        interest: mio::Interest,
    ) -> io::Result<IoRegistration> {
        with_hub(|hub| {
            let entry = Rc::new(IoEntry::default());
            let key = hub.io.borrow_mut().insert(entry.clone());
            let token = mio::Token(key);
            if let Err(e) = hub.registry.register(source, token, interest) {
                hub.io.borrow_mut().remove(key);
                return Err(e);
            }
            Ok(IoRegistration { token, entry })
        })
    }

    /// Parks until the source is readable (or `deadline`).
    pub(crate) fn wait_readable(&self, deadline: Option<Deadline>) -> crate::Result<()> {
        while !self.entry.readable.get() {
            self.entry.readers.wait(deadline)?;
        }
        Ok(())
    }

    /// Parks until the source is writable (or `deadline`).
    #[allow(dead_code)]
    pub(crate) fn wait_writable(&self, deadline: Option<Deadline>) -> crate::Result<()> {
        while !self.entry.writable.get() {
            self.entry.writers.wait(deadline)?;
        }
        Ok(())
    }
}

impl Drop for IoRegistration {
    fn drop(&mut self) {
        let _ = super::try_with_hub(|hub| {
            let mut io = hub.io.borrow_mut();
            if io.contains(self.token.0) {
                io.remove(self.token.0);
            }
        });
    }
}
