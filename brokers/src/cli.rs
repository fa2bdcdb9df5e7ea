//! What every binary shares: common flags, argument errors on one line,
//! logging, metrics, and shutdown on SIGINT/SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use zgreen::zmq::Context;
use zgreen::zmq::auth::Authenticator;

use crate::frames::Limits;
use crate::metrics::Metrics;

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Flags shared by all binaries.
#[derive(Args, Clone, Debug)]
pub struct Common {
    /// Log format. Levels come from RUST_LOG (default: info), for example
    /// RUST_LOG=debug or RUST_LOG=zgreen_brokers=trace.
    #[arg(
        long,
        value_enum,
        default_value = "pretty",
        env = "ZGREEN_LOG_FORMAT",
        global = true
    )]
    pub log_format: LogFormat,
    /// Serve Prometheus metrics (OpenMetrics text) over HTTP on ADDR at
    /// GET /metrics, for example 127.0.0.1:9100 (port 0 picks a free
    /// port, logged as "serving metrics"). Off by default.
    #[arg(long, value_name = "ADDR", env = "ZGREEN_METRICS", global = true)]
    pub metrics: Option<String>,
    /// LINGER of every socket, in milliseconds: at shutdown, unsent
    /// messages are given this long before the process exits.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 200,
        env = "ZGREEN_LINGER_MS",
        global = true
    )]
    pub linger_ms: u64,
    /// CURVE encryption and authentication.
    #[command(flatten)]
    pub curve: crate::security::CurveArgs,
}

/// Inbound message limits (brokers and workers).
#[derive(Args, Clone, Copy, Debug)]
pub struct LimitArgs {
    /// Largest frame accepted, in bytes; larger ones make the message be
    /// dropped and counted. Frames over 16 times this cut the peer's
    /// connection inside libzmq (ZMQ_MAXMSGSIZE), which bounds memory.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20, env = "ZGREEN_MAX_FRAME_BYTES")]
    pub max_frame_bytes: usize,
    /// Most frames in one message (routing identity included); messages
    /// with more are dropped and counted.
    #[arg(long, value_name = "N", default_value_t = 64, env = "ZGREEN_MAX_FRAMES")]
    pub max_frames: usize,
}

impl LimitArgs {
    /// As [`Limits`].
    pub fn limits(&self) -> Limits {
        Limits {
            max_frames: self.max_frames.max(1),
            max_frame_bytes: self.max_frame_bytes,
        }
    }

    /// Applies `ZMQ_MAXMSGSIZE` (16 × the frame limit) to `sock`.
    pub fn apply(&self, sock: &zgreen::zmq::Socket) -> zgreen::Result<()> {
        let hard = (self.max_frame_bytes as i64).saturating_mul(16).max(1024);
        sock.set_maxmsgsize(hard)?;
        Ok(())
    }
}

/// The command line of `zbroker`, `zclient` and `zworker`: a subcommand
/// and the [`Common`] flags. [`start`] names and describes the binary.
#[derive(clap::Parser, Debug)]
#[command(version)]
pub struct Cli<C: clap::Subcommand> {
    /// What to run.
    #[command(subcommand)]
    pub cmd: C,
    /// The flags every binary has.
    #[command(flatten)]
    pub common: Common,
}

/// Parses the command line; on an error prints one line and exits 2.
/// `--help` and `--version` print and exit 0.
pub fn parse<T: clap::Parser>(name: &str) -> T {
    parse_command(name, T::command())
}

/// As [`parse`], with the arguments `command` describes.
fn parse_command<T: clap::FromArgMatches>(name: &str, mut command: clap::Command) -> T {
    let parsed = command
        .try_get_matches_from_mut(std::env::args_os())
        .and_then(|mut m| T::from_arg_matches_mut(&mut m).map_err(|e| e.format(&mut command)));
    match parsed {
        Ok(t) => t,
        Err(e) => {
            use clap::error::ErrorKind;
            match e.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => e.exit(),
                _ => {
                    let text = e.to_string();
                    let first = text.lines().next().unwrap_or("invalid arguments");
                    let first = first.strip_prefix("error: ").unwrap_or(first);
                    eprintln!("{name}: {first} (see {name} --help)");
                    std::process::exit(2);
                }
            }
        }
    }
}

