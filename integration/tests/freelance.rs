//! The freelance MDP client (`zclient mdp --freelance`, 10/FLP style):
//! every request goes to every live broker, the first reply wins, a dead
//! broker costs no timeout.

use std::time::Duration;

use zgreen_integration::*;

mod common;
use common::mdp_echo_args;

const HB: &str = "100";

#[test]
fn first_answer_wins_and_a_killed_broker_costs_no_retry() {
    let mut a = Broker::start(&["--heartbeat-ms", HB]);
    let b = Broker::start(&["--heartbeat-ms", HB]);
    let _wa = mdp_worker(&a.endpoint, "echo", &["--heartbeat-ms", HB]);
    let _wb = mdp_worker(&b.endpoint, "echo", &["--heartbeat-ms", HB]);
    a.expect_workers("echo", 1);
    b.expect_workers("echo", 1);
    let both = format!("{},{}", a.endpoint, b.endpoint);
    let mut args = mdp_echo_args(&both, "2000", "4", "1000", "3");
    args.extend(["--interval-ms", "2", "--freelance"]);
    let mut client = Proc::start("zclient", &args);
    std::thread::sleep(Duration::from_millis(700));
    a.proc.kill();
    let (code, summary) = client.finish(Duration::from_secs(60));
    println!(
        "freelance, one of two brokers SIGKILLed: sent {} received {} lost {} retries {} late (second answers, discarded) {}",
        field(&summary, "sent"),
        field(&summary, "received"),
        field(&summary, "lost"),
        field(&summary, "retries"),
        field(&summary, "late"),
    );
    let ctx = format!("{summary}\n{}", client.dump());
    assert_eq!(code, 0, "{ctx}");
    assert_eq!(field(&summary, "received"), 2000, "{ctx}");
    assert_eq!(field(&summary, "lost"), 0, "{ctx}");
    assert_eq!(field(&summary, "mismatched"), 0, "{ctx}");
    assert_eq!(
        field(&summary, "retries"),
        0,
        "the live broker answered every request: {ctx}"
    );
    assert!(
        field(&summary, "late") >= 1,
        "both brokers answered before the kill: {ctx}"
    );
}
