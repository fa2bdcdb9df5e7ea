//! WebSocket upgrades: text and binary echo, pings both ways, the close
//! handshake from either side, slow clients disconnected at the send
//! queue's bound, silent clients dropped, bad handshakes refused; ping
//! bursts answered (the latest ping), ping floods closed by policy,
//! protocol errors answered with the right close code (RFC 6455 §7.4),
//! a handler that does not read applying backpressure.
//!
//! The server runs on its own thread; the clients are blocking
//! `tungstenite` clients over `std::net::TcpStream`, every read bounded.
#![cfg(feature = "http")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use tungstenite::Message as M;
use zgreen::http::{
    HttpServer, Message, PreparedMessage, Request, Response, Router, WebSocket, WsConfig, upgrade_with,
};

use zgreen_harness::ms;

mod common;
use common::assert_took_between;

const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// What the server's handlers report to the test.
#[derive(Debug)]
enum Report {
    SlowDropped { queued_bytes_max: usize, sent: usize },
    Closed,
    Burst { frames_written: u64 },
}

fn config() -> WsConfig {
    WsConfig {
        ping_interval: Duration::from_millis(200),
        idle_timeout: Duration::from_secs(1),
        send_queue_messages: 8,
        send_queue_bytes: 512 * 1024,
        send_timeout: Duration::from_millis(500),
        ..WsConfig::default()
    }
}

fn serve() -> (SocketAddr, mpsc::Receiver<Report>) {
    let (tx, rx) = mpsc::channel();
    let (reports, report_rx) = mpsc::channel();
    thread::spawn(move || {
        let r1 = reports.clone();
        let r2 = reports.clone();
        let r3 = reports.clone();
        let router = Router::new()
            .get("/echo", |req: &Request| {
                upgrade_with(req, config(), |ws: WebSocket| {
                    while let Ok(msg) = ws.recv() {
                        if ws.send(msg).is_err() {
                            break;
                        }
                    }
                })
            })
            .get("/bye", |req: &Request| {
                upgrade_with(req, config(), |ws: WebSocket| {
                    ws.send_text("bye").unwrap();
                    ws.close_with(4000, "done").unwrap();
                })
            })
            .get("/flood", move |req: &Request| {
                let reports = r1.clone();
                upgrade_with(req, config(), move |ws: WebSocket| {
                    let chunk = vec![7u8; 64 * 1024];
                    let mut sent = 0;
                    let mut queued_bytes_max = 0;
                    while ws.send_binary(chunk.clone()).is_ok() {
                        sent += 1;
                        queued_bytes_max = queued_bytes_max.max(ws.stats().queued_bytes);
                        zgreen::sleep(Duration::from_millis(1)).unwrap();
                    }
                    assert!(ws.stats().dropped_slow);
                    let _ = reports.send(Report::SlowDropped {
                        queued_bytes_max,
                        sent,
                    });
                })
            })
            .get("/burst", move |req: &Request| {
                let reports = r3.clone();
                let roomy = WsConfig {
                    send_queue_messages: BURST + 8,
                    ..config()
                };
                upgrade_with(req, roomy, move |ws: WebSocket| {
                    // Queued without a switch in between: the writer finds
                    // them all at once and joins them into few writes.
                    let shared = PreparedMessage::new(Message::Binary(vec![1, 2, 3]));
                    for i in 0..BURST {
                        let queued = match i % 3 {
                            0 => ws.send_prepared_or_disconnect(&shared),
                            1 => ws.send_or_disconnect(Message::Text(format!("m{i}"))),
                            _ => ws.send_prepared(&PreparedMessage::new(Message::Text(format!("p{i}")))),
                        };
                        queued.unwrap();
                    }
                    assert!(ws.stats().queued_messages > 0);
                    ws.close_with(1000, "burst done").unwrap();
                    let _ = reports.send(Report::Burst {
                        frames_written: ws.stats().frames_written,
                    });
                })
            })
            .get("/deaf", |req: &Request| {
                // Never reads: the server must stop reading the socket and
                // close the connection once the receive queue stalls.
                let deaf = WsConfig {
                    recv_queue_bytes: 64 * 1024,
                    idle_timeout: Duration::from_millis(500),
                    ..config()
                };
                upgrade_with(req, deaf, |ws: WebSocket| {
                    let _ = zgreen::sleep(Duration::from_secs(30));
                    drop(ws);
                })
            })
            .get("/wait", move |req: &Request| {
                let reports = r2.clone();
                upgrade_with(req, config(), move |ws: WebSocket| {
                    while ws.recv().is_ok() {}
                    let _ = reports.send(Report::Closed);
                })
            });
        let server = HttpServer::bind("127.0.0.1:0", router).unwrap();
        tx.send(server.local_addr()).unwrap();
        server.serve_forever().unwrap();
    });
    (rx.recv_timeout(IO_TIMEOUT).unwrap(), report_rx)
}

