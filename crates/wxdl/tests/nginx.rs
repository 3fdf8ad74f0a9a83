//! Downloads against a real nginx on loopback: statuses, redirects, headers, coding, TLS, reuse.

use wxdl_testkit::engine as common;

use std::sync::{Arc, Mutex};

use common::{fail, ok, Env};
use wxdl::{DownloadOptions, Event, FailReason, Progress};
use wxdl_testkit::{sha256_file, write_random, write_sparse, Nginx, TestCa};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ok_200_is_byte_identical_with_events() {
    let nginx = Nginx::start();
    let sha = write_random(&nginx.root.join("f.bin"), 4 * 1024 * 1024 + 7);
    let env = Env::new();
    let client = env.client(&[]);
    let progress = Arc::new(Mutex::new(Vec::<Progress>::new()));
    let p2 = Arc::clone(&progress);
    let task = client.download(
        DownloadOptions::new(nginx.url("/f.bin"))
            .on_progress_update(move |p| p2.lock().unwrap().push(*p)),
    );
    let mut events = task.events();
    let s = ok(task.await);
    assert_eq!(s.status_code, 200);
    assert_eq!(s.data_length, 4 * 1024 * 1024 + 7);
    let tmp = s.temp_file_path.clone().unwrap();
    assert!(
        tmp.starts_with("wxfile://tmp_") && tmp.ends_with(".bin"),
        "{tmp}"
    );
    assert_eq!(client.sandbox().resolve(&tmp).unwrap(), s.saved_path);
    assert_eq!(sha256_file(&s.saved_path), sha);
    assert_eq!(
        s.header["content-length"],
        (4 * 1024 * 1024 + 7).to_string()
    );
    let progress = progress.lock().unwrap().clone();
    let last = progress.last().unwrap();
    assert_eq!(
        (last.progress, last.total_bytes_written),
        (100, s.data_length)
    );
    assert_eq!(last.total_bytes_expected_to_write, s.data_length);
    assert!(progress
        .windows(2)
        .all(|w| w[0].total_bytes_written <= w[1].total_bytes_written));
    // The stream ends with the task; its progress events are in order.
    let mut written = 0;
    while let Some(ev) = events.next().await {
        if let Event::Progress(p) = ev {
            assert!(p.total_bytes_written >= written);
            written = p.total_bytes_written;
        }
    }
    assert_eq!(s.status_code, 200);
    assert_eq!(s.temp_file_path.as_deref(), Some(tmp.as_str()));
    let profile = serde_json::to_value(s.profile.as_ref().unwrap()).unwrap();
    assert!(profile["fetchStart"].as_f64().unwrap() > 1.7e12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_errors_are_successes_with_their_body() {
    let nginx = Nginx::start();
    let env = Env::new();
    let client = env.client(&[]);
    for (path, status, body) in [
        ("/status/404", 404, "not found body\n"),
        ("/status/500", 500, "server error body\n"),
    ] {
        let s = ok(client.download(DownloadOptions::new(nginx.url(path))).await);
        assert_eq!(s.status_code, status);
        assert_eq!(std::fs::read_to_string(&s.saved_path).unwrap(), body);
    }
    // A missing file: nginx's own 404 page is still a success.
    let s = ok(client
        .download(DownloadOptions::new(nginx.url("/nope.bin")))
        .await);
    assert_eq!(s.status_code, 404);
    assert!(s.data_length > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_follow_up_to_fifteen() {
    let nginx = Nginx::start();
    let env = Env::new();
    let client = env.client(&[]);
    for hops in [1, 3, 15] {
        let s = ok(client
            .download(DownloadOptions::new(nginx.url(&format!("/hops/{hops}"))))
            .await);
        assert_eq!(s.status_code, 200, "{hops} hops");
        assert_eq!(
            std::fs::read_to_string(&s.saved_path).unwrap(),
            "hello from nginx\n"
        );
        let p = s.profile.unwrap();
        assert!(p.redirect_start > 0.0 && p.redirect_end >= p.redirect_start);
    }
    let before = env.files();
    fail(
        client
            .download(DownloadOptions::new(nginx.url("/hops/16")))
            .await,
        FailReason::TooManyRedirects,
    );
    fail(
        client
            .download(DownloadOptions::new(nginx.url("/loop")))
            .await,
        FailReason::TooManyRedirects,
    );
    fail(
        client
            .download(DownloadOptions::new(nginx.url("/to-ftp")))
            .await,
        FailReason::InvalidUrl,
    );
    fail(
        client
            .download(DownloadOptions::new(nginx.url("/to-file")))
            .await,
        FailReason::InvalidUrl,
    );
    assert_eq!(env.files(), before, "a failed redirect leaves nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_headers_referer_ua_and_cross_origin_credentials() {
    let nginx = Nginx::start();
    let env = Env::new();
    let client = env
        .builder(&[nginx.http_port])
        .appid("wx123")
        .app_version("7")
        .build()
        .unwrap();
    let echo = |s: &wxdl::Success| std::fs::read_to_string(&s.saved_path).unwrap();
    let s = ok(client
        .download(
            DownloadOptions::new(nginx.url("/echo"))
                .header("Referer", "https://evil.example/")
                .header("X-Test", "yes")
                .header("Authorization", "Bearer t")
                .header("Cookie", "a=b"),
        )
        .await);
    let body = echo(&s);
    assert!(
        body.contains("referer=https://servicewechat.com/wx123/7/page-frame.html\n"),
        "{body}"
    );
    assert!(
        body.contains("x=yes\n")
            && body.contains("auth=Bearer t\n")
            && body.contains("cookie=a=b\n")
    );
    assert!(
        body.contains("MiniProgramEnv/") && body.contains("wxdl/"),
        "{body}"
    );
    assert!(body.contains("ae=identity\n"), "{body}");

    // Cross-origin hop: credentials dropped, the rest kept.
    let s = ok(client
        .download(
            DownloadOptions::new(nginx.url("/cross"))
                .header("X-Test", "yes")
                .header("Authorization", "Bearer t")
                .header("Cookie", "a=b")
                .header("User-Agent", "custom/1"),
        )
        .await);
    let body = echo(&s);
    assert!(
        body.contains("auth=\n") && body.contains("cookie=\n"),
        "{body}"
    );
    assert!(
        body.contains("x=yes\n") && body.contains("ua=custom/1\n"),
        "{body}"
    );
    let p = s.profile.unwrap();
    assert_eq!(
        (p.redirect_start, p.redirect_end),
        (0.0, 0.0),
        "cross-origin chain"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_coding_is_decoded_only_when_asked() {
    let nginx = Nginx::start();
    let text: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
    std::fs::write(nginx.root.join("gz/t.txt"), &text).unwrap();
    let env = Env::new();
    let client = env.client(&[]);
    let s = ok(client
        .download(DownloadOptions::new(nginx.url("/gz/t.txt")).header("Accept-Encoding", "gzip"))
        .await);
    assert_eq!(
        s.header.get("content-encoding").map(String::as_str),
        Some("gzip")
    );
    assert_eq!(std::fs::read_to_string(&s.saved_path).unwrap(), text);
    assert_eq!(s.data_length, text.len() as u64);
    // Without the caller asking, identity is requested and stored as is.
    let s = ok(client
        .download(DownloadOptions::new(nginx.url("/gz/t.txt")))
        .await);
    assert!(!s.header.contains_key("content-encoding"));
    assert_eq!(std::fs::read_to_string(&s.saved_path).unwrap(), text);
    // The cap counts decoded bytes.
    fail(
        client
            .download(
                DownloadOptions::new(nginx.url("/gz/t.txt"))
                    .header("Accept-Encoding", "gzip")
                    .max_bytes(10_000),
            )
            .await,
        FailReason::ExceedMaxFileSize,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cap_by_content_length_keeps_existing_file() {
    let nginx = Nginx::start();
    write_sparse(&nginx.root.join("huge.bin"), 210_000_000);
    let env = Env::new();
    let client = env.client(&[]);
    let out = env.dir.path().join("out.bin");
    std::fs::write(&out, b"precious").unwrap();
    let f = fail(
        client
            .download(DownloadOptions::new(nginx.url("/huge.bin")).host_path(&out))
            .await,
        FailReason::ExceedMaxFileSize,
    );
    assert_eq!(f.errno(), 603301);
    assert_eq!(std::fs::read(&out).unwrap(), b"precious");
    common::assert_no_partial(env.dir.path());
    fail(
        client
            .download(DownloadOptions::new(nginx.url("/huge.bin")))
            .await,
        FailReason::ExceedMaxFileSize,
    );
    assert!(env.files().is_empty(), "{:?}", env.files());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temp_extension_from_content_type_and_user_paths() {
    let nginx = Nginx::builder()
        .location("location /audio/ { default_type audio/mpeg; }")
        .location("location = /get.php { types { } default_type application/pdf; }")
        .start();
    write_random(&nginx.root.join("audio/123"), 1000);
    write_random(&nginx.root.join("get.php"), 1000);
    let env = Env::new();
    let client = env.client(&[]);
    let s = ok(client
        .download(DownloadOptions::new(nginx.url("/audio/123")))
        .await);
    assert!(s.temp_file_path.unwrap().ends_with(".mp3"));
    // The media type comes first, as in WeChat's client: a PHP script serving a PDF.
    let s = ok(client
        .download(DownloadOptions::new(nginx.url("/get.php?id=7")))
        .await);
    let tmp = s.temp_file_path.unwrap();
    assert!(tmp.ends_with(".pdf"), "{tmp}");

    std::fs::create_dir(client.sandbox().usr_dir().join("music")).unwrap();
    let s = ok(client
        .download(
            DownloadOptions::new(nginx.url("/audio/123")).file_path("wxfile://usr/music/a.mp3"),
        )
        .await);
    assert_eq!(s.file_path.as_deref(), Some("wxfile://usr/music/a.mp3"));
    assert!(s.temp_file_path.is_none());
    assert_eq!(s.file_path.as_deref(), Some("wxfile://usr/music/a.mp3"));
    assert_eq!(
        std::fs::metadata(client.sandbox().usr_dir().join("music/a.mp3"))
            .unwrap()
            .len(),
        1000
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_reuses_the_connection() {
    let nginx = Nginx::start();
    let env = Env::new();
    let client = env.client(&[]);
    let first = ok(client
        .download(DownloadOptions::new(nginx.url("/hello.txt")))
        .await);
    let second = ok(client
        .download(DownloadOptions::new(nginx.url("/hello.txt")))
        .await);
    let (p1, p2) = (first.profile.unwrap(), second.profile.unwrap());
    assert!(!p1.socket_reused);
    assert!(p2.socket_reused);
    assert_eq!(p2.domain_look_up_start, p2.fetch_start);
    assert_eq!(p2.connect_end, p2.fetch_start);
    assert_eq!(p1.peer_ip, "127.0.0.1");
    assert_eq!(p1.port, nginx.http_port);
    assert_eq!(p1.protocol, "http1.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_through_the_test_ca_and_not_without() {
    let ca = TestCa::new();
    let nginx = Nginx::builder().tls(&ca).start();
    let sha = write_random(&nginx.root.join("s.bin"), 300_000);
    let env = Env::new();
    let trusted = env.trusting(&[nginx.https_port], &ca).build().unwrap();
    for host in ["127.0.0.1", "wxdl.test"] {
        let s = ok(trusted
            .download(DownloadOptions::new(nginx.https_url(host, "/s.bin")))
            .await);
        assert_eq!(sha256_file(&s.saved_path), sha);
        let p = s.profile.unwrap();
        assert!(p.ssl_connection_start > 0.0 || p.socket_reused);
    }
    let untrusted = env.client(&[nginx.https_port]);
    fail(
        untrusted
            .download(DownloadOptions::new(nginx.https_url("127.0.0.1", "/s.bin")))
            .await,
        FailReason::SslHandshakeFail,
    );
    // The certificate does not name this host.
    let wrong = env
        .trusting(&[], &ca)
        .resolve("other.test", nginx.https_port, "127.0.0.1".parse().unwrap())
        .build()
        .unwrap();
    fail(
        wrong
            .download(DownloadOptions::new(
                nginx.https_url("other.test", "/s.bin"),
            ))
            .await,
        FailReason::SslHandshakeFail,
    );
}
