//! The wx layer's result objects from real downloads: what a face hands to Mini Program code.

use serde_json::json;
use wxdl::DownloadOptions;
use wxdl_testkit::engine::{ok, Env};
use wxdl_testkit::ranged::{pattern, Ranged, Script};
use wxdl_wx::download;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_target_says_unchanged_and_a_fresh_one_does_not() {
    let env = Env::new();
    let client = env.client(&[]);
    let server = Ranged::start(Script::new("\"e\"", pattern(1, 1000))).await;
    let target = env.dir.path().join("t.bin");
    std::fs::write(&target, b"my current copy").unwrap();

    // A 304 to the caller's own If-None-Match keeps the file and says so.
    let kept = ok(client
        .download(
            DownloadOptions::new(server.url("/t"))
                .host_path(&target)
                .header("If-None-Match", "\"e\""),
        )
        .await);
    let v = download::success(&kept);
    assert_eq!(v["errMsg"], "downloadFile:ok");
    assert_eq!(v["statusCode"], 304);
    assert_eq!(v["unchanged"], json!(true));
    assert_eq!(std::fs::read(&target).unwrap(), b"my current copy");

    // Without the condition the body replaces it, and `unchanged` is absent, not false.
    let fresh = ok(client
        .download(DownloadOptions::new(server.url("/t")).host_path(&target))
        .await);
    let v = download::success(&fresh);
    assert_eq!(v["statusCode"], 200);
    assert!(v.get("unchanged").is_none(), "{v}");
    assert_eq!(std::fs::read(&target).unwrap().len(), 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_continued_download_says_where_it_resumed_and_a_failure_is_errmsg_and_errno() {
    let env = Env::new();
    let client = env.client(&[]);
    let data = pattern(3, 100_000);
    let server = Ranged::start(Script {
        cut_next: Some(40_000),
        ..Script::new("\"r\"", data.clone())
    })
    .await;
    let target = env.dir.path().join("r.bin");
    let opts = || {
        DownloadOptions::new(server.url("/r"))
            .host_path(&target)
            .resume(true)
    };
    // The first answer is cut: the fail object is WeChat's two fields.
    let cut = client.download(opts()).await;
    let v = download::result(&cut);
    let msg = v["errMsg"].as_str().unwrap();
    assert!(
        msg.starts_with("downloadFile:fail network interrupted"),
        "{v}"
    );
    assert_eq!(v.as_object().unwrap().len(), 2, "{v}");
    assert_eq!(v["errno"], 600001, "{v}"); // ERRNO.md: network interrupted
                                           // Continued from the bytes held: `resumedFrom` says from where.
    let resumed = client.download(opts()).await;
    let v = download::result(&resumed);
    assert_eq!(v["errMsg"], "downloadFile:ok");
    assert_eq!(v["resumedFrom"], 40_000, "{v}");
    assert_eq!(v["dataLength"], 100_000, "{v}");
    assert_eq!(std::fs::read(&target).unwrap(), *data);
    // From the start: no `resumedFrom` at all.
    let v = download::result(&client.download(opts()).await);
    assert_eq!(v["statusCode"], 200);
    assert!(v.get("resumedFrom").is_none(), "{v}");
}
