//! Runs the example programs (`cargo run --example NAME`) and checks what
//! they print, and checks that every code block of `docs/tutorial.md` is an
//! excerpt of an example.
//!
//! The examples are built by `cargo test` / `cargo nextest` before the
//! tests run; this file only runs the binaries, each under a deadline.

use std::path::Path;
use std::time::{Duration, Instant};

mod common;
use common::{Finished, Running};

/// How long any example may run before the test kills it and fails.
const DEADLINE: Duration = Duration::from_secs(20);

/// Runs an example to completion and checks it exited with status 0.
fn run_ok(name: &str) -> Finished {
    common::run_ok(name, DEADLINE)
}

#[test]
fn switch() {
    let out = run_ok("switch");
    out.assert_stdout(&[
        "Running in foo",
        "Explicit context to bar",
        "Explicit context switch to foo again",
        "Implicit context switch back to bar",
    ]);
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
    out.assert_stdout(&["Hello", "I live!", "Hi there!"]);
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
    out.assert_stdout(&[
        "true",
        "true",
        r#"Some("You win!")"#,
        "None",
        "true",
        "true",
        "true",
        "false",
        &panic_line,
    ]);
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
    out.assert_stdout(&[
        "Could not complete",
        "TooLong raised: took too long",
        "Thread 1 timed out",
        "Thread 2 timed out",
        "Thread 3 timed out",
        "join_timeout: timed out after 100ms",
        "get_timeout: timed out after 50ms",
        "get_timeout: finished in time",
    ]);
}

#[test]
fn shutdown_signal() {
    let mut running = Running::start("shutdown_signal", &[]);
    let ready = running.wait_for_line(Instant::now() + DEADLINE, |l| {
        l.starts_with("waiting for SIGQUIT")
    });
    let pid = running.id();
    assert_eq!(ready, format!("waiting for SIGQUIT (pid {pid})"));

    running.signal(libc::SIGQUIT);

    let out = running.finish(Instant::now() + Duration::from_secs(5));
    out.assert_success();
    out.assert_stdout(&[&ready, "run_forever was killed; exiting cleanly"]);
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
