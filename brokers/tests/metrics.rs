//! `Metrics::serve` in process: the endpoint is a greenlet on this
//! thread's hub, answering `GET /metrics` while other greenlets run.

use std::io::Write;
use std::time::{Duration, Instant};

use zgreen::http::Client;
use zgreen_brokers::metrics::{self, Metrics};

fn client() -> Client {
    Client::new().timeout(Duration::from_secs(5))
}

#[test]
fn get_metrics_returns_the_counters_as_openmetrics() {
    let m = Metrics::new();
    m.messages_in("frontend").inc_by(3);
    m.dropped("too_many_frames");
    m.set_workers("echo", 2);
    let server = m.serve("127.0.0.1:0").unwrap();
    let base = format!("http://{}", server.local_addr());

    let reply = client().get(&format!("{base}/metrics")).unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.header("content-type"), Some(metrics::CONTENT_TYPE));
    let text = reply.text().unwrap();
    assert_eq!(text, m.render());
    assert!(
        text.contains("zgreen_messages_in_total{socket=\"frontend\"} 3"),
        "{text}"
    );
    assert!(
        text.contains("zgreen_dropped_messages_total{reason=\"too_many_frames\"} 1"),
        "{text}"
    );
    assert!(text.contains("zgreen_live_workers{service=\"echo\"} 2"), "{text}");
    assert!(text.ends_with("# EOF\n"), "{text}");

    // Counters are read at each request.
    m.messages_in("frontend").inc();
    let text = client().get(&format!("{base}/metrics")).unwrap();
    assert!(
        text.text()
            .unwrap()
            .contains("zgreen_messages_in_total{socket=\"frontend\"} 4")
    );

    assert_eq!(client().get(&format!("{base}/")).unwrap().status(), 404);
    assert_eq!(client().get(&format!("{base}/other")).unwrap().status(), 404);
    let post = client()
        .post(&format!("{base}/metrics"), "text/plain", "x")
        .unwrap();
    assert_eq!(post.status(), 405);
    let delete = client()
        .request("DELETE", &format!("{base}/metrics"), None)
        .unwrap();
    assert_eq!(delete.status(), 405);
    server.stop(Duration::from_secs(1)).unwrap();
}

#[test]
fn a_bad_address_fails_at_serve() {
    let m = Metrics::new();
    assert!(m.serve("not an address").is_err());
    let taken = m.serve("127.0.0.1:0").unwrap();
    let again = m.serve(&taken.local_addr().to_string());
    assert!(again.is_err(), "the port is taken");
    taken.stop(Duration::from_secs(1)).unwrap();
}

#[test]
fn limits_suit_an_ops_endpoint() {
    let l = metrics::limits();
    assert!(l.header_timeout <= Duration::from_secs(10));
    assert!(l.keep_alive_timeout <= Duration::from_secs(60));
    assert!(l.write_timeout <= Duration::from_secs(30));
    assert!(l.max_header_bytes >= 4096 && l.max_header_bytes <= 16 * 1024);
    assert!(l.max_body_bytes <= 64 * 1024);
    assert!((4..=64).contains(&metrics::MAX_CONNECTIONS));
}

#[test]
fn a_stalled_client_does_not_stop_the_hub_or_other_scrapes() {
    let m = Metrics::new();
    let server = m.serve("127.0.0.1:0").unwrap();
    let addr = server.local_addr();
    // Half a request head, then silence, from a plain OS-thread socket.
    let mut slow = std::net::TcpStream::connect(addr).unwrap();
    slow.write_all(b"GET /metr").unwrap();

    // Another greenlet keeps ticking meanwhile.
    let ticker = zgreen::spawn(|| {
        let mut ticks = 0u32;
        for _ in 0..10 {
            zgreen::sleep(Duration::from_millis(10))?;
            ticks += 1;
        }
        Ok::<u32, zgreen::Error>(ticks)
    });
    let t = Instant::now();
    let reply = client().get(&format!("http://{addr}/metrics")).unwrap();
    assert_eq!(reply.status(), 200);
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    ticker.join().unwrap();
    assert_eq!(ticker.take().unwrap().unwrap(), 10);
    assert!(server.connections() >= 1, "the stalled connection is still held");
    drop(slow);
    server.close();
}
