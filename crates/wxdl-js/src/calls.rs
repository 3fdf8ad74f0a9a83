//! The network calls of the JS host (`wx.downloadFile`, `wx.request`, `wx.uploadFile`) over the
//! wx layer's one entry, [`Wx`]: the native `call(api, options, deliver)` starts one and gives
//! its id; `Wx`'s events wait in one queue that a single JS-side future empties into
//! `deliver(id, kind, value, extra, bytes)` while any call runs, in order per call, the outcome
//! last (the shared task JS calls `complete`).
//!
//! Listener events cross as JSON text the task JS parses only when it has a listener; an
//! outcome crosses as a value built directly, its profile as JSON text (parsed only if read) and
//! an arraybuffer response's bytes as base64. A download's temp file is journaled here (removed
//! at the run's end unless kept).

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::rc::Rc;
use std::sync::{Arc, Mutex, PoisonError};

use rquickjs::{Ctx, Function};
use serde_json::Value;
use tokio::sync::Notify;
use wxdl_wx::call::{kind, CallId, Outcome, Sink, Wants, Wx};

use crate::{invoke, json_to_js, Host};

/// One event on its way to the script.
enum Payload {
    /// A listener event in the task JS's name, its object as JSON text.
    Listener(&'static str, String),
    /// A `wx.request` chunk, its bytes as base64.
    Chunk(String),
    /// `success` or `fail` with its result object and a success's profile as JSON text.
    Outcome(Outcome),
}

/// The events `Wx` sent and the script has not had yet.
#[derive(Default)]
struct Queue {
    events: Mutex<VecDeque<(CallId, Payload)>>,
    ready: Notify,
}

impl Queue {
    fn push(&self, id: CallId, payload: Payload) {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back((id, payload));
        self.ready.notify_one();
    }

    fn take(&self) -> Option<(CallId, Payload)> {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front()
    }
}

/// `Wx`'s sink: queues each event for the script's thread.
struct ToScript(Arc<Queue>);

impl Sink for ToScript {
    fn event(&self, id: CallId, kind: &str, json: &str) {
        let payload = match kind::in_task_js(kind) {
            Some("chunk") => {
                let chunk: Value = serde_json::from_str(json).unwrap_or_default();
                let b64 = chunk["data"]["base64"].as_str().unwrap_or_default();
                Payload::Chunk(b64.to_owned())
            }
            Some(name) => Payload::Listener(name, json.to_owned()),
            None => return,
        };
        self.0.push(id, payload);
    }

    fn outcome(&self, id: CallId, outcome: Outcome) {
        self.0.push(id, Payload::Outcome(outcome));
    }
}

/// A running call, as the host needs to know it.
struct Running {
    download: bool,
    /// `responseType: 'arraybuffer'`: the success's `data` is bytes (`{base64}`).
    arraybuffer: bool,
}

/// The host's calls: the entry, the queue, and which calls run.
pub(crate) struct Calls {
    wx: Wx,
    queue: Arc<Queue>,
    running: RefCell<HashMap<CallId, Running>>,
    /// Whether the future that delivers events is alive.
    delivering: Cell<bool>,
}

impl Calls {
    /// The calls of a run over `client`, on the current tokio runtime, with `app.json`'s
    /// `networkTimeout`s.
    pub(crate) fn new(
        client: wxdl::Client,
        timeout: impl Fn(wxdl_wx::Api) -> Option<std::time::Duration>,
    ) -> Calls {
        let queue = Arc::new(Queue::default());
        let handle = tokio::runtime::Handle::current();
        let mut wx = Wx::from_client(client, ToScript(queue.clone()), handle);
        for api in [
            wxdl_wx::Api::DownloadFile,
            wxdl_wx::Api::Request,
            wxdl_wx::Api::UploadFile,
        ] {
            wx = wx.network_timeout(api, timeout(api));
        }
        Calls {
            wx,
            queue,
            running: RefCell::default(),
            delivering: Cell::new(false),
        }
    }

    /// The client the calls run on.
    pub(crate) fn client(&self) -> &wxdl::Client {
        self.wx.client()
    }

