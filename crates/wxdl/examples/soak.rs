//! Soak: N downloads (default 10 000) through one `Client` against an in-process loopback server
//! with mixed sizes, HTTP errors, resets, stalls (timeouts) and aborts, a tenth of them racing
//! each other to four shared `wxfile://usr` targets; prints RSS, open file descriptors, live
//! tasks and leftover files every 1000, and fails if any of them grows, if partial data is
//! left, or if a shared target holds anything but one whole body that a download reported.
//!
//! `cargo run --release -p wxdl --example soak -- [COUNT]`

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use wxdl::{Client, DownloadOptions, FailReason};
use wxdl_testkit::raw::{read_head, reset};
use wxdl_testkit::RawServer;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

fn files_in(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| d.count())
}

fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    // The server runs on a runtime of its own, so the live-task figure is the client's alone.
    let server_rt = tokio::runtime::Runtime::new().expect("server runtime");
    let server = server_rt.block_on(serve());
    let client_rt = tokio::runtime::Runtime::new().expect("client runtime");
    let code = client_rt.block_on(soak(count, &server));
    drop(server);
    std::process::exit(code);
}

async fn serve() -> RawServer {
    RawServer::start(|mut s, _| async move {
        // Keep-alive: serve requests on this connection until it closes.
        loop {
            let head = read_head(&mut s).await;
            if head.is_empty() {
                return;
            }
            let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
            let kind = path.trim_start_matches('/').split('/').next().unwrap_or("");
            match kind {
                "ok" => {
                    let n: usize = path
                        .rsplit('/')
                        .next()
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0);
                    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n\r\n");
                    if s.write_all(head.as_bytes()).await.is_err()
                        || s.write_all(&vec![b'x'; n]).await.is_err()
                    {
                        return;
                    }
                }
                "404" => {
                    if s.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found")
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                "reset" => {
                    let _ = s
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\npartial")
                        .await;
                    reset(s);
                    return;
                }
                _ => {
                    // "stall": head, then nothing for longer than the client's 200 ms timeout.
                    let _ = s
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
                        .await;
                    tokio::time::sleep(Duration::from_millis(400)).await;
                    return;
                }
            }
        }
    })
    .await
}

async fn soak(count: usize, server: &RawServer) -> i32 {
    let dir = tempfile::tempdir().expect("temp dir");
    let client = Client::builder()
        .sandbox_root(dir.path())
        .platform_roots(false)
        .build()
        .expect("client");
    let tmp = client.sandbox().tmp_dir().to_path_buf();
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let start = Instant::now();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    println!("| downloads | RSS KiB | open fds | live tasks | files in tmp | ok | failed | s |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut samples = Vec::new();
    let mut committed: HashMap<String, Vec<u64>> = HashMap::new();
    for batch_start in (0..count).step_by(1000) {
        let batch = (count - batch_start).min(1000);
        let mut tasks = Vec::with_capacity(batch);
        for _ in 0..batch {
            let r = rand();
            let (path, timeout) = match r % 100 {
                0..=79 => (format!("/ok/{}", r % (256 * 1024)), 10_000),
                80..=87 => ("/404".to_string(), 10_000),
                88..=93 => ("/reset".to_string(), 10_000),
                _ => ("/stall".to_string(), 200),
            };
            let mut opts =
                DownloadOptions::new(server.url(&path)).timeout(Duration::from_millis(timeout));
            // A tenth race each other (and the aborts) to a few shared targets.
            let shared = (r % 10 == 3).then(|| format!("wxfile://usr/shared-{}.bin", r % 4));
            if let Some(target) = &shared {
                opts = opts.file_path(target.clone());
            }
            let task = client.download(opts);
            if r % 37 == 0 {
                let h = task.abort_handle();
                let delay = Duration::from_micros(r % 3000);
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    h.abort();
                });
            }
            tasks.push((shared, task));
        }
        for (shared, t) in tasks {
            match t.await {
                Ok(s) => {
                    ok.fetch_add(1, Ordering::Relaxed);
                    match shared {
                        Some(target) if s.status_code == 200 => {
                            committed.entry(target).or_default().push(s.data_length);
                        }
                        Some(_) => {}
                        // The caller consumes the file.
                        None => {
                            let _ = std::fs::remove_file(&s.saved_path);
                        }
                    }
                }
                Err(f) => {
                    failed.fetch_add(1, Ordering::Relaxed);
                    assert!(
                        matches!(
                            f.reason,
                            FailReason::Abort
                                | FailReason::Timeout
                                | FailReason::NetworkInterrupted
                        ),
                        "unexpected failure: {f}"
                    );
                }
            }
        }
        // Let stalled server connections run out before sampling.
        tokio::time::sleep(Duration::from_millis(600)).await;
        let tasks_alive = tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks();
        let sample = (rss_kib(), open_fds(), tasks_alive, files_in(&tmp));
        samples.push(sample);
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {:.1} |",
            batch_start + batch,
            sample.0,
            sample.1,
            sample.2,
            sample.3,
            ok.load(Ordering::Relaxed),
            failed.load(Ordering::Relaxed),
            start.elapsed().as_secs_f64()
        );
    }
    // Flat: after the first sample (warm-up), RSS may not grow by more than 8 MiB, descriptors
    // and tasks by more than a handful of pooled connections, and no file may be left.
    let first = samples.first().copied().unwrap_or_default();
    let last = samples.last().copied().unwrap_or_default();
    let mut bad = Vec::new();
    if last.0 > first.0 + 8 * 1024 {
        bad.push(format!("RSS grew from {} to {} KiB", first.0, last.0));
    }
    if last.1 > first.1 + 16 {
        bad.push(format!("open fds grew from {} to {}", first.1, last.1));
    }
    if last.2 > first.2 + 16 {
        bad.push(format!("live tasks grew from {} to {}", first.2, last.2));
    }
    if last.3 != 0 {
        bad.push(format!("{} files left in tmp", last.3));
    }
    // Each shared target holds one whole body: all 'x', as long as a download that succeeded
    // there reported (the server sends n bytes of 'x' for /ok/n). A 404 may also have won, so
    // its body counts too.
    for (target, lengths) in &committed {
        let host = client
            .sandbox()
            .resolve(target)
            .expect("shared target path");
        let body = std::fs::read(&host).unwrap_or_default();
        let whole = body.iter().all(|b| *b == b'x') && lengths.contains(&(body.len() as u64));
        if !whole && body != b"not found" {
            bad.push(format!(
                "{target} holds {} bytes that no download committed",
                body.len()
            ));
        }
    }
    let usr = client.sandbox().usr_dir();
    let partial = std::fs::read_dir(usr).map_or(0, |d| {
        d.flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(".wxdl-"))
            .count()
    });
    if partial != 0 {
        bad.push(format!("{partial} partial files left in usr"));
    }
    if bad.is_empty() {
        println!("\nsoak: {count} downloads, flat: no leak");
        0
    } else {
        eprintln!("\nsoak: LEAK: {}", bad.join("; "));
        1
    }
}
