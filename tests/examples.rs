//! Runs the example programs (`cargo run --example NAME`) and checks what
//! they print, and checks that every code block of `docs/tutorial.md` is an
//! excerpt of an example.
//!
//! The examples are built by `cargo test` / `cargo nextest` before the
//! tests run; this file only runs the binaries, each under a deadline.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

mod common;
use common::example_path;

/// How long any example may run before the test kills it and fails.
const DEADLINE: Duration = Duration::from_secs(20);

/// A running example: its stdout as a stream of lines, its stderr
/// collected by a thread.
struct Running {
    name: String,
    child: Child,
    lines: Receiver<String>,
    stdout_seen: Vec<String>,
    stdout_reader: Option<JoinHandle<()>>,
    stderr_reader: Option<JoinHandle<String>>,
}

/// What a finished example printed.
struct Finished {
    status: ExitStatus,
    stdout: Vec<String>,
    stderr: String,
}

impl Running {
    fn start(name: &str) -> Running {
        let mut child = Command::new(example_path(name))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start example {name}: {e}"));
        let (tx, lines) = mpsc::channel();
        let stdout: ChildStdout = child.stdout.take().expect("piped stdout");
        let stdout_reader = thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut stderr = child.stderr.take().expect("piped stderr");
        let stderr_reader = thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        Running {
            name: name.to_string(),
            child,
            lines,
            stdout_seen: Vec::new(),
            stdout_reader: Some(stdout_reader),
            stderr_reader: Some(stderr_reader),
        }
    }

    /// Reads stdout until a line satisfies `pred` (returned), failing the
    /// test if none comes within `timeout`.
    fn wait_for_line(&mut self, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.stdout_seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.kill_and_fail(&format!("no expected line within {timeout:?}"))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.kill_and_fail("stdout closed before the expected line")
                }
            }
        }
    }

    fn kill_and_fail(&mut self, why: &str) -> ! {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let out = self.collect();
        panic!(
            "example {}: {why}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.name,
            out.0.join("\n"),
            out.1
        );
    }

    /// Everything printed so far (the child must have exited or been
    /// killed, so the reader threads end).
    fn collect(&mut self) -> (Vec<String>, String) {
        if let Some(h) = self.stdout_reader.take() {
            let _ = h.join();
        }
        self.stdout_seen.extend(self.lines.try_iter());
        let stderr = self
            .stderr_reader
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        (self.stdout_seen.clone(), stderr)
    }

    /// Waits for the example to exit within `timeout` (polling
    /// `try_wait`); kills it and fails the test otherwise.
    fn finish(mut self, timeout: Duration) -> Finished {
        let deadline = Instant::now() + timeout;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() >= deadline => {
                    self.kill_and_fail(&format!("still running after {timeout:?}"))
                }
                Ok(None) => thread::sleep(Duration::from_millis(5)),
                Err(e) => self.kill_and_fail(&format!("try_wait failed: {e}")),
            }
        };
        let (stdout, stderr) = self.collect();
        Finished {
            status,
            stdout,
            stderr,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Never leave a child behind, whatever failed.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs an example to completion and checks it exited with status 0.
fn run_ok(name: &str) -> Finished {
    let out = Running::start(name).finish(DEADLINE);
    assert!(
        out.status.success(),
        "example {name} exited with {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        out.stdout.join("\n"),
        out.stderr
    );
    out
}

fn assert_lines(name: &str, out: &Finished, expected: &[&str]) {
    assert_eq!(
        out.stdout, expected,
        "stdout of example {name}; stderr:\n{}",
        out.stderr
    );
}

#[test]
fn switch() {
    let out = run_ok("switch");
    assert_lines(
        "switch",
        &out,
        &[
            "Running in foo",
            "Explicit context to bar",
            "Explicit context switch to foo again",
            "Implicit context switch back to bar",
        ],
    );
}

/// One half of sync_async's output: its task numbers in printed order and
/// its elapsed time.
struct Half {
    tasks: Vec<u32>,
    millis: f64,
}

/// Splits sync_async's stdout into its synchronous and asynchronous halves.
fn parse_sync_async(stdout: &[String]) -> (Half, Half) {
    let mut halves = Vec::new();
    let mut lines = stdout.iter();
    for header in ["Synchronous", "Asynchronous"] {
        assert_eq!(
            lines.next().map(String::as_str),
            Some(&*format!("{header}:")),
            "{stdout:#?}"
        );
        let mut tasks = Vec::new();
        let millis = loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("{header} half ends early: {stdout:#?}"));
            if let Some(n) = line.strip_prefix("Task ").and_then(|l| l.strip_suffix(" done")) {
                tasks.push(n.parse::<u32>().unwrap_or_else(|_| panic!("bad line {line:?}")));
            } else if let Some(t) = line
                .strip_prefix(&format!("{header} took "))
                .and_then(|l| l.strip_suffix(" ms"))
            {
                break t.parse::<f64>().unwrap_or_else(|_| panic!("bad line {line:?}"));
            } else {
                panic!("unexpected line {line:?} in {stdout:#?}");
            }
        };
        halves.push(Half { tasks, millis });
    }
    assert_eq!(lines.next(), None, "{stdout:#?}");
    let asynchronous = halves.pop().unwrap();
    let synchronous = halves.pop().unwrap();
    (synchronous, asynchronous)
}

