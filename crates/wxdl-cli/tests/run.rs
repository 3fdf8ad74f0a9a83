//! `wxdl run`: real Mini Program scripts on the JS host against a real nginx on loopback.

use std::path::Path;
use std::process::Output;

use wxdl_testkit::cli::{self, ok, stdout, write_all};
use wxdl_testkit::{write_random, Nginx};

/// Writes `files` (relative path, contents) into `dir`.
const BIN: &str = env!("CARGO_BIN_EXE_wxdl");

/// `wxdl run DIR/SCRIPT`, its state in `DIR/.wxdl-data`, to its end.
fn run(dir: &Path, script: &str, extra: &[&str]) -> Output {
    cli::bounded(cli::run(
        BIN,
        &dir.join(script),
        &dir.join(".wxdl-data"),
        extra,
    ))
}

/// One second of 8 kHz mono 16-bit PCM in a WAV container.
fn wav() -> Vec<u8> {
    let samples: Vec<i16> = (0..8000)
        .map(|i| ((i as f64 * 0.3).sin() * 8000.0) as i16)
        .collect();
    let data_len = (samples.len() * 2) as u32;
    let mut v = Vec::new();
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&(36 + data_len).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes()); // PCM
    v.extend_from_slice(&1u16.to_le_bytes()); // mono
    v.extend_from_slice(&8000u32.to_le_bytes());
    v.extend_from_slice(&16000u32.to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&16u16.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        v.extend_from_slice(&s.to_le_bytes());
    }
    v
}

/// About one second of MPEG-1 Layer III silence: 38 mono frames at 128 kbit/s, 44.1 kHz
/// (header FF FB 90 C4, zeroed side info and main data: every granule decodes to silence).
fn mp3() -> Vec<u8> {
    let mut v = Vec::new();
    for _ in 0..38 {
        let mut frame = vec![0u8; 417];
        frame[..4].copy_from_slice(&[0xFF, 0xFB, 0x90, 0xC4]);
        v.extend_from_slice(&frame);
    }
    v
}

#[test]
fn classic_sample_runs_unchanged_and_plays_wav_and_mp3() {
    let nginx = Nginx::builder()
        .location("location /audio/ { default_type audio/mpeg; }")
        .start();
    std::fs::create_dir_all(nginx.root.join("audio")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sample = format!(
        r#"wx.downloadFile({{
  url: 'http://127.0.0.1:{}/audio/123',
  success (res) {{
    if (res.statusCode === 200) {{
      wx.playVoice({{ filePath: res.tempFilePath }})
    }}
  }}
}})
"#,
        nginx.http_port
    );
    write_all(dir.path(), &[("sample.js", &sample)]);
    std::fs::write(nginx.root.join("audio/123"), wav()).unwrap();
    let out = ok(&run(dir.path(), "sample.js", &[]));
    assert!(
        out.contains("playVoice: wxfile://tmp_")
            && out.contains(".mp3 format=wav duration=1.000s sampleRate=8000 channels=1"),
        "{out}"
    );
    std::fs::write(nginx.root.join("audio/123"), mp3()).unwrap();
    let out = ok(&run(dir.path(), "sample.js", &[]));
    assert!(
        out.contains("format=mp3") && out.contains("sampleRate=44100"),
        "{out}"
    );
    let secs: f64 = out
        .split("duration=")
        .nth(1)
        .unwrap()
        .split('s')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((secs - 38.0 * 1152.0 / 44100.0).abs() < 0.05, "{out}");
}

#[test]
fn callbacks_events_files_and_reuse() {
    let nginx = Nginx::start();
    write_random(&nginx.root.join("f.bin"), 300_000);
    // Served at 256 KiB/s: an abort right after the start always lands before the end.
    write_random(&nginx.root.join("slow/big.bin"), 4 * 1024 * 1024);
    let dir = tempfile::tempdir().unwrap();
    let base = nginx.url("");
    // Port 1: nothing listens there, and no test server can take it.
    let refused = "http://127.0.0.1:1/x".to_string();
    let script = format!(
        r#"
const log = [];
const base = '{base}';
// Tasks with callbacks are plain DownloadTasks (no Promise style, as in WeChat): the script
// learns they all ended from their complete callbacks.
let pending = 8;
let allDone;
const done = new Promise((resolve) => {{ allDone = resolve; }});
function track(name, extra) {{
  return Object.assign({{
    success: (r) => log.push(name + ':success:' + r.statusCode),
    fail: (e) => log.push(name + ':fail:' + e.errMsg + ':' + e.errno),
    complete: () => {{ log.push(name + ':complete'); if (--pending === 0) allDone(); }},
  }}, extra);
}}
const progress = [];
let headers = null;
const t = wx.downloadFile(track('ok', {{ url: base + '/f.bin' }}));
t.onProgressUpdate((p) => progress.push(p));
t.onHeadersReceived((h) => {{ headers = h; }});
const a = wx.downloadFile(track('abort', {{ url: base + '/slow/big.bin' }}));
a.abort();
const tasks = [
  t,
  a,
  wx.downloadFile(track('404', {{ url: base + '/status/404' }})),
  wx.downloadFile(track('refused', {{ url: '{refused}' }})),
  wx.downloadFile(track('nourl', {{}})),
  wx.downloadFile(track('numurl', {{ url: 42 }})),
  wx.downloadFile(track('badheader', {{ url: base + '/f.bin', header: 'x' }})),
  wx.downloadFile(track('badvalue', {{ url: base + '/f.bin', header: {{ 'X-A': {{}} }} }})),
];
console.log('thenable', typeof t.then, typeof t.abort, tasks.length);
// `return task` from an async function and `resolve(task)` keep a callback task a task.
(async () => t)().then((kept) => console.log('kept', kept === t));
new Promise((resolve) => resolve(a)).then((kept) => console.log('resolved', kept === a));
done.then(async () => {{
  const bare = wx.downloadFile({{ url: base + '/hello.txt' }});
  console.log('bare', typeof bare.then, typeof bare.abort);
  await bare;
  const last = progress[progress.length - 1];
  console.log('progress', last.progress, last.totalBytesWritten, last.totalBytesExpectedToWrite, progress.length > 0);
  console.log('headers', headers.statusCode, headers.header['content-length'], headers.header['Content-Length']);
  const fs = wx.getFileSystemManager();
  const saved0 = await wx.downloadFile({{ url: base + '/f.bin' }});
  const h = saved0.header;
  console.log('caseless', h['Content-Length'], h['CONTENT-LENGTH'] === h['content-length'], 'Content-Type' in h,
    Object.prototype.hasOwnProperty.call(h, 'Content-Length'), Object.keys(h).includes('content-length'),
    JSON.parse(JSON.stringify(h))['content-length'], h['X-Missing']);
  const saved = await wx.downloadFile({{ url: base + '/f.bin', filePath: wx.env.USER_DATA_PATH + '/f.bin' }});
  console.log('filePath', saved.filePath, saved.tempFilePath === undefined);
  console.log('stat', fs.statSync(saved.filePath).size, fs.readFileSync(saved.filePath).byteLength);
  const again = await wx.downloadFile({{ url: base + '/hello.txt' }});
  console.log('reused', again.profile.socketReused, fs.readFileSync(again.tempFilePath, 'utf8').trim());
  console.log('profile', Object.keys(again.profile).length, JSON.parse(JSON.stringify(saved)).profile.protocol,
    Object.keys(saved).includes('profile'), typeof Object.getOwnPropertyDescriptor(again, 'profile').value);
  fs.readFile({{ filePath: wx.env.USER_DATA_PATH + '/nope', fail: (e) => console.log('fsfail', e.errMsg) }});
  log.sort().forEach((l) => console.log(l));
}});
"#
    );
    write_all(dir.path(), &[("s.js", &script)]);
    // The thenable task is wxdl's opt-in (`--promise`); without it see
    // `no_task_is_thenable_without_the_promise_opt_in`.
    let out = ok(&run(dir.path(), "s.js", &["--promise"]));
    let has = |s: &str| assert!(out.contains(s), "missing {s:?} in\n{out}");
    has("thenable undefined function 8");
    has("kept true");
    has("resolved true");
    has("bare function function");
    has("progress 100 300000 300000 true");
    has("headers 200 300000 300000");
    has("caseless 300000 true true true true 300000 undefined");
    has("filePath wxfile://usr/f.bin true");
    has("stat 300000 300000");
    has("reused true hello from nginx");
    has("profile 33 http1.1 true object");
    has("fsfail readFile:fail no such file or directory, open wxfile://usr/nope");
    for line in [
        "ok:success:200",
        "ok:complete",
        "404:success:404",
        "404:complete",
        "refused:fail:downloadFile:fail connect fail",
        "refused:complete",
        "abort:fail:downloadFile:fail abort:603105",
        "abort:complete",
        "nourl:fail:downloadFile:fail url is null or nil:600005",
        "numurl:fail:downloadFile:fail invalid url: parameter.url should be String instead of Number:600009",
        "badheader:fail:downloadFile:fail invalid header",
        "badvalue:fail:downloadFile:fail invalid header",
    ] {
        has(line);
    }
    // Each callback exactly once: one success-or-fail and one complete per call.
    for name in [
        "ok",
        "404",
        "refused",
        "abort",
        "nourl",
        "numurl",
        "badheader",
        "badvalue",
    ] {
        let n = out
            .lines()
            .filter(|l| l.starts_with(&format!("{name}:")))
            .count();
        assert_eq!(n, 2, "{name} callbacks in\n{out}");
    }
}

