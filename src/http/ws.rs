//! WebSockets (RFC 6455) over the green stream, with `tungstenite`
//! parsing the frames (gevent-websocket's `wsgi.websocket`).
//!
//! # Implementation notes
//!
//! An upgraded connection runs three greenlets: the handler, a reader
//! that owns the `tungstenite` state machine (it answers pings and the
//! close handshake, and sends keep-alive pings), and a writer that drains
//! a bounded queue of encoded frames onto the socket. Every frame, the
//! handler's and the reader's replies alike, goes through that queue
//! whole, so frames never interleave; the writer sends the frames queued
//! at once in one write (up to 64 KiB), so a burst costs one system call,
//! not one per message. The queue never grows past its bound: a `send`
//! finding it full waits at most [`WsConfig::send_timeout`] for the
//! writer to make room, a `send_or_disconnect` not at all, and a client that has
//! not made room by then is too slow and is disconnected.
//!
//! A broadcaster encodes a message once with [`PreparedMessage`]; each
//! client's queue then holds a reference to the same frame.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};

use tungstenite::protocol::frame::coding::{Data, OpCode};
use tungstenite::protocol::frame::{CloseFrame, Frame};
use tungstenite::protocol::{Role, WebSocketConfig};

use super::wire::has_token;
use super::{Request, Response};
use crate::error::{Closed, Error, Result, TryRecvError};
use crate::greenlet::Greenlet;
use crate::net::TcpStream;
use crate::queue::{Queue, ShutdownMode, TryGetError};
use crate::sync::Event;

/// The settings of an upgraded connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WsConfig {
    /// Largest message accepted from the client (larger: the connection
    /// is closed with an error).
    pub max_message_bytes: usize,
    /// Most messages waiting to be written to the client. A
    /// [`send`](WebSocket::send) finding the queue full waits up to
    /// [`send_timeout`](Self::send_timeout) for room; a client that has
    /// not made room by then is too slow and is disconnected.
    pub send_queue_messages: usize,
    /// Most bytes waiting to be written to the client (same rule).
    pub send_queue_bytes: usize,
    /// How long a `send` waits for room in a full send queue before the
    /// client is disconnected ([`send_or_disconnect`](WebSocket::send_or_disconnect) does not
    /// wait).
    pub send_timeout: Duration,
    /// Received messages buffered for [`WebSocket::recv`]; when full, the
    /// connection stops reading (backpressure).
    pub recv_queue_messages: usize,
    /// Most bytes of received messages buffered for [`WebSocket::recv`]
    /// (one message of up to `max_message_bytes` is always taken into an
    /// empty queue); beyond, the connection stops reading the socket. A
    /// handler that takes nothing for [`idle_timeout`](Self::idle_timeout)
    /// while it is full has its connection closed (code 1008).
    pub recv_queue_bytes: usize,
    /// Most pings answered per second; a client that pings faster is
    /// closed with code 1008 (policy violation). Pongs of a burst are
    /// coalesced: only the latest ping is answered (RFC 6455 §5.5.3).
    pub max_pings_per_second: u32,
    /// A ping is sent after this long without hearing from the client.
    pub ping_interval: Duration,
    /// The client is disconnected after this long without sending
    /// anything (a pong included).
    pub idle_timeout: Duration,
    /// Time for each write to the socket to make progress.
    pub write_timeout: Duration,
    /// Time the client has to answer our close frame.
    pub close_timeout: Duration,
}

impl Default for WsConfig {
    fn default() -> WsConfig {
        WsConfig {
            max_message_bytes: 1 << 20,
            send_queue_messages: 256,
            send_queue_bytes: 4 << 20,
            send_timeout: Duration::from_secs(5),
            recv_queue_messages: 64,
            recv_queue_bytes: 1 << 20,
            max_pings_per_second: 1000,
            ping_interval: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(5),
        }
    }
}

/// A data message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
}

/// Counters of one connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WsStats {
    /// Messages waiting to be written now.
    pub queued_messages: usize,
    /// Bytes waiting to be written now.
    pub queued_bytes: usize,
    /// Frames written to the socket so far.
    pub frames_written: u64,
    /// Pings sent for keep-alive.
    pub pings_sent: u64,
    /// True if the client was disconnected for being too slow.
    pub dropped_slow: bool,
}

