//! Modules as WeChat's build resolves them, on the JS host against nginx: files mixing
//! `import`/`export` with `require`/`module.exports`, `require('api.js')` relative to the
//! requiring file first, extension-less paths, `require` of an ES module, and errors that name
//! the requiring module by its whole path.

use serde_json::json;
use wxdl_testkit::Nginx;

mod common;
use common::{report, run, write};

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
