//! Every direct libzmq call of zgreen (those the `zmq` crate does not
//! offer, or offers in a form that loses a message), with one error
//! conversion. The rest of `zmq/` uses the `zmq` crate or these functions;
//! nothing else names `zmq_sys`.
//!
//! Each function taking a raw socket or context pointer is `unsafe`: the
//! caller guarantees the pointer is live and used on the socket's own
//! thread (sockets) or anywhere (contexts, which libzmq makes
//! thread-safe).

use std::ffi::{c_int, c_void};

#[cfg(feature = "draft")]
pub(crate) mod draft;

/// A raw libzmq socket or context.
pub(crate) type Raw = *mut c_void;

/// The error of the libzmq call that just failed on this thread.
pub(crate) fn last_error() -> zmq::Error {
    // SAFETY: `zmq_errno` only reads the calling thread's errno.
    zmq::Error::from_raw(unsafe { zmq_sys::zmq_errno() })
}

/// libzmq's `-1`-means-failure convention, as a `Result`.
fn check(rc: c_int) -> Result<c_int, zmq::Error> {
    if rc == -1 { Err(last_error()) } else { Ok(rc) }
}

/// A new context (`zmq_ctx_new`).
pub(crate) fn ctx_new() -> Result<Raw, zmq::Error> {
    // SAFETY: `zmq_ctx_new` has no preconditions; null means failure.
    let ptr = unsafe { zmq_sys::zmq_ctx_new() };
    if ptr.is_null() { Err(last_error()) } else { Ok(ptr) }
}

/// `zmq_ctx_term`, retried on `EINTR`; waits for every socket's LINGER.
///
/// # Safety
/// `ctx` is a live context that nothing uses any more, terminated once.
pub(crate) unsafe fn ctx_term(ctx: Raw) {
    loop {
        // SAFETY: the caller's contract.
        let rc = unsafe { zmq_sys::zmq_ctx_term(ctx) };
        if rc == 0 || last_error() != zmq::Error::EINTR {
            return;
        }
    }
}

/// `zmq_ctx_set`.
///
/// # Safety
/// `ctx` is a live context.
pub(crate) unsafe fn ctx_set(ctx: Raw, option: u32, value: i32) -> Result<(), zmq::Error> {
    // SAFETY: the caller's contract; libzmq validates the option.
    check(unsafe { zmq_sys::zmq_ctx_set(ctx, option as c_int, value) }).map(|_| ())
}

/// `zmq_ctx_get`.
///
/// # Safety
/// `ctx` is a live context.
pub(crate) unsafe fn ctx_get(ctx: Raw, option: u32) -> Result<i32, zmq::Error> {
    // SAFETY: the caller's contract; libzmq validates the option.
    check(unsafe { zmq_sys::zmq_ctx_get(ctx, option as c_int) })
}

/// Number of I/O threads (`ZMQ_IO_THREADS`).
pub(crate) const CTX_IO_THREADS: u32 = zmq_sys::ZMQ_IO_THREADS;
/// Most sockets (`ZMQ_MAX_SOCKETS`).
pub(crate) const CTX_MAX_SOCKETS: u32 = zmq_sys::ZMQ_MAX_SOCKETS;

/// A new socket of libzmq type number `kind` (`zmq_socket`).
///
/// # Safety
/// `ctx` is a live context.
pub(crate) unsafe fn socket(ctx: Raw, kind: i32) -> Result<Raw, zmq::Error> {
    // SAFETY: the caller's contract; null means failure.
    let ptr = unsafe { zmq_sys::zmq_socket(ctx, kind) };
    if ptr.is_null() { Err(last_error()) } else { Ok(ptr) }
}

/// Sets an `int` socket option the `zmq` crate does not offer.
///
/// # Safety
/// `sock` is a live socket of the calling thread.
pub(crate) unsafe fn set_int_option(sock: Raw, option: i32, value: i32) -> Result<(), zmq::Error> {
    // SAFETY: the caller's contract; libzmq copies an int of the size given.
    let rc = unsafe {
        zmq_sys::zmq_setsockopt(
            sock,
            option,
            (&value as *const i32).cast(),
            std::mem::size_of::<i32>(),
        )
    };
    check(rc).map(|_| ())
}

/// `zmq_send` of a byte slice: libzmq copies it into a message of its own
/// (the `zmq` crate would first build a `Message` and close it after).
///
/// # Safety
/// `sock` is a live socket of the calling thread.
pub(crate) unsafe fn send_bytes(sock: Raw, data: &[u8], flags: i32) -> Result<(), zmq::Error> {
    // SAFETY: the caller's contract; libzmq reads `data.len()` bytes from
    // `data` during the call only.
    check(unsafe { zmq_sys::zmq_send(sock, data.as_ptr().cast(), data.len(), flags) }).map(|_| ())
}