/// What the `main` of `zbroker`, `zclient` and `zworker` starts from.
#[derive(Debug)]
pub struct Started<C> {
    /// The subcommand.
    pub cmd: C,
    /// The common flags.
    pub common: Common,
    /// The metrics endpoint's registry, when `--metrics` serves one.
    pub metrics: Option<Arc<Metrics>>,
    /// The context of every socket.
    pub ctx: Context,
    /// How long shutdown may take: the linger plus 500 ms.
    pub grace: Duration,
    /// A server's ZAP handler (see [`secure`]); keep it alive.
    pub auth: Option<std::rc::Rc<Authenticator>>,
}

/// Parses the command line of the binary `name` (see [`parse`]), then sets
/// up logging, metrics ([`setup`]), the context, and CURVE for `role`
/// ([`secure`]).
///
/// `about` describes the binary in `--help`; its first paragraph, less
/// a final period, is the summary of `-h`.
pub fn start<C: clap::Subcommand>(
    name: &'static str,
    about: &'static str,
    role: crate::security::Role,
) -> Started<C> {
    start_with(name, about, role, |_| 1)
}

/// [`start`], with the context's libzmq I/O threads chosen from the
/// parsed subcommand (`zbroker ... --threads N`): they are set before the
/// first socket (the ZAP handler's) is made, as libzmq requires.
pub fn start_with<C: clap::Subcommand>(
    name: &'static str,
    about: &'static str,
    role: crate::security::Role,
    io_threads: impl FnOnce(&C) -> usize,
) -> Started<C> {
    use clap::CommandFactory;
    let summary = about.split("\n\n").next().unwrap_or(about);
    let summary = summary.strip_suffix('.').unwrap_or(summary);
    let command = Cli::<C>::command().name(name).about(summary).long_about(about);
    let Cli { cmd, common } = parse_command(name, command);
    let metrics = setup(name, &common);
    let grace = Duration::from_millis(common.linger_ms + 500);
    let ctx = Context::new();
    let io = io_threads(&cmd).clamp(1, 64) as i32;
    if io != 1
        && let Err(e) = ctx.set_io_threads(io)
    {
        fail(name, format_args!("cannot start {io} I/O threads: {e}"));
    }
    let auth = secure(name, &common, role, &ctx);
    Started {
        cmd,
        common,
        metrics,
        ctx,
        grace,
        auth,
    }
}

/// Prints `name: message` on stderr and exits 1.
pub fn fail(name: &str, message: impl std::fmt::Display) -> ! {
    eprintln!("{name}: {message}");
    std::process::exit(1);
}

/// Installs the tracing subscriber (stderr; RUST_LOG or `info`).
pub fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Pretty => builder.with_ansi(false).try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Logging and the optional metrics endpoint, from the common flags.
/// Exits with one line if the metrics address cannot be bound.
///
/// The endpoint is a greenlet on this thread's hub (see
/// [`Metrics::serve`]): it answers while the program's greenlets run,
/// from [`run_until_signal`] on.
pub fn setup(name: &str, common: &Common) -> Option<Arc<Metrics>> {
    init_logging(common.log_format);
    let addr = common.metrics.as_deref()?;
    let metrics = Metrics::new();
    match metrics.serve(addr) {
        Ok(server) => {
            tracing::info!(local = %server.local_addr(), "serving metrics");
            let _ = METRICS.set(metrics.clone());
            Some(metrics)
        }
        Err(e) => fail(name, format_args!("cannot serve metrics on {addr}: {e}")),
    }
}

/// The metrics endpoint's registry, once [`setup`] served one: the
/// handshake watches of [`socket`] count into it.
static METRICS: std::sync::OnceLock<Arc<Metrics>> = std::sync::OnceLock::new();

/// A socket type's name in logs and metric labels.
fn kind_name(kind: zmq::SocketType) -> &'static str {
    match kind {
        zmq::ROUTER => "router",
        zmq::DEALER => "dealer",
        zmq::REQ => "req",
        zmq::REP => "rep",
        zmq::PUB => "pub",
        zmq::SUB => "sub",
        zmq::XPUB => "xpub",
        zmq::XSUB => "xsub",
        zmq::PUSH => "push",
        zmq::PULL => "pull",
        zmq::PAIR => "pair",
        zmq::STREAM => "stream",
    }
}

