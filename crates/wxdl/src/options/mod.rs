//! Download options (contract §1) and their validation, which runs before any I/O. (The wx
//! layer, `wxdl-wx`, builds them from a JavaScript-style object for every face that has one.)
//!
//! Imports `events`, `integrity`, `retry` (their types) and `error`; never the transport or
//! the download.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::header::HeaderMap;
use url::Url;

use crate::download::integrity::Integrity;
use crate::error::Fail;
use crate::events::{HeadersFn, Progress, ProgressFn, TraceFn};

mod checks;

pub use checks::is_engine_owned_header;
pub(crate) use checks::{check_scheme, parse_url, validate_headers};

/// The default whole-download timeout: 60 000 ms.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(60_000);

/// The default base delay of retries: 1 s (then 2 s, 4 s, …, with full jitter).
pub(crate) const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(1);

/// The default size cap: 200 MiB (209 715 200 bytes).
pub const DEFAULT_MAX_BYTES: u64 = 200 * 1024 * 1024;

/// What one `downloadFile` call asks for.
///
/// Build it with [`DownloadOptions::new`] and the chained setters (the wx layer, `wxdl-wx`,
/// builds it from a JS-style object); nothing is checked until the
/// [`Client`](crate::Client) starts the download, and a bad value then fails the task with the
/// right [`FailReason`](crate::FailReason) before any network I/O. [`DownloadOptions::check`] runs those checks
/// on their own.
///
/// ```
/// use std::time::Duration;
/// use wxdl::DownloadOptions;
///
/// let opts = DownloadOptions::new("https://example.com/audio/123")
///     .header("X-Token", "abc")
///     .timeout(Duration::from_secs(10))
///     .file_path("wxfile://usr/voice.mp3");
/// assert!(opts.check().is_ok());
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct DownloadOptions {
    /// The resource URL (`http://` or `https://`); empty fails with `url is null or nil`.
    pub(crate) url: String,
    /// Extra request headers, in order. `Referer` is ignored (the host sets its own).
    pub(crate) header: Vec<(String, String)>,
    /// Whole-download timeout; `None` or zero means [`DEFAULT_TIMEOUT`].
    pub(crate) timeout: Option<Duration>,
    /// A user path (`wxfile://usr/…`) to store the file at; without it a temp file is made.
    pub(crate) file_path: Option<String>,
    /// **\[beyond\]** An ordinary host path to store the file at (the CLI's `-o`), with the same
    /// atomic rule. Takes precedence over `file_path`. Not reachable from the JS host.
    pub(crate) host_path: Option<PathBuf>,
    /// **\[beyond\]** An open file to write the body straight through to (stdout, a pipe, a
    /// device): no private file, no rename, nothing removed on failure. Takes precedence over
    /// `host_path`, which then only names it in messages. Not reachable from the JS host.
    pub(crate) output_file: Option<Arc<File>>,
    /// Fill the profile in the result (default true).
    pub(crate) enable_profile: bool,
    /// Allow HTTP/2 (ALPN `h2`).
    pub enable_http2: bool,
    /// Allow HTTP/3 over QUIC: tried when the origin advertised `Alt-Svc: h3` to this client
    /// (or with [`quic_hint`](DownloadOptions::quic_hint)), falling back to TCP if QUIC fails
    /// before the first response byte.
    pub(crate) enable_quic: bool,
    /// **\[beyond\]** With `enable_quic`: try HTTP/3 first on the URL's port even before any
    /// `Alt-Svc` was seen (the host knows the server speaks it; CLI `--http3`).
    pub(crate) quic_hint: bool,
    /// Accepted as WeChat does (3.4.1+) and reported back; changes nothing here.
    pub(crate) use_high_performance_mode: bool,
    /// **\[beyond\]** The size cap in bytes (default [`DEFAULT_MAX_BYTES`]).
    pub(crate) max_bytes: Option<u64>,
    /// **\[beyond\]** The body's expected SHA-256 (`sha256-<base64>` or hex); a mismatch fails
    /// with `integrity check fail` and leaves nothing.
    pub(crate) integrity: Option<String>,
    /// **\[beyond\]** Fail with `timeout` when no body byte arrives for this long.
    pub(crate) stall_timeout: Option<Duration>,
    /// **\[beyond\]** At most this many body bytes per second.
    pub(crate) rate_limit: Option<u64>,
    /// **\[beyond\]** With `host_path`: name the file after the response's
    /// `Content-Disposition` in `host_path`'s directory (the CLI's `-J`).
    pub(crate) name_from_response: bool,
    /// **\[beyond\]** With `name_from_response`: replace a file of that name.
    pub(crate) clobber: bool,
    /// **\[beyond\]** Tries after the first, for failures a later try may not meet.
    pub(crate) retry: u32,
    /// **\[beyond\]** The backoff's base delay (default 1 s).
    pub(crate) retry_delay: Option<Duration>,
    /// **\[beyond\]** Also retry on 408, 429 and 5xx answers.
    pub(crate) retry_http: bool,
    /// **\[beyond\]** Keep an interrupted body and continue it (`Range`/`If-Range`).
    pub(crate) resume: bool,
    /// **\[beyond\]** Fetch one large body as this many ranged requests at once.
    pub(crate) split: u32,
    /// **\[beyond\]** A `204` replaces an existing target with its empty body.
    pub(crate) save_empty: bool,
    /// Progress callback registered before the download starts (no event can be missed).
    pub(crate) on_progress_update: Option<ProgressFn>,
    /// Headers callback registered before the download starts.
    pub(crate) on_headers_received: Option<HeadersFn>,
    pub(crate) on_trace: Option<TraceFn>,
}

