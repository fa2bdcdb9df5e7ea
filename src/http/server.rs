//! `HttpServer`: HTTP/1.1 over a [`StreamServer`], one greenlet per
//! connection.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fmt::Write as _;
use std::mem::MaybeUninit;
use std::net::{IpAddr, Shutdown, SocketAddr};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::date;
use super::local::RequestScope;
use super::request::Request;
use super::response::{Body, Response, reason_phrase};
use super::wire::{self, BodyBudget, Charge, Wire, WireError, has_token};
use crate::error::{Closed, Error, Result};
use crate::greenlet::AnyGreenlet;
use crate::hub::{Deadline, panic as hub_panic};
use crate::net::{StreamServer, TcpListener, TcpStream, ToSocketAddrs};

/// What serves requests: a function `Fn(&Request) -> Response`, a
/// [`Router`](super::Router), a [`StaticDir`](super::StaticDir), or any
/// type of your own.
///
/// The handler runs in the connection's greenlet and may block. A panic
/// in it is answered `500` and only closes that connection.
pub trait Handler: 'static {
    /// Answers `req`.
    fn handle(&self, req: &Request) -> Response;
}

impl<F: Fn(&Request) -> Response + 'static> Handler for F {
    fn handle(&self, req: &Request) -> Response {
        self(req)
    }
}

/// The limits an [`HttpServer`] enforces on each connection.
///
/// ```
/// use zgreen::http::Limits;
///
/// let small = Limits { max_body_bytes: 4096, ..Limits::default() };
/// assert_eq!(small.max_headers, 64);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest request head (request line and header fields); `431`
    /// beyond (`414` if the request line alone is longer).
    pub max_header_bytes: usize,
    /// Most header fields; `431` beyond.
    pub max_headers: usize,
    /// Largest request body (after chunked decoding); `413` beyond.
    pub max_body_bytes: usize,
    /// Server-wide budget for request bodies held in memory (being read
    /// or handled), counted in bytes received, never in bytes declared.
    /// A body read that would exceed it is answered `503` and its
    /// connection closed; while it is spent, new body reads get `503` at
    /// once. Requests without a body are not affected.
    pub max_body_bytes_in_flight: usize,
    /// Time for a whole request head to arrive: from the accept for the
    /// first request (its first byte included), from its first byte for
    /// a later one; `408` after it. A slowloris client that trickles
    /// bytes is cut off here.
    pub header_timeout: Duration,
    /// Time for a whole request body to arrive.
    pub body_timeout: Duration,
    /// How long an idle keep-alive connection is kept open; also how long
    /// a streamed response may go without sending a chunk once its client
    /// has shut down its write half (a client that closed altogether
    /// looks the same until a write fails).
    pub keep_alive_timeout: Duration,
    /// Time for each response write to make progress; a client that does
    /// not read is dropped after it.
    pub write_timeout: Duration,
    /// Most connections open at once from one client address (`None`, the
    /// default: no limit); beyond, a new connection is answered `503` and
    /// closed.
    pub max_connections_per_ip: Option<usize>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_header_bytes: 16 * 1024,
            max_headers: 64,
            max_body_bytes: 1024 * 1024,
            max_body_bytes_in_flight: 64 * 1024 * 1024,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            keep_alive_timeout: Duration::from_secs(15),
            write_timeout: Duration::from_secs(30),
            max_connections_per_ip: None,
        }
    }
}

struct Shared {
    handler: Box<dyn Handler>,
    limits: RefCell<Limits>,
    /// Charged by every connection's body reads.
    bodies: BodyBudget,
    /// Connections waiting for a request's first byte (idle keep-alive,
    /// or new and silent), by when they started waiting: the first is
    /// shed first when the connection cap is reached.
    idle: RefCell<BTreeMap<u64, AnyGreenlet>>,
    idle_seq: Cell<u64>,
    /// Connections open per client address.
    per_ip: RefCell<HashMap<IpAddr, usize>>,
}

impl Shared {
    fn new(handler: impl Handler, limits: Limits) -> Shared {
        Shared {
            handler: Box::new(handler),
            bodies: BodyBudget::new(limits.max_body_bytes_in_flight),
            limits: RefCell::new(limits),
            idle: RefCell::new(BTreeMap::new()),
            idle_seq: Cell::new(0),
            per_ip: RefCell::new(HashMap::new()),
        }
    }

