//! wxdl's JavaScript host: runs Mini Program code that calls `wx.downloadFile` on QuickJS.
//!
//! The `wx` surface is JavaScript (`prelude.js`) over a few native primitives registered here:
//! printing, timers, downloads on the engine, sandboxed file operations and module loading.
//! Everything runs on one QuickJS runtime driven by tokio; [`run_file`] returns when no task,
//! timer, promise job or callback is pending, or with a [`ScriptError`] carrying the JS stack
//! of the first uncaught exception or unhandled rejection.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let client = wxdl::Client::builder().build()?;
//! wxdl_js::run_file(std::path::Path::new("script.js"), client).await?;
//! # Ok(()) }
//! ```

mod audio;
mod calls;
mod journal;
mod modules;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::LazyLock;
use std::time::Duration;

use rquickjs::context::EvalOptions;
use rquickjs::{AsyncContext, AsyncRuntime, Ctx, Exception, Function, Module, Value};
use tokio::sync::Notify;
use wxdl::Client;
use wxdl_wx::config::ClientConfig;
use wxdl_wx::{fs, network, storage};

/// The download task, the file system manager, the wx APIs around them and the app and its
/// pages (the wx layer's, shared with the Node package), then the rest of the surface.
static PRELUDE: LazyLock<String> = LazyLock::new(|| {
    let mut js = String::new();
    for (_, source) in wxdl_wx::js::FILES {
        js.push_str(source);
    }
    js + include_str!("prelude.js")
});

/// Bytes allocated between two runs of QuickJS's cycle collector.
const JS_GC_THRESHOLD: usize = 8 << 20;

/// A script failed: an uncaught exception or an unhandled promise rejection, with its stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptError {
    /// `Name: message` followed by the JS stack trace.
    pub message: String,
}

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ScriptError {}

impl From<rquickjs::Error> for ScriptError {
    fn from(e: rquickjs::Error) -> Self {
        ScriptError {
            message: format!("JS engine: {e}"),
        }
    }
}

/// What the natives share: the network calls (and their client), live timers, and the first
/// fatal error (after which everything pending is cancelled so the runtime can wind down).
struct Host {
    calls: calls::Calls,
    /// The Mini Program's key-value storage.
    storage: RefCell<storage::Storage>,
    /// Temp files this run downloaded, journaled (removed at its end unless kept).
    temps: RefCell<Option<journal::Journal>>,
    /// Where modules may be loaded from: the project root.
    modules: modules::Confinement,
    /// The project's root and its `app.json` (null without one), as JSON for the prelude.
    project: String,
    next_id: Cell<u32>,
    timers: RefCell<HashMap<u32, Rc<Notify>>>,
    fatal: RefCell<Option<String>>,
    /// Uncaught exceptions so far (each printed when it happened; the run went on).
    uncaught: Cell<usize>,
    unhandled: RefCell<Vec<String>>,
    /// The last `wx.<name>` the script read that wxdl lacks, in this turn of the event loop (an
    /// exception calling it is reported naming it).
    missing: RefCell<Option<String>>,
    /// Set when the run was interrupted (a signal): downloads end as `abort`, timers stop,
    /// callbacks still run so the script sees its downloads fail.
    interrupted: Cell<bool>,
    /// Whether the Mini Program is in the background, and which stay there this is (a later
    /// hide or show makes an earlier stay's 5 s deadline moot).
    background: Cell<bool>,
    stay: Cell<u32>,
    /// When the run started (`--hide-at` and `--show-at` count from here).
    started: tokio::time::Instant,
}

/// WeChat's rule: a download still running this long after the Mini Program went to the
/// background fails with `interrupted`.
const BACKGROUND_GRACE: Duration = Duration::from_secs(5);

impl Host {
    fn id(&self) -> u32 {
        let id = self.next_id.get().wrapping_add(1).max(1);
        self.next_id.set(id);
        id
    }

