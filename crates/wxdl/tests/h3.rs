//! HTTP/3 over QUIC against a real Caddy and an in-process quinn/h3 server: the hint, Alt-Svc
//! discovery, fallback to TCP, and failures on QUIC streams.

use wxdl_testkit::engine as common;

use std::time::{Duration, Instant};

use common::{fail, ok, started_streaming, Env};
use wxdl::{Client, DownloadOptions, FailReason};

/// The client's default bound on a QUIC handshake before it falls back to TCP.
const QUIC_HANDSHAKE_BOUND: Duration = Duration::from_secs(1);
use wxdl_testkit::{sha256_file, write_random, Caddy, H3Behavior, H3Server, Nginx, TestCa};

/// A client trusting the test CA. The handshake bound is generous so a loaded CI machine does
/// not turn a slow handshake into a fallback; the fallback test uses the default bound.
fn h3_client(env: &Env, ca: &TestCa, port: u16) -> Client {
    env.trusting(&[port], ca)
        .quic_handshake_timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caddy_over_quic_with_the_hint() {
    let ca = TestCa::new();
    let caddy = Caddy::start(&ca);
    let sha = write_random(&caddy.root.join("big.bin"), 20 * 1024 * 1024);
    let env = Env::new();
    let client = h3_client(&env, &ca, caddy.port);
    let url = caddy.url("wxdl.test", "/big.bin");
    let s = ok(client
        .download(DownloadOptions::new(&url).enable_quic(true).quic_hint(true))
        .await);
    assert_eq!(sha256_file(&s.saved_path), sha);
    let p = s.profile.unwrap();
    assert_eq!(p.protocol, "quic");
    assert_eq!(p.port, caddy.port);
    assert_eq!(
        p.connect_start, p.ssl_connection_start,
        "the QUIC handshake is the SSL phase"
    );
    assert_eq!(p.connect_end, p.ssl_connection_end);
    assert!(p.connect_end > p.connect_start);
    assert!(p.rtt > 0.0, "QUIC path RTT");
    assert_eq!(s.hops[0].http_version, "h3");
    // The same origin over the shared QUIC connection.
    let s = ok(client
        .download(
            DownloadOptions::new(caddy.url("wxdl.test", "/hello.txt"))
                .enable_quic(true)
                .quic_hint(true),
        )
        .await);
    let p = s.profile.unwrap();
    assert_eq!(p.protocol, "quic");
    assert!(p.socket_reused);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alt_svc_learned_over_h2_moves_the_next_download_to_quic_only_when_enabled() {
    let ca = TestCa::new();
    let caddy = Caddy::start(&ca);
    let env = Env::new();
    let client = h3_client(&env, &ca, caddy.port);
    let url = caddy.url("wxdl.test", "/hello.txt");
    let first = ok(client
        .download(
            DownloadOptions::new(&url)
                .enable_http2(true)
                .enable_quic(true),
        )
        .await);
    assert_eq!(
        first.profile.unwrap().protocol,
        "h2",
        "nothing known yet: TCP"
    );
    assert!(first
        .header
        .get("alt-svc")
        .is_some_and(|v| v.contains("h3=")));
    let without = ok(client
        .download(DownloadOptions::new(&url).enable_http2(true))
        .await);
    assert_eq!(
        without.profile.unwrap().protocol,
        "h2",
        "never QUIC unless enabled"
    );
    let second = ok(client
        .download(DownloadOptions::new(&url).enable_quic(true))
        .await);
    assert_eq!(
        second.profile.unwrap().protocol,
        "quic",
        "learned from Alt-Svc"
    );
    // What was learned can be persisted and restored.
    let saved = client.alt_svc_state();
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].h3_port, caddy.port);
    let restored = env
        .trusting(&[caddy.port], &ca)
        .quic_handshake_timeout(Duration::from_secs(10))
        .alt_svc_state(saved)
        .build()
        .unwrap();
    let s = ok(restored
        .download(DownloadOptions::new(&url).enable_quic(true))
        .await);
    assert_eq!(s.profile.unwrap().protocol, "quic");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_quic_listener_falls_back_to_tcp_and_remembers() {
    // nginx speaks only TCP: the UDP port has nobody behind it.
    let ca = TestCa::new();
    let nginx = Nginx::builder().tls(&ca).start();
    let env = Env::new();
    let client = env.trusting(&[nginx.https_port], &ca).build().unwrap();
    let url = nginx.https_url("wxdl.test", "/hello.txt");
    let start = Instant::now();
    let s = ok(client
        .download(
            DownloadOptions::new(&url)
                .enable_http2(true)
                .enable_quic(true)
                .quic_hint(true),
        )
        .await);
    let took = start.elapsed();
    assert_eq!(s.profile.unwrap().protocol, "h2");
    assert!(
        took < QUIC_HANDSHAKE_BOUND + Duration::from_secs(3),
        "bounded extra delay: {took:?}"
    );
    // The failure is remembered: the next download does not wait for QUIC again.
    let start = Instant::now();
    let s = ok(client
        .download(DownloadOptions::new(&url).enable_quic(true).quic_hint(true))
        .await);
    assert!(
        start.elapsed() < QUIC_HANDSHAKE_BOUND,
        "went straight to TCP"
    );
    assert_eq!(s.profile.unwrap().protocol, "http1.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quic_stream_reset_mid_body_is_network_interrupted() {
    let ca = TestCa::new();
    let server = H3Server::start(
        &ca,
        H3Behavior::ResetAfter {
            len: 1 << 20,
            sent: 200_000,
        },
    )
    .await;
    let env = Env::new();
    let client = h3_client(&env, &ca, server.addr.port());
    let out = env.dir.path().join("keep.bin");
    std::fs::write(&out, b"old").unwrap();
    let opts = DownloadOptions::new(server.url("wxdl.test", "/x"))
        .enable_quic(true)
        .quic_hint(true);
    fail(
        client.download(opts.clone().host_path(&out)).await,
        FailReason::NetworkInterrupted,
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"old");
    common::assert_no_partial(env.dir.path());
    // No TCP fallback after the first response byte: the failure is the download's.
    fail(client.download(opts).await, FailReason::NetworkInterrupted);
    assert!(env.files().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_and_timeout_over_quic() {
    let ca = TestCa::new();
    let server = H3Server::start(
        &ca,
        H3Behavior::StallAfter {
            len: 1 << 20,
            sent: 100_000,
        },
    )
    .await;
    let env = Env::new();
    let client = h3_client(&env, &ca, server.addr.port());
    let url = server.url("wxdl.test", "/x");
    let opts = DownloadOptions::new(&url).enable_quic(true).quic_hint(true);
    let task = started_streaming(&client, opts).await;
    task.abort();
    fail(task.await, FailReason::Abort);
    fail(
        client
            .download(
                DownloadOptions::new(&url)
                    .enable_quic(true)
                    .quic_hint(true)
                    .timeout(Duration::from_millis(500)),
            )
            .await,
        FailReason::Timeout,
    );
    assert!(env.files().is_empty(), "{:?}", env.files());
    let ok_server = H3Server::start(&ca, H3Behavior::Body { len: 300_000 }).await;
    let fresh = h3_client(&env, &ca, ok_server.addr.port());
    let s = ok(fresh
        .download(
            DownloadOptions::new(ok_server.url("wxdl.test", "/y"))
                .enable_quic(true)
                .quic_hint(true),
        )
        .await);
    assert_eq!(s.data_length, 300_000);
    assert_eq!(s.profile.unwrap().protocol, "quic");
}

/// The client's rate limit holds HTTP/3 bodies as it holds TCP's (quinn reads its datagrams
/// itself, so the body is gated before each read and quinn's receive windows are bounded): a
/// split download from Caddy (four streams on one QUIC connection) and a single one from the
/// in-process quinn server take at least what their bytes take at the rate. A lower bound
/// only, as flow.rs's rate tests: a functional check, not a performance figure. Without the
/// gate the split one came at loopback speed (0.32 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clients_rate_limit_holds_quic_bodies_single_and_split() {
    let rate: u64 = 2 * 1024 * 1024;
    let ca = TestCa::new();
    let env = Env::new();
    // One limited client per server; the download over QUIC and how long it took.
    let limited = |port: u16, opts: DownloadOptions| {
        let client = env
            .trusting(&[port], &ca)
            .quic_handshake_timeout(Duration::from_secs(10))
            .rate_limit(rate)
            .build()
            .unwrap();
        async move {
            let start = Instant::now();
            let s = ok(client
                .download(opts.enable_quic(true).quic_hint(true))
                .await);
            (s, start.elapsed())
        }
    };

    let caddy = Caddy::start(&ca);
    let size: u64 = 4 * 1024 * 1024;
    let sha = write_random(&caddy.root.join("s.bin"), size);
    let url = caddy.url("wxdl.test", "/s.bin");
    let opts = DownloadOptions::new(&url).split(4).integrity(sha.clone());
    let (s, took) = limited(caddy.port, opts).await;
    assert_eq!(sha256_file(&s.saved_path), sha);
    let mut statuses: Vec<u16> = s.hops.iter().map(|h| h.status_code).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 206, 206, 206]);
    assert!(
        s.hops.iter().all(|h| h.http_version == "h3"),
        "{:?}",
        s.hops
    );
    // 4 MiB at 2 MiB/s: the bucket starts empty and no second reads more than the rate and
    // 64 KiB, so not under 1.9 s.
    assert!(took >= Duration::from_millis(1900), "{took:?}");

    let server = H3Server::start(&ca, H3Behavior::Body { len: 1 << 20 }).await;
    let opts = DownloadOptions::new(server.url("wxdl.test", "/one"));
    let (s, took) = limited(server.addr.port(), opts).await;
    assert_eq!(s.data_length, 1 << 20);
    assert_eq!(s.profile.unwrap().protocol, "quic");
    // 1 MiB at 2 MiB/s: not under 0.45 s.
    assert!(took >= Duration::from_millis(450), "{took:?}");
}
