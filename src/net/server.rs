//! `StreamServer`: an accept loop that runs one greenlet per connection
//! (gevent's `gevent.server.StreamServer`).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::Duration;

use super::{TcpListener, TcpStream, ToSocketAddrs};
use crate::error::{Closed, Error, Result};
use crate::greenlet::{AnyGreenlet, Builder, JoinAll};
use crate::hub;
use crate::pool::{Group, Pool};
use crate::sync::Event;

/// What a connection handler may return. `()` and any `Result` work; an
/// `Err` is logged (at `debug` level, through `tracing`) with the peer's
/// address, and the connection is closed either way.
pub trait ConnectionResult {
    /// Reports the outcome of the handler for the connection from `peer`.
    fn report(self, peer: SocketAddr);
}

impl ConnectionResult for () {
    fn report(self, _peer: SocketAddr) {}
}

impl<T, E: fmt::Display> ConnectionResult for std::result::Result<T, E> {
    fn report(self, peer: SocketAddr) {
        if let Err(e) = self {
            tracing::debug!("zgreen StreamServer: handler for {peer} failed: {e}");
        }
    }
}

/// What the accept loop does while [`max_connections`](StreamServer::max_connections)
/// handlers are running.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Overflow {
    /// Stop accepting until a handler finishes; new connections queue in
    /// the kernel's listen backlog (gevent's behaviour with a full pool).
    #[default]
    Wait,
    /// Accept and close at once: the client reads end of file.
    Refuse,
}

type Handler = Rc<dyn Fn(TcpStream, SocketAddr)>;

/// Where handler greenlets run: an unbounded group, or a bounded pool.
#[derive(Clone, Debug)]
enum Handlers {
    Group(Group),
    Pool(Pool),
}

impl Handlers {
    fn len(&self) -> usize {
        match self {
            Handlers::Group(g) => g.len(),
            Handlers::Pool(p) => p.len(),
        }
    }

    fn full(&self) -> bool {
        match self {
            Handlers::Group(_) => false,
            Handlers::Pool(p) => p.full(),
        }
    }

    fn greenlets(&self) -> Vec<AnyGreenlet> {
        match self {
            Handlers::Group(g) => g.greenlets(),
            Handlers::Pool(p) => p.greenlets(),
        }
    }

    fn spawn(&self, builder: Builder, f: impl FnOnce() + 'static) -> Result<()> {
        match self {
            Handlers::Group(g) => g.spawn_with(builder, f).map(drop),
            Handlers::Pool(p) => p.spawn_with(builder, f).map(drop),
        }
    }
}

struct Inner {
    local_addr: SocketAddr,
    listener: RefCell<Option<Rc<TcpListener>>>,
    handler: Handler,
    handlers: RefCell<Handlers>,
    overflow: Cell<Overflow>,
    /// Called while the handlers are at their bound and a client waits.
    on_full: RefCell<Option<Rc<dyn Fn() -> bool>>>,
    stack_bytes: Cell<Option<usize>>,
    accept_loop: RefCell<Option<AnyGreenlet>>,
    /// Set when stopping begins.
    stopped: Cell<bool>,
    /// Set when a stop (or close) has finished with the handlers.
    done: Event,
    accepted: Cell<u64>,
    refused: Cell<u64>,
    shed: Cell<u64>,
}

impl Inner {
    fn handlers(&self) -> Handlers {
        self.handlers.borrow().clone()
    }
}

/// A TCP server that accepts connections in a greenlet and runs `handler`
/// in a new greenlet for each one (gevent's `StreamServer`).
///
/// `StreamServer` is a cheap, clonable handle: a handler may hold a clone
/// and call [`stop`](Self::stop).
///
/// # Examples
///
/// ```
/// use std::io::Read;
/// use zgreen::net::{StreamServer, TcpStream};
///
/// let server = StreamServer::bind("127.0.0.1:0", |conn: TcpStream, _peer| {
///     conn.send_all(b"Hello from a telnet!\n")
/// })
/// .unwrap();
/// server.start().unwrap();
///
/// let mut reply = String::new();
/// TcpStream::connect(server.local_addr()).unwrap().read_to_string(&mut reply).unwrap();
/// assert_eq!(reply, "Hello from a telnet!\n");
/// server.stop(std::time::Duration::from_secs(1)).unwrap();
/// ```
#[derive(Clone)]
pub struct StreamServer {
    inner: Rc<Inner>,
}