type Client = tungstenite::WebSocket<TcpStream>;

fn client(addr: SocketAddr, path: &str) -> Client {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let (ws, resp) = tungstenite::client(format!("ws://{addr}{path}"), s).unwrap();
    assert_eq!(resp.status(), 101);
    ws
}

/// The next data or close message (pings are answered by tungstenite).
fn next(ws: &mut Client) -> M {
    loop {
        match ws.read().unwrap() {
            M::Ping(_) | M::Pong(_) => continue,
            m => return m,
        }
    }
}

#[test]
fn echo_text_and_binary() {
    let (addr, _) = serve();
    let mut ws = client(addr, "/echo");
    ws.send(M::text("hello")).unwrap();
    assert_eq!(next(&mut ws), M::text("hello"));
    ws.send(M::binary(vec![0u8, 1, 2, 255])).unwrap();
    assert_eq!(next(&mut ws), M::binary(vec![0u8, 1, 2, 255]));
    // A large message, sent in fragments.
    let big = "x".repeat(200_000);
    ws.send(M::text(big.clone())).unwrap();
    assert_eq!(next(&mut ws), M::text(big));
    // Many messages in a burst keep their order.
    for i in 0..100 {
        ws.write(M::text(i.to_string())).unwrap();
    }
    ws.flush().unwrap();
    for i in 0..100 {
        assert_eq!(next(&mut ws), M::text(i.to_string()));
    }
    let _ = Message::Text(String::new());
}

#[test]
fn pings_both_ways() {
    let (addr, _) = serve();
    let mut ws = client(addr, "/echo");
    ws.send(M::Ping(b"are you there".to_vec().into())).unwrap();
    let started = Instant::now();
    match ws.read().unwrap() {
        M::Pong(p) => assert_eq!(&p[..], b"are you there"),
        m => panic!("expected a pong, got {m:?}"),
    }
    // Quiet for longer than the ping interval: the server pings us, and
    // our pongs (sent by tungstenite) keep the connection alive past the
    // idle timeout.
    let mut pings = 0;
    while started.elapsed() < Duration::from_millis(1500) {
        if let M::Ping(_) = ws.read().unwrap() {
            pings += 1;
        }
    }
    assert!(pings >= 3, "{pings} pings");
    ws.send(M::text("still here")).unwrap();
    assert_eq!(next(&mut ws), M::text("still here"));
}

