//! CURVE for the binaries: the `--curve-*` flags, the ZAP handler of a
//! broker, and which keys may register which MDP services.
//!
//! A process is either a CURVE server (`zbroker`: every socket it makes
//! is a CURVE server, and a ZAP handler admits only the client keys in
//! `--curve-allow DIR`) or a CURVE client (`zworker`, `zclient`: every
//! socket authenticates with `--curve-secret-key-file` and checks the
//! broker's `--curve-server-key`). NULL and PLAIN peers of a CURVE server
//! fail the handshake (mechanism mismatch), unknown keys get ZAP 400.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use clap::Args;
use zgreen::zmq::auth::{self, AuthConfig, Authenticator};
use zgreen::zmq::keys::{KeyPair, PublicKey};

/// The ZAP domain of the brokers' CURVE sockets.
pub const ZAP_DOMAIN: &str = "zgreen";

/// CURVE flags shared by all binaries.
#[derive(Args, Clone, Debug, Default)]
pub struct CurveArgs {
    /// This process's CURVE key pair (a NAME.key_secret file from `zkeys
    /// generate`, mode 0600). Turns CURVE on.
    #[arg(
        long,
        value_name = "FILE",
        env = "ZGREEN_CURVE_SECRET_KEY_FILE",
        global = true
    )]
    pub curve_secret_key_file: Option<PathBuf>,
    /// Workers and clients: the broker's public key, in Z85 (40
    /// characters) or as the path of its NAME.key file.
    #[arg(long, value_name = "KEY|FILE", env = "ZGREEN_CURVE_SERVER_KEY", global = true)]
    pub curve_server_key: Option<String>,
    /// Brokers: a directory of client public key files; only these keys
    /// are admitted. Re-read on SIGHUP.
    #[arg(long, value_name = "DIR", env = "ZGREEN_CURVE_ALLOW", global = true)]
    pub curve_allow: Option<PathBuf>,
}

impl CurveArgs {
    /// True when any CURVE flag is given.
    pub fn any(&self) -> bool {
        self.curve_secret_key_file.is_some() || self.curve_server_key.is_some() || self.curve_allow.is_some()
    }
}

/// What every socket of this process gets.
#[derive(Debug)]
enum Profile {
    Server(KeyPair),
    Client { pair: KeyPair, server: PublicKey },
}

static PROFILE: OnceLock<Profile> = OnceLock::new();

/// The role of a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Binds: brokers and devices.
    Server,
    /// Connects: workers and clients.
    Client,
}

/// Checks the CURVE flags for `role` and installs them: from now on
/// [`apply`] (called by [`cli::socket`](crate::cli::socket)) secures every
/// socket. A server also gets its ZAP handler, returned: keep it alive.
/// Without CURVE flags, does nothing.
pub fn install(
    args: &CurveArgs,
    role: Role,
    ctx: &zgreen::zmq::Context,
) -> Result<Option<Authenticator>, String> {
    if !args.any() {
        return Ok(None);
    }
    let secret = args
        .curve_secret_key_file
        .as_ref()
        .ok_or("CURVE needs --curve-secret-key-file FILE (make one with zkeys generate)")?;
    let pair = KeyPair::load_secret(secret).map_err(|e| e.to_string())?;
    match role {
        Role::Server => {
            if args.curve_server_key.is_some() {
                return Err(
                    "--curve-server-key is for workers and clients; a broker uses its own key pair".into(),
                );
            }
            let dir = args
                .curve_allow
                .as_ref()
                .ok_or("a CURVE broker needs --curve-allow DIR (the client keys it admits)")?;
            let config = AuthConfig::new()
                .domain(ZAP_DOMAIN)
                .deny_null()
                .curve_dir(dir)
                .map_err(|e| e.to_string())?;
            let authenticator = Authenticator::start(ctx, config)
                .map_err(|e| format!("cannot start the ZAP handler: {e}"))?;
            tracing::info!(public_key = %pair.public, allow = %dir.display(), "CURVE on: only allowed client keys");
            let _ = PROFILE.set(Profile::Server(pair));
            Ok(Some(authenticator))
        }
        Role::Client => {
            if args.curve_allow.is_some() {
                return Err("--curve-allow is for brokers".into());
            }
            let server = args
                .curve_server_key
                .as_deref()
                .ok_or("a CURVE client needs --curve-server-key KEY|FILE (the broker's public key)")?;
            let server = parse_key(server)?;
            tracing::info!(public_key = %pair.public, server = %server, "CURVE on");
            let _ = PROFILE.set(Profile::Client { pair, server });
            Ok(None)
        }
    }
}

