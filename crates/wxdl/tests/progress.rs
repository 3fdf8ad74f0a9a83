//! Progress events (contract §2) against a server that sends its body a byte at a time: an
//! event when the integer percent changes or after 100 ms without one, one final event with
//! everything written, and no more. The bounds below use the test's own clock only as an upper
//! bound of how many 100 ms intervals there were; nothing asserts a duration.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use wxdl::{DownloadOptions, Progress};
use wxdl_testkit::engine::{ok, Env};
use wxdl_testkit::raw::read_head;
use wxdl_testkit::RawServer;

const BODY: usize = 200;

/// Sends `BODY` bytes one write each, with `Content-Length` or chunked (one chunk per byte).
async fn dripping(with_length: bool) -> RawServer {
    RawServer::start(move |mut s, _| async move {
        read_head(&mut s).await;
        let head: &[u8] = if with_length {
            b"HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n"
        } else {
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        };
        let _ = s.write_all(head).await;
        for _ in 0..BODY {
            let piece: &[u8] = if with_length { b"p" } else { b"1\r\np\r\n" };
            if s.write_all(piece).await.is_err() || s.flush().await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        if !with_length {
            let _ = s.write_all(b"0\r\n\r\n").await;
        }
        let _ = s.shutdown().await;
    })
    .await
}

/// The events of one download of the dripping server, and an upper bound of how long its body
/// took.
async fn events(with_length: bool) -> (Vec<Progress>, Duration) {
    let server = dripping(with_length).await;
    let env = Env::new();
    let seen = Arc::new(Mutex::new(Vec::<Progress>::new()));
    let sink = seen.clone();
    let started = Instant::now();
    let s = ok(env
        .client(&[])
        .download(
            DownloadOptions::new(server.url("/drip"))
                .on_progress_update(move |p| sink.lock().unwrap().push(*p)),
        )
        .await);
    let took = started.elapsed();
    assert_eq!(s.data_length, BODY as u64);
    let events = seen.lock().unwrap().clone();
    (events, took)
}

/// How many 100 ms intervals fit in `took`, plus one for the one under way.
fn intervals(took: Duration) -> usize {
    (took.as_millis() / 100) as usize + 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_length_gives_an_event_per_percent_and_one_final_event() {
    let (events, took) = events(true).await;
    let last = *events.last().expect("events");
    assert_eq!(
        (
            last.progress,
            last.total_bytes_written,
            last.total_bytes_expected_to_write
        ),
        (100, BODY as u64, BODY as u64)
    );
    assert_eq!(
        events.iter().filter(|e| e.progress == 100).count(),
        1,
        "one final event: {events:?}"
    );
    let mut same_percent = 0;
    for pair in events.windows(2) {
        assert!(pair[0].total_bytes_written < pair[1].total_bytes_written);
        if pair[0].progress == pair[1].progress {
            same_percent += 1;
        }
        assert!(pair[0].progress <= pair[1].progress);
    }
    for e in &events {
        assert_eq!(e.total_bytes_expected_to_write, BODY as u64);
        assert_eq!(
            u64::from(e.progress),
            e.total_bytes_written * 100 / BODY as u64,
            "the integer percent of what is written"
        );
    }
    // 200 bytes arriving in up to 200 reads: coalesced to at most one event per percent, plus
    // one per 100 ms without a change.
    assert!(
        same_percent <= intervals(took),
        "{same_percent} events without a percent change in {took:?}: {events:?}"
    );
    assert!(events.len() <= 100 + intervals(took), "{}", events.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_length_gives_an_event_per_interval_and_one_final_event() {
    let (events, took) = events(false).await;
    let (last, before) = events.split_last().expect("events");
    assert_eq!(
        (
            last.progress,
            last.total_bytes_written,
            last.total_bytes_expected_to_write
        ),
        (100, BODY as u64, 0)
    );
    assert!(before
        .iter()
        .all(|e| e.progress == 0 && e.total_bytes_expected_to_write == 0));
    assert!(
        before.len() <= intervals(took),
        "{} events at 0 % in {took:?}: {events:?}",
        before.len()
    );
    for pair in before.windows(2) {
        assert!(pair[0].total_bytes_written < pair[1].total_bytes_written);
    }
}
