//! Green subprocesses: many children at once, a child killed by a signal,
//! a child that closes stdout early, stdin larger than the pipe buffer,
//! timeouts and interrupts, and the same again with SIGCHLD reaping instead
//! of pidfds (in a re-executed copy of this test binary). Every test is
//! bounded by a `Timeout` scope.
#![cfg(feature = "process")]

use std::cell::Cell;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::rc::Rc;
use std::time::{Duration, Instant};

use zgreen::process::Command;
use zgreen::{Error, Timeout};
use zgreen_harness::ms;

fn bound() -> Timeout {
    Timeout::start_new(Duration::from_secs(60))
}

/// Counts hub turns while alive: proof that a wait parks only its greenlet.
fn ticker() -> (zgreen::Greenlet<()>, Rc<Cell<u32>>) {
    let ticks = Rc::new(Cell::new(0));
    let t = ticks.clone();
    let g = zgreen::spawn(move || {
        while zgreen::sleep(ms(5)).is_ok() {
            t.set(t.get() + 1);
        }
    });
    (g, ticks)
}

fn many_children_at_once() {
    let start = Instant::now();
    let (tick, ticks) = ticker();
    let children: Vec<_> = (0..40)
        .map(|i| {
            zgreen::spawn(move || -> zgreen::Result<String> {
                let out = Command::shell(format!("sleep 0.2; echo child {i}")).output()?;
                assert!(out.status.success());
                Ok(String::from_utf8(out.stdout).expect("utf-8"))
            })
        })
        .collect();
    for (i, c) in children.iter().enumerate() {
        assert_eq!(c.take().unwrap().unwrap(), format!("child {i}\n"));
    }
    let took = start.elapsed();
    tick.kill().unwrap();
    // 40 children sleeping 0.2 s each, concurrently.
    assert!(took < Duration::from_secs(5), "40 children took {took:?}");
    assert!(
        ticks.get() >= 10,
        "the hub ran other greenlets meanwhile ({} ticks)",
        ticks.get()
    );
}

fn child_killed_by_a_signal() {
    let child = Command::new("sleep").arg("30").spawn().unwrap();
    assert!(matches!(
        child.try_wait(),
        Err(zgreen::process::TryWaitError::Running)
    ));
    let c = Rc::new(child);
    let waiter = {
        let c = c.clone();
        zgreen::spawn(move || c.wait())
    };
    zgreen::sleep(ms(20)).unwrap();
    assert!(!waiter.ready());
    let killed_at = Instant::now();
    c.terminate().unwrap();
    let status = waiter.take().unwrap().unwrap();
    // Noticed by the pidfd or SIGCHLD at once, not by the 200 ms backstop
    // of the SIGCHLD path.
    let noticed = killed_at.elapsed();
    assert!(noticed < ms(150), "the exit was noticed after {noticed:?}");
    assert_eq!(status.signal(), Some(libc::SIGTERM));
    assert_eq!(status.code(), None);
    // Signalling a reaped child is a no-op, not an error.
    c.kill().unwrap();

    let child = Command::shell("kill -9 $$").spawn().unwrap();
    assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
}

#[test]
fn many_children() {
    let _t = bound();
    many_children_at_once();
}

#[test]
fn killed_by_signal() {
    let _t = bound();
    child_killed_by_a_signal();
}

#[test]
fn child_closes_stdout_early() {
    let _t = bound();
    let mut child = Command::shell("echo partial; exec 1>&-; sleep 0.3; exit 4")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let start = Instant::now();
    let mut s = String::new();
    out.read_to_string(&mut s).unwrap();
    // End of file as soon as stdout closes, long before the child exits.
    assert_eq!(s, "partial\n");
    assert!(start.elapsed() < ms(250), "EOF took {:?}", start.elapsed());
    assert!(matches!(
        child.try_wait(),
        Err(zgreen::process::TryWaitError::Running)
    ));
    assert_eq!(child.wait().unwrap().code(), Some(4));
}

