//! The green HTTP client against the green server on the same hub:
//! GET/POST, chunked responses, concurrency, timeouts, errors.
#![cfg(feature = "http")]

use std::time::{Duration, Instant};

use zgreen::http::{Client, HttpServer, Request, Response, Router};

fn server() -> HttpServer {
    let router = Router::new()
        .get("/json/:n", |req: &Request| {
            Response::json(&serde_json::json!({ "n": req.param("n").unwrap().parse::<u32>().unwrap() }))
        })
        .post("/upper", |req: &Request| {
            Response::text(req.text().unwrap().to_uppercase())
        })
        .get("/sleep/:ms", |req: &Request| {
            let ms = req.param("ms").unwrap().parse().unwrap();
            zgreen::sleep(Duration::from_millis(ms)).unwrap();
            Response::text("woke")
        })
        .get("/chunks", |_: &Request| {
            Response::stream("text/plain", (0..5).map(|i| format!("{i},").into_bytes()))
        })
        .get("/empty", |_: &Request| Response::new(204));
    let server = HttpServer::bind("127.0.0.1:0", router).unwrap();
    server.start().unwrap();
    server
}

/// Runs `body` against a fresh [`server`], given its base URL
/// (`http://<addr>`), then stops the server.
fn with_server(body: impl FnOnce(&str)) {
    let s = server();
    body(&format!("http://{}", s.local_addr()));
    s.stop(Duration::from_secs(1)).unwrap();
}

#[test]
fn get_post_and_chunked() {
    with_server(|base| {
        let c = Client::new().timeout(Duration::from_secs(5));
        let r = c.get(&format!("{base}/json/4")).unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        assert_eq!(r.json::<serde_json::Value>().unwrap()["n"], 4);
        let r = c.post(&format!("{base}/upper"), "text/plain", "green").unwrap();
        assert_eq!(r.text().unwrap(), "GREEN");
        let r = c.get(&format!("{base}/chunks")).unwrap();
        assert_eq!(r.text().unwrap(), "0,1,2,3,4,");
        let r = c.get(&format!("{base}/empty")).unwrap();
        assert_eq!((r.status(), r.body()), (204, &b""[..]));
        assert_eq!(c.get(&format!("{base}/nope")).unwrap().status(), 404);
        assert_eq!(
            zgreen::http::get(&format!("{base}/json/1")).unwrap().status(),
            200
        );
    });
}

#[test]
fn concurrent_requests_overlap() {
    with_server(|base| {
        let url = format!("{base}/sleep/200");
        let started = Instant::now();
        let gs: Vec<_> = (0..20)
            .map(|_| {
                let url = url.clone();
                zgreen::spawn(move || Client::new().get(&url).map(|r| r.text().unwrap().to_string()))
            })
            .collect();
        for g in gs {
            assert_eq!(g.get().unwrap().unwrap(), "woke");
        }
        let took = started.elapsed();
        assert!(
            took < Duration::from_millis(1500),
            "20 x 200 ms requests took {took:?}"
        );
    });
}

#[test]
fn timeouts_and_errors() {
    with_server(|base| {
        let started = Instant::now();
        let err = Client::new()
            .timeout(Duration::from_millis(100))
            .get(&format!("{base}/sleep/3000"))
            .unwrap_err();
        assert!(err.is_timeout(), "{err}");
        assert!(started.elapsed() < Duration::from_secs(1));
        // The body limit.
        let err = Client::new()
            .max_body_bytes(3)
            .get(&format!("{base}/json/1"))
            .unwrap_err();
        assert!(err.to_string().contains("too large"), "{err}");
        // Not http://, nothing listening.
        assert!(Client::new().get("https://localhost/").is_err());
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        assert!(Client::new().get(&format!("http://127.0.0.1:{port}/")).is_err());
    });
}
