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

/// A script's calls against the testkit's echo server: the server on a runtime of its own, a
/// project directory, and a sandbox (`root`, with its `usr`) the script runs over.
pub struct EchoProject {
    pub rt: tokio::runtime::Runtime,
    pub echo: wxdl_testkit::Echo,
    pub dir: tempfile::TempDir,
    pub root: std::path::PathBuf,
}

impl EchoProject {
    pub fn new() -> EchoProject {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let echo = rt.block_on(wxdl_testkit::Echo::start(&wxdl_testkit::TestCa::new()));
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("sandbox");
        std::fs::create_dir_all(root.join("usr")).unwrap();
        EchoProject {
            rt,
            echo,
            dir,
            root,
        }
    }

    /// Runs `script` as the project's `main.js`, after a prelude giving it `base` (the echo
    /// server's URL), `report` (an object) and `done()`, which writes the report to
    /// `wxfile://usr/report.json` once it was called `calls` times; returns that report.
    pub fn run(&self, calls: usize, script: &str) -> serde_json::Value {
        let base = self.echo.url("");
        let prelude = format!(
            "const base = '{base}';\nconst report = {{}};\nlet pending = {calls};\n\
             const done = () => {{\n  if (--pending === 0) {{\n    \
             wx.getFileSystemManager().writeFileSync(`${{wx.env.USER_DATA_PATH}}/report.json`, \
             JSON.stringify(report), 'utf8');\n  }}\n}};\n"
        );
        write(self.dir.path(), &[("main.js", &(prelude + script))]);
        run(&self.dir.path().join("main.js"), &self.root).expect("the script runs");
        report(&self.root)
    }
}
