//! Failure reasons: every way a download can fail, with WeChat's reason text and `errno` as data
//! (the wx layer, `wxdl-wx`, puts the API's `errMsg` prefix in front).
//!
//! A leaf: imports nothing of the engine; everything may import it.

use std::fmt;
use std::sync::Arc;

/// Why a download failed: one variant per row of the failure table (`docs/errors.md`).
///
/// The reason text ([`FailReason::reason`]) and number ([`FailReason::errno`]) are part of the
/// public contract: Mini Program code matches on them, so they never change once released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailReason {
    /// `url` missing or empty.
    UrlNull,
    /// Not parseable, or a scheme other than `http`/`https`.
    InvalidUrl,
    /// Header name not a token, value with CR/LF/NUL, or a non-string value.
    InvalidHeader,
    /// The strict policy refused the host (first URL or a redirect hop).
    UrlNotInDomainList,
    /// `abort()` was called before the end.
    Abort,
    /// The whole-download timeout passed.
    Timeout,
    /// `Content-Length` or the body passed the size cap.
    ExceedMaxFileSize,
    /// The host name did not resolve.
    DnsResolveFail,
    /// TCP connect refused or unreachable.
    ConnectFail,
    /// Certificate or TLS handshake error.
    SslHandshakeFail,
    /// Reset, early close, truncated body, malformed response.
    NetworkInterrupted,
    /// More than 15 redirects, or a loop.
    TooManyRedirects,
    /// `filePath` outside `wxfile://usr`, traversal, symlink out, read-only.
    PermissionDenied,
    /// The parent directory of `filePath` is missing.
    NoSuchFileOrDirectory,
    /// `filePath` is an existing directory.
    IllegalOperationOnDirectory,
    /// The usr quota or the disk is full.
    StorageLimitExceeded,
    /// `integrity` mismatch.
    IntegrityCheckFail,
    /// Any other I/O error while storing.
    WriteFileFail,
    /// The Mini Program went to the background and the download did not end within 5 s (JS
    /// host lifecycle).
    Interrupted,
    /// An option of the wrong type or out of its set (a `method` WeChat does not list, an
    /// upload without `name`): WeChat's `parameter error: parameter.<name> should be …`.
    ParameterError,
}

impl FailReason {
    /// Every reason, in table order (useful for documentation and exhaustive tests). The order is
    /// stable: new reasons are only ever appended (the CLI derives exit codes from it).
    pub const ALL: [FailReason; 20] = [
        FailReason::UrlNull,
        FailReason::InvalidUrl,
        FailReason::InvalidHeader,
        FailReason::UrlNotInDomainList,
        FailReason::Abort,
        FailReason::Timeout,
        FailReason::ExceedMaxFileSize,
        FailReason::DnsResolveFail,
        FailReason::ConnectFail,
        FailReason::SslHandshakeFail,
        FailReason::NetworkInterrupted,
        FailReason::TooManyRedirects,
        FailReason::PermissionDenied,
        FailReason::NoSuchFileOrDirectory,
        FailReason::IllegalOperationOnDirectory,
        FailReason::StorageLimitExceeded,
        FailReason::IntegrityCheckFail,
        FailReason::WriteFileFail,
        FailReason::Interrupted,
        FailReason::ParameterError,
    ];

    /// This reason's position in [`FailReason::ALL`].
    pub fn index(self) -> usize {
        FailReason::ALL
            .iter()
            .position(|r| *r == self)
            .unwrap_or(FailReason::ALL.len())
    }

