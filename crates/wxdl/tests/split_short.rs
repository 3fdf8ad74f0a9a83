//! [beyond] `split`: a segment whose first answer is not exactly its range of the same file is
//! asked again, and the file is whole and of one version: a `206` that ends cleanly but short
//! (chunked, stops halfway) is continued from its first missing byte; a `206` of another length
//! of file, of another range, or without `Content-Range` (each carrying another version's
//! bytes) is never written. Each segment's HAR record counts its range's bytes.

use std::sync::{Arc, Mutex};

use tokio::io::AsyncWriteExt;
use wxdl::{DownloadOptions, FailReason};
use wxdl_testkit::engine::{assert_no_partial, fail, ok, Env};
use wxdl_testkit::ranged::pattern;
use wxdl_testkit::raw::read_head;
use wxdl_testkit::RawServer;

/// What the first range request gets.
#[derive(Clone, Copy, Debug)]
enum Bad {
    /// A chunked `206` naming the whole range that ends cleanly after half of it.
    Short,
    /// The range, of a file of another length.
    OtherTotal,
    /// Another range (one byte shorter).
    OtherRange,
    /// A `206` without `Content-Range`.
    NoContentRange,
}

/// Serves `data` (strong ETag, ranges): the first range request gets the `bad` answer (with
/// another version's bytes, except `Short`); every other answer is right. Keeps every head.
async fn bad_once(data: Arc<Vec<u8>>, bad: Bad) -> (RawServer, Arc<Mutex<Vec<String>>>) {
    let other = pattern(6, data.len() + 1);
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    let server = RawServer::start(move |mut s, _| {
        let (data, seen, other) = (data.clone(), seen.clone(), other.clone());
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
                    let len = last + 1 - from;
                    let (range, length) = match bad {
                        Bad::Short => {
                            let half = len / 2;
                            let mut a = format!(
                                "HTTP/1.1 206 Partial Content\r\nETag: \"s\"\r\nContent-Range: bytes {from}-{last}/{total}\r\nTransfer-Encoding: chunked\r\n\r\n{half:x}\r\n"
                            )
                            .into_bytes();
                            a.extend_from_slice(&data[from..from + half]);
                            a.extend_from_slice(b"\r\n0\r\n\r\n");
                            let _ = s.write_all(&a).await;
                            let _ = s.shutdown().await;
                            return;
                        }
                        Bad::OtherTotal => (
                            format!("Content-Range: bytes {from}-{last}/{}\r\n", total + 1),
                            len,
                        ),
                        Bad::OtherRange => (
                            format!("Content-Range: bytes {from}-{}/{total}\r\n", last - 1),
                            len - 1,
                        ),
                        Bad::NoContentRange => (String::new(), len),
                    };
                    let mut a = format!(
                        "HTTP/1.1 206 Partial Content\r\nETag: \"s\"\r\n{range}Content-Length: {length}\r\n\r\n"
                    )
                    .into_bytes();
                    a.extend_from_slice(&other[from..from + length]);
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

/// The ranges asked for, in order.
fn ranges(heads: &Mutex<Vec<String>>) -> Vec<String> {
    heads
        .lock()
        .unwrap()
        .iter()
        .filter_map(|h| {
            h.to_ascii_lowercase()
                .lines()
                .find_map(|l| l.strip_prefix("range: ").map(str::to_owned))
        })
        .collect()
}

/// Downloads the file split two ways from a server whose first range answer is `bad`; returns
/// the ranges asked for and the range (`from`, `last`) of the second segment.
async fn split_past(bad: Bad) -> (Vec<String>, wxdl::Success, (usize, usize)) {
    let total = 2 * 1024 * 1024 + 10;
    let data = pattern(5, total);
    let (server, heads) = bad_once(data.clone(), bad).await;
    let env = Env::new();
    let s = ok(env
        .client(&[])
        .download(DownloadOptions::new(server.url("/s")).split(2))
        .await);
    assert!(
        std::fs::read(&s.saved_path).unwrap() == *data,
        "{bad:?}: the file is whole and of one version"
    );
    // The plan: [0, total/2) from the first answer, [total/2, total) ranged.
    (ranges(&heads), s, (total / 2, total - 1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_segment_that_ends_short_is_asked_again_from_where_it_stopped() {
    let (ranges, _, (from, last)) = split_past(Bad::Short).await;
    let again = from + (last + 1 - from) / 2;
    assert_eq!(
        ranges,
        [
            format!("bytes={from}-{last}"),
            format!("bytes={again}-{last}")
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_206_that_is_not_exactly_the_segment_fails_the_download_and_saves_nothing() {
    // Another whole length (the file changed between the plan and the segment), another range,
    // or no Content-Range: the segment cannot be proven to belong to the held version, so the
    // download fails rather than write it (issue 23: "starts over once, cleanly, or fails"; split
    // fails), and nothing is left where a user looks.
    let total = 2 * 1024 * 1024 + 10;
    for (bad, why) in [
        (Bad::OtherTotal, "another whole length"),
        (Bad::OtherRange, "Content-Range ends elsewhere"),
        (Bad::NoContentRange, "Content-Range"),
    ] {
        let (server, heads) = bad_once(pattern(5, total), bad).await;
        let env = Env::new();
        let client = env.client(&[]);
        let f = fail(
            client
                .download(DownloadOptions::new(server.url("/s")).split(2))
                .await,
            FailReason::NetworkInterrupted,
        );
        assert!(f.to_string().contains(why), "{bad:?}: {f}");
        assert_eq!(ranges(&heads).len(), 1, "{bad:?}: not asked again: {f}");
        let tmp = client.sandbox().tmp_dir();
        let left = std::fs::read_dir(tmp).map(|d| d.count()).unwrap_or(0);
        assert_eq!(left, 0, "{bad:?}: nothing saved");
        assert_no_partial(tmp);
    }
}
