//! The wxdl engine as a Node.js addon: the npm package `wxdl` (`npm/`) builds its `wx` object
//! over these few natives, as the JS host's prelude does over its own. Options, result objects,
//! file operations and the shared JavaScript are the wx layer's (`wxdl_wx`), as the JS host's
//! are: one behaviour for every face.
//!
//! Events reach JavaScript through one thread-safe function per engine: the engine's threads
//! queue them, and the first event queued since the last delivery asks Node's event loop for one
//! call, which takes every event queued by then (many downloads' headers, progress and outcomes
//! in one crossing). Per download the order is kept; the last event is the outcome. The function
//! keeps Node alive only while downloads are running (`hold`).

#![deny(clippy::all)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use napi::bindgen_prelude::{spawn, within_runtime_if_available, ToNapiValue};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{sys, Env, Status};
use napi_derive::napi;
use serde_json::{json, Value};
use wxdl::{AbortHandle, Client};
use wxdl_wx::config::ClientConfig;
use wxdl_wx::events::{WANT_HEADERS, WANT_PROGRESS};
use wxdl_wx::{download, fs, network, request, storage, system, upload};

/// The engine's events, delivered in batches: `[id, kind, json, profile, id, kind, …]` where
/// kind is `"progress" | "headers" | "success" | "fail"`, json the event's data as JSON text and
/// profile a success's profile as JSON text (else null). Created weak (not keeping Node alive).
type Events = ThreadsafeFunction<Batch, (), Batch, Status, false, true>;

/// One queued event.
struct Event {
    id: u32,
    kind: &'static str,
    json: String,
    profile: Option<String>,
}

/// Events waiting for Node's thread, and whether a delivery is already asked for.
#[derive(Default)]
struct Queue {
    events: Vec<Event>,
    asked: bool,
}

/// The events queue shared by the engine's threads and Node's.
struct Sink {
    queue: Arc<Mutex<Queue>>,
    deliver: Events,
}

impl Sink {
    /// Queues an event; the first since the last delivery asks for one.
    fn push(&self, event: Event) {
        let ask = {
            let mut q = lock(&self.queue);
            q.events.push(event);
            !std::mem::replace(&mut q.asked, true)
        };
        if ask {
            let status = self.deliver.call(
                Batch(self.queue.clone()),
                ThreadsafeFunctionCallMode::NonBlocking,
            );
            if status != Status::Ok {
                // Not delivered (Node is closing): the next event asks again.
                lock(&self.queue).asked = false;
            }
        }
    }
}

/// A delivery: on Node's thread it takes every event queued by then.
pub struct Batch(Arc<Mutex<Queue>>);

impl ToNapiValue for Batch {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let events = {
            let mut q = lock(&val.0);
            q.asked = false;
            std::mem::take(&mut q.events)
        };
        let mut flat: Vec<Field> = Vec::with_capacity(events.len() * 4);
        for e in events {
            flat.push(Field::Id(e.id));
            flat.push(Field::Kind(e.kind));
            flat.push(Field::Text(e.json));
            flat.push(Field::Maybe(e.profile));
        }
        // SAFETY: called by napi-rs on Node's thread with its `env`, as this trait requires.
        unsafe { Vec::to_napi_value(env, flat) }
    }
}

/// One element of a delivered batch.
enum Field {
    Id(u32),
    Kind(&'static str),
    Text(String),
    Maybe(Option<String>),
}

impl ToNapiValue for Field {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        // SAFETY: as for `Batch`: Node's thread, its `env`.
        unsafe {
            match val {
                Field::Id(n) => u32::to_napi_value(env, n),
                Field::Kind(s) => <&str>::to_napi_value(env, s),
                Field::Text(s) => String::to_napi_value(env, s),
                Field::Maybe(s) => Option::to_napi_value(env, s),
            }
        }
    }
}

fn error(message: impl std::fmt::Display) -> napi::Error {
    napi::Error::new(Status::InvalidArg, message.to_string())
}