    /// Ends the connection that has waited longest for a first byte.
    fn shed_idle(&self) -> bool {
        let Some((_, g)) = self.idle.borrow_mut().pop_first() else {
            return false;
        };
        tracing::debug!("zgreen http: connection cap reached: closing an idle connection");
        g.kill_nowait();
        true
    }
}

/// Marks the current connection idle (sheddable) while it lives.
struct IdleMark<'a> {
    shared: &'a Shared,
    seq: u64,
}

impl<'a> IdleMark<'a> {
    fn new(shared: &'a Shared) -> IdleMark<'a> {
        let seq = shared.idle_seq.get() + 1;
        shared.idle_seq.set(seq);
        shared.idle.borrow_mut().insert(seq, crate::current());
        IdleMark { shared, seq }
    }
}

impl Drop for IdleMark<'_> {
    fn drop(&mut self) {
        self.shared.idle.borrow_mut().remove(&self.seq);
    }
}

/// Counts a connection against its client address while it lives.
struct PerIp<'a> {
    shared: &'a Shared,
    ip: IpAddr,
}

impl<'a> PerIp<'a> {
    /// The connection's slot, or `None` if `ip` already has `max` open.
    fn take(shared: &'a Shared, ip: IpAddr, max: Option<usize>) -> Option<PerIp<'a>> {
        let mut per_ip = shared.per_ip.borrow_mut();
        let n = per_ip.entry(ip).or_insert(0);
        if max.is_some_and(|max| *n >= max) {
            return None;
        }
        *n += 1;
        Some(PerIp { shared, ip })
    }
}

impl Drop for PerIp<'_> {
    fn drop(&mut self) {
        let mut per_ip = self.shared.per_ip.borrow_mut();
        if let Some(n) = per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                per_ip.remove(&self.ip);
            }
        }
    }
}

/// An HTTP/1.1 server (gevent's `pywsgi.WSGIServer`): keep-alive,
/// pipelining, `Content-Length` and chunked request bodies, full or
/// streamed responses, `Expect: 100-continue`, WebSocket upgrades (see
/// [`upgrade`](super::upgrade)), all within [`Limits`].
///
/// A cheap clonable handle, like the [`StreamServer`] it runs on.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use zgreen::http::{Client, HttpServer, Request, Response};
///
/// let server = HttpServer::bind("127.0.0.1:0", |_req: &Request| Response::html("<b>hi</b>")).unwrap();
/// server.start().unwrap();
/// let reply = Client::new().get(&format!("http://{}/", server.local_addr())).unwrap();
/// assert_eq!(reply.body(), b"<b>hi</b>");
/// server.stop(Duration::from_secs(1)).unwrap();
/// ```
#[derive(Clone)]
pub struct HttpServer {
    server: StreamServer,
    shared: Rc<Shared>,
}

impl fmt::Debug for HttpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpServer")
            .field("server", &self.server)
            .field("limits", &*self.shared.limits.borrow())
            .finish()
    }
}

impl HttpServer {
    /// Binds `addr` and prepares a server for `handler`; call
    /// [`start`](Self::start) or [`serve_forever`](Self::serve_forever).
    pub fn bind(addr: impl ToSocketAddrs, handler: impl Handler) -> Result<HttpServer> {
        HttpServer::from_listener(TcpListener::bind(addr)?, handler)
    }

    /// A server on an already bound listener.
    pub fn from_listener(listener: TcpListener, handler: impl Handler) -> Result<HttpServer> {
        let shared = Rc::new(Shared::new(handler, Limits::default()));
        let conn_shared = shared.clone();
        let shed_shared = shared.clone();
        let server = StreamServer::from_listener(listener, move |stream, peer| {
            serve_connection(stream, peer, &conn_shared)
        })?
        .shed_when_full(move || shed_shared.shed_idle());
        Ok(HttpServer { server, shared })
    }

