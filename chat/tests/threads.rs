//! `zchat serve --threads 2`, against a real server process: the kernel
//! spreads each new connection over the two hubs (`SO_REUSEPORT`), and
//! whatever hub a join, put, poll or WebSocket lands on, it reaches the
//! one state: users on different hubs talk in one room over long polling
//! and WebSockets, a user's poll and puts work on either hub, and the
//! name and user-count checks hold for the whole server.
//!
//! Every request below is a new connection (so a new draw of the hub);
//! each response names its hub (`X-Zchat-Hub`), and the tests assert both
//! hubs served. Every child is killed when its handle drops; every wait is
//! bounded, and a watchdog bounds each test.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use tungstenite::Message as M;
use zgreen_harness::{Watchdog, ms};

mod common;
use common::*;

const BOTH: [usize; 2] = [0, 1];

fn two_hubs(id: &str, extra: &[&str]) -> (Proc, String) {
    let mut args = vec!["--threads", "2"];
    args.extend_from_slice(extra);
    serve(id, &args)
}

fn hubs(seen: impl IntoIterator<Item = Option<usize>>) -> BTreeSet<usize> {
    seen.into_iter()
        .map(|h| h.expect("an X-Zchat-Hub header"))
        .collect()
}

#[test]
fn long_polls_and_puts_reach_the_user_on_either_hub() {
    let _dog = Watchdog::arm(Duration::from_secs(60), "long polling on two hubs");
    let (_server, a) = two_hubs("H", &["--poll-timeout-ms", "3000"]);
    let (_, alice) = join(&a, "topic1", "alice");
    let (_, bob) = join(&a, "topic1", "bob");
    // bob's poll waits on one hub while alice's put lands on one: until
    // each crossing (put on 0, poll on 1, and the other way) has happened,
    // and at least 12 rounds.
    let mut crossings = BTreeSet::new();
    let (mut put_hubs, mut poll_hubs) = (Vec::new(), Vec::new());
    let started = Instant::now();
    for i in 0.. {
        if i >= 12 && crossings.len() == 2 {
            break;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "crossings {crossings:?} after {i} rounds"
        );
        let (base, token) = (a.clone(), bob.clone());
        let poller = std::thread::spawn(move || try_poll_hub(&base, "bob", Some(&token)));
        std::thread::sleep(ms(60)); // bob's poll is waiting
        let text = format!("m{i}");
        let (status, put_hub) = put_hub(&a, "topic1", "alice", Some(&alice), &text);
        assert_eq!(status, 200);
        let (status, got, poll_hub) = poller.join().unwrap();
        assert_eq!((status, got), (200, vec![pair("alice", &text)]), "round {i}");
        if put_hub != poll_hub {
            crossings.insert((put_hub, poll_hub));
        }
        put_hubs.push(put_hub);
        poll_hubs.push(poll_hub);
        // alice's own polls (her messages come back to her too).
        let (status, got, hub) = try_poll_hub(&a, "alice", Some(&alice));
        assert_eq!((status, got), (200, vec![pair("alice", &text)]), "round {i}");
        poll_hubs.push(hub);
    }
    assert_eq!(hubs(put_hubs), BTreeSet::from(BOTH));
    assert_eq!(hubs(poll_hubs), BTreeSet::from(BOTH));
    println!("{crossings:?} in {:.1} s", started.elapsed().as_secs_f64());
    // And the other way: bob talks, alice hears, on whatever hubs.
    assert_eq!(put(&a, "topic1", "bob", Some(&bob), "hi alice"), 200);
    assert_eq!(poll_n(&a, "alice", &alice, 1), [pair("bob", "hi alice")]);
    // Both hubs answer the same status: one server.
    let st = status(&a);
    assert_eq!(
        (st["users"].as_u64(), st["members"]["topic1"].as_u64()),
        (Some(2), Some(2))
    );
}

#[test]
fn websockets_on_different_hubs_share_a_room() {
    let _dog = Watchdog::arm(Duration::from_secs(60), "WebSockets on two hubs");
    let (_server, a) = two_hubs("W", &["--poll-timeout-ms", "1500"]);
    let (_, carol_token) = join(&a, "topic1", "carol");
    let cookie = format!("zchat_carol={carol_token}");
    let (mut carol, carol_hub) = try_ws_hub(&a, "topic2", "carol", &[("Cookie", &cookie)]).unwrap();
    let carol_hub = carol_hub.expect("a hub");
    // A partner whose socket lands on the other hub (each try a new name:
    // a refused draw leaves nothing that could take the partner's messages).
    let mut partner = None;
    for i in 0..64 {
        let uid = format!("dave{i}");
        let (_, token) = join(&a, "topic1", &uid);
        let cookie = format!("zchat_{uid}={token}");
        let (ws, hub) = try_ws_hub(&a, "topic2", &uid, &[("Cookie", &cookie)]).unwrap();
        if hub != Some(carol_hub) {
            partner = Some((uid, ws, hub.expect("a hub")));
            break;
        }
    }
    let (dave_uid, mut dave, dave_hub) = partner.expect("a WebSocket on the other hub in 64 tries");
    println!("carol's WebSocket on hub {carol_hub}, {dave_uid}'s on hub {dave_hub}");
    carol.send(M::text("hey dave")).unwrap();
    assert_eq!(ws_next(&mut dave), pair("carol", "hey dave"));
    assert_eq!(ws_next(&mut carol), pair("carol", "hey dave"));
    dave.send(M::text("hey carol")).unwrap();
    assert_eq!(ws_next(&mut carol), pair(&dave_uid, "hey carol"));
    assert_eq!(ws_next(&mut dave), pair(&dave_uid, "hey carol"));
    // A long-polling user, on whatever hubs, with both sockets.
    let (_, erin) = join(&a, "topic2", "erin");
    carol.send(M::text("for everyone")).unwrap();
    assert_eq!(poll_n(&a, "erin", &erin, 1), [pair("carol", "for everyone")]);
    assert_eq!(ws_next(&mut dave), pair("carol", "for everyone"));
    assert_eq!(ws_next(&mut carol), pair("carol", "for everyone"));
    let mut seen = Vec::new();
    for i in 0..12 {
        let text = format!("polled {i}");
        let (status, hub) = put_hub(&a, "topic2", "erin", Some(&erin), &text);
        assert_eq!(status, 200);
        seen.push(hub);
        assert_eq!(ws_next(&mut carol), pair("erin", &text));
        assert_eq!(ws_next(&mut dave), pair("erin", &text));
    }
    assert_eq!(hubs(seen), BTreeSet::from(BOTH));
    carol.close(None).unwrap();
    dave.close(None).unwrap();
}

