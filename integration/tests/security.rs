//! CURVE and ZAP through the binaries (issue 8): `zkeys`, a CURVE
//! `zbroker mdp` that admits only listed keys and restricts which key may
//! register which service, CURVE workers and clients. CURVE is in the
//! default build: every test runs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use zgreen_integration::*;

mod common;
use common::{expect_one_line_exit, mdp_echo_args};

fn temp_dir(name: &str) -> PathBuf {
    zgreen_harness::fresh_temp_dir("zgreen-security", name)
}

/// `zkeys generate` into `dir`; the public key printed.
fn keygen(dir: &Path, name: &str) -> String {
    let mut p = Proc::start(
        "zkeys",
        &["generate", "--dir", dir.to_str().unwrap(), "--name", name],
    );
    let status = p.wait_exit(Duration::from_secs(10)).expect("zkeys exits");
    assert_eq!(Proc::code(status), 0, "{}", p.dump());
    let key = p.log().lines().next().unwrap_or_default().to_string();
    assert_eq!(key.len(), 40, "{}", p.dump());
    assert!(
        !p.log().contains("secret-key"),
        "zkeys printed a secret:\n{}",
        p.log()
    );
    key
}

fn secret(dir: &Path, name: &str) -> String {
    dir.join(format!("{name}.key_secret"))
        .to_str()
        .unwrap()
        .to_string()
}

fn mdp_client<'a>(
    ep: &'a str,
    count: &'a str,
    timeout_ms: &'a str,
    retries: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = mdp_echo_args(ep, count, "2", timeout_ms, retries);
    args.extend_from_slice(extra);
    args
}

/// `zkeys check` reports CURVE; a wrong combination of `--curve-*` flags
/// stops the process at start (exit 1) with one line saying what is wrong.
#[test]
fn zkeys_check_passes_and_misused_curve_flags_give_one_line_each() {
    let mut p = Proc::start("zkeys", &["check"]);
    let out = expect_one_line_exit(&mut p, 0, "zkeys check");
    assert!(out.contains("CURVE available"), "{out}");

    let dir = temp_dir("misuse");
    keygen(&dir, "k");
    let d = dir.to_str().unwrap();
    let ks = secret(&dir, "k");
    let kp = dir.join("k.key").to_str().unwrap().to_string();
    let (ep, _) = endpoint();
    let peer_keys = ["mdp", "--connect", &ep, "--curve-secret-key-file", &ks];
    for (bin, args, needle) in [
        (
            "zbroker",
            vec!["mdp", "--bind", &ep, "--curve-allow", d],
            "needs --curve-secret-key-file",
        ),
        (
            "zbroker",
            vec!["mdp", "--bind", &ep, "--curve-secret-key-file", &ks],
            "needs --curve-allow",
        ),
        (
            "zbroker",
            vec![
                "mdp",
                "--bind",
                &ep,
                "--curve-secret-key-file",
                &ks,
                "--curve-allow",
                d,
                "--curve-server-key",
                &kp,
            ],
            "--curve-server-key is for workers and clients",
        ),
        ("zworker", peer_keys.to_vec(), "needs --curve-server-key"),
        (
            "zclient",
            [&peer_keys[..], &["--curve-server-key", &kp, "--curve-allow", d]].concat(),
            "--curve-allow is for brokers",
        ),
        (
            "zclient",
            [&peer_keys[..], &["--curve-server-key", "not-a-key"]].concat(),
            "--curve-server-key: neither a key file nor a Z85 key",
        ),
    ] {
        let mut p = Proc::start_env(bin, &args, &[("RUST_LOG", "off")]);
        let out = expect_one_line_exit(&mut p, 1, &format!("{bin} {args:?}"));
        assert!(out.contains(needle), "{bin} {args:?}: {out}");
    }
}

/// The broker's and its peers' keys, and the flags that use them.
struct Deployment {
    keys: PathBuf,
    broker: Broker,
    worker_key: String,
}

