//! Saved files through the JS host: `examples/image-cache` (an image cache over `wx.saveFile`
//! and storage, the file system manager's `saveFile` without `filePath`, the saved-file list,
//! info and removal) against nginx, run twice over one sandbox: the second run finds its file.

use std::path::Path;

use serde_json::{json, Value};
use wxdl_testkit::Nginx;

/// Runs `script` on the JS host over the sandbox at `root`.
fn run(script: &Path, root: &Path) -> Result<(), wxdl_js::ScriptError> {
    let client = wxdl::Client::builder().sandbox_root(root).build().unwrap();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(wxdl_js::run_file(script, client))
}

/// Copies `examples/image-cache` into `dir` with an entry script that runs its scenario on
/// `url` and writes the result to `wxfile://usr/report.json`.
fn project(dir: &Path, url: &str) -> std::path::PathBuf {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/image-cache");
    for file in ["scenario.js", "utils/image-cache.js"] {
        std::fs::create_dir_all(dir.join(file).parent().unwrap()).unwrap();
        std::fs::copy(example.join(file), dir.join(file)).unwrap();
    }
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

fn report(root: &Path) -> Value {
    let path = root.join("usr/report.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    std::fs::remove_file(path).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn an_image_cache_over_saved_files_finds_its_file_on_the_second_run() {
    let nginx = Nginx::start();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sandbox");
    let entry = project(&dir.path().join("app"), &nginx.url("/hello.txt"));
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
