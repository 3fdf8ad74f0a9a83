//! The request checks every download's options pass before any I/O: the URL (http(s) with a
//! host) and the caller's headers (HTTP tokens, no CR/LF/NUL; the engine's own dropped).
//!
//! Imports only `error`.

use http::header::{HeaderMap, HeaderName, HeaderValue, REFERER};
use url::Url;

use crate::error::{Fail, FailReason};

/// Parses a download URL: empty → `url is null or nil`; unparsable or not http(s) → `invalid url`.
pub(crate) fn parse_url(raw: Option<&str>) -> Result<Url, Fail> {
    let raw = match raw {
        None | Some("") => return Err(Fail::new(FailReason::UrlNull)),
        Some(s) => s,
    };
    let url = Url::parse(raw).map_err(|e| Fail::with(FailReason::InvalidUrl, e))?;
    check_scheme(&url)?;
    Ok(url)
}

/// Only `http` and `https` with a host are downloadable.
pub(crate) fn check_scheme(url: &Url) -> Result<(), Fail> {
    match url.scheme() {
        "http" | "https" if url.host().is_some() => Ok(()),
        "http" | "https" => Err(Fail::with(FailReason::InvalidUrl, "missing host")),
        other => Err(Fail::with(
            FailReason::InvalidUrl,
            format_args!("unsupported scheme {other:?}"),
        )),
    }
}

/// Headers the engine owns because they describe the connection or the message framing:
/// a caller's are dropped, never sent and never a failure (WeChat accepts such calls).
const ENGINE_OWNED: [&str; 7] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
    "keep-alive",
    "proxy-connection",
];

/// Whether the engine drops a caller's header of this name instead of sending it: the framing
/// and connection headers always, `Referer` (the host sets its own) always, and `Host` under
/// the strict policy (`strict`). Faces use it to warn.
///
/// ```
/// assert!(wxdl::options::is_engine_owned_header("Content-Length", false));
/// assert!(wxdl::options::is_engine_owned_header("host", true));
/// assert!(!wxdl::options::is_engine_owned_header("Host", false)); // curl's testing idiom works
/// assert!(!wxdl::options::is_engine_owned_header("X-Token", true));
/// ```
pub fn is_engine_owned_header(name: &str, strict: bool) -> bool {
    let lower = name.trim().to_ascii_lowercase();
    ENGINE_OWNED.contains(&lower.as_str()) || lower == "referer" || (strict && lower == "host")
}

/// Validates caller headers: names must be HTTP tokens, values free of CR/LF/NUL (and other
/// control bytes). The engine's own headers (Referer, framing, connection) are dropped here;
/// `Host` stays for the request builder to decide with the policy.
pub(crate) fn validate_headers(pairs: &[(String, String)]) -> Result<HeaderMap, Fail> {
    let mut map = HeaderMap::with_capacity(pairs.len());
    for (name, value) in pairs {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| Fail::with(FailReason::InvalidHeader, format_args!("name {name:?}")))?;
        let value = HeaderValue::from_bytes(value.as_bytes()).map_err(|_| {
            Fail::with(
                FailReason::InvalidHeader,
                format_args!("value of {}", name.as_str()),
            )
        })?;
        if name == REFERER || ENGINE_OWNED.contains(&name.as_str()) {
            continue;
        }
        map.append(name, value);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(r: Result<impl std::fmt::Debug, Fail>) -> FailReason {
        r.unwrap_err().reason
    }

    #[test]
    fn url_rules() {
        assert_eq!(reason(parse_url(None)), FailReason::UrlNull);
        assert_eq!(reason(parse_url(Some(""))), FailReason::UrlNull);
        assert_eq!(reason(parse_url(Some("ftp://x/y"))), FailReason::InvalidUrl);
        assert_eq!(
            reason(parse_url(Some("file:///etc/passwd"))),
            FailReason::InvalidUrl
        );
        assert_eq!(reason(parse_url(Some("not a url"))), FailReason::InvalidUrl);
        assert_eq!(reason(parse_url(Some("http://"))), FailReason::InvalidUrl);
        assert!(parse_url(Some("https://example.com/a.mp3")).is_ok());
    }

    #[test]
    fn header_rules() {
        let ok = validate_headers(&[
            ("X-A".into(), "1".into()),
            ("Referer".into(), "https://evil/".into()),
            ("Content-Length".into(), "5".into()),
            ("Transfer-Encoding".into(), "chunked".into()),
            ("Connection".into(), "close".into()),
            ("Upgrade".into(), "h2c".into()),
            ("TE".into(), "trailers".into()),
            ("Keep-Alive".into(), "1".into()),
            ("Proxy-Connection".into(), "x".into()),
            ("Host".into(), "other".into()),
        ])
        .unwrap();
        assert_eq!(ok.len(), 2, "{ok:?}");
        assert!(ok.contains_key("x-a") && ok.contains_key("host"));
        for (n, v) in [
            ("Bad Name", "x"),
            ("", "x"),
            ("X(", "x"),
            ("X-A", "a\r\nInjected: 1"),
            ("X-A", "a\nb"),
            ("X-A", "a\0b"),
        ] {
            assert_eq!(
                reason(validate_headers(&[(n.into(), v.into())])),
                FailReason::InvalidHeader,
                "{n:?}: {v:?}"
            );
        }
    }
}