    /// The reason text that follows `<api>:fail ` in WeChat's `errMsg`.
    pub fn reason(self) -> &'static str {
        match self {
            FailReason::UrlNull => "url is null or nil",
            FailReason::InvalidUrl => "invalid url",
            FailReason::InvalidHeader => "invalid header",
            FailReason::UrlNotInDomainList => "url not in domain list",
            FailReason::Abort => "abort",
            FailReason::Timeout => "timeout",
            FailReason::ExceedMaxFileSize => "exceed max file size",
            FailReason::DnsResolveFail => "dns resolve fail",
            FailReason::ConnectFail => "connect fail",
            FailReason::SslHandshakeFail => "ssl handshake fail",
            FailReason::NetworkInterrupted => "network interrupted",
            FailReason::TooManyRedirects => "too many redirects",
            FailReason::PermissionDenied => "permission denied",
            FailReason::NoSuchFileOrDirectory => "no such file or directory",
            FailReason::IllegalOperationOnDirectory => "illegal operation on a directory",
            FailReason::StorageLimitExceeded => {
                "the maximum size of the file storage limit is exceeded"
            }
            FailReason::IntegrityCheckFail => "integrity check fail",
            FailReason::WriteFileFail => "write file fail",
            FailReason::Interrupted => "interrupted",
            FailReason::ParameterError => "parameter error",
        }
    }

    /// WeChat's `errno` for this reason: the number WeChat's own errno table gives that meaning,
    /// so code written for WeChat reads it right. Transport failures share `600001` (WeChat's
    /// network stack reports them all so; the reason text tells them apart); `603901` is wxdl's
    /// own, in a range WeChat's table leaves empty.
    pub fn errno(self) -> u32 {
        match self {
            FailReason::UrlNull | FailReason::InvalidHeader | FailReason::ParameterError => 600005,
            FailReason::InvalidUrl => 600009,
            FailReason::UrlNotInDomainList => 600002,
            FailReason::Abort => 603105,
            FailReason::Timeout => 5,
            FailReason::ExceedMaxFileSize => 603301,
            FailReason::DnsResolveFail
            | FailReason::ConnectFail
            | FailReason::SslHandshakeFail
            | FailReason::NetworkInterrupted => 600001,
            FailReason::TooManyRedirects => 600008,
            FailReason::PermissionDenied => 603303,
            FailReason::NoSuchFileOrDirectory => 1300002,
            FailReason::IllegalOperationOnDirectory => 1301003,
            FailReason::StorageLimitExceeded => 1300202,
            FailReason::IntegrityCheckFail => 603901,
            FailReason::WriteFileFail => 603300,
            FailReason::Interrupted => 600003,
        }
    }

    /// Whether [`Fail::message`] is exactly the reason with nothing appended: Mini Program
    /// code compares `errMsg`s of `abort` and `timeout` with `===`.
    pub fn is_exact(self) -> bool {
        matches!(self, FailReason::Abort | FailReason::Timeout)
    }
}

impl fmt::Display for FailReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

/// Where in a download a failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// Checking the options, before any I/O.
    Options,
    /// Waiting for a slot under the concurrency limit.
    Queue,
    /// Resolving the host name.
    Resolve,
    /// Opening the TCP connection (or the QUIC one).
    Connect,
    /// The TLS handshake.
    Tls,
    /// Sending the request and waiting for the response head.
    Request,
    /// Reading the response head's consequences: status, length, coding, redirects.
    Response,
    /// Receiving and decoding the body.
    Body,
    /// Checking the destination and writing the body to storage.
    Store,
    /// Making the file durable and putting it in place.
    Commit,
}

/// A failed download: the [`FailReason`] plus an optional detail (host, OS error, …).
///
/// [`Fail::message`] renders what WeChat's `errMsg` says after `<api>:fail `: the reason, with
/// `: <detail>` appended except for the exact rows ([`FailReason::is_exact`]); the reason text
/// always stays byte-for-byte as in the table. `Display` always shows the detail, for people.
/// The wx layer (`wxdl-wx`) adds the API's prefix and builds the result objects.
///
/// Inside the engine a failure also keeps the [`Phase`] it happened in and the error that
/// caused it ([`std::error::Error::source`]: the OS, TLS or HTTP error), for people and logs;
/// neither changes its row.
#[derive(Debug, Clone)]
pub struct Fail {
    /// Which row of the failure table.
    pub reason: FailReason,
    /// Extra context appended after the reason, if any.
    pub detail: Option<String>,
    phase: Option<Phase>,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl PartialEq for Fail {
    fn eq(&self, other: &Fail) -> bool {
        (self.reason, &self.detail, self.phase) == (other.reason, &other.detail, other.phase)
    }
}

impl Eq for Fail {}

impl Fail {
    /// A failure without detail.
    pub fn new(reason: FailReason) -> Self {
        Fail {
            reason,
            detail: None,
            phase: None,
            source: None,
        }
    }

    /// A failure with a detail appended to the reason.
    pub fn with(reason: FailReason, detail: impl fmt::Display) -> Self {
        Fail {
            reason,
            detail: Some(detail.to_string()),
            phase: None,
            source: None,
        }
    }

    /// Where the download was when it failed, when known.
    pub fn phase(&self) -> Option<Phase> {
        self.phase
    }

    /// Notes the phase, unless a deeper layer already did.
    pub(crate) fn in_phase(mut self, phase: Phase) -> Self {
        self.phase.get_or_insert(phase);
        self
    }

    /// Keeps the error that caused this failure.
    pub(crate) fn caused_by(mut self, err: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(err));
        self
    }

