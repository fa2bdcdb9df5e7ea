//! [`Lines`]: a pipe read by a thread, line by line.

use std::io::{BufRead, BufReader, Read};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Why [`Lines::next`] returned no line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineError {
    /// No line came in time.
    Timeout,
    /// The pipe is closed (or not valid UTF-8) and every line was read.
    Closed,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LineError::Timeout => "no line in time",
            LineError::Closed => "the pipe closed",
        })
    }
}

impl std::error::Error for LineError {}

/// The lines of a pipe (a child's stdout, say), read by a thread until the
/// pipe closes, so the writer never blocks on a full pipe. Lines come
/// without their line ending.
#[derive(Debug)]
pub struct Lines {
    rx: Receiver<String>,
}

impl Lines {
    /// Starts a thread that reads `pipe` line by line until it closes (or
    /// a line is not UTF-8, or every [`Lines`] is dropped).
    pub fn read(pipe: impl Read + Send + 'static) -> Lines {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines { rx }
    }

    /// The next line, waiting at most `timeout`.
    pub fn next(&self, timeout: Duration) -> Result<String, LineError> {
        self.rx.recv_timeout(timeout).map_err(|e| match e {
            RecvTimeoutError::Timeout => LineError::Timeout,
            RecvTimeoutError::Disconnected => LineError::Closed,
        })
    }

    /// The next line, waiting until `deadline` at most.
    pub fn next_before(&self, deadline: Instant) -> Result<String, LineError> {
        self.next(deadline.saturating_duration_since(Instant::now()))
    }

    /// The next line, waiting as long as it takes; `None` once closed.
    pub fn next_blocking(&self) -> Option<String> {
        self.rx.recv().ok()
    }

    /// The lines that have come already, without waiting.
    pub fn ready(&self) -> Vec<String> {
        self.rx.try_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ms;

    #[test]
    fn lines_come_in_order_then_closed() {
        let lines = Lines::read(&b"a\nb\r\nc"[..]);
        assert_eq!(lines.next_blocking().as_deref(), Some("a"));
        assert_eq!(lines.next(Duration::from_secs(10)).unwrap(), "b");
        assert_eq!(
            lines
                .next_before(Instant::now() + Duration::from_secs(10))
                .unwrap(),
            "c"
        );
        assert_eq!(lines.next(Duration::from_secs(10)), Err(LineError::Closed));
        assert_eq!(lines.next_blocking(), None);
    }

    #[test]
    fn an_open_silent_pipe_times_out() {
        let mut child = crate::ChildGuard::spawn(
            std::process::Command::new("sleep")
                .arg("30")
                .stdout(std::process::Stdio::piped()),
        )
        .unwrap();
        let lines = child.stdout_lines().expect("piped");
        assert_eq!(lines.next(ms(30)), Err(LineError::Timeout));
        assert!(lines.ready().is_empty());
    }

    #[test]
    fn ready_takes_what_has_come() {
        let lines = Lines::read(&b"x\ny\n"[..]);
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut got = Vec::new();
        while got.len() < 2 && Instant::now() < deadline {
            got.extend(lines.ready());
            std::thread::sleep(ms(1));
        }
        assert_eq!(got, ["x", "y"]);
    }
}
