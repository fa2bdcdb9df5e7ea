//! A small green HTTP/1.1 client (plain `http://` only).

use std::time::Duration;

use super::wire::{self, Charge, Wire, WireError, has_token};
use crate::error::{Error, Result};
use crate::hub::Deadline;
use crate::net::TcpStream;

/// A green HTTP/1.1 client: one request per connection, the whole
/// exchange bounded by a timeout. Only `http://` URLs (no TLS).
///
/// # Examples
///
/// ```
/// use zgreen::http::{Client, HttpServer, Request, Response};
///
/// let server = HttpServer::bind("127.0.0.1:0", |req: &Request| {
///     Response::json(&serde_json::json!({ "got": req.text().unwrap() }))
/// })
/// .unwrap();
/// server.start().unwrap();
/// let url = format!("http://{}/echo", server.local_addr());
/// let reply = Client::new().post(&url, "text/plain", "hi").unwrap();
/// let value: serde_json::Value = reply.json().unwrap();
/// assert_eq!(value["got"], "hi");
/// # server.stop(std::time::Duration::from_secs(1)).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct Client {
    timeout: Duration,
    max_body_bytes: usize,
    headers: Vec<(String, String)>,
}

impl Default for Client {
    fn default() -> Client {
        Client::new()
    }
}

/// A response received by a [`Client`], body included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl ClientResponse {
    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        super::wire::find_header(&self.headers, name)
    }

    /// The body (chunked encoding already decoded).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> std::result::Result<&str, std::str::Utf8Error> {
        std::str::from_utf8(&self.body)
    }

    /// The body parsed as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> serde_json::Result<T> {
        serde_json::from_slice(&self.body)
    }
}

/// `GET url` with a default [`Client`].
pub fn get(url: &str) -> Result<ClientResponse> {
    Client::new().get(url)
}

impl Client {
    /// A client with a 30 s timeout and a 16 MiB body limit.
    pub fn new() -> Client {
        Client {
            timeout: Duration::from_secs(30),
            max_body_bytes: 16 << 20,
            headers: Vec::new(),
        }
    }

    /// Bounds each whole exchange (connect, request, response) to
    /// `timeout`; past it the call fails with `Error::Timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Client {
        self.timeout = timeout;
        self
    }

    /// The largest response body accepted.
    pub fn max_body_bytes(mut self, max: usize) -> Client {
        self.max_body_bytes = max;
        self
    }

    /// A header field sent with every request.
    pub fn header(mut self, name: &str, value: &str) -> Client {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// `GET url`.
    pub fn get(&self, url: &str) -> Result<ClientResponse> {
        self.request("GET", url, None)
    }

    /// `POST url` with `body` of type `content_type`.
    pub fn post(&self, url: &str, content_type: &str, body: impl AsRef<[u8]>) -> Result<ClientResponse> {
        self.request("POST", url, Some((content_type, body.as_ref())))
    }

    /// Any method, with an optional `(content type, body)`.
    pub fn request(&self, method: &str, url: &str, body: Option<(&str, &[u8])>) -> Result<ClientResponse> {
        let deadline = Deadline::after(self.timeout);
        let (host, port, path) = split_url(url)?;
        let stream = TcpStream::connect_timeout((host.as_str(), port), self.timeout)?;
        let left = deadline.at.saturating_duration_since(std::time::Instant::now());
        stream.set_write_timeout(Some(left));
        let _ = stream.set_nodelay(true);
        let host_field = if port == 80 {
            host.clone()
        } else {
            format!("{host}:{port}")
        };
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host_field}\r\nConnection: close\r\n");
        for (k, v) in &self.headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        let mut out = Vec::new();
        if let Some((ctype, bytes)) = body {
            req.push_str(&format!(
                "Content-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
                bytes.len()
            ));
            out.extend_from_slice(req.as_bytes());
            out.extend_from_slice(bytes);
        } else {
            req.push_str("\r\n");
            out.extend_from_slice(req.as_bytes());
        }
        stream.send_all(&out)?;
        let mut wire = Wire::new(stream);
        let d = Some(deadline);
        self.read_response(&mut wire, method == "HEAD", d)
            .map_err(|e| match e {
                WireError::Timeout => Error::Timeout(crate::error::TimeoutError {
                    id: 0,
                    after: self.timeout,
                    payload: None,
                }),
                e => e.into_error(),
            })
    }

    fn read_response(
        &self,
        wire: &mut Wire,
        head_only: bool,
        deadline: Option<Deadline>,
    ) -> std::result::Result<ClientResponse, WireError> {
        loop {
            let (status, headers) = wire.read_head(64 * 1024, deadline, parse_response_head)?;
            if (100..200).contains(&status) && status != 101 {
                continue; // 100 Continue and friends
            }
            let field = |name: &'static str| {
                headers
                    .iter()
                    .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.as_str())
            };
            let no_body = head_only || status == 204 || status == 304 || status == 101;
            let chunked = field("transfer-encoding").any(|v| has_token(v, "chunked"));
            let body = if no_body {
                Vec::new()
            } else if chunked {
                wire.read_chunked(self.max_body_bytes, deadline, &mut Charge::none())?
            } else if let Some(n) = wire::content_length(field("content-length").map(str::as_bytes))? {
                if n > self.max_body_bytes as u64 {
                    return Err(WireError::TooLarge);
                }
                wire.read_exact(n as usize, deadline, &mut Charge::none())?
            } else {
                wire.read_to_end(self.max_body_bytes, deadline)?
            };
            return Ok(ClientResponse {
                status,
                headers,
                body,
            });
        }
    }
}

type ResponseHead = (u16, Vec<(String, String)>);

fn parse_response_head(buf: &[u8]) -> std::result::Result<Option<(usize, ResponseHead)>, WireError> {
    let mut headers = [httparse::EMPTY_HEADER; 128];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => {
            let fields = resp
                .headers
                .iter()
                .map(|h| (h.name.to_string(), String::from_utf8_lossy(h.value).into_owned()))
                .collect();
            Ok(Some((n, (resp.code.unwrap_or(0), fields))))
        }
        Ok(httparse::Status::Partial) => Ok(None),
        Err(_) => Err(WireError::Malformed("malformed response head")),
    }
}

/// `http://host[:port][/path]` into its parts.
fn split_url(url: &str) -> Result<(String, u16, String)> {
    let invalid = || {
        Error::from(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("not an http:// URL: {url}"),
        ))
    };
    let rest = url.strip_prefix("http://").ok_or_else(invalid)?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
        Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
        None => (rest, "/".to_string()),
    };
    let (host, port) = if let Some(h) = authority.strip_prefix('[') {
        // [v6]:port
        let (h, p) = h.split_once(']').ok_or_else(invalid)?;
        (h.to_string(), p.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (authority.to_string(), None),
        }
    };
    let port = match port {
        Some(p) => p.parse().map_err(|_| invalid())?,
        None => 80,
    };
    if host.is_empty() {
        return Err(invalid());
    }
    Ok((host, port, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let s = |u: &str| split_url(u).unwrap();
        assert_eq!(s("http://a:8/x?y"), ("a".into(), 8, "/x?y".into()));
        assert_eq!(s("http://a"), ("a".into(), 80, "/".into()));
        assert_eq!(s("http://a?q"), ("a".into(), 80, "/?q".into()));
        assert_eq!(s("http://[::1]:9/"), ("::1".into(), 9, "/".into()));
        assert!(split_url("https://a/").is_err());
        assert!(split_url("http://:80/").is_err());
        assert!(split_url("http://a:x/").is_err());
    }
}
