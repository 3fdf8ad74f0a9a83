//! The library's surface as a Rust user meets it, against a real nginx: downloads started from
//! a thread with no tokio runtime, and an event stream opened late that misses nothing.

use wxdl_testkit::engine as common;

use std::time::Duration;

use common::{ok, Env};
use wxdl::{DownloadOptions, Event};
use wxdl_testkit::{sha256_file, write_random, Nginx};

#[test]
fn download_called_outside_any_runtime_runs_on_the_clients_own() {
    let nginx = Nginx::start();
    let sha = write_random(&nginx.root.join("f.bin"), 500_000);
    let env = Env::new();
    // Built and used on a plain thread: no runtime anywhere.
    let client = env.client(&[]);
    let task = client.download(DownloadOptions::new(nginx.url("/f.bin")));
    let outcome = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(std::future::IntoFuture::into_future(task));
    assert_eq!(sha256_file(&ok(outcome).saved_path), sha);
    drop(client);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_stream_opened_late_starts_with_what_happened() {
    let nginx = Nginx::start();
    write_random(&nginx.root.join("f.bin"), 300_000);
    let env = Env::new();
    let client = env.client(&[]);
    let task = client.download(DownloadOptions::new(nginx.url("/f.bin")));
    let deadline = std::time::Instant::now() + common::LIMIT;
    while !task.is_finished() {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut events = task.events();
    let mut seen = Vec::new();
    while let Some(e) = events.next().await {
        seen.push(e);
    }
    assert!(
        matches!(&seen[..], [Event::HeadersReceived(h), Event::Progress(p)]
            if h.status_code == 200 && p.progress == 100 && p.total_bytes_written == 300_000),
        "{seen:?}"
    );
    ok(task.await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_keep_their_phase_and_cause() {
    use std::error::Error;
    use wxdl::{FailReason, Phase};
    let env = Env::new();
    let client = env.client(&[]);
    // Port 1 on loopback: refused by the kernel.
    let f = client
        .download(DownloadOptions::new("http://127.0.0.1:1/x"))
        .await
        .unwrap_err();
    assert_eq!(
        (f.reason, f.phase()),
        (FailReason::ConnectFail, Some(Phase::Connect))
    );
    let io = f.source().and_then(|e| e.downcast_ref::<std::io::Error>());
    assert_eq!(
        io.map(std::io::Error::kind),
        Some(std::io::ErrorKind::ConnectionRefused)
    );
    let f = client
        .download(DownloadOptions::new("ftp://h/x"))
        .await
        .unwrap_err();
    assert_eq!(f.phase(), Some(Phase::Options));
    let nginx = Nginx::start();
    let f = client
        .download(DownloadOptions::new(nginx.url("/hello.txt")).file_path("wxfile://usr/no/dir/f"))
        .await
        .unwrap_err();
    assert_eq!(
        (f.reason, f.phase()),
        (FailReason::NoSuchFileOrDirectory, Some(Phase::Store))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn use_high_performance_mode_is_accepted_and_reported() {
    let nginx = Nginx::start();
    let env = Env::new();
    let client = env.client(&[]);
    for on in [true, false] {
        let opts = DownloadOptions::new(nginx.url("/hello.txt")).use_high_performance_mode(on);
        let s = ok(client.download(opts).await);
        let profile = s.profile.unwrap();
        assert_eq!(
            serde_json::to_value(&profile).unwrap()["usingHighPerformanceMode"],
            on
        );
        assert_eq!(profile.using_high_performance_mode, on);
    }
}
