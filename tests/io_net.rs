//! Green sockets: partial reads and writes, peer reset, half-close,
//! connect refused, every kind of timeout and interruption, Unix and UDP
//! sockets, and `Read`/`Write` interop. Every test is bounded by a
//! `Timeout` scope; all traffic stays on the loopback interface.
#![cfg(feature = "net")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use zgreen::net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};
use zgreen::{Error, Timeout};
use zgreen_harness::ms;

fn bound() -> Timeout {
    Timeout::start_new(Duration::from_secs(30))
}

/// A connected (client, server-side) pair of TCP streams.
fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accept = zgreen::spawn(move || listener.accept().map(|(s, _)| s));
    let client = TcpStream::connect(addr).unwrap();
    let server = accept.take().unwrap().unwrap();
    (client, server)
}

fn io_kind(e: &Error) -> Option<std::io::ErrorKind> {
    match e {
        Error::Io(e) => Some(e.kind()),
        _ => None,
    }
}

#[test]
fn partial_reads_assemble_with_recv_exact() {
    let _t = bound();
    let (client, server) = tcp_pair();
    let writer = zgreen::spawn(move || -> zgreen::Result<()> {
        for chunk in [&b"he"[..], b"ll", b"o, ", b"world"] {
            server.send_all(chunk)?;
            zgreen::sleep(ms(5))?;
        }
        Ok(())
    });
    // The first read returns what has arrived so far, not the whole buffer.
    let mut buf = [0u8; 64];
    let n = client.recv(&mut buf).unwrap();
    assert!((1..12).contains(&n), "partial read of {n} bytes");
    let mut rest = vec![0u8; 12 - n];
    client.recv_exact(&mut rest).unwrap();
    let mut all = buf[..n].to_vec();
    all.extend_from_slice(&rest);
    assert_eq!(all, b"hello, world");
    writer.get().unwrap().unwrap();
}

#[test]
fn partial_writes_and_send_all_with_a_slow_reader() {
    let _t = bound();
    let (client, server) = tcp_pair();
    let big = vec![7u8; 16 << 20];
    // Nobody reads yet: a single send writes only what fits in the buffers.
    let n = client.send(&big).unwrap();
    assert!(n > 0 && n < big.len(), "send wrote {n} of {} bytes", big.len());
    let reader = zgreen::spawn(move || -> zgreen::Result<usize> {
        let mut total = 0;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let k = server.recv(&mut buf)?;
            if k == 0 {
                return Ok(total);
            }
            assert!(buf[..k].iter().all(|&b| b == 7));
            total += k;
        }
    });
    client.send_all(&big[n..]).unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(reader.get().unwrap().unwrap(), big.len());
}

#[test]
fn half_close_then_reply() {
    let _t = bound();
    let (mut client, server) = tcp_pair();
    let srv = zgreen::spawn(move || -> std::io::Result<String> {
        let mut s = &server;
        let mut req = String::new();
        s.read_to_string(&mut req)?; // until the client's half-close
        s.write_all(format!("got {} bytes", req.len()).as_bytes())?;
        Ok(req)
    });
    client.write_all(b"request body").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let mut reply = String::new();
    client.read_to_string(&mut reply).unwrap();
    assert_eq!(reply, "got 12 bytes");
    assert_eq!(srv.take().unwrap().unwrap(), "request body");
}