#[test]
fn twenty_five_downloads_queue_under_the_limit() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tokio::io::AsyncWriteExt;

    // A server that holds every response 200 ms and counts requests in flight.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (now, max) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (n2, m2) = (now.clone(), max.clone());
    let server = rt.block_on(wxdl_testkit::RawServer::start(move |mut s, _| {
        let (now, max) = (n2.clone(), m2.clone());
        async move {
            wxdl_testkit::raw::read_head(&mut s).await;
            let in_flight = now.fetch_add(1, Ordering::SeqCst) + 1;
            max.fetch_max(in_flight, Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            now.fetch_sub(1, Ordering::SeqCst);
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                .await;
        }
    }));
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        r#"
const urls = Array.from({{ length: 25 }}, (_, i) => '{}?n=' + i);
Promise.all(urls.map((url) => wx.downloadFile({{ url }}))).then((all) => {{
  console.log('done', all.length, all.every((r) => r.statusCode === 200 && r.dataLength === 2));
}});
"#,
        server.url("/q")
    );
    write_all(dir.path(), &[("q.js", &script)]);
    let out = ok(&run(dir.path(), "q.js", &["--promise"]));
    assert!(out.contains("done 25 true"), "{out}");
    assert_eq!(
        max.load(Ordering::SeqCst),
        10,
        "at most 10 in flight, and the limit was reached"
    );
    assert_eq!(server.accepted(), 25);
}

#[test]
fn npm_packages_commonjs_and_esm_load_unchanged() {
    let nginx = Nginx::start();
    let dir = tempfile::tempdir().unwrap();
    let url = nginx.url("/hello.txt");
    let main = format!(
        r#"import {{ hello }} from 'esmlib';
import mp, {{ fetchFile }} from 'mp-download';
import util from './util.js';
const r = await fetchFile('{url}');
console.log(hello('esm'), typeof mp.fetchFile, util.twice(2), r.statusCode);
"#
    );
    let cjs = format!(
        r#"const {{ fetchFile }} = require('mp-download');
const dep = require('left-pad-ish');
fetchFile('{url}').then((r) => console.log('cjs', r.statusCode, dep.pad('7', 3)));
"#
    );
    write_all(
        dir.path(),
        &[
            // A Mini Program project: its root holds the config and the packages.
            ("project.config.json", r#"{"appid": "touristappid"}"#),
            ("app/main.mjs", &main),
            ("app/cjs.js", &cjs),
            ("app/util.js", "module.exports = { twice: (x) => x * 2 };"),
            (
                "node_modules/esmlib/package.json",
                r#"{"name":"esmlib","main":"cjs.js","module":"esm.js"}"#,
            ),
            (
                "node_modules/esmlib/esm.js",
                "export const hello = (n) => `hello ${n}`;",
            ),
            (
                "node_modules/esmlib/cjs.js",
                "exports.hello = (n) => 'cjs ' + n;",
            ),
            // A transpiled TypeScript package built for Mini Programs, with a dependency.
            (
                "miniprogram_npm/mp-download/package.json",
                r#"{"name":"mp-download","miniprogram":"dist"}"#,
            ),
            (
                "miniprogram_npm/mp-download/dist/index.js",
                r#""use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.fetchFile = void 0;
if (!Promise.prototype.finally) { Promise.prototype.finally = function (f) { return this.then(f, f); }; }
var helper_1 = require("./helper");
function fetchFile(url) {
    return new Promise(function (resolve, reject) {
        wx.downloadFile({ url: url, success: resolve, fail: reject });
    }).finally(helper_1.noop);
}
exports.fetchFile = fetchFile;
"#,
            ),
            (
                "miniprogram_npm/mp-download/dist/helper.js",
                "exports.noop = function () {};",
            ),
            (
                "node_modules/left-pad-ish/index.js",
                "exports.pad = (s, n) => s.padStart(n, '0');",
            ),
        ],
    );
    let out = ok(&run(&dir.path().join("app"), "main.mjs", &[]));
    assert!(out.contains("hello esm function 4 200"), "{out}");
    let out = ok(&run(&dir.path().join("app"), "cjs.js", &[]));
    assert!(out.contains("cjs 200 007"), "{out}");
}

#[test]
fn app_json_timeout_exceptions_and_pages() {
    let nginx = Nginx::start();
    std::fs::create_dir_all(nginx.root.join("slow")).unwrap();
    write_random(&nginx.root.join("slow/big.bin"), 4 * 1024 * 1024);
    let dir = tempfile::tempdir().unwrap();
    let slow = nginx.url("/slow/big.bin");
    let timeout_js = format!(
        "wx.downloadFile({{ url: '{slow}', fail: (e) => console.log('fail', e.errMsg, e.errno) }});"
    );
    let throw_js = format!(
        r#"wx.downloadFile({{ url: '{url}', success(res) {{ res.nothing.here = 1; }},
  complete: () => console.log('complete still called') }});
