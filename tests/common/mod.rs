//! Helpers shared by the integration tests: [`bounded`], a test body
//! under a time limit; and for the test files that run the built
//! examples, where a binary is and [`Running`], an example run under a
//! deadline whose output is drained by threads (so a chatty child never
//! blocks on a full pipe) and which is killed if it overstays.

// Each test file uses only some of these helpers.
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::fmt::Debug;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::rc::Rc;
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use zgreen_harness::{ChildGuard, LineError, Lines};

/// How long an example's pipes may stay open after it has ended (or been
/// killed) before the test gives up reading them.
const PIPES_CLOSE_WITHIN: Duration = Duration::from_secs(10);

/// `target/<profile>/examples/<name>`, found from this test's own path
/// (`target/<profile>/deps/examples-<hash>`).
pub fn example_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps");
    let path = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "example binary {} is missing: run `cargo build --examples` first \
         (plain `cargo test` builds the examples, `cargo test --test examples` does not)",
        path.display()
    );
    // A binary older than its source would test stale code.
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("examples/{name}.rs"));
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if let (Some(src), Some(bin)) = (modified(&source), modified(&path)) {
        assert!(
            bin >= src,
            "example binary {} is older than {}: run `cargo build --examples`",
            path.display(),
            source.display()
        );
    }
    path
}

/// A running example: its stdout as a stream of lines, its stderr
/// collected by a thread (or inherited). Dropping it kills the child if it
/// still runs (its [`ChildGuard`] does).
pub struct Running {
    name: String,
    child: ChildGuard,
    started: Instant,
    lines: Lines,
    /// The stdout lines read so far.
    seen: Vec<String>,
    /// All of stderr, sent when the pipe closes; `None` when inherited.
    stderr: Option<Receiver<String>>,
}

/// Starts server example `name` on a free port (`127.0.0.1:0`) and
/// waits for its `Serving on http://ADDR/` line; returns it and the
/// address.
pub fn serving_example(name: &str) -> (Running, std::net::SocketAddr) {
    serving_example_with(name, &["127.0.0.1:0"])
}

/// [`serving_example`] with these arguments.
pub fn serving_example_with(name: &str, args: &[&str]) -> (Running, std::net::SocketAddr) {
    let mut r = Running::start_inheriting_stderr(name, args);
    let line = r
        .next_line(Instant::now() + Duration::from_secs(30))
        .expect("a first line");
    let addr = line
        .strip_prefix("Serving on http://")
        .and_then(|l| l.strip_suffix('/'))
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .unwrap_or_else(|e| panic!("bad address in {line:?}: {e}"));
    (r, addr)
}

/// What a finished example printed.
#[derive(Debug)]
pub struct Finished {
    pub name: String,
    pub status: ExitStatus,
    pub stdout: Vec<String>,
    pub stderr: String,
}

impl Finished {
    /// Fails the test unless the example exited with status 0.
    pub fn assert_success(&self) {
        assert!(
            self.status.success(),
            "example {} exited with {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.name,
            self.status,
            self.stdout.join("\n"),
            self.stderr
        );
    }

    /// Fails the test unless stdout is exactly `expected`.
    pub fn assert_stdout(&self, expected: &[&str]) {
        assert_eq!(
            self.stdout, expected,
            "stdout of example {}; stderr:\n{}",
            self.name, self.stderr
        );
    }
}

/// Runs example `name` (no arguments) to completion, killing it and
/// failing the test if it runs longer than `timeout`, and checks that it
/// exited with status 0.
pub fn run_ok(name: &str, timeout: Duration) -> Finished {
    let running = Running::start(name, &[]);
    let deadline = running.started() + timeout;
    let out = running.finish(deadline);
    out.assert_success();
    out
}

impl Running {
    /// Starts example `name` with `args`; its stderr is collected.
    pub fn start(name: &str, args: &[&str]) -> Running {
        Running::spawn(name, args, Stdio::piped())
    }

    /// [`start`](Self::start), but the example writes to the test's own
    /// stderr (which the test runner shows with a failure).
    pub fn start_inheriting_stderr(name: &str, args: &[&str]) -> Running {
        Running::spawn(name, args, Stdio::inherit())
    }

