//! What the JS host's integration tests share: a run over a sandbox, project files, and the
//! report a script writes to `wxfile://usr/report.json`.
#![allow(dead_code)]

use std::path::Path;

/// Runs `script` on the JS host over the sandbox at `root` with `options`, to its end.
pub fn run_with(
    script: &Path,
    root: &Path,
    options: &wxdl_js::RunOptions,
) -> Result<(), wxdl_js::ScriptError> {
    let client = wxdl::Client::builder().sandbox_root(root).build().unwrap();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(wxdl_js::run_file_until(
            script,
            client,
            options,
            std::future::pending(),
        ))
}

/// Runs `script` on the JS host over the sandbox at `root`, to its end.
pub fn run(script: &Path, root: &Path) -> Result<(), wxdl_js::ScriptError> {
    run_with(script, root, &wxdl_js::RunOptions::default())
}

/// Writes `files` (path relative to `dir`, text).
pub fn write(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// What a script wrote to `wxfile://usr/report.json` in the sandbox at `root` (the file is
/// removed).
pub fn report(root: &Path) -> serde_json::Value {
    let path = root.join("usr/report.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    std::fs::remove_file(path).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Copies `examples/<example>`'s `files` (paths relative to it) into `dir`.
pub fn copy_example(example: &str, files: &[&str], dir: &Path) {
    let example = example_dir(example);
    for file in files {
        std::fs::create_dir_all(dir.join(file).parent().unwrap()).unwrap();
        std::fs::copy(example.join(file), dir.join(file)).unwrap();
    }
}

/// `examples/<example>/expected.json`: what the example reports, in both JS faces.
pub fn expected(example: &str) -> serde_json::Value {
    let path = example_dir(example).join("expected.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn example_dir(example: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(example)
}
