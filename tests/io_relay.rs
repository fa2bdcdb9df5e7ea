//! The process relay: round trips with real child processes (this test
//! binary re-executed into `relay_child_entry`), malformed and oversized
//! frames, a child crashing mid-conversation, exit codes, termination,
//! descriptor hygiene, and 100 000 round trips without loss. Every test is
//! bounded by a `Timeout` scope, which also bounds the children (a parent
//! that gives up kills its child on the way out).
#![cfg(all(feature = "process", feature = "zmq"))]

use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::rc::Rc;
use std::time::{Duration, Instant};

use zgreen::process::relay::{self, Relay, RelayChild, RelayError};
use zgreen::process::relay_zmq::ZmqRelay;
use zgreen::{Error, Timeout};
use zgreen_harness::ms;

fn bound() -> Timeout {
    Timeout::start_new(Duration::from_secs(60))
}

// ---- functions that run in relay children ----

fn echo(relay: Relay) -> zgreen::Result<()> {
    loop {
        match relay.get::<serde_json::Value>() {
            Ok(v) => relay.put(&v)?,
            Err(Error::Closed(_)) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

/// The seed's relay: answers each message with "MSG in N".
fn seed_relay(relay: Relay) -> zgreen::Result<()> {
    for i in 0..10 {
        let msg: String = relay.get()?;
        relay.put(&format!("{msg} in {i}"))?;
    }
    Ok(())
}

/// Echoes three messages, then dies of SIGABRT.
fn crash_after_three(relay: Relay) -> zgreen::Result<()> {
    for _ in 0..3 {
        let v: serde_json::Value = relay.get()?;
        relay.put(&v)?;
    }
    std::process::abort();
}

fn panics(relay: Relay) -> zgreen::Result<()> {
    let _: u32 = relay.get()?;
    panic!("relay function panicked on purpose");
}

fn fails(_relay: Relay) -> zgreen::Result<()> {
    Err(Error::other("failing on purpose"))
}

/// Sends a string where the parent expects a number, then a number.
fn wrong_type(relay: Relay) -> zgreen::Result<()> {
    relay.put("not a number")?;
    relay.put(&42u32)?;
    let _: serde_json::Value = relay.get().or_else(|_| Ok::<_, Error>(serde_json::Value::Null))?;
    Ok(())
}

/// Waits forever for a message that never comes.
fn silent(relay: Relay) -> zgreen::Result<()> {
    let _: serde_json::Value = relay.get()?;
    Ok(())
}

/// Reports which pipe/socket inodes this process has open (from
/// /proc/self/fd).
fn open_fds(relay: Relay) -> zgreen::Result<()> {
    let mut links = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd")? {
        let entry = entry?;
        if let Ok(target) = std::fs::read_link(entry.path()) {
            links.push(target.to_string_lossy().into_owned());
        }
    }
    relay.put(&links)
}

/// Starts this binary again as a plain subprocess (inheriting the relay
/// environment variable) and reports whether it ran as an ordinary test.
fn spawn_grandchild(relay: Relay) -> zgreen::Result<()> {
    let out = zgreen::process::Command::new(std::env::current_exe()?)
        .args(["--exact", "relay_child_entry", "--nocapture", "--test-threads=1"])
        .output()?;
    relay.put(&(
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    ))
}

/// Connects to the ZeroMQ relay endpoint named in `ZG_ZMQ_ENDPOINT` and
/// echoes until told to stop: a process that only knows the endpoint.
fn zmq_echo(_relay: Relay) -> zgreen::Result<()> {
    let endpoint = std::env::var("ZG_ZMQ_ENDPOINT").map_err(zgreen::Error::failed)?;
    let peer = ZmqRelay::connect(&endpoint)?;
    loop {
        let v: serde_json::Value = peer.get_timeout(Duration::from_secs(20))?;
        if v == "stop" {
            return Ok(());
        }
        peer.put(&v)?;
    }
}

fn register_all() {
    relay::register("zmq_echo", zmq_echo);
    relay::register("echo", echo);
    relay::register("seed_relay", seed_relay);
    relay::register("crash_after_three", crash_after_three);
    relay::register("panics", panics);
    relay::register("fails", fails);
    relay::register("wrong_type", wrong_type);
    relay::register("silent", silent);
    relay::register("open_fds", open_fds);
    relay::register("spawn_grandchild", spawn_grandchild);
}

/// The entry point of relay children: a no-op test in the parent run.
#[test]
fn relay_child_entry() {
    register_all();
    relay::dispatch();
}

// ---- the parent side ----

/// Kills the child if the test leaves early, so no child outlives it.
struct Reaper(Rc<RelayChild>);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}

fn start(name: &str, quiet: bool) -> (Rc<RelayChild>, Reaper) {
    register_all();
    let mut b = relay::Builder::new(name)
        .args(["--exact", "relay_child_entry", "--nocapture", "--test-threads=1"])
        .stdout(Stdio::null());
    if quiet {
        b = b.stderr(Stdio::null());
    }
    let child = Rc::new(b.spawn().unwrap());
    (child.clone(), Reaper(child))
}

#[test]
fn seed_relay_round_trips() {
    let _t = bound();
    let (child, _r) = start("seed_relay", false);
    let c = child.clone();
    let putter = zgreen::spawn(move || -> zgreen::Result<()> {
        for _ in 0..10 {
            c.put("hi")?;
        }
        Ok(())
    });
    let mut got = Vec::new();
    for _ in 0..10 {
        got.push(child.get::<String>().unwrap());
    }
    putter.get().unwrap().unwrap();
    let want: Vec<String> = (0..10).map(|i| format!("hi in {i}")).collect();
    assert_eq!(got, want);
    assert!(child.join_timeout(Duration::from_secs(10)).unwrap().success());
    assert_eq!(child.exit_code(), Some(0));
}

#[test]
fn a_hundred_thousand_round_trips_without_loss() {
    let _t = bound();
    let (child, _r) = start("echo", false);
    const N: u64 = 100_000;
    let start = Instant::now();
    let c = child.clone();
    let putter = zgreen::spawn(move || -> zgreen::Result<()> {
        for i in 0..N {
            c.put(&i)?;
        }
        Ok(())
    });
    for i in 0..N {
        assert_eq!(child.get::<u64>().unwrap(), i, "message {i}");
    }
    putter.get().unwrap().unwrap();
    eprintln!("{N} relay round trips in {:?}", start.elapsed());
    child.close();
    assert!(child.join().unwrap().success());
}

#[test]
fn large_messages_never_interleave() {
    let _t = bound();
    let (child, _r) = start("echo", false);
    // Two putters and two getters at once, with messages far larger than
    // the socket buffers.
    let msg = |tag: char, i: usize| format!("{tag}{i}:{}", tag.to_string().repeat(300_000 + i));
    let putters: Vec<_> = ['a', 'b']
        .into_iter()
        .map(|tag| {
            let c = child.clone();
            zgreen::spawn(move || -> zgreen::Result<()> {
                for i in 0..5 {
                    c.put(&msg(tag, i))?;
                }
                Ok(())
            })
        })
        .collect();
    let getters: Vec<_> = (0..2)
        .map(|_| {
            let c = child.clone();
            zgreen::spawn(move || -> zgreen::Result<Vec<String>> {
                (0..5).map(|_| c.get::<String>()).collect()
            })
        })
        .collect();
    for p in &putters {
        p.get().unwrap().unwrap();
    }
    let mut all: Vec<String> = getters.iter().flat_map(|g| g.take().unwrap().unwrap()).collect();
    all.sort();
    let mut want: Vec<String> = ['a', 'b']
        .into_iter()
        .flat_map(|t| (0..5).map(move |i| msg(t, i)))
        .collect();
    want.sort();
    assert!(all == want, "a message was corrupted or lost");
}

#[test]
fn child_crash_mid_conversation_is_an_error_not_a_hang() {
    let _t = bound();
    let (child, _r) = start("crash_after_three", true);
    for i in 0..3 {
        child.put(&i).unwrap();
        assert_eq!(child.get::<i32>().unwrap(), i);
    }
    // The child may already be gone by now: then the put fails too.
    let err = match child.put(&3) {
        Ok(()) => child.get::<i32>().unwrap_err(),
        Err(e) => e,
    };
    assert!(matches!(err, Error::Closed(_)), "{err:?}");
    assert!(matches!(child.get::<i32>(), Err(Error::Closed(_))));
    let status = child.join().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGABRT));
    assert_eq!(child.exit_code(), None);
    // Writing to a dead child fails too (the socket's peer is gone).
    let mut err = None;
    for _ in 0..100 {
        if let Err(e) = child.put(&"anyone?") {
            err = Some(e);
            break;
        }
    }
    assert!(matches!(err, Some(Error::Closed(_))), "{err:?}");
}