let ticks = 0;
const t = setInterval(() => {{ ticks += 1; if (ticks === 1) throw new Error('tick'); if (ticks === 3) {{ clearInterval(t); console.log('timers still fire', ticks); }} }}, 10);
Promise.reject({{ errMsg: 'downloadFile:fail abort', errno: 603105 }});
"#,
        url = nginx.url("/hello.txt")
    );
    let page_js = format!(
        r#"Page({{
  data: {{ status: 'idle', items: [] }},
  onLoad() {{ this.setData({{ status: 'loading' }}); }},
  fetch() {{
    wx.downloadFile({{ url: '{}', success: (r) => this.setData({{ status: 'done', 'items[0]': r.statusCode }}) }});
  }},
}});
"#,
        nginx.url("/hello.txt")
    );
    write_all(
        dir.path(),
        &[
            ("app.json", r#"{"networkTimeout":{"downloadFile":300}}"#),
            ("pages/t.js", &timeout_js),
            ("x.js", &throw_js),
            ("page.js", &page_js),
        ],
    );
    let out = ok(&run(dir.path(), "pages/t.js", &[]));
    assert!(out.contains("fail downloadFile:fail timeout 5"), "{out}");

    // Errors keep the run going, as in WeChat: printed with their stack, `complete` still
    // called, timers still firing; the exit status at the end says it happened.
    let o = run(dir.path(), "x.js", &[]);
    assert_eq!(o.status.code(), Some(6));
    let err = String::from_utf8_lossy(&o.stderr);
    // The position is the script's own: line 1, the column of `res.nothing` on it (the module
    // wrapper shifts nothing).
    let column = throw_js
        .lines()
        .next()
        .unwrap()
        .find("res.nothing")
        .unwrap()
        + 1;
    assert!(
        err.contains("Uncaught TypeError")
            && err.contains("at success")
            && err.contains(&format!("x.js:1:{column})")),
        "column {column}: {err}"
    );
    assert!(err.contains("Uncaught Error: tick"), "{err}");
    assert!(
        err.contains(
            r#"Unhandled promise rejection: {"errMsg":"downloadFile:fail abort","errno":603105}"#
        ),
        "{err}"
    );
    assert!(
        err.contains("3 uncaught exceptions or unhandled rejections"),
        "{err}"
    );
    let out = stdout(&o);
    assert!(out.contains("complete still called"), "{out}");
    assert!(out.contains("timers still fire 3"), "{out}");
    let missing = run(dir.path(), "missing.js", &[]);
    assert_eq!(
        missing.status.code(),
        Some(2),
        "a missing script is a usage error"
    );

    let out = ok(&run(dir.path(), "page.js", &["--call", "fetch"]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            r#"{"setData":{"status":"loading"}}"#,
            r#"{"setData":{"status":"done","items[0]":200}}"#
        ]
    );

    // The lifecycle runs with no flag, in order, onLoad gets the query, and --call of a
    // lifecycle method does not run it twice.
    let lifecycle = r#"Page({
  onLoad(q) { console.log('onLoad', JSON.stringify(q)); },
  onShow() { console.log('onShow'); },
  onReady() { console.log('onReady'); },
});"#;
    write_all(dir.path(), &[("life.js", lifecycle)]);
    let out = ok(&run(dir.path(), "life.js", &[]));
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["onLoad {}", "onShow", "onReady"]
    );
    let out = ok(&run(
        dir.path(),
        "life.js",
        &["--query", "id=7&from=share&q=a%20b", "--call", "onLoad"],
    ));
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            r#"onLoad {"id":"7","from":"share","q":"a b"}"#,
            "onShow",
            "onReady"
        ]
    );
}

#[test]
fn referer_names_the_projects_appid_and_version() {
    let nginx = Nginx::start();
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        r#"wx.downloadFile({{
  url: '{}',
  success: (r) => console.log(wx.getFileSystemManager().readFileSync(r.tempFilePath, 'utf8').split('\n')[2]),
}});
"#,
        nginx.url("/echo")
    );
    write_all(
        dir.path(),
        &[
            ("project.config.json", r#"{"appid": "wx0123456789abcdef"}"#),
            ("pages/index/index.js", &script),
        ],
    );
    let out = ok(&run(dir.path(), "pages/index/index.js", &[]));
    assert!(
        out.contains(
            "referer=https://servicewechat.com/wx0123456789abcdef/devtools/page-frame.html"
        ),
        "{out}"
    );
    let out = ok(&run(
        dir.path(),
        "pages/index/index.js",
        &["--app-version", "0"],
    ));
    assert!(
        out.contains("/wx0123456789abcdef/0/page-frame.html"),
        "{out}"
    );
    let out = ok(&run(
        dir.path(),
        "pages/index/index.js",
        &["--appid", "wxother", "--app-version", "12"],
    ));
    assert!(out.contains("/wxother/12/page-frame.html"), "{out}");
}

