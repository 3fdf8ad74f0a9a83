//! Redirects (contract §4) against real servers: every redirect status the contract names is
//! followed (301, 302, 303, 307, 308, from nginx), others are not; a redirect's body is read to
//! its end up to 64 KiB, so its connection serves the next hop, and past that the connection is
//! dropped; the bytes read are the hop's figures in the HAR record.

use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use wxdl::DownloadOptions;
use wxdl_testkit::engine::{ok, Env};
use wxdl_testkit::raw::read_head;
use wxdl_testkit::{Nginx, RawServer};

/// The drain limit the contract's connection reuse rests on (redirect.rs).
const LIMIT: usize = 64 * 1024;

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_redirect_status_is_followed() {
    let mut nginx = Nginx::builder();
    for code in [301, 302, 303, 307, 308] {
        nginx = nginx.location(&format!(
            "location = /r/{code} {{ return {code} /hello.txt; }}"
        ));
    }
    // A 300 and a 304-less 3xx with a Location are answers, not redirects.
    for code in [300, 305] {
        nginx = nginx.location(&format!(
            "location = /r/{code} {{ add_header Location /hello.txt always; return {code} \"not a redirect\\n\"; }}"
        ));
    }
    let nginx = nginx.start();
    let env = Env::new();
    let client = env.client(&[]);
    for code in [301, 302, 303, 307, 308] {
        let s = ok(client
            .download(DownloadOptions::new(nginx.url(&format!("/r/{code}"))))
            .await);
        assert_eq!(s.status_code, 200, "{code}");
        assert_eq!(
            std::fs::read_to_string(&s.saved_path).unwrap(),
            "hello from nginx\n",
            "{code}"
        );
        assert_eq!(s.hops.len(), 2, "{code}");
        let hop = &s.hops[0];
        assert_eq!(hop.status_code, code);
        assert_eq!(
            hop.redirect_url.as_deref(),
            Some(nginx.url("/hello.txt").as_str())
        );
        // The hop's body figure is what nginx said it sent.
        let length: u64 = header(&hop.response_header, "content-length")
            .unwrap()
            .parse()
            .unwrap();
        assert!(length > 0);
        assert_eq!(hop.body_bytes, length, "{code}");
        assert!(hop.received_bytes > length, "{code}: head and body");
        assert!(s.hops[1].socket_reused, "{code}: the drained connection");
    }
    for code in [300, 305] {
        let s = ok(client
            .download(DownloadOptions::new(nginx.url(&format!("/r/{code}"))))
            .await);
        assert_eq!(s.status_code, code);
        assert_eq!(s.hops.len(), 1, "{code}");
        assert_eq!(
            std::fs::read_to_string(&s.saved_path).unwrap(),
            "not a redirect\n"
        );
    }
}

/// A keep-alive server: `/redirect/<n>` answers 302 to `/final` with an `n`-byte body,
/// `/final` answers 200 `done`; each connection serves requests until the client closes it.
async fn redirecting() -> RawServer {
    let filler = Arc::new(vec![b'r'; 4 * LIMIT]);
    RawServer::start(move |mut s, _| {
        let filler = filler.clone();
        async move {
            for _ in 0..16 {
                let head = read_head(&mut s).await;
                let Some(path) = head.split_whitespace().nth(1) else {
                    return;
                };
                let written = if let Some(n) = path.strip_prefix("/redirect/") {
                    let n: usize = n.parse().unwrap();
                    let head = format!(
                        "HTTP/1.1 302 Found\r\nLocation: /final\r\nContent-Length: {n}\r\n\r\n"
                    );
                    let mut answer = head.into_bytes();
                    answer.extend_from_slice(&filler[..n]);
                    s.write_all(&answer).await
                } else {
                    s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone")
                        .await
                };
                if written.is_err() {
                    return;
                }
            }
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_body_up_to_64_kib_is_drained_and_its_connection_reused() {
    for n in [0, 1000, LIMIT - 1, LIMIT] {
        let server = redirecting().await;
        let env = Env::new();
        let s = ok(env
            .client(&[])
            .download(DownloadOptions::new(server.url(&format!("/redirect/{n}"))))
            .await);
        assert_eq!(std::fs::read(&s.saved_path).unwrap(), b"done");
        assert_eq!(server.accepted(), 1, "{n}: one connection for both hops");
        let (hop, last) = (&s.hops[0], &s.hops[1]);
        assert_eq!(hop.status_code, 302);
        assert_eq!(hop.body_bytes, n as u64, "{n}: the drained bytes");
        assert!(hop.received_bytes > n as u64, "{n}: head and body");
        assert!(!hop.socket_reused);
        assert!(last.socket_reused, "{n}");
        assert!(s.profile.unwrap().socket_reused, "{n}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_body_over_64_kib_is_not_drained_and_its_connection_is_dropped() {
    for n in [LIMIT + 1, 4 * LIMIT] {
        let server = redirecting().await;
        let env = Env::new();
        let s = ok(env
            .client(&[])
            .download(DownloadOptions::new(server.url(&format!("/redirect/{n}"))))
            .await);
        assert_eq!(std::fs::read(&s.saved_path).unwrap(), b"done");
        assert_eq!(
            server.accepted(),
            2,
            "{n}: the next hop on a new connection"
        );
        let (hop, last) = (&s.hops[0], &s.hops[1]);
        assert!(
            hop.body_bytes > LIMIT as u64 && hop.body_bytes <= n as u64,
            "{n}: read {} bytes",
            hop.body_bytes
        );
        assert!(hop.received_bytes > hop.body_bytes);
        assert!(!last.socket_reused, "{n}");
        assert!(!s.profile.unwrap().socket_reused, "{n}");
    }
}
