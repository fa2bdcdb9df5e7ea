//! Address resolution: literal addresses are parsed in place, host names
//! are resolved on the thread pool (`getaddrinfo` blocks the thread).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::error::{Error, Result};

/// Resolves `host` (a name or a literal address) with `port`, on the thread
/// pool, parking the calling greenlet meanwhile (gevent's resolver).
///
/// ```
/// let addrs = zgreen::net::lookup_host("localhost", 80).unwrap();
/// assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 80));
/// ```
pub fn lookup_host(host: &str, port: u16) -> Result<Vec<SocketAddr>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let host = host.to_string();
    let addrs = crate::threadpool::apply(move || {
        std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port)).map(Iterator::collect::<Vec<_>>)
    })??;
    if addrs.is_empty() {
        return Err(not_found());
    }
    Ok(addrs)
}

fn not_found() -> Error {
    Error::from(std::io::Error::new(
        std::io::ErrorKind::NotFound,
        "the host name resolved to no address",
    ))
}

fn invalid(what: &str) -> Error {
    Error::from(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("invalid socket address {what:?}: expected host:port"),
    ))
}

/// Something that names one or more socket addresses: the green
/// counterpart of [`std::net::ToSocketAddrs`]. Host names are resolved with
/// [`lookup_host`] (on the thread pool), so resolving never blocks the hub.
pub trait ToSocketAddrs {
    /// The addresses, in the order they should be tried.
    fn to_socket_addrs(&self) -> Result<Vec<SocketAddr>>;
}

impl ToSocketAddrs for SocketAddr {
    fn to_socket_addrs(&self) -> Result<Vec<SocketAddr>> {
        Ok(vec![*self])
    }
}

impl ToSocketAddrs for SocketAddrV4 {
    fn to_socket_addrs(&self) -> Result<Vec<SocketAddr>> {
        Ok(vec![SocketAddr::V4(*self)])
    }
}

impl ToSocketAddrs for SocketAddrV6 {
    fn to_socket_addrs(&self) -> Result<Vec<SocketAddr>> {
        Ok(vec![SocketAddr::V6(*self)])
    }
}

impl ToSocketAddrs for (IpAddr, u16) {
    fn to_socket_addrs(&self) -> Result<Vec<SocketAddr>> {
        Ok(vec![SocketAddr::new(self.0, self.1)])
    }
}

impl ToSocketAddrs for (Ipv4Addr, u16) {
    fn to_socket_addrs(&self) -> Result<Vec<SocketAddr>> {
        Ok(vec![SocketAddr::new(IpAddr::V4(self.0), self.1)])
    }
}

impl ToSocketAddrs for (Ipv6Addr, u16) {
    fn to_socket_addrs(&self) -> Result<Vec<SocketAddr>> {
        Ok(vec![SocketAddr::new(IpAddr::V6(self.0), self.1)])
    }
}

impl ToSocketAddrs for (&str, u16) {
    fn to_socket_addrs(&self) -> Result<Vec<SocketAddr>> {
        lookup_host(self.0, self.1)
    }
}

impl ToSocketAddrs for (String, u16) {
    fn to_socket_addrs(&self) -> Result<Vec<SocketAddr>> {
        lookup_host(&self.0, self.1)
    }
}

impl ToSocketAddrs for str {
    fn to_socket_addrs(&self) -> Result<Vec<SocketAddr>> {
        if let Ok(addr) = self.parse::<SocketAddr>() {
            return Ok(vec![addr]);
        }
        let (host, port) = self.rsplit_once(':').ok_or_else(|| invalid(self))?;
        let port: u16 = port.parse().map_err(|_| invalid(self))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        lookup_host(host, port)
    }
}

impl ToSocketAddrs for String {
    fn to_socket_addrs(&self) -> Result<Vec<SocketAddr>> {
        self.as_str().to_socket_addrs()
    }
}

impl ToSocketAddrs for [SocketAddr] {
    fn to_socket_addrs(&self) -> Result<Vec<SocketAddr>> {
        Ok(self.to_vec())
    }
}

impl ToSocketAddrs for Vec<SocketAddr> {
    fn to_socket_addrs(&self) -> Result<Vec<SocketAddr>> {
        Ok(self.clone())
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {
    fn to_socket_addrs(&self) -> Result<Vec<SocketAddr>> {
        (**self).to_socket_addrs()
    }
}