impl fmt::Debug for StreamServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamServer")
            .field("local_addr", &self.inner.local_addr)
            .field("started", &self.started())
            .field("stopped", &self.inner.stopped.get())
            .field("connections", &self.connections())
            .finish()
    }
}

impl StreamServer {
    /// Binds a listener to `addr` and prepares a server that will call
    /// `handler(stream, peer)` in a new greenlet per connection. Nothing is
    /// accepted before [`start`](Self::start) or
    /// [`serve_forever`](Self::serve_forever); connections made meanwhile
    /// wait in the listen backlog.
    pub fn bind<F, R>(addr: impl ToSocketAddrs, handler: F) -> Result<StreamServer>
    where
        F: Fn(TcpStream, SocketAddr) -> R + 'static,
        R: ConnectionResult,
    {
        StreamServer::from_listener(TcpListener::bind(addr)?, handler)
    }

    /// A server for an already bound listener.
    pub fn from_listener<F, R>(listener: TcpListener, handler: F) -> Result<StreamServer>
    where
        F: Fn(TcpStream, SocketAddr) -> R + 'static,
        R: ConnectionResult,
    {
        let local_addr = listener.local_addr()?;
        let handler: Handler = Rc::new(move |stream, peer| handler(stream, peer).report(peer));
        Ok(StreamServer {
            inner: Rc::new(Inner {
                local_addr,
                listener: RefCell::new(Some(Rc::new(listener))),
                handler,
                handlers: RefCell::new(Handlers::Group(Group::new())),
                overflow: Cell::new(Overflow::Wait),
                on_full: RefCell::new(None),
                stack_bytes: Cell::new(None),
                accept_loop: RefCell::new(None),
                stopped: Cell::new(false),
                done: Event::new(),
                accepted: Cell::new(0),
                refused: Cell::new(0),
                shed: Cell::new(0),
            }),
        })
    }

    /// Runs at most `max` handlers at once (gevent's `spawn=Pool(max)`);
    /// what happens to further connections is set by
    /// [`overflow`](Self::overflow).
    pub fn max_connections(self, max: usize) -> StreamServer {
        self.pool(Pool::new(max.max(1)))
    }

    /// Runs handlers in `pool` (gevent's `spawn=pool`): at most
    /// `pool.size()` at once, sharing the bound with whatever else the
    /// pool runs.
    pub fn pool(self, pool: Pool) -> StreamServer {
        *self.inner.handlers.borrow_mut() = Handlers::Pool(pool);
        self
    }

    /// What to do with connections beyond
    /// [`max_connections`](Self::max_connections) (default: [`Overflow::Wait`]).
    pub fn overflow(self, overflow: Overflow) -> StreamServer {
        self.inner.overflow.set(overflow);
        self
    }

    /// With [`Overflow::Wait`]: while [`max_connections`](Self::max_connections)
    /// handlers run and a new client waits in the listen backlog, the
    /// accept loop calls `shed` (every 50 ms at most) so that it can end a
    /// connection that only holds its slot (an idle keep-alive
    /// connection, one that has sent nothing yet). `shed` returns true if
    /// it ended one; the slot is free once that handler has returned.
    /// [`HttpServer`](crate::http::HttpServer) sets this.
    pub fn shed_when_full(self, shed: impl Fn() -> bool + 'static) -> StreamServer {
        *self.inner.on_full.borrow_mut() = Some(Rc::new(shed));
        self
    }

