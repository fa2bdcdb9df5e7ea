//! What the tests of zchat share: child processes, and HTTP and
//! WebSocket clients that carry a session token.
#![allow(dead_code)] // each test file uses some

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tungstenite::Message as M;
use tungstenite::client::IntoClientRequest;
use zgreen::http::{Client, ClientResponse};
use zgreen_harness::{ChildGuard, Lines};

/// The bound of every wait.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// A child process with its stdout as lines; killed when it drops.
pub struct Proc {
    pub child: ChildGuard,
    pub lines: Lines,
}

impl Proc {
    pub fn start(program: &PathBuf, args: &[&str]) -> Proc {
        let mut child = ChildGuard::spawn(
            Command::new(program)
                .args(args)
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit()),
        )
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let lines = child.stdout_lines().unwrap();
        Proc { child, lines }
    }

    pub fn line(&self) -> String {
        self.lines.next(DEADLINE).expect("a line from the child")
    }

    /// Sends SIGTERM and asserts the child exits with status 0 within
    /// `within`.
    pub fn sigterm_exits_cleanly(&mut self, within: Duration) {
        self.child.signal(libc::SIGTERM).unwrap();
        let status = self
            .child
            .wait_timeout(within)
            .unwrap()
            .expect("still running after SIGTERM");
        assert!(status.success(), "{status}");
    }
}

pub fn zchat() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_zchat"))
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `zchat serve` on a free port with `--server-id id` and `extra`
/// arguments, and its base URL (`http://127.0.0.1:PORT`).
pub fn serve(id: &str, extra: &[&str]) -> (Proc, String) {
    let mut args = vec!["serve", "--http", "127.0.0.1:0", "--server-id", id];
    args.extend_from_slice(extra);
    let p = Proc::start(&zchat(), &args);
    let line = p.line();
    let base = line
        .strip_prefix(&format!("zchat {id} serving "))
        .unwrap_or_else(|| panic!("{line}"))
        .trim_end_matches('/')
        .to_string();
    (p, base)
}

pub fn http() -> Client {
    Client::new().timeout(Duration::from_secs(10))
}

/// `GET /api/status`.
pub fn status(base: &str) -> Value {
    http().get(&format!("{base}/api/status")).unwrap().json().unwrap()
}

/// The hub that served a response (`X-Zchat-Hub`, sent by `zchat serve
/// --threads N` with N > 1).
pub fn hub_of(r: &ClientResponse) -> Option<usize> {
    r.header("x-zchat-hub").map(|h| h.parse().expect("a hub index"))
}

/// A join's status, page and the token of its `X-Zchat-Token` header
/// (checked against its cookie), sending `token` if given.
pub fn try_join(base: &str, room: &str, uid: &str, token: Option<&str>) -> (u16, String, String) {
    let (status, page, token, _) = try_join_hub(base, room, uid, token);
    (status, page, token)
}

/// [`try_join`], and the hub that served it.
pub fn try_join_hub(
    base: &str,
    room: &str,
    uid: &str,
    token: Option<&str>,
) -> (u16, String, String, Option<usize>) {
    let mut client = http();
    if let Some(t) = token {
        client = client.header("X-Zchat-Token", t);
    }
    let r = client.get(&format!("{base}/{room}/{uid}")).unwrap();
    let token = r.header("x-zchat-token").unwrap_or_default().to_string();
    if r.status() == 200 {
        let cookie = r.header("set-cookie").expect("a session cookie");
        assert_eq!(
            cookie,
            format!("zchat_{uid}={token}; Path=/; HttpOnly; SameSite=Strict")
        );
    }
    (r.status(), r.text().unwrap().to_string(), token, hub_of(&r))
}

/// Joins (200 expected); the page and the session token.
pub fn join(base: &str, room: &str, uid: &str) -> (String, String) {
    let (status, page, token) = try_join(base, room, uid, None);
    assert_eq!(status, 200, "{page}");
    (page, token)
}

/// An HTTP client sending `token` (if any) as a cookie.
fn with_cookie(uid: &str, token: Option<&str>) -> Client {
    match token {
        Some(t) => http().header("Cookie", &format!("zchat_{uid}={t}")),
        None => http(),
    }
}

/// `POST /put/ROOM/UID` with `token` (if any) as a cookie: the status.
pub fn put(base: &str, room: &str, uid: &str, token: Option<&str>, text: &str) -> u16 {
    put_hub(base, room, uid, token, text).0
}

