//! Continuing a body (**[beyond]**, `resume`): what to ask (`Range` from the first missing byte,
//! `If-Range` with the validator of the bytes already held) and what the answer means — a `206`
//! that starts exactly there continues the same representation; a `200` is the whole (new)
//! representation, so the held bytes are dropped; a `416` or a `206` that does not fit means the
//! held bytes cannot be continued and the body is asked for again from the start. Two versions
//! are never spliced: without a validator (a strong `ETag`, else `Last-Modified`) nothing is
//! continued.
//!
//! A leaf: imports nothing of the engine. It decides; the download and the partial file act.

use http::header::{
    HeaderMap, HeaderValue, CONTENT_ENCODING, ETAG, IF_RANGE, LAST_MODIFIED, RANGE,
};

/// The bytes already held for a body, and the validator of the representation they belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Held {
    /// How many bytes, from the start.
    pub bytes: u64,
    /// The `If-Range` value: a strong `ETag` or a `Last-Modified` date.
    pub validator: String,
    /// The whole representation's length, when known.
    pub total: Option<u64>,
}

impl Held {
    /// Adds `Range` and `If-Range` to a request's headers.
    pub fn ask(&self, headers: &mut HeaderMap) {
        let range = format!("bytes={}-", self.bytes);
        if let (Ok(range), Ok(validator)) = (
            HeaderValue::from_str(&range),
            HeaderValue::from_str(&self.validator),
        ) {
            headers.insert(RANGE, range);
            headers.insert(IF_RANGE, validator);
        }
    }
}

/// The validator a response's bytes can later be continued under: its `ETag` when strong (weak
/// ones cannot be used in `If-Range`, RFC 9110 §13.1.5), else its `Last-Modified`.
pub(crate) fn validator(headers: &HeaderMap) -> Option<String> {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    match text(ETAG) {
        Some(etag) if etag.starts_with('"') => Some(etag.to_owned()),
        _ => text(LAST_MODIFIED).map(str::to_owned),
    }
}

/// What a response to a request that asked for `held`'s continuation means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reply {
    /// `206` from exactly the first missing byte, same representation: append its body.
    Continues {
        /// The whole representation's length (`Content-Range`'s complete-length).
        total: Option<u64>,
    },
    /// `200`: the whole representation (new, or the server ignores ranges): start over with it.
    Whole,
    /// `416`, or a `206` that does not continue the held bytes: ask again without a range.
    Unusable,
    /// Any other answer (an error page, a redirect limit): the held bytes stay as they are.
    Other,
}

/// Reads a response to a continuation request.
pub(crate) fn reply(status: u16, headers: &HeaderMap, held: &Held) -> Reply {
    match status {
        200 => Reply::Whole,
        206 => {
            let encoded = headers
                .get(CONTENT_ENCODING)
                .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"));
            let range = headers
                .get(http::header::CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(content_range);
            match range {
                Some(r)
                    if !encoded
                        && r.start == held.bytes
                        && r.total.is_none_or(|t| r.end + 1 == t)
                        && (held.total.is_none() || r.total.is_none() || held.total == r.total) =>
                {
                    Reply::Continues { total: r.total }
                }
                _ => Reply::Unusable,
            }
        }
        416 => Reply::Unusable,
        _ => Reply::Other,
    }
}

/// A `Content-Range: bytes first-last/complete` value (RFC 9110 §14.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ContentRange {
    pub start: u64,
    /// The last byte's position (inclusive).
    pub end: u64,
    /// The complete length, unless the server wrote `*`.
    pub total: Option<u64>,
}

/// Parses `bytes first-last/complete` (`complete` may be `*`); `None` for anything else,
/// including the unsatisfied form `bytes */complete`.
pub(crate) fn content_range(text: &str) -> Option<ContentRange> {
    let rest = text.trim().strip_prefix("bytes")?.trim_start();
    let (span, total) = rest.split_once('/')?;
    let (start, end) = span.trim().split_once('-')?;
    let (start, end) = (start.parse::<u64>().ok()?, end.parse::<u64>().ok()?);
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse::<u64>().ok()?),
    };
    (start <= end && total.is_none_or(|t| end < t)).then_some(ContentRange { start, end, total })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    fn held(bytes: u64, total: Option<u64>) -> Held {
        Held {
            bytes,
            validator: "\"v1\"".into(),
            total,
        }
    }

    #[test]
    fn the_request_asks_for_the_rest_under_the_validator() {
        let mut h = HeaderMap::new();
        held(1000, Some(5000)).ask(&mut h);
        assert_eq!(h[RANGE], "bytes=1000-");
        assert_eq!(h[IF_RANGE], "\"v1\"");
    }

    #[test]
    fn strong_etags_first_then_dates_never_weak_etags() {
        let strong = headers(&[("etag", "\"abc\""), ("last-modified", "Mon, 02 Jan 2006")]);
        assert_eq!(validator(&strong).as_deref(), Some("\"abc\""));
        let weak = headers(&[("etag", "W/\"abc\""), ("last-modified", "Mon, 02 Jan 2006")]);
        assert_eq!(validator(&weak).as_deref(), Some("Mon, 02 Jan 2006"));
        assert_eq!(validator(&headers(&[("etag", "W/\"abc\"")])), None);
    }

    #[test]
    fn only_an_exact_continuation_is_appended() {
        let h = held(1000, Some(5000));
        let fits = headers(&[("content-range", "bytes 1000-4999/5000")]);
        assert_eq!(
            reply(206, &fits, &h),
            Reply::Continues { total: Some(5000) }
        );
        let unknown_total = headers(&[("content-range", "bytes 1000-4999/*")]);
        assert_eq!(
            reply(206, &unknown_total, &held(1000, None)),
            Reply::Continues { total: None }
        );
        for bad in [
            "bytes 0-4999/5000",    // from the start
            "bytes 1000-1999/5000", // not to the end
            "bytes 1000-5999/6000", // another length: another version
            "bytes */5000",
            "rubbish",
        ] {
            let h206 = headers(&[("content-range", bad)]);
            assert_eq!(reply(206, &h206, &h), Reply::Unusable, "{bad}");
        }
        let encoded = headers(&[
            ("content-range", "bytes 1000-4999/5000"),
            ("content-encoding", "gzip"),
        ]);
        assert_eq!(reply(206, &encoded, &h), Reply::Unusable);
        assert_eq!(reply(206, &HeaderMap::new(), &h), Reply::Unusable);
        assert_eq!(reply(200, &HeaderMap::new(), &h), Reply::Whole);
        assert_eq!(reply(416, &HeaderMap::new(), &h), Reply::Unusable);
        assert_eq!(reply(503, &HeaderMap::new(), &h), Reply::Other);
    }

    #[test]
    fn content_range_forms() {
        assert_eq!(
            content_range("bytes 0-0/1"),
            Some(ContentRange {
                start: 0,
                end: 0,
                total: Some(1)
            })
        );
        assert_eq!(content_range("bytes 5-4/10"), None);
        assert_eq!(content_range("bytes 5-10/10"), None);
        assert_eq!(content_range("items 0-1/2"), None);
    }
}
