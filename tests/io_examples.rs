//! Runs the I/O examples (`select`, `subprocess`, `process_relay`,
//! `stream_server`, `echo_server`) and checks what they print; the servers
//! are tested with real client connections over loopback.
//!
//! The example binaries are built by `cargo test` (not by
//! `cargo test --test io_examples` alone): a missing binary fails the test.
//! Every child runs under a deadline and is killed if it overstays; its
//! stdout and stderr are drained by threads, so a chatty child never
//! blocks on a full pipe.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

mod common;
use common::example_path;

/// How long any example may run before the test kills it and fails.
const DEADLINE: Duration = Duration::from_secs(30);

/// A running example: stdout as a stream of lines, stderr collected by a
/// thread. Dropping it kills the child if it still runs.
struct Running {
    name: String,
    child: Child,
    started: Instant,
    lines: Receiver<String>,
    seen: Vec<String>,
    stdout_reader: Option<JoinHandle<()>>,
    stderr_reader: Option<JoinHandle<String>>,
}

struct Finished {
    status: ExitStatus,
    stdout: Vec<String>,
    stderr: String,
}

impl Running {
    fn start(name: &str, args: &[&str]) -> Running {
        let mut child = Command::new(example_path(name))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start example {name}: {e}"));
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
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
            started: Instant::now(),
            lines,
            seen: Vec::new(),
            stdout_reader: Some(stdout_reader),
            stderr_reader: Some(stderr_reader),
        }
    }

    /// Reads stdout until a line satisfies `pred` (returned); fails the
    /// test if none comes before the deadline.
    fn wait_for_line(&mut self, pred: impl Fn(&str) -> bool) -> String {
        loop {
            let left = DEADLINE.saturating_sub(self.started.elapsed());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => self.fail("no expected line before the deadline"),
                Err(RecvTimeoutError::Disconnected) => self.fail("stdout closed before the expected line"),
            }
        }
    }

    fn fail(&mut self, why: &str) -> ! {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (out, err) = self.collect();
        panic!(
            "example {}: {why}\n--- stdout ---\n{}\n--- stderr ---\n{err}",
            self.name,
            out.join("\n")
        );
    }

    /// Everything printed (the child has exited or been killed).
    fn collect(&mut self) -> (Vec<String>, String) {
        if let Some(h) = self.stdout_reader.take() {
            let _ = h.join();
        }
        self.seen.extend(self.lines.try_iter());
        let stderr = self
            .stderr_reader
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        (self.seen.clone(), stderr)
    }

    /// Sends `signal` to the child.
    fn signal(&mut self, signal: i32) {
        let pid = i32::try_from(self.child.id()).expect("pid fits in pid_t");
        // SAFETY: kill(2) only sends a signal; `pid` is our own child, not
        // yet waited for, so the pid cannot have been reused.
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill {pid}: {}", std::io::Error::last_os_error());
    }

    /// Waits for the child to exit before the deadline (killing it and
    /// failing the test otherwise).
    fn finish(mut self) -> Finished {
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if self.started.elapsed() >= DEADLINE => self.fail("still running at the deadline"),
                Ok(None) => thread::sleep(Duration::from_millis(5)),
                Err(e) => self.fail(&format!("try_wait failed: {e}")),
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
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs an example to completion and checks it exited with status 0.
fn run_ok(name: &str) -> Finished {
    let out = Running::start(name, &[]).finish();
    assert!(
        out.status.success(),
        "example {name} exited with {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        out.stdout.join("\n"),
        out.stderr
    );
    out
}

/// `"... at S seconds"` → S.
fn seconds(line: &str) -> f64 {
    line.rsplit_once("at ")
        .and_then(|(_, s)| s.strip_suffix(" seconds"))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no timing in {line:?}"))
}

#[test]
fn select() {
    let out = run_ok("select");
    let l = &out.stdout;
    assert_eq!(l.len(), 5, "{l:#?}");
    // All three greenlets start at once; both polls end after 2 s together.
    assert_eq!(l[0], "Started Polling: at 0.0 seconds", "{l:#?}");
    assert_eq!(l[1], "Started Polling: at 0.0 seconds", "{l:#?}");
    assert_eq!(
        l[2], "Hey lets do some stuff while the greenlets poll, at 0.0 seconds",
        "{l:#?}"
    );
    for line in &l[3..] {
        assert!(line.starts_with("Ended Polling: at "), "{l:#?}");
        let s = seconds(line);
        assert!((2.0..2.5).contains(&s), "polling ended at {s} s, not 2: {l:#?}");
    }
}

#[test]
fn subprocess() {
    let out = run_ok("subprocess");
    let l = &out.stdout;
    // `cron` prints every 200 ms while `sleep 1; uname` runs: five times
    // (0.0 .. 0.8 s), and a sixth if the child is not done at 1.0 s.
    let crons = l.iter().take_while(|s| *s == "cron").count();
    assert!((5..=6).contains(&crons), "{crons} cron lines: {l:#?}");
    assert_eq!(&l[crons..], ["Linux"], "{l:#?}");
}

#[test]
fn process_relay() {
    let out = run_ok("process_relay");
    let want: Vec<String> = (0..10).map(|i| format!("hi in {i}")).collect();
    assert_eq!(out.stdout, want, "stderr:\n{}", out.stderr);
}

/// The address from a line ending in `IP:PORT`.
fn address_in(line: &str) -> std::net::SocketAddr {
    line.rsplit(' ')
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
}

fn connect(addr: std::net::SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect to the example");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

#[test]
fn stream_server() {
    let mut running = Running::start("stream_server", &["127.0.0.1:0"]);
    let addr = address_in(&running.wait_for_line(|l| l.starts_with("Listening on ")));
    // The seed's telnet session, twice: each connection gets the greeting
    // and the count, then the server closes it.
    for _ in 0..2 {
        let mut reply = String::new();
        connect(addr).read_to_string(&mut reply).unwrap();
        assert_eq!(reply, "Hello from a telnet!\n0\n1\n2\n3\n4\n");
    }
    running.signal(libc::SIGTERM);
    let out = running.finish();
    assert!(
        out.status.success(),
        "exit {}; stderr:\n{}",
        out.status,
        out.stderr
    );
    assert_eq!(
        out.stdout.last().map(String::as_str),
        Some("Server stopped after 2 connections"),
        "{:#?}",
        out.stdout
    );
}

#[test]
fn echo_server() {
    let mut running = Running::start("echo_server", &["127.0.0.1:0"]);
    let addr = address_in(&running.wait_for_line(|l| l.starts_with("Echo server on ")));
    // Several clients at once, each in its own thread, lines interleaved.
    let clients: Vec<_> = (0..5)
        .map(|c| {
            thread::spawn(move || {
                let s = connect(addr);
                let mut r = BufReader::new(s.try_clone().unwrap());
                for i in 0..50 {
                    let msg = format!("client {c} line {i}\n");
                    (&s).write_all(msg.as_bytes()).unwrap();
                    let mut back = String::new();
                    r.read_line(&mut back).unwrap();
                    assert_eq!(back, msg);
                }
                s.shutdown(Shutdown::Write).unwrap();
                let mut rest = String::new();
                r.read_to_string(&mut rest).unwrap();
                assert_eq!(rest, "", "the server closes after the client's half-close");
            })
        })
        .collect();
    for c in clients {
        c.join().expect("client thread");
    }
    // A connection left open is cut off by the graceful stop.
    let idle = connect(addr);
    (&idle).write_all(b"still here\n").unwrap();
    let mut r = BufReader::new(idle.try_clone().unwrap());
    let mut back = String::new();
    r.read_line(&mut back).unwrap();
    assert_eq!(back, "still here\n");
    running.signal(libc::SIGTERM);
    let out = running.finish();
    assert!(
        out.status.success(),
        "exit {}; stderr:\n{}",
        out.status,
        out.stderr
    );
    let connected = out.stdout.iter().filter(|l| l.ends_with(" connected")).count();
    let disconnected = out.stdout.iter().filter(|l| l.ends_with(" disconnected")).count();
    assert_eq!((connected, disconnected), (6, 5), "{:#?}", out.stdout);
    assert_eq!(
        out.stdout.last().map(String::as_str),
        Some("Stopped; 1 connections cut off"),
        "{:#?}",
        out.stdout
    );
}
