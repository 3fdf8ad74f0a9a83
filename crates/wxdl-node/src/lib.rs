//! The wxdl engine as a Node.js addon: the npm package `wxdl` (`npm/`) builds its `wx` object
//! over these few natives, as the JS host's prelude does over its own. The network calls are
//! the wx layer's one entry (`wxdl_wx::call::Wx`: call by API name, abort, want, settle), and
//! options, result objects, file operations and the shared JavaScript are the wx layer's too:
//! one behaviour for every face.
//!
//! Events reach JavaScript through one thread-safe function per engine: `Wx`'s sink queues
//! them, and the first event queued since the last delivery asks Node's event loop for one
//! call, which takes every event queued by then (many calls' headers, progress and outcomes
//! in one crossing). Per call the order is kept; the last event is the outcome (the task JS
//! calls `complete` itself). The function keeps Node alive only while calls run (`hold`).

#![deny(clippy::all)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use napi::bindgen_prelude::{within_runtime_if_available, ToNapiValue};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{sys, Env, Status};
use napi_derive::napi;
use serde_json::Value;
use wxdl_wx::call::{kind, CallId, Outcome, Wants, Wx};
use wxdl_wx::config::ClientConfig;
use wxdl_wx::{download, fs, network, storage, system};

/// The engine's events, delivered in batches: `[id, kind, json, profile, id, kind, …]` where
/// kind is `"progress" | "headers" | "chunk" | "success" | "fail"`, json the event's data as
/// JSON text and profile a success's profile as JSON text (else null). Created weak (not
/// keeping Node alive).
type Events = ThreadsafeFunction<Batch, (), Batch, Status, false, true>;

