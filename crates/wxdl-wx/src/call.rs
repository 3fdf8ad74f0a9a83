//! One entry every face calls: [`Wx::call`] starts a wx API by name with its options as JSON
//! text, and the call's events reach one [`Sink`] as `(id, kind, json)` in WeChat's order.
//!
//! Per call: `headersReceived`, `progressUpdate` (and `chunkReceived`, for `wx.request` later)
//! while it runs, then `success` or `fail` with WeChat's result object, then `complete` with the
//! same object, last; nothing for that call after `complete`. A bad option, an unknown API or a
//! call made while closing is a `fail` event too, never a panic or an error to the caller, and
//! every event arrives on one of the engine's threads, never inside [`Wx::call`].

use std::collections::HashMap;
use std::future::IntoFuture;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_util::FutureExt as _;
use serde_json::{json, Value};
use wxdl::{AbortHandle, Client, Fail, FailReason};

use crate::api::Api;
use crate::config::{ClientConfig, ConfigError};
use crate::{download, request, upload};

/// A call's number: from 1, in call order, never reused by one [`Wx`].
pub type CallId = u64;

/// The event kinds, as the sink receives them (WeChat's listener and callback names).
pub mod kind {
    /// `onHeadersReceived`: `{header, statusCode}`.
    pub const HEADERS_RECEIVED: &str = "headersReceived";
    /// `onProgressUpdate`: `{progress, totalBytesWritten, totalBytesExpectedToWrite}`.
    pub const PROGRESS_UPDATE: &str = "progressUpdate";
    /// `onChunkReceived` (`wx.request` with `enableChunked`): `{data: {base64}}`.
    pub const CHUNK_RECEIVED: &str = "chunkReceived";
    /// The `success` result object.
    pub const SUCCESS: &str = "success";
    /// The `fail` result object: `{errMsg, errno}`.
    pub const FAIL: &str = "fail";
    /// The same object as `success` or `fail`, last.
    pub const COMPLETE: &str = "complete";

    /// The name the JS faces' shared task code (`download_task.js`) gives a listener event:
    /// `progress`, `headers`, `chunk`; `None` for the outcome kinds.
    pub fn in_task_js(kind: &str) -> Option<&'static str> {
        match kind {
            PROGRESS_UPDATE => Some("progress"),
            HEADERS_RECEIVED => Some("headers"),
            CHUNK_RECEIVED => Some("chunk"),
            _ => None,
        }
    }
}

/// Where a [`Wx`]'s events go. Called on the engine's threads, one event at a time per call
/// and in that call's order; events of different calls may interleave. A sink should return
/// quickly (the call waits for it) and must not call [`Wx::close`].
pub trait Sink: Send + Sync + 'static {
    /// One event of call `id`: `kind` is one of [`kind`], `json` its object as JSON text.
    fn event(&self, id: CallId, kind: &str, json: &str);

    /// Call `id`'s outcome. By default its JSON text goes to [`event`](Sink::event) twice, as
    /// `success` or `fail` and then as `complete`; a face whose tasks call `complete`
    /// themselves (the JS faces), or that keeps the profile apart, takes it here instead.
    /// Nothing of call `id` follows.
    fn outcome(&self, id: CallId, outcome: Outcome) {
        let text = outcome.to_json();
        self.event(id, outcome.kind, &text);
        self.event(id, kind::COMPLETE, &text);
    }
}

/// A call's outcome as a [`Sink`] gets it: the result object, and a success's `profile` apart,
/// as JSON text (a face that hands it on as text, to be parsed only if read, never builds it).
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// [`kind::SUCCESS`] or [`kind::FAIL`].
    pub kind: &'static str,
    /// The result object without its `profile`.
    pub result: Value,
    /// The `profile` object as JSON text, when there is one.
    pub profile: Option<String>,
}

impl Outcome {
    fn success(result: Value, profile: Option<&wxdl::Profile>) -> Outcome {
        Outcome {
            kind: kind::SUCCESS,
            result,
            profile: profile.and_then(|p| serde_json::to_string(p).ok()),
        }
    }

    fn fail(result: Value) -> Outcome {
        Outcome {
            kind: kind::FAIL,
            result,
            profile: None,
        }
    }

