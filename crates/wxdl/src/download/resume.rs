//! Continuing a body (**[beyond]**, `resume`): what to ask (`Range` from the first missing byte,
//! `If-Range` with the validator of the bytes already held) and what the answer means — a `206`
//! that starts exactly there continues the same representation; a `200` is the whole (new)
//! representation, so the held bytes are dropped; a `416` or a `206` that does not fit means the
//! held bytes cannot be continued and the body is asked for again from the start. Two versions
//! are never spliced: without a validator (a strong `ETag`, else `Last-Modified`) nothing is
//! continued, and every `206` is checked ([`partial_content`]) — the same validator, the range
//! asked for, the same whole length, a length that matches its range, no multipart framing —
//! since a server may ignore `If-Range` and answer with a range of the new version.
//!
//! A leaf: imports nothing of the engine. It decides; the download and the partial file act.

use http::header::{
    HeaderMap, HeaderValue, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG,
    IF_RANGE, LAST_MODIFIED, RANGE,
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
            let want = Want {
                validator: &held.validator,
                start: held.bytes,
                end: None,
                total: held.total,
            };
            match partial_content(headers, &want) {
                Ok(r) => Reply::Continues { total: r.total },
                Err(why) => {
                    tracing::debug!("a 206 that does not continue the held bytes: {why}");
                    Reply::Unusable
                }
            }
        }
        416 => Reply::Unusable,
        _ => Reply::Other,
    }
}

/// What a range request asked for, for checking its `206`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Want<'a> {
    /// The `If-Range` validator sent: the `206` must carry the same one.
    pub validator: &'a str,
    /// The first byte asked for.
    pub start: u64,
    /// The last byte asked for (inclusive); `None`: to the end.
    pub end: Option<u64>,
    /// The whole length as known before the request.
    pub total: Option<u64>,
}

