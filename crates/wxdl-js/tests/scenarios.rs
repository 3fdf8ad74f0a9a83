//! The `examples/` scenarios on the JS host against nginx, as the Node package runs them
//! (`crates/wxdl-testkit/tests/node.rs`): each example's `scenario.js` reports its result as
//! JSON, which must be the same in both faces.
//!
//! - `image-cache`: an image cache over `wx.saveFile` and storage, the file system manager's
//!   `saveFile` without `filePath`, the saved-file list, info and removal; run twice over one
//!   sandbox, the second run finds its file;
//! - `file-system`: mkdir (recursive), getFileInfo (md5, sha1), copyFile, appendFile, rename,
//!   truncate, a file descriptor (open, write, read, fstat, close), stat (recursive), readdir,
//!   unzip (`examples/static/bundle.zip`), readCompressedFile (its brotli file), rmdir
//!   (recursive), a path out refused, the FileError `errCode` of failures;
//! - `media`: getImageInfo (a downloaded file, a network src, a file written; WeChat's fail
//!   words), the photo album (`album/`), the clipboard, the guards around absent APIs.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use wxdl_testkit::Nginx;

mod common;
use common::{copy_example, expected, report, run};

/// Copies `examples/<example>` (its `files`) into `dir` with an entry script that runs its
/// scenario on `url` and writes the result to `wxfile://usr/report.json`.
fn project(example: &str, files: &[&str], dir: &Path, url: &str) -> PathBuf {
    copy_example(example, files, dir);
    let entry = dir.join("entry.js");
    std::fs::write(
        &entry,
        format!(
            "require('./scenario.js')('{url}', (r) => wx.getFileSystemManager()\
             .writeFileSync(wx.env.USER_DATA_PATH + '/report.json', JSON.stringify(r)));\n"
        ),
    )
    .unwrap();
    entry
}

#[test]
fn an_image_cache_over_saved_files_finds_its_file_on_the_second_run() {
    let nginx = Nginx::start();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sandbox");
    let files = ["scenario.js", "utils/image-cache.js"];
    let entry = project(
        "image-cache",
        &files,
        &dir.path().join("app"),
        &nginx.url("/hello.txt"),
    );
    for (run_no, first_hit) in [(1, false), (2, true)] {
        run(&entry, &root).unwrap_or_else(|e| panic!("run {run_no}: {e}"));
        assert_eq!(
            report(&root),
            json!({
                "first": {"hit": first_hit, "saved": true},
                "again": {"hit": true, "content": "hello from nginx\n"},
                "managerSaved": true,
                "listed": 1,
                "files": 2,
                "size": 17,
                "removed": "getSavedFileInfo:fail file not exist",
            }),
            "run {run_no}"
        );
    }
    // The cache's one file is a saved file; nothing landed in usr but the report.
    let store: Vec<_> = std::fs::read_dir(root.join("store")).unwrap().collect();
    assert_eq!(store.len(), 1);
    assert_eq!(std::fs::read_dir(root.join("usr")).unwrap().count(), 0);
}

#[test]
fn the_file_system_scenario_runs_as_in_wechat() {
    let nginx = Nginx::start();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sandbox");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("outside.txt"), "not the script's").unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/static/bundle.zip"),
        nginx.root.join("bundle.zip"),
    )
    .unwrap();
    let entry = project(
        "file-system",
        &["scenario.js"],
        &dir.path().join("app"),
        &nginx.url("/hello.txt"),
    );
    run(&entry, &root).unwrap();
    assert_eq!(report(&root), file_system_expected());
    assert_eq!(std::fs::read_dir(root.join("usr")).unwrap().count(), 0);
}

