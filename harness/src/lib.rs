//! Helpers shared by the tests, benchmarks and demo binaries of the zgreen
//! workspace, so that each exists once:
//!
//! - [`ChildGuard`]: a `std::process::Child` that is killed and reaped when
//!   it drops, whatever failed, with bounded waits ([`wait_timeout`],
//!   [`stop`] with a grace period, [`kill`]) and [`stop_all`] for a group;
//!   [`die_with_parent`] makes a child SIGKILLed when its parent dies.
//! - [`Lines`]: a child's output read by a thread, as lines with timeouts,
//!   so a chatty child never blocks on a full pipe.
//! - [`Watchdog`]: aborts the process if a test body overruns its limit,
//!   even when the body is stuck in a blocking call.
//! - [`ms`]: `Duration::from_millis`, short; [`Fail`], a test's own error;
//!   [`fresh_temp_dir`], an empty directory of the test's own;
//!   [`rss_bytes`], a process's resident set.
//!
//! It depends on std and libc (for signals and `PR_SET_PDEATHSIG`) only,
//! not on zgreen, so every crate of the workspace can use it.
//!
//! ```
//! use std::process::Command;
//! use zgreen_harness::{ChildGuard, ms};
//!
//! let mut child = ChildGuard::spawn(Command::new("sleep").arg("30")).unwrap();
//! assert_eq!(child.wait_timeout(ms(10)).unwrap(), None, "still sleeping");
//! drop(child); // SIGKILLed and reaped here
//! ```
//!
//! [`wait_timeout`]: ChildGuard::wait_timeout
//! [`stop`]: ChildGuard::stop
//! [`kill`]: ChildGuard::kill
#![deny(missing_docs, missing_debug_implementations, rust_2018_idioms)]

mod child;
mod lines;
mod proc;
mod watchdog;

use std::path::PathBuf;
use std::time::Duration;

pub use child::{ChildGuard, KILL_REAPED_WITHIN, die_with_parent, stop_all};
pub use lines::{LineError, Lines};
pub use proc::rss_bytes;
pub use watchdog::Watchdog;

/// `n` milliseconds.
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// An empty directory `<temp>/<prefix>-<pid>-<name>`, made afresh (what
/// a previous run left there is removed).
///
/// # Panics
/// If it cannot be created.
pub fn fresh_temp_dir(prefix: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("{prefix}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// A test's own error (for `Error::failed`, `Timeout::with_error` and the
/// like): displays as its text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fail(pub &'static str);

impl std::fmt::Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Fail {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_displays_its_text() {
        let e: Box<dyn std::error::Error> = Box::new(Fail("boom"));
        assert_eq!(e.to_string(), "boom");
        assert_eq!(ms(3), Duration::from_millis(3));
    }

    #[test]
    fn fresh_temp_dir_is_empty_each_time() {
        let dir = fresh_temp_dir("zgreen-harness", "fresh");
        std::fs::write(dir.join("left-over"), b"x").unwrap();
        let again = fresh_temp_dir("zgreen-harness", "fresh");
        assert_eq!(again, dir);
        assert_eq!(std::fs::read_dir(&again).unwrap().count(), 0);
        std::fs::remove_dir_all(&again).unwrap();
    }
}
