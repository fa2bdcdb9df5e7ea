//! The ZeroMQ context: shared by every thread, creates green sockets.

use std::ffi::c_void;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, Once, OnceLock};
use std::time::Duration;

use super::{Socket, ffi};
use crate::error::Result;

/// An owned `zmq_ctx_new` handle.
///
/// # Invariant
/// `ptr` is a live libzmq context until `drop` terminates it; libzmq
/// contexts are thread-safe, so the handle may be shared between threads.
struct RawContext {
    ptr: *mut c_void,
}

// SAFETY: see the invariant: libzmq documents contexts as thread-safe.
unsafe impl Send for RawContext {}
// SAFETY: as above; every method only passes the pointer to libzmq.
unsafe impl Sync for RawContext {}

impl Drop for RawContext {
    /// Terminating waits for the sockets' LINGER (a second by default):
    /// while greenlets run on this thread's hub, that wait happens on a
    /// thread of its own, so the hub never stalls. From a thread with no
    /// live greenlet (typically `main` at exit) it happens here, so that
    /// lingering messages are still delivered before the program ends; the
    /// process also waits for terminations in flight at exit (see
    /// [`term_off_hub`]).
    fn drop(&mut self) {
        let busy = crate::hub::in_greenlet()
            || crate::hub::try_with_hub(|h| h.live_greenlets() > 0).unwrap_or(false);
        if busy {
            term_off_hub(ContextPtr(self.ptr));
        } else {
            // SAFETY: `ptr` is live (invariant) and this is its last use.
            unsafe { ffi::ctx_term(self.ptr) };
        }
    }
}

/// A context pointer handed to the terminating thread.
struct ContextPtr(*mut c_void);

// SAFETY: libzmq contexts are thread-safe (see `RawContext`); the pointer
// is only passed to `zmq_ctx_term`, once.
unsafe impl Send for ContextPtr {}

/// Terminations running on their own threads, and the signal that one
/// ended.
static TERMS_IN_FLIGHT: (Mutex<usize>, Condvar) = (Mutex::new(0), Condvar::new());

/// How long the process waits at exit for terminations still in flight.
const EXIT_WAIT: Duration = Duration::from_secs(60);

/// Runs `zmq_ctx_term` on a new thread, counted in [`TERMS_IN_FLIGHT`];
/// an `atexit` handler waits (at most [`EXIT_WAIT`]) for those still
/// running, so a program that returns from `main` right after dropping a
/// socket in a greenlet still delivers what LINGER allows.
fn term_off_hub(ctx: ContextPtr) {
    static AT_EXIT: Once = Once::new();
    AT_EXIT.call_once(|| {
        // SAFETY: registers a plain `extern "C"` function with no
        // arguments that never unwinds (see `wait_for_terms`).
        unsafe { libc::atexit(wait_for_terms) };
    });
    let (count, _) = &TERMS_IN_FLIGHT;
    *count.lock().unwrap_or_else(|e| e.into_inner()) += 1;
    let ptr = ctx.0;
    let spawned = std::thread::Builder::new()
        .name("zgreen-ctx-term".into())
        .spawn(move || {
            let ctx = ctx;
            // SAFETY: the last handle of the context was dropped: nothing
            // else uses it, and only this thread terminates it.
            unsafe { ffi::ctx_term(ctx.0) };
            let (count, ended) = &TERMS_IN_FLIGHT;
            *count.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
            ended.notify_all();
        });
    if let Err(e) = spawned {
        *count.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        tracing::warn!("zgreen zmq: no thread for the context's termination ({e}): terminating on the hub");
        // SAFETY: the thread was not started, so its closure never ran
        // and this is the only termination.
        unsafe { ffi::ctx_term(ptr) };
    }
}

extern "C" fn wait_for_terms() {
    let (count, ended) = &TERMS_IN_FLIGHT;
    let Ok(mut n) = count.lock() else { return };
    let until = std::time::Instant::now() + EXIT_WAIT;
    while *n > 0 {
        let left = until.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return;
        }
        match ended.wait_timeout(n, left) {
            Ok((guard, _)) => n = guard,
            Err(_) => return,
        }
    }
}

/// libzmq's number for a socket type (`zmq.h`).
fn raw_type(kind: zmq::SocketType) -> i32 {
    match kind {
        zmq::PAIR => 0,
        zmq::PUB => 1,
        zmq::SUB => 2,
        zmq::REQ => 3,
        zmq::REP => 4,
        zmq::DEALER => 5,
        zmq::ROUTER => 6,
        zmq::PULL => 7,
        zmq::PUSH => 8,
        zmq::XPUB => 9,
        zmq::XSUB => 10,
        zmq::STREAM => 11,
    }
}

