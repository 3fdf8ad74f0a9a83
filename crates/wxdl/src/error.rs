//! Failure reasons: every way a download can fail, mapped in this one place to WeChat's `errMsg` and `errno`.

use std::fmt;

/// Why a download failed: one variant per row of the failure table (`shared/ERRNO.md`).
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
}

impl FailReason {
    /// Every reason, in table order (useful for documentation and exhaustive tests). The order is
    /// stable: new reasons are only ever appended (the CLI derives exit codes from it).
    pub const ALL: [FailReason; 18] = [
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
    ];

    /// This reason's position in [`FailReason::ALL`].
    pub fn index(self) -> usize {
        FailReason::ALL
            .iter()
            .position(|r| *r == self)
            .unwrap_or(FailReason::ALL.len())
    }

    /// The reason text that follows `downloadFile:fail ` in `errMsg`.
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
        }
    }

    /// WeChat's `errno` for this reason.
    pub fn errno(self) -> u32 {
        match self {
            FailReason::UrlNull => 600005,
            FailReason::InvalidUrl => 600009,
            FailReason::InvalidHeader => 600006,
            FailReason::UrlNotInDomainList => 600002,
            FailReason::Abort => 600003,
            FailReason::Timeout => 600004,
            FailReason::ExceedMaxFileSize => 603001,
            FailReason::DnsResolveFail => 600007,
            FailReason::ConnectFail => 600008,
            FailReason::SslHandshakeFail => 600010,
            FailReason::NetworkInterrupted => 600011,
            FailReason::TooManyRedirects => 600012,
            FailReason::PermissionDenied => 603002,
            FailReason::NoSuchFileOrDirectory => 603003,
            FailReason::IllegalOperationOnDirectory => 603004,
            FailReason::StorageLimitExceeded => 603005,
            FailReason::IntegrityCheckFail => 603006,
            FailReason::WriteFileFail => 603007,
        }
    }
}

impl fmt::Display for FailReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

/// A failed download: the [`FailReason`] plus an optional detail (host, OS error, …).
///
/// `err_msg()` renders `downloadFile:fail <reason>` or `downloadFile:fail <reason>: <detail>`;
/// the reason text always stays byte-for-byte as in the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fail {
    /// Which row of the failure table.
    pub reason: FailReason,
    /// Extra context appended after the reason, if any.
    pub detail: Option<String>,
}

impl Fail {
    /// A failure without detail.
    pub fn new(reason: FailReason) -> Self {
        Fail {
            reason,
            detail: None,
        }
    }

    /// A failure with a detail appended to the reason.
    pub fn with(reason: FailReason, detail: impl fmt::Display) -> Self {
        Fail {
            reason,
            detail: Some(detail.to_string()),
        }
    }

    /// WeChat's `errno`.
    pub fn errno(&self) -> u32 {
        self.reason.errno()
    }

    /// WeChat's `errMsg`: `downloadFile:fail <reason>[: <detail>]`.
    ///
    /// ```
    /// use wxdl::{Fail, FailReason};
    /// let fail = Fail::with(FailReason::ConnectFail, "127.0.0.1:9: connection refused");
    /// assert_eq!(fail.err_msg(), "downloadFile:fail connect fail: 127.0.0.1:9: connection refused");
    /// assert_eq!(fail.errno(), 600008);
    /// ```
    pub fn err_msg(&self) -> String {
        match &self.detail {
            Some(d) => format!("downloadFile:fail {}: {}", self.reason.reason(), d),
            None => format!("downloadFile:fail {}", self.reason.reason()),
        }
    }
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.err_msg())
    }
}

impl std::error::Error for Fail {}

impl From<FailReason> for Fail {
    fn from(reason: FailReason) -> Self {
        Fail::new(reason)
    }
}

/// Maps an I/O error raised while *storing* the body to its row: disk full → storage limit,
/// read-only or no permission → permission denied, anything else → write file fail.
pub(crate) fn storage_io(err: &std::io::Error, what: &str) -> Fail {
    use std::io::ErrorKind;
    let reason = match err.kind() {
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded => FailReason::StorageLimitExceeded,
        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => FailReason::PermissionDenied,
        ErrorKind::NotFound => FailReason::NoSuchFileOrDirectory,
        ErrorKind::IsADirectory => FailReason::IllegalOperationOnDirectory,
        _ => FailReason::WriteFileFail,
    };
    Fail::with(reason, format_args!("{what}: {err}"))
}

/// Maps an error of the HTTP layer (hyper: HTTP/1.1 and HTTP/2) to its row. Every such error
/// after the connection opened means the exchange was cut or malformed.
pub(crate) fn http_error(err: &hyper::Error) -> Fail {
    Fail::with(FailReason::NetworkInterrupted, err)
}

/// Maps an error of the HTTP/3 layer (h3 over quinn) on an open connection to its row, the
/// same way as [`http_error`] does for the other protocols.
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
    fn errnos_are_distinct_and_reasons_distinct() {
        let mut errnos: Vec<u32> = FailReason::ALL.iter().map(|r| r.errno()).collect();
        errnos.sort_unstable();
        errnos.dedup();
        assert_eq!(errnos.len(), FailReason::ALL.len());
        let mut reasons: Vec<&str> = FailReason::ALL.iter().map(|r| r.reason()).collect();
        reasons.sort_unstable();
        reasons.dedup();
        assert_eq!(reasons.len(), FailReason::ALL.len());
    }

    #[test]
    fn err_msg_without_detail() {
        assert_eq!(
            Fail::new(FailReason::UrlNull).err_msg(),
            "downloadFile:fail url is null or nil"
        );
    }
}
