//! The one pattern every green I/O type is built on: a nonblocking `mio`
//! source registered with this thread's hub, and "try the operation, park
//! on `WouldBlock`".

use std::cell::Cell;
use std::io;
use std::time::Duration;

use std::os::fd::{AsRawFd, OwnedFd};

use mio::unix::SourceFd;

use crate::error::Result;
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
    /// source is readable in between (or `deadline` passes: then
    /// `Err(Error::Timeout)`).
    pub(crate) fn read_op<R>(
        &self,
        deadline: Option<Deadline>,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> Result<R> {
        self.enter()?;
        loop {
            match op(&self.source) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // Nothing ran since the failed attempt: no edge is lost.
                    self.reg.entry.readable.set(false);
                    self.streak.set(0);
                    self.reg.wait_readable(deadline)?;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
                Ok(r) => return Ok(r),
            }
        }
    }

    /// [`read_op`](Self::read_op) for a byte-stream read of up to `want`
    /// bytes. A read that returns fewer bytes (but not 0) emptied the
    /// kernel's receive queue, so the readable flag is cleared and the
    /// next read parks until the hub sees a new edge, instead of paying a
    /// syscall for `WouldBlock` first. Linux raises an edge-triggered
    /// event for every arrival of data and for a hang-up, and the hub
    /// records any event that comes after this point, so nothing is
    /// missed; an event already queued for the consumed data only costs
    /// one failed attempt. Only for stream sockets (the TCP and Unix
    /// streams of `green_stream!`): a short datagram says nothing about
    /// the queue.
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
        let n = self.read_op(deadline, &mut op)?;
        if n > 0 && n < want && !self.reg.entry.closed.get() {
            self.reg.entry.readable.set(false);
            self.drained.set(true);
        }
        Ok(n)
    }

    /// Like [`read_op`](Self::read_op), for the write direction.
    pub(crate) fn write_op<R>(
        &self,
        deadline: Option<Deadline>,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> Result<R> {
        self.enter()?;
        loop {
            match op(&self.source) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.reg.entry.writable.set(false);
                    self.streak.set(0);
                    self.reg.wait_writable(deadline)?;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
                Ok(r) => return Ok(r),
            }
        }
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

/// The byte-stream API shared by `TcpStream` and `UnixStream` (each has a
/// field `io: Evented<S>` whose `&S` implements `Read + Write + AsFd`):
/// timeouts, `recv`/`send` returning zgreen errors, and the `Read`/`Write`
/// impls for `T` and `&T`.
macro_rules! green_stream {
    ($ty:ident) => {
        impl $ty {
            /// Bounds every later read (`recv`, `Read::read`, ...) to
            /// `timeout`; `None` (the default) waits forever. Each call
            /// gets the full timeout.
            pub fn set_read_timeout(&self, timeout: Option<std::time::Duration>) {
                self.io.set_read_timeout(timeout);
            }

            /// The read timeout.
            pub fn read_timeout(&self) -> Option<std::time::Duration> {
                self.io.read_timeout()
            }

            /// Bounds every later write to `timeout`; `None` waits forever.
            pub fn set_write_timeout(&self, timeout: Option<std::time::Duration>) {
                self.io.set_write_timeout(timeout);
            }

            /// The write timeout.
            pub fn write_timeout(&self) -> Option<std::time::Duration> {
                self.io.write_timeout()
            }

            /// `recv` with an explicit deadline (ignoring the read timeout).
            #[allow(dead_code)]
            pub(crate) fn recv_deadline(
                &self,
                buf: &mut [u8],
                deadline: Option<$crate::hub::Deadline>,
            ) -> $crate::Result<usize> {
                let want = buf.len();
                self.io
                    .read_op_stream(deadline, want, |mut s| std::io::Read::read(&mut s, buf))
            }

            /// Appends up to `max` bytes to `buf`, read into its spare
            /// capacity (nothing is zero-filled first); an explicit
            /// deadline, like [`recv_deadline`](Self::recv_deadline).
            pub(crate) fn recv_append_deadline(
                &self,
                buf: &mut Vec<u8>,
                max: usize,
                deadline: Option<$crate::hub::Deadline>,
            ) -> $crate::Result<usize> {
                buf.reserve(max);
                self.io.read_op_stream(deadline, max, |s| {
                    let spare = buf.spare_capacity_mut();
                    let want = spare.len().min(max);
                    let fd = std::os::fd::AsRawFd::as_raw_fd(s);
                    // SAFETY: `spare` is allocated, writable memory owned
                    // by `buf` and at least `want` bytes long; `recv`
                    // writes at most `want` bytes into it and does not
                    // keep the pointer.
                    let got = unsafe { libc::recv(fd, spare.as_mut_ptr().cast(), want, 0) };
                    if got < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    let got = got as usize;
                    // SAFETY: the kernel initialized the first `got`
                    // bytes of the spare capacity, and `got <= want`
                    // fits in the capacity.
                    unsafe { buf.set_len(buf.len() + got) };
                    Ok(got)
                })
            }

            /// `send` with an explicit deadline (ignoring the write timeout).
            #[allow(dead_code)]
            pub(crate) fn send_deadline(
                &self,
                buf: &[u8],
                deadline: Option<$crate::hub::Deadline>,
            ) -> $crate::Result<usize> {
                self.io
                    .write_op(deadline, |mut s| std::io::Write::write(&mut s, buf))
            }

            /// Reads into `buf`, parking until at least one byte is
            /// available; `Ok(0)` means end of file (the peer closed or
            /// shut down its write half).
            pub fn recv(&self, buf: &mut [u8]) -> $crate::Result<usize> {
                let want = buf.len();
                self.io
                    .read_op_stream(self.io.read_deadline(), want, |mut s| {
                        std::io::Read::read(&mut s, buf)
                    })
            }

            /// Reads exactly `buf.len()` bytes; end of file first is an
            /// `UnexpectedEof` I/O error. The read timeout bounds the
            /// whole call.
            pub fn recv_exact(&self, buf: &mut [u8]) -> $crate::Result<()> {
                let deadline = self.io.read_deadline();
                let mut done = 0;
                while done < buf.len() {
                    let want = buf.len() - done;
                    let n = self.io.read_op_stream(deadline, want, |mut s| {
                        std::io::Read::read(&mut s, &mut buf[done..])
                    })?;
                    if n == 0 {
                        return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
                    }
                    done += n;
                }
                Ok(())
            }

            /// Writes some of `buf`, parking until there is room; returns
            /// how many bytes were written.
            pub fn send(&self, buf: &[u8]) -> $crate::Result<usize> {
                self.io.write_op(self.io.write_deadline(), |mut s| {
                    std::io::Write::write(&mut s, buf)
                })
            }

            /// Writes all of `buf` (gevent's `sendall`). The write timeout
            /// bounds the whole call. On an error, an unknown prefix of
            /// `buf` may have been sent.
            pub fn send_all(&self, buf: &[u8]) -> $crate::Result<()> {
                let deadline = self.io.write_deadline();
                let mut done = 0;
                while done < buf.len() {
                    let n = self.io.write_op(deadline, |mut s| {
                        std::io::Write::write(&mut s, &buf[done..])
                    })?;
                    if n == 0 {
                        return Err(std::io::Error::from(std::io::ErrorKind::WriteZero).into());
                    }
                    done += n;
                }
                Ok(())
            }
        }

        impl std::io::Read for &$ty {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.recv(buf).map_err($crate::net::error_into_io)
            }
        }

        impl std::io::Read for $ty {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.recv(buf).map_err($crate::net::error_into_io)
            }
        }

        impl std::io::Write for &$ty {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.send(buf).map_err($crate::net::error_into_io)
            }

            fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
                self.send_all(buf).map_err($crate::net::error_into_io)
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        impl std::io::Write for $ty {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.send(buf).map_err($crate::net::error_into_io)
            }

            fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
                self.send_all(buf).map_err($crate::net::error_into_io)
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        impl std::os::fd::AsRawFd for $ty {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                self.io.get_ref().as_raw_fd()
            }
        }

        impl std::os::fd::AsFd for $ty {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                self.io.get_ref().as_fd()
            }
        }
    };
}

pub(crate) use green_stream;