    /// Records the first fatal error and cancels everything pending.
    fn die(&self, message: String) {
        let mut fatal = self.fatal.borrow_mut();
        if fatal.is_none() {
            *fatal = Some(message);
        }
        drop(fatal);
        for (_, t) in self.timers.borrow_mut().drain() {
            t.notify_one();
        }
        self.calls.abort_all();
    }

    fn is_dead(&self) -> bool {
        self.fatal.borrow().is_some()
    }

    /// An exception the script did not catch: printed with its stack now, and the run goes on
    /// (as in WeChat); the run's end says it happened.
    fn uncaught(&self, message: &str) {
        let message = self.name_missing(message);
        eprintln!("{message}");
        self.uncaught.set(self.uncaught.get() + 1);
    }

    /// A report of a `TypeError: not a function` right after the script read a `wx` API wxdl
    /// lacks names the API: `… not a function (wx.chooseImage is not provided by wxdl
    /// (headless))`.
    fn name_missing(&self, message: &str) -> String {
        let missing = self.missing.borrow();
        match (missing.as_deref(), message.split_once('\n')) {
            (Some(name), first) if message.contains("TypeError: not a function") => {
                let (head, rest) = first.map_or((message, None), |(h, r)| (h, Some(r)));
                let hint = format!("{head} (wx.{name} is not provided by wxdl (headless))");
                rest.map_or(hint.clone(), |r| format!("{hint}\n{r}"))
            }
            _ => message.to_string(),
        }
    }

    /// Aborts every download (their `fail` callbacks run with `abort`) and stops every timer;
    /// later timers are not scheduled and later downloads end as `abort` at once.
    fn interrupt(&self) {
        self.interrupted.set(true);
        for (_, t) in self.timers.borrow_mut().drain() {
            t.notify_one();
        }
        self.calls.abort_all();
    }
}

/// `Name: message` and the stack of a thrown value.
fn describe(value: &Value<'_>) -> String {
    if let Some(ex) = value
        .as_object()
        .and_then(|o| Exception::from_object(o.clone()))
    {
        let name: String = ex
            .get::<_, Option<String>>("name")
            .ok()
            .flatten()
            .unwrap_or_else(|| "Error".into());
        let message = ex.message().unwrap_or_default();
        let stack = ex.stack().unwrap_or_default();
        return format!("Uncaught {name}: {message}\n{stack}")
            .trim_end()
            .to_string();
    }
    // A thrown or rejected plain value shows as JSON (a fail result's errMsg and errno), never
    // as an object address.
    let text = value
        .as_string()
        .and_then(|s| s.to_string().ok())
        .unwrap_or_else(|| js_to_json(value).to_string());
    format!("Uncaught {text}")
}

/// Calls a JS callback; an exception in it is printed with its stack and the run goes on.
fn invoke<'js, A: rquickjs::function::IntoArgs<'js>>(
    ctx: &Ctx<'js>,
    host: &Host,
    f: &Function<'js>,
    args: A,
) {
    if host.is_dead() {
        return;
    }
    if let Err(e) = f.call::<A, ()>(args) {
        host.uncaught(&caught(ctx, e).message);
    }
}

/// What a Mini Program project says about itself: its root (the nearest ancestor of the script
/// holding `app.json` or `project.config.json`, else the script's directory) and, from
/// `project.config.json`, its `appid` and a `version` when present.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Project {
    /// The project root.
    pub root: PathBuf,
    /// `project.config.json`'s `appid`.
    pub appid: Option<String>,
    /// `project.config.json`'s `version`, when it has one.
    pub version: Option<String>,
}

impl Project {
    /// The project a script belongs to.
    pub fn find(script: &Path) -> Project {
        let script = script
            .canonicalize()
            .unwrap_or_else(|_| script.to_path_buf());
        let dir = script.parent().unwrap_or(Path::new("/"));
        let root = dir
            .ancestors()
            .find(|d| d.join("app.json").is_file() || d.join("project.config.json").is_file())
            .unwrap_or(dir)
            .to_path_buf();
        let config: Option<serde_json::Value> =
            std::fs::read_to_string(root.join("project.config.json"))
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok());
        let field = |name: &str| {
            config
                .as_ref()
                .and_then(|c| c.get(name))
                .and_then(|v| v.as_str())
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        Project {
            appid: field("appid"),
            version: field("version"),
            root,
        }
    }
}

