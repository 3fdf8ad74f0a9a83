//! HTTP edges that must neither lose nor fake data, staged by in-process raw servers: bodiless
//! statuses that announce a length, an unsolicited protocol switch, stacked and raw codings,
//! raw UTF-8 redirects, and the headers the engine owns.

use wxdl_testkit::engine as common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{assert_no_partial, fail, ok, Env};
use flate2::write::{DeflateEncoder, GzEncoder};
use flate2::Compression;
use tokio::io::AsyncWriteExt;
use wxdl::{DownloadOptions, FailReason};
use wxdl_testkit::raw::read_head;
use wxdl_testkit::RawServer;

/// A server answering every request with `answer(head)` and closing; it keeps every head.
async fn serve(
    answer: impl Fn(&str) -> Vec<u8> + Send + Sync + 'static,
) -> (RawServer, Arc<Mutex<Vec<String>>>) {
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&heads);
    let answer = Arc::new(answer);
    let server = RawServer::start(move |mut s, _| {
        let seen = Arc::clone(&seen);
        let answer = Arc::clone(&answer);
        async move {
            let head = read_head(&mut s).await;
            let reply = answer(&head);
            seen.lock().unwrap().push(head);
            let _ = s.write_all(&reply).await;
            let _ = s.shutdown().await;
        }
    })
    .await;
    (server, heads)
}

fn response(head: &str, body: &[u8]) -> Vec<u8> {
    let mut v = format!("{head}\r\nConnection: close\r\n\r\n").into_bytes();
    v.extend_from_slice(body);
    v
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn raw_deflate(data: &[u8]) -> Vec<u8> {
    let mut e = DeflateEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn chunked(data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for piece in data.chunks(1000) {
        v.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        v.extend_from_slice(piece);
        v.extend_from_slice(b"\r\n");
    }
    v.extend_from_slice(b"0\r\n\r\n");
    v
}

/// Some text that compresses, long enough to span several reads.
fn text() -> Vec<u8> {
    (0..20_000u32)
        .flat_map(|i| format!("line {i} of the body\n").into_bytes())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodiless_statuses_and_an_unsolicited_switch() {
    let (server, _) = serve(|head| {
        if head.starts_with("GET /204") {
            response("HTTP/1.1 204 No Content\r\nContent-Length: 10", b"")
        } else if head.starts_with("GET /304") {
            response("HTTP/1.1 304 Not Modified\r\nContent-Length: 100", b"")
        } else {
            response(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket",
                b"\x81\x05hello",
            )
        }
    })
    .await;
    let env = Env::new();
    let client = env.client(&[]);
    for (path, status) in [("/204", 204), ("/304", 304)] {
        let s = ok(client
            .download(DownloadOptions::new(server.url(path)))
            .await);
        assert_eq!((s.status_code, s.data_length), (status, 0));
        assert_eq!(std::fs::read(&s.saved_path).unwrap(), b"");
    }
    let kept = env.dir.path().join("kept.bin");
    std::fs::write(&kept, b"precious").unwrap();
    fail(
        client
            .download(DownloadOptions::new(server.url("/ws")).host_path(&kept))
            .await,
        FailReason::NetworkInterrupted,
    );
    assert_eq!(std::fs::read(&kept).unwrap(), b"precious");
    assert_no_partial(env.dir.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stacked_transfer_and_raw_codings_decode_fully_or_fail() {
    let body = text();
    let twice = gzip(&gzip(&body));
    let once = gzip(&body);
    let raw = raw_deflate(&body);
    let (server, _) = serve(move |head| {
        let path = head.split_whitespace().nth(1).unwrap_or("");
        match path {
            "/gzip-gzip" => response(
                &format!(
                    "HTTP/1.1 200 OK\r\nContent-Encoding: gzip, gzip\r\nContent-Length: {}",
                    twice.len()
                ),
                &twice,
            ),
            "/te-gzip" => response(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked",
                &chunked(&once),
            ),
            "/raw-deflate" => response(
                &format!(
                    "HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: {}",
                    raw.len()
                ),
                &raw,
            ),
            _ => response(
                &format!(
                    "HTTP/1.1 200 OK\r\nContent-Encoding: gzip, compress\r\nContent-Length: {}",
                    once.len()
                ),
                &once,
            ),
        }
    })
    .await;
    let env = Env::new();
    let client = env.client(&[]);
    let asked = |path: &str| {
        DownloadOptions::new(server.url(path)).header("Accept-Encoding", "gzip, deflate")
    };
    for opts in [
        asked("/gzip-gzip"),
        asked("/raw-deflate"),
        // A transfer coding comes off whether or not the caller asked for decoding.
        DownloadOptions::new(server.url("/te-gzip")),
    ] {
        let s = ok(client.download(opts).await);
        assert!(
            std::fs::read(&s.saved_path).unwrap() == body,
            "{} not fully decoded",
            s.hops[0].url
        );
        assert_eq!(s.data_length, body.len() as u64);
    }
    let kept = env.dir.path().join("kept.bin");
    std::fs::write(&kept, b"precious").unwrap();
    fail(
        client.download(asked("/unknown").host_path(&kept)).await,
        FailReason::NetworkInterrupted,
    );
    assert_eq!(std::fs::read(&kept).unwrap(), b"precious");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_utf8_location_is_encoded_and_followed() {
    let (server, heads) = serve(|head| {
        if head.starts_with("GET /start ") {
            b"HTTP/1.1 302 Found\r\nLocation: /caf\xc3\xa9/\xe6\x96\x87.txt\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
        } else {
            response("HTTP/1.1 200 OK\r\nContent-Length: 2", b"ok")
        }
    })
    .await;
    let env = Env::new();
    let client = env.client(&[]);
    let s = ok(client
        .download(DownloadOptions::new(server.url("/start")))
        .await);
    assert_eq!(s.status_code, 200);
    let heads = heads.lock().unwrap();
    assert!(
        heads[1].starts_with("GET /caf%C3%A9/%E6%96%87.txt HTTP/1.1"),
        "{}",
        heads[1]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_the_engine_owns_are_dropped_not_fatal() {
    let (server, heads) = serve(|_| response("HTTP/1.1 200 OK\r\nContent-Length: 2", b"ok")).await;
    let env = Env::new();
    let client = env.client(&[]);
    let mut opts = DownloadOptions::new(server.url("/h"));
    for (name, value) in [
        ("Content-Length", "5"),
        ("Transfer-Encoding", "chunked"),
        ("Connection", "keep-alive, Upgrade"),
        ("Upgrade", "h2c"),
        ("TE", "trailers"),
        ("Keep-Alive", "timeout=5"),
        ("Proxy-Connection", "keep-alive"),
        ("Host", "example.test"),
        ("X-Kept", "yes"),
    ] {
        opts = opts.header(name, value);
    }
    let s = ok(client.download(opts).await);
    assert_eq!(std::fs::read(&s.saved_path).unwrap(), b"ok");
    let head = heads.lock().unwrap()[0].to_ascii_lowercase();
    for gone in [
        "content-length:",
        "transfer-encoding:",
        "upgrade:",
        "te:",
        "keep-alive:",
        "proxy-connection:",
    ] {
        assert!(!head.contains(&format!("\n{gone}")), "{gone} sent:\n{head}");
    }
    // With the policy off the caller's Host is kept (curl's testing idiom), and only it.
    assert_eq!(head.matches("\nhost:").count(), 1, "{head}");
    assert!(head.contains("\nhost: example.test"), "{head}");
    assert!(head.contains("\nx-kept: yes"), "{head}");
}
