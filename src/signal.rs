//! Signal handlers that run as greenlets (gevent's `signal_handler`).

use std::rc::Rc;

use signal_hook_mio::v1_0::Signals;

use crate::error::Result;
use crate::greenlet::{AnyGreenlet, Builder};
use crate::hub::IoRegistration;

/// A registered signal handler; [`cancel`](SignalHandler::cancel) removes
/// it. Dropping the handle leaves the handler installed (as in gevent).
#[derive(Debug, Clone)]
pub struct SignalHandler {
    watcher: AnyGreenlet,
    signal: i32,
}

/// Runs `f` in a new greenlet on this thread's hub each time `signal`
/// arrives (gevent's `gevent.signal_handler(signalnum, handler)`).
///
/// The signal is caught through a self-pipe (`signal-hook`), so the
/// handler is ordinary code: it may block, spawn, and kill greenlets. The
/// signal's default action (for example SIGINT terminating the process)
/// no longer happens while the handler is installed.
///
/// ```no_run
/// let worker = zgreen::spawn(|| zgreen::sleep(std::time::Duration::from_secs(1000)));
/// let w = worker.clone();
/// zgreen::signal_handler(libc::SIGQUIT, move || {
///     let _ = w.kill();
/// })
/// .unwrap();
/// let _ = worker.join();
/// ```
pub fn signal_handler<F: Fn() + 'static>(signal: i32, f: F) -> Result<SignalHandler> {
    let mut signals = Signals::new([signal])?;
    let registration = IoRegistration::register(&mut signals, mio::Interest::READABLE)?;
    let f: Rc<dyn Fn()> = Rc::new(f);
    let watcher = Builder::new()
        .name(format!("signal-{signal}"))
        .stack_bytes(32 * 1024)
        .spawn(move || {
            let mut signals = signals;
            while registration.wait_readable(None).is_ok() {
                registration.entry.readable.set(false);
                for _sig in signals.pending() {
                    let f = f.clone();
                    crate::spawn(move || f());
                }
            }
            crate::hub::with_hub(|h| h.deregister(&mut signals));
            drop(registration);
        })?;
    Ok(SignalHandler {
        watcher: watcher.any(),
        signal,
    })
}

impl SignalHandler {
    /// The signal number.
    pub fn signal(&self) -> i32 {
        self.signal
    }

    /// Uninstalls the handler and waits for its watcher to stop.
    pub fn cancel(&self) -> Result<()> {
        self.watcher.kill()
    }
}
