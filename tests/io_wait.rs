//! `wait_read`, `wait_write` and `select` on raw descriptors (pipes, and
//! sockets that green types already registered). Every test is bounded by
//! a `Timeout` scope.
#![cfg(all(feature = "net", feature = "process"))]

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use zgreen::net::{Selected, TcpListener, TcpStream, select, wait_read, wait_write};
use zgreen::{Error, Timeout};
use zgreen_harness::ms;

mod common;
use common::kill_expecting_killed;

fn bound() -> Timeout {
    Timeout::start_new(Duration::from_secs(30))
}

#[test]
fn select_with_no_fds_sleeps_for_its_timeout_cooperatively() {
    let _t = bound();
    // The seed's example: two greenlets "poll" for 100 ms while a third runs.
    let start = Instant::now();
    let pollers: Vec<_> = (0..2)
        .map(|_| zgreen::spawn(|| select(&[], &[], Some(ms(100)))))
        .collect();
    let other = zgreen::spawn(move || start.elapsed());
    for p in &pollers {
        assert_eq!(p.take().unwrap().unwrap(), Selected::default());
    }
    let ran_at = other.get().unwrap();
    let took = start.elapsed();
    assert!(
        ran_at < ms(50),
        "the third greenlet ran at {ran_at:?}, not meanwhile"
    );
    assert!(
        took >= ms(95) && took < ms(2000),
        "both polls took {took:?} together"
    );
}

#[test]
fn wait_read_wakes_when_data_arrives() {
    let _t = bound();
    let (mut r, mut w) = std::io::pipe().unwrap();
    let writer = zgreen::spawn(move || -> std::io::Result<()> {
        zgreen::sleep(ms(20)).unwrap();
        w.write_all(b"ping")
    });
    let start = Instant::now();
    wait_read(&r, Some(Duration::from_secs(5))).unwrap();
    assert!(start.elapsed() >= ms(15));
    let mut buf = [0u8; 4];
    r.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");
    writer.take().unwrap().unwrap();
    // The writer's greenlet has ended and closed its end: end of file counts
    // as readable, and an already-ready fd returns at once.
    wait_read(&r, Some(ms(100))).unwrap();
}

#[test]
fn wait_read_times_out_with_a_timeout_error() {
    let _t = bound();
    let (r, _w) = std::io::pipe().unwrap();
    let start = Instant::now();
    let err = wait_read(&r, Some(ms(30))).unwrap_err();
    assert!(matches!(&err, Error::Timeout(t) if t.id == 0), "{err:?}");
    assert!(start.elapsed() >= ms(25));
}

#[test]
fn wait_write_on_a_full_pipe() {
    let _t = bound();
    let (mut r, w) = std::io::pipe().unwrap();
    // Fill the pipe with a nonblocking green writer, then wait for room.
    let w = zgreen::process::PipeWriter::from_std(w).unwrap();
    w.set_write_timeout(Some(ms(20)));
    let chunk = vec![0u8; 65536];
    while w.send(&chunk).is_ok() {}
    assert!(wait_write(&w, Some(ms(20))).unwrap_err().is_timeout());
    let reader = zgreen::spawn(move || {
        let mut buf = vec![0u8; 1 << 20];
        r.read(&mut buf).map(|_| r)
    });
    wait_write(&w, Some(Duration::from_secs(5))).unwrap();
    let _r = reader.take().unwrap().unwrap();
}

#[test]
fn select_reports_every_ready_fd_by_index() {
    let _t = bound();
    let (r1, mut w1) = std::io::pipe().unwrap();
    let (r2, _w2) = std::io::pipe().unwrap();
    let (_r3, w3) = std::io::pipe().unwrap();
    w1.write_all(b"x").unwrap();
    let ready = select(&[r2.as_fd(), r1.as_fd()], &[w3.as_fd()], Some(ms(100))).unwrap();
    assert_eq!(ready.readable, vec![1]);
    assert_eq!(ready.writable, vec![0]);
    // Zero timeout: a pure poll.
    let ready = select(&[r2.as_fd()], &[], Some(Duration::ZERO)).unwrap();
    assert!(ready.is_empty());
}

#[test]
fn select_parks_until_one_becomes_ready() {
    let _t = bound();
    let pipes: Vec<_> = (0..5).map(|_| std::io::pipe().unwrap()).collect();
    let readers: Vec<_> = pipes.iter().map(|(r, _)| r.try_clone().unwrap()).collect();
    let mut writers: Vec<_> = pipes.into_iter().map(|(_, w)| w).collect();
    let mut w3 = writers.remove(3);
    let g = zgreen::spawn(move || {
        zgreen::sleep(ms(20)).unwrap();
        w3.write_all(b"!").unwrap();
        w3
    });
    let fds: Vec<_> = readers.iter().map(|r| r.as_fd()).collect();
    let ready = select(&fds, &[], None).unwrap();
    assert_eq!(ready.readable, vec![3]);
    g.take().unwrap();
}

#[test]
fn wait_read_on_a_socket_the_hub_already_watches() {
    let _t = bound();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accept = zgreen::spawn(move || listener.accept().map(|(s, _)| s));
    let client = TcpStream::connect(addr).unwrap();
    let server = accept.take().unwrap().unwrap();
    let writer = zgreen::spawn(move || {
        zgreen::sleep(ms(10)).unwrap();
        server.send_all(b"hi").map(|()| server)
    });
    // `client` is registered with the hub; waiting on its fd still works.
    wait_read(&client, Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 2];
    client.recv_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"hi");
    let _server = writer.take().unwrap().unwrap();
}

#[test]
fn select_is_interruptible() {
    let _t = bound();
    let (r, _w) = std::io::pipe().unwrap();
    let scope = Timeout::start_new(ms(20));
    let err = select(&[r.as_fd()], &[], None).unwrap_err();
    assert!(scope.is(&err), "{err:?}");
    drop(scope);
    let g = zgreen::spawn(move || wait_read(&r, None));
    zgreen::sleep(ms(10)).unwrap();
    kill_expecting_killed(&g).unwrap();
}
