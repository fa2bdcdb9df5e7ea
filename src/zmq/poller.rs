//! A green `zmq_poll`: wait on several green sockets and raw fds at once.

use std::os::fd::RawFd;
use std::time::Duration;

use super::Socket;
use crate::error::{Error, Result};
use crate::hub::{self, Deadline, IoRegistration, Wake};

enum Item {
    Socket(Socket),
    Fd(RawFd),
}

/// A set of green sockets and raw file descriptors to wait on.
///
/// ```
/// use std::time::Duration;
/// let ctx = zgreen::zmq::Context::new();
/// let (a, b) = (ctx.socket(zmq::PAIR).unwrap(), ctx.socket(zmq::PAIR).unwrap());
/// a.bind("inproc://doc-poller").unwrap();
/// b.connect("inproc://doc-poller").unwrap();
/// let mut poller = zgreen::zmq::Poller::new();
/// let ib = poller.add_socket(&b, zmq::POLLIN);
/// assert_eq!(poller.poll(Some(Duration::from_millis(10))).unwrap(), 0);
/// a.send("x", 0).unwrap();
/// assert_eq!(poller.poll(None).unwrap(), 1);
/// assert!(poller.revents(ib).contains(zmq::POLLIN));
/// ```
pub struct Poller {
    items: Vec<(Item, zmq::PollEvents)>,
    revents: Vec<zmq::PollEvents>,
}

impl std::fmt::Debug for Poller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poller")
            .field("items", &self.items.len())
            .finish()
    }
}

impl Default for Poller {
    fn default() -> Self {
        Poller::new()
    }
}

impl Poller {
    /// An empty poller.
    pub fn new() -> Poller {
        Poller {
            items: Vec::new(),
            revents: Vec::new(),
        }
    }

    /// Adds a socket; returns its index for [`revents`](Self::revents).
    pub fn add_socket(&mut self, socket: &Socket, events: zmq::PollEvents) -> usize {
        self.items.push((Item::Socket(socket.clone()), events));
        self.revents.push(zmq::PollEvents::empty());
        self.items.len() - 1
    }

    /// Adds a raw file descriptor (`POLLIN`/`POLLOUT`); the poller never
    /// closes it.
    pub fn add_fd(&mut self, fd: RawFd, events: zmq::PollEvents) -> usize {
        self.items.push((Item::Fd(fd), events));
        self.revents.push(zmq::PollEvents::empty());
        self.items.len() - 1
    }

    /// The events found ready for item `index` by the last `poll`.
    pub fn revents(&self, index: usize) -> zmq::PollEvents {
        self.revents[index]
    }

    /// Waits until at least one item is ready or `timeout` passes; returns
    /// how many items are ready (0 on timeout).
    pub fn poll(&mut self, timeout: Option<Duration>) -> Result<usize> {
        hub::check_interrupt()?;
        let deadline = Deadline::from_timeout(timeout);
        let mut regs: Vec<(RawFd, IoRegistration)> = Vec::new();
        let result = self.poll_inner(deadline, &mut regs);
        for (fd, reg) in regs {
            hub::with_hub(|h| h.deregister(&mut mio::unix::SourceFd(&fd)));
            drop(reg);
            // SAFETY: `fd` is the duplicate made in `poll_inner`, owned here.
            unsafe { libc::close(fd) };
        }
        result
    }

    fn poll_inner(
        &mut self,
        deadline: Option<Deadline>,
        regs: &mut Vec<(RawFd, IoRegistration)>,
    ) -> Result<usize> {
        loop {
            let n = self.scan()?;
            if n > 0 {
                return Ok(n);
            }
            if deadline.is_some_and(|d| d.at <= std::time::Instant::now()) {
                return Ok(0);
            }
            if regs.is_empty() {
                self.register_fds(regs)?;
            }
            let w = hub::waiter();
            for (item, ev) in &self.items {
                if let Item::Socket(s) = item {
                    let (readers, writers) = s.queues();
                    if ev.contains(zmq::POLLIN) {
                        readers.push(w.clone());
                    }
                    if ev.contains(zmq::POLLOUT) {
                        writers.push(w.clone());
                    }
                }
            }
            for (_, reg) in regs.iter() {
                reg.entry.readers.push(w.clone());
                reg.entry.writers.push(w.clone());
            }
            let outcome = hub::park(deadline);
            match outcome.result {
                Ok(Wake::Signaled) => {}
                Ok(Wake::Deadline) => return self.scan(),
                Err(e) => {
                    // Woken and interrupted at once: the notification that
                    // woke this poller may have been the only one for a
                    // greenlet parked behind it on one of the sockets.
                    if outcome.signaled {
                        for (item, _) in &self.items {
                            if let Item::Socket(s) = item {
                                s.pass_on_wakeup();
                            }
                        }
                    }
                    return Err(e);
                }
            }
        }
    }

    /// Registers a duplicate of each raw fd with the hub (a duplicate, so
    /// an fd already registered elsewhere can be polled too).
    fn register_fds(&self, regs: &mut Vec<(RawFd, IoRegistration)>) -> Result<()> {
        for (item, ev) in &self.items {
            if let Item::Fd(fd) = item {
                let mut interest = None;
                if ev.contains(zmq::POLLIN) {
                    interest = Some(mio::Interest::READABLE);
                }
                if ev.contains(zmq::POLLOUT) {
                    interest =
                        Some(interest.map_or(mio::Interest::WRITABLE, |i| i | mio::Interest::WRITABLE));
                }
                let Some(interest) = interest else { continue };
                // SAFETY: dup(2) on a caller-provided fd; a failure is
                // reported, the result is owned by `regs` and closed later.
                let dup = unsafe { libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, 0) };
                if dup < 0 {
                    return Err(Error::from(std::io::Error::last_os_error()));
                }
                match IoRegistration::register(&mut mio::unix::SourceFd(&dup), interest) {
                    Ok(reg) => regs.push((dup, reg)),
                    Err(e) => {
                        // SAFETY: `dup` was just created and is not used elsewhere.
                        unsafe { libc::close(dup) };
                        return Err(e.into());
                    }
                }
            }
        }
        Ok(())
    }

    /// Checks every item without blocking; fills `revents`.
    fn scan(&mut self) -> Result<usize> {
        let mut n = 0;
        for (i, (item, want)) in self.items.iter().enumerate() {
            let got = match item {
                Item::Socket(s) => s.poll_events()? & *want,
                Item::Fd(fd) => poll_fd(*fd, *want)?,
            };
            self.revents[i] = got;
            if !got.is_empty() {
                n += 1;
            }
        }
        Ok(n)
    }
}

/// Non-blocking readiness of a raw fd (a hang-up or an error counts as
/// ready in the wanted directions, and an error is also `POLLERR`).
fn poll_fd(fd: RawFd, want: zmq::PollEvents) -> Result<zmq::PollEvents> {
    let r = crate::sys::poll_now(&[(fd, want.contains(zmq::POLLIN), want.contains(zmq::POLLOUT))])?[0];
    let mut got = zmq::PollEvents::empty();
    if r.readable {
        got |= zmq::POLLIN;
    }
    if r.writable {
        got |= zmq::POLLOUT;
    }
    if r.error {
        got |= zmq::POLLERR;
    }
    Ok(got)
}