impl std::fmt::Debug for DownloadOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DownloadOptions")
            .field("url", &self.url)
            .field("header", &self.header)
            .field("timeout", &self.timeout)
            .field("file_path", &self.file_path)
            .field("host_path", &self.host_path)
            .field("output_file", &self.output_file)
            .field("enable_profile", &self.enable_profile)
            .field("enable_http2", &self.enable_http2)
            .field("enable_quic", &self.enable_quic)
            .field("quic_hint", &self.quic_hint)
            .field("use_high_performance_mode", &self.use_high_performance_mode)
            .field("max_bytes", &self.max_bytes)
            .field("integrity", &self.integrity)
            .field("stall_timeout", &self.stall_timeout)
            .field("rate_limit", &self.rate_limit)
            .field("name_from_response", &self.name_from_response)
            .field("clobber", &self.clobber)
            .field("retry", &self.retry)
            .field("retry_delay", &self.retry_delay)
            .field("retry_http", &self.retry_http)
            .field("resume", &self.resume)
            .field("split", &self.split)
            .field("save_empty", &self.save_empty)
            .finish_non_exhaustive()
    }
}

/// The setters every API's options share (their fields have the same names and meanings):
/// headers, timeouts, protocols, the profile, the body cap, and the headers and trace
/// listeners.
macro_rules! call_setters {
    () => {
        /// Adds a request header (`Referer` and the framing headers are the engine's: dropped).
        pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
            self.header.push((name.into(), value.into()));
            self
        }

        /// Sets the whole-call timeout (queued time included); zero means the default.
        pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
            self.timeout = Some(timeout);
            self
        }

        /// Sets the timeout used when none was given (a host's default, like `app.json`'s
        /// `networkTimeout`).
        pub fn default_timeout(mut self, timeout: std::time::Duration) -> Self {
            if self.timeout.is_none_or(|t| t.is_zero()) {
                self.timeout = Some(timeout);
            }
            self
        }

        /// Enables or disables the profile (default enabled).
        pub fn enable_profile(mut self, on: bool) -> Self {
            self.enable_profile = on;
            self
        }

        /// Allows HTTP/2 (ALPN `h2`).
        pub fn enable_http2(mut self, on: bool) -> Self {
            self.enable_http2 = on;
            self
        }

        /// Allows HTTP/3 where the origin advertised it, falling back to TCP when QUIC fails
        /// before a response head.
        pub fn enable_quic(mut self, on: bool) -> Self {
            self.enable_quic = on;
            self
        }

        /// Reports `usingHighPerformanceMode` in the profile (WeChat's option; the call itself
        /// is the same).
        pub fn use_high_performance_mode(mut self, on: bool) -> Self {
            self.use_high_performance_mode = on;
            self
        }

        /// Tries HTTP/3 first even without an `Alt-Svc` advertisement (needs `enable_quic`).
        pub fn quic_hint(mut self, on: bool) -> Self {
            self.quic_hint = on;
            self
        }

        /// Sets the size cap in bytes (a download's file, a request's body in memory).
        pub fn max_bytes(mut self, max: u64) -> Self {
            self.max_bytes = Some(max);
            self
        }

        /// **\[beyond\]** Tries again up to `n` times after a failure a later try may not meet
        /// (DNS, refused or reset connections, cut responses), with exponential backoff and
        /// full jitter, honouring `Retry-After`; within the overall timeout. A non-idempotent
        /// method (POST, PATCH) is tried again only when no connection was made.
        pub fn retry(mut self, n: u32) -> Self {
            self.retry = n;
            self
        }

        /// **\[beyond\]** The backoff's base delay: retry n waits up to base × 2ⁿ (default
        /// 1 s).
        pub fn retry_delay(mut self, base: std::time::Duration) -> Self {
            self.retry_delay = Some(base);
            self
        }

        /// **\[beyond\]** Also retries on 408, 429 and 5xx answers (idempotent methods only).
        pub fn retry_http(mut self, on: bool) -> Self {
            self.retry_http = on;
            self
        }

        /// The retry policy these options ask for, if any.
        pub(crate) fn retry_policy(&self) -> Option<$crate::net::retry::Retry> {
            (self.retry > 0).then(|| $crate::net::retry::Retry {
                retries: self.retry,
                base: self
                    .retry_delay
                    .unwrap_or($crate::options::DEFAULT_RETRY_DELAY),
                on_http: self.retry_http,
            })
        }

        /// Registers a headers-received callback before the call starts (none is missed).
        pub fn on_headers_received(
            mut self,
            f: impl Fn(&$crate::events::HeadersReceived) + Send + Sync + 'static,
        ) -> Self {
            self.on_headers_received = Some(std::sync::Arc::new(f));
            self
        }

        /// **\[beyond\]** Registers a [`Trace`](crate::events::Trace) callback: each request
        /// head as it is sent, each response head as it arrives (redirects and retried
        /// answers included), each retry with its reason and wait. Called on the call's
        /// task: keep it short.
        pub fn on_trace(
            mut self,
            f: impl Fn(&$crate::events::Trace) + Send + Sync + 'static,
        ) -> Self {
            self.on_trace = Some(std::sync::Arc::new(f));
            self
        }
    };
}
pub(crate) use call_setters;

