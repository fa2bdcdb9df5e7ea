//! `StreamServer`: many concurrent echo connections with every byte
//! checked, the connection limit in both overflow modes, graceful stop and
//! serve_forever. Every test is bounded by a `Timeout` scope.
#![cfg(feature = "net")]

use std::cell::Cell;
use std::io::Read;
use std::net::{Shutdown, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};

use zgreen::net::{Overflow, StreamServer, TcpStream};
use zgreen::{Error, Timeout};
use zgreen_harness::ms;

fn echo(conn: TcpStream, _peer: SocketAddr) -> zgreen::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = conn.recv(&mut buf)?;
        if n == 0 {
            return conn.shutdown(Shutdown::Write);
        }
        conn.send_all(&buf[..n])?;
    }
}

/// A running checksum over a byte stream that arrives in arbitrary pieces:
/// 64-bit little-endian words, each multiplied in (a multiplicative hash
/// over words rather than bytes, so a debug build keeps up with a GiB).
#[derive(Clone, Copy)]
struct Checksum {
    acc: u64,
    carry: [u8; 8],
    carried: usize,
    len: u64,
}

impl Checksum {
    fn new() -> Checksum {
        Checksum {
            acc: 0xcbf2_9ce4_8422_2325,
            carry: [0; 8],
            carried: 0,
            len: 0,
        }
    }

    fn word(&mut self, w: u64) {
        self.acc = (self.acc ^ w).wrapping_mul(0x0100_0000_01b3).rotate_left(23);
    }

    fn update(&mut self, mut data: &[u8]) {
        self.len += data.len() as u64;
        if self.carried > 0 {
            let take = (8 - self.carried).min(data.len());
            self.carry[self.carried..self.carried + take].copy_from_slice(&data[..take]);
            self.carried += take;
            data = &data[take..];
            if self.carried < 8 {
                return;
            }
            self.word(u64::from_le_bytes(self.carry));
            self.carried = 0;
        }
        let mut words = data.chunks_exact(8);
        for w in &mut words {
            self.word(u64::from_le_bytes(w.try_into().expect("8 bytes")));
        }
        let rest = words.remainder();
        self.carry[..rest.len()].copy_from_slice(rest);
        self.carried = rest.len();
    }

    fn finish(mut self) -> (u64, u64) {
        let tail = self.carry;
        for (i, &b) in tail[..self.carried].iter().enumerate() {
            self.word(u64::from(b) << (8 * i));
        }
        (self.acc, self.len)
    }
}

/// The bytes connection `id` sends: a shared pseudo-random pattern, rotated
/// by a per-connection offset (so that two connections' streams differ).
fn stream_of(pattern: &[u8], id: usize, len: usize) -> Vec<u8> {
    let mut off = (id * 7919) % pattern.len();
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        let take = (pattern.len() - off).min(len - v.len());
        v.extend_from_slice(&pattern[off..off + take]);
        off = 0;
    }
    v
}

/// `clients` concurrent connections each send `bytes` bytes (writer and
/// reader greenlets on the same stream) and check that the echo has the
/// same length and checksum as what they sent, and equals it byte for
/// byte.
fn echo_many(clients: usize, bytes: usize) {
    let server = StreamServer::bind("127.0.0.1:0", echo).unwrap();
    server.start().unwrap();
    let addr = server.local_addr();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let pattern: Vec<u8> = (0..(1 << 16) + 13)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect();
    let pattern = Rc::new(pattern);
    let mut all = Vec::new();
    for id in 0..clients {
        let pattern = pattern.clone();
        all.push(zgreen::spawn(move || -> zgreen::Result<()> {
            let data = Rc::new(stream_of(&pattern, id, bytes));
            let mut sent = Checksum::new();
            sent.update(&data);
            let conn = Rc::new(TcpStream::connect(addr)?);
            let (c, d) = (conn.clone(), data.clone());
            let writer = zgreen::spawn(move || -> zgreen::Result<()> {
                for chunk in d.chunks(100_000) {
                    c.send_all(chunk)?;
                }
                c.shutdown(Shutdown::Write)
            });
            let mut buf = vec![0u8; 64 * 1024];
            let mut got = 0;
            let mut received = Checksum::new();
            loop {
                let n = conn.recv(&mut buf)?;
                if n == 0 {
                    break;
                }
                assert!(got + n <= bytes, "connection {id}: too many bytes back");
                assert_eq!(
                    &buf[..n],
                    &data[got..got + n],
                    "connection {id}: corrupt echo at {got}"
                );
                received.update(&buf[..n]);
                got += n;
            }
            writer.get()??;
            assert_eq!(got, bytes, "connection {id}: short echo");
            assert_eq!(received.finish(), sent.finish(), "connection {id}: checksum");
            Ok(())
        }));
    }
    for (id, g) in all.iter().enumerate() {
        g.get()
            .unwrap_or_else(|e| panic!("client {id}: {e}"))
            .unwrap_or_else(|e| panic!("client {id}: {e}"));
    }
    assert_eq!(server.accepted(), clients as u64);
    assert_eq!(server.stop(ms(1000)).unwrap(), 0);
}

