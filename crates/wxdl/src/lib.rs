//! wxdl: WeChat's `wx.downloadFile`, as a Rust library.
//!
//! A [`Client`] downloads URLs into a `wxfile://` [`Sandbox`] (or a host path), one
//! [`DownloadTask`] per call, with progress and headers events, abort, a whole-download timeout,
//! a size cap, and an outcome that is either a [`Success`] for *any* HTTP status or a [`Fail`]
//! carrying one row of WeChat's failure table ([`FailReason`]). The engine knows no wx API name:
//! the wx layer (crate `wxdl-wx`) parses JS-style options and builds `errMsg`s and result objects.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use wxdl::{Client, DownloadOptions};
//!
//! let client = Client::builder().sandbox_root("/tmp/wxdl").build()?;
//! let task = client.download(
//!     DownloadOptions::new("https://example.com/audio/123").timeout(Duration::from_secs(30)),
//! );
//! task.on_progress_update(|p| eprintln!("{}% of {}", p.progress, p.total_bytes_expected_to_write));
//! let ok = task.await?;
//! println!("{} bytes in {:?}", ok.data_length, ok.saved_path);
//! # Ok(()) }
//! ```
//!
//! The modules follow the path of one download: [`options`](DownloadOptions) are validated,
//! the client's queue admits the task, the [`Policy`] checks every URL, the transport connects
//! and the pool reuses connections, the body streams through the atomic writer into the
//! sandbox, and the [`Profile`] records every phase.

#![warn(missing_docs)]

#[cfg(not(unix))]
compile_error!(
    "wxdl stores files relative to pinned directory descriptors (openat, renameat): Unix only"
);

pub mod client;
mod download;
mod engine;
pub mod error;
pub mod events;
pub mod net;
pub mod options;
pub mod quality;
mod queue;
pub mod request;
pub mod store;
pub mod task;
pub mod transport;
pub mod upload;

pub use client::{BuildError, Client, ClientBuilder};
pub use error::{Fail, FailReason, Phase};
pub use events::{Event, Header, HeadersReceived, Progress, Trace};
pub use net::Policy;
pub use options::DownloadOptions;
pub use quality::Profile;
pub use store::Sandbox;
pub use task::{AbortHandle, DownloadTask, Outcome, Success, TaskFuture};