    /// Replaces the limits (they apply to connections accepted later).
    pub fn limits(self, limits: Limits) -> HttpServer {
        self.shared.bodies.set_max(limits.max_body_bytes_in_flight);
        *self.shared.limits.borrow_mut() = limits;
        self
    }

    /// Request-body bytes held in memory right now, server-wide (see
    /// [`Limits::max_body_bytes_in_flight`]).
    pub fn body_bytes_in_flight(&self) -> usize {
        self.shared.bodies.used()
    }

    /// Serves at most `max` connections at once; later ones wait in the
    /// listen backlog (see [`StreamServer::max_connections`]). While a
    /// client waits there, the connection that has waited longest for a
    /// request's first byte (an idle keep-alive connection, or one silent
    /// since its accept) is closed to make room, so idle sockets cannot
    /// keep good clients out.
    pub fn max_connections(self, max: usize) -> HttpServer {
        HttpServer {
            server: self.server.max_connections(max),
            shared: self.shared,
        }
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Connections being served now.
    pub fn connections(&self) -> usize {
        self.server.connections()
    }

    /// Starts accepting in a new greenlet and returns.
    pub fn start(&self) -> Result<()> {
        self.server.start()
    }

    /// Starts if needed and waits until the server is stopped.
    pub fn serve_forever(&self) -> Result<()> {
        self.server.serve_forever()
    }

    /// Stops accepting, gives running connections `timeout` to finish,
    /// then kills them; returns how many were killed.
    pub fn stop(&self, timeout: Duration) -> Result<usize> {
        self.server.stop(timeout)
    }

    /// Stops at once, killing every connection's greenlet.
    pub fn close(&self) {
        self.server.close()
    }

    /// Stops the server with `grace` when one of `signals` arrives (see
    /// [`StreamServer::stop_on_signals`]).
    pub fn stop_on_signals(&self, signals: &[i32], grace: Duration) -> Result<()> {
        self.server.stop_on_signals(signals, grace)
    }

    /// The underlying stream server.
    pub fn stream_server(&self) -> &StreamServer {
        &self.server
    }
}

/// A parsed request head.
struct Head {
    method: String,
    target: String,
    minor_version: u8,
    headers: Vec<(String, Vec<u8>)>,
}

impl Head {
    fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    fn joined(&self, name: &str) -> Option<String> {
        let vals: Vec<String> = self
            .values(name)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect();
        (!vals.is_empty()).then(|| vals.join(", "))
    }
}

/// How a connection ends early: answer this status (if the client can
/// still take it) and close.
struct Reject(u16);

fn parse_head(buf: &[u8], max_headers: usize) -> std::result::Result<Option<(usize, Head)>, WireError> {
    // Room for the usual header counts on the stack, uninitialized (no
    // per-request allocation or zero-fill); a larger configured limit
    // gets a heap slice.
    const ON_STACK: usize = 128;
    let mut stack = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; ON_STACK];
    let mut heap = Vec::new();
    let slots: &mut [MaybeUninit<httparse::Header<'_>>] = if max_headers <= ON_STACK {
        &mut stack[..max_headers]
    } else {
        heap.resize_with(max_headers, MaybeUninit::uninit);
        &mut heap
    };
    let mut req = httparse::Request::new(&mut []);
    match req.parse_with_uninit_headers(buf, slots) {
        Ok(httparse::Status::Complete(n)) => {
            let head = Head {
                method: req.method.unwrap_or_default().to_string(),
                target: req.path.unwrap_or_default().to_string(),
                minor_version: req.version.unwrap_or(1),
                headers: req
                    .headers
                    .iter()
                    .map(|h| (h.name.to_string(), h.value.to_vec()))
                    .collect(),
            };
            Ok(Some((n, head)))
        }
        Ok(httparse::Status::Partial) => Ok(None),
        Err(httparse::Error::TooManyHeaders) => Err(WireError::TooLarge),
        Err(httparse::Error::Version) => match later_minor_version(buf) {
            // HTTP/1.x with x > 1: served as HTTP/1.1 (RFC 9112 §2.3).
            Some(at) => {
                let mut patched = buf.to_vec();
                patched[at] = b'1';
                parse_head(&patched, max_headers).map(|r| {
                    r.map(|(n, mut head)| {
                        head.minor_version = 1;
                        (n, head)
                    })
                })
            }
            None => Err(WireError::Version),
        },
        Err(_) => Err(WireError::Malformed("malformed request head")),
    }
}