/// The project's root and its `app.json` (null when it has none or it is not JSON) as JSON
/// text: `{"root": …, "app": …}`.
fn project_json(root: &Path) -> String {
    let app: Option<serde_json::Value> = std::fs::read_to_string(root.join("app.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    serde_json::json!({ "root": root.to_string_lossy(), "app": app }).to_string()
}

/// The default download timeout from `app.json` (`networkTimeout.downloadFile`) next to the
/// script or in a parent directory.
fn app_json_timeout(script_dir: &Path, api: wxdl_wx::Api) -> Option<Duration> {
    let mut dir = Some(script_dir);
    while let Some(d) = dir {
        if let Ok(text) = std::fs::read_to_string(d.join("app.json")) {
            let v: serde_json::Value = serde_json::from_str(&text).ok()?;
            return ClientConfig::from_json(&v).timeout(api);
        }
        dir = d.parent();
    }
    None
}

/// Runs a script file as the entry module until nothing is pending.
pub async fn run_file(path: &Path, client: Client) -> Result<(), ScriptError> {
    run_file_with(path, client, None).await
}

/// Runs a script file (CommonJS, or an ES module when it uses `import`/`export`); a page it
/// registered with `Page()` runs its lifecycle, then, with `call`, that method.
pub async fn run_file_with(
    path: &Path,
    client: Client,
    call: Option<&str>,
) -> Result<(), ScriptError> {
    let page = RunOptions {
        call: call.map(str::to_owned),
        ..RunOptions::default()
    };
    run_file_until(path, client, &page, std::future::pending()).await
}

/// How a run goes. Once the script has loaded, a page it registered with `Page()` runs its
/// lifecycle `onLoad(query)` → `onShow` → `onReady` (after the app's `onLaunch` and `onShow`),
/// then `call` once if given (a lifecycle method is not run twice). The app goes to the
/// background at `hide_at` and comes back at `show_at` (from the start of the run). Temp
/// files the run downloaded are removed at its end, as WeChat's are, unless `keep_tmp`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// The Mini Program's appid (its storage is kept per appid); default: the project's
    /// `project.config.json`, else `touristappid`.
    pub appid: Option<String>,
    /// Keep the run's temp files after it ends.
    pub keep_tmp: bool,
    /// The page's query string (`id=7&from=share`), given to `onLoad` as an object.
    pub query: String,
    /// A method to call after the lifecycle.
    pub call: Option<String>,
    /// When the app goes to the background.
    pub hide_at: Option<Duration>,
    /// When it comes back.
    pub show_at: Option<Duration>,
    /// The origin the run serves test data from (`wxdl run --serve DIR:PORT`), given to the
    /// script as `wxdl.serveOrigin` (e.g. `http://127.0.0.1:8000`), so it runs on any port.
    pub serve_origin: Option<String>,
    /// **\[beyond\]** Tasks of calls without callbacks are thenable (`wxdl run --promise`);
    /// WeChat's are not, nor are they here by default.
    pub promise: bool,
}

/// How long an interrupted script may go on delivering its downloads' `abort` results before
/// the run ends anyway (a script that keeps starting work must not hold the exit).
const INTERRUPT_GRACE: Duration = Duration::from_secs(2);

/// [`run_file_with`], interrupted when `interrupt` completes (the CLI passes its signals):
/// every download is aborted and its callbacks run, timers stop, and the run ends once that
/// is delivered (within a short grace).
pub async fn run_file_until(
    path: &Path,
    client: Client,
    page: &RunOptions,
    interrupt: impl std::future::Future<Output = ()>,
) -> Result<(), ScriptError> {
    let path = path.canonicalize().map_err(|e| ScriptError {
        message: format!("{}: {e}", path.display()),
    })?;
    let script_dir = path.parent().unwrap_or(Path::new("/")).to_path_buf();
    let project = Project::find(&path);
    let confinement = modules::Confinement::new(&project.root);
    let appid = page
        .appid
        .clone()
        .or(project.appid.clone())
        .unwrap_or_else(|| "touristappid".into());
    let storage = storage::Storage::open(client.sandbox().root().join("storage"), &appid);
    let project = Project {
        root: confinement.root().to_path_buf(),
        ..project
    };
    let host = Rc::new(Host {
        storage: RefCell::new(storage),
        temps: RefCell::new(journal::Journal::start(
            client.sandbox().root(),
            client.sandbox().tmp_dir(),
            page.keep_tmp,
        )),
        calls: calls::Calls::new(client, |api| app_json_timeout(&script_dir, api)),
        modules: confinement.clone(),
        project: project_json(&project.root),
        next_id: Cell::new(0),
        timers: RefCell::default(),
        fatal: RefCell::default(),
        uncaught: Cell::new(0),
        unhandled: RefCell::default(),
        missing: RefCell::default(),
        interrupted: Cell::new(false),
        background: Cell::new(false),
        stay: Cell::new(0),
        started: tokio::time::Instant::now(),
    });
    let rt = AsyncRuntime::new()?;
    // Collect after 8 MiB of new allocations rather than QuickJS's 256 KiB: a script making
    // thousands of downloads otherwise spends a fifth of its time in the collector.
    rt.set_gc_threshold(JS_GC_THRESHOLD).await;
    let tracker_host = Rc::clone(&host);
    rt.set_host_promise_rejection_tracker(Some(Box::new(
        move |_ctx, _promise, reason, handled| {
            let mut list = tracker_host.unhandled.borrow_mut();
            if handled {
                list.pop();
            } else {
                list.push(tracker_host.name_missing(&describe(&reason)).replacen(
                    "Uncaught",
                    "Unhandled promise rejection:",
                    1,
                ));
            }
        },
    )))
    .await;
    rt.set_loader(
        modules::EsmResolver(confinement.clone()),
        modules::EsmLoader(confinement),
    )
    .await;
    let ctx = AsyncContext::full(&rt).await?;
    let entry = path.to_string_lossy().into_owned();
    let esm = std::fs::read_to_string(&path)
        .map(|src| modules::is_esm(&path, &src))
        .unwrap_or(false);
    let setup_host = Rc::clone(&host);
    let page = page.clone();
    ctx.with(move |ctx| -> Result<(), ScriptError> {
        install(&ctx, &setup_host)?;
        if let Some(origin) = &page.serve_origin {
            ctx.globals().set("__wxdl_serve_origin", origin.as_str())?;
        }
        ctx.globals().set("__wxdl_promise", page.promise)?;
        let mut opts = EvalOptions::default();
        opts.global = true;
        opts.filename = Some("wxdl:prelude.js".into());
        ctx.eval_with_options::<(), _>(PRELUDE.as_str(), opts)
            .map_err(|e| caught(&ctx, e))?;
        // The project's app.js first (App(), getApp()), then the entry as a page of its route.
        let boot: Function = ctx.globals().get("__wxdl_boot")?;
        if let Err(e) = boot.call::<_, ()>((entry.as_str(),)) {
            setup_host.uncaught(&caught(&ctx, e).message);
        }
        if esm {
            let promise = Module::import(&ctx, entry).map_err(|e| caught(&ctx, e))?;
            let host = Rc::clone(&setup_host);
            let task_ctx = ctx.clone();
            ctx.spawn(async move {
                if let Err(e) = promise.into_future::<Value>().await {
                    host.uncaught(&caught(&task_ctx, e).message);
                } else {
                    run_page(&task_ctx, &host, &page);
                }
            });
        } else {
            let load: Function = ctx.globals().get("__wxdl_load")?;
            match load.call::<_, Value>((entry,)) {
                Err(e) => setup_host.uncaught(&caught(&ctx, e).message),
                Ok(_) => run_page(&ctx, &setup_host, &page),
            }
        }
        Ok(())
    })
    .await?;
    tokio::select! {
        _ = rt.idle() => {}
        _ = interrupt => {
            host.interrupt();
            let _ = tokio::time::timeout(INTERRUPT_GRACE, rt.idle()).await;
        }
    }
    if let Some(journal) = host.temps.borrow_mut().take() {
        journal.finish();
    }
    if let Some(message) = host.fatal.borrow_mut().take() {
        return Err(ScriptError { message });
    }
    let unhandled = host.unhandled.borrow();
    for message in unhandled.iter() {
        eprintln!("{message}");
    }
    let count = host.uncaught.get() + unhandled.len();
    if count > 0 {
        return Err(ScriptError {
            message: format!(
                "the script had {count} uncaught exception{} or unhandled rejection{} (above)",
                if count == 1 { "" } else { "s" },
                if count == 1 { "" } else { "s" },
            ),
        });
    }
    Ok(())
}

/// The prelude runs the registered page's lifecycle (if any), then the method asked for; the
/// app's trips to the background are scheduled.
fn run_page<'js>(ctx: &Ctx<'js>, host: &Rc<Host>, page: &RunOptions) {
    match ctx.globals().get::<_, Function>("__wxdl_page") {
        Ok(f) => invoke(ctx, host, &f, (page.query.clone(), page.call.clone())),
        Err(e) => host.die(format!("Page(): {e}")),
    }
    for (at, hidden) in [(page.hide_at, true), (page.show_at, false)] {
        let Some(at) = at else { continue };
        let host = Rc::clone(host);
        let task_ctx = ctx.clone();
        ctx.spawn(async move {
            tokio::time::sleep_until(host.started + at).await;
            match task_ctx.globals().get::<_, Function>("__wxdl_lifecycle") {
                Ok(f) => invoke(&task_ctx, &host, &f, (hidden,)),
                Err(e) => host.die(format!("app lifecycle: {e}")),
            }
        });
    }
}