#[test]
fn a_signal_aborts_the_scripts_downloads_and_its_callbacks_see_it() {
    let nginx = Nginx::start();
    std::fs::create_dir_all(nginx.root.join("slow")).unwrap();
    write_random(&nginx.root.join("slow/big.bin"), 4 * 1024 * 1024);
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        r#"wx.downloadFile({{
  url: '{}',
  filePath: wx.env.USER_DATA_PATH + '/big.bin',
  fail: (e) => console.log('fail', e.errMsg, e.errno),
}});
setInterval(() => {{}}, 50);
"#,
        nginx.url("/slow/big.bin")
    );
    write_all(dir.path(), &[("s.js", &script)]);
    let o = cli::interrupted(
        cli::run(
            BIN,
            &dir.path().join("s.js"),
            &dir.path().join(".wxdl-data"),
            &[],
        ),
        "TERM",
        std::time::Duration::from_millis(700),
    );
    assert_eq!(
        o.status.code(),
        Some(143),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        stdout(&o).contains("fail downloadFile:fail abort 603105"),
        "{}",
        stdout(&o)
    );
    let usr = dir.path().join(".wxdl-data/sandbox/usr");
    let left: Vec<_> = std::fs::read_dir(&usr)
        .map(|d| d.collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_hostile_script_reads_and_runs_nothing_outside_the_project_or_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    let outside = dir.path().join("outside");
    write_all(
        dir.path(),
        &[
            ("outside/secret.js", "module.exports = 'SECRET-CONTENT';"),
            ("outside/secret.txt", "TOPSECRET"),
            ("project/project.config.json", r#"{"appid": "wxhostile"}"#),
            (
                "project/node_modules/evil/package.json",
                r#"{"name": "evil", "main": "../../../outside/secret.js"}"#,
            ),
        ],
    );
    std::os::unix::fs::symlink(outside.join("secret.js"), project.join("link.js")).unwrap();
    // The sandbox the run will use, with links and a FIFO planted in usr.
    let usr = project.join(".wxdl-data/sandbox/usr");
    std::fs::create_dir_all(&usr).unwrap();
    std::os::unix::fs::symlink(outside.join("secret.txt"), usr.join("out.txt")).unwrap();
    std::os::unix::fs::symlink(&outside, usr.join("outdir")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", usr.join("zero")).unwrap();
    cli::mkfifo(&usr.join("fifo"));
    let abs = outside.join("secret.js");
    let script = format!(
        r#"const tries = {{
  absolute: () => require('{abs}'),
  parent: () => require('../outside/secret.js'),
  symlink: () => require('./link.js'),
  package: () => require('evil'),
  natives: () => __native.readText('{abs}'),
  loader: () => __wxdl_load('{abs}'),
}};
for (const [name, f] of Object.entries(tries)) {{
  try {{ console.log(name, 'LOADED', f()); }} catch (e) {{ console.log(name, 'refused', String(e.message || e)); }}
}}
const fs = wx.getFileSystemManager();
const usr = wx.env.USER_DATA_PATH;
const reads = {{
  readLink: () => fs.readFileSync(usr + '/out.txt', 'utf8'),
  statLink: () => fs.statSync(usr + '/out.txt').size,
  readdirLink: () => fs.readdirSync(usr + '/outdir'),
  accessLink: () => fs.accessSync(usr + '/out.txt'),
  fifo: () => fs.readFileSync(usr + '/fifo'),
  zero: () => fs.readFileSync(usr + '/zero'),
  writeLink: () => fs.writeFileSync(usr + '/out.txt', 'overwritten', 'utf8'),
}};
for (const [name, f] of Object.entries(reads)) {{
  try {{ console.log(name, 'READ', JSON.stringify(f())); }} catch (e) {{ console.log(name, 'refused', String(e.message || e)); }}
}}
import('{abs}').then(() => console.log('import LOADED'), (e) => console.log('import refused', String(e.message || e)));
"#,
        abs = abs.display()
    );
    write_all(&project, &[("index.js", &script)]);
    let o = cli::bounded(cli::run(
        BIN,
        &project.join("index.js"),
        &project.join(".wxdl-data"),
        &[],
    ));
    let out = format!("{}{}", stdout(&o), String::from_utf8_lossy(&o.stderr));
    for secret in ["SECRET-CONTENT", "TOPSECRET", "LOADED", "READ"] {
        assert!(!out.contains(secret), "{secret} leaked:\n{out}");
    }
    for name in [
        "absolute",
        "parent",
        "symlink",
        "package",
        "natives",
        "loader",
        "readLink",
        "statLink",
        "readdirLink",
        "accessLink",
        "fifo",
        "zero",
        "writeLink",
        "import",
    ] {
        assert!(out.contains(&format!("{name} refused")), "{name}:\n{out}");
    }
    assert!(
        out.contains("Cannot find module '../outside/secret.js' in the project"),
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(outside.join("secret.txt")).unwrap(),
        "TOPSECRET"
    );
}

#[test]
fn the_background_rule_interrupts_at_five_seconds_not_before() {
    let nginx = Nginx::start();
    std::fs::create_dir_all(nginx.root.join("slow")).unwrap();
    // 4 MiB at 256 KiB/s: still running 5 s after the app goes to the background.
    write_random(&nginx.root.join("slow/big.bin"), 4 * 1024 * 1024);
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        r#"let hiddenAt = 0;
wx.onAppHide(() => {{ hiddenAt = Date.now(); console.log('onAppHide'); }});
wx.onAppShow(() => console.log('onAppShow'));
wx.downloadFile({{
  url: '{slow}',
  fail: (e) => console.log('slow', e.errMsg, e.errno, Date.now() - hiddenAt >= 4900, Date.now() - hiddenAt < 8000),
  complete: () => wxdl.show(),
}});
setTimeout(() => {{
  wxdl.hide();
  wx.downloadFile({{ url: '{quick}', fail: (e) => console.log('started hidden', e.errMsg, e.errno) }});
}}, 200);
"#,
        slow = nginx.url("/slow/big.bin"),
        quick = nginx.url("/hello.txt")
    );
    write_all(dir.path(), &[("bg.js", &script)]);
    let out = ok(&run(dir.path(), "bg.js", &[]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "onAppHide",
            "started hidden downloadFile:fail interrupted 600003",
            "slow downloadFile:fail interrupted 600003 true true",
            "onAppShow",
        ],
        "{out}"
    );
    // The same from the command line: --hide-at, and --show-at before 5 s keeps it alive.
    let script = format!(
        "wx.downloadFile({{ url: '{}', success: (r) => console.log('kept', r.statusCode) }});",
        nginx.url("/slow/f.bin")
    );
    write_random(&nginx.root.join("slow/f.bin"), 300 * 1024);
    write_all(dir.path(), &[("kept.js", &script)]);
    let out = ok(&run(
        dir.path(),
        "kept.js",
        &["--hide-at", "100", "--show-at", "600"],
    ));
    assert!(out.contains("kept 200"), "{out}");
}

