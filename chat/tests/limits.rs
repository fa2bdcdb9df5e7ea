//! zchat's limits, against a real server process: a message is stored
//! once however many queues hold it (100 messages of 9 KB to a room of
//! 1000 idle users grow the server's resident set by a few MiB, not by a
//! copy per member), and the user cap answers 503.
//!
//! Every child is killed when its handle drops; every wait is bounded.

use std::time::Instant;

use zgreen_harness::rss_bytes;

mod common;
use common::*;

const MIB: f64 = 1024.0 * 1024.0;

#[test]
fn a_message_to_a_big_room_is_stored_once() {
    let (server, a) = serve("M", &["--max-message-bytes", "10000"]);
    let started = Instant::now();
    let (_, talker) = join(&a, "topic1", "talker");
    for i in 0..999 {
        join(&a, "topic1", &format!("idle{i}"));
    }
    assert_eq!(status(&a)["members"]["topic1"], 1000);
    let before = rss_bytes(server.child.pid()).expect("the server's RSS");
    let text = "x".repeat(9 * 1024);
    for _ in 0..100 {
        assert_eq!(put(&a, "topic1", "talker", Some(&talker), &text), 200);
    }
    let after = rss_bytes(server.child.pid()).expect("the server's RSS");
    let growth = after.saturating_sub(before) as f64 / MIB;
    println!(
        "RSS {:.1} MiB after 1000 joins, {:.1} MiB after 100 messages of 9 KB: +{growth:.1} MiB ({:.1} s)",
        before as f64 / MIB,
        after as f64 / MIB,
        started.elapsed().as_secs_f64()
    );
    // A copy per member would be 1000 x 100 x 9 KB, about 900 MiB.
    assert!(growth < 30.0, "+{growth:.1} MiB");
    // Each idle user's queue holds what its byte limit allows, and no more
    // is dropped than that says.
    let st = status(&a);
    assert_eq!(st["stats"]["put"], 100);
    assert!(st["stats"]["dropped"].as_u64().unwrap() > 0, "{st}");
}

#[test]
fn the_user_cap_answers_503() {
    let (_server, a) = serve("C", &["--max-users", "3"]);
    let tokens: Vec<String> = (0..3).map(|i| join(&a, "topic1", &format!("u{i}")).1).collect();
    let (status_code, body, token) = try_join(&a, "topic1", "u3", None);
    assert_eq!(status_code, 503, "{body}");
    assert!(body.contains("too many users"), "{body}");
    assert!(token.is_empty());
    assert_eq!(status(&a)["stats"]["refused_users"], 1);
    // The users already here go on: they join other rooms and talk.
    let (code, _, _) = try_join(&a, "topic2", "u0", Some(&tokens[0]));
    assert_eq!(code, 200);
    assert_eq!(put(&a, "topic2", "u0", Some(&tokens[0]), "still here"), 200);
}
