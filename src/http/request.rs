//! `Request`: one parsed HTTP request, body included.

use std::cell::RefCell;
use std::fmt;
use std::net::SocketAddr;

use super::url::{form_pairs, percent_decode};

/// An HTTP request as a handler sees it: the head, the whole body (read
/// before the handler runs, within the server's limits) and the
/// parameters the [`Router`](super::Router) matched.
pub struct Request {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: String,
    pub(crate) minor_version: u8,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    pub(crate) remote_addr: SocketAddr,
    pub(crate) params: RefCell<Vec<(String, String)>>,
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("version", &self.version())
            .field("remote_addr", &self.remote_addr)
            .field("headers", &self.headers.len())
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

impl Request {
    /// A request built by hand (for testing handlers without a server):
    /// `target` is the path with an optional `?query`.
    ///
    /// ```
    /// use zgreen::http::Request;
    ///
    /// let req = Request::new("GET", "/search?q=green+threads", "127.0.0.1:9".parse().unwrap());
    /// assert_eq!(req.path(), "/search");
    /// assert_eq!(req.query("q").as_deref(), Some("green threads"));
    /// ```
    pub fn new(method: &str, target: &str, remote_addr: SocketAddr) -> Request {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        Request {
            method: method.to_string(),
            path: path.to_string(),
            query: query.to_string(),
            minor_version: 1,
            headers: Vec::new(),
            body: Vec::new(),
            remote_addr,
            params: RefCell::new(Vec::new()),
        }
    }

    /// Adds a header field (builder style, with [`new`](Self::new)).
    pub fn with_header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets the body (builder style, with [`new`](Self::new)).
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// The method, e.g. `GET`.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The path of the request target, still percent-encoded (`/a%20b`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query string (after `?`, without it), still encoded; empty if
    /// there is none.
    pub fn query_string(&self) -> &str {
        &self.query
    }

    /// The first value of query parameter `name`, decoded.
    pub fn query(&self, name: &str) -> Option<String> {
        form_pairs(&self.query).find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// `"HTTP/1.1"` or `"HTTP/1.0"`.
    pub fn version(&self) -> &'static str {
        if self.minor_version == 0 {
            "HTTP/1.0"
        } else {
            "HTTP/1.1"
        }
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        super::wire::find_header(&self.headers, name)
    }

    /// Every header field, in the order received (values that are not
    /// UTF-8 are decoded lossily).
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The body (empty if there is none; a chunked body is already
    /// decoded).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> Result<&str, std::str::Utf8Error> {
        std::str::from_utf8(&self.body)
    }

    /// The body parsed as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> serde_json::Result<T> {
        serde_json::from_slice(&self.body)
    }

    /// The first value of field `name` of an
    /// `application/x-www-form-urlencoded` body (an HTML form's POST).
    pub fn form(&self, name: &str) -> Option<String> {
        let body = String::from_utf8_lossy(&self.body);
        form_pairs(&body).find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// A path parameter matched by the [`Router`](super::Router) (`:name`
    /// or `*name` in the route's pattern), decoded.
    pub fn param(&self, name: &str) -> Option<String> {
        self.params
            .borrow()
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    /// The client's address (gevent's `REMOTE_ADDR`).
    pub fn remote_addr(&self) -> SocketAddr {
        self.remote_addr
    }

    /// The decoded path segments (between slashes).
    pub(crate) fn segments(&self) -> Vec<String> {
        self.path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(percent_decode)
            .collect()
    }
}