    /// The whole result object as JSON text, `profile` included (its last field).
    ///
    /// ```
    /// # use serde_json::json;
    /// # use wxdl_wx::call::{kind, Outcome};
    /// let o = Outcome { kind: kind::SUCCESS, result: json!({"errMsg": "request:ok"}),
    ///                   profile: Some(r#"{"protocol":"http/1.1"}"#.into()) };
    /// assert_eq!(o.to_json(), r#"{"errMsg":"request:ok","profile":{"protocol":"http/1.1"}}"#);
    /// ```
    pub fn to_json(&self) -> String {
        let mut text = self.result.to_string();
        if let Some(profile) = &self.profile {
            if text.ends_with('}') {
                text.pop();
                if text.len() > 1 {
                    text.push(',');
                }
                text.push_str("\"profile\":");
                text.push_str(profile);
                text.push('}');
            }
        }
        text
    }
}

impl<F: Fn(CallId, &str, &str) + Send + Sync + 'static> Sink for F {
    fn event(&self, id: CallId, kind: &str, json: &str) {
        self(id, kind, json)
    }
}

/// Which of a call's optional events (those of task listeners) a face wants sent. The outcome
/// events (`success`, `fail`, `complete`) are always sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Wants(u8);

impl Wants {
    /// None of them.
    pub const NONE: Wants = Wants(0);
    /// `progressUpdate`.
    pub const PROGRESS: Wants = Wants(crate::events::WANT_PROGRESS);
    /// `headersReceived`.
    pub const HEADERS: Wants = Wants(crate::events::WANT_HEADERS);
    /// `chunkReceived`.
    pub const CHUNKS: Wants = Wants(8);
    /// Every optional event.
    pub const ALL: Wants = Wants(1 | 2 | 8);

    /// The listener event of that name (`progressUpdate`, `headersReceived`, `chunkReceived`).
    pub fn of_kind(name: &str) -> Option<Wants> {
        match name {
            kind::PROGRESS_UPDATE => Some(Wants::PROGRESS),
            kind::HEADERS_RECEIVED => Some(Wants::HEADERS),
            kind::CHUNK_RECEIVED => Some(Wants::CHUNKS),
            _ => None,
        }
    }

    /// The wants of those bits: 1 progress, 2 headers, 8 chunks (the JS faces' `want` bits);
    /// other bits are ignored.
    pub fn from_bits(bits: u8) -> Wants {
        Wants(bits & Wants::ALL.0)
    }

    /// Whether every event of `other` is wanted here.
    pub fn contains(self, other: Wants) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for Wants {
    type Output = Wants;
    fn bitor(self, rhs: Wants) -> Wants {
        Wants(self.0 | rhs.0)
    }
}

/// Until [`Wx::settle`]: every event is sent (a listener may still be added).
const UNDECIDED: u8 = 0x80;

/// What a wx API name leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Download,
    Request,
    Upload,
}

/// The API table: every name [`Wx::call`] knows.
const APIS: [(&str, Route); 3] = [
    ("downloadFile", Route::Download),
    ("request", Route::Request),
    ("uploadFile", Route::Upload),
];

/// The option fields `api`'s parser reads (a face that reads options from its own objects takes
/// only these); `None` for a name [`Wx::call`] does not know.
pub fn option_fields(api: &str) -> Option<&'static [&'static str]> {
    match APIS.iter().find(|(name, _)| *name == api)?.1 {
        Route::Download => Some(&download::OPTION_FIELDS),
        Route::Request => Some(&request::OPTION_FIELDS),
        Route::Upload => Some(&upload::OPTION_FIELDS),
    }
}

/// WeChat's general errno for an error it has no finer row for (`unknown error`).
const ERRNO_UNKNOWN: u32 = 1;

