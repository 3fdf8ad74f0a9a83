//! `Wx::call` against a real nginx: WeChat's event order per call, failures as events, abort,
//! want/settle, and close waiting for every call.

use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use serde_json::{json, Value};
use wxdl_testkit::{sha256_file, write_random, Nginx};
use wxdl_wx::call::{kind, CallId, Wants, Wx};
use wxdl_wx::config::ClientConfig;

type Event = (CallId, String, Value);

/// A `Wx` over a fresh sandbox whose events arrive on a channel.
fn wx(root: &std::path::Path) -> (Wx, Receiver<Event>) {
    let (tx, rx) = channel();
    let tx = Mutex::new(tx);
    let config = ClientConfig::from_json(&json!({"root": root}));
    let wx = Wx::new(&config, move |id, kind: &str, json: &str| {
        let v = serde_json::from_str(json).expect("events carry JSON");
        let _ = tx.lock().unwrap().send((id, kind.to_owned(), v));
    })
    .expect("a Wx");
    (wx, rx)
}

/// Events until call `id` completes (bounded: 30 s without an event fails the test).
fn until_complete(rx: &Receiver<Event>, id: CallId) -> Vec<Event> {
    let mut seen = Vec::new();
    loop {
        let e = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the call completes");
        let done = e.0 == id && e.1 == kind::COMPLETE;
        seen.push(e);
        if done {
            return seen.into_iter().filter(|e| e.0 == id).collect();
        }
    }
}

/// The kinds in order, progress events folded into one.
fn shape(events: &[Event]) -> Vec<&str> {
    let mut kinds: Vec<&str> = events.iter().map(|e| e.1.as_str()).collect();
    kinds.dedup();
    kinds
}

#[test]
fn a_download_sends_headers_progress_success_then_complete_last() {
    let nginx = Nginx::start();
    let sum = write_random(&nginx.root.join("a.bin"), 300_000);
    let dir = tempfile::tempdir().unwrap();
    let (wx, rx) = wx(dir.path());

    let id = wx.call(
        "downloadFile",
        &json!({"url": nginx.url("/a.bin")}).to_string(),
    );
    assert_eq!(id, 1, "ids start at 1");
    let events = until_complete(&rx, id);
    assert_eq!(
        shape(&events),
        ["headersReceived", "progressUpdate", "success", "complete"]
    );
    assert_eq!(events[0].2["statusCode"], 200);
    let last_progress = &events[events.len() - 3].2;
    assert_eq!(last_progress["progress"], 100);
    assert_eq!(last_progress["totalBytesWritten"], 300_000);
    let ok = &events[events.len() - 2].2;
    assert_eq!(ok["errMsg"], "downloadFile:ok");
    assert_eq!(ok["dataLength"], 300_000);
    assert!(ok["tempFilePath"]
        .as_str()
        .unwrap()
        .starts_with(wxdl::store::TEMP_PREFIX));
    assert_eq!(events.last().unwrap().2, *ok, "complete carries the result");
    let saved = ok["savedPath"].as_str().unwrap();
    assert_eq!(sha256_file(std::path::Path::new(saved)), sum);

    // Gone once its `complete` has returned.
    assert!(wxdl_testkit::wait_until(Duration::from_secs(10), || wx
        .running()
        == 0));
    let next = wx.call(
        "downloadFile",
        &json!({"url": nginx.url("/status/404")}).to_string(),
    );
    assert_eq!(next, 2);
    let events = until_complete(&rx, next);
    assert_eq!(
        events[events.len() - 2].2["statusCode"],
        404,
        "any status is a success"
    );
}

