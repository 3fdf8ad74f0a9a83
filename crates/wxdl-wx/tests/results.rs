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
