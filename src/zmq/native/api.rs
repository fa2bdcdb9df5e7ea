//! [`MessageSocket`]: what green libzmq sockets and native sockets have in
//! common, so code and tests can run on either transport; and [`proxy`]
//! over it.

use std::time::Duration;

use crate::error::Result;

/// The whole-message operations both transports offer: a
/// [`zgreen::zmq::Socket`](crate::zmq::Socket) (libzmq) and a native
/// [`Socket`](super::Socket). Generic code over it runs on either; pick
/// the transport where the socket is made (`ctx.socket(kind)` or
/// `ctx.native_socket(kind)`).
///
/// ```
/// use zgreen::zmq::native::MessageSocket;
///
/// /// One request and its echo, on whichever transport made the sockets.
/// fn round_trip<S: MessageSocket>(rep: S, req: S) -> zgreen::Result<Vec<Vec<u8>>> {
///     rep.bind("tcp://127.0.0.1:*")?;
///     req.connect(&rep.last_endpoint()?)?;
///     req.send_multipart(&[b"hi".to_vec()], 0)?;
///     let got = rep.recv_multipart(0)?;
///     rep.send_multipart(&got, 0)?;
///     req.recv_multipart(0)
/// }
///
/// let ctx = zgreen::zmq::Context::new();
/// let libzmq = round_trip(ctx.socket(zmq::REP).unwrap(), ctx.socket(zmq::REQ).unwrap());
/// let native = round_trip(ctx.native_socket(zmq::REP).unwrap(), ctx.native_socket(zmq::REQ).unwrap());
/// assert_eq!(libzmq.unwrap(), vec![b"hi".to_vec()]);
/// assert_eq!(native.unwrap(), vec![b"hi".to_vec()]);
/// ```
pub trait MessageSocket {
    /// The socket type.
    fn kind(&self) -> zmq::SocketType;
    /// Binds an endpoint.
    fn bind(&self, endpoint: &str) -> Result<()>;
    /// Connects to an endpoint.
    fn connect(&self, endpoint: &str) -> Result<()>;
    /// The endpoint of the last bind.
    fn last_endpoint(&self) -> Result<String>;
    /// Sends one whole message (`flags`: `DONTWAIT`).
    fn send_multipart(&self, frames: &[Vec<u8>], flags: i32) -> Result<()>;
    /// Receives one whole message (`flags`: `DONTWAIT`).
    fn recv_multipart(&self, flags: i32) -> Result<Vec<Vec<u8>>>;
    /// Receives one whole message within `timeout`.
    fn recv_multipart_timeout(&self, flags: i32, timeout: Duration) -> Result<Vec<Vec<u8>>>;
    /// SUB: subscribes to a prefix.
    fn subscribe(&self, prefix: &[u8]) -> Result<()>;
    /// Bounds later blocking receives (`None`: forever).
    fn set_recv_timeout(&self, timeout: Option<Duration>);
    /// Bounds later blocking sends (`None`: forever).
    fn set_send_timeout(&self, timeout: Option<Duration>);
    /// Closes the socket; parked callers wake with `SocketClosed`.
    fn close(&self) -> Result<()>;
}

impl MessageSocket for crate::zmq::Socket {
    fn kind(&self) -> zmq::SocketType {
        crate::zmq::Socket::kind(self)
    }
    fn bind(&self, endpoint: &str) -> Result<()> {
        crate::zmq::Socket::bind(self, endpoint)
    }
    fn connect(&self, endpoint: &str) -> Result<()> {
        crate::zmq::Socket::connect(self, endpoint)
    }
    fn last_endpoint(&self) -> Result<String> {
        crate::zmq::Socket::last_endpoint(self)
    }
    fn send_multipart(&self, frames: &[Vec<u8>], flags: i32) -> Result<()> {
        crate::zmq::Socket::send_multipart(self, frames, flags)
    }
    fn recv_multipart(&self, flags: i32) -> Result<Vec<Vec<u8>>> {
        crate::zmq::Socket::recv_multipart(self, flags)
    }
    fn recv_multipart_timeout(&self, flags: i32, timeout: Duration) -> Result<Vec<Vec<u8>>> {
        crate::zmq::Socket::recv_multipart_timeout(self, flags, timeout)
    }
    fn subscribe(&self, prefix: &[u8]) -> Result<()> {
        crate::zmq::Socket::subscribe(self, prefix)
    }
    fn set_recv_timeout(&self, timeout: Option<Duration>) {
        crate::zmq::Socket::set_recv_timeout(self, timeout)
    }
    fn set_send_timeout(&self, timeout: Option<Duration>) {
        crate::zmq::Socket::set_send_timeout(self, timeout)
    }
    fn close(&self) -> Result<()> {
        crate::zmq::Socket::close(self)
    }
}