/// A [`Wx`] that could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WxError {
    /// The configuration names a certificate, resolve rule or network that cannot be used.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The client could not be built (sandbox root, TLS).
    #[error(transparent)]
    Build(#[from] wxdl::BuildError),
    /// The engine's threads could not be started.
    #[error("engine threads: {0}")]
    Runtime(#[from] std::io::Error),
}

/// A running call: how to abort it and which events its listeners want.
struct Running {
    abort: Option<AbortHandle>,
    /// Aborted before its task had a handle: the task is aborted as it gets one.
    abort_asked: bool,
    /// Its outcome is being sent: no longer running, not yet gone (close waits for that).
    ended: bool,
    wants: Arc<AtomicU8>,
}

#[derive(Default)]
struct Calls {
    running: HashMap<CallId, Running>,
    closing: bool,
}

struct Shared {
    sink: Box<dyn Sink>,
    calls: Mutex<Calls>,
    /// Told when a call has completed while the `Wx` is closing.
    completed: Condvar,
}

impl Shared {
    fn calls(&self) -> MutexGuard<'_, Calls> {
        self.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands one event to the sink; a sink that panics loses that event, not the protocol.
    fn send(&self, id: CallId, kind: &str, json: &str) {
        in_sink_while(|| self.sink.event(id, kind, json));
    }

    /// The outcome, `complete` after it, then the call is gone.
    fn finish(&self, id: CallId, outcome: Outcome) {
        if let Some(r) = self.calls().running.get_mut(&id) {
            r.ended = true;
        }
        in_sink_while(|| self.sink.outcome(id, outcome));
        let mut calls = self.calls();
        calls.running.remove(&id);
        // Only `close` waits, and it says so (under this lock) before it does: a call that
        // ends otherwise costs no wake-up.
        if calls.closing {
            drop(calls);
            self.completed.notify_all();
        }
    }
}

thread_local! {
    /// Whether this thread is inside a sink call (where [`Wx::close`] must not wait).
    static IN_SINK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` (a sink's method) marked as inside a sink; a panic in it is caught.
fn in_sink_while(f: impl FnOnce()) {
    IN_SINK.with(|s| s.set(true));
    let _ = catch_unwind(AssertUnwindSafe(f));
    IN_SINK.with(|s| s.set(false));
}

/// Whether the current thread is running a [`Sink::event`] of some [`Wx`].
pub fn in_sink() -> bool {
    IN_SINK.with(|s| s.get())
}

/// One Mini Program's wx APIs over one client: call by name, JSON in, JSON events out.
///
/// ```no_run
/// use serde_json::json;
/// use wxdl_wx::{call::Wx, config::ClientConfig};
///
/// let config = ClientConfig::from_json(&json!({"root": "/tmp/wxdl-demo"}));
/// let wx = Wx::new(&config, |id, kind: &str, json: &str| println!("{id} {kind} {json}")).unwrap();
/// let id = wx.call("downloadFile", r#"{"url": "https://example.com/a.mp3"}"#);
/// assert_eq!(id, 1);
/// wx.close(); // aborts what runs, returns once every call has sent `complete`
/// ```
pub struct Wx {
    client: Client,
    shared: Arc<Shared>,
    next: AtomicU64,
    /// `networkTimeout.downloadFile`, `.request`, `.uploadFile`.
    download_timeout: Option<Duration>,
    request_timeout: Option<Duration>,
    upload_timeout: Option<Duration>,
    /// The engine's threads: its own (taken when the `Wx` goes) or a face's.
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
}

impl std::fmt::Debug for Wx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wx")
            .field("running", &self.shared.calls().running.len())
            .finish_non_exhaustive()
    }
}