/// One Mini Program's engine: its sandbox, pool, queue, policy and network.
#[napi]
pub struct Engine {
    client: Client,
    sink: Option<Arc<Sink>>,
    /// Running downloads, by the id JavaScript gave them.
    running: Arc<Mutex<HashMap<u32, Running>>>,
    /// `networkTimeout.downloadFile`: the timeout of a download that gives none.
    timeout: Option<std::time::Duration>,
    /// `networkTimeout.request` and `.uploadFile`.
    request_timeout: Option<std::time::Duration>,
    upload_timeout: Option<std::time::Duration>,
    /// The Mini Program's key-value storage (per appid, beside the sandbox, as the JS host's).
    storage: Mutex<storage::Storage>,
}

/// A running download: how to abort it, and which of its events its task listens to.
struct Running {
    abort: AbortHandle,
    /// [`WANT_PROGRESS`] | [`WANT_HEADERS`], set by `want` when the task gets a listener, and
    /// [`UNDECIDED`] until `settle`.
    wants: Arc<AtomicU8>,
}

/// Whether an event of kind `want` is sent for a download whose wants are `wants`.
fn wanted(wants: &AtomicU8, want: u8) -> bool {
    wants.load(Ordering::Relaxed) & (want | UNDECIDED) != 0
}

/// `onChunkReceived` listeners (the task's `want` bit).
const WANT_CHUNKS: u8 = 8;

/// A headers listener that queues `headers` events for call `id` while they are wanted.
fn headers_feed(
    sink: &Arc<Sink>,
    id: u32,
    wants: &Arc<AtomicU8>,
) -> impl Fn(&wxdl::HeadersReceived) + Send + Sync + 'static {
    let (sink, wants) = (sink.clone(), wants.clone());
    move |h| {
        if wanted(&wants, WANT_HEADERS) {
            sink.push(Event {
                id,
                kind: "headers",
                json: json!({"header": h.header, "statusCode": h.status_code}).to_string(),
                profile: None,
            });
        }
    }
}

impl Event {
    /// An outcome event without a profile.
    fn outcome(id: u32, kind: &'static str, result: Value) -> Event {
        Event {
            id,
            kind,
            json: result.to_string(),
            profile: None,
        }
    }

    /// A success, its profile taken out to cross as its own JSON text (parsed only if read).
    fn success(id: u32, mut result: Value) -> Event {
        let profile = result
            .as_object_mut()
            .and_then(|o| o.remove("profile"))
            .filter(|p| !p.is_null())
            .map(|p| p.to_string());
        Event {
            id,
            kind: "success",
            json: result.to_string(),
            profile,
        }
    }
}

/// Sandbox roots made for this process alone (`createWx()` without `root`, the Jest setup's
/// one per test file), removed when it exits.
static REMOVED_AT_EXIT: Mutex<Vec<std::path::PathBuf>> = Mutex::new(Vec::new());

extern "C" fn remove_roots() {
    let roots = REMOVED_AT_EXIT
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    for root in roots.iter() {
        let _ = std::fs::remove_dir_all(root);
    }
}

/// Removes `root` when the process exits: at C `exit()`, which ends Node however it ends
/// (the event loop drained, `process.exit()`, a Jest worker told to stop) — where JavaScript's
/// `'exit'` event cannot be relied on (Jest gives each test file a copy of `process`, whose
/// events never fire). Not after `SIGKILL`.
fn remove_at_exit(root: &str) {
    static REGISTERED: std::sync::Once = std::sync::Once::new();
    unsafe extern "C" {
        fn atexit(f: extern "C" fn()) -> std::ffi::c_int;
    }
    // SAFETY: `remove_roots` is a plain function for the process's whole life, and is safe to
    // run at exit (it takes a lock no exit path holds and removes files).
    REGISTERED.call_once(|| unsafe {
        atexit(remove_roots);
    });
    REMOVED_AT_EXIT
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(root.into());
}

/// The turn of Node's event loop that started the download is not over: a listener may still
/// be added in it, and must hear every event (the engine's threads may already be sending).
const UNDECIDED: u8 = 4;

