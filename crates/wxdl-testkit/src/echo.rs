//! An in-process echo server (hyper 1) on 127.0.0.1: plain HTTP/1.1, and HTTP/1.1 or HTTP/2
//! (by ALPN) over TLS with a certificate from the test CA. It answers every request with JSON
//! describing what it got — method, path and query, protocol, headers, body length and sha256,
//! and for `multipart/form-data` each part (name, filename, content type, length, sha256),
//! parsed part by part — so a test can check what a client sent, byte for byte.
//!
//! Paths that answer otherwise:
//! - `/redirect/<status>?to=<path>`: that status with `Location: <path>` (and a short body);
//! - `/status/<status>`: that status, the JSON as its body (none for 204, 304 or a HEAD);
//! - `/bytes/<n>`: `n` bytes of `application/octet-stream`, the pattern `i % 251`.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::ca::TestCa;
use crate::data::sha256_hex;
use crate::nginx::ALT_HOST;

/// A running echo server; stops when dropped.
pub struct Echo {
    /// The plain HTTP/1.1 port.
    pub port: u16,
    /// The TLS port (HTTP/1.1 or HTTP/2 by ALPN).
    pub https_port: u16,
    hits: Arc<AtomicUsize>,
    tasks: Vec<JoinHandle<()>>,
}

impl Echo {
    /// Starts both listeners; the TLS one with a certificate from `ca` for `localhost`,
    /// `127.0.0.1` and [`ALT_HOST`].
    pub async fn start(ca: &TestCa) -> Echo {
        let hits = Arc::new(AtomicUsize::new(0));
        let plain = TcpListener::bind("127.0.0.1:0").await.expect("bind echo");
        let tls = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind echo tls");
        let port = plain.local_addr().expect("addr").port();
        let https_port = tls.local_addr().expect("addr").port();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls_config(ca)));
        let h = hits.clone();
        let plain_task = tokio::spawn(async move {
            while let Ok((s, _)) = plain.accept().await {
                let h = h.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| answer(req, "HTTP/1.1", h.clone()));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(s), svc)
                        .await;
                });
            }
        });
        let h = hits.clone();
        let tls_task = tokio::spawn(async move {
            while let Ok((s, _)) = tls.accept().await {
                let (h, acceptor) = (h.clone(), acceptor.clone());
                tokio::spawn(async move {
                    let Ok(s) = acceptor.accept(s).await else {
                        return;
                    };
                    let h2 = s.get_ref().1.alpn_protocol() == Some(b"h2");
                    let io = TokioIo::new(s);
                    if h2 {
                        let svc = service_fn(move |req| answer(req, "h2", h.clone()));
                        let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                            .serve_connection(io, svc)
                            .await;
                    } else {
                        let svc = service_fn(move |req| answer(req, "HTTP/1.1", h.clone()));
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(io, svc)
                            .await;
                    }
                });
            }
        });
        Echo {
            port,
            https_port,
            hits,
            tasks: vec![plain_task, tls_task],
        }
    }

    /// `http://127.0.0.1:PORT<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `https://<host>:PORT<path>` (h1 or h2 by ALPN).
    pub fn https_url(&self, host: &str, path: &str) -> String {
        format!("https://{host}:{}{path}", self.https_port)
    }

    /// Requests answered so far (both listeners).
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn tls_config(ca: &TestCa) -> rustls::ServerConfig {
    let cert = ca.server_cert(&["localhost", "127.0.0.1", ALT_HOST]);
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(cert.cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .expect("server cert PEM");
    let key = PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).expect("server key PEM");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server TLS config");
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    tls
}

async fn answer(
    req: http::Request<Incoming>,
    version: &'static str,
    hits: Arc<AtomicUsize>,
) -> Result<http::Response<Full<Bytes>>, Infallible> {
    hits.fetch_add(1, Ordering::SeqCst);
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Ok(respond(400, Bytes::new(), "text/plain")),
    };
    let path = parts.uri.path().to_owned();
    let target = parts
        .uri
        .path_and_query()
        .map_or(path.clone(), |p| p.as_str().to_owned());
    if let Some(n) = path.strip_prefix("/bytes/") {
        let n: usize = n.parse().unwrap_or(0);
        let data: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
        return Ok(respond(200, data.into(), "application/octet-stream"));
    }
    if let Some(code) = path.strip_prefix("/redirect/") {
        let code: u16 = code.parse().unwrap_or(302);
        let to = parts
            .uri
            .query()
            .and_then(|q| q.strip_prefix("to="))
            .unwrap_or("/");
        let mut r = respond(code, Bytes::from_static(b"moved"), "text/plain");
        r.headers_mut()
            .insert("location", to.parse().expect("location"));
        return Ok(r);
    }
    let described = describe(&parts.method, &target, version, &parts.headers, &body);
    let text = Bytes::from(described.to_string());
    let code = path
        .strip_prefix("/status/")
        .and_then(|c| c.parse().ok())
        .unwrap_or(200u16);
    let empty = matches!(code, 204 | 304) || parts.method == http::Method::HEAD;
    let mut r = respond(
        code,
        if empty { Bytes::new() } else { text.clone() },
        "application/json",
    );
    if parts.method == http::Method::HEAD {
        r.headers_mut().insert("content-length", text.len().into());
    }
    Ok(r)
}

