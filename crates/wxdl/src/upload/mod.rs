//! `wx.uploadFile` on the engine (SPEC §9): a `multipart/form-data` POST of the form fields and
//! then one file — a `wxfile://` path through the sandbox, or a host path — streamed from the
//! file in bounded chunks (never read whole), its `Content-Type` from the file's extension;
//! progress as the body goes out, coalesced as a download's is; the response into memory with
//! the request's bound, through the same exchange `wx.request` uses.
//!
//! Imports `request` (the exchange and response), `download::progress` (the coalescing),
//! `store` (sandbox, media types), `net`, `task`, `events` and `error`; only `client`
//! imports it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use http::Method;

use crate::download::progress::ProgressTicker;
use crate::error::{Fail, FailReason, Phase};
use crate::events::{HeadersFn, HeadersReceived, Trace, TraceFn, UploadProgress};
use crate::net::{FileSource, Multipart, Payload};
use crate::request::exchange::Call;
use crate::request::{RequestOptions, Response};
use crate::store::content_type_of;
use crate::store::sandbox::Sandbox;
use crate::task::{ListenerId, Task, TaskShared};
use crate::transport::SentFn;

/// A listener of upload progress.
pub type UploadProgressFn = Arc<dyn Fn(&UploadProgress) + Send + Sync>;

/// What one `wx.uploadFile` call asks for.
///
/// ```
/// use wxdl::upload::UploadOptions;
///
/// let opts = UploadOptions::new("https://up.example.com/photos", "wxfile://usr/a.jpg", "file")
///     .form_data("album", "holidays")
///     .header("X-Token", "abc");
/// # let _ = opts;
/// ```
#[derive(Clone)]
#[must_use]
pub struct UploadOptions {
    /// What every call has (URL, headers, timeouts, protocols, profile, bound, listeners).
    base: RequestOptions,
    file_path: String,
    host_path: Option<PathBuf>,
    name: String,
    form_data: Vec<(String, String)>,
    on_progress_update: Option<UploadProgressFn>,
}

impl std::fmt::Debug for UploadOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadOptions")
            .field("base", &self.base)
            .field("file_path", &self.file_path)
            .field("host_path", &self.host_path)
            .field("name", &self.name)
            .field("form_data", &self.form_data)
            .finish_non_exhaustive()
    }
}

/// Setters that pass through to the request options an upload is built on.
macro_rules! pass_through {
    ($($name:ident($($arg:ident: $ty:ty),*);)*) => {
        $(
            #[doc = concat!("As [`RequestOptions::", stringify!($name), "`].")]
            pub fn $name(mut self, $($arg: $ty),*) -> Self {
                self.base = self.base.$name($($arg),*);
                self
            }
        )*
    };
}

