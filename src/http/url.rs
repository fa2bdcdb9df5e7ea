//! Percent-decoding of paths, query strings and form bodies.

/// Decodes `%XX` escapes (invalid escapes are kept as they are); bytes
/// that are not UTF-8 become U+FFFD.
///
/// ```
/// assert_eq!(zgreen::http::percent_decode("a%20b%2Fc"), "a b/c");
/// ```
pub fn percent_decode(s: &str) -> String {
    decode(s, false)
}

/// Decodes one `application/x-www-form-urlencoded` name or value: like
/// [`percent_decode`], and `+` stands for a space.
///
/// ```
/// assert_eq!(zgreen::http::form_decode("hello+world%21"), "hello world!");
/// ```
pub fn form_decode(s: &str) -> String {
    decode(s, true)
}

fn decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The `name=value` pairs of a query string or form body, decoded.
pub(crate) fn form_pairs(s: &str) -> impl Iterator<Item = (String, String)> + '_ {
    s.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (form_decode(k), form_decode(v))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes() {
        assert_eq!(percent_decode("%41%42c"), "ABc");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("%ff"), "\u{fffd}");
        assert_eq!(form_decode("a+b"), "a b");
        assert_eq!(percent_decode("a+b"), "a+b");
        let pairs: Vec<_> = form_pairs("a=1&b=x+y&&c").collect();
        assert_eq!(
            pairs,
            [
                ("a".into(), "1".into()),
                ("b".into(), "x y".into()),
                ("c".into(), String::new())
            ]
        );
    }
}