/// An encoded frame waiting in a send queue.
enum FrameBytes {
    Owned(Vec<u8>),
    /// Encoded once, queued for many clients.
    Shared(Rc<[u8]>),
}

impl FrameBytes {
    fn as_slice(&self) -> &[u8] {
        match self {
            FrameBytes::Owned(v) => v,
            FrameBytes::Shared(r) => r,
        }
    }
}

enum Out {
    Frame(FrameBytes),
    /// The latest pong, kept in [`Link::pong`] (a newer ping replaces an
    /// unsent pong instead of queueing another).
    Pong,
    /// Everything before it is written: shut the socket down.
    Shutdown,
}

/// The most bytes of queued frames the writer joins into one write.
const WRITE_BATCH: usize = 64 * 1024;

/// A data message encoded once, to send to many clients: each client's
/// send queue holds a reference to the same frame instead of its own
/// copy (server frames are not masked, so one encoding fits every
/// client).
///
/// ```
/// use zgreen::http::{Message, PreparedMessage};
///
/// let tick = PreparedMessage::new(Message::Text("tick".into()));
/// assert_eq!(tick.len(), 2 + 4); // a 2-byte header and the payload
/// ```
#[derive(Clone, Debug)]
pub struct PreparedMessage {
    frame: Rc<[u8]>,
}

impl PreparedMessage {
    /// Encodes `msg` as one final frame.
    pub fn new(msg: Message) -> PreparedMessage {
        PreparedMessage {
            frame: encode(data_frame(msg)).into(),
        }
    }

    /// The encoded frame's size in bytes (header included).
    pub fn len(&self) -> usize {
        self.frame.len()
    }

    /// Never true: a frame has at least its header.
    pub fn is_empty(&self) -> bool {
        self.frame.is_empty()
    }
}

fn data_frame(msg: Message) -> Frame {
    match msg {
        Message::Text(t) => Frame::message(t, OpCode::Data(Data::Text), true),
        Message::Binary(b) => Frame::message(b, OpCode::Data(Data::Binary), true),
    }
}

/// What the handler, the reader and the writer share.
struct Link {
    stream: Rc<TcpStream>,
    config: WsConfig,
    out: Queue<Out>,
    incoming: Queue<Message>,
    stats: Cell<WsStats>,
    /// Set by the writer after each frame (room was made).
    drained: Event,
    /// Our close frame is queued: nothing more is sent.
    we_closed: Cell<bool>,
    closed_at: Cell<Option<Instant>>,
    /// The connection is finished (or being torn down).
    done: Cell<bool>,
    last_heard: Cell<Instant>,
    last_ping: Cell<Instant>,
    /// Bytes of the messages in `incoming`.
    incoming_bytes: Cell<usize>,
    /// Set each time the handler takes a message.
    taken: Event,
    /// The pong to send, while an [`Out::Pong`] is queued.
    pong: RefCell<Option<Vec<u8>>>,
    /// Pings answered in the current one-second window, and its start.
    ping_window: Cell<(Instant, u32)>,
    /// The client pinged faster than `max_pings_per_second`.
    ping_flood: Cell<bool>,
}

impl Link {
    fn update(&self, f: impl FnOnce(&mut WsStats)) {
        let mut s = self.stats.get();
        f(&mut s);
        self.stats.set(s);
    }

    /// True if `len` more bytes exceed the queue's bounds (`slack`
    /// messages more are allowed, for control frames). An empty queue
    /// always takes one frame.
    fn over(&self, len: usize, slack: usize) -> bool {
        let s = self.stats.get();
        s.queued_messages > 0
            && (s.queued_messages + 1 > self.config.send_queue_messages + slack
                || s.queued_bytes + len > self.config.send_queue_bytes)
    }

    /// Queues an encoded frame. While the queue is over its bounds, waits
    /// for the writer to make room until `wait` passes (`None`: no
    /// waiting); a client that is still too slow then is disconnected.
    /// Control frames (`control`) get a little slack and never wait.
    fn enqueue(&self, frame: FrameBytes, wait: Option<Duration>, control: bool) -> Result<()> {
        let len = frame.as_slice().len();
        self.push(Out::Frame(frame), len, wait, control)
    }

