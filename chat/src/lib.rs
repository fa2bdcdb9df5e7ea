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
//! # Limits
//!
//! Room names come from the configuration; user names are 1-32 of
//! `[A-Za-z0-9_-]`; a message is at most
//! [`Config::max_message_chars`] characters. Each user's queue holds at
//! most [`Config::user_queue`] undelivered messages (older ones are
//! dropped when it is full), and every WebSocket has the bounded send
//! queue of [`zgreen::http::WsConfig`]. A user who has neither polled, put
//! nor held a WebSocket open for [`Config::user_expiry`] is forgotten:
//! their queue is freed and they leave every room (joining again brings
//! them back), so a long-running server does not keep every visitor it
//! ever had.
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
    /// This server's name on the backbone (unique per process).
    pub server_id: String,
    /// The rooms (the seed has `topic1` and `topic2`).
    pub rooms: Vec<String>,
    /// Messages kept per room for users who join later.
    pub backlog: usize,
    /// Undelivered messages kept per user.
    pub user_queue: usize,
    /// How long a poll waits for a message.
    pub poll_timeout: Duration,
    /// Longest message accepted, in characters.
    pub max_message_chars: usize,
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
            user_queue: 100,
            poll_timeout: Duration::from_secs(10),
            max_message_chars: 1000,
            ws: WsConfig::default(),
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

#[derive(Default)]
struct Room {
    users: BTreeSet<String>,
    messages: VecDeque<ChatMessage>,
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
    /// Malformed backbone messages ignored.
    pub malformed: u64,
    /// Users forgotten after [`Config::user_expiry`] without activity.
    pub expired: u64,
}