/// The path of a public key file, or a Z85 key. A file wins: a 40-byte
/// path can also be valid Z85.
fn parse_key(text: &str) -> Result<PublicKey, String> {
    if Path::new(text).is_file() {
        return PublicKey::load(text).map_err(|e| format!("--curve-server-key: {e}"));
    }
    PublicKey::from_z85(text)
        .map_err(|e| format!("--curve-server-key: neither a key file nor a Z85 key: {e}"))
}

/// Secures `sock` as installed by [`install`] (nothing when CURVE is off);
/// true if it did. Must run before `bind`/`connect`.
pub fn apply(sock: &zgreen::zmq::Socket) -> zgreen::Result<bool> {
    match PROFILE.get() {
        None => return Ok(false),
        Some(Profile::Server(pair)) => auth::set_curve_server(sock, pair, ZAP_DOMAIN)?,
        Some(Profile::Client { pair, server }) => auth::set_curve_client(sock, pair, server)?,
    }
    Ok(true)
}

/// Which CURVE keys may register which MDP services (`--curve-services
/// FILE`): lines `KEY service...`, `KEY *` for any service, `#`
/// comments. A key absent from the file registers nothing.
#[derive(Clone, Debug, Default)]
pub struct ServiceKeys {
    rules: HashMap<String, Option<HashSet<Vec<u8>>>>,
}

impl ServiceKeys {
    /// Reads a rules file.
    pub fn load(path: &Path) -> Result<ServiceKeys, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        ServiceKeys::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses rules (see the type).
    pub fn parse(text: &str) -> Result<ServiceKeys, String> {
        let mut rules: HashMap<String, Option<HashSet<Vec<u8>>>> = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut words = line.split_whitespace();
            let key = words.next().unwrap_or_default();
            PublicKey::from_z85(key).map_err(|e| format!("line {}: {e}", n + 1))?;
            let services: Vec<&str> = words.collect();
            if services.is_empty() {
                return Err(format!("line {}: a key needs at least one service (or *)", n + 1));
            }
            let entry = rules
                .entry(key.to_string())
                .or_insert_with(|| Some(HashSet::new()));
            for s in services {
                match (s, entry.as_mut()) {
                    ("*", _) => *entry = None,
                    (s, Some(set)) => {
                        set.insert(s.as_bytes().to_vec());
                    }
                    (_, None) => {}
                }
            }
        }
        Ok(ServiceKeys { rules })
    }

    /// May the peer with `user_id` (its Z85 key) register `service`?
    pub fn allows(&self, user_id: Option<&str>, service: &[u8]) -> bool {
        match user_id.and_then(|u| self.rules.get(u)) {
            Some(None) => true,
            Some(Some(set)) => set.contains(service),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_rules() {
        let a = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
        let b = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";
        let rules = ServiceKeys::parse(&format!("# rules\n{a} echo time\n{b} *\n")).unwrap();
        assert!(rules.allows(Some(a), b"echo"));
        assert!(!rules.allows(Some(a), b"admin"));
        assert!(rules.allows(Some(b), b"admin"));
        assert!(!rules.allows(None, b"echo"));
        assert!(!rules.allows(Some("other"), b"echo"));
        assert!(ServiceKeys::parse("short echo").is_err());
        assert!(ServiceKeys::parse(a).is_err());
    }
}
