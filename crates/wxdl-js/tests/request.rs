//! `wx.request` and `wx.uploadFile` in the JS host against the testkit's echo server: a Mini
//! Program's calls as written (callbacks, listeners), what went on the wire, and the
//! result objects the script sees (data by dataType/responseType, ArrayBuffers, chunks,
//! upload progress, WeChat's errMsg for bad options).

mod common;

use serde_json::Value;

#[test]
fn request_and_upload_as_mini_program_code_calls_them() {
    let p = common::EchoProject::new();
    std::fs::write(p.root.join("usr/photo.png"), vec![9u8; 150_000]).unwrap();
    let r: Value = p.run(
        6,
        r#"
// GET with an object: the query; the echo's JSON parsed (dataType json).
wx.request({
  url: `${base}/get`, data: { q: 'a b', n: 1 }, header: { 'X-N': 2 },
  success(res) { report.get = { status: res.statusCode, path: res.data.path, xn: res.data.headers['x-n'],
                                 ct: res.header['Content-Type'], cookies: res.cookies, profile: typeof res.profile }; },
  complete: done,
});
// POST JSON by default; an ArrayBuffer body; a form.
wx.request({ url: `${base}/post`, method: 'POST', data: { a: [1] },
  success: (res) => { report.post = res.data.body_text; }, complete: done });
wx.request({ url: `${base}/bin`, method: 'PUT', data: new Uint8Array([1, 2, 3]).buffer,
  success: (res) => { report.buffer = res.data.body_len; }, complete: done });
// arraybuffer back, chunks as they come.
const t = wx.request({ url: `${base}/bytes/100000`, responseType: 'arraybuffer', enableChunked: true,
  success: (res) => got(res) });
let chunked = 0;
t.onHeadersReceived((h) => { report.headers = h.statusCode; });
t.onChunkReceived((c) => { chunked += c.data.byteLength; });
function got(res) {
  report.bytes = { len: res.data.byteLength, at300: new Uint8Array(res.data)[300], chunked, isBuffer: res.data instanceof ArrayBuffer };
  done();
}
// A bad method: WeChat's words, after the call returned.
let returned = false;
wx.request({ url: `${base}/x`, method: 'PATCH', fail: (e) => { report.bad = { errMsg: e.errMsg, errno: e.errno, returned }; }, complete: done });
returned = true;
// An upload: fields then the file, progress, data as text.
const u = wx.uploadFile({
  url: `${base}/up`, filePath: `${wx.env.USER_DATA_PATH}/photo.png`, name: 'img', formData: { user: 42 },
  success(res) { const e = JSON.parse(res.data); report.upload = { errMsg: res.errMsg, type: typeof res.data,
    names: e.parts.map((p) => p.name), len: e.parts[1].len, ct: e.parts[1].content_type }; },
  fail: (e) => { report.upload = e; },
  complete: done,
});
let last = null;
u.onProgressUpdate((p) => { last = p; report.progress = { progress: p.progress, sent: p.totalBytesSent, total: p.totalBytesExpectedToSend }; });
report.kinds = [typeof t.onChunkReceived, typeof t.onProgressUpdate, typeof u.onProgressUpdate, typeof u.onChunkReceived];
"#,
    );
    assert_eq!(r["get"]["status"], 200, "{r}");
    assert_eq!(r["get"]["path"], "/get?q=a%20b&n=1");
    assert_eq!(r["get"]["xn"], "2");
    assert_eq!(r["get"]["ct"], "application/json");
    assert_eq!(r["get"]["cookies"], serde_json::json!([]));
    assert_eq!(r["get"]["profile"], "object");
    assert_eq!(r["post"], r#"{"a":[1]}"#);
    assert_eq!(r["buffer"], 3);
    assert_eq!(r["headers"], 200);
    assert_eq!(
        r["bytes"],
        serde_json::json!({"len": 100000, "at300": 300 % 251, "chunked": 100000, "isBuffer": true})
    );
    assert_eq!(r["bad"]["errno"], 600005);
    assert_eq!(r["bad"]["returned"], true);
    assert!(r["bad"]["errMsg"]
        .as_str()
        .unwrap()
        .starts_with("request:fail parameter error: parameter.method"));
    assert_eq!(r["upload"]["errMsg"], "uploadFile:ok", "{r}");
    assert_eq!(r["upload"]["type"], "string");
    assert_eq!(r["upload"]["names"], serde_json::json!(["user", "img"]));
    assert_eq!(r["upload"]["len"], 150_000);
    assert_eq!(r["upload"]["ct"], "image/png");
    assert_eq!(r["progress"]["progress"], 100);
    assert_eq!(r["progress"]["sent"], r["progress"]["total"]);
    assert_eq!(
        r["kinds"],
        serde_json::json!(["function", "undefined", "function", "undefined"])
    );
}

/// An option field that is `undefined` (or a function) crosses as no field at all, as
/// `JSON.stringify` carries it (46b1e3b): at the top level that is what `null` was (`url:
/// undefined` still fails with WeChat's `url is null or nil`, `header`/`data` undefined are
/// none), and inside `data`, `header` and `formData` an undefined value is left out where a
/// `null` one goes as `String(null)` (GET query, form) or JSON `null`.
#[test]
fn undefined_options_are_absent_and_null_ones_keep_their_meaning() {
    let p = common::EchoProject::new();
    std::fs::write(p.root.join("usr/f.txt"), b"x").unwrap();
    let r: Value = p.run(
        8,
        r#"
const f = () => 1;
wx.downloadFile({ url: undefined, fail: (e) => { report.dl = e.errMsg; }, complete: done });
wx.request({ url: undefined, fail: (e) => { report.rq = e.errMsg; }, complete: done });
wx.request({ url: `${base}/get`, data: { u: undefined, f, n: null, k: 1 }, header: { 'X-U': undefined, 'X-N': null, 'X-K': 'k' },
  success: (res) => { report.get = { path: res.data.path, xu: res.data.headers['x-u'] === undefined, xn: res.data.headers['x-n'] === undefined }; },
  complete: done });
wx.request({ url: `${base}/get2`, data: undefined, header: undefined, method: undefined, timeout: undefined, dataType: undefined,
  success: (res) => { report.get2 = { path: res.data.path, method: res.data.method, type: typeof res.data }; },
  fail: (e) => { report.get2 = e.errMsg; }, complete: done });
wx.request({ url: `${base}/post`, method: 'POST', data: { u: undefined, f, n: null },
  success: (res) => { report.post = res.data.body_text; }, complete: done });
wx.request({ url: `${base}/form`, method: 'POST', header: { 'content-type': 'application/x-www-form-urlencoded' },
  data: { u: undefined, n: null, k: 1 }, success: (res) => { report.form = res.data.body_text; }, complete: done });
wx.uploadFile({ url: `${base}/up`, filePath: `${wx.env.USER_DATA_PATH}/f.txt`, name: 'f', formData: { u: undefined, n: null, k: 1 },
  success: (res) => { report.up = JSON.parse(res.data).parts.map((p) => p.name); }, fail: (e) => { report.up = e.errMsg; }, complete: done });
wx.uploadFile({ url: `${base}/up`, filePath: `${wx.env.USER_DATA_PATH}/f.txt`, name: undefined,
  fail: (e) => { report.upName = e.errMsg; }, complete: done });
"#,
    );
    assert_eq!(r["dl"], "downloadFile:fail url is null or nil", "{r}");
    assert_eq!(r["rq"], "request:fail url is null or nil", "{r}");
    assert_eq!(r["get"]["path"], "/get?n=null&k=1", "{r}");
    assert_eq!(r["get"]["xu"], true, "{r}");
    assert_eq!(r["get"]["xn"], true, "{r}");
    assert_eq!(r["get2"]["path"], "/get2", "{r}");
    assert_eq!(r["get2"]["method"], "GET", "{r}");
    assert_eq!(r["get2"]["type"], "object", "{r}");
    assert_eq!(r["post"], r#"{"n":null}"#, "{r}");
    assert_eq!(r["form"], "n=null&k=1", "{r}");
    assert_eq!(r["up"], serde_json::json!(["k", "f"]), "{r}");
    assert_eq!(
        r["upName"],
        "uploadFile:fail parameter error: parameter.name should be String instead of Undefined",
        "{r}"
    );
}