#[test]
fn exit_codes_of_failing_and_panicking_functions() {
    let _t = bound();
    let (child, _r) = start("fails", true);
    assert_eq!(child.join().unwrap().code(), Some(relay::EXIT_FAILED));
    assert_eq!(child.exit_code(), Some(relay::EXIT_FAILED));
    assert!(matches!(child.get::<u32>(), Err(Error::Closed(_))));

    let (child, _r) = start("panics", true);
    child.put(&1u32).unwrap();
    assert_eq!(child.join().unwrap().code(), Some(relay::EXIT_PANICKED));
}

#[test]
fn terminate_and_get_timeout() {
    let _t = bound();
    let (child, _r) = start("silent", true);
    let err = child.get_timeout::<u32>(ms(30)).unwrap_err();
    assert!(matches!(&err, Error::Timeout(t) if t.id == 0), "{err:?}");
    assert!(child.join_timeout(ms(10)).unwrap_err().is_timeout());
    child.terminate().unwrap();
    assert_eq!(child.join().unwrap().signal(), Some(libc::SIGTERM));
}

#[test]
fn a_wrong_type_is_malformed_and_the_channel_goes_on() {
    let _t = bound();
    let (child, _r) = start("wrong_type", true);
    let err = child.get::<u32>().unwrap_err();
    assert!(
        matches!(RelayError::of(&err), Some(RelayError::Malformed { .. })),
        "{err:?}"
    );
    assert_eq!(child.get::<u32>().unwrap(), 42);
    child.close();
    assert!(child.join().unwrap().success());
}