#[test]
fn child_stops_reading_stdin_early() {
    let _t = bound();
    // `head` exits after 10 bytes; the rest of the input hits a closed
    // pipe, which communicate does not treat as an error.
    let child = Command::new("head")
        .args(["-c", "10"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let input = vec![b'a'; 4 << 20];
    let out = child.communicate(&input).unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, vec![b'a'; 10]);
}

#[test]
fn stdin_larger_than_the_pipe_buffer() {
    let _t = bound();
    // 8 MiB through `cat` and back: stdin, stdout and stderr all flow at
    // once, or the child would block on a full pipe.
    let input: Vec<u8> = (0..8u32 << 20).map(|i| (i % 251) as u8).collect();
    let child = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.communicate(&input).unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout.len(), input.len());
    assert!(out.stdout == input);
    assert!(out.stderr.is_empty());

    // The same with the pipes driven by hand from two greenlets.
    let mut child = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let data = Rc::new(input);
    let d = data.clone();
    let writer = zgreen::spawn(move || stdin.send_all(&d));
    let mut back = Vec::new();
    stdout.recv_to_end(&mut back).unwrap();
    writer.get().unwrap().unwrap();
    assert!(back == *data);
    assert!(child.wait().unwrap().success());
}

#[test]
fn output_status_and_errors() {
    let _t = bound();
    let out = Command::shell("echo out; echo err >&2; exit 7").output().unwrap();
    assert_eq!(
        (out.stdout.as_slice(), out.stderr.as_slice()),
        (&b"out\n"[..], &b"err\n"[..])
    );
    assert_eq!(out.status.code(), Some(7));
    let status = Command::new("true").stdout(Stdio::null()).status().unwrap();
    assert!(status.success());
    let err = Command::new("/nonexistent/program").spawn().unwrap_err();
    assert!(
        matches!(&err, Error::Io(e) if e.kind() == std::io::ErrorKind::NotFound),
        "{err:?}"
    );
    let out = Command::new("pwd").current_dir("/").output().unwrap();
    assert_eq!(out.stdout, b"/\n");
    let out = Command::shell("echo $ZG_VAR")
        .env("ZG_VAR", "set")
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"set\n");
}

#[test]
fn wait_timeout_and_interrupts() {
    let _t = bound();
    let child = Rc::new(Command::new("sleep").arg("30").spawn().unwrap());
    let start = Instant::now();
    let err = child.wait_timeout(ms(30)).unwrap_err();
    assert!(matches!(&err, Error::Timeout(t) if t.id == 0), "{err:?}");
    assert!(start.elapsed() >= ms(25));

    let scope = Timeout::start_new(ms(20));
    let err = child.wait().unwrap_err();
    assert!(scope.is(&err), "{err:?}");
    drop(scope);

    let c = child.clone();
    let g = zgreen::spawn(move || c.wait());
    zgreen::sleep(ms(10)).unwrap();
    g.kill().unwrap();
    assert!(matches!(g.take().unwrap(), Err(Error::Killed)));

    child.kill().unwrap();
    assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
}

#[test]
fn cron_runs_while_a_child_runs() {
    let _t = bound();
    let (tick, ticks) = ticker();
    let out = Command::shell("sleep 0.2; uname").output().unwrap();
    tick.kill().unwrap();
    assert_eq!(out.stdout, b"Linux\n");
    assert!(ticks.get() >= 15, "only {} ticks in 200 ms", ticks.get());
}

const FALLBACK_CHILD: &str = "ZGREEN_IO_PROCESS_FALLBACK_CHILD";

/// Runs this test binary again with `ZGREEN_NO_PIDFD=1`, so that children
/// are reaped through SIGCHLD, and the child-process scenarios run there.
#[test]
fn sigchld_fallback() {
    let _t = bound();
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args([
            "--exact",
            "sigchld_fallback_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(FALLBACK_CHILD, "1")
        .env("ZGREEN_NO_PIDFD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "fallback run failed\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("1 passed"),
        "the fallback scenarios did not run\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("SIGCHLD scenarios done"), "{stdout}\n{stderr}");
}

#[test]
fn sigchld_fallback_child() {
    if std::env::var_os(FALLBACK_CHILD).is_none() {
        return; // only meaningful when started by `sigchld_fallback`
    }
    let _t = bound();
    many_children_at_once();
    child_killed_by_a_signal();
    println!("SIGCHLD scenarios done");
}
