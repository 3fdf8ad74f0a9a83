//! [beyond] Network emulation: the link's round trip, bandwidth, offline phases and timeline,
//! seen by the phases, the profile and the estimator, over TCP (nginx) and QUIC (an in-process
//! quinn/h3 server). These bounds are the emulation's function (how long a link of that kind
//! takes), generous on the slow side; `bench/netem.py` compares the model with the kernel's
//! netem.

use std::time::{Duration, Instant};

use wxdl::{
    quality::EffectiveConnectionType,
    transport::{Emulation, NetworkConditions},
    DownloadOptions, FailReason,
};
use wxdl_testkit::engine::{fail, ok, Env};
use wxdl_testkit::{sha256_file, write_random, H3Behavior, H3Server, Nginx, TestCa};

/// A client of `env` whose every connection goes through one emulated `link`.
fn over(env: &Env, link: NetworkConditions) -> wxdl::Client {
    env.builder(&[])
        .network(Emulation::new(link))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_megabyte_at_2000_kbps_and_200_ms_takes_what_the_link_allows() {
    let nginx = Nginx::start();
    let sha = write_random(&nginx.root.join("m.bin"), 1 << 20);
    let env = Env::new();
    let link = NetworkConditions::custom(2000, 500, 200);
    let client = over(&env, link);
    let start = Instant::now();
    let s = ok(client
        .download(DownloadOptions::new(nginx.url("/m.bin")))
        .await);
    let took = start.elapsed();
    assert_eq!(sha256_file(&s.saved_path), sha);
    // 8.39 Mbit at 2 Mbit/s is 4.19 s, plus the connect's and the request's round trips.
    assert!(
        took >= Duration::from_millis(4200) && took <= Duration::from_secs(7),
        "{took:?}"
    );
    let p = s.profile.unwrap();
    assert!(p.connect_end - p.connect_start >= 199.0, "connect {p:?}");
    assert!(
        p.response_start - p.request_start >= 199.0,
        "first byte {p:?}"
    );
    assert!((p.rtt - 200.0).abs() < 1.0, "the link's RTT: {}", p.rtt);
    assert!(
        p.throughput_kbps > 1500.0 && p.throughput_kbps < 2300.0,
        "{}",
        p.throughput_kbps
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_fails_at_once_and_a_timeline_brings_the_network_back() {
    let nginx = Nginx::start();
    let env = Env::new();
    let offline = NetworkConditions::preset("offline").unwrap();
    let client = env
        .builder(&[nginx.http_port])
        .network(Emulation::new(offline))
        .build()
        .unwrap();
    assert_eq!(client.network_type(), Some("none"));
    let start = Instant::now();
    let f = fail(
        client
            .download(DownloadOptions::new(format!(
                "http://wxdl.test:{}/hello.txt",
                nginx.http_port
            )))
            .await,
        FailReason::DnsResolveFail,
    );
    assert!(f.to_string().contains("offline"), "{f}");
    fail(
        client
            .download(DownloadOptions::new(nginx.url("/hello.txt")))
            .await,
        FailReason::ConnectFail,
    );
    assert!(start.elapsed() < Duration::from_millis(500), "at once");

    // Offline for 600 ms, then Wi-Fi: retries get through once the link is back.
    let timeline = Emulation::timeline("offline:600ms,wifi", None).unwrap();
    let client = env.builder(&[]).network(timeline).build().unwrap();
    assert_eq!(client.network_changes().len(), 1);
    let s = ok(client
        .download(
            DownloadOptions::new(nginx.url("/hello.txt"))
                .retry(10)
                .retry_delay(Duration::from_millis(100)),
        )
        .await);
    assert_eq!(std::fs::read(&s.saved_path).unwrap(), b"hello from nginx\n");
    assert_eq!(client.network_type(), Some("wifi"));
    assert!(s.hops.len() == 1, "the failed tries got no answer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_estimator_sees_3g_and_two_downloads_share_the_link() {
    let nginx = Nginx::start();
    write_random(&nginx.root.join("small.bin"), 8 * 1024);
    write_random(&nginx.root.join("half.bin"), 250_000);
    let env = Env::new();
    let g3 = NetworkConditions::preset("3g").unwrap();
    let client = over(&env, g3);
    for _ in 0..3 {
        ok(client
            .download(DownloadOptions::new(nginx.url("/small.bin")))
            .await);
    }
    let q = client.network_quality();
    assert_eq!(q.effective_type, EffectiveConnectionType::Type3g, "{q:?}");
    assert!(q.http_rtt_ms.unwrap() >= 400.0, "{q:?}");

    // Two bodies of 250 kB at 4000 kbit/s on one link: together about 1 s, not 0.5.
    let link = NetworkConditions::custom(4000, 0, 20);
    let client = over(&env, link);
    let start = Instant::now();
    let url = nginx.url("/half.bin");
    let (a, b) = tokio::join!(
        client.download(DownloadOptions::new(&url)),
        client.download(DownloadOptions::new(&url)),
    );
    ok(a);
    ok(b);
    assert!(
        start.elapsed() >= Duration::from_millis(950),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quic_datagrams_go_through_the_link_too() {
    let ca = TestCa::new();
    let server = H3Server::start(&ca, H3Behavior::Body { len: 200_000 }).await;
    let env = Env::new();
    let link = NetworkConditions::custom(8000, 0, 150).loss(0.02);
    let client = env
        .trusting(&[server.addr.port()], &ca)
        .quic_handshake_timeout(Duration::from_secs(10))
        .network(Emulation::new(link).seed(3))
        .build()
        .unwrap();
    let opts = DownloadOptions::new(server.url("wxdl.test", "/x"))
        .enable_quic(true)
        .quic_hint(true);
    let s = ok(client.download(opts).await);
    let p = s.profile.unwrap();
    assert_eq!(p.protocol, "quic");
    assert_eq!(s.data_length, 200_000);
    // The handshake and the first byte each pay the 150 ms round trip.
    assert!(p.connect_end - p.connect_start >= 149.0, "{p:?}");
    assert!(p.response_start - p.request_start >= 149.0, "{p:?}");
}
