//! The process relay (gevent's `gipc`): run a function registered in this
//! binary in a child process, connected to the parent by a duplex channel
//! of serde_json messages.
//!
//! # How it works
//!
//! * The child is this same executable, started again (`fork` + `exec`,
//!   never a bare `fork` of a threaded process), with environment variables
//!   naming the function and the channel's descriptor. Early in `main`,
//!   [`dispatch`] notices them, runs the function and exits the process.
//! * The channel is one end of a Unix socket pair. The child inherits that
//!   descriptor and nothing else besides stdio: every other descriptor is
//!   made close-on-exec between `fork` and `exec` (`close_range`).
//! * Each message is a frame: a 4-byte big-endian length, then that many
//!   bytes of JSON. Frames longer than the maximum message size are
//!   refused on both sides.
//!
//! # Examples
//!
//! ```no_run
//! use zgreen::process::relay::{self, Relay};
//!
//! fn double(relay: Relay) -> zgreen::Result<()> {
//!     while let Ok(n) = relay.get::<u64>() {
//!         relay.put(&(n * 2))?;
//!     }
//!     Ok(())
//! }
//!
//! fn main() -> zgreen::Result<()> {
//!     relay::register("double", double);
//!     relay::dispatch(); // in the child: runs `double` and exits
//!
//!     let child = relay::spawn("double")?;
//!     child.put(&21u64)?;
//!     assert_eq!(child.get::<u64>()?, 42);
//!     child.close();
//!     assert!(child.join()?.success());
//!     Ok(())
//! }
//! ```

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::ops::Deref;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Child;
use crate::error::{Closed, Error, Result};
use crate::hub::{self, Deadline};
use crate::net::UnixStream;
use crate::sync::Lock;
use crate::sys;

/// The default largest message, in bytes of JSON: 64 MiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 64 << 20;

/// Exit code of a relay child whose function returned an error.
pub const EXIT_FAILED: i32 = 1;
/// Exit code of a relay child whose function panicked.
pub const EXIT_PANICKED: i32 = 101;
/// Exit code of a relay child asked to run a function this binary has not
/// registered (before [`dispatch`] was called).
pub const EXIT_UNKNOWN_FUNCTION: i32 = 97;

/// The environment variable that marks a relay child: `FD:INODE:MAX:NAME`.
const ENV_SPEC: &str = "ZGREEN_RELAY";

/// How many bytes one read asks for.
const READ_CHUNK: usize = 64 * 1024;

/// A function that runs in a relay child: it gets its end of the channel
/// and returns when done (the child then exits with 0, or with
/// [`EXIT_FAILED`] after printing the error).
pub type RelayFn = fn(Relay) -> Result<()>;

/// Relay-specific failures, carried by [`Error::Failed`]; see
/// [`RelayError::of`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// A frame's payload was not valid JSON for the requested type. The
    /// frame was consumed: the next `get` reads the next message.
    #[error("relay: malformed message: {detail}")]
    Malformed {
        /// What serde_json said.
        detail: String,
    },
    /// A message larger than the maximum. On `put`, nothing was sent; on
    /// `get`, the channel cannot be resynchronised and is closed for
    /// reading.
    #[error("relay: message of {bytes} bytes exceeds the maximum of {max} bytes")]
    Oversized {
        /// The message's size in bytes.
        bytes: usize,
        /// The maximum in force.
        max: usize,
    },
    /// A message could not be serialised.
    #[error("relay: cannot serialise message: {detail}")]
    Serialize {
        /// What serde_json said.
        detail: String,
    },
    /// [`spawn`] was asked for a function that was never [`register`]ed.
    #[error(
        "relay: no function named {name:?} is registered (call relay::register before \
         relay::dispatch, at the start of main)"
    )]
    NotRegistered {
        /// The name asked for.
        name: String,
    },
}

impl RelayError {
    /// The relay error inside `err`, if it is one.
    pub fn of(err: &Error) -> Option<&RelayError> {
        match err {
            Error::Failed(e) => e.downcast_ref::<RelayError>(),
            _ => None,
        }
    }
}

fn relay_error(e: RelayError) -> Error {
    Error::Failed(Arc::new(e))
}

fn registry() -> &'static Mutex<HashMap<String, RelayFn>> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, RelayFn>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(HashMap::new()))
}

fn lookup(name: &str) -> Option<RelayFn> {
    registry().lock().ok().and_then(|r| r.get(name).copied())
}