    /// The stack size of handler greenlets (default:
    /// [`config::default_stack_bytes`](crate::config::default_stack_bytes)).
    pub fn stack_bytes(self, bytes: usize) -> StreamServer {
        self.inner.stack_bytes.set(Some(bytes));
        self
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// Handlers running now.
    pub fn connections(&self) -> usize {
        self.inner.handlers().len()
    }

    /// Connections accepted so far (refused ones included).
    pub fn accepted(&self) -> u64 {
        self.inner.accepted.get()
    }

    /// Connections closed at once because of [`Overflow::Refuse`].
    pub fn refused(&self) -> u64 {
        self.inner.refused.get()
    }

    /// Connections ended by the [`shed_when_full`](Self::shed_when_full)
    /// hook so far.
    pub fn shed(&self) -> u64 {
        self.inner.shed.get()
    }

    /// True once the accept loop has been started.
    pub fn started(&self) -> bool {
        self.inner.accept_loop.borrow().is_some()
    }

    /// Starts the accept loop in a new greenlet and returns. Fails with
    /// `Error::Closed` if the server was stopped.
    pub fn start(&self) -> Result<()> {
        if self.inner.stopped.get() {
            return Err(Error::Closed(Closed::ServerStopped));
        }
        if self.started() {
            return Ok(());
        }
        let listener = self
            .inner
            .listener
            .borrow()
            .clone()
            .ok_or(Error::Closed(Closed::ServerStopped))?;
        // The loop holds the server: a started server runs until stopped,
        // even if every handle is dropped (as in gevent).
        let inner = self.inner.clone();
        let g = Builder::new()
            .name(format!("StreamServer {}", self.inner.local_addr))
            .spawn(move || accept_loop(&inner, &listener))?;
        *self.inner.accept_loop.borrow_mut() = Some(g.any());
        Ok(())
    }

    /// Starts the server if needed and waits until it is stopped (by
    /// [`stop`](Self::stop) from another greenlet, a handler or a signal
    /// handler) and that stop has finished with the handlers. If the
    /// waiting greenlet is killed or times out, the server is
    /// [`close`](Self::close)d and the error returned.
    pub fn serve_forever(&self) -> Result<()> {
        self.start()?;
        let g = self.inner.accept_loop.borrow().clone();
        let waited = match g {
            Some(g) => g.join().and_then(|()| {
                if self.inner.stopped.get() {
                    self.inner.done.wait()
                } else {
                    Ok(())
                }
            }),
            None => Ok(()),
        };
        if let Err(e) = waited {
            self.close();
            return Err(e);
        }
        Ok(())
    }

    /// Installs a [`signal_handler`](crate::signal_handler) for each of
    /// `signals` that [`stop`](Self::stop)s the server with `grace` (a
    /// service's usual SIGTERM and SIGINT): `serve_forever` then returns.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use zgreen::net::{StreamServer, TcpStream};
    ///
    /// let server = StreamServer::bind("127.0.0.1:0", |_conn: TcpStream, _peer| {}).unwrap();
    /// server.stop_on_signals(&[libc::SIGTERM, libc::SIGINT], Duration::from_secs(1)).unwrap();
    /// server.serve_forever().unwrap();
    /// ```
    pub fn stop_on_signals(&self, signals: &[i32], grace: Duration) -> Result<()> {
        for &signal in signals {
            let server = self.clone();
            crate::signal_handler(signal, move || {
                let _ = server.stop(grace);
            })?;
        }
        Ok(())
    }

    /// Stops accepting (the listening socket is closed, so new connections
    /// are refused), waits up to `timeout` for the running handlers to
    /// finish, then kills those still running. Returns how many were
    /// killed.
    pub fn stop(&self, timeout: Duration) -> Result<usize> {
        hub::check_interrupt()?;
        // However this ends, `serve_forever` stops waiting.
        let _done = SetOnDrop(&self.inner.done);
        self.stop_accepting()?;
        // A handler may stop its own server: it does not wait for, or
        // kill, itself.
        let me = crate::current();
        let others: Vec<AnyGreenlet> = self
            .inner
            .handlers()
            .greenlets()
            .into_iter()
            .filter(|g| *g != me)
            .collect();
        crate::joinall_with(others.clone(), JoinAll::new().timeout(timeout))?;
        let rest: Vec<AnyGreenlet> = others.into_iter().filter(|g| !g.ready()).collect();
        let killed = rest.len();
        crate::killall(rest)?;
        Ok(killed)
    }

    /// Stops at once without waiting: closes the listener and kills every
    /// handler (they see `Error::Killed` at their next blocking call).
    pub fn close(&self) {
        let _done = SetOnDrop(&self.inner.done);
        self.inner.stopped.set(true);
        self.inner.listener.borrow_mut().take();
        if let Some(g) = self.inner.accept_loop.borrow().clone() {
            g.kill_nowait();
        }
        let me = crate::current();
        for g in self.inner.handlers().greenlets() {
            if g != me {
                g.kill_nowait();
            }
        }
    }

    /// Kills the accept loop, waits for it, and closes the listener.
    fn stop_accepting(&self) -> Result<()> {
        self.inner.stopped.set(true);
        self.inner.listener.borrow_mut().take();
        let g = self.inner.accept_loop.borrow().clone();
        if let Some(g) = g {
            if g.id() != crate::current().id() {
                g.kill()?;
            } else {
                g.kill_nowait();
            }
        }
        Ok(())
    }
}

/// Sets an event when dropped.
struct SetOnDrop<'a>(&'a Event);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.set();
    }
}