#[test]
fn unknown_function_is_refused_in_the_parent() {
    let _t = bound();
    register_all();
    let err = relay::spawn("no_such_function").unwrap_err();
    assert!(
        matches!(RelayError::of(&err), Some(RelayError::NotRegistered { name }) if name == "no_such_function"),
        "{err:?}"
    );
}

#[test]
fn the_child_inherits_no_other_descriptors() {
    let _t = bound();
    // A pipe WITHOUT close-on-exec: a careless spawn would leak it.
    let mut fds = [0; 2];
    // SAFETY: pipe(2) writes two fds into the valid two-element array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both fds were just created by pipe(2) and are owned here only.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let leaked = std::fs::read_link(format!("/proc/self/fd/{}", fds[0]))
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(leaked.starts_with("pipe:["), "{leaked}");
    let (child, _r) = start("open_fds", false);
    let links: Vec<String> = child.get().unwrap();
    assert!(
        !links.contains(&leaked),
        "the child inherited {leaked}: {links:?}"
    );
    assert!(
        links.iter().any(|l| l.starts_with("socket:[")),
        "its channel: {links:?}"
    );
    assert!(child.join().unwrap().success());
    drop((r, w));
}

#[test]
fn a_grandchild_is_not_mistaken_for_a_relay_child() {
    let _t = bound();
    let (child, _r) = start("spawn_grandchild", false);
    let (code, stdout): (Option<i32>, String) = child.get().unwrap();
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("test relay_child_entry ... ok"), "{stdout}");
    assert!(child.join().unwrap().success());
}

// ---- framing, in one process ----

/// A relay end and the raw socket of its peer.
fn raw_pair(max: usize) -> (Relay, std::os::unix::net::UnixStream) {
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    (Relay::from_fd(OwnedFd::from(a), max).unwrap(), b)
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(payload);
    f
}

#[test]
fn malformed_frame_then_a_good_one() {
    let _t = bound();
    let (relay, mut raw) = raw_pair(1024);
    raw.write_all(&frame(b"{not json")).unwrap();
    raw.write_all(&frame(b"[1,2,3]")).unwrap();
    let err = relay.get::<Vec<u8>>().unwrap_err();
    assert!(
        matches!(RelayError::of(&err), Some(RelayError::Malformed { .. })),
        "{err:?}"
    );
    assert_eq!(relay.get::<Vec<u8>>().unwrap(), vec![1, 2, 3]);
}

#[test]
fn oversized_frames_are_refused_both_ways() {
    let _t = bound();
    let (relay, mut raw) = raw_pair(1024);
    // Sending: refused before anything goes out.
    let big = "x".repeat(2000);
    let err = relay.put(&big).unwrap_err();
    assert_eq!(
        RelayError::of(&err),
        Some(&RelayError::Oversized {
            bytes: 2002,
            max: 1024
        }),
        "{err:?}"
    );
    relay.put(&"small").unwrap();
    let mut buf = [0u8; 11];
    std::io::Read::read_exact(&mut raw, &mut buf).unwrap();
    assert_eq!(&buf, b"\0\0\0\x07\"small\"");
    // Receiving: a length above the maximum closes the read side for good.
    raw.write_all(&(1u32 << 30).to_be_bytes()).unwrap();
    let err = relay.get::<String>().unwrap_err();
    assert!(
        matches!(RelayError::of(&err), Some(RelayError::Oversized { bytes, max: 1024 }) if *bytes == 1 << 30),
        "{err:?}"
    );
    let again = relay.get::<String>().unwrap_err();
    assert!(matches!(
        RelayError::of(&again),
        Some(RelayError::Oversized { .. })
    ));
}

