//! ZAP (ZeroMQ Authentication Protocol, RFC 27) handler as a greenlet.
//!
//! libzmq asks the handler bound to [`ZAP_ENDPOINT`] in the socket's
//! context to decide on every NULL (when the socket has a ZAP domain),
//! PLAIN and CURVE handshake. [`Authenticator::start`] binds that endpoint
//! and answers from an [`AuthConfig`]: IP allow/deny lists, PLAIN
//! passwords, CURVE client keys (from a directory of Z85 key files,
//! reloadable) and accepted ZAP domains. Every decision is logged
//! (`tracing`, target `zgreen::zmq::auth`) and counted ([`AuthStats`]).
//!
//! A malformed request gets a 500 reply; the handler never panics on its
//! input and answers from memory, so one bad or slow peer cannot stall
//! other handshakes (libzmq runs each handshake on its own and gives up on
//! one after `ZMQ_HANDSHAKE_IVL`).
//!
//! ```
//! use zgreen::zmq::Context;
//! use zgreen::zmq::auth::{AuthConfig, Authenticator};
//!
//! let ctx = Context::new();
//! let auth = Authenticator::start(&ctx, AuthConfig::new().password("admin", "secret")).unwrap();
//! let server = ctx.socket(zmq::REP).unwrap();
//! server.set_plain_server(true).unwrap();
//! server.bind("tcp://127.0.0.1:*").unwrap();
//! let client = ctx.socket(zmq::REQ).unwrap();
//! client.set_plain_username(Some("admin")).unwrap();
//! client.set_plain_password(Some("secret")).unwrap();
//! client.connect(&server.last_endpoint().unwrap()).unwrap();
//! client.send("hi", 0).unwrap();
//! assert_eq!(server.recv_bytes(0).unwrap(), b"hi");
//! assert_eq!(auth.stats().accepted, 1);
//! ```
//!
//! # CURVE
//! CURVE needs a libzmq built with libsodium. The default build has it: the
//! workspace's copy of zmq-sys (`vendor/zmq-sys`) compiles libzmq with a
//! static libsodium built from source (`libsodium-sys-stable`), so
//! `zmq::has("curve")` is true without any system package.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::keys::{self, KeyPair, PublicKey};
use super::{Context, Socket};
use crate::error::{Error, Result};
use crate::greenlet::Greenlet;

/// The endpoint libzmq sends ZAP requests to.
pub const ZAP_ENDPOINT: &str = "inproc://zeromq.zap.01";

/// `ZMQ_ZAP_ENFORCE_DOMAIN` (libzmq 4.3 draft option number).
const ZMQ_ZAP_ENFORCE_DOMAIN: i32 = 93;

/// Makes `sock` a CURVE server with `pair`, answering to ZAP `domain`.
pub fn set_curve_server(sock: &Socket, pair: &KeyPair, domain: &str) -> Result<()> {
    sock.set_zap_domain(domain)?;
    sock.set_curve_server(true)?;
    sock.set_curve_secretkey(pair.secret_bytes())?;
    Ok(())
}

/// Makes `sock` a CURVE client of the server whose public key is
/// `server`, authenticating with `pair`.
pub fn set_curve_client(sock: &Socket, pair: &KeyPair, server: &PublicKey) -> Result<()> {
    sock.set_curve_serverkey(&server.0)?;
    sock.set_curve_publickey(&pair.public.0)?;
    sock.set_curve_secretkey(pair.secret_bytes())?;
    Ok(())
}

/// Sets libzmq's `ZMQ_ZAP_ENFORCE_DOMAIN`: with it, a handshake that needs
/// ZAP fails when no handler is bound, instead of being let through.
///
/// It takes a `zmq::Socket` it can borrow mutably (for its raw pointer):
/// green sockets do not expose theirs yet. libzmq builds without draft
/// options refuse it with `EINVAL`.
pub fn set_zap_enforce_domain(sock: &mut zmq::Socket, enforce: bool) -> Result<()> {
    // SAFETY: `sock` is a live socket, borrowed mutably on this thread.
    Ok(unsafe { super::ffi::set_int_option(sock.as_mut_ptr(), ZMQ_ZAP_ENFORCE_DOMAIN, enforce.into()) }?)
}

/// Which CURVE client keys are accepted.
#[derive(Clone, Debug, Default)]
pub enum CurvePolicy {
    /// CURVE handshakes are refused (the default).
    #[default]
    Deny,
    /// Any client key (the connection is still encrypted).
    AnyKey,
    /// Only these keys, loaded from `dir` (see [`Authenticator::reload_curve`]).
    Keys {
        /// The directory of Z85 public key files.
        dir: Option<PathBuf>,
        /// The allowed keys.
        keys: HashSet<PublicKey>,
    },
}

