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

fn replay(file: &str, parse: impl Fn(&[Vec<u8>]) -> Result<(), Malformed>) -> usize {
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
        let got = parse(&frames);
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
    n
}

#[test]
fn broker_inbound_corpus() {
    let limits = Limits::default();
    let n = replay("broker_inbound.txt", |f| {
        mdp::parse_broker_inbound(f, &limits).map(|_| ())
    });
    assert!(n >= 39, "{n} cases");
}

#[test]
fn worker_inbound_corpus() {
    let limits = Limits::default();
    assert!(
        replay("worker_inbound.txt", |f| mdp::parse_worker_inbound(f, &limits)
            .map(|_| ()))
            >= 15
    );
}

#[test]
fn client_reply_corpus() {
    let limits = Limits::default();
    assert!(
        replay("client_reply.txt", |f| mdp::parse_client_reply(f, &limits)
            .map(|_| ()))
            >= 6
    );
}

#[test]
fn ppp_corpora() {
    let limits = Limits::default();
    assert!(
        replay("ppp_queue.txt", |f| ppp::parse_queue_inbound(f, &limits)
            .map(|_| ()))
            >= 12
    );
    assert!(
        replay("ppp_worker.txt", |f| ppp::parse_worker_inbound(f, &limits)
            .map(|_| ()))
            >= 8
    );
}

#[test]
fn lb_corpus() {
    let limits = Limits::default();
    assert!(replay("lb_backend.txt", |f| lb::parse_backend(f, &limits).map(|_| ())) >= 8);
}
