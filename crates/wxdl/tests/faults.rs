//! Staged faults from in-process servers: resets, truncation, stalls, aborts, caps, queueing,
//! bad input and sandbox refusals. Each asserts the failure row and that nothing is left.

use wxdl_testkit::engine as common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{fail, ok, started_streaming, Env, LIMIT};
use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;
use wxdl::{DownloadOptions, FailReason};
use wxdl_testkit::raw::{read_head, reset};
use wxdl_testkit::RawServer;

const HEAD_1M: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n";

/// A server that sends the head of a 1 MiB body, `sent` bytes of it, then calls `end`.
async fn partial_body(sent: usize, rst: bool) -> RawServer {
    RawServer::start(move |mut s, _| async move {
        read_head(&mut s).await;
        let _ = s.write_all(HEAD_1M).await;
        let _ = s.write_all(&vec![7u8; sent]).await;
        let _ = s.flush().await;
        if rst {
            reset(s);
        } else {
            let _ = s.shutdown().await;
        }
    })
    .await
}

/// A server that reads the head and then holds the connection open (bounded) without a word.
async fn silent() -> RawServer {
    RawServer::start(|mut s, _| async move {
        read_head(&mut s).await;
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(s);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_and_truncation_fail_as_network_interrupted() {
    let env = Env::new();
    let client = env.client(&[]);
    let out = env.dir.path().join("keep.bin");
    std::fs::write(&out, b"old contents").unwrap();
    for server in [
        partial_body(1000, true).await,
        partial_body(1000, false).await,
        partial_body(0, true).await,
        RawServer::respond_raw(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789",
        )
        .await,
        RawServer::respond_raw(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
        )
        .await,
        RawServer::respond_raw(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab").await,
        RawServer::respond_raw(b"HTTP/1.1 OK OK\r\n\r\n").await,
        RawServer::respond_raw(b"garbage\r\n\r\n").await,
        RawServer::respond_raw(b"").await,
        RawServer::start(|s, _| async move { reset(s) }).await,
    ] {
        fail(
            client
                .download(DownloadOptions::new(server.url("/f.bin")))
                .await,
            FailReason::NetworkInterrupted,
        );
        fail(
            client
                .download(DownloadOptions::new(server.url("/f.bin")).host_path(&out))
                .await,
            FailReason::NetworkInterrupted,
        );
        assert_eq!(std::fs::read(&out).unwrap(), b"old contents");
    }
    assert!(env.files().is_empty(), "{:?}", env.files());
    common::assert_no_partial(env.dir.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_without_length_is_a_complete_body() {
    let server =
        RawServer::respond_raw(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil close").await;
    let env = Env::new();
    let s = ok(env
        .client(&[])
        .download(DownloadOptions::new(server.url("/x")))
        .await);
    assert_eq!(std::fs::read(&s.saved_path).unwrap(), b"until close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_port_is_connect_fail() {
    // Port 1: nothing listens there, and no test server can take it (a freed ephemeral port
    // could be reused by another test's server).
    let env = Env::new();
    fail(
        env.client(&[])
            .download(DownloadOptions::new("http://127.0.0.1:1/x"))
            .await,
        FailReason::ConnectFail,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalls_time_out_within_bounds() {
    let env = Env::new();
    let client = env.client(&[]);
    let stall_head = silent().await;
    let stall_body = RawServer::start(|mut s, _| async move {
        read_head(&mut s).await;
        let _ = s.write_all(HEAD_1M).await;
        let _ = s.write_all(&[1u8; 5000]).await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    })
    .await;
    for server in [&stall_head, &stall_body] {
        let start = Instant::now();
        let f = fail(
            client
                .download(
                    DownloadOptions::new(server.url("/x")).timeout(Duration::from_millis(300)),
                )
                .await,
            FailReason::Timeout,
        );
        assert_eq!(f.errno(), 5);
        assert_eq!(f.message(), "timeout", "exact, nothing appended");
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_secs(10),
            "{took:?}"
        );
    }
    assert!(env.files().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_at_each_phase_leaves_nothing() {
    let env = Env::new();
    let client = env.builder(&[]).concurrency(1).build().unwrap();

    // Streaming: the body stalls after 200 KiB; abort once progress shows it.
    let streaming = RawServer::start(|mut s, _| async move {
        read_head(&mut s).await;
        let _ = s.write_all(HEAD_1M).await;
        let _ = s.write_all(&vec![1u8; 200 * 1024]).await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    })
    .await;
    let task = started_streaming(&client, DownloadOptions::new(streaming.url("/big.bin"))).await;
    // Queued: the single slot is taken by the streaming task.
    let queued = client.download(DownloadOptions::new(streaming.url("/q")));
    // The body is being written to a private file that has no name anyone could open.
    assert!(
        env.files().is_empty(),
        "partial data is nameable: {:?}",
        env.files()
    );
    queued.abort();
    fail(queued.await, FailReason::Abort);
    task.abort();
    task.abort(); // twice is harmless
    fail(task.await, FailReason::Abort);
    assert!(env.files().is_empty(), "{:?}", env.files());

    // Connecting: a TLS handshake that never gets an answer.
    let mute = silent().await;
    let task = client.download(DownloadOptions::new(format!("https://{}/x", mute.addr)));
    assert!(wxdl_testkit::wait_until(LIMIT, || mute.accepted() > 0));
    task.abort();
    fail(task.await, FailReason::Abort);

    // Waiting for the head.
    let task = client.download(DownloadOptions::new(mute.url("/x")));
    assert!(wxdl_testkit::wait_until(LIMIT, || mute.accepted() > 1));
    task.abort();
    fail(task.await, FailReason::Abort);
    assert!(env.files().is_empty());

    // After the end, abort does nothing.
    let done = RawServer::respond_raw(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").await;
    let task = client.download(DownloadOptions::new(done.url("/x")));
    let handle = task.abort_handle();
    let s = ok(task.await);
    handle.abort();
    assert_eq!(std::fs::read(&s.saved_path).unwrap(), b"ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_body_passing_the_cap_is_stopped() {
    // An endless chunked body, bounded by the server at 64 MiB.
    let server = RawServer::start(|mut s, _| async move {
        read_head(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            .await;
        let chunk = [b"10000\r\n".as_slice(), &[9u8; 0x10000], b"\r\n"].concat();
        for _ in 0..1024 {
            if s.write_all(&chunk).await.is_err() {
                return;
            }
        }
    })
    .await;
    let env = Env::new();
    let client = env.client(&[]);
    let f = fail(
        client
            .download(DownloadOptions::new(server.url("/stream")).max_bytes(3 * 1024 * 1024))
            .await,
        FailReason::ExceedMaxFileSize,
    );
    assert_eq!(f.errno(), 603301);
    assert!(env.files().is_empty());
    // Content-Length above a small cap is refused before the body is read.
    let server = RawServer::respond_raw(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n").await;
    fail(
        client
            .download(DownloadOptions::new(server.url("/x")).max_bytes(999))
            .await,
        FailReason::ExceedMaxFileSize,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_fails_before_any_io() {
    let server = RawServer::respond_raw(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").await;
    let env = Env::new();
    let client = env.client(&[]);
    let u = server.url("/x");
    let cases = [
        (DownloadOptions::new(""), FailReason::UrlNull),
        (
            DownloadOptions::new("ftp://127.0.0.1/x"),
            FailReason::InvalidUrl,
        ),
        (
            DownloadOptions::new("file:///etc/passwd"),
            FailReason::InvalidUrl,
        ),
        (DownloadOptions::new("http//broken"), FailReason::InvalidUrl),
        (
            DownloadOptions::new(&u).header("Bad Name", "x"),
            FailReason::InvalidHeader,
        ),
        (
            DownloadOptions::new(&u).header("X-A", "a\r\nX-B: b"),
            FailReason::InvalidHeader,
        ),
        (
            DownloadOptions::new(&u).header("X-A", "a\0"),
            FailReason::InvalidHeader,
        ),
        (
            DownloadOptions::new(&u).file_path("wxfile://usr/../escape"),
            FailReason::PermissionDenied,
        ),
        (
            DownloadOptions::new(&u).file_path("/etc/passwd"),
            FailReason::PermissionDenied,
        ),
        (
            DownloadOptions::new(&u).file_path("wxfile://tmp_x"),
            FailReason::PermissionDenied,
        ),
        (
            DownloadOptions::new(&u).file_path("wxfile://usr/no/such/dir/f"),
            FailReason::NoSuchFileOrDirectory,
        ),
        (
            DownloadOptions::new(&u).file_path("wxfile://usr"),
            FailReason::IllegalOperationOnDirectory,
        ),
    ];
    for (opts, reason) in cases {
        fail(client.download(opts).await, reason);
    }
    assert_eq!(server.accepted(), 0, "no network I/O for bad input");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_refusals_symlinks_directories_quota() {
    let server = RawServer::start(|mut s, _| async move {
        read_head(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 4096\r\n\r\n")
            .await;
        let _ = s.write_all(&[5u8; 4096]).await;
    })
    .await;
    let env = Env::new();
    let client = env.builder(&[]).usr_quota(6000).build().unwrap();
    let usr = client.sandbox().usr_dir().to_path_buf();
    let outside = env.dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("victim"), b"untouched").unwrap();
    std::os::unix::fs::symlink(&outside, usr.join("out")).unwrap();
    std::os::unix::fs::symlink(outside.join("victim"), usr.join("victim-link")).unwrap();
    std::fs::create_dir(usr.join("dir")).unwrap();
    let u = server.url("/x");
    for (path, reason) in [
        ("wxfile://usr/out/f", FailReason::PermissionDenied),
        ("wxfile://usr/victim-link", FailReason::PermissionDenied),
        ("wxfile://usr/dir", FailReason::IllegalOperationOnDirectory),
        ("wxfile://usr/dir/", FailReason::IllegalOperationOnDirectory),
    ] {
        fail(
            client
                .download(DownloadOptions::new(&u).file_path(path))
                .await,
            reason,
        );
    }
    assert_eq!(server.accepted(), 0);
    assert_eq!(std::fs::read(outside.join("victim")).unwrap(), b"untouched");
    // Quota: 4096 fits once, not twice.
    ok(client
        .download(DownloadOptions::new(&u).file_path("wxfile://usr/a"))
        .await);
    let f = fail(
        client
            .download(DownloadOptions::new(&u).file_path("wxfile://usr/b"))
            .await,
        FailReason::StorageLimitExceeded,
    );
    assert_eq!(f.errno(), 1300202);
    assert!(!usr.join("b").exists());
    common::assert_no_partial(&usr);
    // Replacing `a` frees its own bytes.
    ok(client
        .download(DownloadOptions::new(&u).file_path("wxfile://usr/a"))
        .await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_limits_in_flight_and_admits_in_call_order() {
    const N: usize = 25;
    let arrivals = Arc::new(Mutex::new(Vec::<usize>::new()));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let max_in_flight = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Semaphore::new(0));
    let (a, f, m, g) = (
        arrivals.clone(),
        in_flight.clone(),
        max_in_flight.clone(),
        gate.clone(),
    );
    let server = RawServer::start(move |mut s, _| {
        let (a, f, m, g) = (a.clone(), f.clone(), m.clone(), g.clone());
        async move {
            // One request per connection (`Connection: close`), so arrivals are requests.
            let head = read_head(&mut s).await;
            let i: usize = head
                .split_whitespace()
                .nth(1)
                .and_then(|p| p.trim_start_matches('/').parse().ok())
                .unwrap_or(usize::MAX);
            let now = f.fetch_add(1, Ordering::SeqCst) + 1;
            m.fetch_max(now, Ordering::SeqCst);
            a.lock().unwrap().push(i);
            if let Ok(p) = tokio::time::timeout(LIMIT, g.acquire()).await {
                p.unwrap().forget();
            }
            f.fetch_sub(1, Ordering::SeqCst);
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                .await;
        }
    })
    .await;
    let env = Env::new();
    let client = env.client(&[]); // default concurrency: 10
    let tasks: Vec<_> = (0..N)
        .map(|i| client.download(DownloadOptions::new(server.url(&format!("/{i}")))))
        .collect();
    assert!(wxdl_testkit::wait_until(LIMIT, || arrivals
        .lock()
        .unwrap()
        .len()
        == 10));
    std::thread::sleep(Duration::from_millis(100));
    let mut first: Vec<usize> = arrivals.lock().unwrap().clone();
    first.sort_unstable();
    assert_eq!(
        first,
        (0..10).collect::<Vec<_>>(),
        "the first ten calls run first"
    );
    // Release one at a time: each freed slot goes to the next caller in order.
    for k in 10..N {
        gate.add_permits(1);
        assert!(wxdl_testkit::wait_until(LIMIT, || arrivals
            .lock()
            .unwrap()
            .len()
            == k + 1));
        assert_eq!(
            arrivals.lock().unwrap()[k],
            k,
            "admission follows call order"
        );
    }
    gate.add_permits(N);
    for t in tasks {
        let s = ok(t.await);
        let p = s.profile.unwrap();
        assert!(p.queue_start <= p.queue_end);
    }
    assert_eq!(max_in_flight.load(Ordering::SeqCst), 10);
    assert_eq!(server.accepted(), N);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_time_counts_toward_the_timeout() {
    let mute = silent().await;
    let env = Env::new();
    let client = env.builder(&[]).concurrency(1).build().unwrap();
    let hog =
        client.download(DownloadOptions::new(mute.url("/hog")).timeout(Duration::from_secs(5)));
    let start = Instant::now();
    let queued =
        client.download(DownloadOptions::new(mute.url("/q")).timeout(Duration::from_millis(200)));
    fail(queued.await, FailReason::Timeout);
    assert!(start.elapsed() < Duration::from_secs(4));
    hog.abort();
    fail(hog.await, FailReason::Abort);
}
