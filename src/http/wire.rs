//! Reading HTTP/1.1 messages off a green stream: the bytes read but not
//! yet consumed, and the framing rules (heads, `Content-Length` bodies,
//! chunked bodies), each read bounded by a deadline. Shared by the server
//! and the client.

use std::cell::Cell;
use std::rc::Rc;

use crate::error::Error;
use crate::hub::Deadline;
use crate::net::TcpStream;

/// How much one read asks the kernel for.
const READ_CHUNK: usize = 16 * 1024;

/// The longest chunk-size line (size, extensions) or trailer line.
pub(crate) const MAX_CHUNK_LINE: usize = 4096;

/// The most bytes of chunk-size lines (sizes and extensions) one chunked
/// body may carry in all (RFC 9112 §7.1.1 asks for a total limit): a
/// body of many tiny chunks with long extensions is refused (`413`).
pub(crate) const MAX_CHUNK_LINES_TOTAL: usize = 64 * 1024;

/// Why a message could not be read.
#[derive(Debug)]
pub(crate) enum WireError {
    /// The bytes break the protocol (answered `400`).
    Malformed(&'static str),
    /// A size limit was exceeded (`413` for a body, `431` for a head).
    TooLarge,
    /// The deadline passed first.
    Timeout,
    /// The peer closed in the middle of a message.
    Eof,
    /// The server's budget for request bodies in memory is spent
    /// (answered `503`).
    Busy,
    /// An HTTP major version other than 1 (answered `505`).
    Version,
    /// Any other failure (an OS error, a kill).
    Io(Error),
}

impl From<Error> for WireError {
    fn from(e: Error) -> WireError {
        if e.is_timeout() {
            WireError::Timeout
        } else {
            WireError::Io(e)
        }
    }
}

impl WireError {
    /// The error as a zgreen error, for callers outside the server.
    pub(crate) fn into_error(self) -> Error {
        let invalid = |m: &str| {
            Error::from(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                m.to_string(),
            ))
        };
        match self {
            WireError::Malformed(m) => invalid(m),
            WireError::TooLarge => invalid("HTTP message too large"),
            WireError::Busy => invalid("HTTP body budget exceeded"),
            WireError::Version => invalid("unsupported HTTP version"),
            WireError::Timeout => Error::from(std::io::Error::from(std::io::ErrorKind::TimedOut)),
            WireError::Eof => Error::from(std::io::Error::from(std::io::ErrorKind::UnexpectedEof)),
            WireError::Io(e) => e,
        }
    }
}

/// A server-wide budget of request-body bytes held in memory: every body
/// being read (and then handled) charges the bytes that have arrived so
/// far, never what its head declares.
#[derive(Debug)]
pub(crate) struct BodyBudget {
    used: Cell<usize>,
    max: Cell<usize>,
}

impl BodyBudget {
    pub(crate) fn new(max: usize) -> BodyBudget {
        BodyBudget {
            used: Cell::new(0),
            max: Cell::new(max),
        }
    }

    /// Changes the budget (bodies already charged keep their bytes).
    pub(crate) fn set_max(&self, max: usize) {
        self.max.set(max);
    }

    /// Body bytes charged now.
    pub(crate) fn used(&self) -> usize {
        self.used.get()
    }
}

/// The body bytes one request has charged to a [`BodyBudget`] (none for
/// the client's responses), given back when dropped.
#[derive(Debug)]
pub(crate) struct Charge<'a> {
    budget: Option<&'a BodyBudget>,
    bytes: usize,
}

impl<'a> Charge<'a> {
    /// Charges nothing (the HTTP client's side).
    pub(crate) fn none() -> Charge<'static> {
        Charge {
            budget: None,
            bytes: 0,
        }
    }

    /// A new body read: `Busy` while the budget is spent.
    pub(crate) fn start(budget: &'a BodyBudget) -> Result<Charge<'a>, WireError> {
        if budget.used.get() >= budget.max.get() {
            return Err(WireError::Busy);
        }
        Ok(Charge {
            budget: Some(budget),
            bytes: 0,
        })
    }

    /// Charges `n` more bytes that arrived; `Busy` if that spends the
    /// budget (the bytes stay charged until this value is dropped).
    fn add(&mut self, n: usize) -> Result<(), WireError> {
        let Some(budget) = self.budget else {
            return Ok(());
        };
        self.bytes += n;
        let used = budget.used.get() + n;
        budget.used.set(used);
        if used > budget.max.get() {
            return Err(WireError::Busy);
        }
        Ok(())
    }
}

impl Drop for Charge<'_> {
    fn drop(&mut self) {
        if let Some(budget) = self.budget {
            budget.used.set(budget.used.get() - self.bytes);
        }
    }
}

/// A stream and the bytes read from it that were not consumed yet (the
/// start of a pipelined request, of WebSocket frames, ...).
#[derive(Debug)]
pub(crate) struct Wire {
    /// Shared only while a streamed response runs (with the greenlet
    /// that watches for the client going away).
    pub(crate) stream: Rc<TcpStream>,
    pub(crate) buf: Vec<u8>,
}