#[test]
fn the_media_scenario_reads_images_saves_to_the_album_and_guards_absent_apis() {
    let nginx = Nginx::start();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/static/logo.png"),
        nginx.root.join("logo.png"),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sandbox");
    let entry = project(
        "media",
        &["scenario.js"],
        &dir.path().join("app"),
        &nginx.url("/logo.png"),
    );
    run(&entry, &root).unwrap();
    assert_eq!(report(&root), expected("media"));
    let mut album: Vec<String> = std::fs::read_dir(root.join("album"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    album.sort();
    assert_eq!(album.len(), 3, "{album:?}");
    assert_eq!(album[..2], ["dot.gif", "note.txt"]);
    assert!(album[2].starts_with("tmp_") && album[2].ends_with(".png"));
}

/// What `examples/file-system/scenario.js` reports over nginx's `/hello.txt`.
fn file_system_expected() -> Value {
    json!({
        "mkdir": true,
        "md5": ["getFileInfo:ok", 17, "7cb04a3741e6b8547bb003c592547b80"],
        "sha1": "09428e810085d47e11aeda75793e6391c5c88eeb",
        "renamed": "hello from nginx\nand more\n",
        "truncated": "hello",
        "fd": ["string", 2, [0, 102, 100, 0], 8],
        "closed": "fstatSync:fail bad file descriptor",
        "tree": ["/ dir", "/b dir", "/b/c dir", "/b/c/hello.txt 17", "/b/renamed.txt 5", "/fd.bin 8"],
        "readdir": ["c", "renamed.txt"],
        "notEmpty": "rmdirSync:fail directory not empty, rmdir wxfile://usr/a",
        "escape": "copyFileSync:fail permission denied, open wxfile://usr/../outside.txt",
        "unzip": ["unzip:ok", "unzipped by wxdl\n", ["b", "data.json", "data.json.br", "docs", "fd.bin"]],
        "brotli": {"compressed": "by brotli", "n": [1, 2, 3]},
        "rmdir": "rmdir:ok",
        "gone": "getFileInfo:fail no such file or directory, open wxfile://usr/a/b/c/hello.txt",
        // The typings' FileError codes, the last one a sync form's thrown Error's.
        "errCodes": [
            ["readFile:fail no such file or directory, open wxfile://usr/none.txt", 1300002],
            ["writeFile:fail permission denied, open wxfile://tmp_x.txt", 1300013],
            ["mkdir:fail file already exists, mkdir wxfile://usr/plain.txt", 1301005],
            ["readFile:fail illegal operation on a directory, open wxfile://usr", 1301003],
            ["fstat:fail bad file descriptor", 1300009],
            ["readCompressedFile:fail decompress fail: Invalid Data", 1301111],
            ["unzip:fail invalid zip file wxfile://usr/plain.txt: invalid Zip archive: Could not find EOCD", 1301104],
            ["removeSavedFile:fail file not exist", 1300002],
            ["accessSync:fail no such file or directory, access wxfile://usr/none.txt", 1300002],
        ],
    })
}

/// docs/js-host.md's "Every `wx` API" table lists exactly the enumerable own properties of
/// `wx` in a `wxdl run` script (what `for…in` sees too), so the table cannot drift.
#[test]
fn the_docs_table_lists_every_wx_api_of_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let entry = dir.path().join("keys.js");
    std::fs::write(
        &entry,
        "const seen = []; for (const k in wx) seen.push(k);\n\
         wx.getFileSystemManager().writeFileSync(wx.env.USER_DATA_PATH + '/report.json', \
         JSON.stringify({ keys: Object.keys(wx), seen }));\n",
    )
    .unwrap();
    let root = dir.path().join("sandbox");
    run(&entry, &root).unwrap();
    let got = report(&root);
    assert_eq!(got["keys"], got["seen"]);
    let mut keys: Vec<String> = serde_json::from_value(got["keys"].clone()).unwrap();
    keys.sort();
    let mut table: Vec<String> = wxdl_testkit::docs::wx_api_table("docs/js-host.md")
        .into_iter()
        .map(|row| row.name)
        .collect();
    table.sort();
    assert_eq!(
        table, keys,
        "docs/js-host.md's table against Object.keys(wx)"
    );
}
