//! [`ChildGuard`]: a child process killed and reaped on drop.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus};
use std::time::{Duration, Instant};

use crate::lines::Lines;

/// How long [`ChildGuard::kill`] waits for a SIGKILLed child to be reaped.
pub const KILL_REAPED_WITHIN: Duration = Duration::from_secs(5);

/// How often the bounded waits poll `try_wait`.
const POLL: Duration = Duration::from_millis(5);

/// A child process that is SIGKILLed and reaped when the guard drops (a
/// test that fails half way never leaves a process behind). Its exit
/// status is remembered once seen, and no signal is sent after that (the
/// pid could belong to another process by then).
#[derive(Debug)]
pub struct ChildGuard {
    child: Child,
    status: Option<ExitStatus>,
}

impl ChildGuard {
    /// Spawns `cmd` (configured by the caller: arguments, pipes,
    /// environment) and guards the child.
    pub fn spawn(cmd: &mut Command) -> io::Result<ChildGuard> {
        cmd.spawn().map(ChildGuard::new)
    }

    /// Guards a child spawned elsewhere.
    pub fn new(child: Child) -> ChildGuard {
        ChildGuard { child, status: None }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The child itself (its pipes, for instance).
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Takes the child's stdout pipe, if it was piped and not taken yet.
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.child.stdout.take()
    }

    /// Takes the child's stderr pipe, if it was piped and not taken yet.
    pub fn take_stderr(&mut self) -> Option<ChildStderr> {
        self.child.stderr.take()
    }

    /// Takes the child's stdout pipe and reads it as [`Lines`] in a
    /// thread; `None` if stdout was not piped (or already taken).
    pub fn stdout_lines(&mut self) -> Option<Lines> {
        self.take_stdout().map(Lines::read)
    }

    /// The exit status, if the child has been seen to exit.
    pub fn status(&self) -> Option<ExitStatus> {
        self.status
    }