/// Checks that a `206` carries exactly the bytes `want` asked for, of the same representation:
/// not content-coded, not `multipart/byteranges` (a single range was asked: framing is not a
/// body), the same validator (the strong `ETag` equal, or `Last-Modified` equal when that was
/// the validator), a `Content-Range` that starts at the first byte asked, ends at the last
/// one asked (or at the end of the representation), names the same whole length, and a
/// `Content-Length` equal to the range's length when there is one.
///
/// When only one side knows the whole length the range decides deliberately: a length held
/// unknown is learnt from `bytes N-M/T` (which must end at `T - 1` when the rest was asked);
/// a known length `T` with `bytes N-M/*` holds only when `M` is `T - 1`; when neither knows,
/// the range's end is taken as the end. The returned range's `total` is that whole length, so
/// the body's own length is then held to it.
pub(crate) fn partial_content(
    headers: &HeaderMap,
    want: &Want<'_>,
) -> Result<ContentRange, &'static str> {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if headers
        .get(CONTENT_ENCODING)
        .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"))
    {
        return Err("content-coded");
    }
    if text(CONTENT_TYPE).is_some_and(|t| {
        t.trim_start()
            .to_ascii_lowercase()
            .starts_with("multipart/byteranges")
    }) {
        return Err("multipart/byteranges to a single range");
    }
    let same = if want.validator.starts_with('"') {
        text(ETAG) == Some(want.validator)
    } else {
        text(LAST_MODIFIED) == Some(want.validator)
    };
    if !same {
        return Err("another version (validator differs)");
    }
    let r = text(CONTENT_RANGE)
        .and_then(content_range)
        .ok_or("no usable Content-Range")?;
    if r.start != want.start {
        return Err("Content-Range starts elsewhere");
    }
    let total = match (want.total, r.total) {
        (Some(known), Some(said)) if known != said => return Err("another whole length"),
        (Some(known), None) if r.end + 1 != known => return Err("does not end at the known end"),
        (known, said) => said.or(known),
    };
    match want.end {
        Some(end) if r.end != end => return Err("Content-Range ends elsewhere"),
        None if total.is_some_and(|t| r.end + 1 != t) => return Err("does not reach the end"),
        _ => {}
    }
    let len = r.end - r.start + 1;
    if text(CONTENT_LENGTH).is_some_and(|l| l.trim().parse::<u64>() != Ok(len)) {
        return Err("Content-Length differs from Content-Range");
    }
    let total = match want.end {
        None => total.or(Some(r.end + 1)),
        Some(_) => total,
    };
    Ok(ContentRange { total, ..r })
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

    /// A 206 of the held version (`"v1"`) with this `Content-Range`, and `extra` fields.
    fn part(range: &'static str, extra: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = headers(&[("etag", "\"v1\""), ("content-range", range)]);
        for (k, v) in extra {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn only_an_exact_continuation_is_appended() {
        let h = held(1000, Some(5000));
        let fits = part("bytes 1000-4999/5000", &[("content-length", "4000")]);
        assert_eq!(
            reply(206, &fits, &h),
            Reply::Continues { total: Some(5000) }
        );
        for bad in [
            "bytes 0-4999/5000",    // from the start
            "bytes 1000-1999/5000", // not to the end
            "bytes 1000-5999/6000", // another length: another version
            "bytes */5000",
            "rubbish",
        ] {
            assert_eq!(reply(206, &part(bad, &[]), &h), Reply::Unusable, "{bad}");
        }
        let encoded = part("bytes 1000-4999/5000", &[("content-encoding", "gzip")]);
        assert_eq!(reply(206, &encoded, &h), Reply::Unusable);
        assert_eq!(reply(206, &HeaderMap::new(), &h), Reply::Unusable);
        assert_eq!(reply(200, &HeaderMap::new(), &h), Reply::Whole);
        assert_eq!(reply(416, &HeaderMap::new(), &h), Reply::Unusable);
        assert_eq!(reply(503, &HeaderMap::new(), &h), Reply::Other);
    }

    #[test]
    fn a_206_of_another_version_is_never_appended() {
        let h = held(1000, Some(5000));
        let range = ("content-range", "bytes 1000-4999/5000");
        // The server ignored If-Range: the new version's ETag, the same length.
        let other = headers(&[("etag", "\"v2\""), range]);
        assert_eq!(reply(206, &other, &h), Reply::Unusable);
        let weak = headers(&[("etag", "W/\"v1\""), range]);
        assert_eq!(
            reply(206, &weak, &h),
            Reply::Unusable,
            "weak is not strong-equal"
        );
        assert_eq!(
            reply(206, &headers(&[range]), &h),
            Reply::Unusable,
            "no ETag"
        );
        // A date validator: Last-Modified must be the same date.
        let dated = Held {
            validator: "Mon, 02 Jan 2006 15:04:05 GMT".into(),
            ..h.clone()
        };
        let same = headers(&[("last-modified", "Mon, 02 Jan 2006 15:04:05 GMT"), range]);
        assert_eq!(
            reply(206, &same, &dated),
            Reply::Continues { total: Some(5000) }
        );
        let later = headers(&[("last-modified", "Tue, 03 Jan 2006 15:04:05 GMT"), range]);
        assert_eq!(reply(206, &later, &dated), Reply::Unusable);
        assert_eq!(reply(206, &headers(&[range]), &dated), Reply::Unusable);
    }

    #[test]
    fn framing_and_lengths_that_disagree_are_not_a_body() {
        let h = held(1000, Some(5000));
        let multipart = part(
            "bytes 1000-4999/5000",
            &[("content-type", "multipart/byteranges; boundary=xyz")],
        );
        assert_eq!(reply(206, &multipart, &h), Reply::Unusable);
        let long = part("bytes 1000-4999/5000", &[("content-length", "4100")]);
        assert_eq!(reply(206, &long, &h), Reply::Unusable);
    }

    #[test]
    fn when_one_side_knows_the_total_the_range_decides() {
        // Held from a body without Content-Length; the 206 names the total: learnt, as long
        // as the range reaches it.
        let unknown = held(1000, None);
        assert_eq!(
            reply(206, &part("bytes 1000-4999/5000", &[]), &unknown),
            Reply::Continues { total: Some(5000) }
        );
        assert_eq!(
            reply(206, &part("bytes 1000-3999/5000", &[]), &unknown),
            Reply::Unusable
        );
        // A known total and `/*`: only a range that ends at the known end.
        let known = held(1000, Some(5000));
        assert_eq!(
            reply(206, &part("bytes 1000-4999/*", &[]), &known),
            Reply::Continues { total: Some(5000) }
        );
        assert_eq!(
            reply(206, &part("bytes 1000-5999/*", &[]), &known),
            Reply::Unusable
        );
        // Neither knows: the range's end is the end, and the body is held to it.
        assert_eq!(
            reply(206, &part("bytes 1000-4999/*", &[]), &unknown),
            Reply::Continues { total: Some(5000) }
        );
    }

    #[test]
    fn a_segment_must_be_exactly_the_range_asked() {
        let want = Want {
            validator: "\"v1\"",
            start: 1000,
            end: Some(1999),
            total: Some(5000),
        };
        let ok = part("bytes 1000-1999/5000", &[("content-length", "1000")]);
        assert_eq!(partial_content(&ok, &want).unwrap().end, 1999);
        for bad in [
            "bytes 1000-2999/5000",
            "bytes 1000-1999/6000",
            "bytes 999-1999/5000",
        ] {
            assert!(partial_content(&part(bad, &[]), &want).is_err(), "{bad}");
        }
        assert!(partial_content(&part("bytes 1000-1999/*", &[]), &want).is_err());
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
