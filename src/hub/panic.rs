//! Catching panics at the greenlet boundary and reporting them once.
//!
//! A process-wide panic hook (installed once, chaining to the previous
//! hook) stays silent while a greenlet body runs (the hub's current task
//! is not the root): it records the location instead, and the hub reports
//! the panic exactly once when the greenlet ends.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::sync::Once;

thread_local! {
    /// Depth of "capture instead of printing" sections on this thread.
    static CAPTURE: Cell<u32> = const { Cell::new(0) };
    /// The last captured panic location.
    static LAST_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs the hook (once per process).
pub(crate) fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // The generator crate unwinds cancelled coroutines with its own
            // payload: never a user-visible panic.
            if info.payload().downcast_ref::<generator::Error>().is_some() {
                return;
            }
            let capturing = CAPTURE.try_with(|c| c.get() > 0).unwrap_or(false) || super::in_greenlet();
            if capturing {
                let loc = info.location().map(|l| l.to_string());
                let _ = LAST_LOCATION.try_with(|l| *l.borrow_mut() = loc);
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `f` with panic printing suppressed (the panic is still raised).
pub(crate) fn quietly<R>(f: impl FnOnce() -> R) -> R {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            CAPTURE.with(|c| c.set(c.get() - 1));
        }
    }
    install_hook();
    CAPTURE.with(|c| c.set(c.get() + 1));
    let _reset = Reset;
    f()
}

/// The location recorded for the last panic caught by [`quietly`].
pub(crate) fn take_location() -> Option<String> {
    LAST_LOCATION.with(|l| l.borrow_mut().take())
}

/// The message of a panic payload.
pub(crate) fn payload_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

/// True if the payload is the `generator` crate's cancellation unwind,
/// which must keep unwinding.
pub(crate) fn is_cancel(payload: &(dyn Any + Send)) -> bool {
    payload.downcast_ref::<generator::Error>().is_some()
}

/// The [`Error::Panicked`](crate::Error::Panicked) for a panic payload
/// caught in greenlet `greenlet`, with the location the hook recorded (if
/// the panic was raised under [`quietly`] or in a greenlet body).
pub(crate) fn error(payload: &(dyn Any + Send), greenlet: u64) -> crate::Error {
    crate::Error::Panicked(std::sync::Arc::new(crate::error::PanicError {
        message: payload_message(payload),
        location: take_location(),
        greenlet,
    }))
}
