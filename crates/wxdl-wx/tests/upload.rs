//! `wx.uploadFile` through the wx layer against the testkit's echo server: a Mini Program's
//! options object becomes the multipart body WeChat sends (fields first, in order, then the file)
//! and the `success` object carries the body as text.

use serde_json::{json, Value};
use wxdl_testkit::ca::TestCa;
use wxdl_testkit::data::sha256_hex;
use wxdl_testkit::echo::Echo;
use wxdl_testkit::engine::Env;
use wxdl_wx::upload;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_options_object_becomes_wechats_multipart_body() {
    let ca = TestCa::new();
    let echo = Echo::start(&ca).await;
    let env = Env::new();
    let client = env.client(&[]);
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 241) as u8).collect();
    let usr = client.sandbox().usr_dir();
    std::fs::create_dir_all(usr).unwrap();
    std::fs::write(usr.join("photo.png"), &data).unwrap();

    let opts = upload::options(
        &json!({
            "url": echo.url("/up"), "filePath": "wxfile://usr/photo.png", "name": "img",
            "header": {"X-App": 7},
            "formData": {"user": 42, "ok": true, "meta": {"a": 1}, "skip": null, "s": "x y"}
        }),
        |w| panic!("warned: {w}"),
    )
    .unwrap();
    let done = client.upload(opts).await.expect("upload");
    let v = upload::success(&done);
    assert_eq!(v["errMsg"], "uploadFile:ok");
    assert_eq!(v["statusCode"], 200);
    // WeChat does not parse the body: `data` is the text.
    let echoed: Value = serde_json::from_str(v["data"].as_str().unwrap()).unwrap();
    assert_eq!(echoed["method"], "POST");
    assert_eq!(echoed["headers"]["x-app"], "7");
    let parts = echoed["parts"].as_array().unwrap();
    let names: Vec<&str> = parts.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["user", "ok", "meta", "s", "img"]);
    let values: Vec<&str> = parts[..4]
        .iter()
        .map(|p| p["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["42", "true", r#"{"a":1}"#, "x y"]);
    let file = &parts[4];
    assert_eq!(file["filename"], "photo.png");
    assert_eq!(file["content_type"], "image/png");
    assert_eq!(file["len"], 200_000);
    assert_eq!(file["sha256"], sha256_hex(&data));
    assert!(v["profile"]["fetchStart"].as_f64().unwrap() > 0.0);

    // WeChat's words for what is missing, before any connection.
    let hits = echo.hits();
    for (opts, want) in [
        (
            json!({"url": echo.url("/up"), "name": "f"}),
            "uploadFile:fail parameter error: parameter.filePath should be String instead of Undefined",
        ),
        (
            json!({"url": echo.url("/up"), "filePath": "wxfile://usr/photo.png", "name": 3}),
            "uploadFile:fail parameter error: parameter.name should be String instead of Number",
        ),
        (json!({"filePath": "wxfile://usr/photo.png", "name": "f"}), "uploadFile:fail url is null or nil"),
    ] {
        let fail = upload::options(&opts, |_| {}).unwrap_err();
        assert_eq!(upload::API.err_msg(&fail), want);
    }
    // A missing file is the file system's row, after the call started.
    let missing = upload::options(
        &json!({"url": echo.url("/up"), "filePath": "wxfile://usr/none.png", "name": "f"}),
        |_| {},
    )
    .unwrap();
    let r = upload::result(&client.upload(missing).await);
    assert_eq!(r["errno"], 1300002, "{r}");
    assert!(r["errMsg"]
        .as_str()
        .unwrap()
        .starts_with("uploadFile:fail no such file or directory"));
    assert_eq!(echo.hits(), hits);
}

/// Whether the options hold `field: value` as their `Debug` shows them (the engine keeps its
/// fields private).
fn shows(o: &wxdl::upload::UploadOptions, field_value: &str) -> bool {
    format!("{o:?}").contains(&format!(" {field_value},"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_switches_follow_javascripts_defaults_and_wrong_types_fail_with_wechats_words() {
    let ca = TestCa::new();
    let echo = Echo::start(&ca).await;
    let env = Env::new();
    let client = env.client(&[]);
    std::fs::write(client.sandbox().usr_dir().join("a"), b"abc").unwrap();
    let base = json!({"url": echo.url("/up"), "filePath": "wxfile://usr/a", "name": "f"});
    let with = |extra: Value| {
        let mut v = base.clone();
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        upload::options(&v, |_| {})
    };
    // WeChat: enableProfile on unless false; the others off unless true.
    let o = with(json!({"enableHttp2": 1})).unwrap();
    assert!(shows(&o, "enable_http2: false") && shows(&o, "enable_quic: false"));
    let o = with(json!({"enableHttp2": true, "enableQuic": true})).unwrap();
    assert!(shows(&o, "enable_http2: true") && shows(&o, "enable_quic: true"));
    // The profile says whether the high-performance mode was asked for; without a profile
    // there is none.
    for (extra, mode) in [
        (json!({"useHighPerformanceMode": true}), Some(true)),
        (json!({"useHighPerformanceMode": 1}), Some(false)),
        (json!({"enableProfile": false}), None),
    ] {
        let done = client.upload(with(extra.clone()).unwrap()).await.unwrap();
        let v = upload::success(&done);
        let shown = v
            .get("profile")
            .map(|p| p["usingHighPerformanceMode"].as_bool());
        assert_eq!(shown, mode.map(Some), "{extra}: {v}");
    }
    for (extra, msg) in [
        (
            json!({"name": null}),
            "uploadFile:fail parameter error: parameter.name should be String instead of Undefined",
        ),
        (
            json!({"filePath": 7}),
            "uploadFile:fail parameter error: parameter.filePath should be String instead of Number",
        ),
        (
            json!({"formData": "a=1"}),
            "uploadFile:fail parameter error: parameter.formData should be Object instead of String",
        ),
    ] {
        let fail = with(extra.clone()).unwrap_err();
        assert_eq!(upload::API.err_msg(&fail), msg, "{extra}");
    }
}