#[test]
fn names_and_the_user_cap_hold_across_hubs() {
    let _dog = Watchdog::arm(Duration::from_secs(60), "identity on two hubs");
    let (_server, a) = two_hubs("I", &["--max-users", "5"]);
    let (_, alice) = join(&a, "topic1", "alice");
    // A live name: refused without its token, continued with it, on
    // either hub.
    let wrong = "0123456789abcdef0123456789abcdef";
    let mut seen = Vec::new();
    for i in 0..16 {
        let token = [None, Some(wrong)][i % 2];
        let (status, _, given, hub) = try_join_hub(&a, "topic2", "alice", token);
        assert_eq!((status, given.as_str()), (409, ""));
        seen.push(hub);
        let (status, _, again, hub) = try_join_hub(&a, "topic2", "alice", Some(&alice));
        assert_eq!((status, again.as_str()), (200, alice.as_str()));
        seen.push(hub);
        let (status, hub) = put_hub(&a, "topic1", "alice", Some(wrong), "as alice?");
        assert_eq!(status, 403);
        seen.push(hub);
    }
    assert_eq!(hubs(seen), BTreeSet::from(BOTH));

    // Many first joins of one name at once, over both hubs: one session.
    let racers: Vec<_> = (0..16)
        .map(|_| {
            let base = a.clone();
            std::thread::spawn(move || try_join_hub(&base, "topic1", "racer", None))
        })
        .collect();
    let results: Vec<_> = racers.into_iter().map(|t| t.join().unwrap()).collect();
    let won: Vec<_> = results.iter().filter(|r| r.0 == 200).collect();
    assert_eq!(
        won.len(),
        1,
        "{:?}",
        results.iter().map(|r| r.0).collect::<Vec<_>>()
    );
    assert!(results.iter().all(|r| r.0 == 200 || r.0 == 409));
    println!(
        "racer: the session went to hub {:?}; refusals on {:?}",
        won[0].3,
        hubs(results.iter().filter(|r| r.0 == 409).map(|r| r.3))
    );

    // The cap of 5 users is the server's: alice and racer, then 3 of
    // 16 new names joining at once, on whatever hubs.
    let joiners: Vec<_> = (0..16)
        .map(|i| {
            let base = a.clone();
            std::thread::spawn(move || try_join_hub(&base, "topic1", &format!("u{i}"), None))
        })
        .collect();
    let results: Vec<_> = joiners.into_iter().map(|t| t.join().unwrap()).collect();
    let codes: Vec<u16> = results.iter().map(|r| r.0).collect();
    assert_eq!(codes.iter().filter(|&&c| c == 200).count(), 3, "{codes:?}");
    assert_eq!(codes.iter().filter(|&&c| c == 503).count(), 13, "{codes:?}");
    let mut seen: Vec<_> = results.iter().map(|r| r.3).collect();
    for _ in 0..8 {
        let (status, body, _, hub) = try_join_hub(&a, "topic1", "late", None);
        assert_eq!(status, 503, "{body}");
        seen.push(hub);
    }
    assert_eq!(hubs(seen), BTreeSet::from(BOTH));
    let st = status(&a);
    assert_eq!(st["users"], 5, "{st}");
    assert_eq!(st["stats"]["refused_users"], 13 + 8, "{st}");
}

#[test]
fn sigterm_stops_every_hub() {
    let _dog = Watchdog::arm(Duration::from_secs(30), "SIGTERM on two hubs");
    let (mut server, a) = two_hubs("S", &["--poll-timeout-ms", "10000"]);
    let (_, alice) = join(&a, "topic1", "alice");
    // A poll in progress does not hold the server up beyond its grace.
    let url = format!("{a}/poll/alice");
    let _poller = std::thread::spawn(move || {
        // Answered or cut off at the stop: either will do.
        let _ = http()
            .header("X-Zchat-Token", &alice)
            .post(&url, "text/plain", "");
    });
    std::thread::sleep(ms(200));
    let started = Instant::now();
    server.sigterm_exits_cleanly(Duration::from_secs(10));
    println!("stopped in {:.2} s", started.elapsed().as_secs_f64());
}
