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

/// The headers event is kept once and shared (65c3737): a stream opened before the download,
/// the listener, and two streams opened after it ended all see the same one event, the final
/// answer's (after a redirect: its status, its headers, its cookies only).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_stream_early_or_late_sees_the_final_answers_headers_once() {
    use std::sync::{Arc, Mutex};
    use tokio::io::AsyncWriteExt;
    use wxdl::HeadersReceived;
    use wxdl_testkit::raw::read_head;
    use wxdl_testkit::RawServer;

    let server = RawServer::start(|mut s, _| async move {
        let head = read_head(&mut s).await;
        let answer: &[u8] = if head.starts_with("GET /r ") {
            b"HTTP/1.1 302 Found\r\nLocation: /f\r\nSet-Cookie: hop=1\r\nX-Hop: 1\r\nContent-Length: 0\r\n\r\n"
        } else {
            b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nX-Final: yes\r\nContent-Length: 5\r\n\r\nhello"
        };
        let _ = s.write_all(answer).await;
        let _ = s.shutdown().await;
    })
    .await;
    let env = Env::new();
    let client = env.client(&[]);
    let heard: Arc<Mutex<Vec<HeadersReceived>>> = Arc::default();
    let sink = heard.clone();
    let task = client.download(
        DownloadOptions::new(server.url("/r"))
            .on_headers_received(move |h| sink.lock().unwrap().push(h.clone())),
    );
    let early = task.events();
    let deadline = std::time::Instant::now() + common::LIMIT;
    while !task.is_finished() {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut seen = Vec::new();
    for mut stream in [early, task.events(), task.events()] {
        let mut headers = Vec::new();
        while let Some(e) = stream.next().await {
            if let Event::HeadersReceived(h) = e {
                headers.push(h);
            }
        }
        seen.push(headers);
    }
    seen.push(heard.lock().unwrap().clone());
    let first = &seen[0];
    assert_eq!(first.len(), 1, "{seen:?}");
    assert_eq!(first[0].status_code, 200);
    assert_eq!(first[0].cookies, ["a=1", "b=2"]);
    let names: Vec<&str> = first[0].header.keys().map(String::as_str).collect();
    assert!(
        names.iter().any(|k| k.eq_ignore_ascii_case("x-final")),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|k| k.eq_ignore_ascii_case("x-hop")),
        "{names:?}"
    );
    for other in &seen[1..] {
        assert_eq!(other, first, "{seen:?}");
    }
    ok(task.await);
}