    /// [`enqueue`](Self::enqueue) of any queue entry, counted as `len`
    /// bytes.
    fn push(&self, item: Out, len: usize, wait: Option<Duration>, control: bool) -> Result<()> {
        let deadline = wait.map(|w| Instant::now() + w);
        loop {
            if self.done.get() {
                return Err(Error::Closed(Closed::WebSocket));
            }
            if !self.over(len, if control { 16 } else { 0 }) {
                break;
            }
            let left = deadline.map_or(Duration::ZERO, |d| d.saturating_duration_since(Instant::now()));
            if left.is_zero() || control {
                let s = self.stats.get();
                tracing::debug!(
                    "zgreen websocket: {:?} is too slow ({} messages, {} bytes queued): disconnecting",
                    self.stream.peer_addr().ok(),
                    s.queued_messages,
                    s.queued_bytes
                );
                self.update(|s| s.dropped_slow = true);
                self.disconnect();
                return Err(Error::Closed(Closed::SlowConsumer));
            }
            self.drained.clear();
            // Its own timeout only ends the wait: the loop then sees no
            // time left and disconnects the slow client.
            match self.drained.wait_timeout(left) {
                Err(e) if e.is_call_timeout() => {}
                r => r?,
            }
        }
        if self.out.try_put(item).is_err() {
            return Err(Error::Closed(Closed::WebSocket));
        }
        self.update(|s| {
            s.queued_messages += 1;
            s.queued_bytes += len;
        });
        Ok(())
    }

    /// Queues our close frame (once) and starts the close handshake's
    /// clock; nothing but it is sent afterwards.
    fn send_close(&self, code: u16, reason: &str) {
        if self.we_closed.get() || self.done.get() {
            return;
        }
        let frame = Frame::close(Some(CloseFrame {
            code: code.into(),
            reason: reason.into(),
        }));
        let _ = self.enqueue(FrameBytes::Owned(encode(frame)), None, true);
        self.we_closed.set(true);
        self.closed_at.set(Some(Instant::now()));
    }

    /// Queues a pong (`frame`, encoded), replacing one not sent yet; counts
    /// it against the ping rate.
    fn queue_pong(&self, frame: &[u8]) -> Result<()> {
        let now = Instant::now();
        let (start, n) = self.ping_window.get();
        let (start, n) = if now.duration_since(start) >= Duration::from_secs(1) {
            (now, 1)
        } else {
            (start, n + 1)
        };
        self.ping_window.set((start, n));
        if n > self.config.max_pings_per_second {
            self.ping_flood.set(true);
            return Ok(());
        }
        if self.pong.replace(Some(frame.to_vec())).is_none() {
            // Counted as a control frame of no bytes: there is at most one.
            self.push(Out::Pong, 0, None, true)?;
        }
        Ok(())
    }

    /// Tears the connection down at once.
    fn disconnect(&self) {
        self.done.set(true);
        let _ = self.stream.shutdown(Shutdown::Both);
        self.out.shutdown(ShutdownMode::Immediate);
        self.incoming.shutdown(ShutdownMode::Drain);
        self.update(|s| {
            s.queued_messages = 0;
            s.queued_bytes = 0;
        });
        self.drained.set();
    }
}

/// The stream as `tungstenite` sees it: reads come from the socket (a
/// read timeout is reported as `WouldBlock`, a tick for keep-alive), and
/// writes (pongs, close replies) go to the send queue.
struct ReaderIo {
    link: Rc<Link>,
}

impl Read for ReaderIo {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.link.stream.recv(buf) {
            Ok(n) => {
                self.link.last_heard.set(Instant::now());
                Ok(n)
            }
            Err(e) if e.is_timeout() => Err(io::ErrorKind::WouldBlock.into()),
            Err(e) => Err(io::Error::other(e)),
        }
    }
}

impl Write for ReaderIo {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.link.we_closed.get() {
            return Ok(buf.len());
        }
        // One whole pong frame (FIN, opcode 0xA, an unmasked payload of
        // at most 125 bytes): coalesced with any pong not sent yet.
        let is_pong = buf.len() >= 2 && buf[0] == 0x8A && buf.len() == 2 + usize::from(buf[1]);
        let queued = if is_pong {
            self.link.queue_pong(buf)
        } else {
            self.link.enqueue(FrameBytes::Owned(buf.to_vec()), None, true)
        };
        queued
            .map(|()| buf.len())
            .map_err(|e| io::Error::new(io::ErrorKind::BrokenPipe, e))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One side of an upgraded connection, as the handler sees it. Clones
/// share the connection: one greenlet may [`recv`](Self::recv) while
/// others [`send`](Self::send).
#[derive(Clone)]
pub struct WebSocket {
    link: Rc<Link>,
    peer: Option<SocketAddr>,
    greenlets: Rc<RefCell<Vec<Greenlet<()>>>>,
}

impl fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocket")
            .field("peer", &self.peer)
            .field("closed", &self.is_closed())
            .field("stats", &self.stats())
            .finish()
    }
}

