//! A hostile script against the sandbox's shared folder descriptors (`store::dir_pins`): it
//! moves, removes and recreates the folder its downloads write into while they write there. Every download must either land whole in a folder inside `usr` or fail
//! with WeChat's words; nothing lands outside, nothing private is left, nothing is held open.

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value;

/// Every file below `dir`.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn folders_moved_and_removed_under_running_downloads() {
    let common::EchoProject {
        echo, dir, root, ..
    } = &common::EchoProject::new();
    let base = echo.url("");
    const N: usize = 12;
    common::write(
        dir.path(),
        &[(
            "main.js",
            &format!(
                r#"
const base = '{base}';
const fs = wx.getFileSystemManager();
const U = wx.env.USER_DATA_PATH;
const results = {{}};
let pending = {N};
const done = () => {{
  if (--pending === 0) {{
    fs.writeFileSync(`${{U}}/report.json`, JSON.stringify(results), 'utf8');
  }}
}};
fs.mkdirSync(`${{U}}/d`);
let round = 0;
// On a download's first progress (its body is being written into the folder it holds), the
// folder is swapped: moved away (odd rounds) or removed under it (even rounds: a body's file
// is unnamed, so rmdir succeeds), and a new one made at the path for the next downloads.
const swap = () => {{
  const i = round++;
  fs.renameSync(`${{U}}/d`, `${{U}}/m${{i}}`);
  if (i % 2 === 0) {{
    try {{ fs.rmdirSync(`${{U}}/m${{i}}`); }} catch (e) {{ results[`rmdir${{i}}`] = e.errMsg; }}
  }}
  fs.mkdirSync(`${{U}}/d`);
}};
for (let i = 0; i < {N}; i++) {{
  let swapped = false;
  const t = wx.downloadFile({{ url: `${{base}}/bytes/3000000?i=${{i}}`, filePath: `${{U}}/d/f${{i}}.bin`,
    success: (r) => {{ results[i] = {{ ok: r.errMsg, status: r.statusCode }}; }},
    fail: (e) => {{ results[i] = {{ fail: e.errMsg }}; }},
    complete: done }});
  t.onProgressUpdate((p) => {{ if (!swapped && p.totalBytesWritten > 0) {{ swapped = true; swap(); }} }});
}}
"#
            ),
        )],
    );
    common::run(&dir.path().join("main.js"), root).expect("the script runs");
    let r: Value = common::report(root);
    let mut landed = Vec::new();
    files(dir.path(), &mut landed);
    let usr = root.join("usr");
    let mut oks = 0;
    for i in 0..N {
        let name = format!("f{i}.bin");
        let at: Vec<&PathBuf> = landed.iter().filter(|p| p.ends_with(&name)).collect();
        let result = &r[i.to_string()];
        if result["ok"] == "downloadFile:ok" {
            oks += 1;
            assert_eq!(at.len(), 1, "{i}: {result} at {at:?}");
            assert!(at[0].starts_with(&usr), "{i} landed outside usr: {at:?}");
            assert_eq!(std::fs::metadata(at[0]).unwrap().len(), 3_000_000);
        } else {
            let msg = result["fail"]
                .as_str()
                .unwrap_or_else(|| panic!("{i}: {r}"));
            assert!(msg.starts_with("downloadFile:fail "), "{i}: {msg}");
            assert!(at.is_empty(), "{i} failed yet left {at:?}");
        }
    }
    eprintln!("{oks} of {N} landed; results {r}");
    let private: Vec<_> = landed
        .iter()
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.starts_with(".wxdl-") || n.ends_with(".wxdl-partial")
        })
        .collect();
    assert!(private.is_empty(), "{private:?}");
    let below = dir.path().canonicalize().unwrap();
    let held = || -> Vec<PathBuf> {
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .flatten()
            .filter_map(|e| std::fs::read_link(e.path()).ok())
            .filter(|t| t.starts_with(&below))
            .collect()
    };
    // An aborted or failed download's state is dropped on an engine thread just after its
    // outcome: asked again, bounded (2 s), until nothing is open.
    let mut open = held();
    for _ in 0..100 {
        if open.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        open = held();
    }
    assert!(open.is_empty(), "held open after the run: {open:?}");
}