/// Stops the socket's monitor (`zmq_socket_monitor(s, NULL, 0)`).
///
/// # Safety
/// `sock` is a live socket of the calling thread.
pub(crate) unsafe fn stop_monitor(sock: Raw) {
    // SAFETY: the caller's contract; a null endpoint is libzmq's
    // documented way to stop monitoring.
    unsafe { zmq_sys::zmq_socket_monitor(sock, std::ptr::null(), 0) };
}

/// A `zmq_msg_t` owned here, closed on drop: the zero-copy forwarding path
/// of the proxies. libzmq leaves a message with the caller when a send
/// fails (the `zmq` crate's `send` would drop it).
pub(crate) struct RawMsg(zmq_sys::zmq_msg_t);

impl RawMsg {
    /// An empty message.
    pub(crate) fn new() -> RawMsg {
        // SAFETY: an all-zero `zmq_msg_t` is plain bytes (an opaque array
        // in zmq_sys); `zmq_msg_init` then makes it a valid empty message
        // and cannot fail.
        let mut msg = RawMsg(unsafe { std::mem::zeroed() });
        // SAFETY: `msg.0` is writable storage for a `zmq_msg_t`.
        unsafe { zmq_sys::zmq_msg_init(&mut msg.0) };
        msg
    }

    /// Receives the next frame without waiting; `Ok(false)` on `EAGAIN`.
    ///
    /// # Safety
    /// `sock` is a live socket of the calling thread.
    pub(crate) unsafe fn recv(&mut self, sock: Raw) -> Result<bool, zmq::Error> {
        // SAFETY: `self.0` is an initialized message (its old content is
        // released by libzmq); `sock` is live (the caller's contract).
        let rc = unsafe { zmq_sys::zmq_msg_recv(&mut self.0, sock, zmq_sys::ZMQ_DONTWAIT as i32) };
        match check(rc) {
            Ok(_) => Ok(true),
            Err(zmq::Error::EAGAIN) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Sends the frame without waiting. On success libzmq takes the
    /// payload and leaves an empty message; on failure the frame is still
    /// here.
    ///
    /// # Safety
    /// `sock` is a live socket of the calling thread.
    pub(crate) unsafe fn send(&mut self, sock: Raw, more: bool) -> Result<(), zmq::Error> {
        let flags = zmq_sys::ZMQ_DONTWAIT as i32 | if more { zmq_sys::ZMQ_SNDMORE as i32 } else { 0 };
        // SAFETY: as in `recv`.
        check(unsafe { zmq_sys::zmq_msg_send(&mut self.0, sock, flags) }).map(|_| ())
    }

    /// True if more frames of the message follow this one.
    pub(crate) fn more(&self) -> bool {
        // SAFETY: `self.0` is an initialized message; libzmq only reads it
        // (the const-incorrect signature takes `*mut`).
        unsafe { zmq_sys::zmq_msg_more(&self.0 as *const _ as *mut _) != 0 }
    }

    /// The frame's bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        let ptr = &self.0 as *const _ as *mut zmq_sys::zmq_msg_t;
        // SAFETY: `ptr` is an initialized message; libzmq only reads it.
        let (data, len) = unsafe { (zmq_sys::zmq_msg_data(ptr), zmq_sys::zmq_msg_size(ptr)) };
        if len == 0 {
            return &[];
        }
        // SAFETY: libzmq guarantees `len` readable bytes at `data` while
        // the message is neither sent, received into nor closed, which
        // the borrow of `self` ensures.
        unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) }
    }
}

impl Drop for RawMsg {
    fn drop(&mut self) {
        // SAFETY: `self.0` is an initialized message, closed once here.
        unsafe { zmq_sys::zmq_msg_close(&mut self.0) };
    }
}

#[cfg(test)]
mod tests {
    /// What `vendor/zmq-sys`'s build script compiles in: CURVE (libzmq
    /// with libsodium) and the draft API. Fails if either is lost, or when
    /// linked against a system libzmq without them.
    #[test]
    fn the_linked_libzmq_has_curve_and_the_draft_api() {
        assert_eq!(zmq::has("curve"), Some(true), "libzmq built without libsodium");
        #[cfg(feature = "draft")]
        assert_eq!(
            zmq::has("draft"),
            Some(true),
            "libzmq built without ZMQ_BUILD_DRAFT_API"
        );
    }
}
