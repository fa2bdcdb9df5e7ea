//! One address served by several hubs: `SO_REUSEPORT` listeners, a
//! `StreamServer` and an `HttpServer` per hub, and their shutdown.
#![cfg(feature = "net")]

use std::io::{Read, Write};
use std::time::Duration;

use zgreen::net::{Sharing, StreamServer, TcpStream};
use zgreen::runtime::Runtime;
use zgreen_harness::{Watchdog, ms};

const BOUND: Duration = Duration::from_secs(60);

#[test]
fn reuseport_listeners_share_one_port() {
    let (ls, sharing) = zgreen::net::bind_reuseport("127.0.0.1:0", 3).unwrap();
    assert_eq!(sharing, Sharing::ReusePort);
    assert_eq!(ls.len(), 3);
    let port = ls[0].local_addr().unwrap().port();
    assert_ne!(port, 0);
    for l in &ls {
        assert_eq!(l.local_addr().unwrap().port(), port);
    }
    // A plain bind to the same port is refused: it did not ask to share.
    assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_err());
}

/// Connects `n` times and returns how many replies each hub gave.
fn spread(addr: std::net::SocketAddr, n: usize, request: &[u8]) -> [usize; 2] {
    let mut per_hub = [0; 2];
    for _ in 0..n {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(request).unwrap();
        let mut reply = String::new();
        s.read_to_string(&mut reply).unwrap();
        let hub = if reply.contains("hub-0") {
            0
        } else if reply.contains("hub-1") {
            1
        } else {
            panic!("unexpected reply {reply:?}")
        };
        per_hub[hub] += 1;
    }
    per_hub
}

#[test]
fn a_stream_server_on_two_hubs_gets_connections_on_both() {
    let _w = Watchdog::arm(BOUND, "stream servers");
    let rt = Runtime::builder().hubs(2).build().unwrap();
    let (addr, servers) = zgreen::net::serve_each(&rt, "127.0.0.1:0", |hub, listener| {
        let server = StreamServer::from_listener(listener, move |s: TcpStream, _| {
            let thread = std::thread::current().name().unwrap().to_string();
            assert_eq!(thread, format!("zgreen-hub-{hub}"), "served on its own hub");
            s.send_all(thread.as_bytes())
        })?;
        server.serve_forever()
    })
    .unwrap();
    let per_hub = spread(addr, 200, b"");
    assert_eq!(per_hub[0] + per_hub[1], 200);
    assert!(
        per_hub[0] > 0 && per_hub[1] > 0,
        "the kernel spread the connections: {per_hub:?}"
    );
    rt.shutdown().unwrap();
    for s in servers {
        assert!(matches!(
            s.join(),
            Err(zgreen::Error::Killed) | Ok(Err(zgreen::Error::Killed))
        ));
    }
    // Every listener was closed with its hub.
    std::thread::sleep(ms(10));
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "still listening after shutdown"
    );
}

#[cfg(feature = "http")]
#[test]
fn an_http_server_on_two_hubs_answers_on_both() {
    use zgreen::http::{HttpServer, Request, Response};
    let _w = Watchdog::arm(BOUND, "http servers");
    let rt = Runtime::builder().hubs(2).build().unwrap();
    let (addr, _servers) = zgreen::net::serve_each(&rt, "127.0.0.1:0", |_, listener| {
        let server = HttpServer::from_listener(listener, |_: &Request| {
            Response::new(200).with_body(std::thread::current().name().unwrap().to_string())
        })?;
        server.serve_forever()
    })
    .unwrap();
    let per_hub = spread(
        addr,
        200,
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(per_hub[0] > 0 && per_hub[1] > 0, "{per_hub:?}");
    rt.shutdown().unwrap();
}
