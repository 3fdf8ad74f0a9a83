//! The JavaScript both JS faces run (download task, file system manager, wx APIs, app and pages), from this one source: the QuickJS host puts it before its
//! prelude, the Node package gets it from its addon (`sharedJs()`, written out by
//! `scripts/build-node.sh`).

/// `wx.downloadFile`'s task over one native start (callbacks, listeners, the thenable rule).
pub const DOWNLOAD_TASK_JS: &str = include_str!("../js/download_task.js");

/// `wx.getFileSystemManager()` over one native call ([`crate::fs`]).
pub const FS_MANAGER_JS: &str = include_str!("../js/fs_manager.js");

/// The wx APIs around the download: storage, saved files and documents, toasts/loading/modals,
/// the system info and the app lifecycle listeners, over a few natives ([`crate::storage`],
/// [`crate::fs`], [`crate::system`]).
pub const WX_APIS_JS: &str = include_str!("../js/wx_apis.js");

/// `App()`, `getApp()`, `Page()`, `getCurrentPages()` and the navigation APIs over a project's
/// `app.json`, with WeChat's page lifecycle (the host's `wxdl run`, Node's `loadApp`).
pub const PAGES_JS: &str = include_str!("../js/pages.js");

/// Every shared file: `(file name, source)`, in the order a prelude loads them.
pub const FILES: [(&str, &str); 4] = [
    ("download_task.js", DOWNLOAD_TASK_JS),
    ("fs_manager.js", FS_MANAGER_JS),
    ("wx_apis.js", WX_APIS_JS),
    ("pages.js", PAGES_JS),
];
