//! zchat: the seed's "Micro gevent chatroom" on zgreen.
//!
//! Rooms, users, a backlog of the last messages of each room, and the
//! seed's three calls: *join* (`GET /ROOM/UID`: the room page, with the
//! backlog), *put* (`POST /put/ROOM/UID`, form field `message`) and
//! *poll* (`POST /poll/UID`: waits up to the poll timeout for the user's
//! next messages; `[]` if none came). The page talks to the server either
//! by long polling or over a WebSocket (`GET /ws/ROOM/UID`), chosen with
//! `?transport=poll|ws`.
//!
//! Several zchat processes share their rooms through a ZeroMQ pub/sub
//! backbone: each one publishes the messages its users put to an XSUB/XPUB
//! forwarder (`zbroker forwarder`, or `zchat forwarder`) and subscribes to
//! everything the forwarder relays, so users on different servers see each
//! other's messages. Each server delivers its own users' messages locally
//! at once and ignores their echo from the backbone, so a server whose
//! forwarder is down still works for its own users.
//!
//! # Identity
//!
//! Joining a room (`GET /ROOM/UID`) starts a *session* for the user name:
//! the server draws a random 128-bit [`Token`] (from the operating
//! system, through `getrandom`), binds it to the name and sends it as an
//! `HttpOnly`, `SameSite=Strict` cookie named `zchat_UID` (and in the
//! [`TOKEN_HEADER`] response header, for API clients). Put, poll and the
//! WebSocket require that token, in the cookie or in the `X-Zchat-Token`
//! request header: without it, or with another, they answer `403`. While
//! a name's session lives, joining again under that name without its
//! token is refused with `409`; once the user has been forgotten (see
//! [`Config::user_expiry`]) the name is free again. Tokens are compared in
//! constant time.
//!
//! A WebSocket upgrade is checked first: its `Origin` must be allowed by
//! [`Config::ws_origins`] (by default only the server's own origin, the
//! request's `Host`), then its token, then the handshake itself; only
//! then does the user enter the room. A refused upgrade changes nothing.
//!
//! # Limits
//!
//! Room names come from the configuration; user names are 1-32 of
//! `[A-Za-z0-9_-]`. Every size is counted in bytes: a message's text is
//! at most [`Config::max_message_bytes`]; each message is stored once and
//! shared (by reference count) by the room's history and by every member's
//! queue. Each user's queue holds at most [`Config::user_queue`] messages
//! and [`Config::user_queue_bytes`] bytes (the oldest are dropped when it
//! is full); a room's history keeps at most [`Config::backlog`] messages
//! and [`Config::history_bytes`] bytes; at most [`Config::max_users`] users
//! live on a server at once (a join beyond gets `503`). Messages from the
//! backbone pass the same checks as local ones; those that fail are
//! dropped and counted ([`Stats::rejected`], [`Stats::malformed`]). Every
//! WebSocket has the bounded queues of [`zgreen::http::WsConfig`]. A user
//! who has neither polled, put nor held a WebSocket open for
//! [`Config::user_expiry`] is forgotten: their queue is freed and they
//! leave every room (joining again brings them back), so a long-running
//! server does not keep every visitor it ever had.
#![deny(missing_docs, missing_debug_implementations, rust_2018_idioms)]

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use zgreen::Greenlet;
use zgreen::http::{Request, Response, Router, WebSocket, WsConfig, upgrade_with};
use zgreen::queue::Queue;
use zgreen::zmq::{Context, Socket};

/// The settings of one zchat server.
#[derive(Clone, Debug)]
pub struct Config {
    /// This server's name on the backbone (unique per process; see
    /// [`valid_server_id`]).
    pub server_id: String,
    /// The rooms (the seed has `topic1` and `topic2`).
    pub rooms: Vec<String>,
    /// Messages kept per room for users who join later.
    pub backlog: usize,
    /// Bytes of messages kept per room (see [`ChatMessage::size`]).
    pub history_bytes: usize,
    /// Undelivered messages kept per user.
    pub user_queue: usize,
    /// Bytes of undelivered messages kept per user (see
    /// [`ChatMessage::size`]; a message shared by many queues counts in
    /// each, though it is stored once).
    pub user_queue_bytes: usize,
    /// Most users living on this server at once.
    pub max_users: usize,
    /// How long a poll waits for a message.
    pub poll_timeout: Duration,
    /// Longest message text accepted (after trimming), in bytes of UTF-8.
    pub max_message_bytes: usize,
    /// The origins a WebSocket upgrade may come from: full origins such as
    /// `https://chat.example.com`, `self` for the server's own origin (the
    /// `Origin`'s host and port equal the request's `Host`), or `*` for
    /// any. A request without `Origin` (not a browser's) is allowed.
    pub ws_origins: Vec<String>,
    /// Settings of the WebSocket transport.
    pub ws: WsConfig,
    /// A user idle this long (no poll, put or open WebSocket) is forgotten.
    pub user_expiry: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            server_id: format!("zchat-{}", std::process::id()),
            rooms: vec!["topic1".into(), "topic2".into()],
            backlog: 25,
            history_bytes: 128 * 1024,
            user_queue: 100,
            user_queue_bytes: 256 * 1024,
            max_users: 10_000,
            poll_timeout: Duration::from_secs(10),
            max_message_bytes: 4000,
            ws_origins: vec!["self".into()],
            ws: WsConfig {
                max_message_bytes: 64 * 1024,
                ..WsConfig::default()
            },
            user_expiry: Duration::from_secs(600),
        }
    }
}

/// One chat message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// The room it was put in.
    pub room: String,
    /// Who put it.
    pub uid: String,
    /// What they said.
    pub text: String,
    /// The server it was put on.
    pub server: String,
    /// Its number on that server (`server` and `seq` identify it).
    pub seq: u64,
}

impl ChatMessage {
    /// What the message counts for in the byte limits: its strings'
    /// bytes, plus the struct and its reference counts.
    pub fn size(&self) -> usize {
        self.room.len()
            + self.uid.len()
            + self.text.len()
            + self.server.len()
            + std::mem::size_of::<ChatMessage>()
            + 2 * std::mem::size_of::<usize>()
    }
}

