//! The HTTP side: the routes (pages, put, poll, the WebSocket) and the
//! page templates.

use super::*;

impl Chat {
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
        if !self.state().rooms.contains_key(&room) {
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
        user.touch();
        match enter(&mut self.state(), &room, &uid) {
            Ok(_) => response,
            Err(r) => r.into(),
        }
    }
}

/// Fills a page template: `{{DATA}}` becomes `data` as JSON, safe inside
/// a `<script>` element.
pub(super) fn page(template: &str, data: &serde_json::Value) -> String {
    let json = data.to_string().replace("</", "<\\/").replace("<!--", "<\\!--");
    template.replace("{{DATA}}", &json)
}

/// A whole page: the head every page shares, titled `title`, then `body`
/// (a page from its `<body>` on).
pub(super) fn document(title: &str, body: &str) -> String {
    HEAD_HTML.replace("{{TITLE}}", title) + body
}

pub(super) const HEAD_HTML: &str = include_str!("../static/head.html");
pub(super) const INDEX_HTML: &str = include_str!("../static/index.html");
pub(super) const LOBBY_HTML: &str = include_str!("../static/lobby.html");
pub(super) const ROOM_HTML: &str = include_str!("../static/room.html");
pub(super) const CHAT_JS: &str = include_str!("../static/chat.js");
pub(super) const CHAT_CSS: &str = include_str!("../static/chat.css");
