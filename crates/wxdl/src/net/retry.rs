//! Retry with backoff (**[beyond]**, `retry`): a failure that a later try may not meet (the
//! name did not resolve, the connection was refused or reset, the response was cut or
//! malformed, or — when asked — a 408, 429 or 5xx answer) is tried again after an exponential
//! backoff with full jitter, or after the server's `Retry-After` (seconds or an HTTP-date,
//! capped). Never for policy, sandbox, cap or integrity failures, and — without resume — only
//! before the body started: a try covers everything up to the final response head. The
//! download's overall `timeout` bounds all tries and waits together.
//!
//! Imports only `error`: it decides, the download acts.

use std::time::{Duration, SystemTime};

use http::header::{HeaderMap, RETRY_AFTER};

use crate::error::{Fail, FailReason};

/// The longest backoff between two tries.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// How a download retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Retry {
    /// Tries after the first.
    pub retries: u32,
    /// The backoff's base: the n-th retry waits up to base × 2ⁿ.
    pub base: Duration,
    /// Also retry on 408, 429 and 5xx answers.
    pub on_http: bool,
}

impl Retry {
    /// Whether a failure before the body is worth another try.
    pub fn retries_failure(&self, fail: &Fail) -> bool {
        matches!(
            fail.reason,
            FailReason::DnsResolveFail | FailReason::ConnectFail | FailReason::NetworkInterrupted
        )
    }

    /// Whether an answer with `status` is worth another try.
    pub fn retries_status(&self, status: u16) -> bool {
        self.on_http && matches!(status, 408 | 429 | 500..=599)
    }

    /// How long to wait before retry number `n` (from 0): full jitter over base × 2ⁿ (at most
    /// [`MAX_BACKOFF`]), or the server's `Retry-After` when it asks for longer.
    pub fn delay(&self, n: u32, retry_after: Option<Duration>) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32.checked_shl(n).unwrap_or(u32::MAX))
            .min(MAX_BACKOFF);
        let jitter = Duration::from_secs_f64(rand::random::<f64>() * ceiling.as_secs_f64());
        jitter.max(retry_after.unwrap_or_default().min(MAX_RETRY_AFTER))
    }
}

/// The `Retry-After` of a response: delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(text).ok()?;
    Some(when.duration_since(SystemTime::now()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn what_is_retried_and_how_long_to_wait() {
        let r = Retry {
            retries: 3,
            base: Duration::from_millis(100),
            on_http: false,
        };
        assert!(r.retries_failure(&Fail::new(FailReason::ConnectFail)));
        for never in [
            FailReason::UrlNotInDomainList,
            FailReason::PermissionDenied,
            FailReason::ExceedMaxFileSize,
            FailReason::IntegrityCheckFail,
            FailReason::SslHandshakeFail,
            FailReason::Abort,
        ] {
            assert!(!r.retries_failure(&Fail::new(never)), "{never:?}");
        }
        assert!(!r.retries_status(503), "only when asked");
        let http = Retry { on_http: true, ..r };
        assert!(http.retries_status(503) && http.retries_status(429) && !http.retries_status(404));
        for n in 0..40 {
            assert!(r.delay(n, None) <= MAX_BACKOFF);
        }
        assert!(r.delay(0, None) <= Duration::from_millis(100));
        assert_eq!(
            r.delay(0, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(r.delay(0, Some(Duration::from_secs(3600))), MAX_RETRY_AFTER);
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        h.insert(RETRY_AFTER, HeaderValue::from_str(&later).unwrap());
        let d = retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(100) && d <= Duration::from_secs(120),
            "{d:?}"
        );
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }
}
