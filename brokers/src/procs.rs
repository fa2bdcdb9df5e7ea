//! Helpers for programs that run the binaries as child processes (zdemo,
//! the integration tests): sibling binaries, free ports, metrics scraping.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

/// The path of binary `name` next to the running executable (or next to
/// its parent directory, for test binaries in `target/<profile>/deps`).
pub fn sibling(name: &str) -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot locate the running executable: {e}"))?;
    let mut dir = exe.parent().map(|p| p.to_path_buf()).unwrap_or_default();
    for _ in 0..2 {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return Ok(candidate);
        }
        if !dir.pop() {
            break;
        }
    }
    let dir = exe.parent().map(|p| p.display().to_string()).unwrap_or_default();
    Err(format!(
        "cannot find the `{name}` binary next to {dir}: build the binaries first with \
         `cargo build -p zgreen-brokers` (add --release for target/release)"
    ))
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// GETs `http://addr/metrics` (blocking, with short timeouts) and returns
/// the body.
pub fn scrape(addr: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.set_write_timeout(Some(Duration::from_secs(2)))?;
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(match out.find("\r\n\r\n") {
        Some(i) => out[i + 4..].to_string(),
        None => out,
    })
}

/// The value of the sample `name{labels}` in Prometheus text (`labels`
/// as written inside the braces, for example `service="echo"`; empty for
/// none), or `None`.
pub fn metric(text: &str, name: &str, labels: &str) -> Option<f64> {
    let want = if labels.is_empty() {
        name.to_string()
    } else {
        format!("{name}{{{labels}}}")
    };
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (k, v) = l.rsplit_once(' ')?;
        (k == want).then(|| v.parse().ok()).flatten()
    })
}
