//! One TCP address served by several hubs: a listener per hub with
//! `SO_REUSEPORT`, so the kernel spreads new connections between them.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::{TcpListener, ToSocketAddrs};
use crate::error::{Error, Result};
use crate::runtime::{Runtime, Spawned};

/// How [`bind_reuseport`]'s listeners share their address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sharing {
    /// Each listener is its own socket with `SO_REUSEPORT`: the kernel
    /// hashes each new connection to one of them, and only that hub wakes.
    ReusePort,
    /// `SO_REUSEPORT` was refused: the listeners are duplicates of one
    /// socket (one accept queue). Every hub wakes on a new connection and
    /// one of them wins the `accept`; the others see nothing to accept.
    SharedQueue,
}

/// `n` listeners bound to the same address, one for each hub of a
/// [`Runtime`](crate::runtime::Runtime): standard-library listeners, so
/// they can be moved to the hubs, where
/// [`TcpListener::from_std`](super::TcpListener::from_std) makes each green
/// (then [`StreamServer::from_listener`](super::StreamServer::from_listener)
/// or `HttpServer::from_listener` serves it).
///
/// Port 0 picks one free port for all of them. Each listener gets
/// `SO_REUSEADDR`, `SO_REUSEPORT` and an accept queue of
/// [`DEFAULT_BACKLOG`](super::DEFAULT_BACKLOG). Where the kernel refuses
/// `SO_REUSEPORT`, the listeners are duplicates of one socket instead
/// ([`Sharing::SharedQueue`]).
///
/// ```
/// let (listeners, sharing) = zgreen::net::bind_reuseport("127.0.0.1:0", 2).unwrap();
/// assert_eq!(sharing, zgreen::net::Sharing::ReusePort);
/// let port = listeners[0].local_addr().unwrap().port();
/// assert!(listeners.iter().all(|l| l.local_addr().unwrap().port() == port));
/// ```
pub fn bind_reuseport(addr: impl ToSocketAddrs, n: usize) -> Result<(Vec<std::net::TcpListener>, Sharing)> {
    let n = n.max(1);
    let addrs = addr.to_socket_addrs()?;
    let mut last = None;
    for a in addrs {
        match bind_all(a, n) {
            Ok(r) => return Ok(r),
            Err(e) => last = Some(e),
        }
    }
    Err(last
        .map(Error::from)
        .unwrap_or_else(|| Error::from(io::Error::new(io::ErrorKind::InvalidInput, "no address to bind"))))
}

fn bind_all(addr: SocketAddr, n: usize) -> io::Result<(Vec<std::net::TcpListener>, Sharing)> {
    let first = match bind_one(addr, true) {
        Ok(l) => l,
        Err(e) if refused_reuseport(&e) => {
            let one = bind_one(addr, false)?;
            let mut all = Vec::with_capacity(n);
            for _ in 1..n {
                all.push(one.try_clone()?);
            }
            all.insert(0, one);
            return Ok((all, Sharing::SharedQueue));
        }
        Err(e) => return Err(e),
    };
    // Port 0 resolved to one port: the others bind to that one.
    let addr = first.local_addr()?;
    let mut all = vec![first];
    for _ in 1..n {
        all.push(bind_one(addr, true)?);
    }
    Ok((all, Sharing::ReusePort))
}

fn refused_reuseport(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOPROTOOPT) | Some(libc::EINVAL))
}

fn bind_one(addr: SocketAddr, reuse_port: bool) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&SockAddr::from(addr))?;
    socket.listen(super::DEFAULT_BACKLOG as i32)?;
    Ok(socket.into())
}

/// Serves one address on every hub of `rt`: binds a listener per hub
/// ([`bind_reuseport`]), then runs `serve(hub_index, listener)` in a
/// greenlet on each hub, where the listener is green. Returns the bound
/// address (port 0 resolved) and the greenlets' handles; stop them with
/// [`Runtime::shutdown`](crate::runtime::Runtime::shutdown) (or have
/// `serve` return).
///
/// The handler state of each hub is its own (built inside `serve`, so it
/// may hold `Rc`s and sockets): share what must be shared across hubs
/// through `Send` types (atomics, [`chan`](crate::chan), inproc sockets).
///
/// ```
/// use std::io::{Read, Write};
/// use zgreen::net::{StreamServer, TcpStream};
/// use zgreen::runtime::Runtime;
///
/// let rt = Runtime::builder().hubs(2).build().unwrap();
/// let (addr, _servers) = zgreen::net::serve_each(&rt, "127.0.0.1:0", |hub, listener| {
///     let server = StreamServer::from_listener(listener, move |s: TcpStream, _| {
///         s.send_all(format!("hub {hub}\n").as_bytes())
///     })?;
///     server.serve_forever()
/// })
/// .unwrap();
/// let mut reply = String::new();
/// std::net::TcpStream::connect(addr).unwrap().read_to_string(&mut reply).unwrap();
/// assert!(reply == "hub 0\n" || reply == "hub 1\n");
/// rt.shutdown().unwrap();
/// ```
pub fn serve_each<F>(
    rt: &Runtime,
    addr: impl ToSocketAddrs,
    serve: F,
) -> Result<(SocketAddr, Vec<Spawned<Result<()>>>)>
where
    F: Fn(usize, TcpListener) -> Result<()> + Send + Sync + 'static,
{
    let (listeners, _) = bind_reuseport(addr, rt.hubs())?;
    let local = listeners[0].local_addr()?;
    let serve = Arc::new(serve);
    let handles = listeners
        .into_iter()
        .enumerate()
        .map(|(i, listener)| {
            let serve = serve.clone();
            rt.spawn_on(i, move || serve(i, TcpListener::from_std(listener)?))
        })
        .collect();
    Ok((local, handles))
}