/// Serves one accepted connection with `handler` under `limits`, in the
/// calling greenlet, exactly as a server's connection greenlet does (for
/// the fuzz entry point, which needs the outcome and any panic).
pub(crate) fn serve_one(stream: TcpStream, handler: impl Handler, limits: Limits) -> Result<()> {
    let peer = stream.peer_addr()?;
    let shared = Shared::new(handler, limits);
    serve_connection(stream, peer, &shared)
}

/// Where the minor version digit of the request line's `HTTP/1.x` is,
/// when `x` is a single digit above 1 (a later HTTP/1 minor version);
/// `None` for anything else (another major version, a malformed line).
fn later_minor_version(buf: &[u8]) -> Option<usize> {
    let end = buf.iter().position(|&b| b == b'\n')?;
    let line = buf[..end].strip_suffix(b"\r").unwrap_or(&buf[..end]);
    let version = line.rsplit(|&b| b == b' ').next()?;
    match version {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', minor] if (b'2'..=b'9').contains(minor) => {
            Some(line.len() - 1)
        }
        _ => None,
    }
}

/// Serves one connection: requests in order until either side closes.
fn serve_connection(stream: TcpStream, peer: SocketAddr, shared: &Shared) -> Result<()> {
    let accepted = Instant::now();
    let limits = shared.limits.borrow().clone();
    let _ = stream.set_nodelay(true);
    stream.set_write_timeout(Some(limits.write_timeout));
    let mut wire = Wire::new(stream);
    let Some(_per_ip) = PerIp::take(shared, peer.ip(), limits.max_connections_per_ip) else {
        return reject(wire, Reject(503));
    };
    let mut first = true;
    loop {
        // The first request's head must be complete `header_timeout`
        // after the accept; a later one's, after its first byte.
        let head_deadline = first.then(|| Deadline::at(accepted + limits.header_timeout));
        // Wait for the next request's first byte (idle keep-alive): the
        // connection may be shed meanwhile if the server is full.
        if wire.buf.is_empty() {
            let idle = head_deadline.unwrap_or_else(|| Deadline::after(limits.keep_alive_timeout));
            let _idle = IdleMark::new(shared);
            match wire.fill(Some(idle)) {
                Ok(0) | Err(WireError::Timeout) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(e.into_error()),
            }
        }
        first = false;
        let deadline = Some(head_deadline.unwrap_or_else(|| Deadline::after(limits.header_timeout)));
        let head = match wire.read_head(limits.max_header_bytes, deadline, |b| {
            parse_head(b, limits.max_headers)
        }) {
            Ok(h) => h,
            Err(WireError::TooLarge) => {
                // No end of the request line in sight: the target is too long.
                let window = &wire.buf[..wire.buf.len().min(limits.max_header_bytes)];
                let status = if window.contains(&b'\n') { 431 } else { 414 };
                return reject(wire, Reject(status));
            }
            Err(WireError::Malformed(_)) => return reject(wire, Reject(400)),
            Err(WireError::Timeout) => return reject(wire, Reject(408)),
            Err(WireError::Eof) => return Ok(()),
            Err(WireError::Busy) => return reject(wire, Reject(503)),
            Err(WireError::Version) => return reject(wire, Reject(505)),
            Err(WireError::Io(e)) => return Err(e),
        };
        // The body's bytes stay charged until its request is answered.
        let (req, keep_alive, _charge) = match read_request(&mut wire, head, peer, &limits, &shared.bodies) {
            Ok(r) => r,
            Err(Ok(r)) => return reject(wire, r),
            Err(Err(e)) => return Err(e),
        };
        match respond(wire, req, keep_alive, shared)? {
            Some(w) if keep_alive => wire = w,
            _ => return Ok(()),
        }
    }
}