fn caught(ctx: &Ctx<'_>, e: rquickjs::Error) -> ScriptError {
    let message = match e {
        rquickjs::Error::Exception => describe(&ctx.catch()),
        other => format!("Uncaught {other}"),
    };
    ScriptError { message }
}

/// Evaluates `source` as a global script whose first line is numbered `first_line` (QuickJS's
/// `JS_Eval2`), so a wrapper line ahead of a module shifts neither its lines nor its columns.
fn eval_from_line<'js>(
    ctx: &Ctx<'js>,
    source: &str,
    filename: &str,
    first_line: i32,
) -> rquickjs::Result<Value<'js>> {
    use rquickjs::qjs;
    let text = std::ffi::CString::new(source)?;
    let name = std::ffi::CString::new(filename)?;
    let mut options = qjs::JSEvalOptions {
        version: qjs::JS_EVAL_OPTIONS_VERSION as i32,
        eval_flags: qjs::JS_EVAL_TYPE_GLOBAL as i32,
        filename: name.as_ptr(),
        line_num: first_line,
    };
    // SAFETY: the context pointer is live for `ctx`'s lifetime; `text` is NUL-terminated right
    // after `source.len()` bytes, as JS_Eval2 requires, and `text`, `name` and `options` outlive
    // the call. The returned value is owned (a new reference) and handed to `Value::from_raw`,
    // which takes that ownership.
    let value = unsafe {
        let raw = qjs::JS_Eval2(
            ctx.as_raw().as_ptr(),
            text.as_ptr(),
            source.len() as _,
            &mut options,
        );
        Value::from_raw(ctx.clone(), raw)
    };
    if value.is_exception() {
        Err(rquickjs::Error::Exception)
    } else {
        Ok(value)
    }
}

