//! Attacks on shared directory descriptors (`store::dir_pins`) and on the space reserved for a
//! large fresh body (`BodyFile::preallocate`): a folder swapped while a download holds it, a
//! held folder moved out of the sandbox behind a symlink, a server announcing far more than it
//! sends. Real loopback servers; every wait bounded.

use wxdl_testkit::engine as common;

use std::path::Path;
use std::time::Duration;

use common::{fail, ok, started_streaming, Env};
use tokio::io::AsyncWriteExt;
use wxdl::{DownloadOptions, FailReason};
use wxdl_testkit::raw::read_head;
use wxdl_testkit::RawServer;

/// A server that announces `len` bytes, sends `sent` of them, then holds the connection
/// (bounded) or closes it.
async fn short_body(len: u64, sent: usize, hold: bool) -> RawServer {
    RawServer::start(move |mut s, _| async move {
        read_head(&mut s).await;
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n");
        let _ = s.write_all(head.as_bytes()).await;
        let _ = s.write_all(&vec![5u8; sent]).await;
        let _ = s.flush().await;
        if hold {
            tokio::time::sleep(Duration::from_secs(30)).await;
        } else {
            let _ = s.shutdown().await;
        }
    })
    .await
}

/// [`open_below`] once the descriptors a download held are let go: an aborted download's
/// outcome comes as soon as the abort is seen, and its state is dropped on an engine thread
/// right after. Asked again, bounded (2 s), until nothing is open.
async fn released_below(dir: &Path) -> Vec<String> {
    let mut open = open_below(dir);
    for _ in 0..100 {
        if open.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        open = open_below(dir);
    }
    open
}