#[test]
fn thousand_concurrent_echo_connections() {
    let _t = Timeout::start_new(Duration::from_secs(120));
    // 1000 connections x 1 MiB in release builds (`cargo test --release`);
    // debug builds echo 256 KiB per connection, since checksumming 2 GiB
    // unoptimised takes ~15 s. ZGREEN_ECHO_BYTES overrides the size.
    let bytes = std::env::var("ZGREEN_ECHO_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if cfg!(debug_assertions) {
            256 << 10
        } else {
            1 << 20
        });
    let start = Instant::now();
    echo_many(1000, bytes);
    eprintln!("1000 connections x {bytes} bytes echoed in {:?}", start.elapsed());
}

#[test]
fn max_connections_wait_queues_the_rest() {
    let _t = Timeout::start_new(Duration::from_secs(30));
    let running = Rc::new(Cell::new(0usize));
    let peak = Rc::new(Cell::new(0usize));
    let (r, p) = (running.clone(), peak.clone());
    let server = StreamServer::bind("127.0.0.1:0", move |conn: TcpStream, _| -> zgreen::Result<()> {
        r.set(r.get() + 1);
        p.set(p.get().max(r.get()));
        zgreen::sleep(ms(20))?;
        r.set(r.get() - 1);
        conn.send_all(b"done")
    })
    .unwrap()
    .max_connections(3);
    server.start().unwrap();
    let addr = server.local_addr();
    let clients: Vec<_> = (0..10)
        .map(|_| {
            zgreen::spawn(move || -> zgreen::Result<String> {
                let mut s = String::new();
                (&TcpStream::connect(addr)?)
                    .read_to_string(&mut s)
                    .map_err(zgreen::net::io_error_into)?;
                Ok(s)
            })
        })
        .collect();
    for c in &clients {
        assert_eq!(c.take().unwrap().unwrap(), "done");
    }
    assert_eq!(peak.get(), 3, "at most 3 handlers at once");
    assert_eq!(server.refused(), 0);
    server.stop(ms(100)).unwrap();
}

#[test]
fn max_connections_refuse_closes_the_rest() {
    let _t = Timeout::start_new(Duration::from_secs(30));
    let server = StreamServer::bind("127.0.0.1:0", |conn: TcpStream, _| -> zgreen::Result<()> {
        conn.send_all(b"welcome")?;
        zgreen::sleep(ms(200))
    })
    .unwrap()
    .max_connections(2)
    .overflow(Overflow::Refuse);
    server.start().unwrap();
    let addr = server.local_addr();
    let mut welcomed = 0;
    let mut refused = 0;
    let mut conns = Vec::new();
    for _ in 0..5 {
        let c = TcpStream::connect(addr).unwrap();
        let mut buf = [0u8; 7];
        match c.recv_exact(&mut buf) {
            Ok(()) => {
                assert_eq!(&buf, b"welcome");
                welcomed += 1;
            }
            Err(e) => {
                // Closed at once: end of file (or a reset).
                assert!(matches!(e, Error::Io(_)), "{e:?}");
                refused += 1;
            }
        }
        conns.push(c);
    }
    assert_eq!((welcomed, refused), (2, 3));
    assert_eq!(server.refused(), 3);
    server.stop(ms(1000)).unwrap();
}