/// Why a call was refused: an HTTP status and a reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused(pub u16, pub &'static str);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.0, self.1)
    }
}

impl From<Refused> for Response {
    fn from(r: Refused) -> Response {
        Response::error(r.0).with_body(format!("{}\n", r.1))
    }
}

const NO_SESSION: Refused = Refused(
    403,
    "no valid session token for this name (cookie zchat_UID or header X-Zchat-Token): join a room first",
);
const NAME_TAKEN: Refused = Refused(
    409,
    "this name is in use: join with its session token (cookie zchat_UID or header X-Zchat-Token)",
);
const TOO_MANY_USERS: Refused = Refused(503, "too many users on this server: try again later");
const BAD_ORIGIN: Refused = Refused(403, "WebSocket from an origin that is not allowed");
const BAD_UID: Refused = Refused(400, "a user name is 1-32 letters, digits, _ or -");
const NO_ROOM: Refused = Refused(404, "no such room");

/// The request header an API client sends its session token in (the
/// join's response carries it too).
pub const TOKEN_HEADER: &str = "X-Zchat-Token";

/// The cookie that holds `uid`'s session token: `zchat_UID`.
pub fn cookie_name(uid: &str) -> String {
    format!("zchat_{uid}")
}

/// A session token: 128 bits from the operating system's random number
/// generator, written as 32 lowercase hex digits.
///
/// Its `Debug` does not show it; compare with [`Token::matches`], in
/// constant time.
#[derive(Clone, Copy)]
pub struct Token([u8; 16]);

impl Token {
    /// A fresh random token.
    pub fn random() -> Token {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).expect("the operating system's random number generator");
        Token(bytes)
    }

    /// The token written as `s` (32 hex digits), if it is one.
    pub fn parse(s: &str) -> Option<Token> {
        let s = s.trim().as_bytes();
        if s.len() != 32 {
            return None;
        }
        let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
        let mut bytes = [0u8; 16];
        for (b, pair) in bytes.iter_mut().zip(s.chunks(2)) {
            *b = digit(pair[0])? << 4 | digit(pair[1])?;
        }
        Some(Token(bytes))
    }

    /// Whether `other` is the same token, in time that does not depend on
    /// where they differ: the XOR of each pair of bytes is OR-folded into
    /// one byte, with no early exit, and only that byte is tested.
    pub fn matches(&self, other: &Token) -> bool {
        let diff = self
            .0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        std::hint::black_box(diff) == 0
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(..)")
    }
}

/// The session token a request presents for `uid`: its
/// [`TOKEN_HEADER`] header, else its [`cookie_name`] cookie.
pub fn request_token(req: &Request, uid: &str) -> Option<String> {
    if let Some(t) = req.header(TOKEN_HEADER) {
        return Some(t.trim().to_string());
    }
    let name = cookie_name(uid);
    req.headers()
        .filter(|(k, _)| k.eq_ignore_ascii_case("cookie"))
        .flat_map(|(_, v)| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k.trim() == name).then(|| v.trim().trim_matches('"').to_string())
        })
}

/// The `Set-Cookie` value that gives a browser `uid`'s session token.
fn session_cookie(uid: &str, token: &Token) -> String {
    format!("{}={token}; Path=/; HttpOnly; SameSite=Strict", cookie_name(uid))
}

/// Whether a WebSocket upgrade whose `Origin` is `origin`, sent to `Host`
/// `host`, is allowed by `allowed` (see [`Config::ws_origins`]).
///
/// ```
/// use zgreen_chat::origin_allowed;
///
/// let me = ["self".to_string()];
/// assert!(origin_allowed(Some("http://chat:5000"), Some("chat:5000"), &me));
/// assert!(!origin_allowed(Some("http://evil.example"), Some("chat:5000"), &me));
/// assert!(!origin_allowed(Some("null"), Some("chat:5000"), &me));
/// assert!(origin_allowed(None, Some("chat:5000"), &me)); // not a browser
/// let listed = ["https://chat.example.com".to_string()];
/// assert!(origin_allowed(Some("https://chat.example.com"), Some("x"), &listed));
/// assert!(!origin_allowed(Some("http://x"), Some("x"), &listed));
/// ```
pub fn origin_allowed(origin: Option<&str>, host: Option<&str>, allowed: &[String]) -> bool {
    let Some(origin) = origin.map(str::trim) else {
        return true;
    };
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    allowed.iter().any(|a| match a.trim() {
        "*" => true,
        "self" => matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h.trim())),
        a => a.trim_end_matches('/').eq_ignore_ascii_case(origin),
    })
}

#[derive(Default)]
struct Room {
    users: BTreeSet<String>,
    messages: VecDeque<Rc<ChatMessage>>,
    bytes: usize,
}

/// Counters of one server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Messages put by this server's users.
    pub put: u64,
    /// Messages received from other servers over the backbone.
    pub remote: u64,
    /// Messages dropped because a user's queue was full.
    pub dropped: u64,
    /// Backbone messages that could not be parsed, ignored.
    pub malformed: u64,
    /// Backbone messages that failed the checks local ones pass (size,
    /// room, names), and heartbeats of bad or too many peers: ignored.
    pub rejected: u64,
    /// Joins refused because [`Config::max_users`] users live here.
    pub refused_users: u64,
    /// Users forgotten after [`Config::user_expiry`] without activity.
    pub expired: u64,
}

/// One user on this server.
struct User {
    token: Token,
    queue: Queue<Rc<ChatMessage>>,
    /// The bytes of the messages in `queue` (by [`ChatMessage::size`]).
    queued_bytes: Cell<usize>,
    last_seen: Cell<Instant>,
    /// Polls in progress and open WebSockets: an active user never expires.
    active: Cell<u32>,
}

