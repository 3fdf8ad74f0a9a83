//! What a running download tells its listeners: progress and headers events, and the callback
//! types that receive them. A leaf: imports nothing of the engine.
//!
//! A leaf: imports nothing of the engine.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

/// Response headers as WeChat reports them: lowercase names, repeated fields joined by `, `.
pub type Header = BTreeMap<String, String>;

/// A progress event (`onProgressUpdate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// Integer percent 0–100; stays 0 while the length is unknown, 100 at the end.
    pub progress: u8,
    /// Body bytes written so far.
    pub total_bytes_written: u64,
    /// `Content-Length` of the body, 0 when unknown.
    pub total_bytes_expected_to_write: u64,
}

/// An upload's progress event (`UploadTask.onProgressUpdate`), coalesced as a download's is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadProgress {
    /// Integer percent 0–100.
    pub progress: u8,
    /// Request body bytes handed to the connection so far.
    pub total_bytes_sent: u64,
    /// The request body's whole length (the multipart body, fields and file).
    pub total_bytes_expected_to_send: u64,
}

impl From<Progress> for UploadProgress {
    fn from(p: Progress) -> UploadProgress {
        UploadProgress {
            progress: p.progress,
            total_bytes_sent: p.total_bytes_written,
            total_bytes_expected_to_send: p.total_bytes_expected_to_write,
        }
    }
}

/// The headers-received event (`onHeadersReceived`), after redirects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeadersReceived {
    /// Final response headers.
    pub header: Header,
    /// Final response status.
    pub status_code: u16,
    /// Each `Set-Cookie` value as sent, in order (`header` joins them into one entry);
    /// `wx.request`'s listener gets them as `cookies`. Not serialized.
    #[serde(skip)]
    pub cookies: Vec<String>,
}

/// One event of a task, as delivered by [`DownloadTask::events`](crate::DownloadTask::events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The final response head arrived.
    HeadersReceived(HeadersReceived),
    /// More of the body is on disk.
    Progress(Progress),
}

/// **\[beyond\]** What a download does on the wire, as it happens: for views like curl's `-v`
/// that show each head when it is sent or received (also when the download then fails), and
/// each retry with its reason and wait.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Trace {
    /// A request head is being sent.
    Request {
        /// The method (`GET` for downloads; a 303 turns any other into `GET`).
        method: String,
        /// The URL asked for.
        url: String,
        /// `HTTP/1.1`, `h2` or `h3`.
        http_version: &'static str,
        /// The peer's IP address.
        peer_ip: String,
        /// Whether the connection had served before.
        reused: bool,
        /// The request headers as sent.
        header: Vec<(String, String)>,
    },
    /// A response head arrived (every hop's, a redirect's or a retried answer's too, with the
    /// status as the server sent it: `206` for a continued download).
    Response {
        /// `HTTP/1.1`, `h2` or `h3`.
        http_version: &'static str,
        /// The status as received.
        status_code: u16,
        /// The response headers as received.
        header: Vec<(String, String)>,
    },
    /// A try failed (or was answered with a status the caller asked to retry); the next one
    /// starts after `wait`.
    Retry {
        /// The number of the try to come (1 is the first retry).
        retry: u32,
        /// How many retries are allowed in all.
        of: u32,
        /// Why: the failure, or the HTTP status.
        why: String,
        /// The wait before the next try.
        wait: std::time::Duration,
    },
}

/// Callback type for [`Trace`] events.
pub type TraceFn = Arc<dyn Fn(&Trace) + Send + Sync>;

/// Callback type for progress events.
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;
/// Callback type for the headers-received event.
pub type HeadersFn = Arc<dyn Fn(&HeadersReceived) + Send + Sync>;

/// The trace listener of one download, if any (a newtype so the structs holding it stay
/// `Debug`).
#[derive(Clone, Default)]
pub(crate) struct Tracer(pub Option<TraceFn>);

impl Tracer {
    /// Tells the listener, if any; `event` is made only when someone listens.
    pub fn emit(&self, event: impl FnOnce() -> Trace) {
        if let Some(f) = &self.0 {
            f(&event());
        }
    }
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Tracer(on)"
        } else {
            "Tracer(off)"
        })
    }
}
