//! A green subprocess: `Command` and `Child` (gevent's `gevent.subprocess`).

use std::cell::{Cell, RefCell};
use std::ffi::OsStr;
use std::fmt;
use std::path::Path;
use std::process::{ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use super::pipe::{ChildStderr, ChildStdin, ChildStdout, PipeReader};
use super::reap::ExitWatch;
use crate::error::{Error, Result};
use crate::greenlet::AnyGreenlet;
use crate::hub::{self, Deadline};
use crate::sys;

/// Builds and spawns a child process whose pipes and exit are waited for
/// cooperatively: a thin wrapper around [`std::process::Command`], whose
/// builder methods it mirrors.
///
/// Descriptors opened by Rust code (std, mio, zgreen) are close-on-exec, so
/// a child inherits only its stdio.
///
/// # Examples
///
/// ```
/// use zgreen::process::Command;
///
/// let out = Command::shell("echo hello; echo oops >&2; exit 3").output().unwrap();
/// assert_eq!(out.stdout, b"hello\n");
/// assert_eq!(out.stderr, b"oops\n");
/// assert_eq!(out.status.code(), Some(3));
/// ```
pub struct Command {
    inner: std::process::Command,
    stdin_set: bool,
    stdout_set: bool,
    stderr_set: bool,
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl From<std::process::Command> for Command {
    /// Wraps a configured standard-library command. Its stdio settings
    /// cannot be read back, so [`output`](Command::output) pipes stdout
    /// and stderr (and nulls stdin) of such a command unconditionally.
    fn from(inner: std::process::Command) -> Command {
        Command {
            inner,
            stdin_set: false,
            stdout_set: false,
            stderr_set: false,
        }
    }
}

impl Command {
    /// A command running `program` (looked up in `PATH`).
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command::from(std::process::Command::new(program))
    }

    /// A command running `script` with `/bin/sh -c` (Python's
    /// `shell=True`).
    pub fn shell(script: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new("/bin/sh");
        c.arg("-c").arg(script);
        c
    }

    /// Adds an argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.inner.arg(arg);
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.inner.args(args);
        self
    }

    /// Sets an environment variable.
    pub fn env(&mut self, key: impl AsRef<OsStr>, val: impl AsRef<OsStr>) -> &mut Command {
        self.inner.env(key, val);
        self
    }

    /// Sets environment variables.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.inner.envs(vars);
        self
    }

    /// Removes an environment variable.
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Command {
        self.inner.env_remove(key);
        self
    }

    /// Starts from an empty environment.
    pub fn env_clear(&mut self) -> &mut Command {
        self.inner.env_clear();
        self
    }

    /// Sets the working directory.
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.inner.current_dir(dir);
        self
    }

    /// Configures the child's stdin (`Stdio::piped()` gives a green
    /// [`ChildStdin`]). Default: inherited by [`spawn`](Self::spawn), null
    /// for [`output`](Self::output).
    pub fn stdin(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.inner.stdin(cfg);
        self.stdin_set = true;
        self
    }

    /// Configures the child's stdout (`Stdio::piped()` gives a green
    /// [`ChildStdout`]). Default: inherited by `spawn`, piped for `output`.
    pub fn stdout(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.inner.stdout(cfg);
        self.stdout_set = true;
        self
    }

    /// Configures the child's stderr. Default: inherited by `spawn`, piped
    /// for `output`.
    pub fn stderr(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.inner.stderr(cfg);
        self.stderr_set = true;
        self
    }

    /// The wrapped standard-library command, for settings not mirrored
    /// here (`uid`, `process_group`, `pre_exec`, ...).
    pub fn as_std_mut(&mut self) -> &mut std::process::Command {
        &mut self.inner
    }

    /// Starts the child. Its piped stdio become green pipe ends in
    /// [`Child::stdin`], [`Child::stdout`] and [`Child::stderr`].
    ///
    /// `fork`/`exec` itself runs on the calling thread (it takes well under
    /// a millisecond; `posix_spawn` is used where possible).
    pub fn spawn(&mut self) -> Result<Child> {
        hub::check_interrupt()?;
        let child = self.inner.spawn()?;
        Child::from_std(child)
    }

    /// Runs the child to completion and collects its stdout and stderr
    /// (piped unless configured otherwise; stdin is null unless
    /// configured).
    pub fn output(&mut self) -> Result<Output> {
        if !self.stdin_set {
            self.inner.stdin(Stdio::null());
        }
        if !self.stdout_set {
            self.inner.stdout(Stdio::piped());
        }
        if !self.stderr_set {
            self.inner.stderr(Stdio::piped());
        }
        self.spawn()?.wait_with_output()
    }

    /// Runs the child to completion (stdio inherited unless configured)
    /// and returns its exit status.
    pub fn status(&mut self) -> Result<ExitStatus> {
        self.spawn()?.wait()
    }
}