/// Registers the native primitives as `globalThis.__native`.
fn install<'js>(ctx: &Ctx<'js>, host: &Rc<Host>) -> rquickjs::Result<()> {
    let n = rquickjs::Object::new(ctx.clone())?;

    n.set(
        "print",
        Function::new(ctx.clone(), |level: i32, text: String| {
            if level == 0 {
                println!("{text}");
            } else {
                eprintln!("{text}");
            }
        })?,
    )?;

    let h = Rc::clone(host);
    n.set(
        "setTimer",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, ms: f64, repeat: bool, cb: Function<'js>| -> u32 {
                let id = h.id();
                if h.interrupted.get() {
                    return id;
                }
                let cancel = Rc::new(Notify::new());
                h.timers.borrow_mut().insert(id, Rc::clone(&cancel));
                let host = Rc::clone(&h);
                let period = Duration::from_micros((ms.max(0.0) * 1000.0) as u64);
                let task_ctx = ctx.clone();
                ctx.spawn(async move {
                    loop {
                        tokio::select! {
                            _ = tokio::time::sleep(period) => {}
                            _ = cancel.notified() => break,
                        }
                        if !host.timers.borrow().contains_key(&id) {
                            break;
                        }
                        if !repeat {
                            host.timers.borrow_mut().remove(&id);
                        }
                        invoke(&task_ctx, &host, &cb, ());
                        if !repeat {
                            break;
                        }
                    }
                });
                id
            },
        )?,
    )?;

    let h = Rc::clone(host);
    n.set(
        "clearTimer",
        Function::new(ctx.clone(), move |id: u32| {
            if let Some(t) = h.timers.borrow_mut().remove(&id) {
                t.notify_one();
            }
        })?,
    )?;

    // The network calls: `call(api, options, deliver) -> id`, `abort(id)`, `want(id, bits)`.
    let h = Rc::clone(host);
    n.set(
        "call",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, api: String, options: Value<'js>, deliver: Function<'js>| {
                calls::start(&ctx, &h, &api, &options, deliver) as f64
            },
        )?,
    )?;

    let h = Rc::clone(host);
    n.set(
        "abort",
        Function::new(ctx.clone(), move |id: f64| h.calls.abort(id as u64))?,
    )?;

    let h = Rc::clone(host);
    n.set(
        "want",
        Function::new(ctx.clone(), move |id: f64, events: u8| {
            h.calls.want(id as u64, events)
        })?,
    )?;

    let h = Rc::clone(host);
    n.set(
        "fs",
        Function::new(ctx.clone(), move |op: String, args: String| {
            fs::outcome(h.calls.client().sandbox(), &op, &args)
        })?,
    )?;

    let h = Rc::clone(host);
    n.set(
        "resolve",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, from: String, spec: String| -> rquickjs::Result<String> {
                modules::resolve(Path::new(&from), &spec, &h.modules)
                    .map(|p| p.to_string_lossy().into_owned())
                    .map_err(|e| Exception::throw_message(&ctx, &e))
            },
        )?,
    )?;

    let h = Rc::clone(host);
    n.set(
        "project",
        Function::new(ctx.clone(), move || h.project.clone())?,
    )?;

    // A page's file: `<root>/<route>.js`, in the project.
    let h = Rc::clone(host);
    n.set(
        "resolvePage",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, route: String| -> rquickjs::Result<String> {
                h.modules
                    .page(&route)
                    .map(|p| p.to_string_lossy().into_owned())
                    .ok_or_else(|| {
                        Exception::throw_message(&ctx, &format!("page \"{route}\" is not found"))
                    })
            },
        )?,
    )?;

    n.set(
        "isEsm",
        Function::new(ctx.clone(), |path: String, source: String| {
            modules::is_esm(Path::new(&path), &source)
        })?,
    )?;

    // `require` of an ES module: imported (through the loader, so one instance however it is
    // reached) and evaluated now; its namespace.
    n.set(
        "importSync",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, path: String| -> rquickjs::Result<rquickjs::Object<'js>> {
                let promise = Module::import(&ctx, format!("{}{path}", modules::REQUIRE_PREFIX))?;
                promise.finish::<rquickjs::Object>().map_err(|e| match e {
                    rquickjs::Error::WouldBlock => Exception::throw_message(
                        &ctx,
                        &format!("require of '{path}': an ES module still waiting (top-level await) cannot be required"),
                    ),
                    other => other,
                })
            },
        )?,
    )?;

    let h = Rc::clone(host);
    n.set(
        "readText",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, path: String| -> rquickjs::Result<String> {
                h.modules
                    .read(&path)
                    .map_err(|e| Exception::throw_message(&ctx, &e))
            },
        )?,
    )?;

    let h = Rc::clone(host);
    n.set(
        "storage",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>,
                  op: String,
                  key: String,
                  data: String|
                  -> rquickjs::Result<String> {
                h.storage
                    .borrow_mut()
                    .call(&op, &key, &data)
                    .map_err(|e| Exception::throw_message(&ctx, &e))
            },
        )?,
    )?;

    let h = Rc::clone(host);
    n.set(
        "lifecycle",
        Function::new(ctx.clone(), move |ctx: Ctx<'js>, hidden: bool| {
            h.background.set(hidden);
            let stay = h.stay.get().wrapping_add(1);
            h.stay.set(stay);
            if hidden {
                let host = Rc::clone(&h);
                ctx.spawn(async move {
                    tokio::time::sleep(BACKGROUND_GRACE).await;
                    if host.background.get() && host.stay.get() == stay {
                        host.calls.interrupt_all();
                    }
                });
            }
        })?,
    )?;

    let h = Rc::clone(host);
    n.set(
        "missing",
        Function::new(ctx.clone(), move |name: String| {
            *h.missing.borrow_mut() = (!name.is_empty()).then_some(name);
        })?,
    )?;

    let h = Rc::clone(host);
    n.set(
        "uncaught",
        Function::new(ctx.clone(), move |ctx: Ctx<'js>, error: Value<'js>| {
            let _ = &ctx;
            h.uncaught(&describe(&error));
        })?,
    )?;

    n.set(
        "compile",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, source: String, filename: String| -> rquickjs::Result<Function<'js>> {
                // A shebang line is blanked, not removed, so every line keeps its number.
                let body = match source.strip_prefix("#!") {
                    Some(rest) => rest.find('\n').map_or("", |i| &rest[i..]),
                    None => &source,
                };
                // The wrapper has a line of its own, numbered 0 (an empty line -1 comes first:
                // QuickJS reads a first line number of 0 as "the default, 1"), so the module's
                // first line is line 1 and its columns are its own.
                let wrapped = format!(
                    "\n(function (exports, require, module, __filename, __dirname) {{\n{body}\n}})"
                );
                eval_from_line(&ctx, &wrapped, &filename, -1)?.get()
            },
        )?,
    )?;

    let h = Rc::clone(host);
    n.set(
        "audioInfo",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, path: String| -> rquickjs::Result<String> {
                let host_path = h.calls.client().sandbox().resolve(&path).map_err(|_| {
                    Exception::throw_message(&ctx, &format!("permission denied, open {path}"))
                })?;
                audio::describe(&host_path)
                    .map(|v| v.to_string())
                    .map_err(|e| Exception::throw_message(&ctx, &e))
            },
        )?,
    )?;

    n.set(
        "systemInfo",
        Function::new(ctx.clone(), || wxdl_wx::system::system_info().to_string())?,
    )?;

    let h = Rc::clone(host);
    n.set(
        "networkType",
        Function::new(ctx.clone(), move || {
            network::network_type(h.calls.client()).to_string()
        })?,
    )?;
    let h = Rc::clone(host);
    n.set(
        "networkChanges",
        Function::new(ctx.clone(), move || {
            network::network_changes(h.calls.client()).to_string()
        })?,
    )?;

    ctx.globals().set("__native", n)
}

