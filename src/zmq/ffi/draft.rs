//! libzmq's draft API (built with `ZMQ_BUILD_DRAFT_API`): the thread-safe
//! socket types' message metadata, groups, peers, the `zmq_poller` whose
//! file descriptor the hub watches, and version-2 socket monitors. The
//! `zmq-sys` bindings leave these out, so they are declared here.

use std::ffi::{CStr, CString, c_char, c_int, c_long, c_short};

use super::{Raw, RawMsg, check, last_error};

/// `zmq_poller_event_t`.
#[repr(C)]
struct PollerEvent {
    socket: Raw,
    fd: c_int,
    user_data: Raw,
    events: c_short,
}

// SAFETY: these are libzmq 4.3's draft functions with the prototypes of its
// `zmq.h`; the vendored libzmq is built with the draft API, so they are
// linked from the same library as every other `zmq_*` symbol.
unsafe extern "C" {
    fn zmq_poller_new() -> Raw;
    fn zmq_poller_destroy(poller: *mut Raw) -> c_int;
    fn zmq_poller_add(poller: Raw, socket: Raw, user_data: Raw, events: c_short) -> c_int;
    fn zmq_poller_wait_all(poller: Raw, events: *mut PollerEvent, n: c_int, timeout: c_long) -> c_int;
    fn zmq_poller_fd(poller: Raw, fd: *mut c_int) -> c_int;
    fn zmq_join(socket: Raw, group: *const c_char) -> c_int;
    fn zmq_leave(socket: Raw, group: *const c_char) -> c_int;
    fn zmq_connect_peer(socket: Raw, addr: *const c_char) -> u32;
    fn zmq_msg_set_routing_id(msg: *mut zmq_sys::zmq_msg_t, id: u32) -> c_int;
    fn zmq_msg_routing_id(msg: *mut zmq_sys::zmq_msg_t) -> u32;
    fn zmq_msg_set_group(msg: *mut zmq_sys::zmq_msg_t, group: *const c_char) -> c_int;
    fn zmq_msg_group(msg: *mut zmq_sys::zmq_msg_t) -> *const c_char;
    fn zmq_socket_monitor_versioned(
        socket: Raw,
        addr: *const c_char,
        events: u64,
        version: c_int,
        kind: c_int,
    ) -> c_int;
}

/// `POLLIN` of `zmq_poller_add`.
pub(crate) const POLLIN: i16 = zmq_sys::ZMQ_POLLIN as i16;
/// `POLLOUT` of `zmq_poller_add`.
pub(crate) const POLLOUT: i16 = zmq_sys::ZMQ_POLLOUT as i16;

/// The longest group name libzmq keeps (`ZMQ_GROUP_MAX_LENGTH`).
pub(crate) const GROUP_MAX_BYTES: usize = 255;

/// A C string for libzmq, or `EINVAL` if `s` holds a NUL byte.
fn c_string(s: &str) -> Result<CString, zmq::Error> {
    CString::new(s).map_err(|_| zmq::Error::EINVAL)
}

/// A group name as a C string: `EINVAL` if it is longer than
/// [`GROUP_MAX_BYTES`] (libzmq's `zmq_msg_set_group` would cut it short
/// silently, merging groups that differ only after that) or holds a NUL.
fn group_string(group: &str) -> Result<CString, zmq::Error> {
    if group.len() > GROUP_MAX_BYTES {
        return Err(zmq::Error::EINVAL);
    }
    c_string(group)
}

/// A `zmq_poller` watching one socket for reading and writing, destroyed
/// on drop.
///
/// # Invariant
/// `ptr` is a live poller, destroyed once (in `drop`).
pub(crate) struct Poller {
    ptr: Raw,
}

impl Poller {
    /// A poller watching `sock` (a thread-safe socket) for `POLLIN` and
    /// `POLLOUT`.
    ///
    /// # Safety
    /// `sock` is a live socket that outlives the poller.
    pub(crate) unsafe fn watching(sock: Raw) -> Result<Poller, zmq::Error> {
        // SAFETY: no preconditions; null means failure.
        let ptr = unsafe { zmq_poller_new() };
        if ptr.is_null() {
            return Err(last_error());
        }
        let poller = Poller { ptr };
        // SAFETY: `poller.ptr` is live; `sock` is live (the caller's
        // contract); libzmq keeps the pointer, which the caller keeps valid.
        check(unsafe { zmq_poller_add(poller.ptr, sock, std::ptr::null_mut(), POLLIN | POLLOUT) })?;
        Ok(poller)
    }

    /// The poller's signaling file descriptor (`zmq_poller_fd`): libzmq
    /// makes it readable whenever a command reaches a watched socket.
    pub(crate) fn fd(&self) -> Result<c_int, zmq::Error> {
        let mut fd: c_int = -1;
        // SAFETY: `ptr` is live (invariant); libzmq writes one `c_int`.
        check(unsafe { zmq_poller_fd(self.ptr, &mut fd) })?;
        Ok(fd)
    }

