//! Any bytes as a client's side of one HTTP connection: request heads,
//! bodies (Content-Length and chunked), pipelined requests, upgrades.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    zgreen::config::set_panic_report(zgreen::config::PanicReport::Silent);
    let _ = zgreen::http::fuzz::serve_bytes(data);
});
