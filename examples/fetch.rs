//! The seed's `fetch` example: nine JSON fetches, one after the other,
//! then as nine greenlets at once. The seed fetched a public time
//! service; this example starts its own (a green HTTP server on a free
//! local port whose answers take 50 ms), so it runs anywhere.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use zgreen::http::{Client, HttpServer, Request, Response};

/// The time service: `{"datetime": ...}` after 50 ms of "work".
fn time_service(_req: &Request) -> Response {
    zgreen::sleep(Duration::from_millis(50)).unwrap();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let datetime = format!("{}.{:03}", now.as_secs(), now.subsec_millis());
    Response::json(&serde_json::json!({ "datetime": datetime }))
}

fn fetch(url: &str, pid: u32) -> zgreen::Result<String> {
    let response = Client::new().timeout(Duration::from_secs(5)).get(url)?;
    let json_result: serde_json::Value = response.json().map_err(zgreen::Error::failed)?;
    let datetime = json_result["datetime"].as_str().unwrap_or_default().to_string();

    println!("Process {pid}: {datetime}");
    Ok(datetime)
}

fn synchronous(url: &str) -> zgreen::Result<()> {
    for i in 1..10 {
        fetch(url, i)?;
    }
    Ok(())
}

fn asynchronous(url: &str) -> zgreen::Result<()> {
    let mut threads = Vec::new();
    for i in 1..10 {
        let url = url.to_string();
        threads.push(zgreen::spawn(move || fetch(&url, i)));
    }
    zgreen::joinall(&threads)?;
    for t in threads {
        t.get()??;
    }
    Ok(())
}

fn main() -> zgreen::Result<()> {
    let server = HttpServer::bind("127.0.0.1:0", time_service)?;
    server.start()?;
    let url = format!("http://{}/", server.local_addr());

    println!("Synchronous:");
    let started = Instant::now();
    synchronous(&url)?;
    println!("Synchronous took {:.1} ms", started.elapsed().as_secs_f64() * 1e3);

    println!("Asynchronous:");
    let started = Instant::now();
    asynchronous(&url)?;
    println!(
        "Asynchronous took {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );

    server.stop(Duration::from_secs(1))?;
    Ok(())
}
