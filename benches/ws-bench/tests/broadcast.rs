//! End to end: the `ws-bench server` process and a small client count in
//! this process; every message must arrive intact and in order
//! (`clients::run` checks each one), within a bounded time.

use std::path::Path;
use std::time::{Duration, Instant};

use ws_bench::clients::{self, ClientOptions};
use ws_bench::driver;
use zgreen_harness::ChildGuard;

/// Starts `ws-bench <subcommand> <extra>` and returns it (killed when the
/// test ends, passing or not) with its address.
fn start_server(subcommand: &str, extra: &[&str]) -> (ChildGuard, String) {
    let args: Vec<&str> = [subcommand].iter().chain(extra).copied().collect();
    driver::start_server(Path::new(env!("CARGO_BIN_EXE_ws-bench")), &args, 64)
        .unwrap_or_else(|e| panic!("the server prints its address within 10 s: {e}"))
}

/// Runs 20 clients x 50 messages against `subcommand`'s server.
fn twenty_clients_against(subcommand: &str) {
    let (_server, addr) = start_server(subcommand, &[]);
    let started = Instant::now();
    let report = clients::run(&ClientOptions {
        addr,
        clients: 20,
        messages: 50,
        size: 64,
        timeout: Duration::from_secs(5),
    })
    .expect("every client gets every message intact and in order");
    assert_eq!(report.deliveries, 20 * 50);
    assert_eq!(report.server.clients, 20);
    assert_eq!(
        (report.server.send_errors, report.server.slow_disconnects),
        (0, 0)
    );
    assert!(report.deliveries_per_s > 0.0 && report.server.cpu_s >= 0.0);
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn twenty_clients_get_every_message_in_order() {
    twenty_clients_against("server");
}

#[test]
fn the_peer_server_passes_the_same_check() {
    twenty_clients_against("peer-server");
}

#[test]
fn a_server_that_never_answers_fails_the_run_in_bounded_time() {
    // A listener that accepts nothing: the handshakes stall, and the run
    // must fail after its timeout instead of hanging.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let started = Instant::now();
    let err = clients::run(&ClientOptions {
        addr: silent.local_addr().unwrap().to_string(),
        clients: 3,
        messages: 5,
        size: 64,
        timeout: Duration::from_millis(500),
    })
    .expect_err("no server: the run fails");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(!err.is_empty());
}

#[test]
fn a_broadcast_that_stops_short_fails_the_run_in_bounded_time() {
    use zgreen::http::{HttpServer, Message, Request, Router, WebSocket, upgrade};

    // A server on this thread's hub that answers `go` with only 10 of the
    // messages: the clients must report the stall after their timeout.
    let router = Router::new().get("/ws", |req: &Request| {
        upgrade(req, |ws: WebSocket| {
            while let Ok(msg) = ws.recv() {
                if matches!(msg, Message::Text(ref t) if t.starts_with("go ")) {
                    for seq in 0..10 {
                        let _ = ws.send(Message::Binary(ws_bench::protocol::message(seq, 64)));
                    }
                }
            }
        })
    });
    let server = HttpServer::bind("127.0.0.1:0", router).unwrap();
    server.start().unwrap();
    let started = Instant::now();
    let err = clients::run(&ClientOptions {
        addr: server.local_addr().to_string(),
        clients: 1,
        messages: 50,
        size: 64,
        timeout: Duration::from_millis(500),
    })
    .expect_err("40 messages never come");
    // Either the run's deadline or the client's read timeout fires first.
    assert!(err.contains("10 of 50"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    server.close();
}

#[test]
fn a_client_that_never_reads_is_counted_as_slow_and_the_others_get_everything() {
    use std::io::{Read, Write};

    let (_server, addr) = start_server("server", &["--send-timeout-ms", "200"]);
    // A raw WebSocket client that completes the handshake, then reads no
    // more: its send queue and socket buffers fill, and the broadcaster's
    // `send` disconnects it after 200 ms.
    let mut silent = std::net::TcpStream::connect(&addr).unwrap();
    silent.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    silent
        .write_all(
            b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .unwrap();
    let mut head = [0; 12];
    silent.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 101");
    // 3000 x 4 KiB = 12 MiB: more than the queue and the socket buffers.
    let report = clients::run(&ClientOptions {
        addr,
        clients: 1,
        messages: 3000,
        size: 4096,
        timeout: Duration::from_secs(10),
    })
    .expect("the reading client gets every message");
    assert_eq!(report.deliveries, 3000);
    assert_eq!(report.server.clients, 2);
    assert_eq!(
        (report.server.slow_disconnects, report.server.send_errors),
        (1, 1)
    );
}
