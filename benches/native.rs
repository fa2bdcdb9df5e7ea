//! The native ZMTP transport side by side with green libzmq, blocking
//! libzmq and raw sockets (see BENCHMARKS.md, "Native ZMTP transport").
//!
//! ```text
//! cargo bench -p zgreen --features native --bench native            # all, 5 rounds
//! cargo bench -p zgreen --features native --bench native -- 7 rtt   # 7 rounds, round trips only
//! cargo bench -p zgreen --features native --bench native -- 3 rtt native-only  # for profiling
//! ```
//!
//! Every variant runs its server (REP, or the PUSH sender) on a thread of
//! its own, with its own hub for the green ones, and the client on the
//! main thread. Rounds are interleaved (each round runs every variant
//! once); each figure is the median over the rounds.

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use zgreen::zmq::native;

const PAYLOAD: usize = 100;
const ROUND_TRIPS: usize = 5_000;
const MESSAGES: usize = 200_000;

/// Where each variant listens: tcp on loopback, ipc in the temp dir.
fn endpoint(tcp: bool, name: &str) -> String {
    if tcp {
        "tcp://127.0.0.1:*".to_string()
    } else {
        let path =
            std::env::temp_dir().join(format!("zgreen-native-bench-{}-{name}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        format!("ipc://{}", path.display())
    }
}

// ------------------------------------------------------------ round trips

/// The same round-trip loop for both green socket types (their methods
/// have the same names and shapes).
macro_rules! green_rtt {
    ($new:expr, $tcp:expr, $name:expr) => {{
        let (tx, rx) = mpsc::channel();
        let ep = endpoint($tcp, $name);
        let server = thread::spawn(move || {
            let rep = $new(zmq::REP);
            rep.bind(&ep).unwrap();
            tx.send(rep.last_endpoint().unwrap()).unwrap();
            for _ in 0..ROUND_TRIPS + 100 {
                let m = rep.recv_bytes(0).unwrap();
                rep.send(&m, 0).unwrap();
            }
            // Let the last reply go out before the hub stops.
            zgreen::sleep(Duration::from_millis(50)).unwrap();
        });
        let ep = rx.recv().unwrap();
        let req = $new(zmq::REQ);
        req.connect(&ep).unwrap();
        let body = vec![7u8; PAYLOAD];
        for _ in 0..100 {
            req.send(&body, 0).unwrap();
            req.recv_bytes(0).unwrap();
        }
        let start = Instant::now();
        for _ in 0..ROUND_TRIPS {
            req.send(&body, 0).unwrap();
            req.recv_bytes(0).unwrap();
        }
        let per = start.elapsed() / ROUND_TRIPS as u32;
        server.join().unwrap();
        per
    }};
}

fn native_socket(kind: zmq::SocketType) -> native::Socket {
    native::Socket::new(kind).unwrap()
}

fn green_socket(kind: zmq::SocketType) -> zgreen::zmq::Socket {
    zgreen::zmq::Context::instance().socket(kind).unwrap()
}

fn rtt_native(tcp: bool) -> Duration {
    green_rtt!(native_socket, tcp, "rtt-native")
}

fn rtt_green_libzmq(tcp: bool) -> Duration {
    green_rtt!(green_socket, tcp, "rtt-green")
}

/// Blocking libzmq REQ/REP in two threads.
fn rtt_blocking_libzmq(tcp: bool) -> Duration {
    let ctx = zmq::Context::new();
    let rep = ctx.socket(zmq::REP).unwrap();
    rep.bind(&endpoint(tcp, "rtt-blocking")).unwrap();
    let ep = rep.get_last_endpoint().unwrap().unwrap();
    let server = thread::spawn(move || {
        for _ in 0..ROUND_TRIPS + 100 {
            let m = rep.recv_bytes(0).unwrap();
            rep.send(&m, 0).unwrap();
        }
    });
    let req = ctx.socket(zmq::REQ).unwrap();
    req.connect(&ep).unwrap();
    let body = vec![7u8; PAYLOAD];
    for _ in 0..100 {
        req.send(&body, 0).unwrap();
        req.recv_bytes(0).unwrap();
    }
    let start = Instant::now();
    for _ in 0..ROUND_TRIPS {
        req.send(&body, 0).unwrap();
        req.recv_bytes(0).unwrap();
    }
    let per = start.elapsed() / ROUND_TRIPS as u32;
    server.join().unwrap();
    per
}

/// Raw ping-pong of `PAYLOAD` bytes over blocking std sockets in two
/// threads (TCP_NODELAY on).
fn rtt_raw(tcp: bool) -> Duration {
    fn run<S: Read + Write + Send + 'static>(client: S, server: S) -> Duration {
        let server = thread::spawn(move || {
            let mut s = server;
            let mut buf = [0u8; PAYLOAD];
            for _ in 0..ROUND_TRIPS + 100 {
                s.read_exact(&mut buf).unwrap();
                s.write_all(&buf).unwrap();
            }
        });
        let mut c = client;
        let mut buf = [7u8; PAYLOAD];
        for _ in 0..100 {
            c.write_all(&buf).unwrap();
            c.read_exact(&mut buf).unwrap();
        }
        let start = Instant::now();
        for _ in 0..ROUND_TRIPS {
            c.write_all(&buf).unwrap();
            c.read_exact(&mut buf).unwrap();
        }
        let per = start.elapsed() / ROUND_TRIPS as u32;
        server.join().unwrap();
        per
    }
    if tcp {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        c.set_nodelay(true).unwrap();
        s.set_nodelay(true).unwrap();
        run(c, s)
    } else {
        let (c, s) = std::os::unix::net::UnixStream::pair().unwrap();
        run(c, s)
    }
}

// ------------------------------------------------------------- throughput

/// PUSH on a thread of its own → PULL here; msg/s from the first message
/// received to the last.
macro_rules! green_push_pull {
    ($new:expr, $size:expr) => {{
        let (tx, rx) = mpsc::channel();
        let done = Arc::new(AtomicBool::new(false));
        let d = done.clone();
        let size = $size;
        let sender = thread::spawn(move || {
            let push = $new(zmq::PUSH);
            push.bind("tcp://127.0.0.1:*").unwrap();
            tx.send(push.last_endpoint().unwrap()).unwrap();
            let body = vec![1u8; size];
            for _ in 0..MESSAGES {
                push.send(&body, 0).unwrap();
            }
            while !d.load(Ordering::SeqCst) {
                zgreen::sleep(Duration::from_millis(1)).unwrap();
            }
        });
        let ep = rx.recv().unwrap();
        let pull = $new(zmq::PULL);
        pull.connect(&ep).unwrap();
        pull.recv_bytes(0).unwrap();
        let start = Instant::now();
        for _ in 1..MESSAGES {
            pull.recv_bytes(0).unwrap();
        }
        let rate = (MESSAGES - 1) as f64 / start.elapsed().as_secs_f64();
        done.store(true, Ordering::SeqCst);
        sender.join().unwrap();
        rate
    }};
}

fn push_pull_native(size: usize) -> f64 {
    green_push_pull!(native_socket, size)
}

fn push_pull_green_libzmq(size: usize) -> f64 {
    green_push_pull!(green_socket, size)
}

// ----------------------------------------------------------------- report

fn median<T: PartialOrd + Copy>(mut v: Vec<T>) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let rounds: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(5);
    let only = |what: &str| {
        args.iter()
            .all(|a| a.parse::<usize>().is_ok() || a == "native-only")
            || args.iter().any(|a| a == what)
    };
    println!("native ZMTP bench: {rounds} interleaved rounds, medians");
    if only("rtt") {
        for tcp in [true, false] {
            let t = if tcp { "tcp" } else { "ipc" };
            let (mut n, mut g, mut b, mut r) = (vec![], vec![], vec![], vec![]);
            let native_only = args.iter().any(|a| a == "native-only");
            for _ in 0..rounds {
                n.push(rtt_native(tcp));
                if native_only {
                    continue;
                }
                g.push(rtt_green_libzmq(tcp));
                b.push(rtt_blocking_libzmq(tcp));
                r.push(rtt_raw(tcp));
            }
            if native_only {
                println!(
                    "REQ/REP round trip {PAYLOAD} B {t}: native {:.1} µs",
                    us(median(n))
                );
                continue;
            }
            let (n, g, b, r) = (us(median(n)), us(median(g)), us(median(b)), us(median(r)));
            println!(
                "REQ/REP round trip {PAYLOAD} B {t}: native {n:.1} µs, green libzmq {g:.1} µs, blocking libzmq {b:.1} µs, raw {t} ping-pong {r:.1} µs; native/raw {:.2}×, green libzmq/native {:.2}×",
                n / r,
                g / n
            );
        }
    }
    if only("push") {
        for size in [100, 1024] {
            let (mut n, mut g) = (vec![], vec![]);
            for _ in 0..rounds {
                n.push(push_pull_native(size));
                g.push(push_pull_green_libzmq(size));
            }
            let (n, g) = (median(n), median(g));
            println!(
                "PUSH/PULL {size} B tcp: native {:.0} k msg/s, green libzmq {:.0} k msg/s; native/libzmq {:.2}×",
                n / 1e3,
                g / 1e3,
                n / g
            );
        }
    }
}