impl WebSocket {
    /// Starts the reader and writer greenlets on an upgraded stream
    /// (`pending`: bytes already read past the HTTP request).
    fn start(stream: TcpStream, pending: Vec<u8>, config: WsConfig) -> WebSocket {
        let tick = config
            .ping_interval
            .min(config.idle_timeout)
            .min(config.close_timeout)
            .max(Duration::from_millis(1));
        stream.set_read_timeout(Some(tick));
        stream.set_write_timeout(Some(config.write_timeout));
        let peer = stream.peer_addr().ok();
        let now = Instant::now();
        let link = Rc::new(Link {
            stream: Rc::new(stream),
            out: Queue::new(),
            incoming: Queue::bounded(config.recv_queue_messages.max(1)),
            config,
            stats: Cell::new(WsStats::default()),
            drained: Event::new(),
            we_closed: Cell::new(false),
            closed_at: Cell::new(None),
            done: Cell::new(false),
            last_heard: Cell::new(now),
            last_ping: Cell::new(now),
            incoming_bytes: Cell::new(0),
            taken: Event::new(),
            pong: RefCell::new(None),
            ping_window: Cell::new((now, 0)),
            ping_flood: Cell::new(false),
        });
        let ts_config = WebSocketConfig::default()
            .read_buffer_size(8 * 1024)
            .write_buffer_size(0)
            .max_message_size(Some(link.config.max_message_bytes))
            .max_frame_size(Some(link.config.max_message_bytes));
        let proto = tungstenite::WebSocket::from_partially_read(
            ReaderIo { link: link.clone() },
            pending,
            Role::Server,
            Some(ts_config),
        );
        let reader = {
            let link = link.clone();
            crate::spawn(move || read_loop(proto, &link))
        };
        let writer = {
            let link = link.clone();
            crate::spawn(move || write_loop(&link))
        };
        WebSocket {
            link,
            peer,
            greenlets: Rc::new(RefCell::new(vec![reader, writer])),
        }
    }

    /// Waits for the next message from the client. Fails with
    /// `Error::Closed` once the connection is closed (and every message
    /// received before was taken).
    pub fn recv(&self) -> Result<Message> {
        self.took(self.link.incoming.get())
    }