#[test]
fn the_neighbours_page_code_calls_around_a_download() {
    let nginx = Nginx::start();
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        r#"wx.showLoading({{ title: 'Downloading' }});
wx.downloadFile({{
  url: '{url}',
  success: async (res) => {{
    wx.hideLoading();
    wx.showToast({{ title: 'Saved', icon: 'success' }});
    const modal = await wx.showModal({{ title: 'Open?', content: res.tempFilePath }});
    console.log('modal', modal.errMsg, modal.confirm, modal.cancel);
    wx.setStorageSync('last', {{ path: res.tempFilePath, status: res.statusCode }});
    wx.setStorage({{ key: 'count', data: (wx.getStorageSync('count') || 0) + 1,
      success: () => {{
        console.log('count', wx.getStorageSync('count'));
        console.log('missing', JSON.stringify(wx.getStorageSync('nope')));
        wx.getStorage({{ key: 'nope', fail: (e) => console.log('get', e.errMsg) }});
        const info = wx.getStorageInfoSync();
        console.log('info', info.keys.join(','), info.limitSize);
        try {{ wx.setStorageSync('big', 'x'.repeat(1024 * 1024)); }} catch (e) {{ console.log('big', e.message); }}
        console.log('tmp', res.tempFilePath);
        try {{ wx.navigateToMiniProgram({{}}); }} catch (e) {{ console.log('nope', e.name); }}
        console.log('absent', typeof wx.navigateToMiniProgram, wx.canIUse('navigateToMiniProgram'),
          wx.canIUse('downloadFile'), wx.canIUse('getStorageSync'), wx.canIUse('toString'));
        const own = Object.keys(wx);
        console.log('own', ['downloadFile', 'getFileSystemManager', 'setStorageSync', 'canIUse', 'showToast']
          .every((k) => own.includes(k)), own.includes('navigateToMiniProgram'));
      }} }});
  }},
}});
"#,
        url = nginx.url("/hello.txt")
    );
    write_all(dir.path(), &[("n.js", &script)]);
    let o = run(dir.path(), "n.js", &[]);
    let out = ok(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    for line in [
        r#"{"showLoading":{"title":"Downloading"}}"#,
        r#"{"hideLoading":{}}"#,
        r#"{"showToast":{"title":"Saved","icon":"success","duration":1500}}"#,
        r#"{"showModal":{"title":"Open?","content":"wxfile://tmp_"#,
    ] {
        assert!(err.contains(line), "{line} missing in\n{err}");
    }
    for line in [
        "modal showModal:ok true false",
        "count 1",
        r#"missing """#,
        "get getStorage:fail data not found",
        "info count,last 10240",
        "big setStorageSync:fail exceed storage item max length",
        "nope TypeError",
        "absent undefined false true true false",
        "own true false",
    ] {
        assert!(out.contains(line), "{line} missing in\n{out}");
    }
    // Storage persists per appid between runs; the run's temp file is gone after it.
    let again = ok(&run(dir.path(), "n.js", &[]));
    assert!(again.contains("count 2"), "{again}");
    let tmp_dir = dir.path().join(".wxdl-data/sandbox/tmp");
    assert_eq!(std::fs::read_dir(&tmp_dir).unwrap().count(), 0);
    let kept = ok(&run(dir.path(), "n.js", &["--keep-tmp"]));
    assert!(kept.contains("count 3"), "{kept}");
    assert_eq!(std::fs::read_dir(&tmp_dir).unwrap().count(), 1);
}

/// Every failure row a script can meet, from a real failure of that kind, through the JS host:
/// the errMsg (exact for abort and timeout) and WeChat's errno.
#[test]
fn every_reachable_failure_row_reaches_a_script_with_wechats_errno() {
    let ca = wxdl_testkit::TestCa::new();
    let nginx = Nginx::builder()
        .tls(&ca)
        .location("location = /drop { return 444; }")
        .start();
    std::fs::create_dir_all(nginx.root.join("slow")).unwrap();
    write_random(&nginx.root.join("slow/big.bin"), 4 * 1024 * 1024);
    wxdl_testkit::write_sparse(&nginx.root.join("huge.bin"), 200 * 1024 * 1024 + 1);
    let dir = tempfile::tempdir().unwrap();
    let base = nginx.url("");
    let https = nginx.https_url("localhost", "/hello.txt");
    let script = format!(
        r#"const base = '{base}';
const cases = {{
  urlNull: {{}},
  invalidUrl: {{ url: 'ftp://127.0.0.1/x' }},
  invalidHeader: {{ url: base + '/hello.txt', header: 'x' }},
  timeout: {{ url: base + '/slow/big.bin', timeout: 300 }},
  stringTimeout: {{ url: base + '/slow/big.bin', timeout: '300' }},
  exceedMaxFileSize: {{ url: base + '/huge.bin' }},
  dns: {{ url: 'http://nowhere.test/x' }},
  connect: {{ url: 'http://127.0.0.1:1/x' }},
  ssl: {{ url: '{https}' }},
  interrupted: {{ url: base + '/drop' }},
  redirects: {{ url: base + '/loop' }},
  permission: {{ url: base + '/hello.txt', filePath: 'wxfile://usr/../escape' }},
  noSuchDir: {{ url: base + '/hello.txt', filePath: wx.env.USER_DATA_PATH + '/missing/f' }},
  directory: {{ url: base + '/hello.txt', filePath: wx.env.USER_DATA_PATH + '/adir' }},
  integrity: {{ url: base + '/hello.txt', integrity: '0'.repeat(64) }},
  storage: {{ url: base + '/hello.txt', filePath: wx.env.USER_DATA_PATH + '/more.txt' }},
}};
wx.getFileSystemManager().mkdirSync(wx.env.USER_DATA_PATH + '/adir');
for (const [name, opts] of Object.entries(cases)) {{
  wx.downloadFile({{ ...opts, fail: (e) => console.log(name, e.errno, e.errMsg) }});
}}
const t = wx.downloadFile({{ url: base + '/slow/big.bin', fail: (e) => console.log('abort', e.errno, e.errMsg) }});
t.abort();
"#
    );
    write_all(dir.path(), &[("rows.js", &script)]);
    // The usr quota is full already: a sparse 200 MiB file counts at its size.
    let usr = dir.path().join(".wxdl-data/sandbox/usr");
    wxdl_testkit::write_sparse(&usr.join("full.bin"), 200 * 1024 * 1024);
    let out = ok(&run(
        dir.path(),
        "rows.js",
        &["--resolve", "nowhere.test:80:"],
    ));
    let has = |line: &str| assert!(out.contains(line), "{line:?} missing in\n{out}");
    has("urlNull 600005 downloadFile:fail url is null or nil");
    has("invalidUrl 600009 downloadFile:fail invalid url");
    has("invalidHeader 600005 downloadFile:fail invalid header");
    has("timeout 5 downloadFile:fail timeout\n");
    // A numeric string counts as its number, as WeChat's client parses it.
    has("stringTimeout 5 downloadFile:fail timeout\n");
    has("abort 603105 downloadFile:fail abort\n");
    has("exceedMaxFileSize 603301 downloadFile:fail exceed max file size");
    has("dns 600001 downloadFile:fail dns resolve fail");
    has("connect 600001 downloadFile:fail connect fail");
    has("ssl 600001 downloadFile:fail ssl handshake fail");
    has("interrupted 600001 downloadFile:fail network interrupted");
    has("redirects 600008 downloadFile:fail too many redirects");
    has("permission 603303 downloadFile:fail permission denied");
    has("noSuchDir 1300002 downloadFile:fail no such file or directory");
    has("directory 1301003 downloadFile:fail illegal operation on a directory");
    has("integrity 603901 downloadFile:fail integrity check fail");
    has("storage 1300202 downloadFile:fail the maximum size of the file storage limit is exceeded");

    // With room again: a name longer than the filesystem takes (255 bytes) fails the write
    // itself.
    std::fs::remove_file(usr.join("full.bin")).unwrap();
    let write = format!(
        "wx.downloadFile({{ url: '{base}/hello.txt', filePath: wx.env.USER_DATA_PATH + '/' + 'n'.repeat(256),\n  fail: (e) => console.log('writeFail', e.errno, e.errMsg) }});"
    );
    write_all(dir.path(), &[("write.js", &write)]);
    let out = ok(&run(dir.path(), "write.js", &[]));
    assert!(
        out.contains("writeFail 603300 downloadFile:fail write file fail"),
        "{out}"
    );

    // The strict policy (a domain list) refuses the rest.
    let strict = r#"wx.downloadFile({ url: 'http://127.0.0.1:1/x', fail: (e) => console.log('domain', e.errno, e.errMsg) });
wx.downloadFile({ url: 'http://10.255.255.1:1/x', timeout: 500,
  fail: (e) => console.log('lan', e.errno, e.errMsg), complete: () => console.log('lan done') });"#;
    write_all(dir.path(), &[("strict.js", strict)]);
    let out = ok(&run(
        dir.path(),
        "strict.js",
        &["--domain", "cdn.example.com"],
    ));
    assert!(
        out.contains("domain 600002 downloadFile:fail url not in domain list"),
        "{out}"
    );
    // A LAN address needs no domain list entry: the policy lets it through (whatever then
    // happens on the way to it, it is not a domain list refusal).
    assert!(
        out.contains("lan done") && !out.contains("lan 600002"),
        "{out}"
    );
}

