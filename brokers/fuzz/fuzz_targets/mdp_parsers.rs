#![no_main]

use libfuzzer_sys::fuzz_target;
use zgreen_brokers::frames::Limits;
use zgreen_brokers::mdp;

mod split;

fuzz_target!(|data: &[u8]| {
    let f = split::frames(data);
    for limits in [Limits::default(), Limits { max_frames: 6, max_frame_bytes: 16 }] {
        let _ = mdp::parse_broker_inbound(&f, &limits);
        let _ = mdp::parse_worker_inbound(&f, &limits);
        let _ = mdp::parse_client_reply(&f, &limits);
    }
});
