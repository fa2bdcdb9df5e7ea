//! Issue 5: a TCP echo server under 100 concurrent clients, and process
//! relay round trips.
//!
//! **echo.** The server runs in its own process (`zbench echo-server` for
//! zgreen's `StreamServer` and for `std::net` thread-per-connection,
//! `gevent_core.py echo-server` for gevent's `StreamServer`); it prints its
//! port as one JSON line. The load generator is the same for every server:
//! this process, `clients` zgreen client greenlets on one hub, each doing
//! `rounds` round trips of `size` bytes (write the block, read it back
//! whole). TCP_NODELAY is set on both ends everywhere.
//!
//! **relay.** Round trips of one small serde_json message (a u64) between
//! a parent and a child process: zgreen's `process::relay` (the parent's
//! and the child's `put`/`get`), against a blocking pipe between two Rust
//! processes (the child's stdin/stdout, the same framing: 4-byte
//! big-endian length + JSON, std blocking I/O).

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::{Value, json};
use zgreen_harness::ChildGuard;

fn zerr(e: zgreen::Error) -> String {
    e.to_string()
}

/// The echo loop of every Rust server.
fn echo<S: Read + Write>(mut s: S) -> std::io::Result<()> {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = s.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        s.write_all(&buf[..n])?;
    }
}

/// `zbench echo-server --impl zgreen|threads`: serves until killed.
pub fn echo_server(imp: &str) -> Result<Value, String> {
    match imp {
        "zgreen" => {
            let server =
                zgreen::net::StreamServer::bind("127.0.0.1:0", |conn: zgreen::net::TcpStream, _peer| {
                    let _ = conn.set_nodelay(true);
                    echo(&conn)
                })
                .map_err(zerr)?;
            println!("{}", json!({"port": server.local_addr().port()}));
            server.serve_forever().map_err(zerr)?;
        }
        "threads" => {
            let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
            println!(
                "{}",
                json!({"port": l.local_addr().map_err(|e| e.to_string())?.port()})
            );
            for conn in l.incoming() {
                let conn = conn.map_err(|e| e.to_string())?;
                let _ = conn.set_nodelay(true);
                std::thread::spawn(move || echo(conn));
            }
        }
        other => return Err(format!("echo-server: unknown impl {other:?}")),
    }
    Ok(json!({}))
}

/// CPU time (user + system) the process `pid` has used, in seconds.
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which is in parentheses).
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some(ticks / hz)
}

/// Starts the server process (killed and reaped when dropped) and reads
/// its port.
fn start_server(mut cmd: Command) -> Result<(ChildGuard, u16), String> {
    let mut child = ChildGuard::spawn(
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit()),
    )
    .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    let lines = child.stdout_lines().ok_or("no stdout")?;
    let line = lines.next_blocking().unwrap_or_default();
    let v: Value = serde_json::from_str(line.trim()).map_err(|e| format!("server said {line:?}: {e}"))?;
    let port = v["port"].as_u64().ok_or_else(|| format!("no port in {line:?}"))? as u16;
    Ok((child, port))
}

/// `zbench echo --server zgreen|threads|gevent`.
pub fn echo_bench(
    server: &str,
    python: &std::path::Path,
    clients: u64,
    rounds: u64,
    size: usize,
) -> Result<Value, String> {
    let cmd = match server {
        "zgreen" | "threads" => {
            let mut c = Command::new(std::env::current_exe().map_err(|e| e.to_string())?);
            c.args(["echo-server", "--impl", server]);
            c
        }
        "gevent" => {
            let mut c = Command::new(python);
            c.arg(crate::repo_root().join("benches/peers/gevent_core.py"))
                .arg("echo-server");
            c
        }
        other => return Err(format!("echo: unknown server {other:?}")),
    };
    let (server_proc, port) = start_server(cmd)?;
    let server_pid = server_proc.pid();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    // Connect every client and do one round trip before the clock starts.
    let mut conns = Vec::new();
    let block = vec![b'x'; size];
    let mut back = vec![0u8; size];
    for _ in 0..clients {
        let c = zgreen::net::TcpStream::connect(addr).map_err(zerr)?;
        c.set_nodelay(true).map_err(zerr)?;
        (&c).write_all(&block).map_err(|e| e.to_string())?;
        (&c).read_exact(&mut back).map_err(|e| e.to_string())?;
        conns.push(c);
    }
    let go = zgreen::sync::Event::new();
    let mut gs = Vec::new();
    for c in conns {
        let go = go.clone();
        let block = block.clone();
        gs.push(zgreen::spawn(move || -> std::io::Result<()> {
            let _ = go.wait();
            let mut back = vec![0u8; block.len()];
            for _ in 0..rounds {
                (&c).write_all(&block)?;
                (&c).read_exact(&mut back)?;
            }
            Ok(())
        }));
    }
    zgreen::sleep(std::time::Duration::ZERO).map_err(zerr)?; // all parked on `go`
    let cpu0 = cpu_secs(server_pid);
    let start = Instant::now();
    go.set();
    for g in gs {
        g.take().map_err(zerr)?.map_err(|e| e.to_string())?;
    }
    let secs = start.elapsed().as_secs_f64();
    let server_cpu = match (cpu0, cpu_secs(server_pid)) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    let total = clients * rounds;
    drop(server_proc);
    Ok(json!({
        "server_cpu_secs": server_cpu,
        "server_cpu_us_per_rt": server_cpu.map(|c| c * 1e6 / total as f64),
        "bench": "echo",
        "impl": server,
        "clients": clients,
        "rounds": rounds,
        "size": size,
        "secs": secs,
        "round_trips_per_s": total as f64 / secs,
        "mb_per_s": total as f64 * size as f64 / secs / 1e6,
    }))
}

