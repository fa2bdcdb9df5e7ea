//! `zcheck`: the healthcheck and probe helper of the zgreen images.
//!
//! Scratch images have no shell, no curl and no nc, so compose
//! healthchecks run this binary in exec form. It is one file with no
//! dependencies, built by `docker/build.sh` with plain `rustc` (it is not
//! a workspace member).
//!
//! ```text
//! zcheck http HOST:PORT [PATH]          GET PATH (default /metrics); exit 0 on HTTP 200
//! zcheck metric HOST:PORT NAME MIN      exit 0 when the metric line NAME (exact series,
//!                                       labels included) has a value >= MIN
//! zcheck print HOST:PORT [PATH]         GET and print the body (for docker exec)
//! zcheck tcp HOST:PORT                  exit 0 when a TCP connection opens
//! ```
//!
//! Every probe gives up after 2 s. Exit 1 on failure, 2 on bad arguments.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(2);

fn connect(addr: &str) -> Result<TcpStream, String> {
    let addrs: Vec<_> = addr
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {addr}: {e}"))?
        .collect();
    let mut last = format!("no address for {addr}");
    for a in addrs {
        match TcpStream::connect_timeout(&a, TIMEOUT) {
            Ok(s) => {
                let _ = s.set_read_timeout(Some(TIMEOUT));
                let _ = s.set_write_timeout(Some(TIMEOUT));
                return Ok(s);
            }
            Err(e) => last = format!("cannot connect to {a}: {e}"),
        }
    }
    Err(last)
}

fn get(addr: &str, path: &str) -> Result<String, String> {
    let mut s = connect(addr)?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).map_err(|e| format!("write: {e}"))?;
    let mut buf = Vec::new();
    // A server that keeps the connection open still gives us the body
    // before the read timeout; take what arrived.
    let mut chunk = [0u8; 8192];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if buf.is_empty() => return Err(format!("read: {e}")),
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.lines().next().unwrap_or("");
    if !status.split(' ').nth(1).is_some_and(|c| c == "200") {
        return Err(format!("unexpected status line: {status:?}"));
    }
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Ok(body.to_string())
}

fn metric(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            (name.trim() == series).then(|| value.trim().parse().ok())?
        })
}

fn run(args: &[String]) -> Result<(), String> {
    let arg = |i: usize| args.get(i).map(String::as_str);
    match (arg(0), arg(1)) {
        (Some("http"), Some(addr)) => get(addr, arg(2).unwrap_or("/metrics")).map(|_| ()),
        (Some("print"), Some(addr)) => {
            print!("{}", get(addr, arg(2).unwrap_or("/metrics"))?);
            Ok(())
        }
        (Some("tcp"), Some(addr)) => connect(addr).map(|_| ()),
        (Some("metric"), Some(addr)) => {
            let (Some(series), Some(min)) = (arg(2), arg(3)) else {
                usage()
            };
            let min: f64 = min.parse().unwrap_or_else(|_| usage());
            let body = get(addr, "/metrics")?;
            match metric(&body, series) {
                Some(v) if v >= min => Ok(()),
                Some(v) => Err(format!("{series} = {v} < {min}")),
                None => Err(format!("{series}: no such series")),
            }
        }
        _ => usage(),
    }
}

fn usage() -> ! {
    eprintln!("usage: zcheck http|print|tcp|metric HOST:PORT [PATH | NAME MIN]");
    std::process::exit(2);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = run(&args) {
        eprintln!("zcheck: {e}");
        std::process::exit(1);
    }
}