#[test]
fn a_get_interrupted_mid_frame_resumes() {
    let _t = bound();
    let (relay, mut raw) = raw_pair(1024);
    let f = frame(b"\"split in two\"");
    raw.write_all(&f[..6]).unwrap();
    let err = relay.get_timeout::<String>(ms(20)).unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    raw.write_all(&f[6..]).unwrap();
    assert_eq!(relay.get::<String>().unwrap(), "split in two");
    // The other end closing in the middle of a frame is reported as such.
    raw.write_all(&f[..6]).unwrap();
    drop(raw);
    let err = relay.get::<String>().unwrap_err();
    assert!(
        matches!(err, Error::Closed(zgreen::Closed::PeerMidMessage)),
        "{err:?}"
    );
}

#[test]
fn in_process_pair() {
    let _t = bound();
    let (a, b) = Relay::pair().unwrap();
    let g = zgreen::spawn(move || -> zgreen::Result<u64> {
        let n: u64 = b.get()?;
        b.put(&(n + 1))?;
        Ok(n)
    });
    a.put(&41u64).unwrap();
    assert_eq!(a.get::<u64>().unwrap(), 42);
    assert_eq!(g.get().unwrap().unwrap(), 41);
    a.close();
    assert!(matches!(a.get::<u64>(), Err(Error::Closed(_))));
}

// ---- the relay over ZeroMQ PAIR sockets ----

fn ipc_endpoint(name: &str) -> (String, std::path::PathBuf) {
    let path = std::env::temp_dir().join(format!("zgreen-relay-{name}-{}.ipc", std::process::id()));
    let _ = std::fs::remove_file(&path);
    (format!("ipc://{}", path.display()), path)
}

#[test]
fn zmq_relay_between_processes() {
    let _t = bound();
    let (endpoint, path) = ipc_endpoint("procs");
    let ours = ZmqRelay::bind(&endpoint).unwrap();
    register_all();
    // The child shares nothing with us but the endpoint's name.
    let child = relay::Builder::new("zmq_echo")
        .args(["--exact", "relay_child_entry", "--nocapture", "--test-threads=1"])
        .env("ZG_ZMQ_ENDPOINT", &endpoint)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let reaper = Reaper(Rc::new(child));
    let child = reaper.0.clone();
    for i in 0..1000u32 {
        ours.put(&(i, "ping")).unwrap();
        assert_eq!(
            ours.get_timeout::<(u32, String)>(Duration::from_secs(10))
                .unwrap(),
            (i, "ping".into())
        );
    }
    ours.put("stop").unwrap();
    assert!(child.join().unwrap().success());
    let _ = std::fs::remove_file(path);
}

#[test]
fn zmq_relay_malformed_oversized_and_timeout() {
    let _t = bound();
    let (endpoint, path) = ipc_endpoint("errors");
    let a = ZmqRelay::bind(&endpoint).unwrap();
    let b = ZmqRelay::connect(&endpoint).unwrap();
    // Not JSON, then two frames in one message, then a good one.
    a.socket().send("{oops", 0).unwrap();
    a.socket().send_multipart(["1", "2"], 0).unwrap();
    a.put(&7u8).unwrap();
    for _ in 0..2 {
        let err = b.get::<u8>().unwrap_err();
        assert!(
            matches!(RelayError::of(&err), Some(RelayError::Malformed { .. })),
            "{err:?}"
        );
    }
    assert_eq!(b.get::<u8>().unwrap(), 7);
    // Oversized on the sending side: nothing is sent.
    a.set_max_message_bytes(16).unwrap();
    let err = a.put(&"x".repeat(100)).unwrap_err();
    assert!(
        matches!(
            RelayError::of(&err),
            Some(RelayError::Oversized { bytes: 102, max: 16 })
        ),
        "{err:?}"
    );
    let err = b.get_timeout::<String>(ms(30)).unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    let _ = std::fs::remove_file(path);
}
