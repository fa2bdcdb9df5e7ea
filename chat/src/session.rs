//! Sessions: the token a join issues, the cookie and header that carry
//! it, and the WebSocket Origin check.

use super::*;

/// The request header an API client sends its session token in (the
/// join's response carries it too).
pub const TOKEN_HEADER: &str = "X-Zchat-Token";

/// The cookie that holds `uid`'s session token: `zchat_UID`.
pub fn cookie_name(uid: &str) -> String {
    format!("zchat_{uid}")
}

/// A session token: 128 bits from the operating system's random number
/// generator, written as 32 lowercase hex digits.
///
/// Its `Debug` does not show it; compare with [`Token::matches`], in
/// constant time.
#[derive(Clone, Copy)]
pub struct Token([u8; 16]);

impl Token {
    /// A fresh random token.
    pub fn random() -> Token {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).expect("the operating system's random number generator");
        Token(bytes)
    }

    /// The token written as `s` (32 hex digits), if it is one.
    pub fn parse(s: &str) -> Option<Token> {
        let s = s.trim().as_bytes();
        if s.len() != 32 {
            return None;
        }
        let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
        let mut bytes = [0u8; 16];
        for (b, pair) in bytes.iter_mut().zip(s.chunks(2)) {
            *b = digit(pair[0])? << 4 | digit(pair[1])?;
        }
        Some(Token(bytes))
    }

    /// Whether `other` is the same token, in time that does not depend on
    /// where they differ: the XOR of each pair of bytes is OR-folded into
    /// one byte, with no early exit, and only that byte is tested.
    pub fn matches(&self, other: &Token) -> bool {
        let diff = self
            .0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        std::hint::black_box(diff) == 0
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(..)")
    }
}

/// The session token a request presents for `uid`: its
/// [`TOKEN_HEADER`] header, else its [`cookie_name`] cookie.
pub fn request_token(req: &Request, uid: &str) -> Option<String> {
    if let Some(t) = req.header(TOKEN_HEADER) {
        return Some(t.trim().to_string());
    }
    let name = cookie_name(uid);
    req.headers()
        .filter(|(k, _)| k.eq_ignore_ascii_case("cookie"))
        .flat_map(|(_, v)| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k.trim() == name).then(|| v.trim().trim_matches('"').to_string())
        })
}

/// The `Set-Cookie` value that gives a browser `uid`'s session token.
pub(super) fn session_cookie(uid: &str, token: &Token) -> String {
    format!("{}={token}; Path=/; HttpOnly; SameSite=Strict", cookie_name(uid))
}

/// Whether a WebSocket upgrade whose `Origin` is `origin`, sent to `Host`
/// `host`, is allowed by `allowed` (see [`Config::ws_origins`]).
///
/// ```
/// use zgreen_chat::origin_allowed;
///
/// let me = ["self".to_string()];
/// assert!(origin_allowed(Some("http://chat:5000"), Some("chat:5000"), &me));
/// assert!(!origin_allowed(Some("http://evil.example"), Some("chat:5000"), &me));
/// assert!(!origin_allowed(Some("null"), Some("chat:5000"), &me));
/// assert!(origin_allowed(None, Some("chat:5000"), &me)); // not a browser
/// let listed = ["https://chat.example.com".to_string()];
/// assert!(origin_allowed(Some("https://chat.example.com"), Some("x"), &listed));
/// assert!(!origin_allowed(Some("http://x"), Some("x"), &listed));
/// ```
pub fn origin_allowed(origin: Option<&str>, host: Option<&str>, allowed: &[String]) -> bool {
    let Some(origin) = origin.map(str::trim) else {
        return true;
    };
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    allowed.iter().any(|a| match a.trim() {
        "*" => true,
        "self" => matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h.trim())),
        a => a.trim_end_matches('/').eq_ignore_ascii_case(origin),
    })
}