/// Checks the head and reads the body: the request and whether the
/// connection persists, or the status to reject it with.
fn read_request<'b>(
    wire: &mut Wire,
    mut head: Head,
    peer: SocketAddr,
    limits: &Limits,
    bodies: &'b BodyBudget,
) -> std::result::Result<(Request, bool, Charge<'b>), std::result::Result<Reject, Error>> {
    if !super::KNOWN_METHODS.contains(&head.method.as_str()) {
        return Err(Ok(Reject(501)));
    }
    // origin-form, absolute-form (its path kept), or `*` for OPTIONS.
    let target = if head.target.starts_with('/') {
        std::mem::take(&mut head.target)
    } else if let Some(rest) = head
        .target
        .strip_prefix("http://")
        .or_else(|| head.target.strip_prefix("https://"))
    {
        rest.find('/')
            .map_or_else(|| "/".to_string(), |i| rest[i..].to_string())
    } else if head.target == "*" && head.method == "OPTIONS" {
        "*".to_string()
    } else {
        return Err(Ok(Reject(400)));
    };
    let host_count = head.values("host").count();
    if host_count > 1 || (head.minor_version == 1 && host_count == 0) {
        return Err(Ok(Reject(400)));
    }
    if head.values("host").any(|h| !wire::valid_host(h)) {
        return Err(Ok(Reject(400)));
    }
    let connection = head.joined("connection").unwrap_or_default();
    let keep_alive = if head.minor_version == 0 {
        has_token(&connection, "keep-alive")
    } else {
        !has_token(&connection, "close")
    };

    let body_deadline = Some(Deadline::after(limits.body_timeout));
    let te = head.joined("transfer-encoding");
    let cl = wire::content_length(head.values("content-length")).map_err(|_| Ok(Reject(400)))?;
    enum Framing {
        None,
        Length(u64),
        Chunked,
    }
    let framing = match (te, cl) {
        (Some(_), Some(_)) => return Err(Ok(Reject(400))),
        (Some(te), None) => {
            let codings: Vec<&str> = te.split(',').map(str::trim).collect();
            if head.minor_version == 0 {
                return Err(Ok(Reject(400)));
            }
            if codings.last().is_none_or(|c| !c.eq_ignore_ascii_case("chunked")) {
                // A body whose end cannot be found: RFC 9112 §6.3.
                return Err(Ok(Reject(400)));
            }
            if codings.len() > 1 {
                return Err(Ok(Reject(501)));
            }
            Framing::Chunked
        }
        (None, Some(n)) => Framing::Length(n),
        (None, None) => Framing::None,
    };
    if let Framing::Length(n) = framing {
        if n > limits.max_body_bytes as u64 {
            return Err(Ok(Reject(413)));
        }
    }
    if let Some(expect) = head.joined("expect") {
        if !expect.eq_ignore_ascii_case("100-continue") {
            return Err(Ok(Reject(417)));
        }
        if head.minor_version == 1 && !matches!(framing, Framing::None) {
            wire.stream
                .send_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .map_err(Err)?;
        }
    }
    let refuse = |e: WireError| match e {
        WireError::Malformed(_) => Ok(Reject(400)),
        WireError::TooLarge => Ok(Reject(413)),
        WireError::Busy => Ok(Reject(503)),
        WireError::Version => Ok(Reject(505)),
        WireError::Timeout => Ok(Reject(408)),
        WireError::Eof => Err(Error::Closed(Closed::PeerMidMessage)),
        WireError::Io(e) => Err(e),
    };
    let has_body = !matches!(framing, Framing::None | Framing::Length(0));
    let mut charge = if has_body {
        Charge::start(bodies).map_err(refuse)?
    } else {
        Charge::none()
    };
    let body = match framing {
        Framing::None | Framing::Length(0) => Ok(Vec::new()),
        Framing::Length(n) => wire.read_exact(n as usize, body_deadline, &mut charge),
        Framing::Chunked => wire.read_chunked(limits.max_body_bytes, body_deadline, &mut charge),
    }
    .map_err(refuse)?;

    let (path, query) = match target.find('?') {
        Some(i) => (target[..i].to_string(), target[i + 1..].to_string()),
        None => (target, String::new()),
    };
    let req = Request {
        method: head.method,
        path,
        query,
        minor_version: head.minor_version,
        headers: head
            .headers
            .into_iter()
            .map(|(k, v)| {
                // Reuses the value's buffer when it is UTF-8 (the usual case).
                let v = String::from_utf8(v)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
                (k, v)
            })
            .collect(),
        body,
        remote_addr: peer,
        params: RefCell::new(Vec::new()),
    };
    Ok((req, keep_alive, charge))
}