#[test]
fn stop_waits_for_handlers_then_kills_the_rest() {
    let _t = Timeout::start_new(Duration::from_secs(30));
    let finished = Rc::new(Cell::new(0));
    let f = finished.clone();
    let server = StreamServer::bind("127.0.0.1:0", move |conn: TcpStream, _| -> zgreen::Result<()> {
        let mut b = [0u8; 1];
        conn.recv_exact(&mut b)?;
        // 's' handlers finish quickly, 'l' handlers would take 100 s.
        zgreen::sleep(if b[0] == b's' {
            ms(30)
        } else {
            Duration::from_secs(100)
        })?;
        f.set(f.get() + 1);
        Ok(())
    })
    .unwrap();
    server.start().unwrap();
    let addr = server.local_addr();
    let mut conns = Vec::new();
    for kind in [b"s", b"s", b"l"] {
        let c = TcpStream::connect(addr).unwrap();
        c.send_all(kind).unwrap();
        conns.push(c);
    }
    while server.connections() < 3 {
        zgreen::sleep(ms(1)).unwrap();
    }
    let start = Instant::now();
    let killed = server.stop(ms(300)).unwrap();
    let took = start.elapsed();
    assert_eq!(killed, 1);
    assert_eq!(finished.get(), 2, "the short handlers finished");
    assert!(took >= ms(250) && took < ms(3000), "stop took {took:?}");
    // The listener is closed: new connections are refused.
    let err = TcpStream::connect(addr).unwrap_err();
    assert!(
        matches!(err, Error::Io(ref e) if e.kind() == std::io::ErrorKind::ConnectionRefused),
        "{err:?}"
    );
    assert!(server.start().is_err(), "a stopped server cannot restart");
}

#[test]
fn serve_forever_returns_after_a_handler_stops_the_server() {
    let _t = Timeout::start_new(Duration::from_secs(30));
    let slot: Rc<std::cell::RefCell<Option<StreamServer>>> = Rc::default();
    let s2 = slot.clone();
    let server = StreamServer::bind("127.0.0.1:0", move |conn: TcpStream, _| -> zgreen::Result<()> {
        let mut cmd = [0u8; 4];
        conn.recv_exact(&mut cmd)?;
        if &cmd == b"quit" {
            let server = s2.borrow().clone().expect("server set");
            server.stop(ms(500))?;
            conn.send_all(b"bye")?;
        }
        Ok(())
    })
    .unwrap();
    *slot.borrow_mut() = Some(server.clone());
    let addr = server.local_addr();
    let client = zgreen::spawn(move || -> zgreen::Result<String> {
        let c = TcpStream::connect(addr)?;
        c.send_all(b"quit")?;
        let mut s = String::new();
        (&c).read_to_string(&mut s).map_err(zgreen::net::io_error_into)?;
        Ok(s)
    });
    server.serve_forever().unwrap();
    assert_eq!(client.take().unwrap().unwrap(), "bye");
    slot.borrow_mut().take();
}

#[test]
fn serve_forever_under_a_timeout_closes_the_server() {
    let _t = Timeout::start_new(Duration::from_secs(30));
    let server = StreamServer::bind("127.0.0.1:0", |_c: TcpStream, _| ()).unwrap();
    let addr = server.local_addr();
    let t = Timeout::start_new(ms(30));
    let err = server.serve_forever().unwrap_err();
    assert!(t.is(&err), "{err:?}");
    drop(t);
    zgreen::sleep(ms(5)).unwrap();
    let err = TcpStream::connect(addr).unwrap_err();
    assert!(matches!(err, Error::Io(_)), "{err:?}");
}

#[test]
fn handlers_run_in_a_shared_pool() {
    let _t = Timeout::start_new(Duration::from_secs(30));
    let pool = zgreen::pool::Pool::new(2);
    let server = StreamServer::bind("127.0.0.1:0", |conn: TcpStream, _| conn.send_all(b"hi"))
        .unwrap()
        .pool(pool.clone());
    server.start().unwrap();
    let mut s = String::new();
    (&TcpStream::connect(server.local_addr()).unwrap())
        .read_to_string(&mut s)
        .unwrap();
    assert_eq!(s, "hi");
    assert_eq!(pool.size(), 2);
    server.stop(ms(100)).unwrap();
}
