//! Modules as WeChat's build resolves them, on the JS host against nginx: files mixing
//! `import`/`export` with `require`/`module.exports`, `require('api.js')` relative to the
//! requiring file first, extension-less paths, `require` of an ES module, and errors that name
//! the requiring module by its whole path.

use std::path::Path;

use serde_json::{json, Value};
use wxdl_testkit::Nginx;

fn run(script: &Path, root: &Path) -> Result<(), wxdl_js::ScriptError> {
    let client = wxdl::Client::builder().sandbox_root(root).build().unwrap();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(wxdl_js::run_file(script, client))
}

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// What a script wrote to `wxfile://usr/report.json`.
fn report(root: &Path) -> Value {
    let path = root.join("usr/report.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    std::fs::remove_file(path).unwrap();
    serde_json::from_str(&text).unwrap()
}

const REPORT: &str = "const report = (r) => wx.getFileSystemManager().writeFileSync(\
                      wx.env.USER_DATA_PATH + '/report.json', JSON.stringify(r));";

#[test]
fn mixed_modules_bare_relative_paths_and_whole_paths_in_errors() {
    let nginx = Nginx::start();
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app");
    let config = format!("export const base = '{}';\n", nginx.url(""));
    let index = format!(
        r#"{REPORT}
const api = require('api.js');
const util = require('../../utils/util');
let missing;
try {{ require('nope.js'); }} catch (e) {{ missing = e.message; }}
wx.downloadFile({{
  url: api.url,
  success: (res) => report({{ status: res.statusCode, helper: api.helper, time: util.formatTime(3), missing }}),
}});
"#
    );
    let esm = format!(
        r#"{REPORT}
import api from '../index/api.js';
import {{ formatTime }} from '../../utils/util';
const helper = require('helper.js');
module.exports = {{ unused: true }};
report({{ url: api.url.endsWith('/hello.txt'), helper: helper.name, time: formatTime(4) }});
"#
    );
    write(
        &app,
        &[
            ("app.json", r#"{"pages": ["pages/index/index"]}"#),
            ("config.js", &config),
            (
                "utils/util.js",
                "export function formatTime(n) { return `t${n}`; }\n",
            ),
            ("utils/helper.js", "module.exports = { name: 'helper' };\n"),
            (
                "pages/esm/helper.js",
                "module.exports = { name: 'beside the page' };\n",
            ),
            (
                "pages/index/api.js",
                "import { base } from '../../config.js';\n\
                 const helper = require('../../utils/helper');\n\
                 module.exports = { url: base + '/hello.txt', helper: helper.name };\n",
            ),
            ("pages/index/index.js", &index),
            ("pages/esm/esm.js", &esm),
        ],
    );
    let root = dir.path().join("sandbox");
    run(&app.join("pages/index/index.js"), &root).unwrap();
    assert_eq!(
        report(&root),
        json!({
            "status": 200,
            "helper": "helper",
            "time": "t3",
            "missing": "Cannot find module 'nope.js' in the project (required from 'pages/index/index.js')",
        })
    );
    run(&app.join("pages/esm/esm.js"), &root).unwrap();
    assert_eq!(
        report(&root),
        json!({"url": true, "helper": "beside the page", "time": "t4"})
    );
}