/// Answers `status` and closes: the write half first, then whatever the
/// client still sends is read and dropped for a moment, so the client
/// gets the response rather than a reset.
fn reject(wire: Wire, Reject(status): Reject) -> Result<()> {
    let body = format!("{status} {}\n", reason_phrase(status));
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status));
    date::push_date_line(&mut head);
    let _ = write!(
        head,
        "Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    wire.stream.send_all(head.as_bytes())?;
    linger_close(&wire.stream);
    Ok(())
}

/// How long a closing connection keeps draining what the client sends.
const LINGER: Duration = Duration::from_millis(500);

fn linger_close(stream: &TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let deadline = Some(Deadline::after(LINGER));
    let mut scratch = [0u8; 4096];
    let mut budget = 256 * 1024;
    while budget > 0 {
        match stream.recv_deadline(&mut scratch, deadline) {
            Ok(0) | Err(_) => break,
            Ok(n) => budget -= n.min(budget),
        }
    }
}

/// Runs the handler and writes its response. Returns the connection for
/// the next request, or `None` once it was handed off (an upgrade).
fn respond(wire: Wire, req: Request, keep_alive: bool, shared: &Shared) -> Result<Option<Wire>> {
    let scope = RequestScope::enter(req);
    let req = scope.request().clone();
    let head_only = req.method == "HEAD";
    let http10 = req.minor_version == 0;
    let response = match catch_unwind(AssertUnwindSafe(|| {
        hub_panic::quietly(|| shared.handler.handle(&req))
    })) {
        Ok(r) => r,
        Err(payload) => {
            if hub_panic::is_cancel(&*payload) {
                resume_unwind(payload);
            }
            tracing::error!(
                "zgreen http: handler for {} {} panicked: {}",
                req.method,
                req.path,
                hub_panic::payload_message(&*payload)
            );
            Response::error(500)
        }
    };
    let Response {
        status,
        headers,
        body,
    } = response;
    let mut head = String::with_capacity(256);
    let _ = write!(
        head,
        "HTTP/1.{} {status} {}\r\n",
        req.minor_version,
        reason_phrase(status)
    );
    for (k, v) in &headers {
        let framing = ["content-length", "transfer-encoding", "connection"];
        if framing.iter().any(|f| k.eq_ignore_ascii_case(f)) && status != 101 {
            continue;
        }
        if k.contains(['\r', '\n', ':']) || v.contains(['\r', '\n']) {
            continue;
        }
        for part in [k.as_str(), ": ", v.as_str(), "\r\n"] {
            head.push_str(part);
        }
    }
    if status != 101 && wire::find_header(&headers, "date").is_none() {
        date::push_date_line(&mut head);
    }
    let no_body = status < 200 || status == 204 || status == 304;
    match body {
        Body::Upgrade(f) => {
            head.push_str("\r\n");
            wire.stream.send_all(head.as_bytes())?;
            drop(req);
            let Wire { stream, buf } = wire;
            let Ok(stream) = Rc::try_unwrap(stream) else {
                return Err(Error::Io(std::sync::Arc::new(std::io::Error::other(
                    "the upgraded stream is still shared",
                ))));
            };
            // The upgraded protocol sees no HTTP write timeout.
            stream.set_write_timeout(None);
            f(stream, buf);
            drop(scope);
            Ok(None)
        }
        Body::Full(bytes) => {
            if !no_body {
                let _ = write!(head, "Content-Length: {}\r\n", bytes.len());
            }
            head.push_str(connection_field(keep_alive, http10));
            head.push_str("\r\n");
            if head_only || no_body || bytes.is_empty() {
                wire.stream.send_all(head.as_bytes())?;
            } else if bytes.len() <= 16 * 1024 {
                // One segment for a small response.
                let mut out = head.into_bytes();
                out.extend_from_slice(&bytes);
                wire.stream.send_all(&out)?;
            } else {
                // No copy of a large body.
                wire.stream.send_all(head.as_bytes())?;
                wire.stream.send_all(&bytes)?;
            }
            Ok(Some(wire))
        }
        Body::Stream(chunks) => {
            // HTTP/1.0 has no chunked encoding: the end of the connection
            // ends the body.
            let keep_alive = keep_alive && !http10;
            if !http10 && !no_body {
                head.push_str("Transfer-Encoding: chunked\r\n");
            }
            head.push_str(connection_field(keep_alive, http10));
            head.push_str("\r\n");
            wire.stream.send_all(head.as_bytes())?;
            if !head_only && !no_body {
                // The producer may block for long (long polling): a client
                // that goes away meanwhile ends it at once.
                let progress = Rc::new(Cell::new(Instant::now()));
                let idle = shared.limits.borrow().keep_alive_timeout;
                let watcher = watch_for_hangup(&wire.stream, &progress, idle);
                let sent = catch_unwind(AssertUnwindSafe(|| {
                    hub_panic::quietly(|| send_chunks(&wire.stream, chunks, http10, &progress))
                }))
                .unwrap_or_else(|payload| {
                    if hub_panic::is_cancel(&*payload) {
                        resume_unwind(payload);
                    }
                    tracing::warn!(
                        "zgreen http: the streamed body of {} {} panicked: {}",
                        req.method,
                        req.path,
                        hub_panic::payload_message(&*payload)
                    );
                    Err(hub_panic::error(&*payload, crate::hub::current_task().id))
                });
                watcher.kill_nowait();
                if sent.is_err() {
                    // Cut short: reset rather than end cleanly, so that
                    // no client takes it for the whole body (an HTTP/1.0
                    // body ends with the connection).
                    let _ = crate::sys::reset_on_close(std::os::fd::AsFd::as_fd(&*wire.stream));
                }
                sent?;
            }
            Ok(keep_alive.then_some(wire))
        }
    }
}

