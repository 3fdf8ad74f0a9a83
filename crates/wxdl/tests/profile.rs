//! The profile against real servers: field names, order, staged delays, TLS phases, byte
//! counts, peer facts, and the network-quality estimator.

use wxdl_testkit::engine as common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{ok, Env};
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use wxdl::{DownloadOptions, Profile};
use wxdl_testkit::raw::read_head;
use wxdl_testkit::{write_random, Nginx, RawServer, TestCa};

/// contract §7's instants, in the order they must hold.
const ORDER: [&str; 14] = wxdl::Profile::ORDERED_INSTANTS;

const ALL_FIELDS: [&str; 33] = [
    "invokeStart",
    "queueStart",
    "queueEnd",
    "redirectStart",
    "redirectEnd",
    "fetchStart",
    "domainLookUpStart",
    "domainLookUpEnd",
    "domainLookupStart",
    "domainLookupEnd",
    "httpDNSDomainLookUpStart",
    "httpDNSDomainLookUpEnd",
    "connectStart",
    "SSLconnectionStart",
    "SSLconnectionEnd",
    "connectEnd",
    "requestStart",
    "requestEnd",
    "responseStart",
    "responseEnd",
    "rtt",
    "estimate_nettype",
    "httpRttEstimate",
    "transportRttEstimate",
    "downstreamThroughputKbpsEstimate",
    "throughputKbps",
    "peerIP",
    "port",
    "socketReused",
    "sendBytesCount",
    "receivedBytedCount",
    "protocol",
    "usingHighPerformanceMode",
];

fn json(p: &Profile) -> Value {
    serde_json::to_value(p).unwrap()
}

/// Every field present; the instants ordered (0 allowed only for the TLS pair on plain HTTP);
/// epoch values near now.
fn check_shape(p: &Profile, tls: bool) {
    let v = json(p);
    let obj = v.as_object().unwrap();
    for f in ALL_FIELDS {
        assert!(obj.contains_key(f), "missing {f}");
    }
    assert_eq!(obj.len(), ALL_FIELDS.len(), "{:?}", obj.keys());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1000.0;
    let mut last = 0.0;
    for f in ORDER {
        let t = v[f].as_f64().unwrap();
        if !tls && f.starts_with("SSL") {
            assert_eq!(t, 0.0, "{f} on plain HTTP");
            continue;
        }
        assert!(t >= last, "{f} = {t} before {last}");
        assert!(
            (now - t).abs() < 120_000.0,
            "{f} = {t} is not near now ({now})"
        );
        last = t;
    }
    assert_eq!(p.domain_look_up_start, p.domain_lookup_start);
    assert_eq!(p.domain_look_up_end, p.domain_lookup_end);
}

fn near(actual: f64, expected: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= 30.0,
        "{what}: {actual:.1} ms, expected {expected} ± 30"
    );
}