#[test]
fn sync_async() {
    let all: Vec<u32> = (1..=10).collect();
    // The sleeps are random (0, 1 or 2 ms each): in the rare run where at
    // most one task sleeps at all, both halves take about as long. Three
    // runs make a false failure practically impossible.
    let mut timings = Vec::new();
    for _ in 0..3 {
        let out = run_ok("sync_async");
        let (sync, asy) = parse_sync_async(&out.stdout);
        assert_eq!(sync.tasks, all, "synchronous tasks run in order");
        let mut sorted = asy.tasks.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, all, "every asynchronous task runs once");
        if asy.millis < sync.millis {
            return;
        }
        timings.push((sync.millis, asy.millis));
    }
    panic!("the asynchronous half was never faster (sync ms, async ms): {timings:?}");
}

#[test]
fn spawn_patterns() {
    let out = run_ok("spawn_patterns");
    assert_lines("spawn_patterns", &out, &["Hello", "I live!", "Hi there!"]);
}

#[test]
fn greenlet_state() {
    let out = run_ok("greenlet_state");
    // The loser's exception, e.g.
    // `greenlet #2 panicked at examples/greenlet_state.rs:9:5: You fail at failing.`
    let panic_line = out.stdout.get(8).cloned().unwrap_or_default();
    assert!(
        panic_line.starts_with("greenlet #")
            && panic_line.contains(" panicked at examples/greenlet_state.rs:")
            && panic_line.ends_with(": You fail at failing."),
        "the loser's exception: {panic_line:?}"
    );
    assert_lines(
        "greenlet_state",
        &out,
        &[
            "true",
            "true",
            r#"Some("You win!")"#,
            "None",
            "true",
            "true",
            "true",
            "false",
            &panic_line,
        ],
    );
    assert_eq!(
        out.stderr.matches("You fail at failing.").count(),
        1,
        "the panic is reported exactly once on stderr:\n{}",
        out.stderr
    );
    assert!(
        out.stderr.lines().any(|l| l == panic_line),
        "stderr reports the same error as exception():\n{}",
        out.stderr
    );
}

#[test]
fn timeouts() {
    let out = run_ok("timeouts");
    assert_lines(
        "timeouts",
        &out,
        &[
            "Could not complete",
            "TooLong raised: took too long",
            "Thread 1 timed out",
            "Thread 2 timed out",
            "Thread 3 timed out",
            "join_timeout: timed out after 100ms",
            "get_timeout: timed out after 50ms",
            "get_timeout: finished in time",
        ],
    );
}

#[test]
fn shutdown_signal() {
    let mut running = Running::start("shutdown_signal");
    let ready = running.wait_for_line(DEADLINE, |l| l.starts_with("waiting for SIGQUIT"));
    let pid = running.child.id();
    assert_eq!(ready, format!("waiting for SIGQUIT (pid {pid})"));

    let pid = i32::try_from(pid).expect("pid fits in pid_t");
    // SAFETY: kill(2) only sends a signal; `pid` is our own child, which
    // has not been waited for, so the pid cannot have been reused.
    let rc = unsafe { libc::kill(pid, libc::SIGQUIT) };
    assert_eq!(rc, 0, "kill -QUIT {pid}: {}", std::io::Error::last_os_error());

    let out = running.finish(Duration::from_secs(5));
    assert!(
        out.status.success(),
        "shutdown_signal exited with {}\n--- stderr ---\n{}",
        out.status,
        out.stderr
    );
    assert_lines(
        "shutdown_signal",
        &out,
        &[&ready, "run_forever was killed; exiting cleanly"],
    );
}

/// The fenced code blocks of a Markdown file, each with the example named
/// by the `<!-- example: NAME -->` comment right before it (if any) and its
/// first line number.
fn marked_blocks(markdown: &str) -> Vec<(Option<String>, usize, Vec<String>)> {
    let mut blocks = Vec::new();
    let mut marker: Option<String> = None;
    let mut lines = markdown.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("<!--") {
            marker = rest
                .strip_suffix("-->")
                .and_then(|c| c.trim().strip_prefix("example:"))
                .map(|n| n.trim().to_string());
            continue;
        }
        if let Some(fence) = ["```", "~~~"].into_iter().find(|f| trimmed.starts_with(f)) {
            let mut body = Vec::new();
            let mut closed = false;
            for (_, l) in lines.by_ref() {
                if l.trim() == fence {
                    closed = true;
                    break;
                }
                body.push(l.trim_end().to_string());
            }
            assert!(closed, "docs/tutorial.md:{}: unclosed code block", i + 1);
            blocks.push((marker.take(), i + 1, body));
            continue;
        }
        if !trimmed.is_empty() {
            // A marker only applies to the block right after it.
            marker = None;
        }
    }
    blocks
}

#[test]
fn tutorial_snippets_match_examples() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/tutorial.md")).expect("docs/tutorial.md");
    let blocks = marked_blocks(&doc);
    assert!(!blocks.is_empty(), "docs/tutorial.md has no code blocks");
    let mut problems = Vec::new();
    for (marker, line, body) in blocks {
        let Some(name) = marker else {
            problems.push(format!(
                "docs/tutorial.md:{line}: code block without an `<!-- example: NAME -->` marker"
            ));
            continue;
        };
        if body.iter().all(|l| l.is_empty()) {
            problems.push(format!("docs/tutorial.md:{line}: empty code block"));
            continue;
        }
        let path = root.join("examples").join(format!("{name}.rs"));
        let Ok(source) = std::fs::read_to_string(&path) else {
            problems.push(format!(
                "docs/tutorial.md:{line}: no example file {}",
                path.display()
            ));
            continue;
        };
        let source: Vec<&str> = source.lines().map(str::trim_end).collect();
        if !source.windows(body.len()).any(|w| w == body.as_slice()) {
            problems.push(format!(
                "docs/tutorial.md:{line}: block is not a contiguous excerpt of examples/{name}.rs"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