    fn spawn(name: &str, args: &[&str], stderr: Stdio) -> Running {
        let mut child = ChildGuard::spawn(
            Command::new(example_path(name))
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(stderr),
        )
        .unwrap_or_else(|e| panic!("cannot start example {name}: {e}"));
        let lines = child.stdout_lines().expect("piped stdout");
        let stderr = child.take_stderr().map(|mut pipe| {
            let (tx, all) = mpsc::channel();
            thread::spawn(move || {
                let mut s = String::new();
                let _ = pipe.read_to_string(&mut s);
                let _ = tx.send(s);
            });
            all
        });
        Running {
            name: name.to_string(),
            child,
            started: Instant::now(),
            lines,
            seen: Vec::new(),
            stderr,
        }
    }

    /// When the example was started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The example's process id.
    pub fn id(&self) -> u32 {
        self.child.pid()
    }

    /// The stdout lines read so far.
    pub fn seen(&self) -> &[String] {
        &self.seen
    }

    /// The next stdout line, or `None` once stdout is closed; kills the
    /// example and fails the test if none comes before `deadline`.
    pub fn next_line(&mut self, deadline: Instant) -> Option<String> {
        match self.lines.next_before(deadline) {
            Ok(line) => {
                self.seen.push(line.clone());
                Some(line)
            }
            Err(LineError::Timeout) => self.fail("no line before the deadline"),
            Err(LineError::Closed) => None,
        }
    }

    /// Reads stdout until a line satisfies `pred` (returned); kills the
    /// example and fails the test if none comes before `deadline`.
    pub fn wait_for_line(&mut self, deadline: Instant, pred: impl Fn(&str) -> bool) -> String {
        loop {
            match self.next_line(deadline) {
                Some(line) if pred(&line) => return line,
                Some(_) => {}
                None => self.fail("stdout closed before the expected line"),
            }
        }
    }

    /// The stdout lines printed since the last read, without waiting.
    pub fn printed_now(&mut self) -> Vec<String> {
        let new = self.lines.ready();
        self.seen.extend(new.iter().cloned());
        new
    }

    /// Sends `signal` to the example.
    pub fn signal(&self, signal: i32) {
        let pid = self.child.pid();
        if let Err(e) = self.child.signal(signal) {
            panic!("kill {pid}: {e}");
        }
    }

    /// Waits for the example to exit before `deadline` (polling
    /// `try_wait`) and reads the rest of its output; kills it and fails
    /// the test if it overstays.
    pub fn finish(mut self, deadline: Instant) -> Finished {
        let left = deadline.saturating_duration_since(Instant::now());
        let status = match self.child.wait_timeout(left) {
            Ok(Some(status)) => status,
            Ok(None) => self.fail("still running at the deadline"),
            Err(e) => self.fail(&format!("try_wait failed: {e}")),
        };
        match self.drain() {
            Ok(stderr) => Finished {
                name: self.name.clone(),
                status,
                stdout: std::mem::take(&mut self.seen),
                stderr,
            },
            Err(why) => self.report(&why, "(not read)"),
        }
    }

    /// Reads what is left of the output once the example has ended: the
    /// rest of stdout (into `seen`), then all of stderr. Fails if a pipe
    /// is still open after [`PIPES_CLOSE_WITHIN`].
    fn drain(&mut self) -> Result<String, String> {
        let deadline = Instant::now() + PIPES_CLOSE_WITHIN;
        let left = || deadline.saturating_duration_since(Instant::now());
        loop {
            match self.lines.next(left()) {
                Ok(line) => self.seen.push(line),
                Err(LineError::Closed) => break,
                Err(LineError::Timeout) => {
                    return Err("stdout still open after the example ended".into());
                }
            }
        }
        match &self.stderr {
            None => Ok("(inherited: see the test's output)".into()),
            Some(all) => all
                .recv_timeout(left())
                .map_err(|_| "stderr still open after the example ended".into()),
        }
    }

    /// Kills the example and fails the test with `why` and its output.
    fn fail(&mut self, why: &str) -> ! {
        self.child.kill();
        let stderr = self.drain().unwrap_or_else(|e| e);
        self.report(why, &stderr)
    }

