//! Any bytes as the frames a client sends after a valid WebSocket
//! handshake (to an echo handler).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    zgreen::config::set_panic_report(zgreen::config::PanicReport::Silent);
    let _ = zgreen::http::fuzz::serve_websocket_bytes(data);
});
