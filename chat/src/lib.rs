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
//!
//! # Many hubs
//!
//! A [`Chat`] is `Send + Sync`: its state is behind one mutex whose
//! critical sections never wait, and each user's queue is a
//! [`zgreen::chan`] channel, so the HTTP servers of every hub of a
//! [`zgreen::runtime::Runtime`] serve the same rooms and users (`zchat
//! serve --threads N`): a request finds its user whatever hub it lands
//! on, and a poll waiting on one hub is woken by a put on another.
#![deny(missing_docs, missing_debug_implementations, rust_2018_idioms)]

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use zgreen::Greenlet;
use zgreen::chan;
use zgreen::http::{Request, Response, Router, WebSocket, WsConfig, upgrade_with};
use zgreen::zmq::Context;

mod backbone;
mod session;
#[cfg(test)]
mod tests;
mod web;

pub use self::backbone::forwarder;
use self::session::session_cookie;
pub use self::session::{TOKEN_HEADER, Token, cookie_name, origin_allowed, request_token};

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

#[derive(Default)]
struct Room {
    users: BTreeSet<String>,
    messages: VecDeque<Arc<ChatMessage>>,
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
///
/// The queue is a [`chan`] channel, so a poll or a WebSocket on any hub
/// waits on it; it is bounded by [`User::push`], which every delivery
/// calls with the server's state locked: at most [`Config::user_queue`]
/// messages and [`Config::user_queue_bytes`] bytes.
struct User {
    token: Token,
    tx: chan::Sender<Arc<ChatMessage>>,
    rx: chan::Receiver<Arc<ChatMessage>>,
    /// The bytes of the messages in the queue (by [`ChatMessage::size`]).
    queued_bytes: AtomicUsize,
    last_seen: Mutex<Instant>,
    /// Polls in progress and open WebSockets: an active user never expires.
    active: AtomicU32,
}

/// `m` locked, even if a panic poisoned it (every critical section leaves
/// the state consistent between its statements).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl User {
    fn new() -> User {
        let (tx, rx) = chan::unbounded();
        User {
            token: Token::random(),
            tx,
            rx,
            queued_bytes: AtomicUsize::new(0),
            last_seen: Mutex::new(Instant::now()),
            active: AtomicU32::new(0),
        }
    }

    fn touch(&self) {
        *lock(&self.last_seen) = Instant::now();
    }

    fn idle_for(&self) -> Duration {
        lock(&self.last_seen).elapsed()
    }

    /// Queues `msg`, first dropping the oldest messages while the queue is
    /// over `max_messages` or `max_bytes`; returns how many it dropped.
    /// Called with the server's state locked, so pushes never race each
    /// other (takers may: they only shrink the queue).
    fn push(&self, msg: &Arc<ChatMessage>, max_messages: usize, max_bytes: usize) -> u64 {
        let size = msg.size();
        let mut dropped = 0;
        while !self.rx.is_empty()
            && (self.rx.len() >= max_messages || self.queued_bytes.load(Ordering::SeqCst) + size > max_bytes)
        {
            if let Ok(old) = self.rx.try_recv() {
                self.took(&old);
                dropped += 1;
            }
        }
        // Counted before it can be taken, so `took` never goes below zero.
        self.queued_bytes.fetch_add(size, Ordering::SeqCst);
        if self.tx.try_send(msg.clone()).is_err() {
            self.took(msg);
        }
        dropped
    }

    /// Accounts for `msg` taken from the queue.
    fn took(&self, msg: &ChatMessage) {
        let size = msg.size();
        let _ = self
            .queued_bytes
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| {
                Some(b.saturating_sub(size))
            });
    }

    /// Waits for the next message (as long as the queue lives).
    fn next(&self) -> zgreen::Result<Arc<ChatMessage>> {
        let msg = self.rx.recv()?;
        self.took(&msg);
        Ok(msg)
    }
}

/// Marks a user active until dropped.
struct Active(Arc<User>);

impl Active {
    fn new(user: Arc<User>) -> Active {
        user.active.fetch_add(1, Ordering::SeqCst);
        user.touch();
        Active(user)
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
        self.0.touch();
    }
}

/// Everything a server knows, behind one lock. Critical sections are
/// short and never wait: no I/O, no parking, only map updates and
/// non-blocking channel operations.
struct State {
    rooms: BTreeMap<String, Room>,
    users: HashMap<String, Arc<User>>,
    last_sweep: Instant,
    seq: u64,
    peers: BTreeMap<String, Instant>,
    stats: Stats,
}

struct Inner {
    config: Config,
    state: Mutex<State>,
    /// The backbone publisher's queue (see [`Chat::connect_backbone`]).
    publisher: Mutex<Option<chan::Sender<Vec<u8>>>>,
}

/// The chat's state on one server: a cheap clonable handle, `Send` and
/// `Sync`, so every hub of a [`zgreen::runtime::Runtime`] serves the same
/// rooms and users (see the crate's README, "Many hubs").
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
    inner: Arc<Inner>,
}