/// [`put`], and the hub that served it.
pub fn put_hub(base: &str, room: &str, uid: &str, token: Option<&str>, text: &str) -> (u16, Option<usize>) {
    let body = format!("message={}", text.replace(' ', "+"));
    let r = with_cookie(uid, token)
        .post(
            &format!("{base}/put/{room}/{uid}"),
            "application/x-www-form-urlencoded",
            body,
        )
        .unwrap();
    (r.status(), hub_of(&r))
}

/// `POST /poll/UID` with `token` (if any) as a cookie: the status and
/// the `(uid, text)` of the messages.
pub fn try_poll(base: &str, uid: &str, token: Option<&str>) -> (u16, Vec<(String, String)>) {
    let (status, msgs, _) = try_poll_hub(base, uid, token);
    (status, msgs)
}

/// [`try_poll`], and the hub that served it.
pub fn try_poll_hub(
    base: &str,
    uid: &str,
    token: Option<&str>,
) -> (u16, Vec<(String, String)>, Option<usize>) {
    let r = with_cookie(uid, token)
        .post(&format!("{base}/poll/{uid}"), "text/plain", "")
        .unwrap();
    if r.status() != 200 {
        return (r.status(), Vec::new(), hub_of(&r));
    }
    let v: Vec<Value> = r.json().unwrap();
    let msgs = v
        .iter()
        .map(|m| {
            (
                m["uid"].as_str().unwrap().to_string(),
                m["text"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (200, msgs, hub_of(&r))
}

pub fn poll(base: &str, uid: &str, token: &str) -> Vec<(String, String)> {
    let (status, msgs) = try_poll(base, uid, Some(token));
    assert_eq!(status, 200);
    msgs
}

/// Polls until `n` messages came.
pub fn poll_n(base: &str, uid: &str, token: &str, n: usize) -> Vec<(String, String)> {
    let started = Instant::now();
    let mut got = Vec::new();
    while got.len() < n {
        assert!(started.elapsed() < DEADLINE, "only {got:?}");
        got.extend(poll(base, uid, token));
    }
    got
}

pub fn pair(uid: &str, text: &str) -> (String, String) {
    (uid.to_string(), text.to_string())
}

pub type Ws = tungstenite::WebSocket<TcpStream>;

/// A WebSocket handshake to `/ws/ROOM/UID` with these extra headers:
/// the socket, or the status of the refusal.
pub fn try_ws(base: &str, room: &str, uid: &str, headers: &[(&str, &str)]) -> Result<Ws, u16> {
    try_ws_hub(base, room, uid, headers).map(|(ws, _)| ws)
}

/// [`try_ws`], and the hub that accepted the socket.
pub fn try_ws_hub(
    base: &str,
    room: &str,
    uid: &str,
    headers: &[(&str, &str)],
) -> Result<(Ws, Option<usize>), u16> {
    let addr = base.strip_prefix("http://").unwrap();
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut req = format!("ws://{addr}/ws/{room}/{uid}")
        .into_client_request()
        .unwrap();
    for (k, v) in headers {
        req.headers_mut().insert(
            tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            tungstenite::http::HeaderValue::from_str(v).unwrap(),
        );
    }
    match tungstenite::client(req, s) {
        Ok((ws, r)) => {
            let hub = r.headers().get("x-zchat-hub");
            Ok((ws, hub.map(|h| h.to_str().unwrap().parse().expect("a hub index"))))
        }
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(r))) => Err(r.status().as_u16()),
        Err(e) => panic!("handshake: {e}"),
    }
}

/// A WebSocket of `uid`, with its session token in a cookie.
pub fn ws_client(base: &str, room: &str, uid: &str, token: &str) -> Ws {
    let cookie = format!("zchat_{uid}={token}");
    try_ws(base, room, uid, &[("Cookie", &cookie)]).expect("a WebSocket")
}

/// The next message's `(uid, text)`.
pub fn ws_next(ws: &mut Ws) -> (String, String) {
    loop {
        if let M::Text(t) = ws.read().unwrap() {
            let m: Value = serde_json::from_str(t.as_str()).unwrap();
            return (
                m["uid"].as_str().unwrap().to_string(),
                m["text"].as_str().unwrap().to_string(),
            );
        }
    }
}