/// One queued event.
struct Event {
    id: CallId,
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

/// The events queue shared by the engine's threads and Node's; `Wx`'s sink.
#[derive(Default)]
struct Sink {
    queue: Arc<Mutex<Queue>>,
    /// Set by `listen`, before the first call.
    deliver: OnceLock<Events>,
}

impl Sink {
    /// Queues an event; the first since the last delivery asks for one.
    fn push(&self, event: Event) {
        let ask = {
            let mut q = lock(&self.queue);
            q.events.push(event);
            !std::mem::replace(&mut q.asked, true)
        };
        let Some(deliver) = self.deliver.get() else {
            return;
        };
        if ask {
            let status = deliver.call(
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

/// The sink `Wx` sends to (the engine keeps the other handle on the same queue).
struct ToNode(Arc<Sink>);

impl wxdl_wx::call::Sink for ToNode {
    fn event(&self, id: CallId, kind: &str, json: &str) {
        let Some(kind) = kind::in_task_js(kind) else {
            return;
        };
        self.0.push(Event {
            id,
            kind,
            json: json.to_owned(),
            profile: None,
        });
    }

    /// The outcome alone (the task JS calls `complete`), a success's profile apart.
    fn outcome(&self, id: CallId, outcome: Outcome) {
        self.0.push(Event {
            id,
            // `success` or `fail`: already the task JS's words.
            kind: outcome.kind,
            json: outcome.result.to_string(),
            profile: outcome.profile,
        });
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
    /// A call's id, a JavaScript number (exact below 2^53).
    Id(CallId),
    Kind(&'static str),
    Text(String),
    Maybe(Option<String>),
}

impl ToNapiValue for Field {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        // SAFETY: as for `Batch`: Node's thread, its `env`.
        unsafe {
            match val {
                Field::Id(n) => f64::to_napi_value(env, n as f64),
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

/// One Mini Program's engine: its sandbox, pool, queue, policy and network, its calls.
#[napi]
pub struct Engine {
    wx: Wx,
    sink: Arc<Sink>,
    /// The Mini Program's key-value storage (per appid, beside the sandbox, as the JS host's).
    storage: Mutex<storage::Storage>,
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
        let sink = Arc::new(Sink::default());
        // The calls run on the addon's runtime (no second set of engine threads).
        let wx = within_runtime_if_available(|| {
            let handle = tokio::runtime::Handle::current();
            Wx::on_runtime(&config, ToNode(sink.clone()), handle)
        })
        .map_err(error)?;
        let storage = storage::Storage::open(
            wx.client().sandbox().root().join("storage"),
            config.appid.as_deref().unwrap_or("touristappid"),
        );
        Ok(Engine {
            storage: Mutex::new(storage),
            wx,
            sink,
        })
    }

    /// Sets the function that receives every call's events in batches (`[id, kind, json,
    /// profile, …]`); once, before the first call.
    #[napi]
    pub fn listen(&self, deliver: Events) -> napi::Result<()> {
        self.sink
            .deliver
            .set(deliver)
            .map_err(|_| error("listen: already listening"))
    }

    /// Whether the event function keeps Node alive: JavaScript holds it while any download
    /// runs, so a script does not end before its downloads do, nor wait after them.
    #[napi]
    pub fn hold(&self, env: Env, hold: bool) -> napi::Result<()> {
        let Some(deliver) = self.sink.deliver.get() else {
            return Ok(());
        };
        // SAFETY: on Node's thread (a #[napi] method) with its env; the function is alive
        // (owned by `sink`).
        let status = unsafe {
            if hold {
                sys::napi_ref_threadsafe_function(env.raw(), deliver.raw())
            } else {
                sys::napi_unref_threadsafe_function(env.raw(), deliver.raw())
            }
        };
        match status {
            sys::Status::napi_ok => Ok(()),
            s => Err(napi::Error::new(Status::from(s), "hold")),
        }
    }

    /// Starts `wx.<api>(options)` (`downloadFile`, `request`, `uploadFile`; options as JSON
    /// text, an `ArrayBuffer` `data` as `{base64}`) and returns its id; its events go to the
    /// listener, the outcome last (a bad option is a failure too, delivered after this returns).
    #[napi]
    pub fn call(&self, api: String, options: String) -> f64 {
        self.wx.call(&api, &options) as f64
    }

    /// Aborts call `id` (nothing once it has ended).
    #[napi]
    pub fn abort(&self, id: f64) {
        self.wx.abort(id as CallId);
    }

    /// Call `id`'s task now listens to `events`: 1 progress, 2 headers, 8 chunks (bits).
    #[napi]
    pub fn want(&self, id: f64, events: u32) {
        self.wx.want(id as CallId, Wants::from_bits(events as u8));
    }

    /// The turn that started calls `ids` is over: from now on they send only the events their
    /// tasks listen to (a listener added later hears the events after it).
    #[napi]
    pub fn settle(&self, ids: Vec<f64>) {
        for id in ids {
            self.wx.settle(id as CallId);
        }
    }

    /// One file system manager operation (`wxdl_wx::fs::outcome`): JSON in, JSON out; a
    /// failure is `{"$fail": <WeChat's text after <op>:fail>, "errCode"}`.
    #[napi]
    pub fn fs(&self, op: String, args: String) -> String {
        fs::outcome(self.wx.client().sandbox(), &op, &args)
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
        self.wx
            .client()
            .sandbox()
            .resolve(&wxfile)
            .map(|p| p.display().to_string())
            .map_err(|f| error(download::API.err_msg(&f)))
    }

    /// The sandbox's root directory.
    #[napi]
    pub fn root(&self) -> String {
        self.wx.client().sandbox().root().display().to_string()
    }

    /// What `wx.getNetworkType` answers: the emulated network's type, else the estimate's.
    #[napi]
    pub fn network_type(&self) -> String {
        network::network_type(self.wx.client()).to_owned()
    }

    /// The emulated timeline's coming changes: `[[ms from now, type], …]`.
    #[napi]
    pub fn network_changes(&self) -> Value {
        network::network_changes(self.wx.client())
    }
}

/// The JavaScript the package shares with the JS host (`wxdl_wx::js`): `{file name: source}`.
/// `scripts/build-node.sh` writes each file beside the addon, so the package's JS is the very
/// JS this addon was built with.
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
