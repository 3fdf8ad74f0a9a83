//! The Node package (`crates/wxdl-node/npm`) against a real nginx: its `node:test` suite, and
//! `npm pack` installed into a fresh project that downloads with it. Needs the addon built
//! (`scripts/build-node.sh`, which `scripts/test.sh` runs first) and node; otherwise skipped
//! with the reason printed.

use std::path::{Path, PathBuf};
use std::process::Command;

use wxdl_testkit::ranged::{pattern, Ranged, Script};
use wxdl_testkit::{sha256_hex, write_random, write_sparse, Nginx, RawServer, TestCa};

fn package() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../wxdl-node/npm")
}

/// The package directory, when the addon is built and node is here. Under `scripts/test.sh`
/// (`WXDL_REQUIRE_NODE=1`, after it built the addon) nothing is skipped: a missing piece fails.
fn ready() -> Option<PathBuf> {
    let pkg = package();
    let required = std::env::var_os("WXDL_REQUIRE_NODE").is_some_and(|v| v == "1");
    let skip = |why: &str| {
        assert!(!required, "WXDL_REQUIRE_NODE=1 but {why}");
        eprintln!("skipped: {why}");
    };
    if !pkg.join("wxdl.node").exists() || !pkg.join("fs_manager.js").exists() {
        skip("the Node addon is not built (bash scripts/build-node.sh)");
        return None;
    }
    if Command::new("node").arg("--version").output().is_err() {
        skip("node is not installed");
        return None;
    }
    Some(pkg)
}

/// nginx with what the package's tests ask for: a slow file, one past the 200 MiB cap
/// (sparse), a connection closed without an answer, and HTTPS from a CA nobody trusts.
fn nginx() -> Nginx {
    let nginx = Nginx::builder()
        .tls(&TestCa::new())
        .location("location = /drop { return 444; }")
        .start();
    std::fs::create_dir_all(nginx.root.join("slow")).unwrap();
    write_random(&nginx.root.join("slow/big.bin"), 4 << 20);
    write_sparse(&nginx.root.join("huge.bin"), 200 * 1024 * 1024 + 1);
    nginx
}

/// The `wxdl-…` directories in `dir`.
fn sandboxes_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("wxdl-"))
        .collect()
}