#[test]
fn bad_options_and_unknown_apis_fail_as_events_after_the_call_returns() {
    let dir = tempfile::tempdir().unwrap();
    let (wx, rx) = wx(dir.path());
    for (api, options, err_msg, errno) in [
        (
            "downloadFile",
            r#"{"url": 42}"#,
            "downloadFile:fail invalid url: parameter.url should be String instead of Number",
            600009,
        ),
        (
            "downloadFile",
            "{}",
            "downloadFile:fail url is null or nil",
            600005,
        ),
        (
            "downloadFile",
            "not json",
            "downloadFile:fail url is null or nil",
            600005,
        ),
        (
            "downloadFile",
            r#"{"url": "ftp://127.0.0.1/x"}"#,
            "downloadFile:fail invalid url",
            600009,
        ),
        (
            "openWindow",
            "{}",
            "openWindow:fail not supported by wxdl",
            1,
        ),
        (
            "request",
            r#"{"url": "http://127.0.0.1/", "method": "PATCH"}"#,
            "request:fail parameter error: parameter.method should be one of",
            600005,
        ),
        (
            "uploadFile",
            r#"{"url": "http://127.0.0.1/", "filePath": "wxfile://usr/a"}"#,
            "uploadFile:fail parameter error: parameter.name should be String instead of Undefined",
            600005,
        ),
    ] {
        let id = wx.call(api, options);
        let events = until_complete(&rx, id);
        assert_eq!(shape(&events), ["fail", "complete"], "{api} {options}");
        let fail = &events[0].2;
        assert!(
            fail["errMsg"].as_str().unwrap().starts_with(err_msg),
            "{api} {options}: {fail}"
        );
        assert_eq!(fail["errno"], errno, "{api} {options}");
        assert_eq!(events[1].2, *fail);
    }
}

#[test]
fn abort_fails_the_call_with_wechats_abort_and_completes_it() {
    let nginx = Nginx::start();
    write_random(&nginx.root.join("slow/big.bin"), 8 << 20);
    let dir = tempfile::tempdir().unwrap();
    let (wx, rx) = wx(dir.path());
    let id = wx.call(
        "downloadFile",
        &json!({"url": nginx.url("/slow/big.bin")}).to_string(),
    );
    // Aborted once the body flows.
    let first = rx.recv_timeout(Duration::from_secs(30)).unwrap();
    assert_eq!((first.0, first.1.as_str()), (id, "headersReceived"));
    assert!(wx.abort(id));
    let events = until_complete(&rx, id);
    let fail = &events[events.len() - 2];
    assert_eq!(fail.1, "fail");
    assert_eq!(
        fail.2,
        json!({"errMsg": "downloadFile:fail abort", "errno": 603105})
    );
    assert!(!wx.abort(id), "a completed call is not running");
    assert!(!wx.abort(999));
}

#[test]
fn after_settle_only_wanted_events_are_sent() {
    let nginx = Nginx::start();
    write_random(&nginx.root.join("b.bin"), 1 << 20);
    let dir = tempfile::tempdir().unwrap();
    // The sink settles each call when its headers arrive (before any body byte), as a JS face
    // does when the turn that started the task ends; call 2 wants progress, call 1 nothing.
    let me: Arc<OnceLock<Weak<Wx>>> = Arc::default();
    let (tx, rx) = channel();
    let tx = Mutex::new(tx);
    let config = ClientConfig::from_json(&json!({"root": dir.path()}));
    let sink_me = me.clone();
    let wx = Arc::new(
        Wx::new(&config, move |id, kind: &str, json: &str| {
            if kind == "headersReceived" {
                if let Some(wx) = sink_me.get().and_then(Weak::upgrade) {
                    if id == 2 {
                        wx.want(id, Wants::PROGRESS);
                    }
                    wx.settle(id);
                }
            }
            let v: Value = serde_json::from_str(json).unwrap();
            let _ = tx.lock().unwrap().send((id, kind.to_owned(), v));
        })
        .unwrap(),
    );
    me.set(Arc::downgrade(&wx)).unwrap();
    let options = json!({"url": nginx.url("/b.bin")}).to_string();
    let first = wx.call("downloadFile", &options);
    assert_eq!(
        shape(&until_complete(&rx, first)),
        ["headersReceived", "success", "complete"]
    );
    let second = wx.call("downloadFile", &options);
    assert_eq!(
        shape(&until_complete(&rx, second)),
        ["headersReceived", "progressUpdate", "success", "complete"]
    );
    assert_eq!(Wants::of_kind("chunkReceived"), Some(Wants::CHUNKS));
    assert!(Wants::ALL.contains(Wants::PROGRESS | Wants::HEADERS));
}