fn deploy(name: &str) -> Deployment {
    // Its own directory per --threads: both variants may run at once.
    let keys = temp_dir(&format!("{name}-t{}", threads().unwrap_or(0)));
    let allow = keys.join("allow");
    std::fs::create_dir_all(&allow).unwrap();
    keygen(&keys, "broker");
    let worker_key = keygen(&keys, "worker");
    keygen(&keys, "client");
    keygen(&keys, "stranger");
    for k in ["worker", "client"] {
        std::fs::copy(keys.join(format!("{k}.key")), allow.join(format!("{k}.key"))).unwrap();
    }
    let services = keys.join("services");
    std::fs::write(&services, format!("# who may register what\n{worker_key} echo\n")).unwrap();
    let broker = Broker::start(&[
        "--curve-secret-key-file",
        &secret(&keys, "broker"),
        "--curve-allow",
        allow.to_str().unwrap(),
        "--curve-services",
        services.to_str().unwrap(),
    ]);
    Deployment {
        keys,
        broker,
        worker_key,
    }
}

impl Deployment {
    /// Waits (10 s at most) until the broker has logged `needle`; fails
    /// the test with the broker's log if it has not.
    fn expect_broker_log(&self, needle: &str) {
        assert!(
            self.broker.proc.wait_log(needle, 1, Duration::from_secs(10)),
            "{}",
            self.broker.proc.dump()
        );
    }

    /// Waits until the broker has logged a failed handshake explained as
    /// `why`, and counted one with reason `label` on its ROUTER.
    fn expect_handshake_failure(&self, why: &str, label: &str) {
        self.expect_broker_log(&format!("handshake failed: {why}"));
        let labels = format!("socket=\"router\",reason=\"{label}\"");
        assert!(
            wait_until(Duration::from_secs(10), || {
                self.broker.metric("zgreen_handshake_failures_total", &labels) >= 1.0
            }),
            "no zgreen_handshake_failures_total{{{labels}}}\n{}",
            self.broker.proc.dump()
        );
    }

    fn peer_flags(&self, name: &str) -> Vec<String> {
        vec![
            "--curve-secret-key-file".into(),
            secret(&self.keys, name),
            "--curve-server-key".into(),
            self.keys.join("broker.key").to_str().unwrap().into(),
        ]
    }
}

threads_tests! {
    fn encrypted_mdp_exchange_through_zbroker_end_to_end() {
        let d = deploy("e2e");
        let wflags = d.peer_flags("worker");
        let wflags: Vec<&str> = wflags.iter().map(String::as_str).collect();
        let worker = mdp_worker(&d.broker.endpoint, "echo", &wflags);
        assert!(
            d.broker.wait_workers("echo", 1, Duration::from_secs(10)),
            "the CURVE worker did not register\n{}\n{}",
            d.broker.proc.dump(),
            worker.dump()
        );
        let cflags = d.peer_flags("client");
        let cflags: Vec<&str> = cflags.iter().map(String::as_str).collect();
        let (code, summary, client) = run_client(
            &mdp_client(&d.broker.endpoint, "50", "2000", "2", &cflags),
            Duration::from_secs(30),
        );
        assert_eq!(code, 0, "{}\n{}", client.dump(), d.broker.proc.dump());
        assert_eq!(field(&summary, "received"), 50, "{summary}");
        assert_eq!(field(&summary, "lost"), 0, "{summary}");
        assert!(
            d.broker.proc.log().contains("CURVE on"),
            "{}",
            d.broker.proc.dump()
        );
        assert!(
            !d.broker.proc.log().contains("secret-key ="),
            "a secret in the log"
        );
        assert_eq!(d.worker_key.len(), 40);
    }
}