    /// The watched socket's events now (`zmq_poller_wait_all` with a zero
    /// timeout): consumes one signal of the descriptor, then reads the
    /// socket's `ZMQ_EVENTS`, processing its pending commands.
    pub(crate) fn events(&self) -> Result<i16, zmq::Error> {
        let mut ev = PollerEvent {
            socket: std::ptr::null_mut(),
            fd: -1,
            user_data: std::ptr::null_mut(),
            events: 0,
        };
        // SAFETY: `ptr` is live (invariant); libzmq writes at most one
        // event into `ev`.
        let rc = unsafe { zmq_poller_wait_all(self.ptr, &mut ev, 1, 0) };
        match check(rc) {
            Ok(n) if n > 0 => Ok(ev.events),
            Ok(_) | Err(zmq::Error::EAGAIN) => Ok(0),
            Err(e) => Err(e),
        }
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        // SAFETY: `ptr` is live and destroyed only here (invariant);
        // libzmq nulls the pointer it is given.
        unsafe { zmq_poller_destroy(&mut self.ptr) };
    }
}

/// Joins the RADIO/DISH group `group` (`zmq_join`, a DISH socket).
///
/// # Safety
/// `sock` is a live socket of the calling thread.
pub(crate) unsafe fn join(sock: Raw, group: &str) -> Result<(), zmq::Error> {
    let group = group_string(group)?;
    // SAFETY: the caller's contract; libzmq copies the string.
    check(unsafe { zmq_join(sock, group.as_ptr()) }).map(|_| ())
}

/// Leaves the group `group` (`zmq_leave`).
///
/// # Safety
/// As [`join`].
pub(crate) unsafe fn leave(sock: Raw, group: &str) -> Result<(), zmq::Error> {
    let group = group_string(group)?;
    // SAFETY: the caller's contract; libzmq copies the string.
    check(unsafe { zmq_leave(sock, group.as_ptr()) }).map(|_| ())
}

/// Connects a PEER socket to `endpoint` and returns the routing id of the
/// new peer (`zmq_connect_peer`).
///
/// # Safety
/// As [`join`].
pub(crate) unsafe fn connect_peer(sock: Raw, endpoint: &str) -> Result<u32, zmq::Error> {
    let endpoint = c_string(endpoint)?;
    // SAFETY: the caller's contract; libzmq copies the string. 0 means
    // failure.
    match unsafe { zmq_connect_peer(sock, endpoint.as_ptr()) } {
        0 => Err(last_error()),
        id => Ok(id),
    }
}

/// Starts a version-2 monitor of `sock` for `events` on the inproc
/// `endpoint`, read through a PAIR socket (`zmq_socket_monitor_versioned`):
/// every event names both the local and the remote address.
///
/// # Safety
/// As [`join`].
pub(crate) unsafe fn monitor_v2(sock: Raw, endpoint: &str, events: u64) -> Result<(), zmq::Error> {
    let endpoint = c_string(endpoint)?;
    // SAFETY: the caller's contract; libzmq copies the string.
    check(unsafe {
        zmq_socket_monitor_versioned(sock, endpoint.as_ptr(), events, 2, zmq_sys::ZMQ_PAIR as c_int)
    })
    .map(|_| ())
}

impl RawMsg {
    /// A message holding a copy of `data`.
    pub(crate) fn from_bytes(data: &[u8]) -> Result<RawMsg, zmq::Error> {
        let mut msg = RawMsg::new();
        // SAFETY: `msg.0` is an initialized (empty) message; re-initializing
        // an empty message leaks nothing.
        check(unsafe { zmq_sys::zmq_msg_init_size(&mut msg.0, data.len()) })?;
        if !data.is_empty() {
            // SAFETY: libzmq allocated `data.len()` writable bytes at
            // `zmq_msg_data`, which nothing else references yet.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    data.as_ptr(),
                    zmq_sys::zmq_msg_data(&mut msg.0).cast(),
                    data.len(),
                );
            }
        }
        Ok(msg)
    }

    /// Addresses the message to the peer `id` (SERVER and PEER sockets).
    pub(crate) fn set_routing_id(&mut self, id: u32) -> Result<(), zmq::Error> {
        // SAFETY: `self.0` is an initialized message.
        check(unsafe { zmq_msg_set_routing_id(&mut self.0, id) }).map(|_| ())
    }

    /// The peer a received message came from (SERVER and PEER sockets), or
    /// 0.
    pub(crate) fn routing_id(&mut self) -> u32 {
        // SAFETY: `self.0` is an initialized message; libzmq only reads it.
        unsafe { zmq_msg_routing_id(&mut self.0) }
    }

    /// Sets the message's group (RADIO sockets); `EINVAL` if it is longer
    /// than 255 bytes or holds a NUL byte.
    pub(crate) fn set_group(&mut self, group: &str) -> Result<(), zmq::Error> {
        let group = group_string(group)?;
        // SAFETY: `self.0` is an initialized message; libzmq copies the
        // string.
        check(unsafe { zmq_msg_set_group(&mut self.0, group.as_ptr()) }).map(|_| ())
    }

    /// The group of a received message (DISH sockets), empty if none.
    pub(crate) fn group(&mut self) -> String {
        // SAFETY: `self.0` is an initialized message; libzmq returns a
        // pointer to a NUL-terminated string inside it, valid until the
        // message changes, and copied out before that.
        unsafe {
            let ptr = zmq_msg_group(&mut self.0);
            if ptr.is_null() {
                String::new()
            } else {
                CStr::from_ptr(ptr).to_string_lossy().into_owned()
            }
        }
    }
}
