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

/// The headers-received event (`onHeadersReceived`), after redirects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeadersReceived {
    /// Final response headers.
    pub header: Header,
    /// Final response status.
    pub status_code: u16,
}

/// One event of a task, as delivered by [`DownloadTask::events`](crate::DownloadTask::events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The final response head arrived.
    HeadersReceived(HeadersReceived),
    /// More of the body is on disk.
    Progress(Progress),
}

/// Callback type for progress events.
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;
/// Callback type for the headers-received event.
pub type HeadersFn = Arc<dyn Fn(&HeadersReceived) + Send + Sync>;
