//! `wx.request` and `wx.uploadFile` in the JS host: the natives `request(options, onEvent)` and
//! `upload(options, onEvent)` the shared task JS (`download_task.js`'s RequestTask and
//! UploadTask) starts. Options and results are the wx layer's (`wxdl_wx::request`,
//! `wxdl_wx::upload`); events reach the script in order through the call's inbox, the outcome
//! last, like a download's. Bytes cross as base64 text (`{base64}` for `data`, a chunk's and an
//! arraybuffer response's bytes as the event's extra argument), made into ArrayBuffers by the
//! prelude.

use std::future::IntoFuture;
use std::rc::Rc;
use std::sync::Arc;

use base64::Engine as _;
use rquickjs::{Ctx, Function, Object, Value};
use wxdl::task::Task;
use wxdl::Fail;
use wxdl_wx::events::{WANT_HEADERS, WANT_PROGRESS};
use wxdl_wx::{request, upload, Api};

use crate::inbox::{Inbox, Update};
use crate::{invoke, json_to_js, option_fields, Host, Running};

/// `onChunkReceived` listeners (the task's `want` bit, as `Wx`'s).
const WANT_CHUNKS: u8 = 8;

/// Puts `request` and `upload` on the natives object.
pub(crate) fn install<'js>(
    ctx: &Ctx<'js>,
    n: &Object<'js>,
    host: &Rc<Host>,
) -> rquickjs::Result<()> {
    let h = Rc::clone(host);
    n.set(
        "request",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, options: Value<'js>, on_event: Function<'js>| -> u32 {
                start_request(&ctx, &h, &options, on_event)
            },
        )?,
    )?;
    let h = Rc::clone(host);
    n.set(
        "upload",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, options: Value<'js>, on_event: Function<'js>| -> u32 {
                start_upload(&ctx, &h, &options, on_event)
            },
        )?,
    )?;
    Ok(())
}

/// What a finished call hands the script: the outcome's kind, its result object, the profile
/// as JSON text, and bytes for `res.data` as base64.
type Finished = (
    &'static str,
    serde_json::Value,
    Option<String>,
    Option<String>,
);

fn start_request<'js>(
    ctx: &Ctx<'js>,
    host: &Rc<Host>,
    options: &Value<'js>,
    on_event: Function<'js>,
) -> u32 {
    let fields = option_fields(options, &request::OPTION_FIELDS);
    let data = request::Data::from_json(fields.get("data"));
    let call = match request::options(&fields, data, |w| eprintln!("{w}")) {
        Ok(c) => c,
        Err(fail) => return fail_soon(ctx, host, request::API, fail, on_event),
    };
    let inbox = Arc::new(Inbox::default());
    let (data_type, response_type) = (call.data_type, call.response_type);
    let mut opts = call.options;
    if let Some(t) = host.request_timeout {
        opts = opts.default_timeout(t);
    }
    let headers = Arc::clone(&inbox);
    opts = opts.on_headers_received(move |h| {
        if headers.wants(WANT_HEADERS) {
            headers.push(Update::Headers(serde_json::to_value(h).unwrap_or_default()));
        }
    });
    if call.chunked {
        let chunks = Arc::clone(&inbox);
        opts = opts.on_chunk_received(move |c| {
            if chunks.wants(WANT_CHUNKS) {
                chunks.push(Update::Chunk(
                    base64::engine::general_purpose::STANDARD.encode(c),
                ));
            }
        });
    }
    let task = host.client.request(opts);
    run(
        ctx,
        host,
        request::API,
        task,
        inbox,
        on_event,
        move |outcome| match outcome {
            Ok(mut res) => {
                let profile = res
                    .profile
                    .take()
                    .and_then(|p| serde_json::to_string(&p).ok());
                let request::Reply { result, bytes } =
                    request::success(&res, &data_type, &response_type);
                let b64 = bytes.map(|b| base64::engine::general_purpose::STANDARD.encode(b));
                ("success", result, profile, b64)
            }
            Err(f) => ("fail", request::API.fail_result(&f), None, None),
        },
    )
}