/// Registers `f` under `name`, so that [`spawn`]`(name)` runs it in a
/// child. Register every relay function at the start of `main`, before
/// calling [`dispatch`]: the child runs `main` from the start too.
pub fn register(name: &str, f: RelayFn) {
    if let Ok(mut r) = registry().lock() {
        r.insert(name.to_string(), f);
    }
}

/// What the parent told a relay child.
struct ChildSpec {
    fd: RawFd,
    inode: u64,
    max: usize,
    name: String,
}

fn parse_spec(v: &str) -> Option<ChildSpec> {
    let mut it = v.splitn(4, ':');
    Some(ChildSpec {
        fd: it.next()?.parse().ok()?,
        inode: it.next()?.parse().ok()?,
        max: it.next()?.parse().ok()?,
        name: it.next()?.to_string(),
    })
}

/// In a relay child, runs the function the parent asked for and exits the
/// process with its outcome (0, [`EXIT_FAILED`], [`EXIT_PANICKED`] or
/// [`EXIT_UNKNOWN_FUNCTION`]); anywhere else, returns at once.
///
/// Call it at the start of `main`, after [`register`] and before anything
/// else: the child runs this binary's `main` from the beginning. (A test
/// binary re-executes itself with `--exact NAME` instead, and calls it in
/// the test `NAME`.)
///
/// A process started by a relay child is not mistaken for a relay child
/// itself: the marker names a descriptor (and its inode) that only the
/// relay child holds.
pub fn dispatch() {
    let Some(spec) = std::env::var(ENV_SPEC).ok().and_then(|v| parse_spec(&v)) else {
        return;
    };
    if sys::fd_inode(spec.fd).ok() != Some(spec.inode) {
        // A grandchild that inherited the environment, not the channel.
        return;
    }
    let Some(f) = lookup(&spec.name) else {
        eprintln!("{}", RelayError::NotRegistered { name: spec.name });
        std::process::exit(EXIT_UNKNOWN_FUNCTION);
    };
    // SAFETY: the fd number and its inode come from the parent that created
    // this socket for us (checked just above that the fd is open and is that
    // very socket); nothing else in this process has taken ownership of it.
    let fd = match unsafe { sys::adopt_inherited_fd(spec.fd) } {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!(
                "zgreen relay {}: cannot adopt the channel fd {}: {e}",
                spec.name, spec.fd
            );
            std::process::exit(EXIT_FAILED);
        }
    };
    let code = match Relay::from_fd(fd, spec.max) {
        Err(e) => {
            eprintln!("zgreen relay {}: cannot set up the channel: {e}", spec.name);
            EXIT_FAILED
        }
        Ok(relay) => match std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || f(relay))) {
            Ok(Ok(())) => 0,
            Ok(Err(e)) => {
                eprintln!("zgreen relay {}: {e}", spec.name);
                EXIT_FAILED
            }
            Err(_) => EXIT_PANICKED,
        },
    };
    std::process::exit(code);
}

/// One end of a relay channel: cooperative [`put`](Self::put) and
/// [`get`](Self::get) of serde_json messages.
///
/// Methods take `&self`: one greenlet may `get` while another `put`s.
/// Concurrent `get`s (or `put`s) are served one whole message at a time,
/// first come first served, so frames never interleave.
///
/// A `get` interrupted (timeout, kill) in the middle of a frame keeps what
/// it read: the next `get` continues the same message. A `put` interrupted
/// in the middle of a frame keeps the rest of the frame and sends it before
/// the next message (or on [`flush`](Self::flush)).
pub struct Relay {
    stream: UnixStream,
    max_bytes: Cell<usize>,
    read_lock: Lock,
    write_lock: Lock,
    /// Bytes received and not yet consumed: `rbuf[rpos..]`.
    rbuf: RefCell<Vec<u8>>,
    rpos: Cell<usize>,
    /// A frame not fully sent yet: `wbuf[wpos..]`.
    wbuf: RefCell<Vec<u8>>,
    wpos: Cell<usize>,
    /// Set once an oversized frame made the read side unusable.
    read_broken: RefCell<Option<Error>>,
}

impl fmt::Debug for Relay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Relay")
            .field("fd", &self.stream.as_raw_fd())
            .field("max_bytes", &self.max_bytes.get())
            .finish()
    }
}

impl Relay {
    /// A connected pair of relay ends in this process (for tests, or for
    /// greenlets of different threads: move one end's socket before
    /// wrapping it, with [`Relay::from_fd`]).
    pub fn pair() -> Result<(Relay, Relay)> {
        let (a, b) = UnixStream::pair()?;
        Ok((
            Relay::from_stream(a, DEFAULT_MAX_MESSAGE_BYTES),
            Relay::from_stream(b, DEFAULT_MAX_MESSAGE_BYTES),
        ))
    }