/// `createWx()` without `root` makes a sandbox under the temp directory: gone when the process
/// exits, whether its event loop drained or it called `process.exit()`; a `root` the caller
/// gave stays.
#[test]
fn a_default_sandbox_is_removed_when_the_process_exits() {
    let Some(pkg) = ready() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let kept = tmp.path().join("kept");
    for script in [
        "createWx()",
        "createWx(); process.exit(0)",
        "createWx({ root: process.argv[1] })",
    ] {
        let script = format!("const {{ createWx }} = require('.'); {script};");
        run(Command::new("node")
            .args(["-e", &script])
            .arg(&kept)
            .env("TMPDIR", tmp.path())
            .current_dir(&pkg));
    }
    assert_eq!(sandboxes_in(tmp.path()), Vec::<String>::new());
    assert!(kept.is_dir(), "a root the caller gave is theirs");
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("start");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

#[test]
fn the_packages_node_test_suite_passes() {
    let Some(pkg) = ready() else { return };
    let nginx = nginx();
    // Servers whose file changes under a download and that ignore If-Range (issue 23 §1):
    // one cuts the first answer (resume + retry), one serves the split.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (v1, v2) = (pattern(1, 2 << 20), pattern(2, 2 << 20));
    let changing = |cut: Option<usize>| {
        rt.block_on(Ranged::start(Script {
            cut_next: cut,
            ignore_if_range: true,
            then: Some(("\"v2\"".into(), v2.clone())),
            ..Script::new("\"v1\"", v1.clone())
        }))
    };
    let (resumed, split) = (changing(Some(600_000)), changing(None));
    let echo = rt.block_on(RawServer::echo_head());
    let api = rt.block_on(wxdl_testkit::Echo::start(&wxdl_testkit::TestCa::new()));
    let out = run(Command::new("node")
        .arg("--test")
        .arg("--test-timeout=60000")
        .arg(pkg.join("test"))
        .env("WXDL_TEST_BASE", nginx.url(""))
        .env("WXDL_TEST_HTTPS", nginx.https_url("localhost", ""))
        .env("WXDL_TEST_CHANGING_RESUME", resumed.url(""))
        .env("WXDL_TEST_CHANGING_SPLIT", split.url(""))
        .env("WXDL_TEST_V2_SHA", sha256_hex(&v2))
        .env("WXDL_TEST_ECHO", echo.url(""))
        .env("WXDL_TEST_API", api.url("")));
    assert!(out.contains("# fail 0"), "{out}");
    assert!(out.contains("# pass 16"), "every test ran: {out}");
}

#[test]
fn npm_pack_installs_into_a_fresh_project_and_works_there() {
    let Some(pkg) = ready() else { return };
    let nginx = nginx();
    let work = tempfile::tempdir().unwrap();
    let packed = run(Command::new("npm")
        .args(["pack", "--silent", "--pack-destination"])
        .arg(work.path())
        .current_dir(&pkg));
    let tarball = work
        .path()
        .join(packed.trim().lines().last().unwrap().trim());
    assert!(tarball.exists(), "{packed}");
    let project = work.path().join("app");
    std::fs::create_dir(&project).unwrap();
    std::fs::write(
        project.join("package.json"),
        r#"{"name":"app","version":"1.0.0"}"#,
    )
    .unwrap();
    run(Command::new("npm")
        .args(["install", "--offline", "--no-audit", "--no-fund"])
        .arg(&tarball)
        .current_dir(&project));
    let script = format!(
        "const {{ createWx }} = require('wxdl');\n\
         createWx({{}}).downloadFile({{ url: '{}', success: (r) => console.log('got', r.statusCode, r.dataLength) }});",
        nginx.url("/hello.txt")
    );
    let out = run(Command::new("node")
        .args(["-e", &script])
        .current_dir(&project));
    assert!(out.contains("got 200 17"), "{out}");
}

/// `examples/jest`: a custom component that downloads in `attached`, rendered by
/// miniprogram-simulate under Jest with `setupFiles: ['wxdl/jest']`, against nginx; `examples/app`
/// from `loadApp` (a page aborting its download in onUnload); and its
/// `types.check.ts` (official typings against the package's) through `tsc`. Its npm
/// dependencies come from the committed lockfile (`npm ci`).
#[test]
fn the_jest_example_passes_with_miniprogram_simulate() {
    let Some(_) = ready() else { return };
    let nginx = nginx();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/jest");
    run(Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--silent"])
        .current_dir(&example));
    // The system's temp directory of the run is the test's own: the sandbox Jest's setup made
    // for the test file must be gone when Jest has exited.
    let tmp = tempfile::tempdir().unwrap();
    let out = run(Command::new("npx")
        .args(["jest", "--ci"])
        .env("WXDL_TEST_BASE", nginx.url(""))
        .env("TMPDIR", tmp.path())
        .current_dir(&example));
    assert!(out.contains("Tests:       3 passed, 3 total"), "{out}");
    // As a user runs it, with no WXDL_TEST_BASE: the tests serve /hello.txt themselves and
    // run, never skip.
    let out = run(Command::new("npx")
        .args(["jest", "--ci"])
        .env_remove("WXDL_TEST_BASE")
        .current_dir(&example));
    assert!(out.contains("Tests:       3 passed, 3 total"), "{out}");
    assert_eq!(
        sandboxes_in(tmp.path()),
        Vec::<String>::new(),
        "Jest's sandbox is left"
    );
    // Code typed against miniprogram-api-typings type-checks against the package's types.
    run(Command::new("npm")
        .args(["run", "--silent", "typecheck"])
        .current_dir(&example));
}

/// Libraries Mini Programs call wx.request through (axios + axios-miniprogram-adapter, flyio's wx
/// engine) run unmodified over the package's `wx` against the echo server (issue 26).
#[test]
fn wx_request_libraries_run_unmodified() {
    let Some(_pkg) = ready() else { return };
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/clients");
    run(Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--silent"])
        .current_dir(&example));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let echo = rt.block_on(wxdl_testkit::Echo::start(&wxdl_testkit::TestCa::new()));
    let out = run(Command::new("node")
        .arg("clients.js")
        .arg(echo.url(""))
        .current_dir(&example));
    let report: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    wxdl_testkit::echo::assert_clients_report(&report);
}

/// Runs `examples/<example>/scenario.js` in Node over the sandbox at `root` on `url`; what it
/// reported (JSON text), as `crates/wxdl-js/tests/scenarios.rs` runs it on the JS host.
fn node_scenario(pkg: &Path, example: &str, root: &Path, url: &str) -> String {
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(example)
        .join("scenario.js");
    let script = format!(
        "global.wx = require({pkg:?}).createWx({{ root: {root:?} }});\n\
         require({scenario:?})('{url}', (r) => wx.getFileSystemManager()\
         .writeFileSync(wx.env.USER_DATA_PATH + '/report.json', JSON.stringify(r)));",
        pkg = pkg.canonicalize().unwrap(),
        scenario = scenario.canonicalize().unwrap(),
    );
    run(Command::new("node").args(["-e", &script]));
    let report = root.join("usr/report.json");
    let text = std::fs::read_to_string(&report).unwrap();
    std::fs::remove_file(report).unwrap();
    text
}

/// `examples/image-cache` in Node: an image cache over `wx.saveFile` and storage, the file
/// system manager's `saveFile` without `filePath`, the saved-file list, info and removal,
/// against nginx; run twice over one root, the second run finds its saved file.
#[test]
fn the_image_cache_finds_its_saved_file_on_the_second_run_in_node() {
    let Some(pkg) = ready() else { return };
    let nginx = nginx();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sandbox");
    for (run_no, first_hit) in [(1, false), (2, true)] {
        let got = node_scenario(&pkg, "image-cache", &root, &nginx.url("/hello.txt"));
        assert_eq!(
            got,
            format!(
                r#"{{"first":{{"hit":{first_hit},"saved":true}},"again":{{"hit":true,"content":"hello from nginx\n"}},"managerSaved":true,"listed":1,"files":2,"size":17,"removed":"getSavedFileInfo:fail file not exist"}}"#
            ),
            "run {run_no}"
        );
    }
    assert_eq!(std::fs::read_dir(root.join("store")).unwrap().count(), 1);
}

/// `examples/file-system` in Node: mkdir (recursive), getFileInfo (md5, sha1), copyFile,
/// appendFile, rename, truncate, a file descriptor, stat (recursive), readdir, unzip,
/// readCompressedFile, rmdir (recursive), a path out, the FileError errCodes.
#[test]
fn the_file_system_scenario_runs_in_node_as_on_the_host() {
    let Some(pkg) = ready() else { return };
    let nginx = nginx();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sandbox");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("outside.txt"), "not the script's").unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/static/bundle.zip"),
        nginx.root.join("bundle.zip"),
    )
    .unwrap();
    let got = node_scenario(&pkg, "file-system", &root, &nginx.url("/hello.txt"));
    assert_eq!(
        got,
        r#"{"mkdir":true,"md5":["getFileInfo:ok",17,"7cb04a3741e6b8547bb003c592547b80"],"sha1":"09428e810085d47e11aeda75793e6391c5c88eeb","renamed":"hello from nginx\nand more\n","truncated":"hello","fd":["string",2,[0,102,100,0],8],"closed":"fstatSync:fail bad file descriptor","tree":["/ dir","/b dir","/b/c dir","/b/c/hello.txt 17","/b/renamed.txt 5","/fd.bin 8"],"readdir":["c","renamed.txt"],"notEmpty":"rmdirSync:fail directory not empty, rmdir wxfile://usr/a","escape":"copyFileSync:fail permission denied, open wxfile://usr/../outside.txt","unzip":["unzip:ok","unzipped by wxdl\n",["b","data.json","data.json.br","docs","fd.bin"]],"brotli":{"compressed":"by brotli","n":[1,2,3]},"rmdir":"rmdir:ok","gone":"getFileInfo:fail no such file or directory, open wxfile://usr/a/b/c/hello.txt","errCodes":[["readFile:fail no such file or directory, open wxfile://usr/none.txt",1300002],["writeFile:fail permission denied, open wxfile://tmp_x.txt",1300013],["mkdir:fail file already exists, mkdir wxfile://usr/plain.txt",1301005],["readFile:fail illegal operation on a directory, open wxfile://usr",1301003],["fstat:fail bad file descriptor",1300009],["readCompressedFile:fail decompress fail: Invalid Data",1301111],["unzip:fail invalid zip file wxfile://usr/plain.txt: invalid Zip archive: Could not find EOCD",1301104],["removeSavedFile:fail file not exist",1300002],["accessSync:fail no such file or directory, access wxfile://usr/none.txt",1300002]]}"#
    );
}