    /// Aborts every running call (each fails with `abort`).
    pub(crate) fn abort_all(&self) {
        for id in self.running.borrow().keys() {
            self.wx.abort(*id);
        }
    }

    /// Interrupts every running call (each fails with `interrupted`).
    pub(crate) fn interrupt_all(&self) {
        for id in self.running.borrow().keys() {
            self.wx.interrupt(*id);
        }
    }

    pub(crate) fn abort(&self, id: CallId) {
        self.wx.abort(id);
    }

    pub(crate) fn want(&self, id: CallId, events: u8) {
        self.wx.want(id, Wants::from_bits(events));
    }
}

/// The native `call(api, options, deliver)`: starts `wx.<api>(options)` and returns its id.
pub(crate) fn start<'js>(
    ctx: &Ctx<'js>,
    host: &Rc<Host>,
    api: &str,
    options: &rquickjs::Value<'js>,
    deliver: Function<'js>,
) -> CallId {
    let calls = &host.calls;
    let fields = match wxdl_wx::call::option_fields(api) {
        Some(names) => crate::option_fields(options, names),
        None => Value::Null,
    };
    let arraybuffer = fields.get("responseType").and_then(Value::as_str) == Some("arraybuffer");
    let id = calls.wx.call_with(api, &fields);
    calls.running.borrow_mut().insert(
        id,
        Running {
            download: api == "downloadFile",
            arraybuffer,
        },
    );
    if host.interrupted.get() {
        calls.wx.abort(id);
    } else if host.background.get() {
        // Started in the background: WeChat fails it at once.
        calls.wx.interrupt(id);
    }
    // The script's thread is this one: no event of this call reaches the script before its
    // turn ends, and a listener added in it has said so (`want`) by then.
    calls.wx.settle(id);
    if !calls.delivering.replace(true) {
        deliver_while_running(ctx, host, deliver);
    }
    id
}

/// The future that hands queued events to `deliver` until no call runs.
fn deliver_while_running<'js>(ctx: &Ctx<'js>, host: &Rc<Host>, deliver: Function<'js>) {
    let host = Rc::clone(host);
    let task_ctx = ctx.clone();
    ctx.spawn(async move {
        loop {
            while let Some((id, payload)) = host.calls.queue.take() {
                hand_over(&task_ctx, &host, &deliver, id, payload);
            }
            if host.calls.running.borrow().is_empty() {
                break;
            }
            host.calls.queue.ready.notified().await;
        }
        host.calls.delivering.set(false);
    });
}

/// One event to the script: `deliver(id, kind, value, extra, bytes)`.
fn hand_over<'js>(
    ctx: &Ctx<'js>,
    host: &Rc<Host>,
    deliver: &Function<'js>,
    id: CallId,
    payload: Payload,
) {
    let id = id as f64;
    match payload {
        Payload::Listener(kind, json) => invoke(ctx, host, deliver, (id, kind, json)),
        Payload::Chunk(b64) => invoke(ctx, host, deliver, (id, "chunk", (), b64)),
        Payload::Outcome(Outcome {
            kind,
            mut result,
            profile,
        }) => {
            let Some(running) = host.calls.running.borrow_mut().remove(&(id as CallId)) else {
                return;
            };
            // `kind` is already the task JS's word (`success` or `fail`).
            let mut bytes = None;
            if let Some(o) = result.as_object_mut() {
                let saved = o.remove("savedPath");
                if running.arraybuffer && kind == kind::SUCCESS {
                    // Taken out, not copied: the body as base64 can be large.
                    if let Some(Value::Object(mut data)) = o.remove("data") {
                        if let Some(Value::String(b64)) = data.remove("base64") {
                            bytes = Some(b64);
                        }
                    }
                }
                if running.download && o.contains_key("tempFilePath") {
                    if let (Some(Value::String(path)), Some(journal)) =
                        (&saved, host.temps.borrow_mut().as_mut())
                    {
                        journal.add(Path::new(path));
                    }
                }
            }
            match json_to_js(ctx, &result) {
                Ok(v) => invoke(ctx, host, deliver, (id, kind, v, profile, bytes)),
                Err(e) => host.die(format!("wx: cannot build the {kind} result: {e}")),
            }
        }
    }
}