    /// The exit status if the child has exited, without waiting.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self.child.try_wait()?;
        }
        Ok(self.status)
    }

    /// True while the child runs (an error of `try_wait` counts as ended).
    pub fn is_running(&mut self) -> bool {
        matches!(self.try_wait(), Ok(None))
    }

    /// Waits at most `timeout` for the child to exit (polling every few
    /// milliseconds); `Ok(None)` if it still runs.
    pub fn wait_timeout(&mut self, timeout: Duration) -> io::Result<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(Some(status));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            std::thread::sleep(POLL.min(deadline - now));
        }
    }

    /// Sends `signal` to the child; an error once it has been reaped.
    pub fn signal(&self, signal: i32) -> io::Result<()> {
        if self.status.is_some() {
            return Err(io::Error::other("the child has exited and been reaped"));
        }
        let pid = libc::pid_t::try_from(self.child.id()).map_err(io::Error::other)?;
        // SAFETY: kill(2) only sends a signal; `pid` is our own child and
        // it has not been reaped (status is None), so the pid is not reused.
        if unsafe { libc::kill(pid, signal) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Kills the child with SIGKILL (and SIGCONT, should it be stopped:
    /// it cannot run again, but a stopped process is sure to die) and
    /// reaps it; waits at most [`KILL_REAPED_WITHIN`]. Returns the exit
    /// status, or `None` if it was not reaped in time.
    pub fn kill(&mut self) -> Option<ExitStatus> {
        if let Ok(Some(status)) = self.try_wait() {
            return Some(status);
        }
        let _ = self.child.kill();
        let _ = self.signal(libc::SIGCONT);
        self.wait_timeout(KILL_REAPED_WITHIN).ok().flatten()
    }

    /// Stops the child politely: SIGTERM, then SIGKILL if it has not
    /// exited after `grace`. Returns the exit status (`None` if not reaped
    /// even after SIGKILL).
    pub fn stop(&mut self, grace: Duration) -> Option<ExitStatus> {
        stop_all(std::slice::from_mut(self), grace).pop().flatten()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.kill();
        }
    }
}

/// Stops every child of `children` as [`ChildGuard::stop`] does, all at
/// once: SIGTERM to each, then one shared `grace` for them all, then
/// SIGKILL to those still running. Returns their exit statuses, in order.
pub fn stop_all(children: &mut [ChildGuard], grace: Duration) -> Vec<Option<ExitStatus>> {
    for c in children.iter_mut() {
        if c.is_running() {
            let _ = c.signal(libc::SIGTERM);
        }
    }
    let deadline = Instant::now() + grace;
    children
        .iter_mut()
        .map(|c| {
            let left = deadline.saturating_duration_since(Instant::now());
            match c.wait_timeout(left) {
                Ok(Some(status)) => Some(status),
                _ => c.kill(),
            }
        })
        .collect()
}

/// Makes the child of `cmd` receive SIGKILL when the thread that spawned
/// it dies (Linux's `PR_SET_PDEATHSIG`), so that not even an aborted test
/// or demo leaves it running.
pub fn die_with_parent(cmd: &mut Command) -> &mut Command {
    // SAFETY: the closure runs in the child between fork and exec and only
    // calls prctl(2), which is async-signal-safe; it touches no memory of
    // the parent.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;

    use super::*;
    use crate::ms;

    fn sh(script: &str) -> ChildGuard {
        ChildGuard::spawn(Command::new("sh").args(["-c", script]).stdin(Stdio::null())).unwrap()
    }

    /// True while `pid` names a process (or a zombie).
    fn exists(pid: u32) -> bool {
        // SAFETY: signal 0 only checks that the pid exists.
        unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
    }

    /// A shell that ignores SIGTERM, once it has said so.
    fn ignoring_sigterm() -> ChildGuard {
        let mut child = ChildGuard::spawn(
            Command::new("sh")
                .args(["-c", "trap '' TERM; echo ready; exec sleep 30"])
                .stdout(Stdio::piped()),
        )
        .unwrap();
        let lines = child.stdout_lines().expect("piped");
        assert_eq!(lines.next(Duration::from_secs(10)).unwrap(), "ready");
        child
    }

    #[test]
    fn drop_kills_and_reaps_the_child() {
        let child = sh("exec sleep 30");
        let pid = child.pid();
        assert!(exists(pid));
        drop(child);
        assert!(!exists(pid), "reaped, so not even a zombie is left");
    }

    #[test]
    fn wait_timeout_sees_the_exit_and_remembers_it() {
        let mut child = sh("exit 3");
        let status = child.wait_timeout(Duration::from_secs(10)).unwrap().unwrap();
        assert_eq!(status.code(), Some(3));
        assert_eq!(child.status(), Some(status));
        assert!(!child.is_running());
        assert!(child.signal(libc::SIGTERM).is_err(), "no signal after reaping");
        assert_eq!(child.kill(), Some(status));
    }

    #[test]
    fn wait_timeout_returns_none_while_it_runs() {
        let mut child = sh("exec sleep 30");
        let started = Instant::now();
        assert_eq!(child.wait_timeout(ms(50)).unwrap(), None);
        assert!(started.elapsed() >= ms(50));
        assert!(child.is_running());
        let status = child.kill().expect("reaped");
        assert_eq!(status.signal(), Some(libc::SIGKILL));
    }

    #[test]
    fn kill_ends_a_stopped_child() {
        let mut child = sh("exec sleep 30");
        child.signal(libc::SIGSTOP).unwrap();
        assert_eq!(child.kill().and_then(|s| s.signal()), Some(libc::SIGKILL));
    }

    #[test]
    fn stop_lets_the_child_handle_sigterm() {
        let mut child = ChildGuard::spawn(
            Command::new("sh")
                .args([
                    "-c",
                    "trap 'exit 7' TERM; echo ready; while :; do sleep 0.01; done",
                ])
                .stdout(Stdio::piped()),
        )
        .unwrap();
        let lines = child.stdout_lines().expect("piped");
        assert_eq!(
            lines.next(Duration::from_secs(10)).unwrap(),
            "ready",
            "the trap is set"
        );
        let status = child.stop(Duration::from_secs(10)).expect("reaped");
        assert_eq!(status.code(), Some(7));
    }

    #[test]
    fn stop_falls_back_to_sigkill_after_the_grace() {
        let mut child = ignoring_sigterm();
        let started = Instant::now();
        let status = child.stop(ms(200)).expect("reaped");
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        assert!(started.elapsed() >= ms(200));
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn stop_all_shares_one_grace() {
        let mut children: Vec<_> = (0..3).map(|_| ignoring_sigterm()).collect();
        let started = Instant::now();
        let statuses = stop_all(&mut children, ms(500));
        assert!(started.elapsed() >= ms(500));
        assert!(started.elapsed() < ms(1500), "one grace, not three");
        assert!(
            statuses
                .iter()
                .all(|s| s.and_then(|s| s.signal()) == Some(libc::SIGKILL))
        );
    }

    #[test]
    fn stdout_lines_reads_what_the_child_prints() {
        let mut child =
            ChildGuard::spawn(Command::new("printf").arg("one\\ntwo\\n").stdout(Stdio::piped())).unwrap();
        let lines = child.stdout_lines().expect("piped");
        assert!(child.take_stdout().is_none(), "taken");
        let limit = Duration::from_secs(10);
        assert_eq!(lines.next(limit).unwrap(), "one");
        assert_eq!(lines.next(limit).unwrap(), "two");
        assert_eq!(lines.next(limit), Err(crate::LineError::Closed));
        assert!(child.wait_timeout(limit).unwrap().unwrap().success());
    }

    #[test]
    fn die_with_parent_still_spawns() {
        let mut cmd = Command::new("true");
        let mut child = ChildGuard::spawn(die_with_parent(&mut cmd)).unwrap();
        let status = child.wait_timeout(Duration::from_secs(10)).unwrap();
        assert!(status.unwrap().success());
    }
}
