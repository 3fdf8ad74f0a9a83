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

mod altsvc;
mod attempt;
mod body;
mod bucket;
mod client;
mod decode;
mod destination;
mod disposition;
mod download;
mod durability;
mod engine;
mod error;
mod events;
mod headers;
mod host_target;
mod integrity;
mod mime;
mod nqe;
mod options;
mod partial;
mod pinned;
mod policy;
mod profile;
mod progress;
mod publish;
mod queue;
mod quic_fallback;
mod quota;
mod redirect;
mod resume;
mod retry;
mod sandbox;
mod split;
mod stale_retry;
mod storage;
mod task;
mod transfer;
mod transport;
mod tries;

pub use altsvc::AltSvcEntry;
pub use client::{default_user_agent, BuildError, Client, ClientBuilder, DEFAULT_CONCURRENCY};
pub use error::{Fail, FailReason, Phase};
pub use events::{Event, Header, HeadersFn, HeadersReceived, Progress, ProgressFn, Trace, TraceFn};
pub use host_target::write_file_atomic;
pub use mime::temp_extension;
pub use nqe::{
    EffectiveConnectionType, Estimates, EstimatorState, Observation,
    STATE_VERSION as ESTIMATOR_STATE_VERSION,
};
pub use options::{is_engine_owned_header, DownloadOptions, DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT};
pub use policy::{DomainEntry, DomainError, Policy};
pub use profile::{Hop, HopTimings, Profile};
pub use quota::Reservation;
pub use redirect::MAX_REDIRECTS;
pub use sandbox::{
    Cleaned, Sandbox, DEFAULT_USR_QUOTA, STORE_PREFIX, TEMP_PREFIX, TEMP_RETENTION, USER_DATA_PATH,
};
pub use task::{AbortHandle, DownloadTask, EventStream, ListenerId, Outcome, Success, TaskFuture};
pub use transport::{
    CaError, Emulation, NetworkConditions, NetworkSettings, Protocol, Resolver, PRESETS,
};