impl Wire {
    pub(crate) fn new(stream: TcpStream) -> Wire {
        Wire {
            stream: Rc::new(stream),
            buf: Vec::new(),
        }
    }

    /// Reads once more into the buffer; `Ok(0)` is end of file.
    pub(crate) fn fill(&mut self, deadline: Option<Deadline>) -> Result<usize, WireError> {
        Ok(self
            .stream
            .recv_append_deadline(&mut self.buf, READ_CHUNK, deadline)?)
    }

    /// Reads until `parse` recognizes a complete head at the start of the
    /// buffer: it returns `Some((head_len, value))`, and those bytes are
    /// consumed. Fails with `TooLarge` once `max_bytes` are buffered
    /// without a complete head.
    pub(crate) fn read_head<T>(
        &mut self,
        max_bytes: usize,
        deadline: Option<Deadline>,
        mut parse: impl FnMut(&[u8]) -> Result<Option<(usize, T)>, WireError>,
    ) -> Result<T, WireError> {
        loop {
            if !self.buf.is_empty() {
                let window = &self.buf[..self.buf.len().min(max_bytes)];
                if let Some((n, value)) = parse(window)? {
                    self.buf.drain(..n);
                    return Ok(value);
                }
                if self.buf.len() >= max_bytes {
                    return Err(WireError::TooLarge);
                }
            }
            if self.fill(deadline)? == 0 {
                return Err(WireError::Eof);
            }
        }
    }

    /// Takes one CRLF-terminated line (without its CRLF), at most `max`
    /// bytes long.
    fn read_line(&mut self, max: usize, deadline: Option<Deadline>) -> Result<Vec<u8>, WireError> {
        let mut scanned = 0;
        loop {
            if let Some(i) = self.buf[scanned..].iter().position(|&b| b == b'\n') {
                let end = scanned + i;
                if end == 0 || self.buf[end - 1] != b'\r' {
                    return Err(WireError::Malformed("line not terminated by CRLF"));
                }
                if end - 1 > max {
                    return Err(WireError::Malformed("line too long"));
                }
                let line = self.buf[..end - 1].to_vec();
                self.buf.drain(..=end);
                return Ok(line);
            }
            scanned = self.buf.len();
            if scanned > max + 1 {
                return Err(WireError::Malformed("line too long"));
            }
            if self.fill(deadline)? == 0 {
                return Err(WireError::Eof);
            }
        }
    }

    /// Takes exactly `n` bytes, charging them to `charge` as they arrive.
    /// The buffer grows with the bytes received, never to `n` up front: a
    /// peer that declares a large body and sends little costs little.
    pub(crate) fn read_exact(
        &mut self,
        n: usize,
        deadline: Option<Deadline>,
        charge: &mut Charge<'_>,
    ) -> Result<Vec<u8>, WireError> {
        let from_buf = n.min(self.buf.len());
        charge.add(from_buf)?;
        let mut out: Vec<u8> = self.buf.drain(..from_buf).collect();
        while out.len() < n {
            let want = (n - out.len()).min(READ_CHUNK);
            let got = self.stream.recv_append_deadline(&mut out, want, deadline)?;
            if got == 0 {
                return Err(WireError::Eof);
            }
            charge.add(got)?;
        }
        Ok(out)
    }

    /// Takes a chunked body (RFC 9112 §7.1), at most `max_body` bytes of
    /// data; chunk extensions and trailers are read and ignored.
    pub(crate) fn read_chunked(
        &mut self,
        max_body: usize,
        deadline: Option<Deadline>,
        charge: &mut Charge<'_>,
    ) -> Result<Vec<u8>, WireError> {
        let mut body = Vec::new();
        let mut size_lines = 0;
        loop {
            let line = self.read_line(MAX_CHUNK_LINE, deadline)?;
            size_lines += line.len() + 2;
            if size_lines > MAX_CHUNK_LINES_TOTAL {
                return Err(WireError::TooLarge);
            }
            let size = parse_chunk_size(&line)?;
            if size == 0 {
                break;
            }
            if size > (max_body - body.len()) as u64 {
                return Err(WireError::TooLarge);
            }
            body.extend(self.read_exact(size as usize, deadline, charge)?);
            if !self.read_line(0, deadline)?.is_empty() {
                return Err(WireError::Malformed("chunk data longer than its size"));
            }
        }
        // Trailer fields, up to an empty line.
        let mut trailer_bytes = 0;
        loop {
            let line = self.read_line(MAX_CHUNK_LINE, deadline)?;
            if line.is_empty() {
                return Ok(body);
            }
            trailer_bytes += line.len();
            if trailer_bytes > MAX_CHUNK_LINE {
                return Err(WireError::TooLarge);
            }
            if !line.contains(&b':') {
                return Err(WireError::Malformed("bad trailer field"));
            }
        }
    }

    /// Takes everything up to end of file (a response without framing),
    /// at most `max` bytes.
    pub(crate) fn read_to_end(
        &mut self,
        max: usize,
        deadline: Option<Deadline>,
    ) -> Result<Vec<u8>, WireError> {
        loop {
            if self.buf.len() > max {
                return Err(WireError::TooLarge);
            }
            if self.fill(deadline)? == 0 {
                return Ok(std::mem::take(&mut self.buf));
            }
        }
    }
}