/// WeChat's own `miniprogram-api-promise` 1.0.4, unmodified, in Node: `examples/api-promise`'s
/// module under Jest (babel-jest turns its untranspiled ES modules into CommonJS, as WeChat's
/// devtools' npm build does) awaits a request, a download, the network type and a refused
/// request through the promisified real `wx` (issue 26); `wxdl run` runs the same module
/// (wxdl-cli's run tests).
#[test]
fn miniprogram_api_promise_runs_unmodified_under_jest() {
    let Some(_) = ready() else { return };
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/api-promise");
    run(Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--silent"])
        .current_dir(&example));
    let out = run(Command::new("npx")
        .args(["jest", "--ci"])
        .current_dir(&example));
    assert!(out.contains("Tests:       1 passed, 1 total"), "{out}");
}

/// `examples/media` in Node: getImageInfo (downloaded, network, written; WeChat's fail words),
/// the photo album, the clipboard, the guards around absent APIs; the same report as the JS
/// host's (`crates/wxdl-js/tests/scenarios.rs`).
#[test]
fn the_media_scenario_runs_in_node_as_on_the_host() {
    let Some(pkg) = ready() else { return };
    let nginx = nginx();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/static/logo.png"),
        nginx.root.join("logo.png"),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sandbox");
    std::fs::create_dir_all(&root).unwrap();
    let got = node_scenario(&pkg, "media", &root, &nginx.url("/logo.png"));
    let got: serde_json::Value = serde_json::from_str(&got).unwrap();
    assert_eq!(got, expected("media"));
    assert_eq!(std::fs::read_dir(root.join("album")).unwrap().count(), 3);
}