    /// A relay end over a connected stream socket (a Unix socket end, for
    /// example one half of `std::os::unix::net::UnixStream::pair`).
    pub fn from_fd(fd: OwnedFd, max_message_bytes: usize) -> Result<Relay> {
        let stream = UnixStream::from_std(std::os::unix::net::UnixStream::from(fd))?;
        Ok(Relay::from_stream(stream, max_message_bytes))
    }

    fn from_stream(stream: UnixStream, max: usize) -> Relay {
        Relay {
            stream,
            max_bytes: Cell::new(max),
            read_lock: Lock::new(),
            write_lock: Lock::new(),
            rbuf: RefCell::new(Vec::new()),
            rpos: Cell::new(0),
            wbuf: RefCell::new(Vec::new()),
            wpos: Cell::new(0),
            read_broken: RefCell::new(None),
        }
    }

    /// The largest message accepted, in bytes of JSON.
    pub fn max_message_bytes(&self) -> usize {
        self.max_bytes.get()
    }

    /// Changes the largest message accepted (both directions, this end).
    pub fn set_max_message_bytes(&self, max: usize) {
        self.max_bytes.set(max);
    }

    /// Sends `msg`, parking while the channel is full. Fails with
    /// [`RelayError::Oversized`] (nothing sent) if its JSON exceeds the
    /// maximum, and with `Error::Closed` once the other end is gone.
    pub fn put<T: Serialize + ?Sized>(&self, msg: &T) -> Result<()> {
        self.put_until(msg, None)
    }

    /// [`put`](Self::put), failing with `Error::Timeout` after `timeout`.
    pub fn put_timeout<T: Serialize + ?Sized>(&self, msg: &T, timeout: Duration) -> Result<()> {
        self.put_until(msg, Some(Deadline::after(timeout)))
    }

    /// [`put`](Self::put), failing with `Error::Timeout` at `deadline`.
    pub fn put_deadline<T: Serialize + ?Sized>(&self, msg: &T, deadline: Instant) -> Result<()> {
        self.put_until(msg, Some(Deadline::at(deadline)))
    }

    fn put_until<T: Serialize + ?Sized>(&self, msg: &T, deadline: Option<Deadline>) -> Result<()> {
        hub::check_interrupt()?;
        let json = serde_json::to_vec(msg).map_err(|e| {
            relay_error(RelayError::Serialize {
                detail: e.to_string(),
            })
        })?;
        let max = self.max_bytes.get();
        if json.len() > max || u32::try_from(json.len()).is_err() {
            return Err(relay_error(RelayError::Oversized {
                bytes: json.len(),
                max,
            }));
        }
        let _guard = lock(&self.write_lock, deadline)?;
        // Finish a frame an interrupted `put` left behind, so frames stay
        // whole.
        self.send_pending(deadline)?;
        {
            let mut w = self.wbuf.borrow_mut();
            w.clear();
            w.extend_from_slice(&(json.len() as u32).to_be_bytes());
            w.extend_from_slice(&json);
            self.wpos.set(0);
        }
        self.send_pending(deadline)
    }

    /// Sends what is left of a frame an interrupted `put` began.
    pub fn flush(&self) -> Result<()> {
        hub::check_interrupt()?;
        let _guard = lock(&self.write_lock, None)?;
        self.send_pending(None)
    }

    fn send_pending(&self, deadline: Option<Deadline>) -> Result<()> {
        loop {
            let n = {
                let w = self.wbuf.borrow();
                let pos = self.wpos.get();
                if pos >= w.len() {
                    break;
                }
                self.stream
                    .send_deadline(&w[pos..], deadline)
                    .map_err(peer_gone)?
            };
            self.wpos.set(self.wpos.get() + n);
        }
        self.wbuf.borrow_mut().clear();
        self.wpos.set(0);
        Ok(())
    }

    /// Receives the next message, parking until it has arrived whole.
    ///
    /// Fails with `Error::Closed` once the other end has closed (or exited)
    /// and every message it sent has been received (or at once if it died
    /// with messages of ours unread, which resets the channel), with
    /// [`RelayError::Malformed`] for a frame that is not valid JSON for
    /// `T` (the next `get` goes on with the next message), and with
    /// [`RelayError::Oversized`] for a frame above the maximum (the channel
    /// is then closed for reading).
    pub fn get<T: DeserializeOwned>(&self) -> Result<T> {
        self.get_until(None)
    }

