//! The app and its pages on the JS host, against nginx: `app.js` runs before the entry
//! (`App()`, `onLaunch`, `onShow`, `getApp().globalData`), pages get `route` and `options`,
//! `getCurrentPages()` is the stack, and `wx.navigateTo/redirectTo/navigateBack/reLaunch/
//! switchTab` (driven by `wxdl.navigate` from a script) run onLoad/onShow/onReady/onHide/
//! onUnload, so a page that aborts its download in onUnload is seen to do it.

use serde_json::json;
use wxdl_testkit::{write_random, Nginx};

mod common;
use common::{report, run, run_with, write};

const APP_JSON: &str = r#"{
  "pages": ["pages/list/list", "pages/detail/detail", "pages/tab/tab"],
  "tabBar": {"list": [{"pagePath": "pages/list/list"}, {"pagePath": "pages/tab/tab"}]}
}"#;

const APP_JS: &str = r#"App({
  globalData: { log: [] },
  onLaunch(o) { this.globalData.log.push(`app.onLaunch ${o.path}`); },
  onShow() { this.globalData.log.push('app.onShow'); },
});
"#;

/// A page definition that logs its lifecycle as `name.hook`.
const LOGGED: &str = r#"const log = (s) => getApp().globalData.log.push(s);
module.exports = (name, extra) => Object.assign({
  onLoad(o) { log(`${name}.onLoad ${this.route} ${JSON.stringify(o)}`); },
  onShow() { log(`${name}.onShow`); },
  onReady() { log(`${name}.onReady`); },
  onHide() { log(`${name}.onHide`); },
  onUnload() { log(`${name}.onUnload`); },
}, extra || {});
"#;

/// The page that downloads in onLoad and aborts in onUnload.
fn detail(url: &str) -> String {
    format!(
        r#"const logged = require('../../utils/logged.js');
const base = logged('detail');
Page(logged('detail', {{
  onLoad(o) {{
    base.onLoad.call(this, o);
    this.task = wx.downloadFile({{
      url: '{url}',
      fail: (e) => {{
        getApp().globalData.log.push(`detail.fail ${{e.errMsg}} ${{e.errno}}`);
        getApp().globalData.aborted();
      }},
    }});
  }},
  onUnload() {{ base.onUnload.call(this); this.task.abort(); }},
}}));
"#
    )
}

const DRIVE: &str = r#"const app = getApp();
const log = (s) => app.globalData.log.push(s);
const stack = () => log(`stack ${getCurrentPages().map((p) => p.route).join(',')}`);
const aborted = new Promise((resolve) => { app.globalData.aborted = resolve; });
(async () => {
  await wxdl.navigate('reLaunch', { url: '/pages/list/list?from=drive' });
  await wxdl.navigate('navigateTo', { url: '../detail/detail?id=7' });
  stack();
  await wxdl.navigate('navigateBack');
  await aborted;
  await wxdl.navigate('switchTab', { url: '/pages/tab/tab' });
  await wxdl.navigate('switchTab', { url: '/pages/list/list' });
  stack();
  for (const [api, url] of [['navigateTo', '/pages/nope/nope'], ['navigateBack'], ['navigateTo', '/pages/tab/tab']]) {
    await new Promise((resolve) => wx[api]({ url, fail: (e) => { log(`fail ${e.errMsg}`); resolve(); } }));
  }
  await wxdl.navigate('redirectTo', { url: '/pages/detail/detail?id=8' }).catch((e) => log(`fail ${e.errMsg}`));
  const page = getCurrentPages()[0];
  log(`options ${JSON.stringify(page.options)} ${page.route}`);
  wx.getFileSystemManager().writeFileSync(`${wx.env.USER_DATA_PATH}/report.json`, JSON.stringify(app.globalData.log));
  // Closing the page aborts its download: the run ends now, not when the slow file would.
  await wxdl.navigate('reLaunch', { url: '/pages/tab/tab' });
})();
"#;

#[test]
fn app_js_runs_first_and_navigation_runs_the_page_lifecycle() {
    let nginx = Nginx::start();
    write_random(&nginx.root.join("slow/big.bin"), 4 * 1024 * 1024);
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app");
    let detail = detail(&nginx.url("/slow/big.bin"));
    write(
        &app,
        &[
            ("app.json", APP_JSON),
            ("app.js", APP_JS),
            ("utils/logged.js", LOGGED),
            (
                "pages/list/list.js",
                "Page(require('../../utils/logged.js')('list'));\n",
            ),
            ("pages/detail/detail.js", &detail),
            (
                "pages/tab/tab.js",
                "Page(require('../../utils/logged.js')('tab'));\n",
            ),
            ("test/drive.js", DRIVE),
        ],
    );
    let root = dir.path().join("sandbox");
    run(&app.join("test/drive.js"), &root).unwrap();
    assert_eq!(
        report(&root),
        json!([
            "app.onLaunch test/drive",
            "app.onShow",
            "list.onLoad pages/list/list {\"from\":\"drive\"}",
            "list.onShow",
            "list.onReady",
            "list.onHide",
            "detail.onLoad pages/detail/detail {\"id\":\"7\"}",
            "detail.onShow",
            "detail.onReady",
            "stack pages/list/list,pages/detail/detail",
            "detail.onUnload",
            "list.onShow",
            "detail.fail downloadFile:fail abort 603105",
            "list.onHide",
            "tab.onLoad pages/tab/tab {}",
            "tab.onShow",
            "tab.onReady",
            "tab.onHide",
            "list.onShow",
            "stack pages/list/list",
            "fail navigateTo:fail page \"pages/nope/nope\" is not found",
            "fail navigateBack:fail cannot navigate back at first page.",
            "fail navigateTo:fail can not navigateTo a tabbar page",
            "list.onUnload",
            "detail.onLoad pages/detail/detail {\"id\":\"8\"}",
            "detail.onShow",
            "detail.onReady",
            "options {\"id\":\"8\"} pages/detail/detail",
        ])
    );
}

/// `wxdl run pages/x/x.js --query …` in a project with `app.json`: app.js ran first, so the page
/// file reads `getApp().globalData` at its top; the page downloads with it.
#[test]
fn a_page_run_directly_reads_the_apps_global_data() {
    let nginx = Nginx::start();
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app");
    let app_js = format!(
        "App({{ globalData: {{ base: '{}' }}, onLaunch(o) {{ this.globalData.launch = o; }} }});\n",
        nginx.url("")
    );
    let page = r#"const app = getApp();
Page({
  onLoad(options) {
    wx.downloadFile({
      url: `${app.globalData.base}/${options.file}`,
      success: (res) => wx.getFileSystemManager().writeFileSync(`${wx.env.USER_DATA_PATH}/report.json`, JSON.stringify({
        status: res.statusCode, route: this.route, options: this.options, launch: app.globalData.launch,
        pages: getCurrentPages().length,
      })),
    });
  },
});
"#;
    write(
        &app,
        &[
            ("app.json", r#"{"pages": ["pages/x/x"]}"#),
            ("app.js", &app_js),
            ("pages/x/x.js", page),
        ],
    );
    let root = dir.path().join("sandbox");
    let options = wxdl_js::RunOptions {
        query: "file=hello.txt".into(),
        ..Default::default()
    };
    run_with(&app.join("pages/x/x.js"), &root, &options).unwrap();
    assert_eq!(
        report(&root),
        json!({
            "status": 200,
            "route": "pages/x/x",
            "options": {"file": "hello.txt"},
            "launch": {"path": "pages/x/x", "query": {"file": "hello.txt"}, "scene": 1001},
            "pages": 1,
        })
    );
}