    /// WeChat's `errno`.
    pub fn errno(&self) -> u32 {
        self.reason.errno()
    }

    /// What WeChat's `errMsg` says after `<api>:fail `: `<reason>[: <detail>]`, the detail
    /// left out for the exact rows.
    ///
    /// ```
    /// use wxdl::{Fail, FailReason};
    /// let fail = Fail::with(FailReason::ConnectFail, "127.0.0.1:9: connection refused");
    /// assert_eq!(fail.message(), "connect fail: 127.0.0.1:9: connection refused");
    /// assert_eq!(fail.errno(), 600001);
    /// let timeout = Fail::with(FailReason::Timeout, "5000 ms");
    /// assert_eq!(timeout.message(), "timeout");
    /// assert_eq!(timeout.to_string(), "timeout: 5000 ms");
    /// ```
    pub fn message(&self) -> String {
        match &self.detail {
            Some(d) if !self.reason.is_exact() => format!("{}: {}", self.reason.reason(), d),
            _ => self.reason.reason().to_owned(),
        }
    }
}

impl fmt::Display for Fail {
    /// The reason with the detail always shown (for logs and people).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.detail {
            Some(d) => write!(f, "{}: {}", self.reason.reason(), d),
            None => f.write_str(self.reason.reason()),
        }
    }
}

impl std::error::Error for Fail {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<FailReason> for Fail {
    fn from(reason: FailReason) -> Self {
        Fail::new(reason)
    }
}

/// Locks `m`. Poisoning (a panic elsewhere while it was held) is not a failure the engine
/// passes on: the state behind every lock stays consistent at each await point, so it is
/// used as it is. The engine's one poison-ignoring lock.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Maps an I/O error raised while *storing* the body to its row: disk full → storage limit,
/// read-only or no permission → permission denied, anything else → write file fail.
pub(crate) fn storage_io(err: std::io::Error, what: &str) -> Fail {
    use std::io::ErrorKind;
    let reason = match err.kind() {
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded => FailReason::StorageLimitExceeded,
        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => FailReason::PermissionDenied,
        ErrorKind::NotFound => FailReason::NoSuchFileOrDirectory,
        ErrorKind::IsADirectory => FailReason::IllegalOperationOnDirectory,
        _ => FailReason::WriteFileFail,
    };
    Fail::with(reason, format_args!("{what}: {err}"))
        .in_phase(Phase::Store)
        .caused_by(err)
}

/// Maps an error of the HTTP layer (hyper: HTTP/1.1 and HTTP/2) to its row. Every such error
/// after the connection opened means the exchange was cut or malformed.
pub(crate) fn http_error(err: hyper::Error) -> Fail {
    Fail::with(FailReason::NetworkInterrupted, &err).caused_by(err)
}

/// Maps an error of the HTTP/3 layer (h3 over quinn) on an open connection to its row, the
/// same way as [`http_error`] does for the other protocols.
#[cfg(feature = "http3")]
pub(crate) fn h3_error(err: &dyn fmt::Display) -> Fail {
    Fail::with(
        FailReason::NetworkInterrupted,
        format_args!("HTTP/3: {err}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errnos_are_wechats_and_reasons_distinct() {
        // The numbers WeChat's errno table gives these meanings.
        for (reason, errno) in [
            (FailReason::Abort, 603105),
            (FailReason::Timeout, 5),
            (FailReason::ConnectFail, 600001),
            (FailReason::TooManyRedirects, 600008),
            (FailReason::Interrupted, 600003),
            (FailReason::NoSuchFileOrDirectory, 1300002),
        ] {
            assert_eq!(reason.errno(), errno, "{reason:?}");
        }
        // No retired number is in use.
        for retired in [600004, 600006, 600007, 600010, 600011, 600012] {
            assert!(FailReason::ALL.iter().all(|r| r.errno() != retired));
        }
        let mut reasons: Vec<&str> = FailReason::ALL.iter().map(|r| r.reason()).collect();
        reasons.sort_unstable();
        reasons.dedup();
        assert_eq!(reasons.len(), FailReason::ALL.len());
    }

    #[test]
    fn abort_and_timeout_are_exact() {
        for reason in FailReason::ALL {
            let msg = Fail::with(reason, "detail").message();
            assert_eq!(msg.ends_with(": detail"), !reason.is_exact(), "{msg}");
        }
    }

    #[test]
    fn message_without_detail() {
        assert_eq!(
            Fail::new(FailReason::UrlNull).message(),
            "url is null or nil"
        );
    }
}