impl MessageSocket for super::Socket {
    fn kind(&self) -> zmq::SocketType {
        super::Socket::kind(self)
    }
    fn bind(&self, endpoint: &str) -> Result<()> {
        super::Socket::bind(self, endpoint)
    }
    fn connect(&self, endpoint: &str) -> Result<()> {
        super::Socket::connect(self, endpoint)
    }
    fn last_endpoint(&self) -> Result<String> {
        super::Socket::last_endpoint(self)
    }
    fn send_multipart(&self, frames: &[Vec<u8>], flags: i32) -> Result<()> {
        super::Socket::send_multipart(self, frames, flags)
    }
    fn recv_multipart(&self, flags: i32) -> Result<Vec<Vec<u8>>> {
        super::Socket::recv_multipart(self, flags)
    }
    fn recv_multipart_timeout(&self, flags: i32, timeout: Duration) -> Result<Vec<Vec<u8>>> {
        super::Socket::recv_multipart_timeout(self, flags, timeout)
    }
    fn subscribe(&self, prefix: &[u8]) -> Result<()> {
        super::Socket::subscribe(self, prefix)
    }
    fn set_recv_timeout(&self, timeout: Option<Duration>) {
        super::Socket::set_recv_timeout(self, timeout)
    }
    fn set_send_timeout(&self, timeout: Option<Duration>) {
        super::Socket::set_send_timeout(self, timeout)
    }
    fn close(&self) -> Result<()> {
        super::Socket::close(self)
    }
}

/// Forwards whole messages between `frontend` and `backend`, of either
/// transport (libzmq's `zmq_proxy` without capture or steering), until an
/// error or a kill of the calling greenlet: frontend to backend here, and
/// backend to frontend (replies, subscriptions) on a greenlet of its own,
/// except from a PUSH backend, which never receives.
///
/// ```
/// use zgreen::zmq::native::{proxy, Socket};
///
/// let (front, back) = (Socket::new(zmq::PULL).unwrap(), Socket::new(zmq::PUSH).unwrap());
/// front.bind("tcp://127.0.0.1:*").unwrap();
/// back.bind("tcp://127.0.0.1:*").unwrap();
/// let (fe, be) = (front.last_endpoint().unwrap(), back.last_endpoint().unwrap());
/// let device = zgreen::spawn(move || proxy(&front, &back));
/// let (push, pull) = (Socket::new(zmq::PUSH).unwrap(), Socket::new(zmq::PULL).unwrap());
/// push.connect(&fe).unwrap();
/// pull.connect(&be).unwrap();
/// push.send("through", 0).unwrap();
/// assert_eq!(pull.recv_bytes(0).unwrap(), b"through");
/// device.kill().unwrap();
/// ```
pub fn proxy<A, B>(frontend: &A, backend: &B) -> Result<()>
where
    A: MessageSocket + Clone + 'static,
    B: MessageSocket + Clone + 'static,
{
    let backward = (backend.kind() != zmq::PUSH).then(|| {
        let (f, b) = (frontend.clone(), backend.clone());
        crate::greenlet::spawn(move || pump(&b, &f))
    });
    let result = pump(frontend, backend);
    if let Some(g) = backward {
        g.kill_nowait();
    }
    result
}

fn pump<S: MessageSocket, D: MessageSocket>(src: &S, dst: &D) -> Result<()> {
    loop {
        let msg = src.recv_multipart(0)?;
        dst.send_multipart(&msg, 0)?;
    }
}