threads_tests! {
    fn curve_broker_refuses_unknown_keys_null_clients_and_unlisted_services() {
        let d = deploy("refuse");
        let ep = d.broker.endpoint.clone();

        // A NULL client (raw DEALER, no CURVE): its request goes nowhere.
        // Both ends see the mechanism mismatch; when the client's engine
        // closes first, the broker sees only a connection dropped in the
        // handshake. So a few NULL clients try, until the broker has
        // reported the mismatch itself (every one of them must be refused).
        let ctx = zmq::Context::new();
        let mismatch = "handshake failed: security mechanism mismatch";
        for attempt in 1..=5 {
            let s = ctx.socket(zmq::DEALER).unwrap();
            s.set_linger(0).unwrap();
            s.set_rcvtimeo(1000).unwrap();
            s.connect(&ep).unwrap();
            s.send_multipart([&b""[..], b"MDPC01", b"mmi.service", b"echo"], 0)
                .unwrap();
            assert!(
                recv(&s).is_none(),
                "a NULL client got an answer from a CURVE broker"
            );
            if attempt == 5 || d.broker.proc.wait_log(mismatch, 1, Duration::from_secs(2)) {
                break;
            }
        }
        d.expect_handshake_failure("security mechanism mismatch", "mechanism_mismatch");

        // The client key is admitted but may not register services.
        let cflags = d.peer_flags("client");
        let cflags: Vec<&str> = cflags.iter().map(String::as_str).collect();
        let rogue = mdp_worker(&ep, "echo", &cflags);
        d.expect_broker_log("may not register");
        assert!(!d.broker.wait_workers("echo", 1, Duration::from_millis(500)));
        assert!(
            d.broker
                .metric("zgreen_dropped_messages_total", "reason=\"service_not_allowed\"")
                >= 1.0
        );
        drop(rogue);

        // An unknown key gets nothing: every request is lost.
        let sflags = d.peer_flags("stranger");
        let sflags: Vec<&str> = sflags.iter().map(String::as_str).collect();
        let wflags = d.peer_flags("worker");
        let wflags: Vec<&str> = wflags.iter().map(String::as_str).collect();
        let _worker = mdp_worker(&ep, "echo", &wflags);
        assert!(
            d.broker.wait_workers("echo", 1, Duration::from_secs(10)),
            "{}",
            d.broker.proc.dump()
        );
        let (_, summary, client) = run_client(
            &mdp_client(&ep, "2", "300", "0", &sflags),
            Duration::from_secs(30),
        );
        assert_eq!(field(&summary, "received"), 0, "{summary}\n{}", client.dump());
        assert!(
            d.broker.proc.log().contains("unknown CURVE key"),
            "{}",
            d.broker.proc.dump()
        );
        d.expect_handshake_failure("denied by the server's ZAP handler", "denied");
        assert!(
            client
                .log()
                .contains("handshake failed: denied by the server's ZAP handler"),
            "the client says why it gets nothing\n{}",
            client.dump()
        );

        // Adding its key to the allow directory and SIGHUP let it in.
        std::fs::copy(d.keys.join("stranger.key"), d.keys.join("allow/stranger.key")).unwrap();
        d.broker.proc.signal(libc::SIGHUP);
        d.expect_broker_log("reloaded CURVE keys");
        let (code, summary, client) = run_client(
            &mdp_client(&ep, "5", "2000", "2", &sflags),
            Duration::from_secs(30),
        );
        assert_eq!(code, 0, "{}", client.dump());
        assert_eq!(field(&summary, "received"), 5, "{summary}");

        // An allowed key that expects another server key never gets through.
        let client_secret = secret(&d.keys, "client");
        let wrong_server = d.keys.join("stranger.key");
        let wrong = [
            "--curve-secret-key-file",
            client_secret.as_str(),
            "--curve-server-key",
            wrong_server.to_str().unwrap(),
        ];
        let (_, summary, client) = run_client(&mdp_client(&ep, "1", "300", "0", &wrong), Duration::from_secs(30));
        assert_eq!(field(&summary, "received"), 0, "{summary}\n{}", client.dump());
        d.expect_handshake_failure("the CURVE handshake did not decrypt", "cryptographic");
        assert!(
            client
                .log()
                .contains("handshake failed: the peer closed the connection during the handshake"),
            "the client says why it gets nothing\n{}",
            client.dump()
        );
    }
}