/// How often a full accept loop with a [`StreamServer::shed_when_full`]
/// hook checks for waiting clients.
const SHED_POLL: Duration = Duration::from_millis(50);

/// How long the accept loop pauses after an error that only time can cure
/// (too many open files, no buffer space).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

fn accept_loop(inner: &Rc<Inner>, listener: &TcpListener) {
    while !inner.stopped.get() {
        let handlers = inner.handlers();
        if handlers.full() && inner.overflow.get() == Overflow::Wait {
            if let Handlers::Pool(p) = &handlers {
                let shed = inner.on_full.borrow().clone();
                let Some(shed) = shed else {
                    if p.wait_available().is_err() {
                        return;
                    }
                    continue;
                };
                // A client waiting in the backlog takes the slot of a
                // connection that only holds it; then the freed slot is
                // waited for. Otherwise look again every SHED_POLL.
                let waiting = crate::sys::poll_now(&[(listener.as_raw_fd(), true, false)])
                    .is_ok_and(|r| r.first().is_some_and(|r| r.readable));
                let waited = if waiting && shed() {
                    inner.shed.set(inner.shed.get() + 1);
                    p.wait_available()
                } else {
                    p.wait_available_timeout(SHED_POLL)
                };
                match waited {
                    Ok(()) => {}
                    Err(e) if e.is_call_timeout() => {}
                    Err(_) => return,
                }
            }
            continue;
        }
        let (stream, peer) = match listener.accept() {
            Ok(c) => c,
            Err(Error::Io(e)) => {
                if is_transient(&e) {
                    continue;
                }
                tracing::warn!("zgreen StreamServer: accept failed: {e}; retrying in {ACCEPT_BACKOFF:?}");
                if crate::sleep(ACCEPT_BACKOFF).is_err() {
                    return;
                }
                continue;
            }
            // Killed (stop/close) or a timeout scope of the loop itself.
            Err(_) => return,
        };
        inner.accepted.set(inner.accepted.get() + 1);
        if handlers.full() && inner.overflow.get() == Overflow::Refuse {
            inner.refused.set(inner.refused.get() + 1);
            drop(stream);
            continue;
        }
        let handler = inner.handler.clone();
        let mut builder = Builder::new();
        if let Some(b) = inner.stack_bytes.get() {
            builder = builder.stack_bytes(b);
        }
        if let Err(e) = handlers.spawn(builder, move || handler(stream, peer)) {
            match e {
                Error::Killed | Error::Timeout(_) => return,
                e => tracing::warn!("zgreen StreamServer: cannot spawn a handler for {peer}: {e}"),
            }
        }
    }
}

/// Accept errors that concern one connection only (it was reset before we
/// accepted it, ...): accept the next one at once.
fn is_transient(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ECONNABORTED | libc::EPROTO | libc::EPERM | libc::ENETDOWN | libc::EHOSTUNREACH)
    )
}