/// A plain JS value (what JSON can hold) as JSON, as `JSON.stringify` makes it: functions and
/// other non-JSON values become `null`, and an object's `undefined` and function fields are
/// left out.
fn js_to_json(v: &Value<'_>) -> serde_json::Value {
    use serde_json::Value as J;
    if let Some(s) = v.as_string() {
        return s.to_string().map(J::String).unwrap_or(J::Null);
    }
    if let Some(b) = v.as_bool() {
        return J::Bool(b);
    }
    if let Some(n) = v.as_number() {
        // Integral numbers print as integers (`603105`, not `603105.0`), as JSON.stringify does.
        const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
        if n.fract() == 0.0 && n.abs() < EXACT {
            return J::from(n as i64);
        }
        return serde_json::Number::from_f64(n).map_or(J::Null, J::Number);
    }
    if let Some(a) = v.as_array() {
        return J::Array(
            a.iter::<Value>()
                .map(|e| e.map_or(J::Null, |e| js_to_json(&e)))
                .collect(),
        );
    }
    if let Some(o) = v.as_object().filter(|_| !v.is_function()) {
        let mut m = serde_json::Map::new();
        for (k, e) in o.props::<String, Value>().flatten() {
            // Left out, as `JSON.stringify` leaves them out of an object.
            if e.is_undefined() || e.is_function() {
                continue;
            }
            m.insert(k, js_to_json(&e));
        }
        return J::Object(m);
    }
    J::Null
}