    /// [`recv`](Self::recv), giving up with `Error::Timeout` after
    /// `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Message> {
        self.took(self.link.incoming.get_timeout(timeout))
    }

    /// [`recv`](Self::recv), giving up with `Error::Timeout` at
    /// `deadline`.
    pub fn recv_deadline(&self, deadline: Instant) -> Result<Message> {
        self.took(self.link.incoming.get_deadline(deadline))
    }

    /// Accounts for a message the handler took: its bytes leave the
    /// receive queue, and a reader waiting for room may go on.
    fn took<E>(&self, got: std::result::Result<Message, E>) -> std::result::Result<Message, E> {
        if let Ok(msg) = &got {
            let link = &self.link;
            link.incoming_bytes
                .set(link.incoming_bytes.get().saturating_sub(message_len(msg)));
            link.taken.set();
        }
        got
    }

    /// The next message if one has arrived: [`TryRecvError::Empty`] if
    /// not, `Failed(Error::Closed(Closed::WebSocket))` once the connection
    /// is closed and every message received before was taken.
    pub fn try_recv(&self) -> std::result::Result<Message, TryRecvError> {
        self.took(self.link.incoming.try_get()).map_err(|e| match e {
            TryGetError::Empty => TryRecvError::Empty,
            TryGetError::ShutDown => TryRecvError::Failed(Error::Closed(Closed::WebSocket)),
        })
    }

    /// Queues `msg` for the client. Returns at once while the send queue
    /// has room; when it is full, waits up to
    /// [`WsConfig::send_timeout`] for the client to take some, and
    /// disconnects it if it did not. Fails with `Error::Closed` if the
    /// connection is closed (or was just closed for being too slow).
    pub fn send(&self, msg: Message) -> Result<()> {
        self.queue(msg, Some(self.link.config.send_timeout))
    }

    /// [`send`](Self::send) without waiting: a full send queue
    /// disconnects the client at once (for broadcasters that must never
    /// wait for one slow client). Not a `try_send`: it never hands the
    /// message back, it drops the client.
    pub fn send_or_disconnect(&self, msg: Message) -> Result<()> {
        self.queue(msg, None)
    }

    /// [`send`](Self::send) of a message encoded once for many clients.
    pub fn send_prepared(&self, msg: &PreparedMessage) -> Result<()> {
        self.queue_frame(
            FrameBytes::Shared(msg.frame.clone()),
            Some(self.link.config.send_timeout),
        )
    }

    /// [`send_or_disconnect`](Self::send_or_disconnect) of a message
    /// encoded once for many clients.
    pub fn send_prepared_or_disconnect(&self, msg: &PreparedMessage) -> Result<()> {
        self.queue_frame(FrameBytes::Shared(msg.frame.clone()), None)
    }

    fn queue(&self, msg: Message, wait: Option<Duration>) -> Result<()> {
        self.queue_frame(FrameBytes::Owned(encode(data_frame(msg))), wait)
    }

    fn queue_frame(&self, frame: FrameBytes, wait: Option<Duration>) -> Result<()> {
        if self.link.we_closed.get() {
            return Err(Error::Closed(Closed::WebSocketClosing));
        }
        self.link.enqueue(frame, wait, false)
    }

    /// Sends a text message.
    pub fn send_text(&self, text: impl Into<String>) -> Result<()> {
        self.send(Message::Text(text.into()))
    }

    /// Sends a binary message.
    pub fn send_binary(&self, data: impl Into<Vec<u8>>) -> Result<()> {
        self.send(Message::Binary(data.into()))
    }

    /// Starts the close handshake (code 1000) and waits, at most
    /// [`WsConfig::close_timeout`], for the client to answer; then the
    /// connection is closed either way.
    pub fn close(&self) -> Result<()> {
        self.close_with(1000, "")
    }

    /// [`close`](Self::close) with a status code and reason.
    pub fn close_with(&self, code: u16, reason: &str) -> Result<()> {
        let link = &self.link;
        link.send_close(code, reason);
        let reader = self.greenlets.borrow().first().cloned();
        if let Some(r) = reader {
            if r.join_timeout(link.config.close_timeout).is_err() {
                link.disconnect();
            }
        }
        Ok(())
    }

    /// True once the connection is closed (by either side, or for being
    /// too slow).
    pub fn is_closed(&self) -> bool {
        self.link.done.get()
    }

    /// The client's address.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// The connection's counters.
    pub fn stats(&self) -> WsStats {
        self.link.stats.get()
    }

    /// Waits (at most `timeout`) until the connection is closed.
    fn finish(&self, timeout: Duration) {
        let gs = self.greenlets.borrow().clone();
        let _ = crate::joinall_with(
            gs.iter().map(Greenlet::any),
            crate::JoinAll::new().timeout(timeout),
        );
    }
}

/// Kills what is left of a connection when its handler is done.
struct Teardown(WebSocket);

impl Drop for Teardown {
    fn drop(&mut self) {
        self.0.link.disconnect();
        for g in self.0.greenlets.borrow().iter() {
            g.kill_nowait();
        }
    }
}

fn encode(frame: Frame) -> Vec<u8> {
    let mut out = Vec::with_capacity(frame.len());
    frame
        .format(&mut out)
        .expect("writing a frame to a Vec cannot fail");
    out
}

