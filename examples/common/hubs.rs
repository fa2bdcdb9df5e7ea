//! Shared by the serving examples: `[ADDRESS] [--threads N]`, and the
//! many-hub server that `--threads N` (N > 1) runs.

use std::net::SocketAddr;

/// A server that an example runs on each hub.
pub trait Serve {
    /// Serves until stopped or killed.
    fn serve(&self) -> zgreen::Result<()>;
    /// The address served.
    fn addr(&self) -> SocketAddr;
}

impl Serve for zgreen::net::StreamServer {
    fn serve(&self) -> zgreen::Result<()> {
        self.serve_forever()
    }
    fn addr(&self) -> SocketAddr {
        self.local_addr()
    }
}

#[cfg(feature = "http")]
impl Serve for zgreen::http::HttpServer {
    fn serve(&self) -> zgreen::Result<()> {
        self.serve_forever()
    }
    fn addr(&self) -> SocketAddr {
        self.local_addr()
    }
}

/// The whole `main` of an example whose one-hub server is `make` on a
/// listener bound to the address: [`many_hubs`] with `--threads N`, else
/// that server on this thread's hub, announced with `banner`.
#[allow(dead_code)] // not every example that includes this file uses it
pub fn run<S: Serve + 'static>(
    default: &str,
    banner: &str,
    make: fn(zgreen::net::TcpListener) -> zgreen::Result<S>,
) -> zgreen::Result<()> {
    let Some(address) = many_hubs(default, banner, make)? else {
        return Ok(());
    };
    let server = make(zgreen::net::TcpListener::bind(address)?)?;
    println!("{}", banner.replace("{}", &server.addr().to_string()));
    server.serve()
}

/// Reads `[ADDRESS] [--threads N]` (the address defaults to `default`).
/// With one thread it returns the address, for the example's own
/// one-hub server. With N > 1 it serves the address from N hubs instead,
/// each with its own `SO_REUSEPORT` listener and the server `make` builds
/// on it (`zgreen::net::serve_each`); prints `banner` (its `{}` replaced by
/// the address) and `on N hubs`, runs until SIGTERM or SIGINT, shuts the
/// runtime down, and returns `None`.
pub fn many_hubs<S: Serve + 'static>(
    default: &str,
    banner: &str,
    make: fn(zgreen::net::TcpListener) -> zgreen::Result<S>,
) -> zgreen::Result<Option<String>> {
    let (address, threads) = arguments(default)?;
    if threads == 1 {
        return Ok(Some(address));
    }
    let rt = zgreen::runtime::Runtime::builder().hubs(threads).build()?;
    let stop = stop_on_signals()?;
    let (addr, _servers) = zgreen::net::serve_each(&rt, address, move |_, l| make(l)?.serve())?;
    println!("{}", banner.replace("{}", &SocketAddr::to_string(&addr)));
    println!("on {threads} hubs");
    stop.wait()?;
    rt.shutdown()?;
    Ok(None)
}

/// The address (first argument, else `default`) and `--threads N`
/// (default 1).
fn arguments(default: &str) -> zgreen::Result<(String, usize)> {
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

/// An event set on SIGTERM or SIGINT (installed before the server is
/// announced, so an early signal is not missed).
fn stop_on_signals() -> zgreen::Result<zgreen::sync::Event> {
    let stop = zgreen::sync::Event::new();
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let stop = stop.clone();
        zgreen::signal_handler(signal, move || stop.set())?;
    }
    Ok(stop)
}