impl DownloadOptions {
    call_setters!();

    /// Options for `url` with every default (profile enabled).
    pub fn new(url: impl Into<String>) -> Self {
        DownloadOptions {
            url: url.into(),
            enable_profile: true,
            ..Default::default()
        }
    }

    /// Stores the file at a user path (`wxfile://usr/…`).
    pub fn file_path(mut self, path: impl Into<String>) -> Self {
        self.file_path = Some(path.into());
        self
    }

    /// Stores the file at an ordinary host path (outside the sandbox; CLI `-o`).
    pub fn host_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.host_path = Some(path.into());
        self
    }

    /// Writes the body straight through to an open file (CLI `-o -` gives stdout).
    pub fn output_file(mut self, file: File) -> Self {
        self.output_file = Some(Arc::new(file));
        self
    }

    /// **\[beyond\]** Checks the body against a SHA-256 (`sha256-<base64>` or 64 hex digits)
    /// before it is put in place.
    pub fn integrity(mut self, expected: impl Into<String>) -> Self {
        self.integrity = Some(expected.into());
        self
    }

    /// **\[beyond\]** Fails with `timeout` when no body byte arrives for this long.
    pub fn stall_timeout(mut self, stall: Duration) -> Self {
        self.stall_timeout = Some(stall);
        self
    }

    /// **\[beyond\]** Receives at most this many body bytes per second.
    pub fn rate_limit(mut self, bytes_per_second: u64) -> Self {
        self.rate_limit = Some(bytes_per_second);
        self
    }

    /// **\[beyond\]** With [`host_path`](Self::host_path), names the file after the response's
    /// `Content-Disposition` (made safe: one name, no separators or control characters) in
    /// that path's directory, the path's own name being the fallback. An existing file of the
    /// suggested name is refused (`permission denied`) unless `clobber`.
    pub fn name_from_response(mut self, clobber: bool) -> Self {
        self.name_from_response = true;
        self.clobber = clobber;
        self
    }

    /// **\[beyond\]** Keeps the data of an interrupted download (failure, abort, timeout, a
    /// killed process) in a hidden partial file beside the target, and continues it next time
    /// with `Range` + `If-Range`: a `206` continues, a `200` (the file changed, or the server
    /// ignores ranges) starts over; two versions are never spliced. With [`retry`], a retry
    /// continues from the last byte received.
    ///
    /// ```
    /// use wxdl::DownloadOptions;
    ///
    /// let opts = DownloadOptions::new("https://example.com/big.iso")
    ///     .host_path("big.iso")
    ///     .resume(true)
    ///     .retry(5);
    /// assert!(opts.check().is_ok());
    /// ```
    ///
    /// [`retry`]: DownloadOptions::retry
    pub fn resume(mut self, on: bool) -> Self {
        self.resume = on;
        self
    }

    /// **\[beyond\]** Lets a `204 No Content` replace an existing target with its empty body.
    /// Off by default: a `204` over a file that exists leaves it as it was (the success says
    /// so with [`Success::unchanged`](crate::Success::unchanged)), as a `304` to the caller's
    /// own conditional request (`If-None-Match`, `If-Modified-Since`) always does. A target
    /// that does not exist is created empty either way.
    pub fn save_empty(mut self, on: bool) -> Self {
        self.save_empty = on;
        self
    }

    /// **\[beyond\]** Fetches one large body as `n` ranged requests at once (at most 16): `n`
    /// connections over HTTP/1.1, `n` streams on one connection over h2 — the way past a
    /// server's per-connection throttle. Only when the first answer allows it (`200` with a
    /// length of at least 2 MiB, `Accept-Ranges: bytes`, a validator, no content-coding); a
    /// cut segment is asked again alone; a file that changes meanwhile fails the download
    /// instead of mixing versions. Not combined with `resume` or `rate_limit` (those stream as
    /// one).
    ///
    /// ```
    /// let opts = wxdl::DownloadOptions::new("https://example.com/big.iso").split(4);
    /// assert!(opts.check().is_ok());
    /// ```
    pub fn split(mut self, n: u32) -> Self {
        self.split = n;
        self
    }

    /// Registers a progress callback before the download starts.
    pub fn on_progress_update(mut self, f: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.on_progress_update = Some(Arc::new(f));
        self
    }

    /// Checks what can be checked without I/O (url, headers), as the download would.
    ///
    /// ```
    /// use wxdl::{DownloadOptions, FailReason};
    /// let bad = DownloadOptions::new("http://h/").header("X-A", "a\r\nb");
    /// assert_eq!(bad.check().unwrap_err().reason, FailReason::InvalidHeader);
    /// ```
    pub fn check(&self) -> Result<(), Fail> {
        self.validate().map(|_| ())
    }

    /// Checks everything that can be checked without I/O.
    pub(crate) fn validate(&self) -> Result<Validated, Fail> {
        let url = parse_url(Some(&self.url))?;
        let header = validate_headers(&self.header)?;
        let timeout = match self.timeout {
            Some(t) if !t.is_zero() => t,
            _ => DEFAULT_TIMEOUT,
        };
        Ok(Validated {
            url,
            header,
            timeout,
            max_bytes: self.max_bytes.unwrap_or(DEFAULT_MAX_BYTES),
            integrity: self
                .integrity
                .as_deref()
                .map(Integrity::parse)
                .transpose()?,
        })
    }
}

/// The checked form of the options the engine runs on.
#[derive(Debug, Clone)]
pub(crate) struct Validated {
    pub url: Url,
    pub header: HeaderMap,
    pub timeout: Duration,
    pub max_bytes: u64,
    pub integrity: Option<Integrity>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_zero_means_default() {
        let v = DownloadOptions::new("http://a/")
            .timeout(Duration::ZERO)
            .validate()
            .unwrap();
        assert_eq!(v.timeout, DEFAULT_TIMEOUT);
    }
}
