//! The wxdl engine as a Node.js addon: the npm package `wxdl` (`npm/`) builds its `wx` object
//! over these few natives, as the JS host's prelude does over its own. Options are parsed by
//! the engine (`DownloadOptions::from_json`), results are the engine's result objects, file
//! operations are the JS host's confined ones (`wxdl_js::fs`): one behaviour for every face.
//!
//! Events reach JavaScript through one thread-safe function per download, in order, on Node's
//! event loop; the last one is the outcome, after which the function is released (so a
//! finished download does not keep Node alive).

#![deny(clippy::all)]

use napi::bindgen_prelude::{spawn, within_runtime_if_available};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;
use napi_derive::napi;
use serde_json::{json, Value};
use wxdl::{AbortHandle, Client, DownloadOptions, Emulation, NetworkSettings, Policy, Resolver};

/// A download's events: `{type: "progress" | "headers" | "success" | "fail", data}`.
type Events = ThreadsafeFunction<Value, (), Value, Status, false>;

fn error(message: impl std::fmt::Display) -> napi::Error {
    napi::Error::new(Status::InvalidArg, message.to_string())
}

/// One Mini Program's engine: its sandbox, pool, queue, policy and network.
#[napi]
pub struct Engine {
    client: Client,
}

#[napi]
impl Engine {
    /// `config`: `{root, appid, appVersion, domains, cacert, concurrency, userAgent, usrQuota,
    /// resolve, network, down, up, latency, jitter, loss, networkTimeline, seed}` (all optional
    /// but `root`); `resolve` takes curl's `HOST:PORT:ADDR` strings (an empty ADDR: the name
    /// does not resolve).
    #[napi(constructor)]
    pub fn new(config: Value) -> napi::Result<Engine> {
        let text = |k: &str| config.get(k).and_then(Value::as_str);
        let number = |k: &str| config.get(k).and_then(Value::as_f64);
        let root = text("root").ok_or_else(|| error("createWx: root is required"))?;
        let mut b = Client::builder()
            .sandbox_root(root)
            .appid(text("appid").unwrap_or("touristappid"))
            .app_version(text("appVersion").unwrap_or("devtools"));
        if let Some(n) = number("concurrency").filter(|n| *n >= 1.0) {
            b = b.concurrency(n as usize);
        }
        if let Some(q) = number("usrQuota").filter(|n| *n >= 0.0) {
            b = b.usr_quota(q as u64);
        }
        if let Some(ua) = text("userAgent") {
            b = b.user_agent(ua);
        }
        if let Some(domains) = config.get("domains").and_then(Value::as_array) {
            let names: Vec<&str> = domains.iter().filter_map(Value::as_str).collect();
            b = b.policy(Policy::strict(names).map_err(error)?);
        }
        for pem in config
            .get("cacert")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            // PEM text, or the path of a PEM file.
            let bytes = if pem.contains("-----BEGIN") {
                pem.as_bytes().to_vec()
            } else {
                std::fs::read(pem).map_err(|e| error(format!("cacert {pem}: {e}")))?
            };
            b = b.add_root_certificate_pem(bytes);
        }
        let mut resolver = Resolver::default();
        for spec in config
            .get("resolve")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            resolver
                .add_curl_style(spec)
                .map_err(|e| error(format!("resolve {spec:?}: {e}")))?;
        }
        b = b.resolver(resolver);
        if let Some(e) = emulation(&config)? {
            b = b.network(e);
        }
        let client = within_runtime_if_available(|| b.build()).map_err(error)?;
        Ok(Engine { client })
    }

    /// Starts a download; `on_event` gets its events, the outcome last.
    #[napi]
    pub fn download(&self, options: Value, on_event: Events) -> Download {
        let mut warnings = Vec::new();
        let parsed = DownloadOptions::from_json(&options, |w| warnings.push(w));
        for w in warnings {
            eprintln!("wx.downloadFile: {w}");
        }
        let opts = match parsed {
            Ok(o) => o,
            Err(fail) => {
                // Asynchronously, as WeChat calls fail: never before downloadFile returns.
                spawn(async move {
                    on_event.call(
                        json!({"type": "fail", "data": fail.to_json()}),
                        ThreadsafeFunctionCallMode::NonBlocking,
                    );
                });
                return Download { abort: None };
            }
        };
        let on_event = std::sync::Arc::new(on_event);
        let progress = on_event.clone();
        let headers = on_event.clone();
        let opts = opts
            .on_progress_update(move |p| {
                progress.call(
                    json!({"type": "progress", "data": {
                        "progress": p.progress,
                        "totalBytesWritten": p.total_bytes_written,
                        "totalBytesExpectedToWrite": p.total_bytes_expected_to_write,
                    }}),
                    ThreadsafeFunctionCallMode::NonBlocking,
                );
            })
            .on_headers_received(move |h| {
                headers.call(
                    json!({"type": "headers", "data": {"header": h.header, "statusCode": h.status_code}}),
                    ThreadsafeFunctionCallMode::NonBlocking,
                );
            });
        let task = within_runtime_if_available(|| self.client.download(opts));
        let abort = task.abort_handle();
        spawn(async move {
            let event = match task.await {
                Ok(s) => {
                    let mut data = s.to_json();
                    data["savedPath"] = json!(s.saved_path.display().to_string());
                    json!({"type": "success", "data": data})
                }
                Err(f) => json!({"type": "fail", "data": f.to_json()}),
            };
            on_event.call(event, ThreadsafeFunctionCallMode::NonBlocking);
        });
        Download { abort: Some(abort) }
    }

    /// One file system manager operation (`wxdl_js::fs`): JSON in, JSON out; an error's
    /// message is WeChat's text after `<op>:fail `.
    #[napi]
    pub fn fs(&self, op: String, args: String) -> napi::Result<String> {
        wxdl_js::fs::call(self.client.sandbox(), &op, &args)
            .map_err(|e| napi::Error::new(Status::GenericFailure, e.to_string()))
    }

    /// Where a `wxfile://` path is on this machine.
    #[napi]
    pub fn host_path(&self, wxfile: String) -> napi::Result<String> {
        self.client
            .sandbox()
            .resolve(&wxfile)
            .map(|p| p.display().to_string())
            .map_err(|f| error(f.err_msg()))
    }

    /// The sandbox's root directory.
    #[napi]
    pub fn root(&self) -> String {
        self.client.sandbox().root().display().to_string()
    }

    /// What `wx.getNetworkType` answers: the emulated network's type, else the estimate's.
    #[napi]
    pub fn network_type(&self) -> String {
        self.client.wx_network_type().to_owned()
    }

    /// The emulated timeline's coming changes: `[[ms from now, type], …]`.
    #[napi]
    pub fn network_changes(&self) -> Value {
        let changes: Vec<(u64, &str)> = self
            .client
            .network_changes()
            .into_iter()
            .map(|(after, kind)| (after.as_millis() as u64, kind))
            .collect();
        json!(changes)
    }
}

/// A started download: what `DownloadTask.abort()` reaches.
#[napi]
pub struct Download {
    abort: Option<AbortHandle>,
}

#[napi]
impl Download {
    /// Aborts the download (nothing after it ended).
    #[napi]
    pub fn abort(&self) {
        if let Some(a) = &self.abort {
            a.abort();
        }
    }
}

/// The network emulation a config asks for (the CLI's flags, by the same names).
fn emulation(config: &Value) -> napi::Result<Option<Emulation>> {
    let text = |k: &str| config.get(k).and_then(Value::as_str).map(str::to_owned);
    let number = |k: &str| config.get(k).and_then(Value::as_f64);
    let whole = |k: &str| number(k).map(|v| v.max(0.0) as u32);
    let settings = NetworkSettings {
        network: text("network"),
        down: whole("down"),
        up: whole("up"),
        latency: whole("latency"),
        jitter: whole("jitter"),
        loss: number("loss"),
        timeline: text("networkTimeline"),
        seed: number("seed").map(|s| s as u64),
    };
    settings.emulation().map_err(error)
}