#[test]
fn saved_files_and_documents() {
    let nginx = Nginx::builder()
        .location("location = /report.pdf { types { } default_type application/pdf; }")
        .start();
    write_random(&nginx.root.join("report.pdf"), 2000);
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        r#"wx.downloadFile({{
  url: '{pdf}',
  success: async (res) => {{
    const saved = await wx.saveFile({{ tempFilePath: res.tempFilePath }});
    console.log('saved', saved.savedFilePath.startsWith('wxfile://store_'), saved.savedFilePath.endsWith('.pdf'));
    const list = await wx.getSavedFileList();
    console.log('list', list.fileList.length, list.fileList[0].size);
    const info = await wx.getSavedFileInfo({{ filePath: saved.savedFilePath }});
    console.log('info', info.size, info.createTime > 0);
    await wx.openDocument({{ filePath: saved.savedFilePath }});
    wx.openDocument({{ filePath: saved.savedFilePath, fileType: 'exe', fail: (e) => console.log('type', e.errMsg) }});
    await wx.removeSavedFile({{ filePath: saved.savedFilePath }});
    wx.getSavedFileInfo({{ filePath: saved.savedFilePath, fail: (e) => console.log('gone', e.errMsg) }});
  }},
}});
"#,
        pdf = nginx.url("/report.pdf")
    );
    write_all(dir.path(), &[("s.js", &script)]);
    let o = run(dir.path(), "s.js", &[]);
    let out = ok(&o);
    for line in [
        "saved true true",
        "list 1 2000",
        "info 2000 true",
        "type openDocument:fail filetype not supported",
        "gone getSavedFileInfo:fail file not exist",
    ] {
        assert!(out.contains(line), "{line} missing in\n{out}");
    }
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(r#"{"openDocument":{"filePath":"wxfile://store_"#),
        "{err}"
    );
}

#[test]
fn temp_files_of_a_killed_run_are_removed_by_the_next() {
    let nginx = Nginx::start();
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "wx.downloadFile({{ url: '{}', success: (r) => console.log('got', r.tempFilePath) }});\nsetInterval(() => {{}}, 50);\n",
        nginx.url("/hello.txt")
    );
    write_all(
        dir.path(),
        &[("forever.js", &script), ("next.js", "console.log('next');")],
    );
    // SIGKILL: no chance to clean up; its temp file stays behind for now.
    let o = cli::interrupted(
        cli::run(
            BIN,
            &dir.path().join("forever.js"),
            &dir.path().join(".wxdl-data"),
            &[],
        ),
        "KILL",
        std::time::Duration::from_millis(700),
    );
    assert!(stdout(&o).contains("got wxfile://tmp_"), "{}", stdout(&o));
    let tmp = dir.path().join(".wxdl-data/sandbox/tmp");
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 1);
    // The next run over that sandbox removes it.
    ok(&run(dir.path(), "next.js", &[]));
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
}

/// `resume: true` in a script: an aborted download's bytes are kept and the next download of
/// the same URL to the same file continues them (`resumedFrom` in the result).
#[test]
fn a_script_resumes_an_aborted_download() {
    let nginx = Nginx::start();
    let sha = write_random(&nginx.root.join("r.bin"), 1_500_000);
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        r#"const url = '{}';
const filePath = wx.env.USER_DATA_PATH + '/r.bin';
const first = wx.downloadFile({{ url, filePath, resume: true, rateLimit: 300000,
  fail: (e) => {{
    console.log('first', e.errMsg);
    wx.downloadFile({{ url, filePath, resume: true,
      success: (r) => console.log('second', r.statusCode, r.dataLength, r.resumedFrom > 100000) }});
  }} }});
first.onProgressUpdate((p) => {{ if (p.totalBytesWritten > 150000) first.abort(); }});
"#,
        nginx.url("/r.bin")
    );
    write_all(dir.path(), &[("resume.js", &script)]);
    let out = ok(&run(dir.path(), "resume.js", &[]));
    assert!(out.contains("first downloadFile:fail abort"), "{out}");
    assert!(out.contains("second 200 1500000 true"), "{out}");
    let saved = dir.path().join(".wxdl-data/sandbox/usr/r.bin");
    assert_eq!(wxdl_testkit::sha256_file(&saved), sha);
}