impl Wx {
    /// A `Wx` with its own engine threads (two), its client made from `config`, its events
    /// sent to `sink`.
    pub fn new(config: &ClientConfig, sink: impl Sink) -> Result<Wx, WxError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("wxdl-engine")
            .enable_all()
            .build()?;
        let mut wx = Wx::on_runtime(config, sink, runtime.handle().clone())?;
        wx.runtime = Some(runtime);
        Ok(wx)
    }

    /// A `Wx` whose calls run on a runtime the face already has (Node's addon runtime), with
    /// I/O and time enabled. Dropped, such a `Wx` aborts what runs without waiting (the
    /// runtime may be stopping then); [`close`](Wx::close) first waits.
    pub fn on_runtime(
        config: &ClientConfig,
        sink: impl Sink,
        handle: tokio::runtime::Handle,
    ) -> Result<Wx, WxError> {
        let builder = config.builder()?;
        let client = {
            let _inside = handle.enter();
            builder.build()?
        };
        let mut wx = Wx::from_client(client, sink, handle);
        for api in [Api::DownloadFile, Api::Request, Api::UploadFile] {
            wx = wx.network_timeout(api, config.timeout(api));
        }
        Ok(wx)
    }

    /// A `Wx` over a client the face made (the JS host is given one), on the face's runtime
    /// as [`on_runtime`](Wx::on_runtime)'s; no `networkTimeout` until
    /// [`network_timeout`](Wx::network_timeout).
    pub fn from_client(client: Client, sink: impl Sink, handle: tokio::runtime::Handle) -> Wx {
        Wx {
            client,
            shared: Arc::new(Shared {
                sink: Box::new(sink),
                calls: Mutex::default(),
                completed: Condvar::new(),
            }),
            next: AtomicU64::new(1),
            download_timeout: None,
            request_timeout: None,
            upload_timeout: None,
            runtime: None,
            handle,
        }
    }

    /// `app.json`'s `networkTimeout.<api>`: the timeout of `api`'s calls that give none.
    pub fn network_timeout(mut self, api: Api, timeout: Option<Duration>) -> Wx {
        match api {
            Api::DownloadFile => self.download_timeout = timeout,
            Api::Request => self.request_timeout = timeout,
            Api::UploadFile => self.upload_timeout = timeout,
        }
        self
    }

    /// The client the calls run on (its sandbox for the file system APIs, its network).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Whether `api` is a name [`Wx::call`] knows (served now or coming).
    pub fn knows(api: &str) -> bool {
        APIS.iter().any(|(name, _)| *name == api)
    }

    /// Starts `wx.<api>(options)` and returns its id at once; everything else arrives as
    /// events. `options_json` is the options object as JSON text (callbacks left out); text
    /// that is not JSON counts as `{}`, as the faces read it.
    pub fn call(&self, api: &str, options_json: &str) -> CallId {
        let options: Value = serde_json::from_str(options_json).unwrap_or_else(|_| json!({}));
        self.call_with(api, &options)
    }

    /// [`call`](Wx::call) with the options already as a JSON value (a face that reads them
    /// from its own objects, as the JS host does).
    pub fn call_with(&self, api: &str, options: &Value) -> CallId {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let wants = Arc::new(AtomicU8::new(UNDECIDED));
        {
            let mut calls = self.shared.calls();
            let closing = calls.closing;
            calls.running.insert(
                id,
                Running {
                    abort: None,
                    abort_asked: false,
                    ended: false,
                    wants: wants.clone(),
                },
            );
            if closing {
                drop(calls);
                let fail = Fail::with(FailReason::Abort, "closing");
                self.fail_later(id, fail_object(api, &fail));
                return id;
            }
        }
        match APIS.iter().find(|(name, _)| *name == api).map(|e| e.1) {
            Some(Route::Download) => self.download(id, options, wants),
            Some(Route::Request) => self.request(id, options, wants),
            Some(Route::Upload) => self.upload(id, options, wants),
            None => self.fail_later(
                id,
                json!({"errMsg": format!("{api}:fail not supported by wxdl"), "errno": ERRNO_UNKNOWN}),
            ),
        }
        id
    }

    /// Aborts call `id`; `false` when no such call is running (it completed, or never was).
    /// The call then fails with `abort` (unless it ended first), and completes.
    pub fn abort(&self, id: CallId) -> bool {
        match self.shared.calls().running.get_mut(&id) {
            Some(r) if !r.ended => {
                match &r.abort {
                    Some(a) => a.abort(),
                    None => r.abort_asked = true,
                }
                true
            }
            _ => false,
        }
    }

    /// Interrupts call `id` as WeChat does a call still running 5 s after the Mini Program
    /// went to the background: it fails with `interrupted` (600003). `false` when no such call
    /// runs.
    pub fn interrupt(&self, id: CallId) -> bool {
        match self.shared.calls().running.get(&id) {
            Some(Running {
                abort: Some(a),
                ended: false,
                ..
            }) => {
                a.interrupt();
                true
            }
            _ => false,
        }
    }

    /// Call `id`'s task has listeners for `kinds` (added to what it had). Until
    /// [`settle`](Wx::settle) every event is sent anyway; after it, only those wanted.
    pub fn want(&self, id: CallId, kinds: Wants) {
        if let Some(r) = self.shared.calls().running.get(&id) {
            r.wants.fetch_or(kinds.0, Ordering::Relaxed);
        }
    }

    /// Call `id`'s listeners are known (the JS turn that started it is over): from now on it
    /// sends only the optional events [`want`](Wx::want) asked for. A face that never settles
    /// gets every event.
    pub fn settle(&self, id: CallId) {
        if let Some(r) = self.shared.calls().running.get(&id) {
            r.wants.fetch_and(!UNDECIDED, Ordering::Relaxed);
        }
    }

    /// How many calls have not completed yet (their `complete` not yet returned).
    pub fn running(&self) -> usize {
        self.shared.calls().running.len()
    }

    /// Aborts every running call and returns when each has sent `complete`; calls made after
    /// it fail with `abort`. Called inside a sink (where waiting would wait for itself) it
    /// aborts and returns without waiting.
    pub fn close(&self) {
        let mut calls = self.abort_all();
        if in_sink() {
            return;
        }
        while !calls.running.is_empty() {
            calls = self
                .shared
                .completed
                .wait(calls)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Marks the `Wx` closing and aborts every running call; the calls' lock, held.
    fn abort_all(&self) -> MutexGuard<'_, Calls> {
        let mut calls = self.shared.calls();
        calls.closing = true;
        for r in calls.running.values() {
            if let Some(a) = &r.abort {
                a.abort();
            }
        }
        calls
    }

    /// Sends `fail` + `complete` for call `id` from an engine thread.
    fn fail_later(&self, id: CallId, result: Value) {
        let shared = self.shared.clone();
        self.handle()
            .spawn(async move { shared.finish(id, Outcome::fail(result)) });
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        &self.handle
    }

    fn download(&self, id: CallId, options: &Value, wants: Arc<AtomicU8>) {
        let parsed = download::options(options, |w| eprintln!("{w}"));
        let opts = match parsed {
            Ok(o) => match self.download_timeout {
                Some(t) => o.default_timeout(t),
                None => o,
            },
            Err(fail) => return self.fail_later(id, download::API.fail_result(&fail)),
        };
        let opts = opts
            .on_progress_update(self.feed(id, &wants, Wants::PROGRESS))
            .on_headers_received(self.feed(id, &wants, Wants::HEADERS));
        let task = {
            // The download runs on this Wx's threads whoever calls.
            let _inside = self.handle().enter();
            self.client.download(opts)
        };
        self.run(id, task, |outcome| match outcome {
            Ok(mut s) => {
                let profile = s.profile.take();
                let mut v = download::success(&s);
                // [beyond] where the file is on this machine, for native hosts.
                v["savedPath"] = json!(s.saved_path.display().to_string());
                Outcome::success(v, profile.as_ref())
            }
            Err(f) => Outcome::fail(download::API.fail_result(&f)),
        });
    }

    /// `wx.request`: `data` comes in the options (a string or any JSON value; a face with an
    /// `ArrayBuffer` passes `{"data": {"base64": "…"}}`, the bytes as base64, and
    /// `responseType: 'arraybuffer'` answers `data` the same way).
    fn request(&self, id: CallId, options: &Value, wants: Arc<AtomicU8>) {
        let data = request::Data::from_json(options.get("data"));
        let call = match request::options(options, data, |w| eprintln!("{w}")) {
            Ok(c) => c,
            Err(fail) => return self.fail_later(id, request::API.fail_result(&fail)),
        };
        let (data_type, response_type) = (call.data_type, call.response_type);
        let mut opts = call.options;
        if let Some(t) = self.request_timeout {
            opts = opts.default_timeout(t);
        }
        // WeChat's RequestTask.onHeadersReceived: `{header, statusCode, cookies}`.
        let (headers, headers_wants) = (self.shared.clone(), wants.clone());
        opts = opts.on_headers_received(move |h| {
            if wanted(&headers_wants, Wants::HEADERS) {
                let event =
                    json!({"header": h.header, "statusCode": h.status_code, "cookies": h.cookies});
                headers.send(id, kind::HEADERS_RECEIVED, &event.to_string());
            }
        });
        if call.chunked {
            let chunks = self.shared.clone();
            opts = opts.on_chunk_received(move |c| {
                if wanted(&wants, Wants::CHUNKS) {
                    let chunk = json!({ "data": request::bytes_json(c) });
                    chunks.send(id, kind::CHUNK_RECEIVED, &chunk.to_string());
                }
            });
        }
        let task = {
            let _inside = self.handle().enter();
            self.client.request(opts)
        };
        self.run(id, task, move |outcome| match outcome {
            Ok(mut res) => {
                let profile = res.profile.take();
                let request::Reply { mut result, bytes } =
                    request::success(&res, &data_type, &response_type);
                if let Some(b) = bytes {
                    result["data"] = request::bytes_json(&b);
                }
                Outcome::success(result, profile.as_ref())
            }
            Err(f) => Outcome::fail(request::API.fail_result(&f)),
        });
    }

    /// `wx.uploadFile`: progress as `{progress, totalBytesSent, totalBytesExpectedToSend}`.
    fn upload(&self, id: CallId, options: &Value, wants: Arc<AtomicU8>) {
        let mut opts = match upload::options(options, |w| eprintln!("{w}")) {
            Ok(o) => o,
            Err(fail) => return self.fail_later(id, upload::API.fail_result(&fail)),
        };
        if let Some(t) = self.upload_timeout {
            opts = opts.default_timeout(t);
        }
        let opts = opts
            .on_progress_update(self.feed(id, &wants, Wants::PROGRESS))
            .on_headers_received(self.feed(id, &wants, Wants::HEADERS));
        let task = {
            let _inside = self.handle().enter();
            self.client.upload(opts)
        };
        self.run(id, task, |outcome| match outcome {
            Ok(mut done) => {
                let profile = done.response.profile.take();
                Outcome::success(upload::success(&done), profile.as_ref())
            }
            Err(f) => Outcome::fail(upload::API.fail_result(&f)),
        });
    }

    /// A task listener that sends call `id`'s events of `want` (progress or headers) as their
    /// JSON, while they are wanted (nothing is built otherwise).
    fn feed<E: serde::Serialize>(
        &self,
        id: CallId,
        wants: &Arc<AtomicU8>,
        want: Wants,
    ) -> impl Fn(&E) + Send + Sync + 'static {
        let (shared, wants) = (self.shared.clone(), wants.clone());
        let kind = if want == Wants::PROGRESS {
            kind::PROGRESS_UPDATE
        } else {
            kind::HEADERS_RECEIVED
        };
        move |e| {
            if wanted(&wants, want) {
                let json = serde_json::to_string(e).unwrap_or_default();
                shared.send(id, kind, &json);
            }
        }
    }

    /// Runs a started task to its outcome on this Wx's threads, then sends the result object
    /// `result` makes of it and `complete`.
    fn run<T: Send + 'static>(
        &self,
        id: CallId,
        task: wxdl::task::Task<T>,
        result: impl FnOnce(Result<T, Fail>) -> Outcome + Send + 'static,
    ) {
        {
            let mut calls = self.shared.calls();
            // A close or an abort between the call's entry and now found no handle.
            if calls.closing {
                task.abort();
            }
            if let Some(r) = calls.running.get_mut(&id) {
                if r.abort_asked {
                    task.abort();
                }
                r.abort = Some(task.abort_handle());
            }
        }
        let shared = self.shared.clone();
        // One task per call: the download and then its outcome.
        self.handle().spawn(async move {
            let outcome = match AssertUnwindSafe(task.into_future()).catch_unwind().await {
                Ok(outcome) => outcome,
                // A panic in the engine is a bug; the call still ends as the protocol says.
                Err(_) => Err(Fail::with(
                    FailReason::WriteFileFail,
                    "internal error: the engine panicked",
                )),
            };
            shared.finish(id, result(outcome));
        });
    }
}