/// What the handler accepts. Built with chained calls:
///
/// ```
/// use zgreen::zmq::auth::AuthConfig;
/// let config = AuthConfig::new().deny_ip("10.0.0.66").domain("global");
/// ```
/// `Debug` shows PLAIN user names, never their passwords.
#[derive(Clone, Default)]
pub struct AuthConfig {
    allow_ips: HashSet<String>,
    deny_ips: HashSet<String>,
    passwords: HashMap<String, String>,
    curve: CurvePolicy,
    domains: Option<HashSet<String>>,
    deny_null: bool,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut users: Vec<&String> = self.passwords.keys().collect();
        users.sort();
        f.debug_struct("AuthConfig")
            .field("allow_ips", &self.allow_ips)
            .field("deny_ips", &self.deny_ips)
            .field("plain_users", &users)
            .field("curve", &self.curve)
            .field("domains", &self.domains)
            .field("deny_null", &self.deny_null)
            .finish()
    }
}

impl AuthConfig {
    /// Accepts NULL from every address, no PLAIN user, no CURVE key, any
    /// domain.
    pub fn new() -> AuthConfig {
        AuthConfig::default()
    }

    /// Adds `ip` to the allow list: once the list is not empty, every other
    /// address is refused (all mechanisms).
    pub fn allow_ip(mut self, ip: &str) -> AuthConfig {
        self.allow_ips.insert(ip.to_string());
        self
    }

    /// Adds `ip` to the deny list (all mechanisms). Ignored when an allow
    /// list is set, as in CZMQ's zauth.
    pub fn deny_ip(mut self, ip: &str) -> AuthConfig {
        self.deny_ips.insert(ip.to_string());
        self
    }

    /// Refuses NULL handshakes that reach the handler.
    pub fn deny_null(mut self) -> AuthConfig {
        self.deny_null = true;
        self
    }

    /// Accepts PLAIN user `name` with `password`.
    pub fn password(mut self, name: &str, password: &str) -> AuthConfig {
        self.passwords.insert(name.to_string(), password.to_string());
        self
    }

    /// Adds the PLAIN users of a password file: `name=password` lines
    /// (blank lines and `#` comments skipped).
    pub fn password_file(mut self, path: impl AsRef<Path>) -> Result<AuthConfig> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((name, password)) = line.split_once('=') else {
                return Err(Error::from(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}:{}: expected name=password", path.display(), n + 1),
                )));
            };
            self.passwords
                .insert(name.trim().to_string(), password.to_string());
        }
        Ok(self)
    }

    /// Accepts any CURVE client key.
    pub fn curve_any(mut self) -> AuthConfig {
        self.curve = CurvePolicy::AnyKey;
        self
    }

    /// Accepts CURVE client key `key` (in addition to those already set).
    pub fn curve_key(mut self, key: PublicKey) -> AuthConfig {
        match &mut self.curve {
            CurvePolicy::Keys { keys, .. } => {
                keys.insert(key);
            }
            other => {
                *other = CurvePolicy::Keys {
                    dir: None,
                    keys: HashSet::from([key]),
                }
            }
        }
        self
    }

    /// Accepts the CURVE client keys in `dir` (public key files; see
    /// [`keys`]). [`Authenticator::reload_curve`] reads the
    /// directory again.
    pub fn curve_dir(mut self, dir: impl Into<PathBuf>) -> Result<AuthConfig> {
        let dir = dir.into();
        let keys = load_keys(&dir)?;
        self.curve = CurvePolicy::Keys { dir: Some(dir), keys };
        Ok(self)
    }

    /// Accepts ZAP domain `domain`. Once a domain is set, requests for any
    /// other domain are refused (domain enforcement in the handler).
    pub fn domain(mut self, domain: &str) -> AuthConfig {
        self.domains
            .get_or_insert_with(HashSet::new)
            .insert(domain.to_string());
        self
    }

    /// Decides on one request: `(status code, status text, user id)`.
    fn decide(&self, req: &ZapRequest<'_>) -> (&'static str, &'static str, String) {
        if let Some(domains) = &self.domains
            && !domains.contains(req.domain)
        {
            return ("400", "unknown ZAP domain", String::new());
        }
        if !self.allow_ips.is_empty() {
            if !self.allow_ips.contains(req.address) {
                return ("400", "address not in the allow list", String::new());
            }
        } else if self.deny_ips.contains(req.address) {
            return ("400", "address denied", String::new());
        }
        match req.mechanism {
            "NULL" if self.deny_null => ("400", "NULL mechanism refused", String::new()),
            "NULL" => ("200", "OK", String::new()),
            "PLAIN" => match req.credentials {
                [user, password] => {
                    let ok = std::str::from_utf8(user)
                        .ok()
                        .and_then(|u| self.passwords.get(u).map(|p| (u, p)))
                        .filter(|(_, p)| p.as_bytes() == *password);
                    match ok {
                        Some((user, _)) => ("200", "OK", user.to_string()),
                        None => ("400", "invalid username or password", String::new()),
                    }
                }
                _ => ("500", "PLAIN needs two credential frames", String::new()),
            },
            "CURVE" => {
                let Some(key) = (match req.credentials {
                    [key] => PublicKey::from_bytes(key),
                    _ => None,
                }) else {
                    return ("500", "CURVE needs one 32-byte credential frame", String::new());
                };
                let allowed = match &self.curve {
                    CurvePolicy::Deny => false,
                    CurvePolicy::AnyKey => true,
                    CurvePolicy::Keys { keys, .. } => keys.contains(&key),
                };
                if allowed {
                    ("200", "OK", key.to_z85())
                } else {
                    ("400", "unknown CURVE key", String::new())
                }
            }
            _ => ("400", "mechanism not supported", String::new()),
        }
    }
}