impl fmt::Debug for Chat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.state();
        f.debug_struct("Chat")
            .field("server", &self.inner.config.server_id)
            .field("users", &st.users.len())
            .field("stats", &st.stats)
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
            inner: Arc::new(Inner {
                config,
                state: Mutex::new(State {
                    rooms,
                    users: HashMap::new(),
                    last_sweep: Instant::now(),
                    seq: 0,
                    peers: BTreeMap::new(),
                    stats: Stats::default(),
                }),
                publisher: Mutex::new(None),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.inner.state)
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.state().stats
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

    /// Adds `uid` to `room` and returns the room's backlog and `uid`'s
    /// session token. The first join of a name starts its session (a new
    /// token); while that session lives, a join must present its `token`
    /// (`409` otherwise). A new user beyond [`Config::max_users`] gets
    /// `503`.
    pub fn join(&self, room: &str, uid: &str, token: Option<&str>) -> Result<Joined, Refused> {
        if !valid_uid(uid) {
            return Err(BAD_UID);
        }
        let mut st = self.state();
        if !st.rooms.contains_key(room) {
            return Err(NO_ROOM);
        }
        self.expire_idle(&mut st);
        let user = match st.users.get(uid).cloned() {
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
                if st.users.len() >= self.inner.config.max_users {
                    self.sweep(&mut st);
                    if st.users.len() >= self.inner.config.max_users {
                        st.stats.refused_users += 1;
                        return Err(TOO_MANY_USERS);
                    }
                }
                let user = Arc::new(User::new());
                st.users.insert(uid.to_string(), user.clone());
                user
            }
        };
        user.touch();
        let backlog = enter(&mut st, room, uid)?;
        Ok(Joined {
            backlog,
            token: user.token,
        })
    }

    /// The user whose session `token` is, if `uid` has that session.
    fn authorize(&self, uid: &str, token: Option<&str>) -> Result<Arc<User>, Refused> {
        let user = self.state().users.get(uid).cloned();
        match (user, token.and_then(Token::parse)) {
            (Some(user), Some(t)) if user.token.matches(&t) => Ok(user),
            _ => Err(NO_SESSION),
        }
    }

    /// Forgets the users idle for longer than [`Config::user_expiry`]
    /// (at most one sweep per quarter of it; joins call it).
    pub fn expire_idle_users(&self) {
        self.expire_idle(&mut self.state());
    }

    fn expire_idle(&self, st: &mut State) {
        if st.last_sweep.elapsed() >= self.inner.config.user_expiry / 4 {
            self.sweep(st);
        }
    }

    /// Forgets the users idle for longer than [`Config::user_expiry`].
    fn sweep(&self, st: &mut State) {
        let expiry = self.inner.config.user_expiry;
        st.last_sweep = Instant::now();
        let mut gone = Vec::new();
        st.users.retain(|uid, user| {
            let keep = user.active.load(Ordering::SeqCst) > 0 || user.idle_for() < expiry;
            if !keep {
                gone.push(uid.clone());
            }
            keep
        });
        if gone.is_empty() {
            return;
        }
        for room in st.rooms.values_mut() {
            for uid in &gone {
                room.users.remove(uid);
            }
        }
        tracing::debug!("zchat: forgot {} idle users", gone.len());
        st.stats.expired += gone.len() as u64;
    }

    /// The last messages of `room`.
    pub fn backlog(&self, room: &str) -> Result<Vec<ChatMessage>, Refused> {
        let st = self.state();
        let r = st.rooms.get(room).ok_or(NO_ROOM)?;
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
        let msg = {
            let mut st = self.state();
            if !st.rooms.get(room).ok_or(NO_ROOM)?.users.contains(uid) {
                return Err(Refused(403, "join the room first"));
            }
            user.touch();
            st.seq += 1;
            let msg = ChatMessage {
                room: room.to_string(),
                uid: uid.to_string(),
                text: text.to_string(),
                server: self.inner.config.server_id.clone(),
                seq: st.seq,
            };
            st.stats.put += 1;
            self.deliver(&mut st, Arc::new(msg.clone()));
            msg
        };
        self.publish(serde_json::to_vec(&msg).expect("a ChatMessage serializes"));
        Ok(msg)
    }

    /// Adds `msg` to its room's history and to the queue of each of the
    /// room's users on this server: one message, shared by all.
    fn deliver(&self, st: &mut State, msg: Arc<ChatMessage>) {
        let config = &self.inner.config;
        let State {
            rooms, users, stats, ..
        } = st;
        let Some(room) = rooms.get_mut(&msg.room) else {
            return;
        };
        for uid in &room.users {
            if let Some(user) = users.get(uid) {
                stats.dropped += user.push(&msg, config.user_queue.max(1), config.user_queue_bytes);
            }
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
        match user.rx.recv_timeout(timeout) {
            Ok(m) => out.push(m),
            Err(_) => return Ok(Vec::new()),
        }
        while let Ok(m) = user.rx.try_recv() {
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
        let mut st = self.state();
        let members: BTreeMap<String, usize> = st
            .rooms
            .iter()
            .map(|(name, r)| (name.clone(), r.users.len()))
            .collect();
        serde_json::json!({
            "server": self.inner.config.server_id,
            "peers": backbone::live_peers(&mut st),
            "rooms": self.inner.config.rooms,
            "members": members,
            "users": st.users.len(),
            "stats": st.stats,
        })
    }
}

/// Adds the (authorized) `uid` to `room`; returns its backlog.
fn enter(st: &mut State, room: &str, uid: &str) -> Result<Vec<ChatMessage>, Refused> {
    let r = st.rooms.get_mut(room).ok_or(NO_ROOM)?;
    r.users.insert(uid.to_string());
    Ok(r.messages.iter().map(|m| ChatMessage::clone(m)).collect())
}
