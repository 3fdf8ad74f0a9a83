//! `wxdl run --serve DIR:PORT`: serves a directory on 127.0.0.1 for the length of a run, so the
//! examples (and any project's test data) download for real with no other server. Read-only,
//! confined to the directory (no `..`, no symlink out), files streamed in bounded chunks.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::TryStreamExt;
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::io::ReaderStream;

use crate::get::CliError;

type Body = BoxBody<Bytes, std::io::Error>;

/// Parses `DIR:PORT` and starts serving; returns the address.
pub async fn start(spec: &str) -> Result<SocketAddr, CliError> {
    let (dir, port) = spec
        .rsplit_once(':')
        .and_then(|(d, p)| Some((d, p.parse::<u16>().ok()?)))
        .ok_or_else(|| CliError::usage(format!("--serve {spec:?}: expected DIR:PORT")))?;
    let root = Path::new(dir)
        .canonicalize()
        .map_err(|e| CliError::usage(format!("--serve {dir}: {e}")))?;
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| CliError::usage(format!("--serve: cannot listen on 127.0.0.1:{port}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::internal(e.to_string()))?;
    spawn_http1(listener, move |req| {
        let root = root.clone();
        async move { respond(&root, req.uri().path()).await }
    });
    Ok(addr)
}

/// Serves HTTP/1.1 on `listener` in the background, answering every request with `answer`:
/// the in-process servers of `--serve` and `wxdl demo`.
pub fn spawn_http1<F, Fut, B>(listener: TcpListener, answer: F)
where
    F: Fn(Request<hyper::body::Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response<B>> + Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let answer = answer.clone();
            let service = service_fn(move |req| {
                let reply = answer(req);
                async move { Ok::<_, Infallible>(reply.await) }
            });
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}

/// The file a request path names inside `root`, by its real path; `None` for anything else.
fn file_for(root: &Path, path: &str) -> Option<PathBuf> {
    let rel = path.trim_start_matches('/');
    if rel.split('/').any(|c| c == ".." || c.contains('\\')) {
        return None;
    }
    let mut p = root.join(rel);
    if p.is_dir() {
        p = p.join("index.html");
    }
    let real = p.canonicalize().ok()?;
    (real.starts_with(root) && real.is_file()).then_some(real)
}

async fn respond(root: &Path, path: &str) -> Response<Body> {
    let Some(file) = file_for(root, path) else {
        return plain(StatusCode::NOT_FOUND, "not found\n");
    };
    let Ok(handle) = tokio::fs::File::open(&file).await else {
        return plain(StatusCode::FORBIDDEN, "forbidden\n");
    };
    let len = handle.metadata().await.map(|m| m.len()).unwrap_or(0);
    let stream = ReaderStream::with_capacity(handle, 64 * 1024).map_ok(Frame::data);
    Response::builder()
        .header("content-type", content_type(&file))
        .header("content-length", len)
        .body(BodyExt::boxed(StreamBody::new(stream)))
        .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "error\n"))
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let body = Full::new(Bytes::from_static(text.as_bytes()))
        .map_err(|never| match never {})
        .boxed();
    let mut r = Response::new(body);
    *r.status_mut() = status;
    r
}

/// A media type from the file name, for the few kinds examples serve.
fn content_type(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" | "htm" => "text/html",
        "txt" => "text/plain",
        "json" => "application/json",
        "js" => "text/javascript",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
}
