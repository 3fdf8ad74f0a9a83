//! `Client::request` against real servers on loopback: the testkit's echo server (h1, h2 over
//! TLS, h3) checks method, headers and body byte for byte; nginx serves GET/HEAD/statuses; raw
//! servers stage a stale connection. Redirects follow RFC 9110 §15.4 for method and body.

use wxdl_testkit::engine as common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Env, LIMIT};
use http::Method;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wxdl::net::{Api, FileSource, Multipart, Payload, Policy};
use wxdl::request::{Redirect, RequestOptions, Response};
use wxdl::{Fail, FailReason};
use wxdl_testkit::raw::read_head;
use wxdl_testkit::{sha256_hex, Echo, H3Behavior, H3Server, Nginx, RawServer, TestCa};

fn ok(r: Result<Response, Fail>) -> Response {
    r.unwrap_or_else(|f| panic!("expected a response, got {f}"))
}

fn json(r: &Response) -> Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{e}: {:?}", r.body))
}

fn body(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 256) as u8).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn methods_headers_and_bodies_arrive_byte_exact_over_h1_and_h2() {
    let ca = TestCa::new();
    let echo = Echo::start(&ca).await;
    let env = Env::new();
    let client = env.trusting(&[echo.https_port], &ca).build().unwrap();
    let data = body(300_000);
    for (url, h2, version) in [
        (echo.url("/a?x=1"), false, "HTTP/1.1"),
        (echo.https_url("wxdl.test", "/a?x=1"), true, "h2"),
        (echo.https_url("wxdl.test", "/a?x=1"), false, "HTTP/1.1"),
    ] {
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            let r = ok(client
                .request(
                    RequestOptions::new(&url)
                        .method(method.clone())
                        .enable_http2(h2)
                        .header("Content-Type", "application/octet-stream")
                        .header("X-Token", "t1")
                        .body(data.clone()),
                )
                .await);
            assert_eq!(r.status_code, 200);
            let j = json(&r);
            assert_eq!(j["method"], method.as_str(), "{url}");
            assert_eq!(j["version"], version);
            assert_eq!(j["path"], "/a?x=1");
            assert_eq!(j["body_len"], data.len());
            assert_eq!(j["body_sha256"], sha256_hex(&data));
            assert_eq!(j["headers"]["content-length"], data.len().to_string());
            assert_eq!(j["headers"]["x-token"], "t1");
            assert!(j["headers"]["referer"]
                .as_str()
                .unwrap()
                .starts_with("https://servicewechat.com/"));
            assert_eq!(
                r.profile.as_ref().unwrap().protocol,
                if h2 { "h2" } else { "http1.1" }
            );
        }
    }
    // A POST without a body says so: Content-Length 0.
    let r = ok(client
        .request(RequestOptions::new(echo.url("/e")).method(Method::POST))
        .await);
    assert_eq!(json(&r)["headers"]["content-length"], "0");
    // A GET sends none.
    let r = ok(client.request(RequestOptions::new(echo.url("/e"))).await);
    assert!(json(&r)["headers"].get("content-length").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_h3_and_replayed_by_the_quic_fallback() {
    let ca = TestCa::new();
    let h3 = H3Server::start(&ca, H3Behavior::Echo).await;
    let env = Env::new();
    let client = env.trusting(&[h3.addr.port()], &ca).build().unwrap();
    let data = body(100_000);
    let r = ok(client
        .request(
            RequestOptions::new(h3.url("wxdl.test", "/up"))
                .method(Method::POST)
                .enable_quic(true)
                .quic_hint(true)
                .body(data.clone()),
        )
        .await);
    let j = json(&r);
    assert_eq!(j["version"], "h3");
    assert_eq!(j["method"], "POST");
    assert_eq!(j["body_sha256"], sha256_hex(&data));
    assert_eq!(j["headers"]["content-length"], data.len().to_string());

    // No QUIC listener on the echo's port: the handshake fails and the same body goes over TCP.
    let echo = Echo::start(&ca).await;
    let client = env
        .trusting(&[echo.https_port], &ca)
        .quic_handshake_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let r = ok(client
        .request(
            RequestOptions::new(echo.https_url("wxdl.test", "/fb"))
                .method(Method::PUT)
                .enable_quic(true)
                .quic_hint(true)
                .body(data.clone()),
        )
        .await);
    let j = json(&r);
    assert_eq!(j["version"], "HTTP/1.1");
    assert_eq!(j["method"], "PUT");
    assert_eq!(j["body_sha256"], sha256_hex(&data));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_and_multipart_bodies_are_streamed_with_exact_lengths() {
    let ca = TestCa::new();
    let echo = Echo::start(&ca).await;
    let env = Env::new();
    let client = env.client(&[]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("photo.jpg");
    // Many times the 64 KiB chunk.
    let data = body(wxdl::transport::OUT_CHUNK * 40 + 123);
    std::fs::write(&path, &data).unwrap();

    let file = Payload::File(FileSource::open(&path).unwrap());
    let r = ok(client
        .request(
            RequestOptions::new(echo.url("/f"))
                .method(Method::PUT)
                .body(file),
        )
        .await);
    let j = json(&r);
    assert_eq!(j["body_len"], data.len());
    assert_eq!(j["body_sha256"], sha256_hex(&data));

    let fields = [
        ("user".to_owned(), "42".to_owned()),
        ("note".to_owned(), "hello world".to_owned()),
    ];
    let m = Multipart::new(
        &fields,
        "file",
        "photo.jpg",
        "image/jpeg",
        FileSource::open(&path).unwrap(),
    );
    let len = Payload::Multipart(m.clone()).len();
    let r = ok(client
        .request(
            RequestOptions::new(echo.url("/m"))
                .method(Method::POST)
                .body(Payload::Multipart(m)),
        )
        .await);
    let j = json(&r);
    assert_eq!(j["body_len"], len);
    assert_eq!(j["headers"]["content-length"], len.to_string());
    assert!(j["headers"]["content-type"]
        .as_str()
        .unwrap()
        .starts_with("multipart/form-data; boundary="));
    let parts = j["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 3, "{parts:?}");
    assert_eq!(
        (&parts[0]["name"], &parts[0]["value"]),
        (&"user".into(), &"42".into())
    );
    assert_eq!(parts[1]["value"], "hello world");
    assert_eq!(parts[2]["name"], "file");
    assert_eq!(parts[2]["filename"], "photo.jpg");
    assert_eq!(parts[2]["content_type"], "image/jpeg");
    assert_eq!(parts[2]["len"], data.len());
    assert_eq!(parts[2]["sha256"], sha256_hex(&data));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_change_method_and_body_as_rfc_9110_says() {
    let ca = TestCa::new();
    let echo = Echo::start(&ca).await;
    let env = Env::new();
    let client = env.client(&[]);
    let data = body(5000);
    let go = |status: u16, method: Method| {
        client.request(
            RequestOptions::new(echo.url(&format!("/redirect/{status}?to=/landed")))
                .method(method)
                .header("Content-Type", "application/json")
                .header("Content-Encoding", "identity")
                .header("X-Keep", "yes")
                .body(data.clone()),
        )
    };
    for (status, method, expect) in [
        (301, Method::POST, Method::GET),
        (302, Method::POST, Method::GET),
        (302, Method::PUT, Method::PUT),
        (303, Method::PUT, Method::GET),
        (303, Method::DELETE, Method::GET),
        (307, Method::POST, Method::POST),
        (308, Method::PATCH, Method::PATCH),
    ] {
        let r = ok(go(status, method.clone()).await);
        assert_eq!(r.status_code, 200);
        assert!(r.url.ends_with("/landed"));
        assert_eq!(r.hops.len(), 2);
        let j = json(&r);
        assert_eq!(j["method"], expect.as_str(), "{status} {method}");
        assert_eq!(j["headers"]["x-keep"], "yes");
        let h = &j["headers"];
        if expect == Method::GET {
            assert_eq!(j["body_len"], 0, "{status} {method}");
            for gone in ["content-type", "content-length", "content-encoding"] {
                assert!(h.get(gone).is_none(), "{status} {method} kept {gone}");
            }
        } else {
            assert_eq!(j["body_sha256"], sha256_hex(&data), "{status} {method}");
            assert_eq!(h["content-type"], "application/json");
        }
    }
    // HEAD through a 303 stays HEAD (no body in the answer either).
    let r = ok(client
        .request(RequestOptions::new(echo.url("/redirect/303?to=/landed")).method(Method::HEAD))
        .await);
    assert_eq!(r.status_code, 200);
    assert!(r.body.is_empty());
    assert!(r.header["content-length"].parse::<u64>().unwrap() > 0);

    // Manual: the 3xx is the answer, with its head.
    let r = ok(client
        .request(
            RequestOptions::new(echo.url("/redirect/302?to=/landed")).redirect(Redirect::Manual),
        )
        .await);
    assert_eq!(r.status_code, 302);
    assert_eq!(r.header["location"], "/landed");
    assert_eq!(&r.body[..], b"moved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_head_and_bodiless_answers_from_nginx() {
    let nginx = Nginx::start();
    std::fs::write(nginx.root.join("hello.txt"), "hello\n").unwrap();
    let env = Env::new();
    let client = env.client(&[]);
    let r = ok(client
        .request(RequestOptions::new(nginx.url("/hello.txt")))
        .await);
    assert_eq!((r.status_code, &r.body[..]), (200, &b"hello\n"[..]));
    let r = ok(client
        .request(RequestOptions::new(nginx.url("/status/404")))
        .await);
    assert_eq!(r.status_code, 404, "any status is a success");
    assert_eq!(&r.body[..], b"not found body\n");
    let r = ok(client
        .request(RequestOptions::new(nginx.url("/hello.txt")).method(Method::HEAD))
        .await);
    assert_eq!(r.status_code, 200);
    assert!(r.body.is_empty());
    assert_eq!(r.header["content-length"], "6");
    let r = ok(client
        .request(RequestOptions::new(nginx.url("/hops/3")))
        .await);
    assert_eq!((r.status_code, r.hops.len()), (200, 4));
    let p = r.profile.unwrap();
    assert!(p.queue_start > 0.0 && p.queue_end >= p.queue_start && p.invoke_start > 0.0);
    assert!(
        client.network_quality().http_rtt_ms.is_some(),
        "estimator sampled"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_body_in_memory_is_bounded_and_chunks_are_handed_out() {
    let ca = TestCa::new();
    let echo = Echo::start(&ca).await;
    let env = Env::new();
    let client = env.client(&[]);
    let f = client
        .request(RequestOptions::new(echo.url("/bytes/5000")).max_bytes(4999))
        .await
        .unwrap_err();
    assert_eq!(f.reason, FailReason::ExceedMaxFileSize);
    // Without a Content-Length the bound holds as the body arrives.
    let raw = RawServer::respond_raw(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n\
          xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\
          xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    )
    .await;
    let f = client
        .request(RequestOptions::new(raw.url("/")).max_bytes(100))
        .await
        .unwrap_err();
    assert_eq!(f.reason, FailReason::ExceedMaxFileSize);
    assert_eq!(wxdl::request::DEFAULT_REQUEST_MAX_BYTES, 50 * 1024 * 1024);

    let chunks = Arc::new(Mutex::new(Vec::<u8>::new()));
    let heads = Arc::new(AtomicUsize::new(0));
    let (c, h) = (chunks.clone(), heads.clone());
    let r = ok(client
        .request(
            RequestOptions::new(echo.url("/bytes/300000"))
                .on_chunk_received(move |b| c.lock().unwrap().extend_from_slice(b))
                .on_headers_received(move |hr| {
                    assert_eq!(hr.status_code, 200);
                    h.fetch_add(1, Ordering::SeqCst);
                }),
        )
        .await);
    assert_eq!(r.body.len(), 300_000);
    assert_eq!(&chunks.lock().unwrap()[..], &r.body[..]);
    assert_eq!(heads.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stale_connection_retry_sends_the_body_again() {
    // Connection 0 answers one request and keeps alive, then closes at the next request as
    // a server does with an idle connection; connection 1 answers with the body it got.
    let raw = RawServer::start(|mut s, i| async move {
        loop {
            let head = read_head(&mut s).await;
            if head.is_empty() {
                return;
            }
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            let split = head.find("\r\n\r\n").unwrap() + 4;
            let mut got = head.as_bytes()[split..].to_vec();
            while got.len() < len {
                let mut buf = [0u8; 4096];
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            if i == 0 && got.starts_with(b"second") {
                return; // closed under the reused request
            }
            let answer = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", got.len());
            let _ = s.write_all(answer.as_bytes()).await;
            let _ = s.write_all(&got).await;
        }
    })
    .await;
    let env = Env::new();
    let client = env.client(&[]);
    let post = |b: &'static str| {
        client.request(
            RequestOptions::new(raw.url("/p"))
                .method(Method::POST)
                .body(b),
        )
    };
    assert_eq!(&ok(post("first body").await).body[..], b"first body");
    let r = ok(post("second body").await);
    assert_eq!(&r.body[..], b"second body");
    assert_eq!(raw.accepted(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_policy_checks_the_request_domain_list() {
    let ca = TestCa::new();
    let echo = Echo::start(&ca).await;
    let env = Env::new();
    let entry = format!("wxdl.test:{}", echo.https_port);
    let policy =
        Policy::strict_per_api(["cdn.example.com"], [entry.as_str()], ["up.example.com"]).unwrap();
    let client = env
        .trusting(&[echo.https_port], &ca)
        .policy(policy.clone())
        .build()
        .unwrap();
    let url = echo.https_url("wxdl.test", "/ok");
    let r = ok(client.request(RequestOptions::new(&url)).await);
    assert_eq!(r.status_code, 200);
    assert!(policy.check_str_for(Api::Request, &url).is_ok());
    let f = client
        .download(wxdl::DownloadOptions::new(&url))
        .await
        .unwrap_err();
    assert_eq!(f.reason, FailReason::UrlNotInDomainList);
    // A redirect hop is checked against the same list.
    let f = client
        .request(RequestOptions::new(echo.https_url(
            "wxdl.test",
            "/redirect/302?to=https://cdn.example.com/x",
        )))
        .await
        .unwrap_err();
    assert_eq!(f.reason, FailReason::UrlNotInDomainList);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_and_a_shared_concurrency_scope() {
    // `/held` answers only when told to; any other path at once.
    let release = Arc::new(tokio::sync::Notify::new());
    let arrived = Arc::new(tokio::sync::Notify::new());
    let (rel, arr) = (release.clone(), arrived.clone());
    let held = RawServer::start(move |mut s, _| {
        let (rel, arr) = (rel.clone(), arr.clone());
        async move {
            if read_head(&mut s).await.contains(" /held ") {
                arr.notify_one();
                rel.notified().await;
            }
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                .await;
        }
    })
    .await;
    let ca = TestCa::new();
    let echo = Echo::start(&ca).await;
    let env = Env::new();
    let other = env.client(&[]);
    for scope in [
        wxdl::client::ConcurrencyScope::PerApi,
        wxdl::client::ConcurrencyScope::Shared,
    ] {
        let client = env
            .builder(&[])
            .concurrency(1)
            .concurrency_scope(scope)
            .build()
            .unwrap();
        let first = client.download(wxdl::DownloadOptions::new(held.url("/held")));
        tokio::time::timeout(LIMIT, arrived.notified())
            .await
            .unwrap();
        let second = client.request(RequestOptions::new(held.url("/next")));
        let queued_by = std::time::Instant::now();
        if scope == wxdl::client::ConcurrencyScope::PerApi {
            // Its own queue: it runs to its end while the download is held.
            ok(tokio::time::timeout(LIMIT, second).await.unwrap());
            release.notify_one();
            first.await.unwrap();
        } else {
            // Something else happens meanwhile (another client's exchange), then the download
            // is let go. The request was queued by `queued_by` and admitted after `released`:
            // its profile's queue wait covers at least that span.
            ok(other
                .request(RequestOptions::new(echo.url("/meanwhile")))
                .await);
            let released = std::time::Instant::now();
            release.notify_one();
            first.await.unwrap();
            let p = ok(second.await).profile.unwrap();
            let waited = p.queue_end - p.queue_start;
            let at_least = (released - queued_by).as_secs_f64() * 1000.0;
            assert!(
                waited + 0.001 >= at_least,
                "one pool: the request waited for the download's slot ({waited} ms < {at_least} ms)"
            );
        }
    }
    // Abort ends a held request with `abort`.
    let client = env.client(&[]);
    let task = client.request(
        RequestOptions::new(held.url("/held"))
            .method(Method::POST)
            .body("x"),
    );
    tokio::time::timeout(LIMIT, arrived.notified())
        .await
        .unwrap();
    task.abort();
    let f = task.await.unwrap_err();
    assert_eq!(f.reason, FailReason::Abort);
    release.notify_one();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retry_policy_never_repeats_a_post_that_went_out() {
    // Reads the request, then resets the connection: the request's bytes were sent.
    let raw = RawServer::start(|mut s, _| async move {
        read_head(&mut s).await;
        wxdl_testkit::raw::reset(s);
    })
    .await;
    let ca = TestCa::new();
    let echo = Echo::start(&ca).await;
    let env = Env::new();
    let client = env.client(&[]);
    let send = |url: String, method: Method| {
        client.request(
            RequestOptions::new(url)
                .method(method)
                .body("payload")
                .retry(2)
                .retry_delay(Duration::from_millis(1))
                .retry_http(true),
        )
    };
    let f = send(raw.url("/r"), Method::POST).await.unwrap_err();
    assert_eq!(f.reason, FailReason::NetworkInterrupted);
    assert_eq!(raw.accepted(), 1, "a POST that went out is not sent again");
    let f = send(raw.url("/r"), Method::PUT).await.unwrap_err();
    assert_eq!(f.reason, FailReason::NetworkInterrupted);
    assert_eq!(raw.accepted(), 1 + 3, "PUT is idempotent: 1 + 2 retries");

    let r = ok(send(echo.url("/status/503"), Method::POST).await);
    assert_eq!(
        (r.status_code, echo.hits()),
        (503, 1),
        "no retry of a POST's answer"
    );
    let r = ok(send(echo.url("/status/503"), Method::DELETE).await);
    assert_eq!((r.status_code, echo.hits()), (503, 1 + 3));
}