/// Whether a call's listeners want `want` (everything until the face settles).
fn wanted(w: &AtomicU8, want: Wants) -> bool {
    w.load(Ordering::Relaxed) & (want.0 | UNDECIDED) != 0
}

/// `<api>:fail <reason>` for an API the table may not know (its name as given).
fn fail_object(api: &str, fail: &Fail) -> Value {
    json!({"errMsg": format!("{api}:fail {}", fail.message()), "errno": fail.errno()})
}

impl Drop for Wx {
    /// [`close`](Wx::close), then the engine's threads stop.
    fn drop(&mut self) {
        if self.runtime.is_none() {
            // A face's runtime may be stopping as this goes (Node tearing down): abort what
            // runs and do not wait for it (call `close` first to wait).
            drop(self.abort_all());
            return;
        }
        self.close();
        if let Some(rt) = self.runtime.take() {
            if in_sink() || tokio::runtime::Handle::try_current().is_ok() {
                rt.shutdown_background();
            } else {
                drop(rt);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_knows_the_three_network_apis_and_wants_combine() {
        assert!(Wx::knows("downloadFile") && Wx::knows("request") && Wx::knows("uploadFile"));
        assert!(!Wx::knows("downloadfile") && !Wx::knows(""));
        let both = Wants::PROGRESS | Wants::HEADERS;
        assert!(both.contains(Wants::PROGRESS) && !both.contains(Wants::CHUNKS));
        assert!(Wants::ALL.contains(both | Wants::CHUNKS));
        assert_eq!(Wants::of_kind(kind::SUCCESS), None);
        assert_eq!(Wants::of_kind(kind::HEADERS_RECEIVED), Some(Wants::HEADERS));
        assert_eq!(
            fail_object("x", &Fail::new(FailReason::Abort)),
            json!({"errMsg": "x:fail abort", "errno": 603105})
        );
    }
}