fn load_keys(dir: &Path) -> Result<HashSet<PublicKey>> {
    let (keys, bad) = keys::load_public_dir(dir)?;
    for (path, e) in bad {
        tracing::warn!(target: "zgreen::zmq::auth", path = %path.display(), "skipping key file: {e}");
    }
    Ok(keys.into_iter().collect())
}

/// A parsed ZAP 1.0 request.
struct ZapRequest<'a> {
    request_id: &'a [u8],
    domain: &'a str,
    address: &'a str,
    mechanism: &'a str,
    credentials: &'a [Vec<u8>],
}

fn parse(frames: &[Vec<u8>]) -> std::result::Result<ZapRequest<'_>, &'static str> {
    let [
        version,
        request_id,
        domain,
        address,
        _identity,
        mechanism,
        credentials @ ..,
    ] = frames
    else {
        return Err("fewer than 6 frames");
    };
    if version.as_slice() != b"1.0" {
        return Err("version is not 1.0");
    }
    fn text(f: &[u8]) -> std::result::Result<&str, &'static str> {
        std::str::from_utf8(f).map_err(|_| "frame is not UTF-8")
    }
    Ok(ZapRequest {
        request_id,
        domain: text(domain)?,
        address: text(address)?,
        mechanism: text(mechanism)?,
        credentials,
    })
}

/// Counters of the handler's decisions (a snapshot).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AuthStats {
    /// Requests received (malformed included).
    pub requests: u64,
    /// Replies with status 200.
    pub accepted: u64,
    /// Replies with status 400.
    pub denied: u64,
    /// Malformed requests (answered with 500 when possible).
    pub malformed: u64,
    /// CURVE key reloads.
    pub reloads: u64,
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    accepted: AtomicU64,
    denied: AtomicU64,
    malformed: AtomicU64,
    reloads: AtomicU64,
}

/// The ZAP handler of one context: a greenlet on the thread that started
/// it. Dropping it (or [`stop`](Self::stop)) kills the greenlet and
/// unbinds [`ZAP_ENDPOINT`].
///
/// Keep it alive as long as its sockets: libzmq admits PLAIN and CURVE
/// peers when no handler is bound, unless the socket sets
/// `ZMQ_ZAP_ENFORCE_DOMAIN` ([`set_zap_enforce_domain`]). The greenlet
/// itself only stops when killed; a receive error is logged and retried.
pub struct Authenticator {
    config: Arc<Mutex<AuthConfig>>,
    counters: Arc<Counters>,
    greenlet: Greenlet<Result<()>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("stats", &self.stats())
            .finish()
    }
}

impl Drop for Authenticator {
    fn drop(&mut self) {
        self.greenlet.kill_nowait();
    }
}