/// The size of a chunk-size line: hex digits, then optional whitespace
/// and `;extensions`.
fn parse_chunk_size(line: &[u8]) -> Result<u64, WireError> {
    let end = line.iter().position(|&b| b == b';').unwrap_or(line.len());
    let digits = line[..end].trim_ascii_end();
    if digits.is_empty() || digits.len() > 15 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return Err(WireError::Malformed("bad chunk size"));
    }
    let s = std::str::from_utf8(digits).map_err(|_| WireError::Malformed("bad chunk size"))?;
    u64::from_str_radix(s, 16).map_err(|_| WireError::Malformed("bad chunk size"))
}

/// Whether `v` is a valid `Host` field value (RFC 9112 §3.2, RFC 3986
/// §3.2.2): `host [":" port]`, the host an IP literal in brackets, or a
/// name of unreserved, percent-encoded and sub-delimiter characters (an
/// IPv4 address is such a name).
pub(crate) fn valid_host(v: &[u8]) -> bool {
    let (host_ok, port) = match v.strip_prefix(b"[") {
        Some(rest) => {
            let Some(end) = rest.iter().position(|&b| b == b']') else {
                return false;
            };
            let literal = &rest[..end];
            let port = match &rest[end + 1..] {
                [] => &[][..],
                [b':', port @ ..] => port,
                _ => return false,
            };
            let literal_ok = !literal.is_empty()
                && literal
                    .iter()
                    .all(|&b| b.is_ascii_hexdigit() || b":.vV".contains(&b));
            (literal_ok, port)
        }
        None => match v.iter().rposition(|&b| b == b':') {
            Some(i) => (reg_name(&v[..i]), &v[i + 1..]),
            None => (reg_name(v), &[][..]),
        },
    };
    host_ok && port.iter().all(u8::is_ascii_digit)
}

/// An RFC 3986 `reg-name`: unreserved, percent-encoded and sub-delimiter
/// characters (an IPv4 address is one).
fn reg_name(host: &[u8]) -> bool {
    let mut rest = host;
    while let Some((&b, tail)) = rest.split_first() {
        rest = match (b, tail) {
            (b'%', [h, l, more @ ..]) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => more,
            (b'%', _) => return false,
            (b, _) if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=".contains(&b) => tail,
            _ => return false,
        };
    }
    true
}

/// One chunk of a chunked body, framed.
pub(crate) fn chunk_frame(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 20);
    out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

/// The last chunk and an empty trailer.
pub(crate) const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// The value of a `Content-Length` field, all its occurrences together
/// (each may be a comma-separated list): they must all be the same
/// decimal number.
pub(crate) fn content_length<'a>(values: impl Iterator<Item = &'a [u8]>) -> Result<Option<u64>, WireError> {
    let mut found: Option<u64> = None;
    for v in values {
        for part in v.split(|&b| b == b',') {
            let part = part.trim_ascii();
            if part.is_empty() || part.len() > 18 || !part.iter().all(u8::is_ascii_digit) {
                return Err(WireError::Malformed("bad Content-Length"));
            }
            let n: u64 = std::str::from_utf8(part)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or(WireError::Malformed("bad Content-Length"))?;
            if found.is_some_and(|f| f != n) {
                return Err(WireError::Malformed("conflicting Content-Length"));
            }
            found = Some(n);
        }
    }
    Ok(found)
}

/// True if the comma-separated list `value` contains `token`
/// (case-insensitively), as in `Connection: keep-alive, Upgrade`.
/// The first value of header `name` among `headers` (names compare
/// case-insensitively).
pub(crate) fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

pub(crate) fn has_token(value: &str, token: &str) -> bool {
    value.split(',').any(|t| t.trim().eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_sizes() {
        assert_eq!(parse_chunk_size(b"1a").unwrap(), 26);
        assert_eq!(parse_chunk_size(b"A;name=v").unwrap(), 10);
        assert_eq!(parse_chunk_size(b"0 ").unwrap(), 0);
        for bad in [&b""[..], b"x", b"-1", b" 1", b"1111111111111111", b";a"] {
            assert!(parse_chunk_size(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn content_lengths() {
        let cl = |vs: &[&str]| content_length(vs.iter().map(|v| v.as_bytes()));
        assert_eq!(cl(&[]).unwrap(), None);
        assert_eq!(cl(&["12"]).unwrap(), Some(12));
        assert_eq!(cl(&["12, 12", "12"]).unwrap(), Some(12));
        for bad in [
            &["1", "2"][..],
            &["-1"],
            &["1a"],
            &[""],
            &["+5"],
            &["99999999999999999999"],
        ] {
            assert!(cl(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tokens() {
        assert!(has_token("keep-alive, Upgrade", "upgrade"));
        assert!(!has_token("upgrades", "upgrade"));
    }

    #[test]
    fn frames() {
        assert_eq!(chunk_frame(b"<p>Hello"), b"8\r\n<p>Hello\r\n");
    }
}
