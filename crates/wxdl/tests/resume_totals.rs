//! [beyond] `resume` when exactly one side knows the representation's length: bytes held from a
//! body without `Content-Length` continued by a `206 bytes N-M/T`, and bytes held from a body of
//! known length continued by a `206 bytes N-M/*`. Neither is another version (the validator is
//! the same), so the download continues where it stopped; whatever it does, the file is the
//! whole representation, never a splice.

use std::sync::{Arc, Mutex};

use tokio::io::AsyncWriteExt;
use wxdl::{DownloadOptions, FailReason};
use wxdl_testkit::engine::{fail, ok, Env};
use wxdl_testkit::ranged::pattern;
use wxdl_testkit::raw::read_head;
use wxdl_testkit::RawServer;

/// How the staged server describes lengths.
#[derive(Clone, Copy)]
enum Lengths {
    /// The whole body chunked (no length), the continuation `bytes N-M/T`.
    FirstUnknown,
    /// The whole body with `Content-Length`, the continuation `bytes N-M/*`.
    RangeUnknown,
}

/// A server of `data` under one strong ETag: the first answer is cut after `cut` body bytes, a
/// later request without `Range` gets the whole body, one with `Range: bytes=N-` the rest as a
/// 206; every head is kept.
async fn staged(
    data: Arc<Vec<u8>>,
    cut: usize,
    lengths: Lengths,
) -> (RawServer, Arc<Mutex<Vec<String>>>) {
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    let server = RawServer::start(move |mut s, _| {
        let (data, seen) = (data.clone(), seen.clone());
        async move {
            let head = read_head(&mut s).await;
            let first = {
                let mut seen = seen.lock().unwrap();
                seen.push(head.clone());
                seen.len() == 1
            };
            let cut = if first { cut } else { data.len() };
            let lower = head.to_ascii_lowercase();
            let from = lower
                .lines()
                .find_map(|l| l.strip_prefix("range: bytes="))
                .and_then(|r| r.trim().trim_end_matches('-').parse::<usize>().ok());
            let total = data.len();
            let answer = match (from, lengths) {
                (None, Lengths::FirstUnknown) => {
                    let mut a = format!(
                        "HTTP/1.1 200 OK\r\nETag: \"t\"\r\nAccept-Ranges: bytes\r\nTransfer-Encoding: chunked\r\n\r\n{cut:x}\r\n"
                    )
                    .into_bytes();
                    a.extend_from_slice(&data[..cut]);
                    a.extend_from_slice(b"\r\n");
                    if !first {
                        a.extend_from_slice(b"0\r\n\r\n");
                    }
                    a // when cut: no last chunk
                }
                (None, Lengths::RangeUnknown) => {
                    let mut a = format!(
                        "HTTP/1.1 200 OK\r\nETag: \"t\"\r\nAccept-Ranges: bytes\r\nContent-Length: {total}\r\n\r\n"
                    )
                    .into_bytes();
                    a.extend_from_slice(&data[..cut]);
                    a // when cut: fewer bytes than said
                }
                (Some(n), _) => {
                    let complete = match lengths {
                        Lengths::FirstUnknown => total.to_string(),
                        Lengths::RangeUnknown => "*".to_string(),
                    };
                    let mut a = format!(
                        "HTTP/1.1 206 Partial Content\r\nETag: \"t\"\r\nContent-Range: bytes {n}-{}/{complete}\r\nContent-Length: {}\r\n\r\n",
                        total - 1,
                        total - n
                    )
                    .into_bytes();
                    a.extend_from_slice(&data[n..]);
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

async fn continues(lengths: Lengths) {
    let data = pattern(9, 150_000);
    let cut = 60_000;
    let (server, heads) = staged(data.clone(), cut, lengths).await;
    let env = Env::new();
    let client = env.client(&[]);
    let target = env.dir.path().join("t.bin");
    let opts = || {
        DownloadOptions::new(server.url("/t"))
            .host_path(&target)
            .resume(true)
    };
    fail(
        client.download(opts()).await,
        FailReason::NetworkInterrupted,
    );
    let held = std::fs::metadata(env.dir.path().join(".t.bin.wxdl-partial"))
        .unwrap()
        .len();
    assert_eq!(held, cut as u64);

    let s = ok(client.download(opts()).await);
    assert_eq!(std::fs::read(&target).unwrap(), *data, "the whole file");
    let heads = heads.lock().unwrap().clone();
    assert_eq!(heads.len(), 2, "one request to continue: {heads:?}");
    let second = heads[1].to_ascii_lowercase();
    assert!(
        second.contains(&format!("range: bytes={cut}-")) && second.contains("if-range: \"t\""),
        "{second}"
    );
    assert_eq!(
        s.resumed_from, cut as u64,
        "continued, not downloaded again"
    );
    assert_eq!(s.data_length, data.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_of_unknown_total_are_continued_by_a_206_that_names_it() {
    continues(Lengths::FirstUnknown).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_of_known_total_are_continued_by_a_206_that_does_not() {
    continues(Lengths::RangeUnknown).await;
}
