//! Shared by the serving examples: the `[ADDRESS] [--threads N]`
//! arguments, and the SIGTERM/SIGINT event of a many-hub server.

/// The address (first argument, else `default`) and `--threads N`
/// (default 1).
pub fn arguments(default: &str) -> zgreen::Result<(String, usize)> {
    let mut address = default.to_string();
    let mut threads = 1;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--threads" {
            let n = args.next().and_then(|n| n.parse().ok()).filter(|n| *n > 0);
            threads = n.ok_or_else(|| zgreen::Error::other("--threads needs a number above 0"))?;
        } else {
            address = a;
        }
    }
    Ok((address, threads))
}

/// Serves `address` from `threads` hubs: `serve(listener)` runs on each
/// hub with its own `SO_REUSEPORT` listener (`zgreen::net::serve_each`).
/// Prints `banner(address)` and `on N hubs`, then runs until SIGTERM or
/// SIGINT and shuts the runtime down (every server greenlet is killed).
pub fn serve_on_hubs<F>(
    address: &str,
    threads: usize,
    banner: impl Fn(std::net::SocketAddr) -> String,
    serve: F,
) -> zgreen::Result<()>
where
    F: Fn(zgreen::net::TcpListener) -> zgreen::Result<()> + Send + Sync + 'static,
{
    let rt = zgreen::runtime::Runtime::builder().hubs(threads).build()?;
    let stop = stop_on_signals()?;
    let (addr, _servers) = zgreen::net::serve_each(&rt, address, move |_, listener| serve(listener))?;
    println!("{}", banner(addr));
    println!("on {threads} hubs");
    stop.wait()?;
    rt.shutdown()
}

/// An event set on SIGTERM or SIGINT (install it before announcing the
/// server, so an early signal is not missed).
pub fn stop_on_signals() -> zgreen::Result<zgreen::sync::Event> {
    let stop = zgreen::sync::Event::new();
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let stop = stop.clone();
        zgreen::signal_handler(signal, move || stop.set())?;
    }
    Ok(stop)
}