#[napi]
impl Engine {
    /// `config`: `{root, appid, appVersion, domains, cacert, concurrency, userAgent, usrQuota,
    /// resolve, network, down, up, latency, jitter, loss, networkTimeline, seed,
    /// networkTimeout}` (all optional but `root`; `wxdl_wx::config::ClientConfig`); `resolve`
    /// takes curl's `HOST:PORT:ADDR` strings (an empty ADDR: the name does not resolve).
    /// `removeRootAtExit: true` removes the root when the process exits.
    #[napi(constructor)]
    pub fn new(config: Value) -> napi::Result<Engine> {
        let Some(root) = config.get("root").and_then(Value::as_str) else {
            return Err(error("createWx: root is required"));
        };
        if config.get("removeRootAtExit") == Some(&Value::Bool(true)) {
            remove_at_exit(root);
        }
        let config = ClientConfig::from_json(&config);
        let b = config.builder().map_err(error)?;
        let client = within_runtime_if_available(|| b.build()).map_err(error)?;
        let storage = storage::Storage::open(
            client.sandbox().root().join("storage"),
            config.appid.as_deref().unwrap_or("touristappid"),
        );
        Ok(Engine {
            storage: Mutex::new(storage),
            client,
            sink: None,
            running: Arc::default(),
            timeout: config.timeout(download::API),
            request_timeout: config.timeout(request::API),
            upload_timeout: config.timeout(upload::API),
        })
    }

    /// Sets the function that receives every download's events in batches (`[id, kind, json,
    /// profile, …]`); once, before the first download.
    #[napi]
    pub fn listen(&mut self, deliver: Events) {
        self.sink = Some(Arc::new(Sink {
            queue: Arc::default(),
            deliver,
        }));
    }

    /// Whether the event function keeps Node alive: JavaScript holds it while any download
    /// runs, so a script does not end before its downloads do, nor wait after them.
    #[napi]
    pub fn hold(&self, env: Env, hold: bool) -> napi::Result<()> {
        let Some(sink) = &self.sink else {
            return Ok(());
        };
        // SAFETY: on Node's thread (a #[napi] method) with its env; the function is alive
        // (owned by `sink`).
        let status = unsafe {
            if hold {
                sys::napi_ref_threadsafe_function(env.raw(), sink.deliver.raw())
            } else {
                sys::napi_unref_threadsafe_function(env.raw(), sink.deliver.raw())
            }
        };
        match status {
            sys::Status::napi_ok => Ok(()),
            s => Err(napi::Error::new(Status::from(s), "hold")),
        }
    }

    /// Starts download `id` with `options` (JSON text); its events go to the listener, the
    /// outcome last (a bad option is a failure too, delivered after this call returns).
    #[napi]
    pub fn download(&self, id: u32, options: String) -> napi::Result<()> {
        let sink = self
            .sink
            .clone()
            .ok_or_else(|| error("download before listen"))?;
        let options: Value = serde_json::from_str(&options).unwrap_or_else(|_| json!({}));
        let mut warnings = Vec::new();
        let parsed = download::options(&options, |w| warnings.push(w));
        for w in warnings {
            eprintln!("wx.downloadFile: {w}");
        }
        let opts = match parsed {
            Ok(o) => match self.timeout {
                Some(t) => o.default_timeout(t),
                None => o,
            },
            Err(fail) => {
                // Queued, so delivered on a later turn of the event loop: as WeChat calls
                // fail, never before downloadFile returns.
                sink.push(Event::outcome(id, "fail", download::API.fail_result(&fail)));
                return Ok(());
            }
        };
        // Events no listener hears are not built nor sent once the task's listeners are known
        // (`settle`): most tasks have none.
        let wants = Arc::new(AtomicU8::new(UNDECIDED));
        let (progress, progress_wanted) = (sink.clone(), wants.clone());
        let opts = opts
            .on_progress_update(move |p| {
                if !wanted(&progress_wanted, WANT_PROGRESS) {
                    return;
                }
                progress.push(Event {
                    id,
                    kind: "progress",
                    json: format!(
                        r#"{{"progress":{},"totalBytesWritten":{},"totalBytesExpectedToWrite":{}}}"#,
                        p.progress, p.total_bytes_written, p.total_bytes_expected_to_write
                    ),
                    profile: None,
                });
            })
            .on_headers_received(headers_feed(&sink, id, &wants));
        let task = within_runtime_if_available(|| self.client.download(opts));
        self.run(sink, id, task.abort_handle(), wants, async move {
            match task.await {
                Ok(s) => {
                    let mut data = download::success(&s);
                    data["savedPath"] = json!(s.saved_path.display().to_string());
                    Event::success(id, data)
                }
                Err(f) => Event::outcome(id, "fail", download::API.fail_result(&f)),
            }
        });
        Ok(())
    }