// ------------------------------------------------------------------- relay

pub const RELAY_FN: &str = "zbench-echo";

/// The relay child: echoes every message until the parent closes.
pub fn relay_child(relay: zgreen::process::relay::Relay) -> zgreen::Result<()> {
    while let Ok(n) = relay.get::<u64>() {
        relay.put(&n)?;
    }
    Ok(())
}

fn write_frame<W: Write>(w: &mut W, n: u64) -> std::io::Result<()> {
    let body = serde_json::to_vec(&n)?;
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(&body);
    w.write_all(&frame)?;
    w.flush()
}

fn read_frame<R: Read>(r: &mut R) -> std::io::Result<Option<u64>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    r.read_exact(&mut body)?;
    Ok(Some(serde_json::from_slice(&body)?))
}

/// `zbench relay-pipe-child`: the blocking echo child on stdin/stdout.
pub fn relay_pipe_child() -> Result<Value, String> {
    let mut i = std::io::stdin().lock();
    let mut o = std::io::stdout().lock();
    while let Some(n) = read_frame(&mut i).map_err(|e| e.to_string())? {
        write_frame(&mut o, n).map_err(|e| e.to_string())?;
    }
    std::process::exit(0);
}

pub fn relay_bench(imp: &str, count: u64) -> Result<Value, String> {
    let secs = match imp {
        "zgreen" => {
            let child = zgreen::process::relay::spawn(RELAY_FN).map_err(zerr)?;
            child.put(&0u64).map_err(zerr)?;
            child.get::<u64>().map_err(zerr)?;
            let start = Instant::now();
            for i in 1..=count {
                child.put(&i).map_err(zerr)?;
                let back: u64 = child.get().map_err(zerr)?;
                if back != i {
                    return Err("relay: wrong echo".into());
                }
            }
            let secs = start.elapsed().as_secs_f64();
            child.close();
            child.join().map_err(zerr)?;
            secs
        }
        "pipe" => {
            let mut c = Command::new(std::env::current_exe().map_err(|e| e.to_string())?)
                .arg("relay-pipe-child")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .map_err(|e| e.to_string())?;
            let mut w = c.stdin.take().ok_or("no stdin")?;
            let mut r = c.stdout.take().ok_or("no stdout")?;
            let io = |e: std::io::Error| e.to_string();
            write_frame(&mut w, 0).map_err(io)?;
            read_frame(&mut r).map_err(io)?;
            let start = Instant::now();
            for i in 1..=count {
                write_frame(&mut w, i).map_err(io)?;
                if read_frame(&mut r).map_err(io)? != Some(i) {
                    return Err("relay: wrong echo".into());
                }
            }
            let secs = start.elapsed().as_secs_f64();
            drop(w);
            c.wait().map_err(io)?;
            secs
        }
        other => return Err(format!("relay: unknown impl {other:?}")),
    };
    Ok(json!({
        "bench": "relay",
        "impl": imp,
        "count": count,
        "secs": secs,
        "round_trips_per_s": count as f64 / secs,
        "us_per_rtt": secs * 1e6 / count as f64,
    }))
}