impl Authenticator {
    /// Binds [`ZAP_ENDPOINT`] in `ctx` and starts answering from `config`.
    /// Fails if another handler is bound in this context.
    pub fn start(ctx: &Context, config: AuthConfig) -> Result<Authenticator> {
        let sock = ctx.socket(zmq::REP)?;
        sock.set_linger(0)?;
        sock.bind(ZAP_ENDPOINT)?;
        let config = Arc::new(Mutex::new(config));
        let counters = Arc::new(Counters::default());
        let greenlet = {
            let config = config.clone();
            let counters = counters.clone();
            crate::greenlet::Builder::new()
                .name("zap-handler")
                .spawn(move || serve(sock, config, counters))?
        };
        Ok(Authenticator {
            config,
            counters,
            greenlet,
        })
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> AuthStats {
        let c = &self.counters;
        AuthStats {
            requests: c.requests.load(Ordering::Relaxed),
            accepted: c.accepted.load(Ordering::Relaxed),
            denied: c.denied.load(Ordering::Relaxed),
            malformed: c.malformed.load(Ordering::Relaxed),
            reloads: c.reloads.load(Ordering::Relaxed),
        }
    }

    /// Changes the configuration; the next request sees the change.
    pub fn update(&self, f: impl FnOnce(&mut AuthConfig)) {
        f(&mut lock(&self.config));
    }

    /// Reads the CURVE key directory again and returns the number of keys
    /// now allowed. On an error the old keys stay in force.
    pub fn reload_curve(&self) -> Result<usize> {
        let dir = match &lock(&self.config).curve {
            CurvePolicy::Keys { dir: Some(dir), .. } => dir.clone(),
            _ => return Ok(0),
        };
        let fresh = load_keys(&dir)?;
        let n = fresh.len();
        if let CurvePolicy::Keys { keys, .. } = &mut lock(&self.config).curve {
            *keys = fresh;
        }
        self.counters.reloads.fetch_add(1, Ordering::Relaxed);
        tracing::info!(target: "zgreen::zmq::auth", dir = %dir.display(), keys = n, "reloaded CURVE keys");
        Ok(n)
    }

    /// Stops the handler and unbinds the endpoint.
    pub fn stop(self) {
        let _ = self.greenlet.kill();
    }
}

fn lock(config: &Mutex<AuthConfig>) -> MutexGuard<'_, AuthConfig> {
    config.lock().unwrap_or_else(|e| e.into_inner())
}

fn serve(sock: Socket, config: Arc<Mutex<AuthConfig>>, counters: Arc<Counters>) -> Result<()> {
    loop {
        let frames = match sock.recv_multipart(0) {
            Ok(frames) => frames,
            Err(Error::Killed) => return Ok(()),
            // Never give up the endpoint: without a handler, libzmq lets
            // PLAIN and CURVE peers in unless ZMQ_ZAP_ENFORCE_DOMAIN is set.
            Err(e) => {
                tracing::error!(target: "zgreen::zmq::auth", "ZAP handler cannot receive: {e}");
                match crate::greenlet::sleep(std::time::Duration::from_millis(50)) {
                    Err(Error::Killed) => return Ok(()),
                    _ => continue,
                }
            }
        };
        counters.requests.fetch_add(1, Ordering::Relaxed);
        let reply: [Vec<u8>; 6] = match parse(&frames) {
            Ok(req) => {
                let (code, text, user) = lock(&config).decide(&req);
                let counter = match code {
                    "200" => &counters.accepted,
                    "400" => &counters.denied,
                    _ => &counters.malformed,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                // Credentials are never logged: PLAIN carries a password.
                tracing::info!(
                    target: "zgreen::zmq::auth",
                    domain = req.domain,
                    address = req.address,
                    mechanism = req.mechanism,
                    user,
                    status = code,
                    "ZAP {}: {text}",
                    if code == "200" { "accepted" } else { "denied" }
                );
                [
                    b"1.0".to_vec(),
                    req.request_id.to_vec(),
                    code.into(),
                    text.into(),
                    user.into_bytes(),
                    Vec::new(),
                ]
            }
            Err(why) => {
                counters.malformed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(target: "zgreen::zmq::auth", frames = frames.len(), "malformed ZAP request: {why}");
                let id = frames.get(1).cloned().unwrap_or_default();
                [
                    b"1.0".to_vec(),
                    id,
                    b"500".to_vec(),
                    why.into(),
                    Vec::new(),
                    Vec::new(),
                ]
            }
        };
        match sock.send_multipart(reply, 0) {
            Ok(()) => {}
            Err(Error::Killed) => return Ok(()),
            Err(e) => {
                tracing::warn!(target: "zgreen::zmq::auth", "cannot send a ZAP reply: {e}");
            }
        }
    }
}
