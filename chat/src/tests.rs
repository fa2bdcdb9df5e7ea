//! Unit tests of the chat core.

use super::web::{INDEX_HTML, LOBBY_HTML, ROOM_HTML, document, page};
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
    let st = c.state();
    assert_eq!(st.users["b"].queued_bytes.load(Ordering::SeqCst), 0);
    // One message, shared by the history and a's queue.
    let last = st.rooms["topic1"].messages.back().unwrap();
    assert_eq!(Arc::strong_count(last), 2);
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

#[test]
fn a_chat_is_shared_by_hubs() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Chat>();
    // Two hubs, one chat: a poll waiting on one hub gets a put from the other.
    let rt = zgreen::runtime::Runtime::builder().hubs(2).build().unwrap();
    let c = chat();
    let a = join(&c, "topic1", "a", None);
    let b = join(&c, "topic1", "b", None);
    let (p, b2) = (c.clone(), b.clone());
    let waiting = rt.spawn_on(0, move || p.poll("b", Some(&b2), Duration::from_secs(5)));
    let p = c.clone();
    rt.spawn_on(1, move || p.put("topic1", "a", Some(&a), "across"))
        .join()
        .unwrap()
        .unwrap();
    let got = waiting.join().unwrap().unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].text, "across");
    rt.shutdown().unwrap();
}