#[test]
fn client_initiated_close() {
    let (addr, reports) = serve();
    let mut ws = client(addr, "/wait");
    ws.close(None).unwrap();
    // The server answers with its close frame, then closes the socket.
    loop {
        match ws.read() {
            Ok(M::Close(_)) | Ok(M::Ping(_)) => continue,
            Err(tungstenite::Error::ConnectionClosed) => break,
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(
        reports.recv_timeout(IO_TIMEOUT).unwrap(),
        Report::Closed
    ));
}

/// Messages in the `/burst` test.
const BURST: usize = 3000;

#[test]
fn a_burst_of_queued_frames_arrives_whole_and_in_order() {
    let (addr, reports) = serve();
    let mut ws = client(addr, "/burst");
    for i in 0..BURST {
        let want = match i % 3 {
            0 => M::binary(vec![1u8, 2, 3]),
            1 => M::text(format!("m{i}")),
            _ => M::text(format!("p{i}")),
        };
        assert_eq!(next(&mut ws), want, "message {i}");
    }
    match next(&mut ws) {
        M::Close(Some(f)) => assert_eq!(f.reason.as_str(), "burst done"),
        m => panic!("{m:?}"),
    }
    match reports.recv_timeout(IO_TIMEOUT).unwrap() {
        // Every data frame and the close frame were counted as written.
        Report::Burst { frames_written } => assert!(frames_written > BURST as u64, "{frames_written}"),
        r => panic!("{r:?}"),
    }
}

#[test]
fn server_initiated_close() {
    let (addr, _) = serve();
    let mut ws = client(addr, "/bye");
    assert_eq!(next(&mut ws), M::text("bye"));
    match next(&mut ws) {
        M::Close(Some(f)) => {
            assert_eq!(u16::from(f.code), 4000);
            assert_eq!(f.reason.as_str(), "done");
        }
        m => panic!("{m:?}"),
    }
    // tungstenite answered the close; the server then closes the socket.
    loop {
        match ws.read() {
            Ok(_) => continue,
            Err(tungstenite::Error::ConnectionClosed) => break,
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn a_slow_client_is_disconnected_not_buffered() {
    let (addr, reports) = serve();
    // Small kernel buffers would only make it faster; the client reads
    // nothing at all.
    let ws = client(addr, "/flood");
    match reports.recv_timeout(Duration::from_secs(30)).unwrap() {
        Report::SlowDropped {
            queued_bytes_max,
            sent,
        } => {
            assert!(queued_bytes_max <= 512 * 1024, "queue grew to {queued_bytes_max}");
            assert!(sent >= 8, "sent {sent}");
        }
        r => panic!("{r:?}"),
    }
    drop(ws);
    // The server goes on serving others.
    let mut other = client(addr, "/echo");
    other.send(M::text("ok")).unwrap();
    assert_eq!(next(&mut other), M::text("ok"));
}

/// A hand-made handshake that never answers pings.
fn raw_upgrade(addr: SocketAddr, path: &str, extra: &str) -> (BufReader<TcpStream>, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}\r\n"
    )
    .unwrap();
    let mut r = BufReader::new(s);
    let mut head = String::new();
    while !head.ends_with("\r\n\r\n") {
        if r.read_line(&mut head).unwrap() == 0 {
            break;
        }
    }
    (r, head)
}

#[test]
fn a_silent_client_is_dropped() {
    let (addr, reports) = serve();
    let (mut r, head) = raw_upgrade(addr, "/wait", "Sec-WebSocket-Version: 13\r\n");
    assert!(head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"), "{head}");
    assert!(
        head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
        "{head}"
    );
    // We never answer the pings: after the idle timeout (1 s) the
    // server gives up and closes.
    let started = Instant::now();
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).unwrap();
    assert_took_between(started.elapsed(), ms(800), Duration::from_secs(5));
    assert!(rest.starts_with(&[0x89, 0x00]), "a ping first: {rest:?}");
    assert!(matches!(
        reports.recv_timeout(IO_TIMEOUT).unwrap(),
        Report::Closed
    ));
}

#[test]
fn bad_handshakes_are_refused() {
    let (addr, _) = serve();
    let (_, head) = raw_upgrade(addr, "/echo", "Sec-WebSocket-Version: 8\r\n");
    assert!(head.starts_with("HTTP/1.1 426 "), "{head}");
    assert!(head.contains("Sec-WebSocket-Version: 13\r\n"), "{head}");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.write_all(b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
        .unwrap();
    let mut head = [0u8; 12];
    s.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 400");
    // A plain GET on the WebSocket route is a 400 too, not an upgrade.
    let reply = zgreen::http::Client::new()
        .get(&format!("http://{addr}/echo"))
        .unwrap();
    assert_eq!(reply.status(), 400);
    let _ = Response::new(200);
}

#[test]
fn unmasked_client_frames_are_a_protocol_error() {
    let (addr, reports) = serve();
    let (mut r, head) = raw_upgrade(addr, "/wait", "Sec-WebSocket-Version: 13\r\n");
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    // An unmasked text frame "hi": RFC 6455 requires the server to fail
    // the connection.
    r.get_mut().write_all(&[0x81, 0x02, b'h', b'i']).unwrap();
    let mut rest = Vec::new();
    let _ = r.read_to_end(&mut rest);
    assert!(matches!(
        reports.recv_timeout(IO_TIMEOUT).unwrap(),
        Report::Closed
    ));
}

/// A masked client frame (`opcode`, FIN set) carrying `payload`.
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x12, 0x34, 0x56, 0x78];
    let mut f = vec![0x80 | opcode];
    match payload.len() {
        n @ 0..=125 => f.push(0x80 | n as u8),
        n @ 126..=0xFFFF => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

/// Reads one (unmasked, server) frame: its first byte and payload.
fn server_frame(r: &mut impl Read) -> (u8, Vec<u8>) {
    let mut h = [0u8; 2];
    r.read_exact(&mut h).unwrap();
    let len = match h[1] & 0x7F {
        126 => {
            let mut l = [0u8; 2];
            r.read_exact(&mut l).unwrap();
            usize::from(u16::from_be_bytes(l))
        }
        127 => {
            let mut l = [0u8; 8];
            r.read_exact(&mut l).unwrap();
            u64::from_be_bytes(l) as usize
        }
        n => usize::from(n),
    };
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).unwrap();
    (h[0], payload)
}

/// Skips data frames and pings until a close frame; returns its exact
/// bytes (header and payload).
fn close_frame(r: &mut impl Read) -> Vec<u8> {
    loop {
        let (first, payload) = server_frame(r);
        if first == 0x88 {
            let mut frame = vec![first, payload.len() as u8];
            frame.extend(payload);
            return frame;
        }
    }
}

fn upgraded(addr: SocketAddr, path: &str) -> BufReader<TcpStream> {
    let (r, head) = raw_upgrade(addr, path, "Sec-WebSocket-Version: 13\r\n");
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    r
}

/// RFC 6455 §5.5.3: a burst of 300 pings gets a pong (for the latest
/// ping: unsent pongs are replaced), and the connection stays up.
#[test]
fn a_ping_burst_is_answered_with_the_latest_pong() {
    let (addr, _) = serve();
    let mut r = upgraded(addr, "/echo");
    let mut burst = Vec::new();
    for i in 0..300 {
        burst.extend(client_frame(0x9, format!("p{i}").as_bytes()));
    }
    burst.extend(client_frame(0x1, b"after"));
    r.get_mut().write_all(&burst).unwrap();
    let mut pongs = Vec::new();
    loop {
        let (first, payload) = server_frame(&mut r);
        match first {
            0x8A => pongs.push(String::from_utf8(payload).unwrap()),
            0x81 => {
                assert_eq!(payload, b"after", "the echo after the burst");
                break;
            }
            0x89 => {}
            other => panic!("unexpected frame {other:#x} {payload:?}"),
        }
    }
    assert!(!pongs.is_empty(), "no pong for 300 pings");
    assert_eq!(
        pongs.last().map(String::as_str),
        Some("p299"),
        "the latest ping is answered: {pongs:?}"
    );
}

/// More pings a second than `max_pings_per_second` (1000) is a policy
/// violation: close code 1008.
#[test]
fn a_ping_flood_is_closed_by_policy() {
    let (addr, _) = serve();
    let mut r = upgraded(addr, "/echo");
    let burst: Vec<u8> = (0..3000).flat_map(|_| client_frame(0x9, b"")).collect();
    r.get_mut().write_all(&burst).unwrap();
    let close = close_frame(&mut r);
    assert_eq!(&close[..4], &[0x88, 0x10, 0x03, 0xF0], "close 1008: {close:?}");
    assert_eq!(&close[4..], b"too many pings");
}

/// RFC 6455 §7.4: each protocol error is answered with its close code
/// before the connection closes (the frame's exact bytes: no reason).
#[test]
fn protocol_errors_send_their_close_code() {
    let (addr, _) = serve();
    // An unmasked frame: 1002.
    let mut r = upgraded(addr, "/echo");
    r.get_mut().write_all(&[0x81, 0x02, b'h', b'i']).unwrap();
    assert_eq!(close_frame(&mut r), [0x88, 0x02, 0x03, 0xEA]);
    // Text that is not UTF-8: 1007.
    let mut r = upgraded(addr, "/echo");
    r.get_mut().write_all(&client_frame(0x1, &[0xC3, 0x28])).unwrap();
    assert_eq!(close_frame(&mut r), [0x88, 0x02, 0x03, 0xEF]);
    // A message over max_message_bytes (1 MiB): 1009.
    let mut r = upgraded(addr, "/echo");
    let _ = r
        .get_mut()
        .write_all(&client_frame(0x2, &vec![0u8; (1 << 20) + 1]));
    assert_eq!(close_frame(&mut r), [0x88, 0x02, 0x03, 0xF1]);
}

/// A handler that never reads: the server stops reading the socket once
/// its receive queue holds 64 KiB (the client's writes stall after the
/// socket buffers fill, far below the 64 MiB the old message-count bound
/// allowed), and closes the stalled connection with 1008 after the idle
/// timeout (500 ms).
#[test]
fn a_handler_that_does_not_read_applies_backpressure() {
    let (addr, _) = serve();
    let mut r = upgraded(addr, "/deaf");
    r.get_mut()
        .set_write_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let message = client_frame(0x2, &vec![1u8; 64 * 1024]);
    let started = Instant::now();
    let mut sent = 0usize;
    while sent < 64 << 20 && started.elapsed() < IO_TIMEOUT {
        match r.get_mut().write(&message) {
            Ok(n) => sent += n,
            Err(_) => break,
        }
    }
    assert!(
        sent < 16 << 20,
        "the server kept reading: {} KiB sent",
        sent >> 10
    );
    let close = close_frame(&mut r);
    assert_eq!(&close[..4], &[0x88, 0x13, 0x03, 0xF0], "close 1008: {close:?}");
    assert_eq!(&close[4..], b"messages not read");
    assert_took_between(started.elapsed(), ms(300), Duration::from_secs(8));
}
