#![no_main]

use libfuzzer_sys::fuzz_target;
use zgreen_brokers::frames::Limits;
use zgreen_brokers::{lb, ppp};

mod split;

fuzz_target!(|data: &[u8]| {
    let f = split::frames(data);
    let limits = Limits::default();
    let _ = ppp::parse_queue_inbound(&f, &limits);
    let _ = ppp::parse_worker_inbound(&f, &limits);
    let _ = ppp::parse_client_request(&f, &limits);
    let _ = lb::parse_backend(&f, &limits);
    let _ = lb::parse_worker_request(&f, &limits);
});
