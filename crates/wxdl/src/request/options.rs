//! `wx.request` options (SPEC §9) and their validation, which runs before any I/O: the URL and
//! header checks downloads use, the method, a body, redirect follow|manual, and the bound on the
//! body held in memory.
//!
//! Imports `options` (the shared checks), `net` (payload, policy's API), `events`, `task` and
//! `error`; never the exchange that runs them.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Method;

use crate::error::Fail;
use crate::events::{HeadersFn, TraceFn};
use crate::net::Payload;
use crate::options::{call_setters, parse_url, validate_headers, DEFAULT_TIMEOUT};
use crate::request::exchange::Call;
use crate::task::ChunkFn;

/// The default bound on a response body held in memory: 50 MiB. Beyond it the request fails
/// with `exceed max file size` (603301), the failure table's row for a body past its cap.
pub const DEFAULT_REQUEST_MAX_BYTES: u64 = 50 * 1024 * 1024;

/// What a 3xx answer does (`redirect` in `wx.request`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Redirect {
    /// Follow it, as downloads do (RFC 9110's method and body rules per hop).
    #[default]
    Follow,
    /// End the request with the 3xx's head (its body, if any, as the response body).
    Manual,
}

/// What one `wx.request` call asks for.
///
/// Built with [`RequestOptions::new`] and chained setters; nothing is checked until the
/// [`Client`](crate::Client) starts the request, and a bad value then fails the task before
/// any network I/O ([`RequestOptions::check`] runs those checks on their own).
///
/// ```
/// use http::Method;
/// use wxdl::request::RequestOptions;
///
/// let opts = RequestOptions::new("https://api.example.com/v1/items")
///     .method(Method::POST)
///     .header("Content-Type", "application/json")
///     .body(r#"{"name":"a"}"#);
/// assert!(opts.check().is_ok());
/// ```
#[derive(Clone)]
#[must_use]
pub struct RequestOptions {
    pub(crate) url: String,
    pub(crate) method: Method,
    pub(crate) header: Vec<(String, String)>,
    pub(crate) body: Payload,
    pub(crate) timeout: Option<Duration>,
    pub(crate) redirect: Redirect,
    pub(crate) enable_http2: bool,
    pub(crate) enable_quic: bool,
    pub(crate) quic_hint: bool,
    pub(crate) enable_profile: bool,
    pub(crate) use_high_performance_mode: bool,
    pub(crate) max_bytes: Option<u64>,
    pub(crate) retry: u32,
    pub(crate) retry_delay: Option<Duration>,
    pub(crate) retry_http: bool,
    pub(crate) on_headers_received: Option<HeadersFn>,
    pub(crate) on_chunk_received: Option<ChunkFn>,
    pub(crate) on_trace: Option<TraceFn>,
}

impl std::fmt::Debug for RequestOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestOptions")
            .field("url", &self.url)
            .field("method", &self.method)
            .field("header", &self.header)
            .field("body_len", &self.body.len())
            .field("timeout", &self.timeout)
            .field("redirect", &self.redirect)
            .field("enable_http2", &self.enable_http2)
            .field("enable_quic", &self.enable_quic)
            .field("max_bytes", &self.max_bytes)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl RequestOptions {
    call_setters!();

    /// A GET of `url` with every default (profile enabled, redirects followed).
    pub fn new(url: impl Into<String>) -> Self {
        RequestOptions {
            url: url.into(),
            method: Method::GET,
            header: Vec::new(),
            body: Payload::Empty,
            timeout: None,
            redirect: Redirect::Follow,
            enable_http2: false,
            enable_quic: false,
            quic_hint: false,
            enable_profile: true,
            use_high_performance_mode: false,
            max_bytes: None,
            retry: 0,
            retry_delay: None,
            retry_http: false,
            on_headers_received: None,
            on_chunk_received: None,
            on_trace: None,
        }
    }

    /// The method (default GET).
    pub fn method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    /// The body: bytes, text, a file ([`Payload::File`]) or multipart. Sent again as it was
    /// for every try and every 307/308 hop.
    pub fn body(mut self, body: impl Into<Payload>) -> Self {
        self.body = body.into();
        self
    }

    /// Follow redirects (default) or end with the 3xx.
    pub fn redirect(mut self, redirect: Redirect) -> Self {
        self.redirect = redirect;
        self
    }

    /// A chunk listener registered before the request starts: every body chunk, as it
    /// arrives (`enableChunked` + `onChunkReceived`).
    pub fn on_chunk_received(mut self, f: impl Fn(&Bytes) + Send + Sync + 'static) -> Self {
        self.on_chunk_received = Some(Arc::new(f));
        self
    }

    /// Checks what can be checked without I/O (url, headers), as the request would.
    ///
    /// ```
    /// use wxdl::{request::RequestOptions, FailReason};
    /// let bad = RequestOptions::new("ftp://h/");
    /// assert_eq!(bad.check().unwrap_err().reason, FailReason::InvalidUrl);
    /// ```
    pub fn check(&self) -> Result<(), Fail> {
        self.validate().map(|_| ())
    }

    /// The checked call the exchange runs on.
    pub(crate) fn validate(&self) -> Result<Call, Fail> {
        let url = parse_url(Some(&self.url))?;
        let headers = validate_headers(&self.header)?;
        Ok(Call {
            url,
            raw: self.url.clone(),
            method: self.method.clone(),
            headers,
            payload: self.body.clone(),
            sent: None,
            timeout: match self.timeout {
                Some(t) if !t.is_zero() => t,
                _ => DEFAULT_TIMEOUT,
            },
            follow: self.redirect == Redirect::Follow,
            h2: self.enable_http2,
            quic: self.enable_quic,
            quic_hint: self.quic_hint,
            enable_profile: self.enable_profile,
            use_high_performance_mode: self.use_high_performance_mode,
            max_bytes: self.max_bytes.unwrap_or(DEFAULT_REQUEST_MAX_BYTES),
            retry: self.retry_policy(),
        })
    }
}
