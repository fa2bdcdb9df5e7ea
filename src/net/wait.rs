//! `wait_read`, `wait_write` and `select` for any file descriptor
//! (gevent's `gevent.socket.wait_read`/`wait_write` and `gevent.select`).
//!
//! The fds are not owned by zgreen: each wait registers a close-on-exec
//! duplicate with the hub (so an fd that is already registered elsewhere,
//! for example a green socket's, can be waited on too) and drops it
//! afterwards. Readiness is always confirmed with a zero-timeout `poll(2)`,
//! so the answer is level-triggered, like `select(2)`'s.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::Duration;

use super::evented::{Evented, FdSource};
use crate::error::Result;
use crate::hub::{self, Deadline, Wake};
use crate::sys;

/// What [`select`] found ready: indices into its `readers` and `writers`
/// slices, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selected {
    /// Indices of the `readers` that are readable.
    pub readable: Vec<usize>,
    /// Indices of the `writers` that are writable.
    pub writable: Vec<usize>,
}

impl Selected {
    /// True if nothing is ready (what `select` returns when its timeout
    /// passes).
    pub fn is_empty(&self) -> bool {
        self.readable.is_empty() && self.writable.is_empty()
    }
}

/// Parks until `fd` is readable (data, end of file, or an error is
/// pending), or fails with `Error::Timeout` after `timeout`.
///
/// ```
/// use std::io::Write;
///
/// let (rx, mut tx) = std::io::pipe().unwrap();
/// let writer = zgreen::spawn(move || tx.write_all(b"x"));
/// zgreen::net::wait_read(&rx, Some(std::time::Duration::from_secs(5))).unwrap();
/// writer.take().unwrap().unwrap();
/// ```
pub fn wait_read(fd: impl AsFd, timeout: Option<Duration>) -> Result<()> {
    wait_one(fd.as_fd(), true, timeout)
}

/// Parks until `fd` is writable (room for at least one byte, or an error),
/// or fails with `Error::Timeout` after `timeout`. As the seed notes, a
/// writable fd only promises room for one byte: a large blocking write can
/// still block, so write to green types instead where possible.
pub fn wait_write(fd: impl AsFd, timeout: Option<Duration>) -> Result<()> {
    wait_one(fd.as_fd(), false, timeout)
}

fn wait_one(fd: BorrowedFd<'_>, read: bool, timeout: Option<Duration>) -> Result<()> {
    let deadline = Deadline::from_timeout(timeout);
    let (readers, writers) = if read {
        (vec![fd], vec![])
    } else {
        (vec![], vec![fd])
    };
    let ready = select_deadline(&readers, &writers, deadline)?;
    if ready.is_empty() {
        return Err(hub::deadline_error(deadline));
    }
    Ok(())
}

/// Parks until at least one of `readers` is readable or one of `writers`
/// is writable, and returns all that are (gevent's `select.select`). With a
/// `timeout`, returns an empty [`Selected`] once it passes; with empty
/// slices it just sleeps for `timeout`.
///
/// ```
/// use std::os::fd::AsFd;
/// use std::time::Duration;
///
/// let (rx, tx) = std::io::pipe().unwrap();
/// let ready = zgreen::net::select(&[rx.as_fd()], &[tx.as_fd()], Some(Duration::from_secs(1))).unwrap();
/// // Nothing to read yet; the pipe has room.
/// assert_eq!((ready.readable, ready.writable), (vec![], vec![0]));
/// ```
pub fn select(
    readers: &[BorrowedFd<'_>],
    writers: &[BorrowedFd<'_>],
    timeout: Option<Duration>,
) -> Result<Selected> {
    select_deadline(readers, writers, Deadline::from_timeout(timeout))
}

fn select_deadline(
    readers: &[BorrowedFd<'_>],
    writers: &[BorrowedFd<'_>],
    deadline: Option<Deadline>,
) -> Result<Selected> {
    hub::check_interrupt()?;
    if readers.is_empty() && writers.is_empty() {
        return sleep_until(deadline).map(|()| Selected::default());
    }
    let wanted: Vec<_> = readers
        .iter()
        .map(|fd| (fd.as_raw_fd(), true, false))
        .chain(writers.iter().map(|fd| (fd.as_raw_fd(), false, true)))
        .collect();
    let check = || -> Result<Selected> {
        let ready = sys::poll_now(&wanted)?;
        let (r, w) = ready.split_at(readers.len());
        // The indices (within its own list) of each fd that is ready.
        let ready = |list: &[sys::Ready], pick: fn(&sys::Ready) -> bool| {
            list.iter()
                .enumerate()
                .filter(|(_, x)| pick(x))
                .map(|(i, _)| i)
                .collect()
        };
        Ok(Selected {
            readable: ready(r, |x| x.readable),
            writable: ready(w, |x| x.writable),
        })
    };
    let ready = check()?;
    if !ready.is_empty() || deadline.is_some_and(|d| d.after.is_zero()) {
        return Ok(ready);
    }
    // Watch duplicates: registering them reports their current readiness
    // at once, so a change since the `poll` above is not missed.
    let mut watched = Vec::with_capacity(wanted.len());
    for (fd, (_, r, _)) in readers.iter().chain(writers).zip(&wanted) {
        let interest = if *r {
            mio::Interest::READABLE
        } else {
            mio::Interest::WRITABLE
        };
        let dup = sys::dup_cloexec(*fd)?;
        watched.push((Evented::new(FdSource(dup), interest)?, *r));
    }
    loop {
        let waiter = hub::waiter();
        for (ev, r) in &watched {
            ev.push_waiter(&waiter, *r, !*r);
        }
        match hub::park(deadline).result? {
            Wake::Deadline => return Ok(Selected::default()),
            Wake::Signaled => {
                let ready = check()?;
                if !ready.is_empty() {
                    return Ok(ready);
                }
            }
        }
    }
}

/// Sleeps until `deadline`, or forever (until interrupted) without one.
fn sleep_until(deadline: Option<Deadline>) -> Result<()> {
    loop {
        if let Wake::Deadline = hub::park(deadline).result? {
            return Ok(());
        }
    }
}