#[test]
fn close_aborts_what_runs_and_returns_when_every_call_has_completed() {
    let nginx = Nginx::start();
    write_random(&nginx.root.join("slow/c.bin"), 8 << 20);
    let dir = tempfile::tempdir().unwrap();
    let (wx, rx) = wx(dir.path());
    let options = json!({"url": nginx.url("/slow/c.bin")}).to_string();
    let ids: Vec<CallId> = (0..5).map(|_| wx.call("downloadFile", &options)).collect();
    assert_eq!(ids, [1, 2, 3, 4, 5]);
    wx.close();
    assert_eq!(wx.running(), 0);
    let events: Vec<Event> = rx.try_iter().collect();
    for id in ids {
        let mine: Vec<&Event> = events.iter().filter(|e| e.0 == id).collect();
        let last = mine.last().expect("events");
        assert_eq!(last.1, "complete", "call {id}: {mine:?}");
        assert_eq!(mine.iter().filter(|e| e.1 == "complete").count(), 1);
        assert_eq!(last.2["errMsg"], "downloadFile:fail abort");
    }
    // A call after close fails with abort, and completes.
    let late = wx.call("downloadFile", &options);
    let events = until_complete(&rx, late);
    assert_eq!(shape(&events), ["fail", "complete"]);
    assert_eq!(events[0].2["errMsg"], "downloadFile:fail abort");
    drop(wx);
    assert!(rx.try_recv().is_err(), "nothing after the Wx is gone");
}

/// `wx.request` and `wx.uploadFile` through the same entry against the echo server: WeChat's
/// order (headers, chunks or progress, success, complete), `data` by dataType, bytes as base64.
#[test]
fn request_and_upload_go_through_the_same_entry() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ca = wxdl_testkit::TestCa::new();
    let echo = rt.block_on(wxdl_testkit::Echo::start(&ca));
    let dir = tempfile::tempdir().unwrap();
    let (wx, rx) = wx(dir.path());

    let id = wx.call(
        "request",
        &json!({"url": echo.url("/r"), "method": "POST", "data": {"a": 1}}).to_string(),
    );
    let events = until_complete(&rx, id);
    assert_eq!(shape(&events), ["headersReceived", "success", "complete"]);
    let res = &events[1].2;
    assert_eq!(res["errMsg"], "request:ok");
    assert_eq!(res["data"]["body_text"], r#"{"a":1}"#);

    // An ArrayBuffer both ways, and chunks as they arrive.
    let id = wx.call(
        "request",
        &json!({"url": echo.url("/bytes/100000"), "method": "PUT", "data": {"base64": "AAEC"},
                "responseType": "arraybuffer", "enableChunked": true})
        .to_string(),
    );
    let events = until_complete(&rx, id);
    let chunks: Vec<&Value> = events
        .iter()
        .filter(|e| e.1 == "chunkReceived")
        .map(|e| &e.2)
        .collect();
    assert!(!chunks.is_empty(), "{events:?}");
    let decode = |v: &Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(v["base64"].as_str().unwrap())
            .unwrap()
    };
    let chunked: usize = chunks.iter().map(|c| decode(&c["data"]).len()).sum();
    assert_eq!(chunked, 100_000);
    let res = &events.iter().find(|e| e.1 == "success").unwrap().2;
    let body = decode(&res["data"]);
    assert_eq!(body.len(), 100_000);
    assert_eq!(body[300], (300 % 251) as u8);
    assert_eq!(shape(&events).last(), Some(&"complete"));

    // An upload from the sandbox: progress, then the body as text.
    let usr = wx.client().sandbox().usr_dir();
    std::fs::create_dir_all(usr).unwrap();
    std::fs::write(usr.join("p.bin"), vec![7u8; 300_000]).unwrap();
    let id = wx.call(
        "uploadFile",
        &json!({"url": echo.url("/u"), "filePath": "wxfile://usr/p.bin", "name": "f",
                "formData": {"k": "v"}})
        .to_string(),
    );
    let events = until_complete(&rx, id);
    assert_eq!(
        shape(&events),
        ["progressUpdate", "headersReceived", "success", "complete"],
        "{events:?}"
    );
    let last_progress = events.iter().rfind(|e| e.1 == "progressUpdate").unwrap();
    assert_eq!(last_progress.2["progress"], 100);
    assert!(last_progress.2["totalBytesSent"].as_u64().unwrap() > 300_000);
    let res = &events.iter().find(|e| e.1 == "success").unwrap().2;
    assert_eq!(res["errMsg"], "uploadFile:ok");
    let echoed: Value = serde_json::from_str(res["data"].as_str().unwrap()).unwrap();
    assert_eq!(echoed["parts"][1]["len"], 300_000);
    wx.close();
}

