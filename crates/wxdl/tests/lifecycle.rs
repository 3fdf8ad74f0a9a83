//! Connections belong to their `Client`: kept alive between downloads, and closed when the
//! client is dropped — HTTP/1.1 and HTTP/2 counted at a real nginx, HTTP/3 at an in-process
//! quinn server.

use wxdl_testkit::engine as common;

use std::time::{Duration, Instant};

use common::{ok, Env};
use wxdl::DownloadOptions;
use wxdl_testkit::{H3Behavior, H3Server, Nginx, TestCa};

/// Polls `f` until it returns true, for at most 10 s.
async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "{what} within 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_client_closes_its_tcp_connections() {
    let ca = TestCa::new();
    let nginx = Nginx::builder().tls(&ca).start();
    let env = Env::new();
    assert_eq!(nginx.active_connections(), 0);
    let client = env.trusting(&[nginx.https_port], &ca).build().unwrap();
    ok(client
        .download(DownloadOptions::new(nginx.url("/hello.txt")))
        .await);
    ok(client
        .download(
            DownloadOptions::new(nginx.https_url("wxdl.test", "/hello.txt")).enable_http2(true),
        )
        .await);
    // Both kept alive for the next download: one HTTP/1.1, one HTTP/2.
    assert_eq!(nginx.active_connections(), 2);
    let clone = client.clone();
    drop(client);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(nginx.active_connections(), 2, "a clone keeps the pool");
    drop(clone);
    eventually("nginx sees both connections closed", || {
        nginx.active_connections() == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_client_closes_its_quic_connection() {
    let ca = TestCa::new();
    let server = H3Server::start(&ca, H3Behavior::Body { len: 1000 }).await;
    let env = Env::new();
    let client = env
        .trusting(&[server.addr.port()], &ca)
        .quic_handshake_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let s = ok(client
        .download(
            DownloadOptions::new(server.url("wxdl.test", "/x"))
                .enable_quic(true)
                .quic_hint(true),
        )
        .await);
    assert_eq!(s.profile.unwrap().protocol, "quic");
    assert_eq!(server.open_connections(), 1);
    drop(client);
    eventually("the server sees the QUIC connection closed", || {
        server.open_connections() == 0
    })
    .await;
}