/// An emulated network in a script: `wx.getNetworkType` says what it is, and
/// `wx.onNetworkStatusChange` fires as the timeline changes it.
#[test]
fn a_script_sees_the_emulated_network_change() {
    let dir = tempfile::tempdir().unwrap();
    let script = r#"wx.getNetworkType({ success: (r) => console.log('type', r.networkType) });
wx.onNetworkStatusChange((r) => console.log('change', r.isConnected, r.networkType));
"#;
    write_all(dir.path(), &[("net.js", script)]);
    let out = ok(&run(
        dir.path(),
        "net.js",
        &["--network-timeline", "wifi:300ms,offline:300ms,3g"],
    ));
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["type wifi", "change false none", "change true 3g"],
        "{out}"
    );
}

/// Every `wxdl run` line of the README runs offline, as shipped (its --serve gives the data),
/// on any port: each runs on another free port (and on 0, a port the OS picks), the examples
/// reading the origin as `wxdl.serveOrigin`.
#[test]
fn the_readmes_examples_run_as_shipped() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(repo.join("README.md")).unwrap();
    let lines: Vec<&str> = readme
        .lines()
        .filter(|l| {
            l.starts_with("wxdl run --serve") || l.starts_with("wxdl run --promise --serve")
        })
        .collect();
    assert_eq!(lines.len(), 4, "the README's example lines");
    let data = tempfile::tempdir().unwrap();
    let runs = lines.iter().enumerate().map(|(n, line)| {
        let port = match n % 2 {
            0 => wxdl_testkit::free_port().to_string(),
            _ => "0".to_owned(),
        };
        line.replace("examples/static:8000", &format!("examples/static:{port}"))
    });
    for line in runs {
        assert!(!line.contains(":8000"), "{line}");
        let command = line.split('#').next().unwrap().trim();
        let args: Vec<&str> = command.split_whitespace().skip(1).collect();
        let mut cmd = std::process::Command::new(BIN);
        cmd.args(&args)
            .arg("--data-dir")
            .arg(data.path())
            .current_dir(&repo);
        let out = ok(&cli::bounded(cmd));
        let expect = match args.iter().find(|a| a.ends_with(".js")).copied() {
            Some("examples/download.js") => "playVoice: wxfile://tmp_",
            Some("examples/promise.js") => "200 wxfile://usr/index.html",
            Some("examples/page.js") => r#"{"setData":{"status":"done","size":"#,
            Some("examples/resume.js") => "saved wxfile://usr/voice.wav",
            other => panic!("an example without an expectation: {other:?}"),
        };
        assert!(out.contains(expect), "{command}:\n{out}");
    }
}

/// WeChat's network APIs have no Promise style: `await wx.downloadFile({url})` yields the task
/// on a phone, and by default here too, so code that breaks there breaks here (issue 27 §8).
#[test]
fn no_task_is_thenable_without_the_promise_opt_in() {
    let dir = tempfile::tempdir().unwrap();
    let script = r#"
const d = wx.downloadFile({ url: 'http://127.0.0.1:9/x', fail() {} });
const bare = [wx.downloadFile({ url: 'http://127.0.0.1:9/x' }), wx.request({ url: 'http://127.0.0.1:9/x' }),
  wx.uploadFile({ url: 'http://127.0.0.1:9/x', filePath: 'wxfile://usr/none', name: 'f' })];
(async () => {
  let got;
  try { got = await bare[0]; } catch (e) { got = e; }
  console.log('plain', typeof d.then, bare.map((t) => typeof t.then).join(','), got === bare[0], got.constructor.name);
})();
"#;
    write_all(dir.path(), &[("p.js", script)]);
    let out = ok(&run(dir.path(), "p.js", &[]));
    assert!(
        out.contains("plain undefined undefined,undefined,undefined true DownloadTask"),
        "{out}"
    );
    let out = ok(&run(dir.path(), "p.js", &["--promise"]));
    assert!(
        out.contains("plain undefined function,function,function false"),
        "{out}"
    );
}

#[test]
fn header_values_go_as_wechats_devtools_send_them() {
    // A number or boolean goes as its string, null and undefined not at all (issue 27 §5);
    // an object still fails the call with WeChat's words.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(wxdl_testkit::RawServer::echo_head());
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        r#"const header = {{ 'X-N': 5, 'X-F': 1.5, 'X-T': true, 'X-Off': false, 'X-S': 's',
  'X-Null': null, 'X-Undef': undefined }};
wx.downloadFile({{
  url: '{url}', header,
  success: (r) => console.log(wx.getFileSystemManager().readFileSync(r.tempFilePath, 'utf8').toLowerCase()),
  fail: (e) => console.log('fail', e.errMsg),
  complete: () => wx.downloadFile({{
    url: '{url}', header: {{ 'X-O': {{}} }},
    fail: (e) => console.log('object', e.errno, e.errMsg),
  }}),
}});
"#,
        url = server.url("/h")
    );
    write_all(dir.path(), &[("h.js", &script)]);
    let out = ok(&run(dir.path(), "h.js", &[]));
    let lines: Vec<&str> = out.lines().map(str::trim_end).collect();
    for sent in ["x-n: 5", "x-f: 1.5", "x-t: true", "x-off: false", "x-s: s"] {
        assert!(lines.contains(&sent), "{sent:?} in {out}");
    }
    assert!(!out.contains("x-null") && !out.contains("x-undef"), "{out}");
    assert!(!lines.iter().any(|l| l.starts_with("fail ")), "{out}");
    assert!(
        out.contains(
            "object 600005 downloadFile:fail invalid header: value of X-O should be String instead of Object"
        ),
        "{out}"
    );
    assert_eq!(
        server.accepted(),
        1,
        "the object's call fails before any I/O"
    );
}

/// WeChat's own `miniprogram-api-promise` 1.0.4, unmodified (untranspiled ES modules, imports
/// without extensions, `Object.keys(wx)`): `examples/api-promise`'s page promisifies every wx
/// API and awaits a request, a download, the network type and a refused request through it
/// (issue 26). The package comes from the example's lockfile (`npm ci`); without npm the test
/// says so and skips. Node runs the same module under Jest (wxdl-testkit's node tests).
#[test]
fn miniprogram_api_promise_runs_unmodified() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/api-promise");
    if !cli::npm_ci(&example) {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let mut cmd = cli::run(
        BIN,
        &example.join("pages/index/index.js"),
        data.path(),
        &["--serve", "static:0"],
    );
    cmd.current_dir(&example);
    let out = ok(&cli::bounded(cmd));
    let report: serde_json::Value = serde_json::from_str(out.trim()).expect(&out);
    assert_eq!(report["promisified"], true, "{report}");
    assert_eq!(
        report["request"],
        serde_json::json!({"statusCode": 200, "errMsg": "request:ok", "data": {"hello": "api-promise"}})
    );
    assert_eq!(report["download"]["errMsg"], "downloadFile:ok", "{report}");
    assert_eq!(report["download"]["temp"], true, "{report}");
    assert_eq!(report["download"]["text"], "{\"hello\":\"api-promise\"}\n");
    assert_eq!(report["network"], "getNetworkType:ok");
    let refused = &report["refused"];
    assert!(
        refused["errMsg"]
            .as_str()
            .is_some_and(|m| m.starts_with("request:fail connect fail")),
        "{report}"
    );
    assert_eq!(refused["errno"], 600001, "{report}");
}

