//! `Client::upload` against the testkit's echo server, which parses the multipart body part by
//! part: fields first, then the file streamed byte-exact in bounded chunks, its type from the
//! extension; progress coalesced to 100 %; WeChat's failures for a missing or forbidden file.

use wxdl_testkit::engine as common;

use std::sync::{Arc, Mutex};

use common::Env;
use serde_json::Value;
use wxdl::events::UploadProgress;
use wxdl::net::{Api, Policy};
use wxdl::upload::{UploadOptions, Uploaded};
use wxdl::{Client, Fail, FailReason};
use wxdl_testkit::{sha256_hex, Echo, TestCa};

fn ok(r: Result<Uploaded, Fail>) -> Uploaded {
    r.unwrap_or_else(|f| panic!("expected a response, got {f}"))
}

fn json(u: &Uploaded) -> Value {
    serde_json::from_slice(&u.response.body).unwrap()
}

fn put_file(client: &Client, name: &str, len: usize) -> Vec<u8> {
    let data: Vec<u8> = (0..len).map(|i| (i * 31 % 253) as u8).collect();
    let dir = client.sandbox().usr_dir();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), &data).unwrap();
    data
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fields_then_the_file_byte_exact_with_progress_over_h1_and_h2() {
    let ca = TestCa::new();
    let echo = Echo::start(&ca).await;
    let env = Env::new();
    let client = env.trusting(&[echo.https_port], &ca).build().unwrap();
    // Many times the send chunk: the file goes out in pieces, never whole.
    let data = put_file(&client, "photo.JPG", wxdl::transport::OUT_CHUNK * 64 + 1001);
    for (url, h2) in [
        (echo.url("/upload?x=1"), false),
        (echo.https_url("wxdl.test", "/upload?x=1"), true),
    ] {
        let seen = Arc::new(Mutex::new(Vec::<UploadProgress>::new()));
        let s = seen.clone();
        let done = ok(client
            .upload(
                UploadOptions::new(&url, "wxfile://usr/photo.JPG", "file")
                    .form_data("user", "42")
                    .form_data("album", "holidays")
                    .header("X-Token", "t")
                    .enable_http2(h2)
                    .on_progress_update(move |p| s.lock().unwrap().push(*p)),
            )
            .await);
        assert_eq!(done.response.status_code, 200);
        let j = json(&done);
        assert_eq!(j["method"], "POST");
        assert_eq!(j["version"], if h2 { "h2" } else { "HTTP/1.1" });
        assert_eq!(j["headers"]["x-token"], "t");
        let parts = j["parts"].as_array().unwrap();
        assert_eq!(parts.len(), 3, "{parts:?}");
        assert_eq!(
            (&parts[0]["name"], &parts[0]["value"]),
            (&"user".into(), &"42".into())
        );
        assert_eq!(
            (&parts[1]["name"], &parts[1]["value"]),
            (&"album".into(), &"holidays".into())
        );
        assert_eq!(parts[2]["name"], "file");
        assert_eq!(parts[2]["filename"], "photo.JPG");
        assert_eq!(parts[2]["content_type"], "image/jpeg");
        assert_eq!(parts[2]["len"], data.len());
        assert_eq!(parts[2]["sha256"], sha256_hex(&data));
        let total = j["body_len"].as_u64().unwrap();
        assert_eq!(j["headers"]["content-length"], total.to_string());

        let seen = seen.lock().unwrap();
        let last = seen.last().expect("progress events");
        assert_eq!(
            (
                last.progress,
                last.total_bytes_sent,
                last.total_bytes_expected_to_send
            ),
            (100, total, total)
        );
        assert!(seen
            .windows(2)
            .all(|w| w[0].total_bytes_sent <= w[1].total_bytes_sent));
        assert!(
            seen.len() <= 101 + 64,
            "coalesced, not one per chunk: {}",
            seen.len()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_path_any_status_and_the_upload_domain_list() {
    let ca = TestCa::new();
    let echo = Echo::start(&ca).await;
    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    let host = dir.path().join("notes.txt");
    std::fs::write(&host, b"plain text").unwrap();
    let client = env.client(&[]);
    let done = ok(client
        .upload(UploadOptions::new(echo.url("/status/500"), "", "doc").host_path(&host))
        .await);
    assert_eq!(done.response.status_code, 500, "any status is a success");
    let parts = json(&done)["parts"].clone();
    assert_eq!(parts[0]["filename"], "notes.txt");
    assert_eq!(parts[0]["content_type"], "text/plain");
    assert_eq!(parts[0]["value"], "plain text");

    let entry = format!("wxdl.test:{}", echo.https_port);
    let policy =
        Policy::strict_per_api(["cdn.example.com"], ["api.example.com"], [entry.as_str()]).unwrap();
    let client = env
        .trusting(&[echo.https_port], &ca)
        .policy(policy.clone())
        .build()
        .unwrap();
    put_file(&client, "a.bin", 10);
    let url = echo.https_url("wxdl.test", "/u");
    assert!(policy.check_str_for(Api::Upload, &url).is_ok());
    let done = ok(client
        .upload(UploadOptions::new(&url, "wxfile://usr/a.bin", "f"))
        .await);
    assert_eq!(
        json(&done)["parts"][0]["content_type"],
        "application/octet-stream"
    );
    let f = client
        .request(wxdl::request::RequestOptions::new(&url))
        .await
        .unwrap_err();
    assert_eq!(
        f.reason,
        FailReason::UrlNotInDomainList,
        "not in requestDomain"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_directory_and_escaping_files_fail_as_wechat_does() {
    let ca = TestCa::new();
    let echo = Echo::start(&ca).await;
    let env = Env::new();
    let client = env.client(&[]);
    let usr = client.sandbox().usr_dir().to_path_buf();
    std::fs::create_dir_all(usr.join("sub")).unwrap();
    let outside = tempfile::NamedTempFile::new().unwrap();
    std::os::unix::fs::symlink(outside.path(), usr.join("link.bin")).unwrap();
    for (path, reason) in [
        (
            "wxfile://usr/missing.jpg",
            FailReason::NoSuchFileOrDirectory,
        ),
        ("wxfile://usr/sub", FailReason::IllegalOperationOnDirectory),
        ("wxfile://usr/../escape.jpg", FailReason::PermissionDenied),
        ("/etc/passwd", FailReason::PermissionDenied),
        ("wxfile://usr/link.bin", FailReason::PermissionDenied),
    ] {
        let f = client
            .upload(UploadOptions::new(echo.url("/u"), path, "file"))
            .await
            .unwrap_err();
        assert_eq!(f.reason, reason, "{path}: {f}");
    }
    assert_eq!(echo.hits(), 0, "nothing was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_over_h3() {
    let ca = TestCa::new();
    let h3 = wxdl_testkit::H3Server::start(&ca, wxdl_testkit::H3Behavior::Echo).await;
    let env = Env::new();
    let client = env.trusting(&[h3.addr.port()], &ca).build().unwrap();
    let data = put_file(&client, "clip.mp4", wxdl::transport::OUT_CHUNK * 8 + 5);
    let done = ok(client
        .upload(
            UploadOptions::new(h3.url("wxdl.test", "/u"), "wxfile://usr/clip.mp4", "video")
                .form_data("k", "v")
                .enable_quic(true)
                .quic_hint(true),
        )
        .await);
    let j = json(&done);
    assert_eq!(j["version"], "h3");
    let parts = j["parts"].as_array().unwrap();
    assert_eq!(parts[1]["content_type"], "video/mp4");
    assert_eq!(parts[1]["sha256"], sha256_hex(&data));
    assert_eq!(done.response.profile.unwrap().protocol, "quic");
}
