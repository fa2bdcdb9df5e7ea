//! [`Watchdog`]: aborts the process when something overruns its limit.

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

/// A thread that aborts the whole process if the watchdog is not dropped
/// within its limit: a real bound on a test body, even one stuck in a
/// blocking call that no green timeout can interrupt. (Under nextest each
/// test is its own process; under `cargo test` the abort ends the test
/// binary, which is what a hung test should do.)
#[derive(Debug)]
pub struct Watchdog {
    disarm: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// Arms a watchdog: unless it is dropped within `limit`, it prints
    /// `what` overran and aborts the process.
    pub fn arm(limit: Duration, what: impl Into<String>) -> Watchdog {
        let what = what.into();
        let (disarm, armed) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            if let Err(RecvTimeoutError::Timeout) = armed.recv_timeout(limit) {
                eprintln!("watchdog: {what} still running after {limit:?}; aborting");
                std::process::abort();
            }
        });
        Watchdog {
            disarm: Some(disarm),
            thread: Some(thread),
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        drop(self.disarm.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio};
    use std::time::Instant;

    use super::*;
    use crate::{ChildGuard, ms};

    const CHILD: &str = "ZGREEN_HARNESS_WATCHDOG_CHILD";

    #[test]
    fn a_body_within_its_limit_goes_on() {
        let dog = Watchdog::arm(Duration::from_secs(30), "a quick body");
        std::thread::sleep(ms(5));
        let started = Instant::now();
        drop(dog);
        assert!(started.elapsed() < Duration::from_secs(5), "disarming is quick");
    }

    /// Run by the next test in a process of its own: stuck past its limit.
    #[test]
    fn stuck_body_child() {
        if std::env::var_os(CHILD).is_none() {
            return;
        }
        let _dog = Watchdog::arm(ms(100), "the stuck body");
        std::thread::sleep(Duration::from_secs(30));
    }

    #[test]
    fn a_stuck_body_aborts_the_process() {
        let mut child = ChildGuard::spawn(
            Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "watchdog::tests::stuck_body_child", "--nocapture"])
                .env(CHILD, "1")
                .stdout(Stdio::null())
                .stderr(Stdio::piped()),
        )
        .unwrap();
        let stderr = crate::Lines::read(child.take_stderr().unwrap());
        let status = child
            .wait_timeout(Duration::from_secs(20))
            .unwrap()
            .expect("aborted well before 20 s");
        assert_eq!(status.signal(), Some(libc::SIGABRT));
        let said = std::iter::from_fn(|| stderr.next(Duration::from_secs(5)).ok()).collect::<Vec<_>>();
        assert!(
            said.iter()
                .any(|l| l.contains("the stuck body still running after")),
            "{said:?}"
        );
    }
}
