//! An in-process HTTP/3 server (quinn + h3) on 127.0.0.1, for QUIC behaviour and faults that a
//! real server will not stage (a stream reset mid-body).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::task::JoinHandle;

use crate::ca::TestCa;
use crate::nginx::ALT_HOST;

/// What the server does with each request.
#[derive(Debug, Clone, Copy)]
pub enum H3Behavior {
    /// Reads the request body and answers 200 with the echo server's JSON
    /// ([`crate::echo::describe`]).
    Echo,
    /// A 200 with a body of `len` bytes.
    Body {
        /// Body length.
        len: usize,
    },
    /// A 200 announcing `len` bytes, then the stream is reset 200 ms after `sent` of them.
    ResetAfter {
        /// Announced body length.
        len: usize,
        /// Bytes sent before the reset.
        sent: usize,
    },
    /// A 200 announcing `len` bytes; after `sent` of them the stream stalls (30 s, bounded).
    StallAfter {
        /// Announced body length.
        len: usize,
        /// Bytes sent before the stall.
        sent: usize,
    },
}

/// A running HTTP/3 server; stops when dropped.
pub struct H3Server {
    /// Its UDP address.
    pub addr: SocketAddr,
    endpoint: quinn::Endpoint,
    task: JoinHandle<()>,
}

impl H3Server {
    /// Starts serving with a certificate from `ca` for `localhost`, `127.0.0.1` and
    /// [`ALT_HOST`].
    pub async fn start(ca: &TestCa, behavior: H3Behavior) -> H3Server {
        let cert = ca.server_cert(&["localhost", "127.0.0.1", ALT_HOST]);
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(cert.cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .expect("server cert PEM");
        let key = PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).expect("server key PEM");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .expect("TLS 1.3")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("server TLS config");
        tls.alpn_protocols = vec![b"h3".to_vec()];
        let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls).expect("QUIC TLS");
        let config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
        let endpoint = quinn::Endpoint::server(config, "127.0.0.1:0".parse().expect("addr"))
            .expect("bind h3 server");
        let addr = endpoint.local_addr().expect("h3 server addr");
        let ep = endpoint.clone();
        let task = tokio::spawn(async move {
            while let Some(incoming) = ep.accept().await {
                tokio::spawn(async move {
                    let Ok(conn) = incoming.await else { return };
                    serve_connection(conn, behavior).await;
                });
            }
        });
        H3Server {
            addr,
            endpoint,
            task,
        }
    }

    /// QUIC connections open at this server now.
    pub fn open_connections(&self) -> usize {
        self.endpoint.open_connections()
    }

    /// `https://<host>:PORT<path>` (the client must reach it over HTTP/3).
    pub fn url(&self, host: &str, path: &str) -> String {
        format!("https://{host}:{}{}", self.addr.port(), path)
    }
}

impl Drop for H3Server {
    fn drop(&mut self) {
        self.endpoint.close(0u32.into(), b"test over");
        self.task.abort();
    }
}

/// A 200 response head for a body of `len` bytes of `application/octet-stream`.
pub fn octet_stream_head(len: u64) -> http::Response<()> {
    http::Response::builder()
        .status(200)
        .header("content-length", len)
        .header("content-type", "application/octet-stream")
        .body(())
        .expect("response head")
}

async fn serve_connection(conn: quinn::Connection, behavior: H3Behavior) {
    let Ok(mut h3c) =
        h3::server::Connection::<_, Bytes>::new(h3_quinn::Connection::new(conn)).await
    else {
        return;
    };
    while let Ok(Some(resolver)) = h3c.accept().await {
        tokio::spawn(async move {
            let Ok((req, mut stream)) = resolver.resolve_request().await else {
                return;
            };
            let (len, stop_at) = match behavior {
                H3Behavior::Echo => {
                    let mut body = Vec::new();
                    while let Ok(Some(mut chunk)) = stream.recv_data().await {
                        use bytes::Buf;
                        body.extend_from_slice(&chunk.copy_to_bytes(chunk.remaining()));
                    }
                    let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
                    let text =
                        crate::echo::describe(req.method(), target, "h3", req.headers(), &body)
                            .to_string();
                    let head = http::Response::builder()
                        .status(200)
                        .header("content-type", "application/json")
                        .header("content-length", text.len())
                        .body(())
                        .expect("response head");
                    if stream.send_response(head).await.is_ok()
                        && stream.send_data(Bytes::from(text)).await.is_ok()
                    {
                        let _ = stream.finish().await;
                    }
                    return;
                }
                H3Behavior::Body { len } => (len, None),
                H3Behavior::ResetAfter { len, sent } | H3Behavior::StallAfter { len, sent } => {
                    (len, Some(sent))
                }
            };
            if stream
                .send_response(octet_stream_head(len as u64))
                .await
                .is_err()
            {
                return;
            }
            let limit = stop_at.unwrap_or(len);
            let chunk = Bytes::from(vec![0x5au8; 16 * 1024]);
            let mut sent = 0;
            while sent < limit {
                let n = chunk.len().min(limit - sent);
                if stream.send_data(chunk.slice(..n)).await.is_err() {
                    return;
                }
                sent += n;
            }
            match behavior {
                H3Behavior::Body { .. } | H3Behavior::Echo => {
                    let _ = stream.finish().await;
                }
                H3Behavior::ResetAfter { .. } => {
                    // Let the client read the head and part of the body first: a reset
                    // allows the peer to discard what it has not read yet.
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    stream.stop_stream(h3::error::Code::H3_INTERNAL_ERROR);
                }
                H3Behavior::StallAfter { .. } => {
                    tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                }
            }
        });
    }
}
