//! [beyond] options that govern how a body flows, against nginx and a staged stall: integrity
//! (checked while streaming, nothing left on a mismatch), the stall timeout, the rate limit.

use std::time::{Duration, Instant};

use base64::Engine as _;
use tokio::io::AsyncWriteExt;
use wxdl::{DownloadOptions, FailReason};
use wxdl_testkit::engine::{assert_no_partial, fail, ok, Env};
use wxdl_testkit::raw::read_head;
use wxdl_testkit::{sha256_file, write_random, Nginx, RawServer};

fn sri(hex: &str) -> String {
    let bytes: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integrity_is_checked_before_anything_is_in_place() {
    let nginx = Nginx::start();
    let sha = write_random(&nginx.root.join("f.bin"), 1_000_000);
    let env = Env::new();
    let client = env.client(&[]);
    let url = nginx.url("/f.bin");
    for good in [sha.clone(), sri(&sha)] {
        let s = ok(client
            .download(DownloadOptions::new(&url).integrity(good))
            .await);
        assert_eq!(sha256_file(&s.saved_path), sha);
    }
    // A mismatch: the file that was there stays, nothing partial is left.
    let kept = env.dir.path().join("kept.bin");
    std::fs::write(&kept, b"precious").unwrap();
    let wrong = "0".repeat(64);
    let f = fail(
        client
            .download(DownloadOptions::new(&url).integrity(wrong).host_path(&kept))
            .await,
        FailReason::IntegrityCheckFail,
    );
    assert_eq!(f.errno(), 603901);
    assert!(f.message().contains(&sha), "{f}");
    assert_eq!(std::fs::read(&kept).unwrap(), b"precious");
    assert_no_partial(env.dir.path());
    // A value that is no SHA-256 at all fails before any I/O.
    fail(
        client
            .download(DownloadOptions::new(&url).integrity("md5-abc"))
            .await,
        FailReason::IntegrityCheckFail,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_times_out_and_a_limited_one_is_paced() {
    // Head and 64 KiB, then nothing for longer than the stall timeout.
    let stalling = RawServer::start(|mut s, _| async move {
        read_head(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n")
            .await;
        let _ = s.write_all(&[7u8; 65536]).await;
        tokio::time::sleep(Duration::from_secs(20)).await;
    })
    .await;
    let env = Env::new();
    let client = env.client(&[]);
    let start = Instant::now();
    let f = fail(
        client
            .download(
                DownloadOptions::new(stalling.url("/s")).stall_timeout(Duration::from_millis(300)),
            )
            .await,
        FailReason::Timeout,
    );
    assert_eq!(f.message(), "timeout");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert!(env.files().is_empty());

    // 300 KiB at 1 MiB/s cannot take less than about 0.29 s (a functional bound, not a
    // performance figure); the body arrives whole.
    let nginx = Nginx::start();
    let sha = write_random(&nginx.root.join("p.bin"), 300 * 1024);
    let start = Instant::now();
    let s = ok(client
        .download(DownloadOptions::new(nginx.url("/p.bin")).rate_limit(1024 * 1024))
        .await);
    assert!(
        start.elapsed() >= Duration::from_millis(250),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(sha256_file(&s.saved_path), sha);
}

/// A client's rate limit is one bucket its downloads share: three at once take together as
/// long as their bytes take at that rate (a lower bound only: a functional check, not a
/// performance figure).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clients_rate_limit_is_shared_by_its_downloads() {
    let nginx = Nginx::start();
    let sha = write_random(&nginx.root.join("q.bin"), 400 * 1024);
    let env = Env::new();
    let client = env.builder(&[]).rate_limit(1024 * 1024).build().unwrap();
    let start = Instant::now();
    let url = nginx.url("/q.bin");
    let (a, b, c) = tokio::join!(
        client.download(DownloadOptions::new(&url)),
        client.download(DownloadOptions::new(&url)),
        client.download(DownloadOptions::new(&url)),
    );
    // 1.2 MiB at 1 MiB/s, less the 50 ms burst.
    assert!(
        start.elapsed() >= Duration::from_millis(1000),
        "{:?}",
        start.elapsed()
    );
    for s in [a, b, c] {
        assert_eq!(sha256_file(&ok(s).saved_path), sha);
    }
}

/// A server whose n-th connection gets `answers[n]` (the last one repeats), and the count.
async fn scripted(answers: &'static [&'static [u8]]) -> RawServer {
    RawServer::start(move |mut s, i| async move {
        read_head(&mut s).await;
        let answer = answers[i.min(answers.len() - 1)];
        if answer.is_empty() {
            wxdl_testkit::raw::reset(s);
            return;
        }
        let _ = s.write_all(answer).await;
    })
    .await
}

const BUSY: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy";
const FINE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nfine";
const RESET: &[u8] = b"";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_what_a_later_try_may_not_meet_and_nothing_else() {
    let env = Env::new();
    let client = env.client(&[]);
    let quick = |url: String| DownloadOptions::new(url).retry_delay(Duration::from_millis(10));

    // Two resets, then the answer: retried without being asked about HTTP statuses.
    let server = scripted(&[RESET, RESET, FINE]).await;
    let s = ok(client.download(quick(server.url("/r")).retry(3)).await);
    assert_eq!(std::fs::read(&s.saved_path).unwrap(), b"fine");
    assert_eq!(server.accepted(), 3);

    // 503s are answers: retried only with retry_http, and every try is in the HAR record.
    let server = scripted(&[BUSY, BUSY, FINE]).await;
    let s = ok(client.download(quick(server.url("/h")).retry(3)).await);
    assert_eq!(s.status_code, 503, "not retried without retry_http");
    let server = scripted(&[BUSY, BUSY, FINE]).await;
    let s = ok(client
        .download(quick(server.url("/h")).retry(3).retry_http(true))
        .await);
    assert_eq!(s.status_code, 200);
    let statuses: Vec<u16> = s.hops.iter().map(|h| h.status_code).collect();
    assert_eq!(statuses, [503, 503, 200]);

    // The count runs out: the last failure is the outcome.
    let server = scripted(&[RESET]).await;
    fail(
        client.download(quick(server.url("/x")).retry(2)).await,
        FailReason::NetworkInterrupted,
    );
    assert_eq!(server.accepted(), 3);

    // Never retried: a refusal by policy or the sandbox, an integrity mismatch.
    let server = scripted(&[FINE]).await;
    fail(
        client
            .download(
                quick(server.url("/f"))
                    .retry(3)
                    .file_path("wxfile://usr/../x"),
            )
            .await,
        FailReason::PermissionDenied,
    );
    fail(
        client
            .download(quick(server.url("/f")).retry(3).integrity("0".repeat(64)))
            .await,
        FailReason::IntegrityCheckFail,
    );
    assert_eq!(
        server.accepted(),
        1,
        "the integrity mismatch was not retried"
    );
}