/// A server that waits 150 ms before the head, then sends half the body, waits 100 ms, and
/// sends the rest.
async fn staged() -> RawServer {
    RawServer::start(|mut s, _| async move {
        read_head(&mut s).await;
        tokio::time::sleep(Duration::from_millis(150)).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 200000\r\nContent-Type: application/octet-stream\r\n\r\n")
            .await;
        let _ = s.write_all(&[1u8; 100_000]).await;
        let _ = s.flush().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let _ = s.write_all(&[2u8; 100_000]).await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staged_delays_land_in_their_intervals() {
    let server = staged().await;
    let env = Env::new();
    let client = env.client(&[]);
    let s = ok(client
        .download(DownloadOptions::new(server.url("/staged")))
        .await);
    let p = s.profile.unwrap();
    check_shape(&p, false);
    near(p.response_start - p.request_end, 150.0, "wait for the head");
    near(p.response_end - p.response_start, 100.0, "body");
    assert!(p.request_end - p.request_start < 30.0);
    assert_eq!(
        (p.peer_ip.as_str(), p.port),
        ("127.0.0.1", server.addr.port())
    );
    assert_eq!(p.protocol, "http1.1");
    assert!(!p.socket_reused);
    assert!(p.rtt > 0.0 && p.rtt < 50.0, "loopback rtt {}", p.rtt);
    assert!(
        p.send_bytes_count > 100 && p.send_bytes_count < 4096,
        "{}",
        p.send_bytes_count
    );
    let body = 200_000;
    assert!(p.received_byted_count >= body && p.received_byted_count <= body + 4096);
    let expected_kbps = body as f64 * 8.0 / (p.response_end - p.response_start);
    assert!((p.throughput_kbps - expected_kbps).abs() < 1.0);
    // One download: the estimates are its own observations.
    near(p.http_rtt_estimate, 150.0, "http rtt estimate");
    assert!(p.transport_rtt_estimate > 0.0);
    assert!(p.downstream_throughput_kbps_estimate > 0.0);
    assert_eq!(
        p.estimate_nettype, 5,
        "150 ms is 4g by Chromium's thresholds"
    );
    // The HAR record agrees with the profile.
    let hop = &s.hops[0];
    near(hop.timings.wait, 150.0, "HAR wait");
    near(hop.timings.receive, 100.0, "HAR receive");
    assert_eq!(hop.timings.ssl, -1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_tls_phases_lie_inside_connect() {
    let ca = TestCa::new();
    let nginx = Nginx::builder().tls(&ca).start();
    write_random(&nginx.root.join("t.bin"), 100_000);
    let env = Env::new();
    let client = env.trusting(&[nginx.https_port], &ca).build().unwrap();
    let url = nginx.https_url("wxdl.test", "/t.bin");
    let first = ok(client.download(DownloadOptions::new(&url)).await)
        .profile
        .unwrap();
    check_shape(&first, true);
    assert!(first.connect_start <= first.ssl_connection_start);
    assert!(first.ssl_connection_start < first.ssl_connection_end);
    assert!(first.ssl_connection_end <= first.connect_end);
    assert!(first.received_byted_count >= 100_000 && first.received_byted_count <= 104_096);
    let second = ok(client.download(DownloadOptions::new(&url)).await)
        .profile
        .unwrap();
    assert!(second.socket_reused);
    for t in [
        second.domain_look_up_start,
        second.domain_look_up_end,
        second.connect_start,
        second.connect_end,
    ] {
        assert_eq!(t, second.fetch_start);
    }
    assert_eq!(
        (second.ssl_connection_start, second.ssl_connection_end),
        (0.0, 0.0)
    );
    check_shape(&second, false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn estimator_follows_staged_rtts_and_survives_restart() {
    let nginx = Nginx::start();
    let slow = RawServer::start(|mut s, _| async move {
        read_head(&mut s).await;
        tokio::time::sleep(Duration::from_millis(320)).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .await;
    })
    .await;
    let env = Env::new();
    let client = env.client(&[]);
    assert_eq!(
        client.network_quality().effective_type.as_number(),
        0,
        "unknown before any sample"
    );
    let mut p = None;
    for _ in 0..3 {
        p = ok(client
            .download(DownloadOptions::new(nginx.url("/hello.txt")))
            .await)
        .profile;
    }
    let fast = p.take().unwrap();
    assert_eq!(fast.estimate_nettype, 5);
    assert!(fast.http_rtt_estimate < 100.0);
    for _ in 0..4 {
        p = ok(client.download(DownloadOptions::new(slow.url("/x"))).await).profile;
    }
    let slowed = p.unwrap();
    assert!(
        slowed.http_rtt_estimate >= 300.0,
        "{}",
        slowed.http_rtt_estimate
    );
    assert_eq!(slowed.estimate_nettype, 4, "over 272 ms is 3g");

    // Persisted and restored, the estimates are the same.
    let state = client.estimator_state();
    let text = serde_json::to_string(&state).unwrap();
    let restored = env
        .builder(&[])
        .estimator_state(serde_json::from_str(&text).unwrap())
        .build()
        .unwrap();
    assert_eq!(restored.network_quality(), client.network_quality());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_can_be_disabled() {
    let nginx = Nginx::start();
    let env = Env::new();
    let s = ok(env
        .client(&[])
        .download(DownloadOptions::new(nginx.url("/hello.txt")).enable_profile(false))
        .await);
    assert!(s.profile.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_hops_are_recorded() {
    let nginx = Nginx::start();
    let env = Env::new();
    let s = ok(env
        .client(&[nginx.http_port])
        .download(DownloadOptions::new(nginx.url("/hops/2")))
        .await);
    assert_eq!(s.hops.len(), 3);
    assert_eq!(s.hops[0].status_code, 302);
    assert!(s.hops[0]
        .redirect_url
        .as_deref()
        .unwrap()
        .ends_with("/hops/1"));
    assert_eq!(s.hops[2].status_code, 200);
    assert!(s.hops[1].socket_reused && s.hops[2].socket_reused);
    let p = s.profile.unwrap();
    assert!(p.redirect_start <= p.redirect_end && p.redirect_end <= p.fetch_start);
    check_shape(&p, false);
}
