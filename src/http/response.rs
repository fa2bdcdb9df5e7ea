//! `Response`: what a handler returns, with a full or a streamed body.

use std::fmt;

use crate::net::TcpStream;

/// What follows the head of a response.
pub(crate) enum Body {
    /// All of it, sent with `Content-Length`.
    Full(Vec<u8>),
    /// Produced piece by piece while it is sent (chunked encoding on
    /// HTTP/1.1; on HTTP/1.0 the connection's end marks the end).
    Stream(Box<dyn Iterator<Item = Vec<u8>>>),
    /// After a `101 Switching Protocols` head, the connection (and the
    /// bytes already read from it) is handed to this function.
    Upgrade(Box<dyn FnOnce(TcpStream, Vec<u8>)>),
}

/// An HTTP response: a status, header fields and a body.
///
/// The server adds the framing fields itself (`Content-Length` or
/// `Transfer-Encoding: chunked`, and `Connection`); those set by a
/// handler are ignored.
///
/// # Examples
///
/// ```
/// use zgreen::http::Response;
///
/// let r = Response::html("<p>Hello World</p>").with_header("Cache-Control", "no-store");
/// assert_eq!(r.status(), 200);
/// assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
///
/// // A streamed body: each item is sent as one chunk as soon as it is
/// // produced (the iterator may block: sleep, wait on a queue, ...).
/// let s = Response::stream("text/html", ["<p>Hello", "World</p>"].map(Vec::from));
/// assert!(s.body_bytes().is_none());
/// ```
pub struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Body,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body = match &self.body {
            Body::Full(b) => format!("{} bytes", b.len()),
            Body::Stream(_) => "stream".to_string(),
            Body::Upgrade(_) => "upgrade".to_string(),
        };
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &body)
            .finish()
    }
}

impl Response {
    /// A response with `status` and an empty body.
    pub fn new(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Body::Full(Vec::new()),
        }
    }

    /// `200` with `body` of type `content_type`.
    pub fn bytes(content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response::new(200)
            .with_header("Content-Type", content_type)
            .with_body(body)
    }

    /// `200`, `text/plain`.
    pub fn text(body: impl Into<String>) -> Response {
        Response::bytes("text/plain; charset=utf-8", body.into())
    }

    /// `200`, `text/html`.
    pub fn html(body: impl Into<String>) -> Response {
        Response::bytes("text/html; charset=utf-8", body.into())
    }

    /// `200`, `application/json`, `value` serialized.
    pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> Response {
        match serde_json::to_vec(value) {
            Ok(body) => Response::bytes("application/json", body),
            Err(e) => Response::error(500).with_body(format!("cannot serialize the response: {e}\n")),
        }
    }

    /// `200` with a body streamed from `chunks`: the server sends each
    /// item as soon as the iterator yields it (empty items are skipped),
    /// with chunked transfer encoding. The iterator runs in the
    /// connection's greenlet after the handler has returned, and may
    /// block; the request stays available through
    /// [`request()`](super::request) meanwhile.
    pub fn stream<I>(content_type: &str, chunks: I) -> Response
    where
        I: IntoIterator<Item = Vec<u8>>,
        I::IntoIter: 'static,
    {
        Response {
            status: 200,
            headers: vec![("Content-Type".to_string(), content_type.to_string())],
            body: Body::Stream(Box::new(chunks.into_iter())),
        }
    }

    /// `status` with its reason phrase as a `text/plain` body.
    pub fn error(status: u16) -> Response {
        Response::new(status)
            .with_header("Content-Type", "text/plain; charset=utf-8")
            .with_body(format!("{status} {}\n", reason_phrase(status)))
    }

    /// `404 Not Found`.
    pub fn not_found() -> Response {
        Response::error(404)
    }

    /// A redirect (`302 Found`) to `location`.
    pub fn redirect(location: &str) -> Response {
        Response::new(302).with_header("Location", location)
    }

    /// `101 Switching Protocols` handing the connection to `f` once the
    /// head is sent (with the bytes the client sent after its request).
    pub(crate) fn upgrade(f: impl FnOnce(TcpStream, Vec<u8>) + 'static) -> Response {
        Response {
            status: 101,
            headers: Vec::new(),
            body: Body::Upgrade(Box::new(f)),
        }
    }

    /// Replaces the status.
    pub fn with_status(mut self, status: u16) -> Response {
        self.status = status;
        self
    }

    /// Adds a header field.
    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Replaces the body with a full one.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Response {
        self.body = Body::Full(body.into());
        self
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        super::wire::find_header(&self.headers, name)
    }

    /// The body, if it is a full one (not streamed).
    pub fn body_bytes(&self) -> Option<&[u8]> {
        match &self.body {
            Body::Full(b) => Some(b),
            _ => None,
        }
    }
}

/// The standard reason phrase of `status` (`"Unknown"` for codes without
/// one).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        417 => "Expectation Failed",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}