/// A ZeroMQ context (thread-safe, cheap to clone).
///
/// Sockets made from it are green: their blocking operations park the
/// calling greenlet. Creating sockets on several threads from one context
/// is fine; each socket stays on the thread (hub) that created it. Every
/// socket keeps its context alive.
///
/// ```
/// let ctx = zgreen::zmq::Context::new();
/// let a = ctx.socket(zmq::PAIR).unwrap();
/// let b = ctx.socket(zmq::PAIR).unwrap();
/// a.bind("inproc://doc-context").unwrap();
/// b.connect("inproc://doc-context").unwrap();
/// a.send("ping", 0).unwrap();
/// assert_eq!(b.recv_bytes(0).unwrap(), b"ping");
/// ```
#[derive(Clone)]
pub struct Context {
    raw: Arc<RawContext>,
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("io_threads", &self.io_threads().ok())
            .field("max_sockets", &self.max_sockets().ok())
            .finish()
    }
}

impl Default for Context {
    fn default() -> Self {
        Context::new()
    }
}

impl Context {
    /// A new context with libzmq's defaults (one I/O thread, 1023 sockets).
    pub fn new() -> Context {
        let ptr = ffi::ctx_new().unwrap_or_else(|e| panic!("zgreen: zmq_ctx_new failed: {e}"));
        Context {
            raw: Arc::new(RawContext { ptr }),
        }
    }

    /// A new context with `n` I/O threads.
    pub fn with_io_threads(n: i32) -> Result<Context> {
        let ctx = Context::new();
        ctx.set_io_threads(n)?;
        Ok(ctx)
    }

    /// The process-wide default context (like pyzmq's
    /// `Context.instance()`).
    pub fn instance() -> Context {
        static CTX: OnceLock<Context> = OnceLock::new();
        CTX.get_or_init(Context::new).clone()
    }

    fn set(&self, option: u32, value: i32) -> Result<()> {
        // SAFETY: live context (invariant).
        Ok(unsafe { ffi::ctx_set(self.raw.ptr, option, value) }?)
    }

    fn get(&self, option: u32) -> Result<i32> {
        // SAFETY: live context (invariant).
        Ok(unsafe { ffi::ctx_get(self.raw.ptr, option) }?)
    }

    /// Sets the number of libzmq I/O threads (before the first socket).
    pub fn set_io_threads(&self, n: i32) -> Result<()> {
        self.set(ffi::CTX_IO_THREADS, n)
    }

    /// The number of libzmq I/O threads.
    pub fn io_threads(&self) -> Result<i32> {
        self.get(ffi::CTX_IO_THREADS)
    }

    /// Sets the most sockets this context allows (libzmq's default is
    /// 1023; set it before creating sockets).
    pub fn set_max_sockets(&self, n: i32) -> Result<()> {
        self.set(ffi::CTX_MAX_SOCKETS, n)
    }

    /// The most sockets this context allows.
    pub fn max_sockets(&self) -> Result<i32> {
        self.get(ffi::CTX_MAX_SOCKETS)
    }

    /// Creates a green socket of type `kind`, registered with the current
    /// thread's hub. Its LINGER is set to
    /// [`DEFAULT_LINGER_MS`](super::DEFAULT_LINGER_MS) (libzmq's default
    /// of "forever" can freeze a program at exit).
    pub fn socket(&self, kind: zmq::SocketType) -> Result<Socket> {
        let ptr = self.new_raw_socket(raw_type(kind))?;
        // SAFETY: `ptr` is a socket just created and owned by nobody else;
        // the zmq::Socket takes sole ownership (it closes it on drop), and
        // the green socket keeps this context alive for as long.
        let sock = unsafe { zmq::Socket::from_raw(ptr) };
        Socket::new(self.clone(), sock, ptr, kind)
    }

    /// Creates a socket of type `kind` on the green-native ZMTP transport
    /// (feature `native`, partial: see [`native`](super::native)) instead
    /// of libzmq; it interoperates with libzmq peers over `tcp://` and
    /// `ipc://`. Their servers ask this context's ZAP handler
    /// ([`auth::Authenticator`](super::auth::Authenticator)); nothing
    /// else of the context is used.
    #[cfg(feature = "native")]
    pub fn native_socket(&self, kind: zmq::SocketType) -> Result<super::native::Socket> {
        super::native::Socket::with_context(kind, self.clone())
    }

    /// A new libzmq socket of type number `kind`, owned by the caller.
    pub(crate) fn new_raw_socket(&self, kind: i32) -> Result<ffi::Raw> {
        // SAFETY: live context (invariant).
        Ok(unsafe { ffi::socket(self.raw.ptr, kind) }?)
    }

    /// Terminates this handle's share of the context off the hub: if it is
    /// the last one, `zmq_ctx_term` (which waits for the sockets' LINGER)
    /// runs on the thread pool, so the calling greenlet parks instead of
    /// the thread.
    pub fn term(self) -> Result<()> {
        let raw = self.raw;
        crate::threadpool::apply(move || drop(raw))
    }
}