fn read_loop(mut proto: tungstenite::WebSocket<ReaderIo>, link: &Rc<Link>) {
    use tungstenite::Message as M;
    loop {
        let read = proto.read();
        if link.ping_flood.get() {
            link.send_close(1008, "too many pings");
            break;
        }
        let msg = match read {
            Ok(M::Text(t)) => Message::Text(t.as_str().to_string()),
            Ok(M::Binary(b)) => Message::Binary(b.to_vec()),
            Ok(_) => continue,
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                if keep_alive(link).is_err() {
                    link.disconnect();
                    return;
                }
                continue;
            }
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => break,
            Err(e) => {
                tracing::debug!("zgreen websocket: {:?}: {e}", link.stream.peer_addr().ok());
                // RFC 6455 §7.4: a protocol error (1002), text that is not
                // UTF-8 (1007) or a message too big (1009) is answered
                // with a close frame before the connection closes; a
                // broken socket gets none.
                let code = match e {
                    tungstenite::Error::Protocol(_) => Some(1002),
                    tungstenite::Error::Utf8(_) => Some(1007),
                    tungstenite::Error::Capacity(_) => Some(1009),
                    _ => None,
                };
                if let Some(code) = code {
                    link.send_close(code, "");
                }
                break;
            }
        };
        let len = message_len(&msg);
        if !wait_for_room(link, len) {
            link.send_close(1008, "messages not read");
            break;
        }
        link.incoming_bytes.set(link.incoming_bytes.get() + len);
        if link.incoming.try_put(msg).is_err() {
            break;
        }
    }
    // Orderly end: the writer sends what is queued (a close frame), then
    // shuts the socket down.
    link.incoming.shutdown(ShutdownMode::Drain);
    let _ = link.out.try_put(Out::Shutdown);
}

fn message_len(msg: &Message) -> usize {
    match msg {
        Message::Text(t) => t.len(),
        Message::Binary(b) => b.len(),
    }
}

/// Backpressure: waits, without reading the socket, until the receive
/// queue has room for `len` more bytes (an empty queue always has).
/// False if the handler took nothing for the idle timeout, or the
/// connection went away meanwhile.
fn wait_for_room(link: &Link, len: usize) -> bool {
    let cfg = &link.config;
    let full = || {
        let bytes = link.incoming_bytes.get();
        link.incoming.len() >= cfg.recv_queue_messages.max(1)
            || (bytes > 0 && bytes + len > cfg.recv_queue_bytes)
    };
    let since = Instant::now();
    while full() {
        if link.done.get() || since.elapsed() >= cfg.idle_timeout {
            return false;
        }
        link.taken.clear();
        let left = cfg.idle_timeout.saturating_sub(since.elapsed());
        match link.taken.wait_timeout(left) {
            Ok(()) | Err(Error::Timeout(_)) => {}
            Err(_) => return false,
        }
    }
    !link.done.get()
}

/// On each read tick: pings a quiet client, drops one silent for too
/// long, and gives up on a close handshake the client does not finish.
fn keep_alive(link: &Link) -> Result<()> {
    let cfg = &link.config;
    if link
        .closed_at
        .get()
        .is_some_and(|t| t.elapsed() >= cfg.close_timeout)
    {
        return Err(Error::Closed(Closed::CloseHandshakeTimedOut));
    }
    let quiet = link.last_heard.get().elapsed();
    if quiet >= cfg.idle_timeout {
        return Err(Error::Closed(Closed::PeerSilent));
    }
    if quiet >= cfg.ping_interval
        && link.last_ping.get().elapsed() >= cfg.ping_interval
        && !link.we_closed.get()
    {
        link.last_ping.set(Instant::now());
        link.enqueue(FrameBytes::Owned(encode(Frame::ping(Vec::new()))), None, true)?;
        link.update(|s| s.pings_sent += 1);
    }
    Ok(())
}

/// A send-queue entry's frame and the bytes [`Link::push`] counted for it
/// (a pong counts none); `None` for [`Out::Shutdown`].
fn entry_frame(link: &Link, item: Out) -> Option<(FrameBytes, usize)> {
    match item {
        Out::Frame(f) => {
            let n = f.as_slice().len();
            Some((f, n))
        }
        // Each `Out::Pong` has its pong in `link.pong` (queued together).
        Out::Pong => Some((FrameBytes::Owned(link.pong.take().unwrap_or_default()), 0)),
        Out::Shutdown => None,
    }
}

