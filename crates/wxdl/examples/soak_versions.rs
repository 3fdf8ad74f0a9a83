//! Soak of "two versions are never spliced": N downloads with `resume` (and `retry`) and with
//! `split` against an in-process server whose file changes every few requests (three versions
//! of different lengths, each its own `ETag`), that cuts some answers mid-body, and that — on half the
//! paths — ignores `If-Range` (a `206` of whatever version it serves now). Downloads reuse four
//! targets, so held partials meet changed files across runs too. Every committed file must be
//! one whole version; it fails (exit 1) at the first that is not, or when a kind of download
//! never succeeded (then nothing was tested).
//!
//! `cargo run --release -p wxdl --example soak_versions -- [COUNT]` (default 400)

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use wxdl::{Client, DownloadOptions};
use wxdl_testkit::ranged::pattern;
use wxdl_testkit::raw::read_head;
use wxdl_testkit::{sha256_file, sha256_hex, RawServer};

/// The first version's length (enough for a split in two segments and more); each next one is
/// 100 000 bytes longer.
const LEN: usize = 3 << 20;
/// The file changes after every this many requests.
const CHANGE_EVERY: u64 = 3;
const KINDS: [&str; 4] = [
    "resume",
    "resume, If-Range ignored",
    "split",
    "split, If-Range ignored",
];

fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(400);
    let versions: Arc<Vec<Arc<Vec<u8>>>> = Arc::new(
        (0..3u8)
            .map(|v| pattern(v, LEN + usize::from(v) * 100_000))
            .collect(),
    );
    let shas: Vec<String> = versions.iter().map(|b| sha256_hex(b)).collect();
    let server_rt = tokio::runtime::Runtime::new().expect("server runtime");
    let server = server_rt.block_on(serve(versions));
    let client_rt = tokio::runtime::Runtime::new().expect("client runtime");
    let code = client_rt.block_on(soak(count, &server, &shas));
    drop(server);
    std::process::exit(code);
}

/// The answer to one request: the version of the moment, ranges honoured (`If-Range` too,
/// unless the path starts with `/liar`), every fourth answer cut after a third of its body.
async fn serve(versions: Arc<Vec<Arc<Vec<u8>>>>) -> RawServer {
    let requests = Arc::new(AtomicU64::new(0));
    RawServer::start(move |mut s, _| {
        let (versions, requests) = (versions.clone(), requests.clone());
        async move {
            let head = read_head(&mut s).await.to_ascii_lowercase();
            let n = requests.fetch_add(1, Ordering::Relaxed);
            let v = ((n / CHANGE_EVERY) % 3) as usize;
            let (body, etag) = (&versions[v], format!("\"v{v}\""));
            let len = body.len();
            let header = |name: &str| {
                head.lines()
                    .find_map(|l| l.strip_prefix(name).map(|x| x.trim().to_owned()))
            };
            let liar = head.starts_with("get /liar");
            let holds = liar || header("if-range:").is_none_or(|x| x == etag);
            let range = header("range:").and_then(|r| {
                let (a, b) = r.strip_prefix("bytes=")?.split_once('-')?;
                let a: usize = a.parse().ok()?;
                let b: usize = if b.is_empty() { len - 1 } else { b.parse().ok()? };
                (a <= b && b < len).then_some((a, b))
            });
            let (head, part) = match range.filter(|_| holds) {
                Some((a, b)) => (
                    format!(
                        "HTTP/1.1 206 Partial Content\r\nETag: {etag}\r\nAccept-Ranges: bytes\r\nContent-Range: bytes {a}-{b}/{len}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        b - a + 1
                    ),
                    &body[a..=b],
                ),
                None => (
                    format!(
                        "HTTP/1.1 200 OK\r\nETag: {etag}\r\nAccept-Ranges: bytes\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
                    ),
                    &body[..],
                ),
            };
            let part = if n % 4 == 1 { &part[..part.len() / 3] } else { part };
            let _ = s.write_all(head.as_bytes()).await;
            let _ = s.write_all(part).await;
            let _ = s.shutdown().await;
        }
    })
    .await
}

async fn soak(count: usize, server: &RawServer, shas: &[String]) -> i32 {
    let dir = tempfile::tempdir().expect("temp dir");
    let client = Client::builder()
        .sandbox_root(dir.path().join("sandbox"))
        .platform_roots(false)
        .build()
        .expect("client");
    let start = Instant::now();
    let (mut ok, mut failed) = ([0u64; 4], [0u64; 4]);
    for i in 0..count {
        let kind = i % 4;
        let path = if kind % 2 == 1 { "/liar/f" } else { "/f" };
        let target = dir.path().join(format!("t{kind}.bin"));
        let mut opts = DownloadOptions::new(server.url(path))
            .host_path(&target)
            .timeout(Duration::from_secs(30));
        opts = if kind < 2 {
            // Every other resume also retries within the download.
            opts.resume(true)
                .retry(if i % 8 < 4 { 2 } else { 0 })
                .retry_delay(Duration::from_millis(1))
        } else {
            opts.split(4)
        };
        match client.download(opts).await {
            Ok(s) => {
                let sha = sha256_file(&target);
                let whole = shas.iter().position(|v| *v == sha);
                if whole.is_none_or(|v| s.data_length != (LEN + v * 100_000) as u64) {
                    eprintln!(
                        "download {i} ({}): committed {} bytes that are no one version (sha256 {sha})",
                        KINDS[kind], s.data_length
                    );
                    return 1;
                }
                ok[kind] += 1;
            }
            Err(_) => failed[kind] += 1,
        }
    }
    println!("| kind | ok (one whole version) | failed |");
    println!("|---|---|---|");
    for k in 0..4 {
        println!("| {} | {} | {} |", KINDS[k], ok[k], failed[k]);
    }
    println!(
        "{count} downloads in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    if ok.contains(&0) {
        eprintln!("a kind of download never succeeded: nothing was tested there");
        return 1;
    }
    0
}
