//! wxdl's wx layer: what is WeChat-shaped and shared by every face (the `wxdl` CLI, the QuickJS
//! host, the Node addon), over the API-neutral engine (`wxdl`).
//!
//! - [`api`]: the API names and the `errMsg` / `fail` result they put on an engine failure;
//! - [`download`]: `wx.downloadFile`'s options (from a JS-style object, WeChat's checks and
//!   words) and its `success` result;
//! - [`request`]: `wx.request`'s data encoding (query, JSON, form) and `res.data` (dataType,
//!   responseType);
//! - [`upload`]: `wx.uploadFile`'s options and `success` object;
//! - [`events`]: the task's event protocol (which events a listener wants);
//! - [`fs`]: `wx.getFileSystemManager()` confined to the sandbox, with WeChat's error texts;
//! - [`image`]: `wx.getImageInfo` (headers only) and the photo album (`album/`);
//! - [`storage`]: `wx.setStorage` and friends;
//! - [`network`]: what `wx.onNetworkStatusChange` is told;
//! - [`system`]: what `wx.getSystemInfo(Sync)` answers headless;
//! - [`js`]: the JavaScript both JS faces run (download task, file system manager);
//! - [`config`]: one client configuration from JSON (Node's `createWx`, `app.json`);
//! - [`call`]: the one entry every face calls ([`Wx::call`] by API name, JSON in, events out
//!   to a [`Sink`] in WeChat's order, `abort` / `want` / `settle` / `close`).
//!
//! ```
//! use wxdl::{Fail, FailReason};
//! use wxdl_wx::api::Api;
//!
//! let fail = Fail::with(FailReason::Timeout, "5000 ms");
//! assert_eq!(Api::DownloadFile.err_msg(&fail), "downloadFile:fail timeout");
//! assert_eq!(Api::DownloadFile.fail_result(&fail)["errno"], 5);
//! ```

pub mod api;
pub mod call;
pub mod config;
pub mod download;
pub mod events;
pub mod fs;
mod fs_fds;
mod fs_ops;
#[cfg(feature = "fs-codecs")]
mod fs_unzip;
pub mod image;
pub mod js;
pub mod network;
pub mod request;
pub mod storage;
pub mod system;
pub mod upload;
mod value;

pub use api::Api;
pub use call::{CallId, Sink, Wants, Wx};