impl User {
    /// Queues `msg`, first dropping the oldest messages while the queue is
    /// over `max_messages` or `max_bytes`; returns how many it dropped.
    fn push(&self, msg: &Rc<ChatMessage>, max_messages: usize, max_bytes: usize) -> u64 {
        let size = msg.size();
        let mut dropped = 0;
        while !self.queue.is_empty()
            && (self.queue.len() >= max_messages || self.queued_bytes.get() + size > max_bytes)
        {
            if let Ok(old) = self.queue.try_get() {
                self.took(&old);
                dropped += 1;
            }
        }
        if self.queue.try_put(msg.clone()).is_ok() {
            self.queued_bytes.set(self.queued_bytes.get() + size);
        }
        dropped
    }

    /// Accounts for `msg` taken from the queue.
    fn took(&self, msg: &ChatMessage) {
        self.queued_bytes
            .set(self.queued_bytes.get().saturating_sub(msg.size()));
    }

    /// Waits for the next message (as long as the queue lives).
    fn next(&self) -> zgreen::Result<Rc<ChatMessage>> {
        let msg = self.queue.get()?;
        self.took(&msg);
        Ok(msg)
    }
}

/// Marks a user active until dropped.
struct Active(Rc<User>);

impl Active {
    fn new(user: Rc<User>) -> Active {
        user.active.set(user.active.get() + 1);
        user.last_seen.set(Instant::now());
        Active(user)
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.0.active.set(self.0.active.get() - 1);
        self.0.last_seen.set(Instant::now());
    }
}

struct Inner {
    config: Config,
    rooms: RefCell<BTreeMap<String, Room>>,
    users: RefCell<HashMap<String, Rc<User>>>,
    last_sweep: Cell<Instant>,
    seq: Cell<u64>,
    publisher: RefCell<Option<Socket>>,
    peers: RefCell<BTreeMap<String, Instant>>,
    stats: Cell<Stats>,
}

/// The chat's state on one server: a cheap clonable handle.
///
/// ```
/// use zgreen_chat::{Chat, Config};
///
/// let chat = Chat::new(Config::default());
/// let joined = chat.join("topic1", "alice", None).unwrap();
/// let token = joined.token.to_string();
/// chat.put("topic1", "alice", Some(&token), "hello").unwrap();
/// assert_eq!(chat.put("topic1", "alice", None, "hi").unwrap_err().0, 403);
/// let got = chat.poll("alice", Some(&token), std::time::Duration::ZERO).unwrap();
/// assert_eq!(got[0].text, "hello");
/// assert_eq!(chat.backlog("topic1").unwrap().len(), 1);
/// // The name is taken while its session lives.
/// assert_eq!(chat.join("topic2", "alice", None).unwrap_err().0, 409);
/// chat.join("topic2", "alice", Some(&token)).unwrap();
/// ```
#[derive(Clone)]
pub struct Chat {
    inner: Rc<Inner>,
}

impl fmt::Debug for Chat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chat")
            .field("server", &self.inner.config.server_id)
            .field("users", &self.inner.users.borrow().len())
            .field("stats", &self.stats())
            .finish()
    }
}

/// What a join gives: the room's backlog and the user's session token.
#[derive(Debug)]
pub struct Joined {
    /// The room's last messages.
    pub backlog: Vec<ChatMessage>,
    /// The session token bound to the user name.
    pub token: Token,
}

/// True for a user name: 1-32 of `[A-Za-z0-9_-]`.
pub fn valid_uid(uid: &str) -> bool {
    (1..=32).contains(&uid.len())
        && uid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// True for a server name: 1-64 printable ASCII characters, no spaces.
pub fn valid_server_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
}

/// How often a server announces itself on the backbone.
pub const HEARTBEAT: Duration = Duration::from_millis(500);

/// A peer unheard of for this long is no longer listed.
pub const PEER_EXPIRY: Duration = Duration::from_secs(3);

/// Most peers listed at once (heartbeats of more are ignored).
pub const MAX_PEERS: usize = 256;