/// A socket of `kind` with LINGER set from the common flags, secured as
/// [`secure`] installed; a secured socket's failed handshakes are logged
/// and counted ([`handshakes`](crate::handshakes)).
pub fn socket(
    ctx: &zgreen::zmq::Context,
    kind: zmq::SocketType,
    linger_ms: u64,
) -> zgreen::Result<zgreen::zmq::Socket> {
    let s = ctx.socket(kind)?;
    s.set_linger(linger_ms.min(i32::MAX as u64) as i32)?;
    if crate::security::apply(&s)? {
        crate::handshakes::watch(&s, kind_name(kind), METRICS.get().cloned())?;
    }
    Ok(s)
}

/// Turns CURVE on for every socket [`socket`] makes from now on, as the
/// common flags say (see [`security`](crate::security)), or exits with one
/// line. A server's ZAP handler is returned (keep it alive); SIGHUP makes
/// it re-read its `--curve-allow` directory.
pub fn secure(
    name: &str,
    common: &Common,
    role: crate::security::Role,
    ctx: &zgreen::zmq::Context,
) -> Option<std::rc::Rc<zgreen::zmq::auth::Authenticator>> {
    let auth = match crate::security::install(&common.curve, role, ctx) {
        Ok(auth) => auth.map(std::rc::Rc::new),
        Err(e) => fail(name, e),
    };
    if let Some(auth) = &auth {
        let reload = auth.clone();
        let installed = zgreen::signal_handler(libc::SIGHUP, move || {
            if let Err(e) = reload.reload_curve() {
                tracing::error!("cannot reload the CURVE keys (the old ones stay): {e}");
            }
        });
        match installed {
            // The handler lives as long as the process.
            Ok(h) => std::mem::forget(h),
            Err(e) => fail(name, format_args!("cannot install a SIGHUP handler: {e}")),
        }
    }
    auth
}

/// Binds `sock` to `endpoint` or exits with one line.
pub fn bind_or_exit(name: &str, sock: &zgreen::zmq::Socket, endpoint: &str) {
    if let Err(e) = sock.bind(endpoint) {
        fail(name, format_args!("cannot bind {endpoint}: {e}"));
    }
}

/// Connects `sock` to `endpoint` or exits with one line.
pub fn connect_or_exit(name: &str, sock: &zgreen::zmq::Socket, endpoint: &str) {
    if let Err(e) = sock.connect(endpoint) {
        fail(name, format_args!("cannot connect to {endpoint}: {e}"));
    }
}

/// Runs `body` as a greenlet that SIGINT and SIGTERM kill, waits for it,
/// and returns the process exit code: 0 when it finished or was stopped
/// by a signal, 1 when it failed (the error is logged).
///
/// The body should own its sockets, so they are closed (with their
/// LINGER) when it returns. `grace` bounds the wait after a signal.
pub fn run_until_signal<F>(name: &'static str, grace: Duration, body: F) -> i32
where
    F: FnOnce() -> zgreen::Result<()> + 'static,
{
    let g = zgreen::spawn(body);
    for sig in [libc::SIGINT, libc::SIGTERM] {
        let any = g.any();
        let installed = zgreen::signal_handler(sig, move || {
            tracing::info!(signal = sig, "shutting down");
            any.kill_nowait();
            // A body that ignores the kill does not hold the process.
            zgreen::spawn(move || {
                let _ = zgreen::sleep(grace);
                tracing::warn!("shutdown took longer than {grace:?}: exiting");
                std::process::exit(0);
            });
        });
        if let Err(e) = installed {
            fail(name, format_args!("cannot install a signal handler: {e}"));
        }
    }
    let _ = g.join();
    match g.take() {
        Ok(Ok(())) | Ok(Err(zgreen::Error::Killed)) | Err(zgreen::Error::Killed) => 0,
        Ok(Err(e)) | Err(e) => {
            tracing::error!("{name} failed: {e}");
            eprintln!("{name}: {e}");
            1
        }
    }
}

/// Terminates `ctx` (waiting at most `grace` for the sockets' LINGER)
/// and exits with `code`.
pub fn finish(ctx: zgreen::zmq::Context, grace: Duration, code: i32) -> ! {
    let _ = zgreen::with_timeout(grace, || ctx.term());
    std::process::exit(code);
}
