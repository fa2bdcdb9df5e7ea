//! The `Date` field every response carries (RFC 9110 §6.6.1: an origin
//! server with a clock sends one), formatted at most once per second per
//! thread.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

thread_local! {
    /// The second the cached line was made for, and the line itself
    /// (`Date: <IMF-fixdate>\r\n`).
    static CACHE: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

/// Appends `Date: <now>\r\n` to `head`.
pub(crate) fn push_date_line(head: &mut String) {
    let now = SystemTime::now();
    let second = now.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.0 != second {
            cache.1.clear();
            cache.1.push_str("Date: ");
            cache.1.push_str(&httpdate::fmt_http_date(now));
            cache.1.push_str("\r\n");
            cache.0 = second;
        }
        head.push_str(&cache.1);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_is_an_imf_fixdate_of_now() {
        let mut head = String::new();
        push_date_line(&mut head);
        let value = head.strip_prefix("Date: ").unwrap().strip_suffix("\r\n").unwrap();
        assert_eq!(value.len(), 29, "IMF-fixdate is 29 characters: {value:?}");
        assert!(value.ends_with(" GMT"), "{value:?}");
        let parsed = httpdate::parse_http_date(value).unwrap();
        let skew = SystemTime::now().duration_since(parsed).unwrap();
        assert!(skew.as_secs() <= 2, "{value:?} is {skew:?} old");
        // A second line in the same second reuses the cached text.
        push_date_line(&mut head);
        assert_eq!(head.matches("Date: ").count(), 2);
    }
}
