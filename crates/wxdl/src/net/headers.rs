//! Request and response headers as the engine handles them: the headers the host adds to every
//! request, and the forms responses are reported in (WeChat's map, HAR's ordered list).
//!
//! Imports `engine` (identity headers), `policy` and `events`; never a policy module.

use http::header::{
    HeaderMap, HeaderValue, ACCEPT, ACCEPT_ENCODING, CONTENT_LENGTH, HOST, REFERER, USER_AGENT,
};

use crate::engine::Engine;
use crate::events::{Header, HeadersReceived};
use crate::net::policy::Policy;

/// The caller's headers plus the host's: default User-Agent and Accept, identity coding unless
/// the caller asked otherwise, and the host's own Referer. Under the strict policy a caller's
/// `Host` goes too (the URL alone says where a request goes); with the policy off it stays, as
/// curl's testing idiom expects.
pub(crate) fn request_headers(engine: &Engine, mut headers: HeaderMap) -> HeaderMap {
    if engine.policy != Policy::Off {
        headers.remove(HOST);
    }
    if !headers.contains_key(USER_AGENT) {
        headers.insert(USER_AGENT, engine.user_agent.clone());
    }
    if !headers.contains_key(ACCEPT) {
        headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
    }
    if !headers.contains_key(ACCEPT_ENCODING) {
        headers.insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
    }
    headers.insert(REFERER, engine.referer.clone());
    headers
}

/// Headers as (name, value) pairs, in order.
pub(crate) fn header_list(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// Each `Set-Cookie` value of a response, as sent, in order.
pub(crate) fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(http::header::SET_COOKIE)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect()
}

/// The headers event of a response with `status` (the status the caller reports: a resumed
/// download's `206` is its whole file's `200`) and head `head`.
pub(crate) fn headers_event(status: u16, head: &HeaderMap) -> HeadersReceived {
    HeadersReceived {
        header: header_map(head),
        status_code: status,
        cookies: set_cookies(head),
    }
}

/// Response headers as a map of lowercase names; repeated fields joined by `, `.
pub(crate) fn header_map(headers: &HeaderMap) -> Header {
    let mut out = Header::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        out.entry(name.as_str().to_owned())
            .and_modify(|v: &mut String| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert_with(|| value.into_owned());
    }
    out
}

/// The body length a response announces, when it announces a valid one.
pub(crate) fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// The size of a head in HTTP/1.1 text form: start line, `name: value` lines, blank line.
pub(crate) fn head_size(start_line: &str, headers: &HeaderMap) -> u64 {
    let fields: usize = headers
        .iter()
        .map(|(k, v)| k.as_str().len() + 2 + v.as_bytes().len() + 2)
        .sum();
    (start_line.len() + 2 + fields + 2) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::SET_COOKIE;

    #[test]
    fn repeated_fields_join_and_sizes_count_text_form() {
        let mut h = HeaderMap::new();
        h.append(SET_COOKIE, HeaderValue::from_static("a=1"));
        h.append(SET_COOKIE, HeaderValue::from_static("b=2"));
        h.insert(CONTENT_LENGTH, HeaderValue::from_static(" 12 "));
        assert_eq!(header_map(&h)["set-cookie"], "a=1, b=2");
        assert_eq!(header_list(&h).len(), 3);
        assert_eq!(content_length(&h), Some(12));
        // "X 1\r\n" + "set-cookie: a=1\r\n" * 2 + "content-length:  12 \r\n" + "\r\n"
        assert_eq!(head_size("X 1", &h), 5 + 17 * 2 + 22 + 2);
    }
}