/// One user on this server.
struct User {
    queue: Queue<ChatMessage>,
    last_seen: Cell<Instant>,
    /// Polls in progress and open WebSockets: an active user never expires.
    active: Cell<u32>,
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
/// chat.join("topic1", "alice").unwrap();
/// chat.put("topic1", "alice", "hello").unwrap();
/// let got = chat.poll("alice", std::time::Duration::ZERO).unwrap();
/// assert_eq!(got[0].text, "hello");
/// assert_eq!(chat.backlog("topic1").unwrap().len(), 1);
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

/// True for a user name: 1-32 of `[A-Za-z0-9_-]`.
pub fn valid_uid(uid: &str) -> bool {
    (1..=32).contains(&uid.len())
        && uid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// How often a server announces itself on the backbone.
pub const HEARTBEAT: Duration = Duration::from_millis(500);

/// A peer unheard of for this long is no longer listed.
pub const PEER_EXPIRY: Duration = Duration::from_secs(3);

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

    fn on_backbone(&self, frames: &[Vec<u8>]) {
        let me = self.inner.config.server_id.as_bytes();
        match frames {
            [kind, id] if kind == b"hb" => {
                if id != me {
                    let id = String::from_utf8_lossy(id).into_owned();
                    self.inner.peers.borrow_mut().insert(id, Instant::now());
                }
            }
            [kind, body] if kind == b"msg" => match serde_json::from_slice::<ChatMessage>(body) {
                Ok(msg) if msg.server.as_bytes() != me => {
                    if self.inner.rooms.borrow().contains_key(&msg.room) && valid_uid(&msg.uid) {
                        self.count(|s| s.remote += 1);
                        self.deliver(msg);
                    } else {
                        self.count(|s| s.malformed += 1);
                    }
                }
                Ok(_) => {} // our own, already delivered
                Err(_) => self.count(|s| s.malformed += 1),
            },
            _ => self.count(|s| s.malformed += 1),
        }
    }

    /// The other servers heard from lately.
    pub fn peers(&self) -> Vec<String> {
        let mut peers = self.inner.peers.borrow_mut();
        peers.retain(|_, seen| seen.elapsed() < PEER_EXPIRY);
        peers.keys().cloned().collect()
    }

    /// Adds `uid` to `room` (creating the user on first use) and returns
    /// the room's backlog.
    pub fn join(&self, room: &str, uid: &str) -> Result<Vec<ChatMessage>, Refused> {
        if !valid_uid(uid) {
            return Err(Refused(400, "a user name is 1-32 letters, digits, _ or -"));
        }
        self.expire_idle_users();
        let mut rooms = self.inner.rooms.borrow_mut();
        let r = rooms.get_mut(room).ok_or(Refused(404, "no such room"))?;
        let user = self
            .inner
            .users
            .borrow_mut()
            .entry(uid.to_string())
            .or_insert_with(|| {
                Rc::new(User {
                    queue: Queue::bounded(self.inner.config.user_queue.max(1)),
                    last_seen: Cell::new(Instant::now()),
                    active: Cell::new(0),
                })
            })
            .clone();
        user.last_seen.set(Instant::now());
        r.users.insert(uid.to_string());
        Ok(r.messages.iter().cloned().collect())
    }

    /// Forgets the users idle for longer than [`Config::user_expiry`]
    /// (at most one sweep per quarter of it; joins call it).
    pub fn expire_idle_users(&self) {
        let expiry = self.inner.config.user_expiry;
        if self.inner.last_sweep.get().elapsed() < expiry / 4 {
            return;
        }
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
        let r = rooms.get(room).ok_or(Refused(404, "no such room"))?;
        Ok(r.messages.iter().cloned().collect())
    }

    /// `uid` says `text` in `room` (which they must have joined).
    pub fn put(&self, room: &str, uid: &str, text: &str) -> Result<ChatMessage, Refused> {
        let text = text.trim();
        if text.is_empty() {
            return Err(Refused(400, "empty message"));
        }
        if text.chars().count() > self.inner.config.max_message_chars {
            return Err(Refused(413, "message too long"));
        }
        let joined = self
            .inner
            .rooms
            .borrow()
            .get(room)
            .ok_or(Refused(404, "no such room"))?
            .users
            .contains(uid);
        if !joined {
            return Err(Refused(403, "join the room first"));
        }
        if let Some(user) = self.inner.users.borrow().get(uid) {
            user.last_seen.set(Instant::now());
        }
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
        self.deliver(msg.clone());
        Ok(msg)
    }

    /// Adds `msg` to its room's backlog and to the queue of each of the
    /// room's users on this server.
    fn deliver(&self, msg: ChatMessage) {
        let mut rooms = self.inner.rooms.borrow_mut();
        let Some(room) = rooms.get_mut(&msg.room) else {
            return;
        };
        let users = self.inner.users.borrow();
        for uid in &room.users {
            if let Some(user) = users.get(uid) {
                let q = &user.queue;
                if q.is_full() {
                    let _ = q.try_get(); // drop the oldest
                    self.count(|s| s.dropped += 1);
                }
                let _ = q.try_put(msg.clone());
            }
        }
        room.messages.push_back(msg);
        while room.messages.len() > self.inner.config.backlog {
            room.messages.pop_front();
        }
    }

    fn user(&self, uid: &str) -> Result<Rc<User>, Refused> {
        self.inner
            .users
            .borrow()
            .get(uid)
            .cloned()
            .ok_or(Refused(404, "no such user: join a room first"))
    }

    /// Waits up to `timeout` for `uid`'s next message, then takes every
    /// other one already queued; `[]` if none came.
    pub fn poll(&self, uid: &str, timeout: Duration) -> Result<Vec<ChatMessage>, Refused> {
        let active = Active::new(self.user(uid)?);
        let q = &active.0.queue;
        let mut out = Vec::new();
        match q.get_timeout(timeout) {
            Ok(m) => out.push(m),
            Err(_) => return Ok(out),
        }
        while let Ok(m) = q.try_get() {
            out.push(m);
        }
        Ok(out)
    }

    /// This server's status as JSON (for health checks and tests).
    pub fn status(&self) -> serde_json::Value {
        serde_json::json!({
            "server": self.inner.config.server_id,
            "peers": self.peers(),
            "rooms": self.inner.config.rooms,
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
                let text = req.form("message").unwrap_or_default();
                match c3.put(&room, &uid, &text) {
                    Ok(_) => Response::new(200),
                    Err(r) => r.into(),
                }
            })
            .post("/poll/:uid", move |req: &Request| {
                match c4.poll(
                    &req.param("uid").unwrap_or_default(),
                    c4.inner.config.poll_timeout,
                ) {
                    Ok(msgs) => Response::json(&msgs),
                    Err(r) => r.into(),
                }
            })
            .get("/ws/:room/:uid", move |req: &Request| c5.websocket(req))
            .get("/:uid", move |req: &Request| {
                let uid = req.param("uid").unwrap_or_default();
                if !valid_uid(&uid) {
                    return Refused(400, "a user name is 1-32 letters, digits, _ or -").into();
                }
                let data = serde_json::json!({ "uid": uid, "rooms": c6.inner.config.rooms });
                Response::html(page(&document("zchat rooms", LOBBY_HTML), &data))
            })
            .get("/:room/:uid", move |req: &Request| {
                let (room, uid) = (
                    req.param("room").unwrap_or_default(),
                    req.param("uid").unwrap_or_default(),
                );
                match c7.join(&room, &uid) {
                    Ok(backlog) => {
                        let data = serde_json::json!({
                            "room": room, "uid": uid, "backlog": backlog,
                            "server": c7.inner.config.server_id,
                        });
                        Response::html(page(&document("zchat", ROOM_HTML), &data))
                    }
                    Err(r) => r.into(),
                }
            })
    }

    /// `GET /ws/ROOM/UID`: joins, then pushes the user's messages as JSON
    /// text frames while taking the messages the page sends.
    fn websocket(&self, req: &Request) -> Response {
        let (room, uid) = (
            req.param("room").unwrap_or_default(),
            req.param("uid").unwrap_or_default(),
        );
        if let Err(r) = self.join(&room, &uid) {
            return r.into();
        }
        let user = match self.user(&uid) {
            Ok(u) => u,
            Err(r) => return r.into(),
        };
        let chat = self.clone();
        upgrade_with(req, self.inner.config.ws.clone(), move |ws: WebSocket| {
            let active = Active::new(user);
            let queue = active.0.queue.clone();
            let pusher = {
                let ws = ws.clone();
                zgreen::spawn(move || {
                    while let Ok(msg) = queue.get() {
                        let json = serde_json::to_string(&msg).expect("a ChatMessage serializes");
                        if ws.send_text(json).is_err() {
                            break;
                        }
                    }
                })
            };
            while let Ok(msg) = ws.recv() {
                if let zgreen::http::Message::Text(text) = msg {
                    if let Err(r) = chat.put(&room, &uid, &text) {
                        tracing::debug!("zchat: {uid} in {room}: {r}");
                    }
                }
            }
            pusher.kill_nowait();
            drop(active);
        })
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

    #[test]
    fn join_put_poll_backlog() {
        let c = chat();
        assert_eq!(c.join("nope", "a"), Err(Refused(404, "no such room")));
        assert_eq!(c.join("topic1", "bad name").unwrap_err().0, 400);
        assert_eq!(c.put("topic1", "a", "hi").unwrap_err().0, 403);
        c.join("topic1", "a").unwrap();
        c.join("topic1", "b").unwrap();
        c.join("topic2", "b").unwrap();
        for i in 0..5 {
            c.put("topic1", "a", &format!("m{i}")).unwrap();
        }
        let texts = |v: Vec<ChatMessage>| v.into_iter().map(|m| m.text).collect::<Vec<_>>();
        assert_eq!(texts(c.backlog("topic1").unwrap()), ["m2", "m3", "m4"]);
        // b's queue holds 2: the oldest were dropped.
        assert_eq!(texts(c.poll("b", Duration::ZERO).unwrap()), ["m3", "m4"]);
        assert_eq!(c.stats().dropped, 6);
        assert!(c.poll("b", Duration::from_millis(10)).unwrap().is_empty());
        assert_eq!(c.put("topic1", "a", "  ").unwrap_err().0, 400);
        assert_eq!(c.put("topic1", "a", &"x".repeat(1001)).unwrap_err().0, 413);
        assert_eq!(c.poll("zed", Duration::ZERO).unwrap_err().0, 404);
    }

    #[test]
    fn idle_users_are_forgotten_active_ones_are_not() {
        let c = Chat::new(Config {
            user_expiry: Duration::from_millis(40),
            ..Config::default()
        });
        c.join("topic1", "idle").unwrap();
        c.join("topic1", "poller").unwrap();
        c.join("topic2", "talker").unwrap();
        // "poller" waits in a long poll through the expiry; "talker" puts.
        let p = c.clone();
        let poll = zgreen::spawn(move || p.poll("poller", Duration::from_millis(150)));
        for _ in 0..6 {
            zgreen::sleep(Duration::from_millis(20)).unwrap();
            c.put("topic2", "talker", "still here").unwrap();
        }
        c.join("topic2", "newcomer").unwrap(); // sweeps
        assert_eq!(
            c.put("topic1", "idle", "hello?"),
            Err(Refused(403, "join the room first"))
        );
        assert_eq!(c.poll("idle", Duration::ZERO).unwrap_err().0, 404);
        assert!(poll.get().unwrap().unwrap().is_empty());
        assert_eq!(c.status()["users"], 3, "{}", c.status());
        assert_eq!(c.stats().expired, 1);
        // Joining again brings a forgotten user back.
        c.join("topic1", "idle").unwrap();
        c.put("topic1", "idle", "back").unwrap();
    }

    #[test]
    fn backbone_messages() {
        let c = chat();
        c.join("topic1", "a").unwrap();
        let remote = ChatMessage {
            room: "topic1".into(),
            uid: "z".into(),
            text: "from afar".into(),
            server: "other".into(),
            seq: 1,
        };
        c.on_backbone(&[b"msg".to_vec(), serde_json::to_vec(&remote).unwrap()]);
        c.on_backbone(&[b"hb".to_vec(), b"other".to_vec()]);
        c.on_backbone(&[b"msg".to_vec(), b"{not json".to_vec()]);
        c.on_backbone(&[b"???".to_vec()]);
        let mut own = remote.clone();
        own.server = c.config().server_id.clone();
        c.on_backbone(&[b"msg".to_vec(), serde_json::to_vec(&own).unwrap()]);
        assert_eq!(c.poll("a", Duration::ZERO).unwrap(), [remote]);
        assert_eq!(c.peers(), ["other"]);
        assert_eq!((c.stats().remote, c.stats().malformed), (1, 2));
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