/// `examples/app` from Node's `loadApp`: app.js (App, onLaunch, onShow), the first page with its
/// query, then `examples/app/drive.js` moves between the pages (`app.navigate`, and the pages'
/// own `wx.navigateTo` & co.), the detail page aborting its download of nginx's slow file in
/// onUnload; the same log as on the JS host (`crates/wxdl-js/tests/scenarios.rs`). Then the app
/// goes to the background and back (App's and the page's onHide/onShow).
#[test]
fn the_app_example_runs_from_load_app_as_on_the_host() {
    let Some(pkg) = ready() else { return };
    let nginx = nginx();
    let project = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/app")
        .canonicalize()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sandbox");
    let script = format!(
        "const {{ loadApp }} = require({pkg:?});\n\
         loadApp({project:?}, {{ root: {root:?}, query: {{ from: 'main' }} }}).then((app) =>\n\
           require({drive:?})(app.navigate, '{url}', (log) => {{\n\
             const keys = Object.keys(app.wx);\n\
             app.wx.wxdl.hide(); app.wx.wxdl.show();\n\
             console.log(JSON.stringify({{ log, same: app.getApp() === getApp(), \
               enumerable: ['navigateTo', 'redirectTo', 'navigateBack', 'reLaunch', 'switchTab'].every((k) => keys.includes(k)), \
               pages: app.getCurrentPages().map((p) => p.route) }}));\n\
           }}));",
        pkg = pkg.canonicalize().unwrap(),
        drive = project.join("drive.js"),
        url = nginx.url("/slow/big.bin"),
    );
    let out = run(Command::new("node").args(["-e", &script]));
    let got: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(got["same"], true, "{out}");
    assert_eq!(got["enumerable"], true);
    assert_eq!(got["pages"], serde_json::json!(["pages/tab/tab"]));
    let serde_json::Value::Array(mut want) = expected("app") else {
        panic!("examples/app/expected.json is a list")
    };
    want.extend(
        ["app.onHide", "tab.onHide", "app.onShow", "tab.onShow"].map(|s| serde_json::json!(s)),
    );
    assert_eq!(got["log"], serde_json::Value::Array(want), "{out}");
}

/// docs/node.md's "Every `wx` API" table lists exactly the enumerable own properties of the
/// `wx` that `loadApp` gives, and those of `createWx()`'s but the rows it marks as
/// `loadApp`'s only, so the table cannot drift.
#[test]
fn the_docs_table_lists_every_wx_api_of_the_package() {
    let Some(pkg) = ready() else { return };
    let project = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/app")
        .canonicalize()
        .unwrap();
    let script = format!(
        "const {{ createWx, loadApp }} = require({pkg:?});\n\
         loadApp({project:?}).then((app) => console.log(JSON.stringify({{\n\
           created: Object.keys(createWx()), loaded: Object.keys(app.wx) }})));",
        pkg = pkg.canonicalize().unwrap(),
    );
    let out = run(Command::new("node").args(["-e", &script]));
    let got: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    let sorted = |v: &serde_json::Value| {
        let mut keys: Vec<String> = serde_json::from_value(v.clone()).unwrap();
        keys.sort();
        keys
    };
    let rows = wxdl_testkit::docs::wx_api_table("docs/node.md");
    let mut table: Vec<String> = rows.iter().map(|r| r.name.clone()).collect();
    table.sort();
    assert_eq!(
        table,
        sorted(&got["loaded"]),
        "docs/node.md against loadApp's wx"
    );
    let mut created: Vec<String> = rows
        .iter()
        .filter(|r| !r.what.starts_with("On `loadApp`'s `wx` only"))
        .map(|r| r.name.clone())
        .collect();
    created.sort();
    assert_eq!(
        created,
        sorted(&got["created"]),
        "docs/node.md against createWx()"
    );
}

/// `examples/<example>/expected.json`: what the example reports, in both JS faces.
fn expected(example: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(example)
        .join("expected.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}