#[test]
fn peer_reset_is_an_io_error() {
    let _t = bound();
    let (client, server) = tcp_pair();
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt reads `size_of::<linger>()` bytes from a valid
    // `linger` value; the fd belongs to `server`, which is alive.
    let rc = unsafe {
        libc::setsockopt(
            server.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0);
    let reader = zgreen::spawn(move || {
        let mut buf = [0u8; 16];
        client.recv(&mut buf)
    });
    zgreen::sleep(ms(10)).unwrap();
    drop(server); // SO_LINGER 0: close sends RST
    let err = reader.take().unwrap().unwrap_err();
    assert_eq!(
        io_kind(&err),
        Some(std::io::ErrorKind::ConnectionReset),
        "{err:?}"
    );
}

#[test]
fn connect_refused() {
    let _t = bound();
    let addr = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let err = TcpStream::connect(addr).unwrap_err();
    assert_eq!(
        io_kind(&err),
        Some(std::io::ErrorKind::ConnectionRefused),
        "{err:?}"
    );
    let err = UnixStream::connect("/nonexistent/zgreen.sock").unwrap_err();
    assert_eq!(io_kind(&err), Some(std::io::ErrorKind::NotFound), "{err:?}");
}

#[test]
fn read_write_and_accept_timeouts() {
    let _t = bound();
    let (client, _server) = tcp_pair();
    client.set_read_timeout(Some(ms(30)));
    let start = Instant::now();
    let err = client.recv(&mut [0u8; 8]).unwrap_err();
    assert!(matches!(&err, Error::Timeout(t) if t.id == 0), "{err:?}");
    assert!(start.elapsed() >= ms(25));

    // Through `Read`, the timeout is an io::Error of kind TimedOut that
    // converts back into the zgreen error.
    let err = (&client).read(&mut [0u8; 8]).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    assert!(zgreen::net::io_error_into(err).is_timeout());

    // Fill the send buffers: then a write times out.
    client.set_write_timeout(Some(ms(30)));
    let big = vec![0u8; 1 << 20];
    let err = loop {
        match client.send(&big) {
            Ok(_) => continue,
            Err(e) => break e,
        }
    };
    assert!(err.is_timeout(), "{err:?}");

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    assert!(listener.accept_timeout(ms(20)).unwrap_err().is_timeout());
}

#[test]
fn accept_and_connect_deadlines() {
    let _t = bound();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let start = Instant::now();
    let err = listener.accept_deadline(start + ms(30)).unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(start.elapsed() >= ms(25), "{:?}", start.elapsed());
    // A deadline already past fails at once when nothing is queued...
    let err = listener.accept_deadline(Instant::now()).unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    // ...and accepts what is.
    let client = zgreen::spawn(move || TcpStream::connect_deadline(addr, Instant::now() + ms(2000)));
    let (conn, peer) = listener.accept_deadline(Instant::now() + ms(2000)).unwrap();
    let client = client.take().unwrap().unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
    assert_eq!(conn.peer_addr().unwrap(), client.local_addr().unwrap());

    let dir = std::env::temp_dir().join(format!("zgreen-io-net-dl-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("deadline.sock");
    let _ = std::fs::remove_file(&path);
    let ul = UnixListener::bind(&path).unwrap();
    let start = Instant::now();
    assert!(ul.accept_deadline(start + ms(30)).unwrap_err().is_timeout());
    assert!(start.elapsed() >= ms(25));
    let uc = UnixStream::connect_deadline(&path, Instant::now() + ms(2000)).unwrap();
    let (us, _) = ul.accept_timeout(ms(2000)).unwrap();
    uc.send_all(b"x").unwrap();
    let mut b = [0u8; 1];
    us.recv_exact(&mut b).unwrap();
    assert_eq!(&b, b"x");
    assert!(
        format!("{ul:?}").starts_with("UnixListener { local: Some("),
        "{ul:?}"
    );
    assert!(
        format!("{us:?}").starts_with("UnixStream { local: Some("),
        "{us:?}"
    );
    assert!(
        format!("{listener:?}").contains(&format!("local: Some({addr})")),
        "{listener:?}"
    );
    assert!(
        format!("{conn:?}").contains(&format!("peer: Some({peer})")),
        "{conn:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn connect_deadline_on_a_saturated_listener() {
    let _t = bound();
    let (took, _saturated) =
        timed_out_connect(|addr, start| TcpStream::connect_deadline(addr, start + ms(50)));
    assert!(took >= ms(45), "{took:?}");
}

/// A listener kept saturated by the connections that fill its queue.
type Saturated = (std::net::TcpListener, Vec<std::net::TcpStream>);

/// Connects to a [`saturated_listener`] with `connect` (given its address
/// and the instant the attempt starts), which must time out, within 5 s:
/// how long it took, and the listener, still saturated.
fn timed_out_connect(
    connect: impl FnOnce(std::net::SocketAddr, Instant) -> zgreen::Result<TcpStream>,
) -> (Duration, Saturated) {
    let (l, fillers) = saturated_listener();
    let addr = l.local_addr().unwrap();
    let start = Instant::now();
    let err = connect(addr, start).unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    let took = start.elapsed();
    assert!(took < Duration::from_secs(5), "{took:?}");
    (took, (l, fillers))
}

/// A listener whose accept queue is full, so that further connects hang in
/// SYN-SENT (the kernel drops their SYNs): the only way to make a loopback
/// connect slow.
fn saturated_listener() -> Saturated {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    // SAFETY: listen(2) on the listener's own open fd, with a backlog of 0.
    assert_eq!(unsafe { libc::listen(l.as_raw_fd(), 0) }, 0);
    let addr = l.local_addr().unwrap();
    let mut fillers = Vec::new();
    // Fill the accept queue (a backlog of 0 still admits one connection).
    for _ in 0..4 {
        match std::net::TcpStream::connect_timeout(&addr, ms(100)) {
            Ok(s) => fillers.push(s),
            Err(_) => break,
        }
    }
    (l, fillers)
}

#[test]
fn connect_timeout_and_interrupted_connect() {
    let _t = bound();
    let (_, (l, _fillers)) = timed_out_connect(|addr, _| TcpStream::connect_timeout(addr, ms(50)));
    let addr = l.local_addr().unwrap();
    let scope = Timeout::start_new(ms(50));
    let err = TcpStream::connect(addr).unwrap_err();
    assert!(scope.is(&err), "{err:?}");
}

/// Runs `op` (which blocks) under a 20 ms timeout scope, then in a greenlet
/// that is killed after 20 ms: both must end it with the matching error.
fn check_interruptible(name: &str, op: impl Fn() -> zgreen::Result<()> + Clone + 'static) {
    let op1 = op.clone();
    let g = zgreen::spawn(move || {
        let t = Timeout::start_new(ms(20));
        op1().map_err(|e| t.is(&e))
    });
    assert_eq!(
        g.get().unwrap(),
        Err(true),
        "{name}: not interrupted by its timeout scope"
    );
    let g = zgreen::spawn(op);
    zgreen::sleep(ms(20)).unwrap();
    assert!(!g.ready(), "{name}: did not block");
    g.kill().unwrap();
    assert!(
        matches!(g.get().unwrap(), Err(Error::Killed)),
        "{name}: not killed"
    );
}

#[test]
fn blocking_calls_are_interruptible() {
    let _t = bound();
    let (client, server) = tcp_pair();
    let client = Rc::new(client);
    let c = client.clone();
    check_interruptible("recv", move || c.recv(&mut [0u8; 8]).map(drop));
    let listener = Rc::new(TcpListener::bind("127.0.0.1:0").unwrap());
    let l = listener.clone();
    check_interruptible("accept", move || l.accept().map(drop));
    let (a, _b) = UnixStream::pair().unwrap();
    let a = Rc::new(a);
    let a2 = a.clone();
    check_interruptible("unix recv", move || a2.recv(&mut [0u8; 8]).map(drop));
    let u = Rc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
    let u2 = u.clone();
    check_interruptible("udp recv_from", move || u2.recv_from(&mut [0u8; 8]).map(drop));
    let (r, _w) = std::io::pipe().unwrap();
    let r = Rc::new(r);
    let r2 = r.clone();
    check_interruptible("wait_read", move || zgreen::net::wait_read(&*r2, None));
    // Still usable after the interruptions.
    server.send_all(b"ok").unwrap();
    let mut buf = [0u8; 2];
    client.recv_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ok");
}

#[test]
fn reader_and_writer_greenlets_share_a_stream() {
    let _t = bound();
    let (client, server) = tcp_pair();
    let server = Rc::new(server);
    // Echo with one greenlet reading and another writing the same stream.
    let (tx, rx) = (server.clone(), server);
    let queue = Rc::new(std::cell::RefCell::new(
        std::collections::VecDeque::<Vec<u8>>::new(),
    ));
    let ev = Rc::new(zgreen::sync::Event::new());
    let (q1, e1) = (queue.clone(), ev.clone());
    let reader = zgreen::spawn(move || -> zgreen::Result<()> {
        let mut buf = [0u8; 1024];
        loop {
            let n = rx.recv(&mut buf)?;
            q1.borrow_mut().push_back(buf[..n].to_vec());
            e1.set();
            if n == 0 {
                return Ok(());
            }
        }
    });
    let writer = zgreen::spawn(move || -> zgreen::Result<()> {
        loop {
            ev.wait()?;
            ev.clear();
            while let Some(chunk) = queue.borrow_mut().pop_front() {
                if chunk.is_empty() {
                    return tx.shutdown(Shutdown::Write);
                }
                tx.send_all(&chunk)?;
            }
        }
    });
    let mut r = BufReader::new(&client);
    for i in 0..100 {
        (&client).write_all(format!("line {i}\n").as_bytes()).unwrap();
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        assert_eq!(line, format!("line {i}\n"));
    }
    client.shutdown(Shutdown::Write).unwrap();
    let mut rest = String::new();
    r.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "");
    reader.get().unwrap().unwrap();
    writer.get().unwrap().unwrap();
}

#[test]
fn unix_listener_and_stream() {
    let _t = bound();
    let dir = std::env::temp_dir().join(format!("zgreen-io-net-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("echo.sock");
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).unwrap();
    let server = zgreen::spawn(move || -> zgreen::Result<()> {
        let (conn, _) = listener.accept()?;
        let mut data = Vec::new();
        (&conn)
            .read_to_end(&mut data)
            .map_err(zgreen::net::io_error_into)?;
        conn.send_all(&data)?;
        Ok(())
    });
    let client = UnixStream::connect(&path).unwrap();
    client.send_all(b"over a unix socket").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let mut back = String::new();
    (&client).read_to_string(&mut back).unwrap();
    assert_eq!(back, "over a unix socket");
    server.get().unwrap().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn udp_round_trip_and_timeout() {
    let _t = bound();
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap();
    let echo = zgreen::spawn(move || -> zgreen::Result<()> {
        let mut buf = [0u8; 1500];
        for _ in 0..3 {
            let (n, from) = server.recv_from(&mut buf)?;
            server.send_to(&buf[..n], from)?;
        }
        Ok(())
    });
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.connect(addr).unwrap();
    for msg in [&b"one"[..], b"two", b"three"] {
        client.send(msg).unwrap();
        let mut buf = [0u8; 1500];
        let n = client.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], msg);
    }
    echo.get().unwrap().unwrap();
    client.set_read_timeout(Some(ms(20)));
    assert!(client.recv(&mut [0u8; 8]).unwrap_err().is_timeout());
}

#[test]
fn name_resolution_runs_off_the_hub() {
    let _t = bound();
    let addrs = zgreen::net::lookup_host("localhost", 8080).unwrap();
    assert!(!addrs.is_empty());
    assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 8080));
    // Host names work wherever an address is taken.
    let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let accept = zgreen::spawn(move || listener.accept().map(drop));
    TcpStream::connect(format!("localhost:{port}"))
        .or_else(|_| TcpStream::connect(("127.0.0.1", port)))
        .unwrap();
    accept.get().unwrap().unwrap();
    let err = TcpStream::connect("no port here").unwrap_err();
    assert_eq!(io_kind(&err), Some(std::io::ErrorKind::InvalidInput));
}

#[test]
fn from_std_streams_become_green() {
    let _t = bound();
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let listener = TcpListener::from_std(l).unwrap();
    let accept = zgreen::spawn(move || listener.accept().map(|(s, _)| s));
    let s = TcpStream::from_std(std::net::TcpStream::connect(addr).unwrap()).unwrap();
    let peer = accept.take().unwrap().unwrap();
    peer.send_all(b"x").unwrap();
    let mut b = [0u8; 1];
    s.recv_exact(&mut b).unwrap();
    assert_eq!(&b, b"x");
    assert_eq!(s.peer_addr().unwrap(), addr);
    s.set_nodelay(true).unwrap();
    assert!(s.nodelay().unwrap());
}

#[test]
fn a_busy_stream_does_not_starve_other_greenlets() {
    let _t = bound();
    let (a, b) = UnixStream::pair().unwrap();
    // `b` always has data ready: the reader never has to park.
    let data = vec![1u8; 4 << 20];
    let writer = zgreen::spawn(move || a.send_all(&data));
    let ticks = Rc::new(std::cell::Cell::new(0u32));
    let t2 = ticks.clone();
    let ticker = zgreen::spawn(move || {
        while zgreen::sleep(Duration::ZERO).is_ok() {
            t2.set(t2.get() + 1);
        }
    });
    let mut buf = [0u8; 16];
    let mut total = 0;
    while total < 4 << 20 {
        total += b.recv(&mut buf).unwrap();
    }
    writer.get().unwrap().unwrap();
    ticker.kill().unwrap();
    assert!(
        ticks.get() > 100,
        "the other greenlet ran only {} times",
        ticks.get()
    );
}

/// A read that returns less than it asked for marks the stream drained,
/// and the next read waits for the hub's next edge instead of trying
/// first. Every way data or the end of the stream can follow a drained
/// read must still wake it: data written later (also from another OS
/// thread, with no greenlet switch on this side), data and FIN arriving
/// together, and a reset.
#[test]
fn reads_after_a_short_read_see_every_later_arrival() {
    let _t = bound();
    // Later data, written from a plain thread while this side is parked.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        for round in 0..200u32 {
            s.write_all(&round.to_le_bytes()).unwrap();
            if round % 50 == 0 {
                std::thread::sleep(ms(2));
            }
        }
        // Data immediately followed by FIN.
        s.write_all(b"last").unwrap();
        s.shutdown(Shutdown::Write).unwrap();
    });
    let stream = TcpStream::connect(addr).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.recv(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    peer.join().unwrap();
    let mut want: Vec<u8> = (0..200u32).flat_map(u32::to_le_bytes).collect();
    want.extend_from_slice(b"last");
    assert_eq!(got, want);

    // Data then FIN on a drained stream: the short read, then end of file.
    let (client, server) = tcp_pair();
    client.send_all(b"a").unwrap();
    assert_eq!(server.recv(&mut buf).unwrap(), 1);
    client.send_all(b"bc").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    (&server).read_to_end(&mut rest).unwrap();
    assert_eq!(rest, b"bc");

    // A reset after a drained read is reported, not waited out.
    let (client, server) = tcp_pair();
    client.send_all(b"x").unwrap();
    assert_eq!(server.recv(&mut buf).unwrap(), 1);
    let raw = client.as_raw_fd();
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: `raw` is the open socket of `client`, and `linger` is a
    // valid `struct linger` that outlives the call.
    let rc = unsafe {
        libc::setsockopt(
            raw,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0);
    drop(client);
    let err = server.recv(&mut buf).unwrap_err();
    assert_eq!(
        io_kind(&err),
        Some(std::io::ErrorKind::ConnectionReset),
        "{err:?}"
    );
}

#[test]
fn write_vectored_sends_every_buffer_in_order_and_parks_when_full() {
    let _t = Timeout::start_new(Duration::from_secs(20));
    let (a, b) = UnixStream::pair().unwrap();
    // One call takes all three small buffers.
    let bufs = [
        std::io::IoSlice::new(b"head:"),
        std::io::IoSlice::new(b"payload"),
        std::io::IoSlice::new(b";"),
    ];
    assert_eq!((&a).write_vectored(&bufs).unwrap(), 13);
    let mut got = [0u8; 13];
    (&b).read_exact(&mut got).unwrap();
    assert_eq!(&got, b"head:payload;");
    // A large vectored write fills the socket buffer: the writer parks
    // until the reader drains, and every byte arrives in order.
    let chunk: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
    let total = chunk.len() * 16;
    let writer = {
        let chunk = chunk.clone();
        zgreen::spawn(move || -> std::io::Result<()> {
            let mut a = a;
            let mut slices: Vec<std::io::IoSlice<'_>> =
                (0..16).map(|_| std::io::IoSlice::new(&chunk)).collect();
            let mut rest: &mut [std::io::IoSlice<'_>] = &mut slices;
            while !rest.is_empty() {
                let n = a.write_vectored(rest)?;
                std::io::IoSlice::advance_slices(&mut rest, n);
            }
            Ok(())
        })
    };
    let mut all = Vec::with_capacity(total);
    let mut b = b;
    while all.len() < total {
        let mut buf = vec![0u8; 100_000];
        let n = b.read(&mut buf).unwrap();
        assert!(n > 0);
        all.extend_from_slice(&buf[..n]);
    }
    writer.take().unwrap().unwrap();
    for (k, part) in all.chunks(chunk.len()).enumerate() {
        assert_eq!(part, &chunk[..], "chunk {k}");
    }
}