impl Chat {
    /// A server with `config`'s rooms and no backbone (yet).
    pub fn new(config: Config) -> Chat {
        let rooms = config
            .rooms
            .iter()
            .map(|r| (r.clone(), Room::default()))
            .collect();
        Chat {
            inner: Rc::new(Inner {
                config,
                rooms: RefCell::new(rooms),
                users: RefCell::new(HashMap::new()),
                last_sweep: Cell::new(Instant::now()),
                seq: Cell::new(0),
                publisher: RefCell::new(None),
                peers: RefCell::new(BTreeMap::new()),
                stats: Cell::new(Stats::default()),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.inner.stats.get()
    }

    fn count(&self, f: impl FnOnce(&mut Stats)) {
        let mut s = self.inner.stats.get();
        f(&mut s);
        self.inner.stats.set(s);
    }

    /// Joins the backbone: publishes to the forwarder's frontend
    /// (`pub_endpoint`, its XSUB side) and subscribes to its backend
    /// (`sub_endpoint`, its XPUB side). Runs a receiver and a heartbeat
    /// greenlet for as long as the process lives.
    pub fn connect_backbone(
        &self,
        ctx: &Context,
        pub_endpoint: &str,
        sub_endpoint: &str,
    ) -> zgreen::Result<()> {
        let publisher = ctx.socket(zmq::PUB)?;
        publisher.raw().set_sndhwm(10_000)?;
        publisher.connect(pub_endpoint)?;
        let subscriber = ctx.socket(zmq::SUB)?;
        subscriber.subscribe("")?;
        subscriber.connect(sub_endpoint)?;
        *self.inner.publisher.borrow_mut() = Some(publisher);

        let chat = self.clone();
        zgreen::spawn(move || {
            while let Ok(frames) = subscriber.recv_multipart(0) {
                chat.on_backbone(&frames);
            }
        });
        let chat = self.clone();
        zgreen::spawn(move || {
            loop {
                chat.publish(&[b"hb", chat.inner.config.server_id.as_bytes()]);
                if zgreen::sleep(HEARTBEAT).is_err() {
                    return;
                }
            }
        });
        Ok(())
    }

    fn publish(&self, frames: &[&[u8]]) {
        if let Some(p) = self.inner.publisher.borrow().as_ref() {
            // PUB never blocks: past its high-water mark it drops.
            if let Err(e) = p.send_multipart(frames.iter().copied(), zmq::DONTWAIT) {
                tracing::debug!("zchat: cannot publish: {e}");
            }
        }
    }

    /// The longest backbone message body worth parsing: a message of
    /// [`Config::max_message_bytes`] whose every byte JSON escapes as
    /// `\u00XX`, and room for the other fields.
    fn max_backbone_body(&self) -> usize {
        self.inner.config.max_message_bytes.saturating_mul(6) + 1024
    }

    fn on_backbone(&self, frames: &[Vec<u8>]) {
        let me = self.inner.config.server_id.as_bytes();
        match frames {
            [kind, id] if kind == b"hb" => {
                if id != me {
                    self.heard(id);
                }
            }
            [kind, body] if kind == b"msg" => {
                if body.len() > self.max_backbone_body() {
                    self.count(|s| s.rejected += 1);
                    return;
                }
                match serde_json::from_slice::<ChatMessage>(body) {
                    Ok(msg) if msg.server.as_bytes() != me => {
                        if self.valid_remote(&msg) {
                            self.count(|s| s.remote += 1);
                            self.deliver(Rc::new(msg));
                        } else {
                            self.count(|s| s.rejected += 1);
                        }
                    }
                    Ok(_) => {} // our own, already delivered
                    Err(_) => self.count(|s| s.malformed += 1),
                }
            }
            _ => self.count(|s| s.malformed += 1),
        }
    }

    /// Notes a heartbeat of peer `id` (if it is a valid name, and either
    /// known or there is room for it).
    fn heard(&self, id: &[u8]) {
        let Some(id) = std::str::from_utf8(id).ok().filter(|id| valid_server_id(id)) else {
            self.count(|s| s.rejected += 1);
            return;
        };
        let mut peers = self.inner.peers.borrow_mut();
        if !peers.contains_key(id) && peers.len() >= MAX_PEERS {
            peers.retain(|_, seen| seen.elapsed() < PEER_EXPIRY);
            if peers.len() >= MAX_PEERS {
                drop(peers);
                self.count(|s| s.rejected += 1);
                return;
            }
        }
        peers.insert(id.to_string(), Instant::now());
    }

    /// Whether a message from another server passes the checks of a
    /// local put: a room of ours, valid names, a text of at most
    /// [`Config::max_message_bytes`], nonempty and trimmed.
    fn valid_remote(&self, msg: &ChatMessage) -> bool {
        self.inner.rooms.borrow().contains_key(&msg.room)
            && valid_uid(&msg.uid)
            && valid_server_id(&msg.server)
            && self.check_text(&msg.text) == Ok(msg.text.as_str())
    }

    /// `text` trimmed, if it is a message: not empty, and at most
    /// [`Config::max_message_bytes`].
    fn check_text<'t>(&self, text: &'t str) -> Result<&'t str, Refused> {
        let text = text.trim();
        if text.is_empty() {
            return Err(Refused(400, "empty message"));
        }
        if text.len() > self.inner.config.max_message_bytes {
            return Err(Refused(413, "message too long"));
        }
        Ok(text)
    }

    /// The other servers heard from lately.
    pub fn peers(&self) -> Vec<String> {
        let mut peers = self.inner.peers.borrow_mut();
        peers.retain(|_, seen| seen.elapsed() < PEER_EXPIRY);
        peers.keys().cloned().collect()
    }

    /// Adds `uid` to `room` and returns the room's backlog and `uid`'s
    /// session token. The first join of a name starts its session (a new
    /// token); while that session lives, a join must present its `token`
    /// (`409` otherwise). A new user beyond [`Config::max_users`] gets
    /// `503`.
    pub fn join(&self, room: &str, uid: &str, token: Option<&str>) -> Result<Joined, Refused> {
        if !valid_uid(uid) {
            return Err(BAD_UID);
        }
        if !self.inner.rooms.borrow().contains_key(room) {
            return Err(NO_ROOM);
        }
        self.expire_idle_users();
        let existing = self.inner.users.borrow().get(uid).cloned();
        let user = match existing {
            Some(user) => {
                if !token
                    .and_then(Token::parse)
                    .is_some_and(|t| user.token.matches(&t))
                {
                    return Err(NAME_TAKEN);
                }
                user
            }
            None => {
                if self.inner.users.borrow().len() >= self.inner.config.max_users {
                    self.sweep();
                    if self.inner.users.borrow().len() >= self.inner.config.max_users {
                        self.count(|s| s.refused_users += 1);
                        return Err(TOO_MANY_USERS);
                    }
                }
                let user = Rc::new(User {
                    token: Token::random(),
                    queue: Queue::new(),
                    queued_bytes: Cell::new(0),
                    last_seen: Cell::new(Instant::now()),
                    active: Cell::new(0),
                });
                self.inner
                    .users
                    .borrow_mut()
                    .insert(uid.to_string(), user.clone());
                user
            }
        };
        user.last_seen.set(Instant::now());
        let backlog = self.enter(room, uid)?;
        Ok(Joined {
            backlog,
            token: user.token,
        })
    }

    /// Adds the (authorized) `uid` to `room`; returns its backlog.
    fn enter(&self, room: &str, uid: &str) -> Result<Vec<ChatMessage>, Refused> {
        let mut rooms = self.inner.rooms.borrow_mut();
        let r = rooms.get_mut(room).ok_or(NO_ROOM)?;
        r.users.insert(uid.to_string());
        Ok(r.messages.iter().map(|m| ChatMessage::clone(m)).collect())
    }

    /// The user whose session `token` is, if `uid` has that session.
    fn authorize(&self, uid: &str, token: Option<&str>) -> Result<Rc<User>, Refused> {
        let user = self.inner.users.borrow().get(uid).cloned();
        match (user, token.and_then(Token::parse)) {
            (Some(user), Some(t)) if user.token.matches(&t) => Ok(user),
            _ => Err(NO_SESSION),
        }
    }

    /// Forgets the users idle for longer than [`Config::user_expiry`]
    /// (at most one sweep per quarter of it; joins call it).
    pub fn expire_idle_users(&self) {
        if self.inner.last_sweep.get().elapsed() < self.inner.config.user_expiry / 4 {
            return;
        }
        self.sweep();
    }

    /// Forgets the users idle for longer than [`Config::user_expiry`].
    fn sweep(&self) {
        let expiry = self.inner.config.user_expiry;
        self.inner.last_sweep.set(Instant::now());
        let mut gone = Vec::new();
        self.inner.users.borrow_mut().retain(|uid, user| {
            let keep = user.active.get() > 0 || user.last_seen.get().elapsed() < expiry;
            if !keep {
                gone.push(uid.clone());
            }
            keep
        });
        if gone.is_empty() {
            return;
        }
        for room in self.inner.rooms.borrow_mut().values_mut() {
            for uid in &gone {
                room.users.remove(uid);
            }
        }
        tracing::debug!("zchat: forgot {} idle users", gone.len());
        self.count(|s| s.expired += gone.len() as u64);
    }

    /// The last messages of `room`.
    pub fn backlog(&self, room: &str) -> Result<Vec<ChatMessage>, Refused> {
        let rooms = self.inner.rooms.borrow();
        let r = rooms.get(room).ok_or(NO_ROOM)?;
        Ok(r.messages.iter().map(|m| ChatMessage::clone(m)).collect())
    }

    /// `uid` says `text` in `room` (which they must have joined), with
    /// their session `token`.
    pub fn put(
        &self,
        room: &str,
        uid: &str,
        token: Option<&str>,
        text: &str,
    ) -> Result<ChatMessage, Refused> {
        let user = self.authorize(uid, token)?;
        self.put_as(&user, room, uid, text)
    }

    /// [`put`](Self::put) for an authorized user.
    fn put_as(&self, user: &User, room: &str, uid: &str, text: &str) -> Result<ChatMessage, Refused> {
        let text = self.check_text(text)?;
        let joined = self
            .inner
            .rooms
            .borrow()
            .get(room)
            .ok_or(NO_ROOM)?
            .users
            .contains(uid);
        if !joined {
            return Err(Refused(403, "join the room first"));
        }
        user.last_seen.set(Instant::now());
        let seq = self.inner.seq.get() + 1;
        self.inner.seq.set(seq);
        let msg = ChatMessage {
            room: room.to_string(),
            uid: uid.to_string(),
            text: text.to_string(),
            server: self.inner.config.server_id.clone(),
            seq,
        };
        self.count(|s| s.put += 1);
        let body = serde_json::to_vec(&msg).expect("a ChatMessage serializes");
        self.publish(&[b"msg", &body]);
        self.deliver(Rc::new(msg.clone()));
        Ok(msg)
    }

    /// Adds `msg` to its room's history and to the queue of each of the
    /// room's users on this server: one message, shared by all.
    fn deliver(&self, msg: Rc<ChatMessage>) {
        let config = &self.inner.config;
        let mut rooms = self.inner.rooms.borrow_mut();
        let Some(room) = rooms.get_mut(&msg.room) else {
            return;
        };
        let users = self.inner.users.borrow();
        let mut dropped = 0;
        for uid in &room.users {
            if let Some(user) = users.get(uid) {
                dropped += user.push(&msg, config.user_queue.max(1), config.user_queue_bytes);
            }
        }
        if dropped > 0 {
            self.count(|s| s.dropped += dropped);
        }
        room.bytes += msg.size();
        room.messages.push_back(msg);
        while room.messages.len() > config.backlog || room.bytes > config.history_bytes {
            match room.messages.pop_front() {
                Some(old) => room.bytes -= old.size(),
                None => break,
            }
        }
    }

    /// Waits up to `timeout` for `uid`'s next message, then takes every
    /// other one already queued; `[]` if none came. Needs `uid`'s session
    /// `token`.
    pub fn poll(
        &self,
        uid: &str,
        token: Option<&str>,
        timeout: Duration,
    ) -> Result<Vec<ChatMessage>, Refused> {
        let active = Active::new(self.authorize(uid, token)?);
        let user = &active.0;
        let mut out = Vec::new();
        match user.queue.get_timeout(timeout) {
            Ok(m) => out.push(m),
            Err(_) => return Ok(Vec::new()),
        }
        while let Ok(m) = user.queue.try_get() {
            out.push(m);
        }
        Ok(out
            .into_iter()
            .map(|m| {
                user.took(&m);
                ChatMessage::clone(&m)
            })
            .collect())
    }

    /// This server's status as JSON (for health checks and tests).
    pub fn status(&self) -> serde_json::Value {
        let members: BTreeMap<String, usize> = self
            .inner
            .rooms
            .borrow()
            .iter()
            .map(|(name, r)| (name.clone(), r.users.len()))
            .collect();
        serde_json::json!({
            "server": self.inner.config.server_id,
            "peers": self.peers(),
            "rooms": self.inner.config.rooms,
            "members": members,
            "users": self.inner.users.borrow().len(),
            "stats": self.stats(),
        })
    }

    /// The HTTP routes: pages, put, poll, WebSocket, status.
    pub fn router(&self) -> Router {
        let c = |chat: &Chat| chat.clone();
        let (c1, c2, c3, c4, c5, c6, c7) = (c(self), c(self), c(self), c(self), c(self), c(self), c(self));
        Router::new()
            .get("/", |_: &Request| Response::html(document("zchat", INDEX_HTML)))
            .get("/static/chat.js", |_: &Request| {
                Response::bytes("text/javascript; charset=utf-8", CHAT_JS)
            })
            .get("/static/chat.css", |_: &Request| {
                Response::bytes("text/css; charset=utf-8", CHAT_CSS)
            })
            .get("/api/status", move |_: &Request| Response::json(&c1.status()))
            .get("/api/backlog/:room", move |req: &Request| {
                match c2.backlog(&req.param("room").unwrap_or_default()) {
                    Ok(b) => Response::json(&b),
                    Err(r) => r.into(),
                }
            })
            .post("/put/:room/:uid", move |req: &Request| {
                let (room, uid) = (
                    req.param("room").unwrap_or_default(),
                    req.param("uid").unwrap_or_default(),
                );
                let token = request_token(req, &uid);
                let text = req.form("message").unwrap_or_default();
                match c3.put(&room, &uid, token.as_deref(), &text) {
                    Ok(_) => Response::new(200),
                    Err(r) => r.into(),
                }
            })
            .post("/poll/:uid", move |req: &Request| {
                let uid = req.param("uid").unwrap_or_default();
                let token = request_token(req, &uid);
                match c4.poll(&uid, token.as_deref(), c4.inner.config.poll_timeout) {
                    Ok(msgs) => Response::json(&msgs),
                    Err(r) => r.into(),
                }
            })
            .get("/ws/:room/:uid", move |req: &Request| c5.websocket(req))
            .get("/:uid", move |req: &Request| {
                let uid = req.param("uid").unwrap_or_default();
                if !valid_uid(&uid) {
                    return BAD_UID.into();
                }
                let data = serde_json::json!({ "uid": uid, "rooms": c6.inner.config.rooms });
                Response::html(page(&document("zchat rooms", LOBBY_HTML), &data))
            })
            .get("/:room/:uid", move |req: &Request| {
                let (room, uid) = (
                    req.param("room").unwrap_or_default(),
                    req.param("uid").unwrap_or_default(),
                );
                let token = request_token(req, &uid);
                match c7.join(&room, &uid, token.as_deref()) {
                    Ok(joined) => {
                        let data = serde_json::json!({
                            "room": room, "uid": uid, "backlog": joined.backlog,
                            "server": c7.inner.config.server_id,
                            "max_message_bytes": c7.inner.config.max_message_bytes,
                        });
                        Response::html(page(&document("zchat", ROOM_HTML), &data))
                            .with_header("Set-Cookie", &session_cookie(&uid, &joined.token))
                            .with_header(TOKEN_HEADER, &joined.token.to_string())
                            .with_header("Cache-Control", "no-store")
                    }
                    Err(r) => r.into(),
                }
            })
    }

    /// `GET /ws/ROOM/UID`: checks the `Origin`, the session token and the
    /// handshake, in that order, changing nothing if one fails; then
    /// enters the room and pushes the user's messages as JSON text frames
    /// while taking the messages the page sends (a refused one is
    /// answered with `{"error": "..."}`).
    fn websocket(&self, req: &Request) -> Response {
        let (room, uid) = (
            req.param("room").unwrap_or_default(),
            req.param("uid").unwrap_or_default(),
        );
        if !origin_allowed(
            req.header("origin"),
            req.header("host"),
            &self.inner.config.ws_origins,
        ) {
            return BAD_ORIGIN.into();
        }
        let user = match self.authorize(&uid, request_token(req, &uid).as_deref()) {
            Ok(u) => u,
            Err(r) => return r.into(),
        };
        if !self.inner.rooms.borrow().contains_key(&room) {
            return NO_ROOM.into();
        }
        let chat = self.clone();
        let (r, u) = (room.clone(), uid.clone());
        let ws_user = user.clone();
        let response = upgrade_with(req, self.inner.config.ws.clone(), move |ws: WebSocket| {
            let (room, uid) = (r, u);
            let active = Active::new(ws_user);
            let pusher = {
                let (ws, user) = (ws.clone(), active.0.clone());
                zgreen::spawn(move || {
                    while let Ok(msg) = user.next() {
                        let json = serde_json::to_string(&*msg).expect("a ChatMessage serializes");
                        if ws.send_text(json).is_err() {
                            break;
                        }
                    }
                })
            };
            while let Ok(msg) = ws.recv() {
                if let zgreen::http::Message::Text(text) = msg {
                    if let Err(r) = chat.put_as(&active.0, &room, &uid, &text) {
                        tracing::debug!("zchat: {uid} in {room}: {r}");
                        let error = serde_json::json!({ "error": r.to_string() }).to_string();
                        if ws.send_text(error).is_err() {
                            break;
                        }
                    }
                }
            }
            pusher.kill_nowait();
            drop(active);
        });
        if response.status() != 101 {
            return response; // not a valid handshake: nothing changed
        }
        user.last_seen.set(Instant::now());
        match self.enter(&room, &uid) {
            Ok(_) => response,
            Err(r) => r.into(),
        }
    }
}

/// Fills a page template: `{{DATA}}` becomes `data` as JSON, safe inside
/// a `<script>` element.
fn page(template: &str, data: &serde_json::Value) -> String {
    let json = data.to_string().replace("</", "<\\/").replace("<!--", "<\\!--");
    template.replace("{{DATA}}", &json)
}

/// A whole page: the head every page shares, titled `title`, then `body`
/// (a page from its `<body>` on).
fn document(title: &str, body: &str) -> String {
    HEAD_HTML.replace("{{TITLE}}", title) + body
}

const HEAD_HTML: &str = include_str!("../static/head.html");
const INDEX_HTML: &str = include_str!("../static/index.html");
const LOBBY_HTML: &str = include_str!("../static/lobby.html");
const ROOM_HTML: &str = include_str!("../static/room.html");
const CHAT_JS: &str = include_str!("../static/chat.js");
const CHAT_CSS: &str = include_str!("../static/chat.css");

/// Binds an XSUB/XPUB forwarder (the backbone's hub, like `zbroker
/// forwarder`: servers publish to `frontend` and subscribe to `backend`)
/// and runs it in a greenlet, which ends only on an error or a kill.
pub fn forwarder(
    ctx: &Context,
    frontend: &str,
    backend: &str,
) -> zgreen::Result<Greenlet<zgreen::Result<()>>> {
    let xsub = ctx.socket(zmq::XSUB)?;
    xsub.bind(frontend)?;
    let xpub = ctx.socket(zmq::XPUB)?;
    xpub.bind(backend)?;
    Ok(zgreen::spawn(move || zgreen::zmq::proxy(&xsub, &xpub, None)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat() -> Chat {
        Chat::new(Config {
            backlog: 3,
            user_queue: 2,
            ..Config::default()
        })
    }

    /// Joins `uid` to `room` with `token`, or starts its session.
    fn join(c: &Chat, room: &str, uid: &str, token: Option<&str>) -> String {
        c.join(room, uid, token).unwrap().token.to_string()
    }

    #[test]
    fn join_put_poll_backlog() {
        let c = chat();
        assert_eq!(c.join("nope", "a", None).unwrap_err(), NO_ROOM);
        assert_eq!(c.join("topic1", "bad name", None).unwrap_err().0, 400);
        assert_eq!(c.put("topic1", "a", None, "hi").unwrap_err().0, 403);
        let a = join(&c, "topic1", "a", None);
        let b = join(&c, "topic1", "b", None);
        assert_eq!(join(&c, "topic2", "b", Some(&b)), b);
        assert_eq!(c.put("topic2", "a", Some(&a), "hi").unwrap_err().0, 403);
        for i in 0..5 {
            c.put("topic1", "a", Some(&a), &format!("m{i}")).unwrap();
        }
        let texts = |v: Vec<ChatMessage>| v.into_iter().map(|m| m.text).collect::<Vec<_>>();
        assert_eq!(texts(c.backlog("topic1").unwrap()), ["m2", "m3", "m4"]);
        // b's queue holds 2: the oldest were dropped.
        assert_eq!(
            texts(c.poll("b", Some(&b), Duration::ZERO).unwrap()),
            ["m3", "m4"]
        );
        assert_eq!(c.stats().dropped, 6);
        assert!(
            c.poll("b", Some(&b), Duration::from_millis(10))
                .unwrap()
                .is_empty()
        );
        assert_eq!(c.put("topic1", "a", Some(&a), "  ").unwrap_err().0, 400);
        // Sizes are in bytes: 1000 'é' are 2000 bytes.
        assert_eq!(
            c.put("topic1", "a", Some(&a), &"x".repeat(4001)).unwrap_err().0,
            413
        );
        c.put("topic1", "a", Some(&a), &"é".repeat(2000)).unwrap();
        assert_eq!(
            c.put("topic1", "a", Some(&a), &"é".repeat(2001)).unwrap_err().0,
            413
        );
        assert_eq!(c.poll("zed", Some(&a), Duration::ZERO).unwrap_err().0, 403);
    }

    #[test]
    fn sessions_need_their_token() {
        let c = chat();
        let a = join(&c, "topic1", "a", None);
        let b = join(&c, "topic1", "b", None);
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        let wrong = Token::random().to_string();
        for token in [None, Some(""), Some("zz"), Some(wrong.as_str()), Some(b.as_str())] {
            assert_eq!(c.put("topic1", "a", token, "hi").unwrap_err(), NO_SESSION);
            assert_eq!(c.poll("a", token, Duration::ZERO).unwrap_err(), NO_SESSION);
            assert_eq!(c.join("topic2", "a", token).unwrap_err(), NAME_TAKEN);
        }
        c.put("topic1", "a", Some(&a.to_uppercase()), "hi").unwrap();
        assert_eq!(c.poll("b", Some(&b), Duration::ZERO).unwrap().len(), 1);
        assert_eq!(join(&c, "topic2", "a", Some(&a)), a);
    }

    #[test]
    fn tokens() {
        let t = Token::random();
        let s = t.to_string();
        assert!(s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(Token::parse(&s).unwrap().matches(&t));
        assert!(!Token::random().matches(&t));
        assert!(Token::parse(&s[1..]).is_none() && Token::parse(&format!("{}g", &s[1..])).is_none());
        assert_eq!(format!("{t:?}"), "Token(..)");
        let req = Request::new("GET", "/", "127.0.0.1:1".parse().unwrap())
            .with_header("Cookie", &format!("x=1; zchat_al={s}; zchat_bo=2"));
        assert_eq!(request_token(&req, "al").as_deref(), Some(s.as_str()));
        assert_eq!(request_token(&req, "bo").as_deref(), Some("2"));
        assert_eq!(request_token(&req, "a"), None);
        let req = req.with_header("x-zchat-token", "abc");
        assert_eq!(request_token(&req, "al").as_deref(), Some("abc"));
        let cookie = session_cookie("al", &t);
        assert_eq!(cookie, format!("zchat_al={s}; Path=/; HttpOnly; SameSite=Strict"));
    }

    #[test]
    fn the_user_cap() {
        let c = Chat::new(Config {
            max_users: 2,
            user_expiry: Duration::from_millis(30),
            ..Config::default()
        });
        let a = join(&c, "topic1", "a", None);
        join(&c, "topic1", "b", None);
        assert_eq!(c.join("topic1", "c", None).unwrap_err(), TOO_MANY_USERS);
        assert_eq!(c.stats().refused_users, 1);
        // A live user still joins other rooms.
        join(&c, "topic2", "a", Some(&a));
        // Once idle users are forgotten there is room again.
        zgreen::sleep(Duration::from_millis(40)).unwrap();
        join(&c, "topic1", "c", None);
    }

    #[test]
    fn queues_and_history_are_bounded_in_bytes_and_share_messages() {
        let c = Chat::new(Config {
            user_queue_bytes: 10_000,
            history_bytes: 20_000,
            ..Config::default()
        });
        let a = join(&c, "topic1", "a", None);
        let b = join(&c, "topic1", "b", None);
        for i in 0..10 {
            c.put("topic1", "a", Some(&a), &format!("{i}{}", "x".repeat(3000)))
                .unwrap();
        }
        // 3 fit in a queue of 10 000 bytes, 6 in a history of 20 000.
        assert_eq!(c.poll("b", Some(&b), Duration::ZERO).unwrap().len(), 3);
        assert_eq!(c.backlog("topic1").unwrap().len(), 6);
        assert_eq!(c.inner.users.borrow()["b"].queued_bytes.get(), 0);
        // One message, shared by the history and a's queue.
        let rooms = c.inner.rooms.borrow();
        let last = rooms["topic1"].messages.back().unwrap();
        assert_eq!(Rc::strong_count(last), 2);
    }

    #[test]
    fn idle_users_are_forgotten_active_ones_are_not() {
        let c = Chat::new(Config {
            user_expiry: Duration::from_millis(40),
            ..Config::default()
        });
        let idle = join(&c, "topic1", "idle", None);
        let poller = join(&c, "topic1", "poller", None);
        let talker = join(&c, "topic2", "talker", None);
        // "poller" waits in a long poll through the expiry; "talker" puts.
        let p = c.clone();
        let poll = zgreen::spawn(move || p.poll("poller", Some(&poller), Duration::from_millis(150)));
        for _ in 0..6 {
            zgreen::sleep(Duration::from_millis(20)).unwrap();
            c.put("topic2", "talker", Some(&talker), "still here").unwrap();
        }
        join(&c, "topic2", "newcomer", None); // sweeps
        assert_eq!(c.put("topic1", "idle", Some(&idle), "hello?"), Err(NO_SESSION));
        assert_eq!(c.poll("idle", Some(&idle), Duration::ZERO).unwrap_err().0, 403);
        assert!(poll.get().unwrap().unwrap().is_empty());
        assert_eq!(c.status()["users"], 3, "{}", c.status());
        assert_eq!(c.stats().expired, 1);
        // Joining again brings a forgotten user back, with a new token.
        let back = join(&c, "topic1", "idle", None);
        assert_ne!(back, idle);
        c.put("topic1", "idle", Some(&back), "back").unwrap();
    }

    fn remote(text: &str) -> ChatMessage {
        ChatMessage {
            room: "topic1".into(),
            uid: "z".into(),
            text: text.into(),
            server: "other".into(),
            seq: 1,
        }
    }

    fn frames(msg: &ChatMessage) -> [Vec<u8>; 2] {
        [b"msg".to_vec(), serde_json::to_vec(msg).unwrap()]
    }

    #[test]
    fn backbone_messages() {
        let c = chat();
        let a = join(&c, "topic1", "a", None);
        let remote = remote("from afar");
        c.on_backbone(&frames(&remote));
        c.on_backbone(&[b"hb".to_vec(), b"other".to_vec()]);
        c.on_backbone(&[b"msg".to_vec(), b"{not json".to_vec()]);
        c.on_backbone(&[b"???".to_vec()]);
        let mut own = remote.clone();
        own.server = c.config().server_id.clone();
        c.on_backbone(&frames(&own));
        assert_eq!(c.poll("a", Some(&a), Duration::ZERO).unwrap(), [remote]);
        assert_eq!(c.peers(), ["other"]);
        assert_eq!((c.stats().remote, c.stats().malformed), (1, 2));
    }

    #[test]
    fn backbone_messages_pass_the_local_checks() {
        let c = chat();
        let a = join(&c, "topic1", "a", None);
        let max = c.config().max_message_bytes;
        let mut bad = vec![
            remote(&"x".repeat(max + 1)),
            remote(&"é".repeat(max / 2 + 1)),
            remote(""),
            remote(" padded "),
        ];
        for f in [
            |m: &mut ChatMessage| m.room = "nowhere".into(),
            |m: &mut ChatMessage| m.uid = "bad name".into(),
            |m: &mut ChatMessage| m.server = String::new(),
            |m: &mut ChatMessage| m.server = "x".repeat(65),
        ] {
            let mut m = remote("ok");
            f(&mut m);
            bad.push(m);
        }
        for m in &bad {
            c.on_backbone(&frames(m));
        }
        // Too big to parse: dropped before parsing.
        let huge = format!("{{\"pad\":\"{}\"}}", "x".repeat(6 * max + 1024));
        c.on_backbone(&[b"msg".to_vec(), huge.into_bytes()]);
        // A heartbeat with a bad name.
        c.on_backbone(&[b"hb".to_vec(), b"two words".to_vec()]);
        assert!(c.poll("a", Some(&a), Duration::ZERO).unwrap().is_empty());
        assert!(c.backlog("topic1").unwrap().is_empty());
        assert!(c.peers().is_empty());
        assert_eq!(c.stats().rejected, bad.len() as u64 + 2, "{:?}", c.stats());
        assert_eq!(c.stats().remote, 0);
        // The largest valid one passes.
        c.on_backbone(&frames(&remote(&"x".repeat(max))));
        assert_eq!(c.poll("a", Some(&a), Duration::ZERO).unwrap().len(), 1);
    }

    #[test]
    fn origins() {
        let me = vec!["self".to_string()];
        let ok = |o: &str, h: &str| origin_allowed(Some(o), Some(h), &me);
        assert!(ok("http://127.0.0.1:5000", "127.0.0.1:5000"));
        assert!(ok("https://Chat.Example", "chat.example"));
        assert!(!ok("http://127.0.0.1:5001", "127.0.0.1:5000"));
        assert!(!ok("http://127.0.0.1:5000.evil", "127.0.0.1:5000"));
        assert!(!ok("null", "127.0.0.1:5000"));
        assert!(!origin_allowed(Some("http://a"), None, &me));
        let any = vec!["*".to_string()];
        assert!(origin_allowed(Some("http://a"), Some("b"), &any));
        let list = vec!["https://a.example/".to_string(), "self".to_string()];
        assert!(origin_allowed(Some("https://a.example"), Some("b"), &list));
        assert!(origin_allowed(Some("http://b"), Some("b"), &list));
        assert!(!origin_allowed(Some("http://a.example"), Some("b"), &list));
    }

    #[test]
    fn pages_are_whole_documents() {
        let head = document("zchat rooms", "");
        assert!(head.starts_with("<!doctype html>\n<html>\n<head>\n"), "{head}");
        assert!(head.contains("  <title>zchat rooms</title>\n"), "{head}");
        assert!(head.ends_with("</head>\n"), "{head}");
        for body in [INDEX_HTML, LOBBY_HTML, ROOM_HTML] {
            assert!(body.starts_with("<body>\n") && body.ends_with("</body>\n</html>\n"));
        }
    }

    #[test]
    fn pages_escape_data() {
        let html = page(
            "<script>const DATA = {{DATA}};</script>",
            &serde_json::json!({"t": "</script><b>"}),
        );
        assert!(!html.contains("</script><b>"), "{html}");
    }
}