    /// Starts `wx.request` `id` with `options` (JSON text; an `ArrayBuffer` `data` as
    /// `{base64}`): events `headers`, `chunk` (`{base64}`, with `enableChunked`), then
    /// `success` (an arraybuffer `data` as `{base64}`) or `fail`.
    #[napi]
    pub fn request(&self, id: u32, options: String) -> napi::Result<()> {
        let sink = self
            .sink
            .clone()
            .ok_or_else(|| error("request before listen"))?;
        let options: Value = serde_json::from_str(&options).unwrap_or_else(|_| json!({}));
        let data = request::Data::from_json(options.get("data"));
        let call = match request::options(&options, data, |w| eprintln!("wx.request: {w}")) {
            Ok(c) => c,
            Err(fail) => {
                sink.push(Event::outcome(id, "fail", request::API.fail_result(&fail)));
                return Ok(());
            }
        };
        let wants = Arc::new(AtomicU8::new(UNDECIDED));
        let (data_type, response_type) = (call.data_type, call.response_type);
        let mut opts = call
            .options
            .on_headers_received(headers_feed(&sink, id, &wants));
        if let Some(t) = self.request_timeout {
            opts = opts.default_timeout(t);
        }
        if call.chunked {
            let (chunks, chunks_wanted) = (sink.clone(), wants.clone());
            opts = opts.on_chunk_received(move |c| {
                if wanted(&chunks_wanted, WANT_CHUNKS) {
                    chunks.push(Event {
                        id,
                        kind: "chunk",
                        json: request::bytes_json(c).to_string(),
                        profile: None,
                    });
                }
            });
        }
        let task = within_runtime_if_available(|| self.client.request(opts));
        self.run(sink, id, task.abort_handle(), wants, async move {
            match task.await {
                Ok(res) => {
                    let request::Reply { mut result, bytes } =
                        request::success(&res, &data_type, &response_type);
                    if let Some(b) = bytes {
                        result["data"] = request::bytes_json(&b);
                    }
                    Event::success(id, result)
                }
                Err(f) => Event::outcome(id, "fail", request::API.fail_result(&f)),
            }
        });
        Ok(())
    }

    /// Starts `wx.uploadFile` `id` with `options` (JSON text): events `progress`, `headers`,
    /// then `success` or `fail`.
    #[napi]
    pub fn upload(&self, id: u32, options: String) -> napi::Result<()> {
        let sink = self
            .sink
            .clone()
            .ok_or_else(|| error("upload before listen"))?;
        let options: Value = serde_json::from_str(&options).unwrap_or_else(|_| json!({}));
        let mut opts = match upload::options(&options, |w| eprintln!("wx.uploadFile: {w}")) {
            Ok(o) => o,
            Err(fail) => {
                sink.push(Event::outcome(id, "fail", upload::API.fail_result(&fail)));
                return Ok(());
            }
        };
        if let Some(t) = self.upload_timeout {
            opts = opts.default_timeout(t);
        }
        let wants = Arc::new(AtomicU8::new(UNDECIDED));
        let (progress, progress_wanted) = (sink.clone(), wants.clone());
        let opts = opts
            .on_headers_received(headers_feed(&sink, id, &wants))
            .on_progress_update(move |p| {
                if wanted(&progress_wanted, WANT_PROGRESS) {
                    progress.push(Event {
                        id,
                        kind: "progress",
                        json: serde_json::to_string(p).unwrap_or_default(),
                        profile: None,
                    });
                }
            });
        let task = within_runtime_if_available(|| self.client.upload(opts));
        self.run(sink, id, task.abort_handle(), wants, async move {
            match task.await {
                Ok(done) => Event::success(id, upload::success(&done)),
                Err(f) => Event::outcome(id, "fail", upload::API.fail_result(&f)),
            }
        });
        Ok(())
    }