/// Sends each chunk as it is produced (recording when in `progress`),
/// then the last chunk.
fn send_chunks(
    stream: &TcpStream,
    chunks: Box<dyn Iterator<Item = Vec<u8>>>,
    http10: bool,
    progress: &Cell<Instant>,
) -> Result<()> {
    for chunk in chunks.filter(|c| !c.is_empty()) {
        if http10 {
            stream.send_all(&chunk)?;
        } else {
            stream.send_all(&wire::chunk_frame(&chunk))?;
        }
        progress.set(Instant::now());
    }
    if !http10 {
        stream.send_all(wire::LAST_CHUNK)?;
    }
    Ok(())
}

/// A greenlet that kills the current one if the client resets the
/// connection; a pipelined request arriving just ends the watch. End of
/// file is not a hang-up by itself: a client that shut down its write
/// half after its request (`nc -N`, many HTTP/1.0 tools) still reads the
/// response. As a client that closed altogether looks the same until a
/// write fails, after end of file the body must make progress (a chunk
/// sent, recorded in `progress`) at least every `idle`, or it is ended.
fn watch_for_hangup(
    stream: &Rc<TcpStream>,
    progress: &Rc<Cell<Instant>>,
    idle: Duration,
) -> crate::Greenlet<()> {
    let (stream, progress) = (stream.clone(), progress.clone());
    let streaming = crate::current();
    crate::spawn(move || {
        let mut byte = [0u8; 1];
        match stream.peek(&mut byte) {
            Err(Error::Io(_)) => {}
            Ok(0) => loop {
                let due = progress.get() + idle;
                let now = Instant::now();
                if now >= due {
                    break;
                }
                // Killed (and so returning) when the body ends.
                if crate::sleep(due - now).is_err() {
                    return;
                }
            },
            _ => return,
        }
        tracing::debug!("zgreen http: the client went away during a streamed response");
        streaming.kill_nowait();
    })
}

fn connection_field(keep_alive: bool, http10: bool) -> &'static str {
    match (keep_alive, http10) {
        (false, _) => "Connection: close\r\n",
        (true, true) => "Connection: keep-alive\r\n",
        (true, false) => "",
    }
}