/// The option fields of the object a script passed, as JSON (only the fields the engine reads).
fn option_fields(options: &Value<'_>, names: &[&str]) -> serde_json::Value {
    let Some(o) = options.as_object() else {
        return serde_json::Value::Null;
    };
    let mut m = serde_json::Map::new();
    for &name in names {
        match o.get::<_, Value>(name) {
            // An absent field (most of them) is no field, as in `JSON.stringify`.
            Ok(v) if v.is_undefined() || v.is_function() => {}
            Ok(v) => {
                m.insert(name.to_owned(), js_to_json(&v));
            }
            Err(_) => {}
        }
    }
    serde_json::Value::Object(m)
}

/// A JSON value as a JS value, built directly (what `JSON.parse` of its text would give,
/// without printing and tokenizing it: results carry a profile of fractional epoch times).
fn json_to_js<'js>(ctx: &Ctx<'js>, v: &serde_json::Value) -> rquickjs::Result<Value<'js>> {
    use serde_json::Value as J;
    Ok(match v {
        J::Null => Value::new_null(ctx.clone()),
        J::Bool(b) => Value::new_bool(ctx.clone(), *b),
        J::Number(n) => match n.as_i64().and_then(|i| i32::try_from(i).ok()) {
            Some(i) => Value::new_int(ctx.clone(), i),
            None => Value::new_float(ctx.clone(), n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => rquickjs::String::from_str(ctx.clone(), s)?.into_value(),
        J::Array(items) => {
            let array = rquickjs::Array::new(ctx.clone())?;
            for (i, item) in items.iter().enumerate() {
                array.set(i, json_to_js(ctx, item)?)?;
            }
            array.into_value()
        }
        J::Object(fields) => {
            let object = rquickjs::Object::new(ctx.clone())?;
            for (k, item) in fields {
                object.set(k.as_str(), json_to_js(ctx, item)?)?;
            }
            object.into_value()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Options cross as `JSON.stringify` would carry them: an absent or `undefined` field is no
    /// field (not `null`), a function field is dropped, an array keeps its places.
    #[test]
    fn js_values_cross_as_json_stringify_makes_them() {
        let rt = rquickjs::Runtime::new().unwrap();
        let ctx = rquickjs::Context::full(&rt).unwrap();
        ctx.with(|ctx| {
            let v: Value = ctx
                .eval("({ url: 'u', timeout: undefined, success() {}, d: [undefined, 2], h: { a: undefined, b: 'x' }, n: null })")
                .unwrap();
            assert_eq!(
                js_to_json(&v),
                serde_json::json!({ "url": "u", "d": [null, 2], "h": { "b": "x" }, "n": null })
            );
            let picked = option_fields(&v, &["url", "timeout", "success", "n", "absent"]);
            assert_eq!(picked, serde_json::json!({ "url": "u", "n": null }));
        });
    }
}