impl UploadOptions {
    pass_through! {
        header(name: impl Into<String>, value: impl Into<String>);
        timeout(timeout: std::time::Duration);
        default_timeout(timeout: std::time::Duration);
        enable_profile(on: bool);
        enable_http2(on: bool);
        enable_quic(on: bool);
        use_high_performance_mode(on: bool);
        quic_hint(on: bool);
        max_bytes(max: u64);
        retry(n: u32);
        retry_delay(base: std::time::Duration);
        retry_http(on: bool);
        on_headers_received(f: impl Fn(&HeadersReceived) + Send + Sync + 'static);
        on_trace(f: impl Fn(&Trace) + Send + Sync + 'static);
    }

    /// Uploads the sandbox file `file_path` (`wxfile://…`) to `url` as the form part `name`.
    pub fn new(
        url: impl Into<String>,
        file_path: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        UploadOptions {
            base: RequestOptions::new(url).method(Method::POST),
            file_path: file_path.into(),
            host_path: None,
            name: name.into(),
            form_data: Vec::new(),
            on_progress_update: None,
        }
    }

    /// The headers listener given before the upload started.
    pub(crate) fn headers_listener(&self) -> Option<HeadersFn> {
        self.base.on_headers_received.clone()
    }

    /// The trace listener given before the upload started.
    pub(crate) fn trace_listener(&self) -> Option<TraceFn> {
        self.base.on_trace.clone()
    }

    /// The progress listener given before the upload started.
    pub(crate) fn progress_listener(&self) -> Option<UploadProgressFn> {
        self.on_progress_update.clone()
    }

    /// **\[beyond\]** Uploads an ordinary host file instead (the CLI's `wxdl upload FILE`);
    /// takes precedence over the `wxfile://` path, which then only names it in messages.
    pub fn host_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.host_path = Some(path.into());
        self
    }

    /// Adds a form field (`formData`), sent before the file in the order given.
    pub fn form_data(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.form_data.push((name.into(), value.into()));
        self
    }

    /// A progress listener registered before the upload starts (none can be missed).
    pub fn on_progress_update(
        mut self,
        f: impl Fn(&UploadProgress) + Send + Sync + 'static,
    ) -> Self {
        self.on_progress_update = Some(Arc::new(f));
        self
    }

    /// The checked call: URL and headers as a request's, the file found (through the sandbox
    /// for a `wxfile://` path) and measured, the multipart body built around it.
    pub(crate) fn prepare(&self, sandbox: &Sandbox) -> Result<Call, Fail> {
        let mut call = self.base.validate()?;
        let path = match &self.host_path {
            Some(p) => p.clone(),
            None => sandboxed(sandbox, &self.file_path)?,
        };
        let shown = match &self.host_path {
            Some(p) => p.display().to_string(),
            None => self.file_path.clone(),
        };
        let file = FileSource::open(&path).map_err(|e| {
            let reason = match e.kind() {
                std::io::ErrorKind::NotFound => FailReason::NoSuchFileOrDirectory,
                std::io::ErrorKind::IsADirectory => FailReason::IllegalOperationOnDirectory,
                std::io::ErrorKind::PermissionDenied => FailReason::PermissionDenied,
                _ => FailReason::NoSuchFileOrDirectory,
            };
            Fail::with(reason, format_args!("\"{shown}\"")).in_phase(Phase::Store)
        })?;
        let filename = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let multipart = Multipart::new(
            &self.form_data,
            &self.name,
            &filename,
            content_type_of(&filename),
            file,
        );
        call.payload = Payload::Multipart(multipart);
        Ok(call)
    }
}

/// The host path of a sandbox file, refused when it leads out of the sandbox (a symlink).
fn sandboxed(sandbox: &Sandbox, file_path: &str) -> Result<PathBuf, Fail> {
    let path = sandbox.resolve(file_path)?;
    let denied = || {
        Fail::with(
            FailReason::PermissionDenied,
            format_args!("\"{file_path}\" leads out of the sandbox"),
        )
    };
    if let (Ok(real), Ok(root)) = (path.canonicalize(), sandbox.root().canonicalize()) {
        if !real.starts_with(&root) {
            return Err(denied());
        }
    }
    Ok(path)
}

/// A finished upload: the server's response, any status (WeChat's `data` is the body as
/// text).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Uploaded {
    /// The response to the upload's POST.
    pub response: Response,
}

/// A running `wx.uploadFile`, returned at once by [`Client::upload`](crate::Client::upload).
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use wxdl::{upload::UploadOptions, Client};
///
/// let client = Client::builder().build()?;
/// let task = client.upload(
///     UploadOptions::new("https://up.example.com/p", "wxfile://usr/a.jpg", "file")
///         .form_data("user", "42"),
/// );
/// task.on_progress_update(|p| eprintln!("{}% of {}", p.progress, p.total_bytes_expected_to_send));
/// let done = task.await?;
/// println!("{}", String::from_utf8_lossy(&done.response.body));
/// # Ok(()) }
/// ```
pub type UploadTask = Task<Uploaded>;

impl Task<Uploaded> {
    /// Registers a progress listener.
    pub fn on_progress_update(
        &self,
        f: impl Fn(&UploadProgress) + Send + Sync + 'static,
    ) -> ListenerId {
        self.shared
            .add_progress(Arc::new(move |p| f(&UploadProgress::from(*p))))
    }

    /// Removes one progress listener, or all with `None`.
    pub fn off_progress_update(&self, id: Option<ListenerId>) {
        self.shared.remove_progress(id);
    }
}

/// Who hears of the body's bytes as they go: coalesced progress to the task's listeners. A
/// try that starts over (the stale-connection retry, the QUIC fallback) does not move the
/// progress back.
pub(crate) fn progress_feed(shared: &Arc<TaskShared>, total: u64) -> SentFn {
    let ticker = Mutex::new(ProgressTicker::new(total));
    let most = AtomicU64::new(0);
    let shared = Arc::downgrade(shared);
    Arc::new(move |sent| {
        let before = most.fetch_max(sent, Ordering::Relaxed);
        if sent <= before {
            return;
        }
        let due = crate::error::lock(&ticker).advance(sent);
        if let (Some(p), Some(shared)) = (due, shared.upgrade()) {
            shared.emit_progress(p);
        }
    })
}