/// Descriptors this process holds open on anything below `dir` (deleted files included: an
/// unnamed private file shows as `dir/#123 (deleted)`).
fn open_below(dir: &Path) -> Vec<String> {
    let dir = dir.canonicalize().unwrap();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        if let Ok(target) = std::fs::read_link(e.path()) {
            if target.starts_with(&dir) {
                out.push(target.display().to_string());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_folder_swapped_or_moved_out_is_never_reused_wrongly() {
    let env = Env::new();
    let client = env.client(&[]);
    let usr = client.sandbox().usr_dir().to_path_buf();
    let d = usr.join("d");
    std::fs::create_dir(&d).unwrap();
    let stall = short_body(4000, 1000, true).await;
    let small = RawServer::respond_raw(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nnew").await;

    // Download 1 holds usr/d (its private file is in there) while the folder is swapped.
    let held = started_streaming(
        &client,
        DownloadOptions::new(stall.url("/a")).file_path("wxfile://usr/d/a"),
    )
    .await;

    // 1. Replaced by a new folder: download 2 lands in the new one, not in the held one.
    std::fs::rename(&d, usr.join("old")).unwrap();
    std::fs::create_dir(&d).unwrap();
    ok(client
        .download(DownloadOptions::new(small.url("/b")).file_path("wxfile://usr/d/b"))
        .await);
    assert_eq!(std::fs::read(d.join("b")).unwrap(), b"new");
    assert!(!usr.join("old/b").exists());

    // 2. A symlink inside usr to the held folder (moved within usr): shared, and inside.
    std::fs::rename(&d, usr.join("d2")).unwrap();
    std::os::unix::fs::symlink("old", &d).unwrap();
    ok(client
        .download(DownloadOptions::new(small.url("/c")).file_path("wxfile://usr/d/c"))
        .await);
    assert_eq!(std::fs::read(usr.join("old/c")).unwrap(), b"new");

    // 3. The held folder moved out of the sandbox and usr/d pointed at it: `stat` says it is
    // the held descriptor, yet the sandbox's real-path check must refuse it.
    let outside = env.dir.path().join("outside");
    std::fs::rename(usr.join("old"), &outside).unwrap();
    std::fs::remove_file(&d).unwrap();
    std::os::unix::fs::symlink(&outside, &d).unwrap();
    fail(
        client
            .download(DownloadOptions::new(small.url("/e")).file_path("wxfile://usr/d/e"))
            .await,
        FailReason::PermissionDenied,
    );
    assert!(!outside.join("e").exists());

    held.abort();
    fail(held.await, FailReason::Abort);
    // Nothing below the sandbox or the moved folder is held open once the downloads ended.
    let open = released_below(env.dir.path()).await;
    assert!(open.is_empty(), "{open:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_announced_body_cut_short_leaves_nothing_and_holds_nothing() {
    let env = Env::new();
    let client = env.client(&[]);
    // 150 MiB announced (under the 200 MB cap, so space is reserved), 4 MiB sent.
    for hold in [false, true] {
        let server = short_body(150 << 20, 4 << 20, hold).await;
        for opts in [
            DownloadOptions::new(server.url("/t")),
            DownloadOptions::new(server.url("/u")).file_path("wxfile://usr/u.bin"),
            DownloadOptions::new(server.url("/h")).host_path(env.dir.path().join("h.bin")),
        ] {
            let f = if hold {
                let task = started_streaming(&client, opts).await;
                task.abort();
                fail(task.await, FailReason::Abort)
            } else {
                fail(client.download(opts).await, FailReason::NetworkInterrupted)
            };
            assert!(env.files().is_empty(), "{f}: {:?}", env.files());
            assert!(!env.dir.path().join("h.bin").exists());
            // The unnamed file (and the 150 MiB reserved for it) is closed, not leaked.
            let open = released_below(env.dir.path()).await;
            assert!(open.is_empty(), "{f}: {open:?}");
        }
    }
    // The sandbox still takes a body afterwards.
    let small = RawServer::respond_raw(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").await;
    ok(client
        .download(DownloadOptions::new(small.url("/ok")).file_path("wxfile://usr/ok"))
        .await);
}

/// A resumable download is kept when cut: its `.part` must hold the bytes that came, not the
/// whole announced length (no space is reserved for it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_partial_holds_what_came_not_what_was_announced() {
    use std::os::unix::fs::MetadataExt;
    let env = Env::new();
    let client = env.client(&[]);
    let server = RawServer::start(|mut s, _| async move {
        read_head(&mut s).await;
        let head = "HTTP/1.1 200 OK\r\nContent-Length: 157286400\r\nETag: \"v1\"\r\n\r\n";
        let _ = s.write_all(head.as_bytes()).await;
        let _ = s.write_all(&vec![5u8; 4 << 20]).await;
        let _ = s.shutdown().await;
    })
    .await;
    let out = env.dir.path().join("big.bin");
    fail(
        client
            .download(
                DownloadOptions::new(server.url("/big"))
                    .host_path(&out)
                    .resume(true),
            )
            .await,
        FailReason::NetworkInterrupted,
    );
    let parts: Vec<_> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".wxdl-partial"))
        .collect();
    let names: Vec<_> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        parts.len(),
        1,
        "the cut body is kept for a later run: {names:?}"
    );
    let meta = parts[0].metadata().unwrap();
    assert_eq!(meta.len(), 4 << 20);
    assert!(
        meta.blocks() * 512 < 8 << 20,
        "a kept partial holds {} bytes of disk for 4 MiB",
        meta.blocks() * 512
    );
}

/// The usr quota and the space reserved ahead: a body announced 150 MiB into a 10 MB usr is
/// refused on its Content-Length (WeChat's storage-limit words) before anything is reserved;
/// one announced 9.5 MB (reserved: at least 8 MiB) and cut after 4 MiB leaves nothing and
/// charges nothing, so the quota then takes a whole 9 MB body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reserved_body_in_usr_is_held_to_the_quota_and_released() {
    let env = Env::new();
    let client = env.builder(&[]).usr_quota(10_000_000).build().unwrap();
    let server = short_body(150 << 20, 12 << 20, true).await;
    let f = fail(
        client
            .download(DownloadOptions::new(server.url("/q")).file_path("wxfile://usr/q.bin"))
            .await,
        FailReason::StorageLimitExceeded,
    );
    assert!(env.files().is_empty(), "{f}: {:?}", env.files());
    let open = released_below(env.dir.path()).await;
    assert!(open.is_empty(), "{open:?}");
    let cut = short_body(9_500_000, 4 << 20, false).await;
    fail(
        client
            .download(DownloadOptions::new(cut.url("/cut")).file_path("wxfile://usr/cut.bin"))
            .await,
        FailReason::NetworkInterrupted,
    );
    assert!(env.files().is_empty(), "{:?}", env.files());
    let open = released_below(env.dir.path()).await;
    assert!(open.is_empty(), "{open:?}");
    // The whole quota takes a 9 MB body now: nothing of the failed ones is charged.
    let fits = short_body(9_000_000, 9_000_000, false).await;
    ok(client
        .download(DownloadOptions::new(fits.url("/fits")).file_path("wxfile://usr/fits.bin"))
        .await);
}