    /// [`get`](Self::get), failing with `Error::Timeout` after `timeout`.
    pub fn get_timeout<T: DeserializeOwned>(&self, timeout: Duration) -> Result<T> {
        self.get_until(Some(Deadline::after(timeout)))
    }

    /// [`get`](Self::get), failing with `Error::Timeout` at `deadline`.
    pub fn get_deadline<T: DeserializeOwned>(&self, deadline: Instant) -> Result<T> {
        self.get_until(Some(Deadline::at(deadline)))
    }

    fn get_until<T: DeserializeOwned>(&self, deadline: Option<Deadline>) -> Result<T> {
        hub::check_interrupt()?;
        let _guard = lock(&self.read_lock, deadline)?;
        loop {
            if let Some(e) = &*self.read_broken.borrow() {
                return Err(e.clone());
            }
            if let Some(frame) = self.next_frame()? {
                return serde_json::from_slice(&frame).map_err(|e| {
                    relay_error(RelayError::Malformed {
                        detail: e.to_string(),
                    })
                });
            }
            self.fill(deadline)?;
        }
    }

    /// Takes the next whole frame's payload out of the buffer, if there is
    /// one.
    fn next_frame(&self) -> Result<Option<Vec<u8>>> {
        let mut buf = self.rbuf.borrow_mut();
        let pos = self.rpos.get();
        let avail = &buf[pos..];
        if avail.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([avail[0], avail[1], avail[2], avail[3]]) as usize;
        let max = self.max_bytes.get();
        if len > max {
            let e = relay_error(RelayError::Oversized { bytes: len, max });
            *self.read_broken.borrow_mut() = Some(e.clone());
            let _ = self.stream.shutdown(std::net::Shutdown::Read);
            return Err(e);
        }
        if avail.len() < 4 + len {
            return Ok(None);
        }
        let frame = avail[4..4 + len].to_vec();
        let next = pos + 4 + len;
        if next == buf.len() {
            buf.clear();
            self.rpos.set(0);
        } else if next > READ_CHUNK && next * 2 > buf.len() {
            buf.drain(..next);
            self.rpos.set(0);
        } else {
            self.rpos.set(next);
        }
        Ok(Some(frame))
    }

    /// Reads more bytes into the buffer (parking until some arrive).
    fn fill(&self, deadline: Option<Deadline>) -> Result<()> {
        let mut buf = std::mem::take(&mut *self.rbuf.borrow_mut());
        let r = self.stream.recv_append_deadline(&mut buf, READ_CHUNK, deadline);
        let partial = buf.len() > self.rpos.get();
        *self.rbuf.borrow_mut() = buf;
        // A peer that exits with unread data in its socket resets the
        // connection instead of closing it: the same thing for us.
        match r.map_err(peer_gone)? {
            0 if partial => Err(Error::Closed(Closed::PeerMidMessage)),
            0 => Err(Error::Closed(Closed::Peer)),
            _ => Ok(()),
        }
    }