/// `RequestTask.onHeadersReceived` gets WeChat's `{header, statusCode, cookies}`: each
/// `Set-Cookie` as the server sent it, in order, where `header` joins them into one entry; a
/// download's event stays `{header, statusCode}`.
#[test]
fn a_requests_headers_event_carries_its_cookies() {
    let nginx = Nginx::builder()
        .location(
            r#"location = /cookies { add_header Set-Cookie "a=1"; add_header Set-Cookie "b=2; Path=/; HttpOnly"; return 200 "ok"; }"#,
        )
        .start();
    let dir = tempfile::tempdir().unwrap();
    let (wx, rx) = wx(dir.path());
    let id = wx.call(
        "request",
        &json!({"url": nginx.url("/cookies")}).to_string(),
    );
    let events = until_complete(&rx, id);
    let headers = &events.iter().find(|e| e.1 == "headersReceived").unwrap().2;
    assert_eq!(headers["statusCode"], 200);
    assert_eq!(headers["cookies"], json!(["a=1", "b=2; Path=/; HttpOnly"]));
    assert_eq!(
        headers["header"]["set-cookie"],
        "a=1, b=2; Path=/; HttpOnly"
    );
    let res = &events.iter().find(|e| e.1 == "success").unwrap().2;
    assert_eq!(res["cookies"], headers["cookies"]);

    let id = wx.call(
        "downloadFile",
        &json!({"url": nginx.url("/cookies")}).to_string(),
    );
    let events = until_complete(&rx, id);
    let headers = &events.iter().find(|e| e.1 == "headersReceived").unwrap().2;
    assert_eq!(headers["statusCode"], 200);
    assert!(headers.get("cookies").is_none(), "{headers}");
    wx.close();
}

/// With `concurrency: 1` and the given extra configuration, a slow download (nginx's /slow/,
/// 256 KiB/s: ~2 s for 512 KiB) then, once its headers have arrived (it holds its slot), a
/// request: which came first, the download's last body byte (its 100 % progress event) or the
/// request's response (its headers event).
fn first_of_body_end_and_request(extra: Value) -> &'static str {
    let nginx = Nginx::start();
    write_random(&nginx.root.join("slow/s.bin"), 512 * 1024);
    let dir = tempfile::tempdir().unwrap();
    let (tx, rx) = channel();
    let tx = Mutex::new(tx);
    let mut config = json!({"root": dir.path(), "concurrency": 1});
    config
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let wx = Wx::new(
        &ClientConfig::from_json(&config),
        move |id, kind: &str, json: &str| {
            let v: Value = serde_json::from_str(json).unwrap();
            let _ = tx.lock().unwrap().send((id, kind.to_owned(), v));
        },
    )
    .unwrap();
    let next = || rx.recv_timeout(Duration::from_secs(30)).unwrap();
    let download = wx.call(
        "downloadFile",
        &json!({"url": nginx.url("/slow/s.bin")}).to_string(),
    );
    while next().1 != kind::HEADERS_RECEIVED {}
    wx.call("request", &json!({"url": nginx.url("/conn")}).to_string());
    loop {
        let (id, kind, v) = next();
        if id == download && kind == kind::PROGRESS_UPDATE && v["progress"] == 100 {
            return "download body";
        }
        if id != download && kind == kind::HEADERS_RECEIVED {
            return "request";
        }
    }
}

/// `concurrencyScope`: per API by default (a request is not queued behind a download), one
/// pool for the three with `"shared"` (it waits for the download's slot); a bad value is a
/// configuration error that names the field.
#[test]
fn concurrency_scope_shares_one_pool_when_asked() {
    assert_eq!(first_of_body_end_and_request(json!({})), "request");
    assert_eq!(
        first_of_body_end_and_request(json!({"concurrencyScope": "shared"})),
        "download body"
    );
    let bad = ClientConfig::from_json(&json!({"concurrencyScope": "global"}));
    let err = bad.builder().map(|_| ()).unwrap_err();
    assert_eq!(err.field, "concurrencyScope");
    assert!(err.message.contains("\"shared\" or \"per-api\""), "{err}");
}