#[test]
fn calling_an_api_wxdl_lacks_is_a_type_error_that_names_it() {
    // As in WeChat, an API the platform lacks is absent: a guard skips it, a call is the usual
    // TypeError; the report names the API (QuickJS's own words are only "not a function"),
    // thrown or rejected, and not an unrelated error after a guard in a later turn.
    let dir = tempfile::tempdir().unwrap();
    write_all(
        dir.path(),
        &[(
            "absent.js",
            "if (wx.chooseVideo) wx.chooseVideo({});\n\
             setTimeout(() => { const f = undefined; f(); }, 1);\n\
             setTimeout(async () => { await null; wx.scanCode({}); }, 2);\n\
             wx.chooseImage({ count: 1 });\n",
        )],
    );
    let o = run(dir.path(), "absent.js", &[]);
    assert_eq!(o.status.code(), Some(6));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "Uncaught TypeError: not a function (wx.chooseImage is not provided by wxdl (headless))\n"
        ) && err.contains("absent.js:4:"),
        "{err}"
    );
    assert!(
        err.contains("Unhandled promise rejection: TypeError: not a function (wx.scanCode is not provided by wxdl (headless))"),
        "{err}"
    );
    assert!(
        err.contains("Uncaught TypeError: not a function\n"),
        "{err}"
    );
    assert!(!err.contains("chooseVideo"), "{err}");
    assert!(err.contains("3 uncaught exceptions"), "{err}");
}

#[test]
fn concurrency_scope_shared_makes_a_request_wait_for_a_download_slot() {
    let nginx = Nginx::start();
    std::fs::create_dir_all(nginx.root.join("slow")).unwrap();
    // nginx sends the first 256 KiB at once, the rest at 256 KiB/s: each of the ten downloads
    // holds its slot for about a second.
    write_random(&nginx.root.join("slow/part.bin"), 512 * 1024);
    let dir = tempfile::tempdir().unwrap();
    // Once all ten downloads are answered (they hold their slots), a request starts; when its
    // answer arrives the script prints how many downloads had their whole body by then. A slot
    // is handed on when a body is complete, which a download's 100 % progress event says
    // before the request can have been let in.
    let script = format!(
        r#"let answered = 0;
let whole = 0;
for (let i = 0; i < 10; i++) {{
  const task = wx.downloadFile({{ url: '{slow}' }});
  let counted = false;
  task.onProgressUpdate((p) => {{ if (p.progress === 100 && !counted) {{ counted = true; whole++; }} }});
  task.onHeadersReceived(() => {{
    if (++answered === 10) {{
      const r = wx.request({{ url: '{quick}' }});
      r.onHeadersReceived(() => console.log(whole));
    }}
  }});
}}
"#,
        slow = nginx.url("/slow/part.bin"),
        quick = nginx.url("/hello.txt")
    );
    write_all(dir.path(), &[("scope.js", &script)]);
    // Per API (the default): the request has slots of its own and is answered at once.
    let out = ok(&run(dir.path(), "scope.js", &[]));
    assert_eq!(out.trim(), "0", "{out}");
    // Shared: the eleventh call waits until a download's body is whole.
    let out = ok(&run(
        dir.path(),
        "scope.js",
        &["--concurrency-scope", "shared"],
    ));
    let whole: usize = out.trim().parse().unwrap_or_else(|_| panic!("{out}"));
    assert!(whole >= 1, "{out}");
    // A scope that is neither is refused up front.
    let o = run(dir.path(), "scope.js", &["--concurrency-scope", "global"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
}

/// The wx.request libraries of `examples/clients` (issue 26) as a Mini Program's build takes
/// them, unmodified, on the JS host against the echo server: flyio's wx engine
/// (`flyio/dist/npm/wx`) and axios's browser bundle (`axios/dist/axios`, what a bundler picks
/// by axios's `browser` field) with axios-miniprogram-adapter.
#[test]
fn wx_request_libraries_run_unmodified_on_the_js_host() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/clients");
    if !cli::npm_ci(&example) {
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let echo = rt.block_on(wxdl_testkit::Echo::start(&wxdl_testkit::TestCa::new()));
    let project = tempfile::tempdir().unwrap();
    for package in ["flyio", "axios", "axios-miniprogram-adapter"] {
        copy_tree(
            &example.join("node_modules").join(package),
            &project.path().join("node_modules").join(package),
        );
    }
    let script = format!(
        r#"const Fly = require('flyio/dist/npm/wx');
const axios = require('axios/dist/axios');
const mpAdapter = require('axios-miniprogram-adapter');
const base = '{base}';
const report = {{}};
const ax = axios.create({{ adapter: mpAdapter.default || mpAdapter }});
const fly = new Fly();
Promise.all([
  ax.post(base + '/axios?x=1', {{ hello: 'axios' }}, {{ headers: {{ 'X-Lib': 'axios' }} }})
    .then((a) => {{ report.axios = {{ status: a.status, method: a.data.method, body: a.data.body_text, lib: a.data.headers['x-lib'] }}; }}),
  ax.get(base + '/status/404').catch((e) => {{ report.axios404 = e.response && e.response.status; }}),
  fly.request(base + '/fly', {{ k: 'v w' }}, {{ method: 'GET' }})
    .then((f) => {{ report.fly = {{ status: f.status, path: f.data.path }}; }}),
  fly.post(base + '/flypost', {{ n: 1 }})
    .then((f) => {{ report.flyPost = {{ method: f.data.method, body: f.data.body_text }}; }}),
]).then(() => console.log(JSON.stringify(report)));
"#,
        base = echo.url("")
    );
    write_all(project.path(), &[("clients.js", &script)]);
    let out = ok(&run(project.path(), "clients.js", &[]));
    let report: serde_json::Value = serde_json::from_str(out.trim()).expect(&out);
    wxdl_testkit::echo::assert_clients_report(&report);
}

/// Copies the directory `from` to `to` (files and directories; bounded by what npm installed).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}