fn write_loop(link: &Link) {
    // Frames queued behind the first are joined into one write.
    let mut batch: Vec<u8> = Vec::new();
    let mut shutdown = false;
    while !shutdown {
        let Ok(item) = link.out.get() else {
            break;
        };
        let Some((first, mut counted)) = entry_frame(link, item) else {
            break;
        };
        let mut count = 1;
        let mut joined = false;
        while batch.len().max(first.as_slice().len()) < WRITE_BATCH {
            let Ok(item) = link.out.try_get() else {
                break;
            };
            let Some((next, n)) = entry_frame(link, item) else {
                shutdown = true;
                break;
            };
            if batch.is_empty() {
                batch.extend_from_slice(first.as_slice());
            }
            batch.extend_from_slice(next.as_slice());
            counted += n;
            count += 1;
            joined = true;
        }
        let bytes = if joined { &batch[..] } else { first.as_slice() };
        let sent = link.stream.send_all(bytes);
        link.update(|s| {
            s.queued_messages = s.queued_messages.saturating_sub(count);
            s.queued_bytes = s.queued_bytes.saturating_sub(counted);
            s.frames_written += count as u64;
        });
        if link.out.is_empty() {
            // An idle connection keeps no batch buffer.
            batch = Vec::new();
        } else {
            batch.clear();
        }
        link.drained.set();
        if let Err(e) = sent {
            tracing::debug!("zgreen websocket: write failed: {e}");
            link.disconnect();
            return;
        }
    }
    link.done.set(true);
    let _ = link.stream.shutdown(Shutdown::Both);
    link.incoming.shutdown(ShutdownMode::Drain);
}

/// Answers a WebSocket handshake request and runs `handler` on the
/// upgraded connection, with the default [`WsConfig`]. A request that is
/// not a valid handshake gets `400` (or `426` for another protocol
/// version) and `handler` does not run.
///
/// When `handler` returns, an open connection is closed with the close
/// handshake.
///
/// ```no_run
/// use zgreen::http::{HttpServer, Request, Router, WebSocket, upgrade};
///
/// let router = Router::new().get("/echo", |req: &Request| {
///     upgrade(req, |ws: WebSocket| {
///         while let Ok(msg) = ws.recv() {
///             if ws.send(msg).is_err() {
///                 break;
///             }
///         }
///     })
/// });
/// HttpServer::bind("127.0.0.1:10000", router).unwrap().serve_forever().unwrap();
/// ```
pub fn upgrade(req: &Request, handler: impl FnOnce(WebSocket) + 'static) -> Response {
    upgrade_with(req, WsConfig::default(), handler)
}

/// Whether `key` is the base64 encoding of 16 bytes (RFC 6455 §4.2.1):
/// 22 base64 characters, the last of which leaves no stray bits, and
/// `==`.
fn valid_websocket_key(key: &str) -> bool {
    let b = key.as_bytes();
    let base64 = |c: &u8| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/';
    b.len() == 24 && b.ends_with(b"==") && b[..22].iter().all(base64) && b"AQgw".contains(&b[21])
}

/// [`upgrade`] with explicit settings.
pub fn upgrade_with(req: &Request, config: WsConfig, handler: impl FnOnce(WebSocket) + 'static) -> Response {
    let bad = |why: &str| Response::error(400).with_body(format!("400 Bad Request: {why}\n"));
    if req.method() != "GET" || req.version() != "HTTP/1.1" {
        return bad("a WebSocket handshake is an HTTP/1.1 GET");
    }
    if !req.header("upgrade").is_some_and(|u| has_token(u, "websocket"))
        || !req.header("connection").is_some_and(|c| has_token(c, "upgrade"))
    {
        return bad("missing Upgrade: websocket / Connection: Upgrade");
    }
    let Some(key) = req.header("sec-websocket-key").map(str::trim) else {
        return bad("missing Sec-WebSocket-Key");
    };
    if !valid_websocket_key(key) {
        return bad("Sec-WebSocket-Key is not the base64 of 16 bytes");
    }
    if req.header("sec-websocket-version").map(str::trim) != Some("13") {
        return Response::error(426).with_header("Sec-WebSocket-Version", "13");
    }
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let close_timeout = config.close_timeout;
    Response::upgrade(move |stream, pending| {
        let ws = WebSocket::start(stream, pending, config);
        let teardown = Teardown(ws.clone());
        handler(ws.clone());
        if !ws.is_closed() {
            let _ = ws.close();
        }
        ws.finish(close_timeout);
        drop(teardown);
    })
    .with_header("Upgrade", "websocket")
    .with_header("Connection", "Upgrade")
    .with_header("Sec-WebSocket-Accept", &accept)
}
