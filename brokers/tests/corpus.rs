//! Replays the corpus of malformed (and a few valid) messages in
//! `tests/corpus/` against every parser: each line names the exact error
//! the parser must return, and none may panic.

use zgreen_brokers::frames::{Limits, Malformed};
use zgreen_brokers::{lb, mdp, ppp};

fn unescape(field: &str) -> Vec<u8> {
    match field {
        "\\e" => return Vec::new(),
        "\\big" => return vec![b'x'; 2 << 20],
        _ => {}
    }
    let b = field.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1] == b'x' {
            let hex = std::str::from_utf8(&b[i + 2..i + 4]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// Replays corpus `file` through `parse` and checks that it held at least
/// `min_cases` cases.
fn replay<T>(file: &str, min_cases: usize, parse: impl Fn(&[Vec<u8>]) -> Result<T, Malformed>) {
    let path = format!("{}/tests/corpus/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let mut n = 0;
    for (lineno, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split(" | ").map(str::trim);
        let expected = fields.next().unwrap();
        let frames: Vec<Vec<u8>> = fields.map(unescape).collect();
        let got = parse(&frames).map(|_| ());
        let got_reason = match &got {
            Ok(()) => "ok",
            Err(e) => e.reason(),
        };
        assert_eq!(got_reason, expected, "{file}:{}: {line} → {got:?}", lineno + 1);
        if let Err(e) = got {
            assert!(!e.to_string().is_empty());
        }
        n += 1;
    }
    assert!(n >= min_cases, "{file}: {n} cases");
}

#[test]
fn broker_inbound_corpus() {
    let limits = Limits::default();
    replay("broker_inbound.txt", 39, |f| {
        mdp::parse_broker_inbound(f, &limits)
    });
}

#[test]
fn worker_inbound_corpus() {
    let limits = Limits::default();
    replay("worker_inbound.txt", 15, |f| {
        mdp::parse_worker_inbound(f, &limits)
    });
}

#[test]
fn client_reply_corpus() {
    let limits = Limits::default();
    replay("client_reply.txt", 6, |f| mdp::parse_client_reply(f, &limits));
}

#[test]
fn ppp_corpora() {
    let limits = Limits::default();
    replay("ppp_queue.txt", 12, |f| ppp::parse_queue_inbound(f, &limits));
    replay("ppp_worker.txt", 8, |f| ppp::parse_worker_inbound(f, &limits));
}

#[test]
fn lb_corpus() {
    let limits = Limits::default();
    replay("lb_backend.txt", 8, |f| lb::parse_backend(f, &limits));
}