/// A running (or finished) child process. Its exit is noticed through a
/// pidfd registered with the hub (or SIGCHLD where pidfds are refused), so
/// [`wait`](Self::wait) parks only the calling greenlet.
///
/// Methods take `&self`: one greenlet may wait while another kills or
/// reads. As with the standard library, dropping a `Child` neither kills
/// nor reaps it.
///
/// ```
/// use std::time::Duration;
/// use zgreen::process::Command;
///
/// let child = Command::new("sleep").arg("10").spawn().unwrap();
/// assert!(child.wait_timeout(Duration::from_millis(20)).unwrap_err().is_timeout());
/// child.kill().unwrap();
/// let status = child.wait().unwrap();
/// use std::os::unix::process::ExitStatusExt;
/// assert_eq!(status.signal(), Some(libc::SIGKILL));
/// ```
pub struct Child {
    /// The child's stdin, if it was piped.
    pub stdin: Option<ChildStdin>,
    /// The child's stdout, if it was piped.
    pub stdout: Option<ChildStdout>,
    /// The child's stderr, if it was piped.
    pub stderr: Option<ChildStderr>,
    inner: RefCell<std::process::Child>,
    watch: ExitWatch,
    status: Cell<Option<ExitStatus>>,
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child")
            .field("pid", &self.id())
            .field("status", &self.status.get())
            .finish()
    }
}

impl Child {
    /// Adopts a child spawned by the standard library: its piped stdio are
    /// taken over as green pipe ends.
    pub fn from_std(mut child: std::process::Child) -> Result<Child> {
        let watch = ExitWatch::new(child.id())?;
        let stdin = child.stdin.take().map(ChildStdin::from_std).transpose()?;
        let stdout = child.stdout.take().map(PipeReader::from_std).transpose()?;
        let stderr = child.stderr.take().map(PipeReader::from_std).transpose()?;
        Ok(Child {
            stdin,
            stdout,
            stderr,
            inner: RefCell::new(child),
            watch,
            status: Cell::new(None),
        })
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.inner.borrow().id()
    }

    /// The exit status if the child has exited (reaping it), without
    /// waiting: [`TryWaitError::Running`] while it runs.
    pub fn try_wait(&self) -> std::result::Result<ExitStatus, TryWaitError> {
        match self.poll_status() {
            Ok(Some(s)) => Ok(s),
            Ok(None) => Err(TryWaitError::Running),
            Err(e) => Err(TryWaitError::Failed(e)),
        }
    }

    fn poll_status(&self) -> Result<Option<ExitStatus>> {
        if let Some(s) = self.status.get() {
            return Ok(Some(s));
        }
        let s = self.inner.borrow_mut().try_wait()?;
        if s.is_some() {
            self.status.set(s);
        }
        Ok(s)
    }

    /// Waits for the child to exit (parking the greenlet) and returns its
    /// status. Unlike the standard library, it does not close `stdin`
    /// first: drop [`stdin`](Self::stdin) yourself if the child reads it to
    /// the end.
    pub fn wait(&self) -> Result<ExitStatus> {
        self.wait_until(None)
    }