fn respond(code: u16, body: Bytes, content_type: &str) -> http::Response<Full<Bytes>> {
    http::Response::builder()
        .status(code)
        .header("content-type", content_type)
        .body(Full::new(body))
        .expect("response")
}

/// The JSON the echo server answers with (the in-process HTTP/3 server's echo too).
pub fn describe(
    method: &http::Method,
    target: &str,
    version: &str,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Value {
    let mut h = serde_json::Map::new();
    for (k, v) in headers {
        h.insert(
            k.as_str().to_owned(),
            Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()),
        );
    }
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let parts = multipart_boundary(content_type).map(|b| parse_multipart(body, &b));
    json!({
        "method": method.as_str(),
        "path": target,
        "version": version,
        "headers": h,
        "body_len": body.len(),
        "body_sha256": sha256_hex(body),
        "body_text": std::str::from_utf8(body).ok().filter(|t| t.len() <= 4096),
        "parts": parts,
    })
}

fn multipart_boundary(content_type: &str) -> Option<String> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.eq_ignore_ascii_case("boundary")
            .then(|| v.trim_matches('"').to_owned())
    })
}

/// Each part of a multipart body: name, filename, content type, length, sha256. A body that
/// does not follow the format gives `{"error": …}` in place of the part it broke at.
fn parse_multipart(body: &[u8], boundary: &str) -> Vec<Value> {
    let delim = format!("--{boundary}");
    let mut out = Vec::new();
    let Some(mut at) = find(body, delim.as_bytes(), 0) else {
        return vec![json!({"error": "no first boundary"})];
    };
    loop {
        at += delim.len();
        if body[at..].starts_with(b"--") {
            return out;
        }
        if !body[at..].starts_with(b"\r\n") {
            out.push(json!({"error": "no CRLF after a boundary"}));
            return out;
        }
        at += 2;
        let Some(head_end) = find(body, b"\r\n\r\n", at) else {
            out.push(json!({"error": "no end of part head"}));
            return out;
        };
        let head = String::from_utf8_lossy(&body[at..head_end]).into_owned();
        let start = head_end + 4;
        let end_delim = format!("\r\n{delim}");
        let Some(end) = find(body, end_delim.as_bytes(), start) else {
            out.push(json!({"error": "no closing boundary"}));
            return out;
        };
        let content = &body[start..end];
        let mut part = serde_json::Map::new();
        for line in head.split("\r\n") {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let v = v.trim();
            if k.eq_ignore_ascii_case("content-disposition") {
                for p in v.split(';').skip(1) {
                    if let Some((pk, pv)) = p.trim().split_once('=') {
                        part.insert(
                            pk.to_owned(),
                            Value::String(pv.trim_matches('"').to_owned()),
                        );
                    }
                }
            } else if k.eq_ignore_ascii_case("content-type") {
                part.insert("content_type".into(), Value::String(v.to_owned()));
            }
        }
        part.insert("len".into(), content.len().into());
        part.insert("sha256".into(), Value::String(sha256_hex(content)));
        if let Ok(t) = std::str::from_utf8(content) {
            if t.len() <= 1024 {
                part.insert("value".into(), Value::String(t.to_owned()));
            }
        }
        out.push(Value::Object(part));
        at = end + 2;
    }
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// Checks the report of `examples/clients`' calls (axios with axios-miniprogram-adapter, flyio's
/// wx engine) against this server, as every face that runs them prints it.
pub fn assert_clients_report(report: &serde_json::Value) {
    assert_eq!(report["axios"]["status"], 200, "{report}");
    assert_eq!(report["axios"]["method"], "POST");
    assert_eq!(report["axios"]["body"], r#"{"hello":"axios"}"#);
    assert_eq!(report["axios"]["lib"], "axios");
    assert_eq!(report["axios404"], 404);
    assert_eq!(report["fly"]["status"], 200);
    assert_eq!(report["fly"]["path"], "/fly?k=v+w");
    assert_eq!(report["flyPost"]["method"], "POST");
    assert_eq!(report["flyPost"]["body"], r#"{"n":1}"#);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_parts_are_parsed_one_by_one() {
        let body = b"--XY\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n\
--XY\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.bin\"\r\n\
Content-Type: application/octet-stream\r\n\r\n\r\n--X\r\n--XY--\r\n";
        let parts = parse_multipart(body, "XY");
        assert_eq!(parts.len(), 2, "{parts:?}");
        assert_eq!(parts[0]["name"], "a");
        assert_eq!(parts[0]["value"], "1");
        assert_eq!(parts[1]["filename"], "x.bin");
        assert_eq!(parts[1]["len"], 5);
        assert_eq!(
            multipart_boundary("multipart/form-data; boundary=\"XY\"").as_deref(),
            Some("XY")
        );
    }
}
