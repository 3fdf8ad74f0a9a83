//! `wxdl-sink`: an HTTP/1.1 server on a free port of 127.0.0.1 that reads every request body to
//! its end, chunk by chunk (nothing kept), and only then answers `{"len": N}` — what an upload
//! benchmark (W11) needs from a server: every byte taken before the answer, at little CPU. It
//! prints `127.0.0.1:PORT` once listening and serves until killed.

use std::convert::Infallible;
use std::io::Write;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

async fn take(req: http::Request<Incoming>) -> Result<http::Response<Full<Bytes>>, Infallible> {
    let mut body = req.into_body();
    let mut len = 0u64;
    let mut status = 200;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(f) => len += f.data_ref().map_or(0, |d| d.len() as u64),
            Err(_) => {
                status = 400;
                break;
            }
        }
    }
    let answer = http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(format!("{{\"len\":{len}}}"))))
        .expect("response");
    Ok(answer)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        println!("{}", listener.local_addr()?);
        std::io::stdout().flush()?;
        loop {
            let (stream, _) = listener.accept().await?;
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(take))
                    .await;
            });
        }
    })
}
