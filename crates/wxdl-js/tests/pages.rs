//! The app and its pages on the JS host, against nginx: `app.js` runs before the entry
//! (`App()`, `onLaunch`, `onShow`, `getApp().globalData`), pages get `route` and `options`,
//! `getCurrentPages()` is the stack, and `wx.navigateTo/redirectTo/navigateBack/reLaunch/
//! switchTab` (driven by `wxdl.navigate` from a script) run onLoad/onShow/onReady/onHide/
//! onUnload, so a page that aborts its download in onUnload is seen to do it.

use serde_json::json;
use wxdl_testkit::{write_random, Nginx};

mod common;
use common::{copy_example, expected, report, run, run_with, write};

/// `examples/app` (App, three pages, a tab bar) driven through its pages by its `drive.js`
/// (`wxdl.navigate`, and the pages' own `wx.navigateTo` & co.) as its `main.js` does, on
/// nginx's slow file: the detail page aborts its download in onUnload; the lifecycle log is
/// `examples/app/expected.json`, the same as Node's `loadApp` gives.
#[test]
fn app_js_runs_first_and_navigation_runs_the_page_lifecycle() {
    let nginx = Nginx::start();
    write_random(&nginx.root.join("slow/big.bin"), 4 * 1024 * 1024);
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app");
    let files = [
        "app.json",
        "app.js",
        "utils/logged.js",
        "pages/list/list.js",
        "pages/detail/detail.js",
        "pages/tab/tab.js",
        "drive.js",
    ];
    copy_example("app", &files, &app);
    let entry = format!(
        "wxdl.navigate('reLaunch', {{ url: '/pages/list/list?from=main' }}).then(() => \
         require('../drive.js')(wxdl.navigate, '{}', (log) => wx.getFileSystemManager()\
         .writeFileSync(wx.env.USER_DATA_PATH + '/report.json', JSON.stringify(log))));\n",
        nginx.url("/slow/big.bin")
    );
    write(&app, &[("test/entry.js", &entry)]);
    let root = dir.path().join("sandbox");
    run(&app.join("test/entry.js"), &root).unwrap();
    assert_eq!(report(&root), expected("app"));
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
