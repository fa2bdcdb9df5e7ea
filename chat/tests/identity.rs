//! zchat's sessions, against a real server process: put, poll and the
//! WebSocket need the token that the join gave (403 without it or with
//! another); a second join of a live name without its token gets 409; a
//! WebSocket from a foreign `Origin` gets 403 and changes nothing.
//!
//! Every child is killed when its handle drops; every wait is bounded.

use tungstenite::Message as M;

mod common;
use common::*;

/// Another well-formed token than any the server gave.
const WRONG: &str = "0123456789abcdef0123456789abcdef";

#[test]
fn put_poll_and_websocket_need_the_session_token() {
    let (_server, a) = serve("T", &["--poll-timeout-ms", "300"]);
    let (_, alice) = join(&a, "topic1", "alice");
    let (_, bob) = join(&a, "topic1", "bob");
    assert_eq!(alice.len(), 32);
    assert_ne!(alice, bob);
    for token in [None, Some(WRONG), Some("not-a-token"), Some(bob.as_str())] {
        assert_eq!(put(&a, "topic1", "alice", token, "as alice"), 403, "{token:?}");
        assert_eq!(try_poll(&a, "alice", token).0, 403, "{token:?}");
    }
    // In the header too.
    let r = http()
        .header("X-Zchat-Token", WRONG)
        .post(&format!("{a}/poll/alice"), "text/plain", "")
        .unwrap();
    assert_eq!(r.status(), 403);
    // No one could post as alice or take her messages.
    assert!(poll(&a, "bob", &bob).is_empty());
    assert_eq!(put(&a, "topic1", "alice", Some(&alice), "really alice"), 200);
    assert_eq!(poll(&a, "bob", &bob), [pair("alice", "really alice")]);
    let r = http()
        .header("X-Zchat-Token", &alice)
        .post(&format!("{a}/poll/alice"), "text/plain", "")
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().unwrap().contains("really alice"));

    // The WebSocket: refused without the token or with another.
    assert_eq!(try_ws(&a, "topic2", "alice", &[]).err(), Some(403));
    let wrong = format!("zchat_alice={WRONG}");
    assert_eq!(
        try_ws(&a, "topic2", "alice", &[("Cookie", &wrong)]).err(),
        Some(403)
    );
    assert_eq!(
        try_ws(&a, "topic2", "alice", &[("X-Zchat-Token", &bob)]).err(),
        Some(403)
    );
    // ... which left alice out of topic2.
    assert_eq!(put(&a, "topic2", "alice", Some(&alice), "in topic2?"), 403);
    // With it, she is in.
    let mut ws = ws_client(&a, "topic2", "alice", &alice);
    ws.send(M::text("over the socket")).unwrap();
    assert_eq!(ws_next(&mut ws), pair("alice", "over the socket"));
    // A message too long gets an error frame.
    ws.send(M::text("x".repeat(4001))).unwrap();
    match ws.read().unwrap() {
        M::Text(t) => assert!(t.contains("413"), "{t}"),
        m => panic!("{m:?}"),
    }
}

#[test]
fn a_second_join_needs_the_token() {
    let (_server, a) = serve("T", &[]);
    let (_, alice) = join(&a, "topic1", "alice");
    for token in [None, Some(WRONG)] {
        let (status, body, given) = try_join(&a, "topic2", "alice", token);
        assert_eq!(status, 409, "{body}");
        assert!(given.is_empty(), "a refused join gave a token");
    }
    // With the token (a header, or the browser's cookie): the same session.
    let (status, _, again) = try_join(&a, "topic2", "alice", Some(&alice));
    assert_eq!((status, again.as_str()), (200, alice.as_str()));
    let r = http()
        .header("Cookie", &format!("other=1; zchat_alice={alice}"))
        .get(&format!("{a}/topic1/alice"))
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(status_of_users(&a), 1);
}

fn status_of_users(base: &str) -> u64 {
    status(base)["users"].as_u64().unwrap()
}

#[test]
fn a_websocket_from_another_origin_is_refused_and_changes_nothing() {
    let (_server, a) = serve("T", &[]);
    let host = a.strip_prefix("http://").unwrap().to_string();
    let evil = [("Origin", "http://evil.example")];
    // No session: 403, and no user was made.
    assert_eq!(try_ws(&a, "topic1", "mallory", &evil).err(), Some(403));
    assert_eq!(status_of_users(&a), 0);
    // A session, but a foreign page: 403, and the user did not enter the room.
    let (_, alice) = join(&a, "topic1", "alice");
    let cookie = format!("zchat_alice={alice}");
    for origin in ["http://evil.example", "null", &format!("http://{host}.evil")] {
        let got = try_ws(&a, "topic2", "alice", &[("Origin", origin), ("Cookie", &cookie)]);
        assert_eq!(got.err(), Some(403), "{origin}");
    }
    assert_eq!(status(&a)["members"]["topic2"], 0);
    assert_eq!(put(&a, "topic2", "alice", Some(&alice), "hi"), 403);
    // The server's own page's origin is welcome.
    let own = format!("http://{host}");
    let mut ws =
        try_ws(&a, "topic2", "alice", &[("Origin", &own), ("Cookie", &cookie)]).expect("same origin");
    assert_eq!(status(&a)["members"]["topic2"], 1);
    ws.send(M::text("hello")).unwrap();
    assert_eq!(ws_next(&mut ws), pair("alice", "hello"));
    drop(ws);

    // --ws-origins: only the listed ones.
    let (_s2, b) = serve("U", &["--ws-origins", "https://chat.example"]);
    let (_, bob) = join(&b, "topic1", "bob");
    let cookie = format!("zchat_bob={bob}");
    let own = format!("http://{}", b.strip_prefix("http://").unwrap());
    assert_eq!(
        try_ws(&b, "topic2", "bob", &[("Origin", &own), ("Cookie", &cookie)]).err(),
        Some(403)
    );
    try_ws(
        &b,
        "topic2",
        "bob",
        &[("Origin", "https://chat.example"), ("Cookie", &cookie)],
    )
    .expect("a listed origin");
}

#[test]
fn a_bad_handshake_changes_nothing() {
    let (_server, a) = serve("T", &[]);
    let (_, alice) = join(&a, "topic1", "alice");
    // A right token, but not a WebSocket handshake: 400, not in topic2.
    let r = http()
        .header("X-Zchat-Token", &alice)
        .get(&format!("{a}/ws/topic2/alice"))
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(status(&a)["members"]["topic2"], 0);
    assert_eq!(put(&a, "topic2", "alice", Some(&alice), "hi"), 403);
}