    /// Shuts the channel down in both directions: the other end's `get`
    /// fails with `Error::Closed` once it has read what was sent.
    pub fn close(&self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

/// A reset or broken connection means the other end is gone: reported as
/// `Error::Closed`, like an orderly close.
fn peer_gone(e: Error) -> Error {
    match &e {
        Error::Io(io)
            if matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
            ) =>
        {
            Error::Closed(Closed::Peer)
        }
        _ => e,
    }
}

/// Takes `lock` within `deadline`.
fn lock(lock: &Lock, deadline: Option<Deadline>) -> Result<crate::sync::LockGuard> {
    match deadline {
        None => lock.acquire(),
        Some(d) => match lock.try_acquire() {
            Ok(g) => Ok(g),
            Err(_) => lock
                .acquire_timeout(d.at.saturating_duration_since(Instant::now()))
                .map_err(|e| {
                    if e.is_call_timeout() {
                        hub::deadline_error(Some(d))
                    } else {
                        e
                    }
                }),
        },
    }
}

/// Starts the function registered as `name` in a child process (see
/// [`Builder`] for options).
pub fn spawn(name: &str) -> Result<RelayChild> {
    Builder::new(name).spawn()
}

/// Options for starting a relay child.
#[derive(Debug)]
pub struct Builder {
    name: String,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    stdout: Option<Stdio>,
    stderr: Option<Stdio>,
    max_message_bytes: usize,
}

impl Builder {
    /// Options for the function registered as `name`.
    pub fn new(name: &str) -> Builder {
        Builder {
            name: name.to_string(),
            args: Vec::new(),
            envs: Vec::new(),
            stdout: None,
            stderr: None,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }

    /// Adds a command-line argument for the re-executed binary (a test
    /// binary needs `--exact TEST --nocapture` to reach the test that calls
    /// [`dispatch`]).
    pub fn arg(mut self, arg: impl Into<OsString>) -> Builder {
        self.args.push(arg.into());
        self
    }

    /// Adds command-line arguments (see [`arg`](Self::arg)).
    pub fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, args: I) -> Builder {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable for the child.
    pub fn env(mut self, key: impl Into<OsString>, val: impl Into<OsString>) -> Builder {
        self.envs.push((key.into(), val.into()));
        self
    }

    /// The child's stdout (default: inherited).
    pub fn stdout(mut self, cfg: impl Into<Stdio>) -> Builder {
        self.stdout = Some(cfg.into());
        self
    }

    /// The child's stderr (default: inherited).
    pub fn stderr(mut self, cfg: impl Into<Stdio>) -> Builder {
        self.stderr = Some(cfg.into());
        self
    }

    /// The largest message either end accepts (default
    /// [`DEFAULT_MAX_MESSAGE_BYTES`]).
    pub fn max_message_bytes(mut self, max: usize) -> Builder {
        self.max_message_bytes = max;
        self
    }

    /// Starts the child: this executable again, with its stdin null, and
    /// only stdio and its end of the channel open.
    pub fn spawn(self) -> Result<RelayChild> {
        hub::check_interrupt()?;
        if lookup(&self.name).is_none() {
            return Err(relay_error(RelayError::NotRegistered { name: self.name }));
        }
        let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
        let theirs = OwnedFd::from(theirs);
        let fd = theirs.as_raw_fd();
        let inode = sys::fd_inode(fd)?;
        let exe = std::env::current_exe()?;
        let mut cmd = std::process::Command::new(exe);
        cmd.args(&self.args)
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .env(
                ENV_SPEC,
                format!("{fd}:{inode}:{}:{}", self.max_message_bytes, self.name),
            )
            .stdin(Stdio::null());
        if let Some(s) = self.stdout {
            cmd.stdout(s);
        }
        if let Some(s) = self.stderr {
            cmd.stderr(s);
        }
        // SAFETY: the hook runs in the forked child before exec and only
        // calls `keep_only_fd_across_exec`, which makes async-signal-safe
        // system calls and does not allocate; `fd` is open in the child
        // (`theirs` is alive in the parent until after `spawn` returns).
        unsafe {
            cmd.pre_exec(move || sys::keep_only_fd_across_exec(fd));
        }
        let child = super::Command::from(cmd).spawn()?;
        drop(theirs);
        let relay = Relay::from_stream(UnixStream::from_std(ours)?, self.max_message_bytes);
        Ok(RelayChild {
            relay,
            child,
            name: self.name,
        })
    }
}

/// A relay child process and the parent's end of its channel
/// (dereferences to [`Relay`] for `put`/`get`).
pub struct RelayChild {
    relay: Relay,
    child: Child,
    name: String,
}

impl fmt::Debug for RelayChild {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RelayChild")
            .field("name", &self.name)
            .field("pid", &self.child.id())
            .finish()
    }
}

impl Deref for RelayChild {
    type Target = Relay;
    fn deref(&self) -> &Relay {
        &self.relay
    }
}

impl RelayChild {
    /// The registered name of the function the child runs.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The parent's end of the channel.
    pub fn relay(&self) -> &Relay {
        &self.relay
    }

    /// The child process.
    pub fn child(&self) -> &Child {
        &self.child
    }

    /// Waits for the child to exit and returns its status.
    pub fn join(&self) -> Result<ExitStatus> {
        self.child.wait()
    }

    /// [`join`](Self::join), failing with `Error::Timeout` after `timeout`.
    pub fn join_timeout(&self, timeout: Duration) -> Result<ExitStatus> {
        self.child.wait_timeout(timeout)
    }

    /// [`join`](Self::join), failing with `Error::Timeout` at `deadline`.
    pub fn join_deadline(&self, deadline: Instant) -> Result<ExitStatus> {
        self.child.wait_deadline(deadline)
    }

    /// The child's exit code, once it has exited normally (`None` while it
    /// runs, or if a signal ended it).
    pub fn exit_code(&self) -> Option<i32> {
        self.child.try_wait().ok().and_then(|s| s.code())
    }

    /// Asks the child to stop (`SIGTERM`); [`join`](Self::join) to reap it.
    pub fn terminate(&self) -> Result<()> {
        self.child.terminate()
    }

    /// Kills the child (`SIGKILL`); [`join`](Self::join) to reap it.
    pub fn kill(&self) -> Result<()> {
        self.child.kill()
    }
}