    fn report(&self, why: &str, stderr: &str) -> ! {
        panic!(
            "example {}: {why}\n--- stdout ---\n{}\n--- stderr ---\n{stderr}",
            self.name,
            self.seen.join("\n")
        );
    }
}

/// How long a test body may run under [`bounded`].
pub const BODY_LIMIT: Duration = Duration::from_secs(20);

/// How much longer than its limit a stuck body runs before the
/// [`Watchdog`](zgreen_harness::Watchdog) aborts the test process.
const WATCHDOG_GRACE: Duration = Duration::from_secs(10);

/// Runs test body `f` within [`BODY_LIMIT`]; see [`bounded_by`].
pub fn bounded(f: impl FnOnce() -> zgreen::Result<()>) {
    bounded_by(BODY_LIMIT, f);
}

/// Runs test body `f` within `limit`, failing the test if it returns an
/// error or overruns: `zgreen::with_timeout` interrupts it at its next
/// green wait, and should it be stuck where no green timeout reaches (a
/// blocking call, a busy loop), a watchdog aborts the test process
/// [`WATCHDOG_GRACE`] later. A stuck test fails; it never hangs.
pub fn bounded_by(limit: Duration, f: impl FnOnce() -> zgreen::Result<()>) {
    let what = format!("test {}", thread::current().name().unwrap_or("body"));
    let _watchdog = zgreen_harness::Watchdog::arm(limit + WATCHDOG_GRACE, what);
    zgreen::with_timeout(limit, f).expect("test body failed or overran its time limit");
}

/// Spawns `f` with its own clone of `shared` (a queue, an event, a
/// lock...), the test's other handle staying with the caller.
pub fn spawn_with<S: Clone + 'static, T: 'static>(
    shared: &S,
    f: impl FnOnce(S) -> T + 'static,
) -> zgreen::Greenlet<T> {
    let shared = shared.clone();
    zgreen::spawn(move || f(shared))
}

/// [`spawn_with`], then sleeps `settle` so that the new greenlet runs and
/// parks in its blocking call before the test goes on.
pub fn spawn_parked<S: Clone + 'static, T: 'static>(
    shared: &S,
    settle: Duration,
    f: impl FnOnce(S) -> T + 'static,
) -> zgreen::Result<zgreen::Greenlet<T>> {
    let g = spawn_with(shared, f);
    zgreen::sleep(settle)?;
    Ok(g)
}

/// Parks `wait` in a greenlet of its own ([`spawn_parked`]), kills it, and
/// checks that the wait failed with `Error::Killed`.
#[track_caller]
pub fn kill_parked_waiter<S: Clone + 'static, T: Clone + Debug + 'static>(
    shared: &S,
    settle: Duration,
    wait: impl FnOnce(S) -> zgreen::Result<T> + 'static,
) -> zgreen::Result<()> {
    kill_expecting_killed(&spawn_parked(shared, settle, wait)?)
}

/// Kills `g` and checks that what it ran failed with `Error::Killed`.
#[track_caller]
pub fn kill_expecting_killed<T: Clone + Debug + 'static>(
    g: &zgreen::Greenlet<zgreen::Result<T>>,
) -> zgreen::Result<()> {
    g.kill()?;
    let got = g.get()?;
    assert!(
        matches!(got, Err(zgreen::Error::Killed)),
        "a killed greenlet: {got:?}"
    );
    Ok(())
}

/// The order in which greenlets did something: their indices.
pub type Order = Rc<RefCell<Vec<usize>>>;

/// Spawns `n` greenlets, the `i`th calling `wait` on its own clone of
/// `shared` and then logging `i` in the returned [`Order`] (so the log
/// shows the order in which the waits returned); each greenlet returns
/// what its wait returned.
pub fn spawn_logging_waiters<S: Clone + 'static, T: 'static>(
    n: usize,
    shared: &S,
    wait: impl Fn(&S) -> zgreen::Result<T> + Clone + 'static,
) -> (Vec<zgreen::Greenlet<zgreen::Result<T>>>, Order) {
    let order = Order::default();
    let waiters = (0..n)
        .map(|i| {
            let (shared, order, wait) = (shared.clone(), order.clone(), wait.clone());
            zgreen::spawn(move || {
                let got = wait(&shared)?;
                order.borrow_mut().push(i);
                Ok(got)
            })
        })
        .collect();
    (waiters, order)
}