    /// [`wait`](Self::wait), failing with `Error::Timeout` if the child is
    /// still running after `timeout` (it is left running).
    pub fn wait_timeout(&self, timeout: Duration) -> Result<ExitStatus> {
        self.wait_until(Some(Deadline::after(timeout)))
    }

    /// [`wait`](Self::wait), failing with `Error::Timeout` if the child is
    /// still running at `deadline`.
    pub fn wait_deadline(&self, deadline: Instant) -> Result<ExitStatus> {
        self.wait_until(Some(Deadline::at(deadline)))
    }

    fn wait_until(&self, deadline: Option<Deadline>) -> Result<ExitStatus> {
        hub::check_interrupt()?;
        loop {
            if let Some(s) = self.poll_status()? {
                return Ok(s);
            }
            self.watch.wait(deadline)?;
        }
    }

    /// Sends `signal` to the child; a no-op once it has been reaped. Uses
    /// the pidfd where there is one, so the signal can never reach a
    /// process that reused the pid.
    pub fn signal(&self, signal: i32) -> Result<()> {
        if self.poll_status()?.is_some() {
            return Ok(());
        }
        let r = match self.watch.pidfd() {
            Some(fd) => sys::pidfd_send_signal(fd, signal),
            // Not reaped (checked above): the pid is still ours.
            None => sys::kill(self.id(), signal),
        };
        match r {
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            r => Ok(r?),
        }
    }

    /// Kills the child with `SIGKILL` (it cannot ignore it). Call
    /// [`wait`](Self::wait) afterwards to reap it.
    pub fn kill(&self) -> Result<()> {
        self.signal(libc::SIGKILL)
    }

    /// Asks the child to terminate with `SIGTERM`.
    pub fn terminate(&self) -> Result<()> {
        self.signal(libc::SIGTERM)
    }

    /// Closes stdin, reads stdout and stderr to the end concurrently, then
    /// waits for the child.
    pub fn wait_with_output(self) -> Result<Output> {
        self.communicate(&[])
    }

    /// Writes `input` to the child's stdin (if piped) and closes it, while
    /// reading stdout and stderr (if piped) to the end in other greenlets,
    /// so neither side can block the other however much data flows; then
    /// waits for the child (gevent's `Popen.communicate`). A child that
    /// exits without reading all of its input is not an error.
    pub fn communicate(mut self, input: &[u8]) -> Result<Output> {
        let mut helpers = Helpers(Vec::new());
        let stdout = self.stdout.take().map(|p| {
            let g = crate::spawn(move || read_all(&p));
            helpers.0.push(g.any());
            g
        });
        let stderr = self.stderr.take().map(|p| {
            let g = crate::spawn(move || read_all(&p));
            helpers.0.push(g.any());
            g
        });
        if let Some(stdin) = self.stdin.take() {
            match stdin.send_all(input) {
                Ok(()) => {}
                Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                Err(e) => return Err(e),
            }
        }
        let stdout = match stdout {
            Some(g) => g.take()??,
            None => Vec::new(),
        };
        let stderr = match stderr {
            Some(g) => g.take()??,
            None => Vec::new(),
        };
        let status = self.wait()?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }
}

fn read_all(p: &PipeReader) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    p.recv_to_end(&mut out)?;
    Ok(out)
}

/// Kills helper greenlets that are still running when their owner leaves
/// early (an error, a kill, a timeout).
struct Helpers(Vec<AnyGreenlet>);

impl Drop for Helpers {
    fn drop(&mut self) {
        for g in &self.0 {
            g.kill_nowait();
        }
    }
}

/// Why [`Child::try_wait`] returned no status.
#[derive(Clone, Debug, thiserror::Error)]
pub enum TryWaitError {
    /// The child is still running.
    #[error("the child is still running")]
    Running,
    /// Asking the kernel failed.
    #[error("{0}")]
    Failed(#[source] Error),
}
