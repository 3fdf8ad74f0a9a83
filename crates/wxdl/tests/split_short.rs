//! [beyond] `split`: a segment whose answer ends cleanly but short (a chunked `206` that names
//! the whole range and stops halfway) is asked again from its first missing byte; the file is
//! never left with a hole.

use std::sync::{Arc, Mutex};

use tokio::io::AsyncWriteExt;
use wxdl::DownloadOptions;
use wxdl_testkit::engine::{ok, Env};
use wxdl_testkit::ranged::pattern;
use wxdl_testkit::raw::read_head;
use wxdl_testkit::RawServer;

/// Serves `data` (strong ETag, ranges): the first range request gets a chunked `206` for its
/// whole range that ends after half of it; every other answer is whole. Keeps every head.
async fn short_once(data: Arc<Vec<u8>>) -> (RawServer, Arc<Mutex<Vec<String>>>) {
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    let server = RawServer::start(move |mut s, _| {
        let (data, seen) = (data.clone(), seen.clone());
        async move {
            let head = read_head(&mut s).await;
            let range = head.to_ascii_lowercase().lines().find_map(|l| {
                let (a, b) = l.strip_prefix("range: bytes=")?.trim().split_once('-')?;
                Some((a.parse::<usize>().ok()?, b.parse::<usize>().ok()?))
            });
            let first_range = {
                let mut seen = seen.lock().unwrap();
                seen.push(head.clone());
                range.is_some() && seen.iter().filter(|h| h.contains("range:")).count() == 1
            };
            let total = data.len();
            let answer = match range {
                None => {
                    let mut a = format!(
                        "HTTP/1.1 200 OK\r\nETag: \"s\"\r\nAccept-Ranges: bytes\r\nContent-Length: {total}\r\n\r\n"
                    )
                    .into_bytes();
                    a.extend_from_slice(&data);
                    a
                }
                Some((from, last)) if first_range => {
                    let half = (last + 1 - from) / 2;
                    let mut a = format!(
                        "HTTP/1.1 206 Partial Content\r\nETag: \"s\"\r\nContent-Range: bytes {from}-{last}/{total}\r\nTransfer-Encoding: chunked\r\n\r\n{half:x}\r\n"
                    )
                    .into_bytes();
                    a.extend_from_slice(&data[from..from + half]);
                    a.extend_from_slice(b"\r\n0\r\n\r\n");
                    a
                }
                Some((from, last)) => {
                    let mut a = format!(
                        "HTTP/1.1 206 Partial Content\r\nETag: \"s\"\r\nContent-Range: bytes {from}-{last}/{total}\r\nContent-Length: {}\r\n\r\n",
                        last + 1 - from
                    )
                    .into_bytes();
                    a.extend_from_slice(&data[from..=last]);
                    a
                }
            };
            let _ = s.write_all(&answer).await;
            let _ = s.shutdown().await;
        }
    })
    .await;
    (server, heads)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_segment_that_ends_short_is_asked_again_from_where_it_stopped() {
    let total = 2 * 1024 * 1024 + 10;
    let data = pattern(5, total);
    let (server, heads) = short_once(data.clone()).await;
    let env = Env::new();
    let s = ok(env
        .client(&[])
        .download(DownloadOptions::new(server.url("/s")).split(2))
        .await);
    assert!(
        std::fs::read(&s.saved_path).unwrap() == *data,
        "the file is whole, no hole where the segment stopped"
    );
    // The plan: [0, total/2) from the first answer, [total/2, total) ranged.
    let (from, last) = (total / 2, total - 1);
    let again = from + (last + 1 - from) / 2;
    let ranges: Vec<String> = heads
        .lock()
        .unwrap()
        .iter()
        .filter_map(|h| {
            h.to_ascii_lowercase()
                .lines()
                .find_map(|l| l.strip_prefix("range: ").map(str::to_owned))
        })
        .collect();
    assert_eq!(
        ranges,
        [
            format!("bytes={from}-{last}"),
            format!("bytes={again}-{last}")
        ]
    );
}
