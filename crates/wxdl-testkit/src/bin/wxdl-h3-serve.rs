//! `wxdl-h3-serve DIR CERT_PEM KEY_PEM`: serves DIR's files over HTTP/3 (quinn + h3) on a free
//! UDP port of 127.0.0.1 until killed, printing `127.0.0.1:PORT` once listening. The benchmark's
//! in-process-class server (W4): no CPU spent outside this process's own QUIC stack, so the
//! client's ceiling shows rather than a server's. Read-only, confined to DIR, files streamed in
//! bounded chunks.

use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use bytes::BytesMut;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::AsyncReadExt;
use wxdl_testkit::h3::octet_stream_head;

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
            if stream.send_response(octet_stream_head(len)).await.is_err() {
                return;
            }
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

/// `path` under `root`: plain components only (no `..`, no symlink leaving the root).
fn confined(root: &Path, path: &str) -> Option<PathBuf> {
    let rel = Path::new(path.trim_start_matches('/'));
    if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return None;
    }
    let full = root.join(rel).canonicalize().ok()?;
    full.starts_with(root).then_some(full)
}
