//! HTTP/2 against a real nginx (`listen … ssl http2`): ALPN only when enabled, multiplexing over
//! one connection, and abort/timeout on streams.

use wxdl_testkit::engine as common;

use std::time::Duration;

use common::{fail, ok, started_streaming, Env};
use wxdl::{Client, DownloadOptions, FailReason};
use wxdl_testkit::{sha256_file, write_random, Nginx, TestCa};

fn setup() -> (TestCa, Nginx, Env) {
    let ca = TestCa::new();
    let nginx = Nginx::builder().tls(&ca).start();
    (ca, nginx, Env::new())
}

fn client(env: &Env, ca: &TestCa, nginx: &Nginx) -> Client {
    env.trusting(&[nginx.https_port], ca).build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2_only_when_enabled_and_byte_identical() {
    let (ca, nginx, env) = setup();
    let sha = write_random(&nginx.root.join("big.bin"), 20 * 1024 * 1024);
    let client = client(&env, &ca, &nginx);
    let url = nginx.https_url("wxdl.test", "/big.bin");

    let s = ok(client
        .download(DownloadOptions::new(&url).enable_http2(true))
        .await);
    assert_eq!(sha256_file(&s.saved_path), sha);
    let p = s.profile.unwrap();
    assert_eq!(p.protocol, "h2");
    assert!(p.ssl_connection_start > 0.0);
    let body = 20 * 1024 * 1024;
    assert!(p.received_byted_count >= body && p.received_byted_count <= body + 4096);
    assert_eq!(s.hops[0].http_version, "h2");

    let s = ok(client.download(DownloadOptions::new(&url)).await);
    assert_eq!(sha256_file(&s.saved_path), sha);
    assert_eq!(
        s.profile.unwrap().protocol,
        "http1.1",
        "ALPN offers h2 only when enabled"
    );

    // Redirects over h2 keep to the one connection.
    let s = ok(client
        .download(DownloadOptions::new(nginx.https_url("wxdl.test", "/hops/3")).enable_http2(true))
        .await);
    assert_eq!(s.status_code, 200);
    assert!(s
        .hops
        .iter()
        .all(|h| h.http_version == "h2" && h.socket_reused));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_h2_downloads_share_one_connection() {
    let (ca, nginx, env) = setup();
    let client = client(&env, &ca, &nginx);
    let url = nginx.https_url("wxdl.test", "/conn");
    let tasks: Vec<_> = (0..10)
        .map(|_| client.download(DownloadOptions::new(&url).enable_http2(true)))
        .collect();
    let mut conns = Vec::new();
    let mut reused = 0;
    for t in tasks {
        let s = ok(t.await);
        let p = s.profile.unwrap();
        assert_eq!(p.protocol, "h2");
        reused += usize::from(p.socket_reused);
        conns.push(std::fs::read_to_string(&s.saved_path).unwrap());
    }
    conns.dedup();
    assert_eq!(conns.len(), 1, "nginx saw these connections: {conns:?}");
    assert_eq!(
        reused, 9,
        "the first stream opened the connection, the rest reused it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_and_timeout_on_h2_streams() {
    let (ca, nginx, env) = setup();
    write_random(&nginx.root.join("slow/s.bin"), 4 * 1024 * 1024);
    let client = client(&env, &ca, &nginx);
    let slow = nginx.https_url("wxdl.test", "/slow/s.bin");
    let task = started_streaming(&client, DownloadOptions::new(&slow).enable_http2(true)).await;
    task.abort();
    fail(task.await, FailReason::Abort);

    fail(
        client
            .download(
                DownloadOptions::new(&slow)
                    .enable_http2(true)
                    .timeout(Duration::from_millis(400)),
            )
            .await,
        FailReason::Timeout,
    );
    assert!(env.files().is_empty(), "{:?}", env.files());
    // The connection still serves other streams.
    let s = ok(client
        .download(
            DownloadOptions::new(nginx.https_url("wxdl.test", "/hello.txt")).enable_http2(true),
        )
        .await);
    assert_eq!(
        std::fs::read_to_string(&s.saved_path).unwrap(),
        "hello from nginx\n"
    );
}
