//! `wxdl-h3-serve DIR CERT_PEM KEY_PEM`: serves DIR's files over HTTP/3 (quinn + h3) on a free
//! UDP port of 127.0.0.1 until killed, printing `127.0.0.1:PORT` once listening. The benchmark's
//! in-process-class server (W4): no CPU spent outside this process's own QUIC stack, so the
//! client's ceiling shows rather than a server's. Read-only, confined to DIR, files streamed in
//! bounded chunks; one `Range: bytes=a-b` (with a matching `If-Range`, or none) is answered
//! `206`, so split downloads can be measured against it (W12).

use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use bytes::BytesMut;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// The bytes read from a file and handed to QUIC at a time.
const CHUNK: usize = 256 * 1024;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, cert, key] = args.as_slice() else {
        return Err("usage: wxdl-h3-serve DIR CERT_PEM KEY_PEM".into());
    };
    let root = Path::new(dir).canonicalize()?;
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(cert)?.collect::<Result<_, _>>()?;
    let key = PrivateKeyDer::from_pem_file(key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    tls.alpn_protocols = vec![b"h3".to_vec()];
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls)?;
    let config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let endpoint = quinn::Endpoint::server(config, "127.0.0.1:0".parse()?)?;
        println!("{}", endpoint.local_addr()?);
        std::io::stdout().flush()?;
        let root = Arc::new(root);
        while let Some(incoming) = endpoint.accept().await {
            let root = root.clone();
            tokio::spawn(async move {
                if let Ok(conn) = incoming.await {
                    serve(conn, root).await;
                }
            });
        }
        Ok(())
    })
}

async fn serve(conn: quinn::Connection, root: Arc<PathBuf>) {
    let Ok(mut h3c) =
        h3::server::Connection::<_, bytes::Bytes>::new(h3_quinn::Connection::new(conn)).await
    else {
        return;
    };
    while let Ok(Some(resolver)) = h3c.accept().await {
        let root = root.clone();
        tokio::spawn(async move {
            let Ok((req, mut stream)) = resolver.resolve_request().await else {
                return;
            };
            let file = match confined(&root, req.uri().path()) {
                Some(p) => tokio::fs::File::open(p).await.ok(),
                None => None,
            };
            let len = match &file {
                Some(f) => f
                    .metadata()
                    .await
                    .ok()
                    .filter(|m| m.is_file())
                    .map(|m| m.len()),
                None => None,
            };
            let (Some(mut file), Some(len)) = (file, len) else {
                let head = http::Response::builder()
                    .status(404)
                    .body(())
                    .expect("head");
                if stream.send_response(head).await.is_ok() {
                    let _ = stream.finish().await;
                }
                return;
            };
            let etag = format!("\"{len:x}\"");
            let (head, start, count) = match asked_range(req.headers(), &etag, len) {
                Some((a, b)) => (
                    answer(206, b + 1 - a, &etag)
                        .header("content-range", format!("bytes {a}-{b}/{len}")),
                    a,
                    b + 1 - a,
                ),
                None => (answer(200, len, &etag), 0, len),
            };
            if file.seek(std::io::SeekFrom::Start(start)).await.is_err()
                || stream
                    .send_response(head.body(()).expect("head"))
                    .await
                    .is_err()
            {
                return;
            }
            let mut file = file.take(count);
            let mut buf = BytesMut::with_capacity(CHUNK);
            loop {
                buf.reserve(CHUNK);
                match file.read_buf(&mut buf).await {
                    Ok(0) => break,
                    Ok(_) if buf.len() < CHUNK => continue,
                    Ok(_) => {}
                    Err(_) => return,
                }
                if stream.send_data(buf.split().freeze()).await.is_err() {
                    return;
                }
            }
            if !buf.is_empty() && stream.send_data(buf.split().freeze()).await.is_err() {
                return;
            }
            let _ = stream.finish().await;
        });
    }
}

/// A head for a body of `len` bytes, ranges offered.
fn answer(status: u16, len: u64, etag: &str) -> http::response::Builder {
    http::Response::builder()
        .status(status)
        .header("content-length", len)
        .header("content-type", "application/octet-stream")
        .header("accept-ranges", "bytes")
        .header("etag", etag)
}

/// The one range `bytes=a-b` (or `a-`) asked of a body of `len` bytes, inclusive, when its
/// `If-Range` (if any) is `etag`.
fn asked_range(headers: &http::HeaderMap, etag: &str, len: u64) -> Option<(u64, u64)> {
    if headers
        .get("if-range")
        .is_some_and(|v| v.as_bytes() != etag.as_bytes())
    {
        return None;
    }
    let spec = headers
        .get("range")?
        .to_str()
        .ok()?
        .strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let a: u64 = a.trim().parse().ok()?;
    let b: u64 = match b.trim() {
        "" => len.checked_sub(1)?,
        b => b.parse::<u64>().ok()?.min(len.checked_sub(1)?),
    };
    (a <= b).then_some((a, b))
}

/// `path` under `root`: plain components only (no `..`, no symlink leaving the root).
fn confined(root: &Path, path: &str) -> Option<PathBuf> {
    let rel = Path::new(path.trim_start_matches('/'));
    if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return None;
    }
    let full = root.join(rel).canonicalize().ok()?;
    full.starts_with(root).then_some(full)
}
