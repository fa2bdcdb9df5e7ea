//! The one pattern every green I/O type is built on: a nonblocking `mio`
//! source registered with this thread's hub, and "try the operation, park
//! on `WouldBlock`".

use std::cell::Cell;
use std::io;
use std::time::Duration;

use std::os::fd::{AsRawFd, OwnedFd};

use mio::unix::SourceFd;

use crate::error::Result;
pub(crate) use crate::hub::Dir;
use crate::hub::task::Waiter;
use crate::hub::{self, Deadline, IoRegistration};

/// After this many operations in a row that did not park, the next one
/// first lets the other greenlets run (fairness: a peer that is always
/// ready must not starve the hub).
const FAIR_STREAK: u32 = 64;

/// A nonblocking source registered with the current thread's hub.
///
/// # Invariant
///
/// `source` is registered with the hub of the thread that created this
/// value under `reg`'s token, and stays registered until `drop`, which
/// deregisters it before either field is dropped. The type is `!Send`
/// (`IoRegistration` holds an `Rc`), so it is only ever used on that
/// thread.
pub(crate) struct Evented<S: mio::event::Source> {
    source: S,
    reg: IoRegistration,
    read_timeout: Cell<Option<Duration>>,
    write_timeout: Cell<Option<Duration>>,
    streak: Cell<u32>,
    /// The last stream read returned less than it asked for: the
    /// kernel's receive queue was empty then, so the next read waits for
    /// an edge instead of trying (and failing) first.
    drained: Cell<bool>,
}

impl<S: mio::event::Source> Evented<S> {
    /// Registers `source` (already nonblocking) for `interest`.
    pub(crate) fn new(mut source: S, interest: mio::Interest) -> io::Result<Evented<S>> {
        let reg = IoRegistration::register(&mut source, interest)?;
        Ok(Evented {
            source,
            reg,
            read_timeout: Cell::new(None),
            write_timeout: Cell::new(None),
            streak: Cell::new(0),
            drained: Cell::new(false),
        })
    }

    /// The source.
    pub(crate) fn get_ref(&self) -> &S {
        &self.source
    }

    pub(crate) fn read_timeout(&self) -> Option<Duration> {
        self.read_timeout.get()
    }

    pub(crate) fn set_read_timeout(&self, t: Option<Duration>) {
        self.read_timeout.set(t);
    }

    pub(crate) fn write_timeout(&self) -> Option<Duration> {
        self.write_timeout.get()
    }

    pub(crate) fn set_write_timeout(&self, t: Option<Duration>) {
        self.write_timeout.set(t);
    }

    /// The deadline of a read starting now, from the read timeout.
    pub(crate) fn read_deadline(&self) -> Option<Deadline> {
        Deadline::from_timeout(self.read_timeout.get())
    }

    /// The deadline of a write starting now, from the write timeout.
    pub(crate) fn write_deadline(&self) -> Option<Deadline> {
        Deadline::from_timeout(self.write_timeout.get())
    }

    /// Checks kill / timeout scopes, and yields now and then when the
    /// operations of this source never park.
    fn enter(&self) -> Result<()> {
        hub::check_interrupt()?;
        let n = self.streak.get() + 1;
        if n >= FAIR_STREAK {
            self.streak.set(0);
            hub::yield_now()?;
        } else {
            self.streak.set(n);
        }
        Ok(())
    }

    /// Runs `op` until it does not return `WouldBlock`, parking until the
    /// source is ready in direction `dir` in between (or `deadline`
    /// passes: then `Err(Error::Timeout)`).
    #[inline]
    pub(crate) fn io_op<R>(
        &self,
        dir: Dir,
        deadline: Option<Deadline>,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> Result<R> {
        let e = &self.reg.entry;
        let (ready, waiters) = match dir {
            Dir::Read => (&e.readable, &e.readers),
            Dir::Write => (&e.writable, &e.writers),
        };
        self.enter()?;
        loop {
            match op(&self.source) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // Nothing ran since the failed attempt: no edge is lost.
                    ready.set(false);
                    self.streak.set(0);
                    while !ready.get() {
                        waiters.wait(deadline)?;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
                Ok(r) => return Ok(r),
            }
        }
    }

    /// [`io_op`](Self::io_op) for a byte-stream read of up to `want`
    /// bytes. A read that returns fewer bytes (but not 0) emptied the
    /// kernel's receive queue, so the readable flag is cleared and the
    /// next read parks until the hub sees a new edge, instead of paying a
    /// syscall for `WouldBlock` first. Linux raises an edge-triggered
    /// event for every arrival of data and for a hang-up, and the hub
    /// records any event that comes after this point, so nothing is
    /// missed; an event already queued for the consumed data only costs
    /// one failed attempt. Only for stream sockets (the TCP and Unix
    /// streams, through `socket::ByteStream`): a short datagram says
    /// nothing about the queue.
    pub(crate) fn read_op_stream(
        &self,
        deadline: Option<Deadline>,
        want: usize,
        mut op: impl FnMut(&S) -> io::Result<usize>,
    ) -> Result<usize> {
        if self.drained.replace(false) && !self.reg.entry.closed.get() {
            // About to park: the interrupt check is all `enter` would add.
            hub::check_interrupt()?;
            self.streak.set(0);
            self.reg.wait_readable(deadline)?;
        }
        let n = self.io_op(Dir::Read, deadline, &mut op)?;
        if n > 0 && n < want && !self.reg.entry.closed.get() {
            self.reg.entry.readable.set(false);
            self.drained.set(true);
        }
        Ok(n)
    }

    /// Parks until the source has reported writability at least once since
    /// the flag was last cleared (used while a connect is in progress).
    pub(crate) fn wait_writable(&self, deadline: Option<Deadline>) -> Result<()> {
        self.reg.wait_writable(deadline)
    }

    /// Forgets the last writability edge (after a spurious wakeup).
    pub(crate) fn clear_writable(&self) {
        self.reg.entry.writable.set(false);
    }

    /// Forgets the last readability edge.
    pub(crate) fn clear_readable(&self) {
        self.reg.entry.readable.set(false);
    }

    /// Parks until the source reports readability (or `deadline`).
    pub(crate) fn wait_readable(&self, deadline: Option<Deadline>) -> Result<()> {
        self.reg.wait_readable(deadline)
    }

    /// Queues `waiter` on the chosen directions, for a park that waits on
    /// several sources at once.
    pub(crate) fn push_waiter(&self, waiter: &Waiter, read: bool, write: bool) {
        if read {
            self.reg.entry.readers.push(waiter.clone());
        }
        if write {
            self.reg.entry.writers.push(waiter.clone());
        }
    }
}

/// An owned file descriptor as a `mio` source (registered through
/// `SourceFd`), closed when dropped.
#[derive(Debug)]
pub(crate) struct FdSource(pub OwnedFd);

impl mio::event::Source for FdSource {
    fn register(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        SourceFd(&self.0.as_raw_fd()).register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        SourceFd(&self.0.as_raw_fd()).reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &mio::Registry) -> io::Result<()> {
        SourceFd(&self.0.as_raw_fd()).deregister(registry)
    }
}

impl<S: mio::event::Source> Drop for Evented<S> {
    fn drop(&mut self) {
        // Deregister before `source` closes its fd; `reg` frees the token
        // right after. While the thread's locals are being torn down the
        // hub may already be gone, and its epoll fd with it.
        let _ = hub::try_with_hub(|h| h.deregister(&mut self.source));
    }
}

impl<S: mio::event::Source + std::fmt::Debug> std::fmt::Debug for Evented<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.source.fmt(f)
    }
}
