//! Replays the fuzz targets' seed corpora (`fuzz/corpus/`) through the
//! same entry points the targets use (`zgreen::http::fuzz`), as ordinary
//! tests: the server must never panic, and must answer with an HTTP
//! response or nothing (a connection closed early).
#![cfg(feature = "http")]

use std::path::Path;
use std::time::Duration;

mod common;
use common::bounded_by;

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no seeds in {}", dir.display());
    files
}

/// The status code at the start of `out`, if it is an HTTP response.
fn status(out: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(out.get(..12)?).ok()?;
    let code = text
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| text.strip_prefix("HTTP/1.0 "))?;
    code.parse().ok()
}

#[test]
fn http_request_corpus_replays() {
    // The statuses some seeds must get; the others just must not crash.
    let expected = [
        ("get", 200),
        ("http12", 200),
        ("http20", 505),
        ("bad_host", 400),
        ("smuggling", 400),
        ("huge_chunk", 413),
        ("chunked", 200),
    ];
    bounded_by(Duration::from_secs(60), || {
        for (name, input) in corpus("http_request") {
            let out = zgreen::http::fuzz::serve_bytes(&input);
            assert!(
                out.is_empty() || status(&out).is_some(),
                "{name}: not an HTTP response: {:?}",
                String::from_utf8_lossy(&out)
            );
            if let Some(&(_, want)) = expected.iter().find(|(n, _)| *n == name) {
                assert_eq!(
                    status(&out),
                    Some(want),
                    "{name}: {:?}",
                    String::from_utf8_lossy(&out)
                );
            }
        }
        Ok(())
    });
}

#[test]
fn websocket_corpus_replays() {
    bounded_by(Duration::from_secs(60), || {
        for (name, frames) in corpus("websocket") {
            let out = zgreen::http::fuzz::serve_websocket_bytes(&frames);
            assert_eq!(
                status(&out),
                Some(101),
                "{name}: {:?}",
                String::from_utf8_lossy(&out)
            );
        }
        Ok(())
    });
}