fn start_upload<'js>(
    ctx: &Ctx<'js>,
    host: &Rc<Host>,
    options: &Value<'js>,
    on_event: Function<'js>,
) -> u32 {
    let fields = option_fields(options, &upload::OPTION_FIELDS);
    let mut opts = match upload::options(&fields, |w| eprintln!("{w}")) {
        Ok(o) => o,
        Err(fail) => return fail_soon(ctx, host, upload::API, fail, on_event),
    };
    if let Some(t) = host.upload_timeout {
        opts = opts.default_timeout(t);
    }
    let inbox = Arc::new(Inbox::default());
    let (progress, headers) = (Arc::clone(&inbox), Arc::clone(&inbox));
    let opts = opts
        .on_progress_update(move |p| {
            if progress.wants(WANT_PROGRESS) {
                progress.push(Update::Progress(
                    serde_json::to_value(p).unwrap_or_default(),
                ));
            }
        })
        .on_headers_received(move |h| {
            if headers.wants(WANT_HEADERS) {
                headers.push(Update::Headers(serde_json::to_value(h).unwrap_or_default()));
            }
        });
    let task = host.client.upload(opts);
    run(
        ctx,
        host,
        upload::API,
        task,
        inbox,
        on_event,
        |outcome| match outcome {
            Ok(mut done) => {
                let profile = done
                    .response
                    .profile
                    .take()
                    .and_then(|p| serde_json::to_string(&p).ok());
                ("success", upload::success(&done), profile, None)
            }
            Err(f) => ("fail", upload::API.fail_result(&f), None, None),
        },
    )
}

/// Registers a started call and a JS-side future that delivers its events, in order, then its
/// outcome, to `on_event(kind, value, extra, bytes)`.
fn run<'js, T: Send + 'static>(
    ctx: &Ctx<'js>,
    host: &Rc<Host>,
    api: Api,
    task: Task<T>,
    inbox: Arc<Inbox>,
    on_event: Function<'js>,
    finish: impl FnOnce(Result<T, Fail>) -> Finished + 'js,
) -> u32 {
    if host.interrupted.get() {
        task.abort();
    } else if host.background.get() {
        // Started in the background: WeChat fails it at once.
        task.abort_handle().interrupt();
    }
    let id = host.id();
    host.downloads.borrow_mut().insert(
        id,
        Running {
            abort: task.abort_handle(),
            inbox: Arc::clone(&inbox),
        },
    );
    let host = Rc::clone(host);
    let task_ctx = ctx.clone();
    ctx.spawn(async move {
        let emit =
            |kind: &str, v: &serde_json::Value, extra: Option<String>, bytes: Option<String>| {
                match json_to_js(&task_ctx, v) {
                    Ok(v) => invoke(&task_ctx, &host, &on_event, (kind, v, extra, bytes)),
                    Err(e) => host.die(format!(
                        "wx.{}: cannot build the {kind} result: {e}",
                        api.name()
                    )),
                }
            };
        let deliver = |u: Update| match u {
            Update::Progress(v) => emit("progress", &v, None, None),
            Update::Headers(v) => emit("headers", &v, None, None),
            Update::Chunk(b64) => emit("chunk", &serde_json::Value::Null, Some(b64), None),
        };
        let mut outcome = std::pin::pin!(task.into_future());
        let result = loop {
            tokio::select! {
                biased;
                () = inbox.ready() => {
                    while let Some(u) = inbox.take() {
                        deliver(u);
                    }
                }
                r = &mut outcome => break r,
            }
        };
        while let Some(u) = inbox.take() {
            deliver(u);
        }
        host.downloads.borrow_mut().remove(&id);
        let (kind, v, profile, bytes) = finish(result);
        emit(kind, &v, profile, bytes);
    });
    id
}

/// A call the wx layer refused (bad options): its `fail`, after the call returned, as WeChat
/// does. Returns the id 0 (nothing to abort).
fn fail_soon<'js>(
    ctx: &Ctx<'js>,
    host: &Rc<Host>,
    api: Api,
    fail: Fail,
    on_event: Function<'js>,
) -> u32 {
    let host = Rc::clone(host);
    let task_ctx = ctx.clone();
    ctx.spawn(async move {
        match json_to_js(&task_ctx, &api.fail_result(&fail)) {
            Ok(v) => invoke(&task_ctx, &host, &on_event, ("fail", v, None::<String>)),
            Err(e) => host.die(format!(
                "wx.{}: cannot build the fail result: {e}",
                api.name()
            )),
        }
    });
    0
}