    /// Aborts download `id` (nothing once it has ended).
    #[napi]
    pub fn abort(&self, id: u32) {
        if let Some(r) = lock(&self.running).get(&id) {
            r.abort.abort();
        }
    }

    /// Call `id`'s task now listens to `events`: 1 progress, 2 headers, 8 chunks (bits).
    #[napi]
    pub fn want(&self, id: u32, events: u32) {
        if let Some(r) = lock(&self.running).get(&id) {
            r.wants.fetch_or(
                events as u8 & (WANT_PROGRESS | WANT_HEADERS | WANT_CHUNKS),
                Ordering::Relaxed,
            );
        }
    }

    /// The turn that started downloads `ids` is over: from now on they send only the events
    /// their tasks listen to (a listener added later hears the events after it).
    #[napi]
    pub fn settle(&self, ids: Vec<u32>) {
        let running = lock(&self.running);
        for r in ids.iter().filter_map(|id| running.get(id)) {
            r.wants.fetch_and(!UNDECIDED, Ordering::Relaxed);
        }
    }

    /// One file system manager operation (`wxdl_wx::fs::outcome`): JSON in, JSON out; a
    /// failure is `{"$fail": <WeChat's text after <op>:fail>, "errCode"}`.
    #[napi]
    pub fn fs(&self, op: String, args: String) -> String {
        fs::outcome(self.client.sandbox(), &op, &args)
    }

    /// One storage operation (`wxdl_wx::storage`: set, get, remove, clear, info): JSON out;
    /// an error's message is WeChat's text after `<api>:fail `.
    #[napi]
    pub fn storage(&self, op: String, key: String, data: String) -> napi::Result<String> {
        lock(&self.storage)
            .call(&op, &key, &data)
            .map_err(|e| napi::Error::new(Status::GenericFailure, e))
    }

    /// What `wx.getSystemInfo(Sync)` answers (`wxdl_wx::system`).
    #[napi]
    pub fn system_info(&self) -> Value {
        system::system_info()
    }

    /// Where a `wxfile://` path is on this machine.
    #[napi]
    pub fn host_path(&self, wxfile: String) -> napi::Result<String> {
        self.client
            .sandbox()
            .resolve(&wxfile)
            .map(|p| p.display().to_string())
            .map_err(|f| error(download::API.err_msg(&f)))
    }

    /// The sandbox's root directory.
    #[napi]
    pub fn root(&self) -> String {
        self.client.sandbox().root().display().to_string()
    }

    /// What `wx.getNetworkType` answers: the emulated network's type, else the estimate's.
    #[napi]
    pub fn network_type(&self) -> String {
        network::network_type(&self.client).to_owned()
    }

    /// The emulated timeline's coming changes: `[[ms from now, type], …]`.
    #[napi]
    pub fn network_changes(&self) -> Value {
        network::network_changes(&self.client)
    }
}

/// The JavaScript the package shares with the JS host (`wxdl_wx::js`): `{file name: source}`.
/// `scripts/build-node.sh` writes each file beside the addon, so the package's JS is the very
/// JS this addon was built with.
impl Engine {
    /// Registers call `id` and sends its outcome (what `outcome` resolves to) when it ends.
    fn run(
        &self,
        sink: Arc<Sink>,
        id: u32,
        abort: AbortHandle,
        wants: Arc<AtomicU8>,
        outcome: impl std::future::Future<Output = Event> + Send + 'static,
    ) {
        let running = self.running.clone();
        lock(&running).insert(id, Running { abort, wants });
        spawn(async move {
            let event = outcome.await;
            lock(&running).remove(&id);
            sink.push(event);
        });
    }
}

#[napi]
pub fn shared_js() -> HashMap<String, String> {
    wxdl_wx::js::FILES
        .iter()
        .map(|(name, source)| ((*name).to_owned(), (*source).to_owned()))
        .collect()
}

/// A lock that outlives a panic elsewhere (the map stays usable).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