/// Fails the test unless `min <= took < max`.
#[track_caller]
pub fn assert_took_between(took: Duration, min: Duration, max: Duration) {
    assert!(
        took >= min && took < max,
        "took {took:?}, not in [{min:?}, {max:?})"
    );
}

/// Fails the test unless `r` is an `Error::Timeout`: a timed wait that ran
/// out fails with an error (it does not return `Ok(false)`).
#[track_caller]
pub fn assert_timed_out<T>(r: zgreen::Result<T>) {
    match r {
        Ok(_) => panic!("a timeout is an Error::Timeout, got Ok"),
        Err(e) => assert!(e.is_timeout(), "a timeout is an Error::Timeout, got {e:?}"),
    }
}

/// Counts the greenlets inside a section at once, and the most there ever
/// were; clones count together.
#[derive(Clone, Debug, Default)]
pub struct Concurrency {
    inside: Rc<Cell<usize>>,
    peak: Rc<Cell<usize>>,
}

impl Concurrency {
    /// Runs `section`, counted inside while it runs (and no longer if it
    /// returns).
    pub fn run<T>(&self, section: impl FnOnce() -> T) -> T {
        self.inside.set(self.inside.get() + 1);
        self.peak.set(self.peak.get().max(self.inside.get()));
        let out = section();
        self.inside.set(self.inside.get() - 1);
        out
    }

    /// The most greenlets that were inside at once.
    pub fn peak(&self) -> usize {
        self.peak.get()
    }
}

/// A greenlet sending `n` numbered messages (`0..n`, each a little-endian
/// `u32`) on `socket`, and the count of those sent so far.
#[cfg(feature = "zmq")]
pub fn spawn_counting_sender(
    socket: zgreen::zmq::Socket,
    n: u32,
) -> (zgreen::Greenlet<zgreen::Result<()>>, Rc<Cell<u32>>) {
    let sent = Rc::new(Cell::new(0));
    let count = sent.clone();
    let sender = zgreen::spawn(move || {
        for i in 0..n {
            socket.send(i.to_le_bytes(), 0)?;
            count.set(i + 1);
        }
        Ok(())
    });
    (sender, sent)
}

/// Socket `a` of `ctx` bound to `ep` and socket `b` connected to it, the
/// send high-water mark of `a` and the receive one of `b` set to `hwm`
/// first.
#[cfg(feature = "zmq")]
pub fn zmq_pair_with_hwm(
    ctx: &zgreen::zmq::Context,
    (a, b): (zmq::SocketType, zmq::SocketType),
    ep: &str,
    hwm: i32,
) -> (zgreen::zmq::Socket, zgreen::zmq::Socket) {
    let (a, b) = (ctx.socket(a).unwrap(), ctx.socket(b).unwrap());
    a.set_sndhwm(hwm).unwrap();
    b.set_rcvhwm(hwm).unwrap();
    a.bind(ep).unwrap();
    b.connect(&a.last_endpoint().unwrap()).unwrap();
    (a, b)
}

/// A multipart message as its frames.
pub type Frames = Vec<Vec<u8>>;

/// Message `i` of an interop exchange: one to five frames, with empty
/// frames (first, middle or last) in three of four messages and a frame
/// of up to 6 kB in some.
pub fn interop_message(i: usize) -> Frames {
    let mut frames = vec![format!("msg {i}").into_bytes()];
    match i % 4 {
        0 => {}
        1 => frames.push(Vec::new()),
        2 => {
            frames.push(Vec::new());
            frames.push(vec![i as u8; i % 7 * 1000]);
        }
        _ => {
            frames.insert(0, Vec::new());
            frames.push(vec![b'x'; 100]);
            frames.push(Vec::new());
        }
    }
    frames
}

/// The reply to a message of an interop exchange: its frames in reverse
/// order.
pub fn reversed(frames: &[Vec<u8>]) -> Frames {
    frames.iter().rev().cloned().collect()
}
