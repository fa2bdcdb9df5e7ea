//! Knowing when a child exits without blocking the hub: a pidfd per child
//! (Linux ≥ 5.3; readable once the child has exited), or, where
//! `pidfd_open` is refused, one SIGCHLD self-pipe per thread.

use std::cell::RefCell;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::rc::Rc;
use std::sync::OnceLock;
use std::time::Duration;

use crate::error::Result;
use crate::hub::{self, Deadline};
use crate::net::evented::{Evented, FdSource};
use crate::sys;

/// With SIGCHLD, signals of several children can merge into one; each
/// waiter also re-checks its child this often, as a backstop.
const SIGCHLD_BACKSTOP: Duration = Duration::from_millis(200);

/// Set `ZGREEN_NO_PIDFD=1` to use SIGCHLD even where pidfds work (to test
/// the fallback).
fn pidfd_disabled() -> bool {
    static OFF: OnceLock<bool> = OnceLock::new();
    *OFF.get_or_init(|| std::env::var_os("ZGREEN_NO_PIDFD").is_some_and(|v| v != "0"))
}

/// How one child's exit is noticed.
pub(crate) enum ExitWatch {
    /// The child's pidfd, registered with the hub.
    Pidfd(Evented<FdSource>),
    /// The thread's SIGCHLD self-pipe.
    Sigchld(Rc<SigchldPipe>),
}

impl ExitWatch {
    /// A watch for child `pid` (spawned by this process, not reaped yet).
    pub(crate) fn new(pid: u32) -> Result<ExitWatch> {
        if !pidfd_disabled() {
            match sys::pidfd_open(pid) {
                Ok(fd) => {
                    return Ok(ExitWatch::Pidfd(Evented::new(
                        FdSource(fd),
                        mio::Interest::READABLE,
                    )?));
                }
                Err(e) => tracing::debug!("zgreen: pidfd_open failed ({e}); reaping through SIGCHLD"),
            }
        }
        Ok(ExitWatch::Sigchld(SigchldPipe::for_thread()?))
    }

    /// The pidfd, if this watch has one (to signal the child without a
    /// pid-reuse race).
    pub(crate) fn pidfd(&self) -> Option<BorrowedFd<'_>> {
        match self {
            ExitWatch::Pidfd(ev) => Some(ev.get_ref().0.as_fd()),
            ExitWatch::Sigchld(_) => None,
        }
    }

    /// Parks until the child may have exited (or `deadline` passes: then
    /// `Err(Error::Timeout)`). Spurious returns are allowed: the caller
    /// re-checks with `try_wait` and calls again.
    pub(crate) fn wait(&self, deadline: Option<Deadline>) -> Result<()> {
        match self {
            // A pidfd stays readable once the child has exited, and the
            // caller's `try_wait` then reaps it: no need to clear the flag.
            ExitWatch::Pidfd(ev) => ev.wait_readable(deadline),
            ExitWatch::Sigchld(pipe) => pipe.wait(deadline),
        }
    }
}

/// One SIGCHLD self-pipe per thread, shared by all its waiting children.
pub(crate) struct SigchldPipe {
    reader: Evented<mio::unix::pipe::Receiver>,
    id: signal_hook::SigId,
}

thread_local! {
    static SIGCHLD_PIPE: RefCell<Option<Rc<SigchldPipe>>> = const { RefCell::new(None) };
}

impl SigchldPipe {
    fn for_thread() -> Result<Rc<SigchldPipe>> {
        SIGCHLD_PIPE.with(|slot| {
            if let Some(p) = &*slot.borrow() {
                return Ok(p.clone());
            }
            let (tx, rx) = mio::unix::pipe::new()?;
            let reader = Evented::new(rx, mio::Interest::READABLE)?;
            let id = signal_hook::low_level::pipe::register(libc::SIGCHLD, tx)?;
            let p = Rc::new(SigchldPipe { reader, id });
            *slot.borrow_mut() = Some(p.clone());
            Ok(p)
        })
    }

    fn wait(&self, deadline: Option<Deadline>) -> Result<()> {
        // Drain what is there, so the next SIGCHLD makes a fresh edge.
        // Every waiter re-checks its own child after this returns, so
        // draining on behalf of the others loses nothing.
        let mut buf = [0u8; 64];
        loop {
            match self.reader.get_ref().read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        self.reader.clear_readable();
        let backstop = Deadline::after(SIGCHLD_BACKSTOP);
        let d = match deadline {
            Some(d) if d.at < backstop.at => Some(d),
            _ => Some(backstop),
        };
        match self.reader.wait_readable(d) {
            Ok(()) => Ok(()),
            // The backstop (not the caller's deadline) fired: re-check.
            Err(crate::Error::Timeout(t)) if t.id == 0 && deadline.is_none_or(|c| c.at > backstop.at) => {
                hub::check_interrupt()
            }
            Err(e) => Err(e),
        }
    }
}

impl Drop for SigchldPipe {
    fn drop(&mut self) {
        signal_hook::low_level::unregister(self.id);
    }
}
