//! `wxdl demo`: serves a generated file from an in-process server on 127.0.0.1 and downloads it.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::StreamBody;
use hyper::body::Frame;
use hyper::{Request, Response};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use wxdl::{Client, DownloadOptions};

use crate::args::DemoArgs;
use crate::exit;
use crate::get::CliError;
use crate::render;

/// The served file is this block repeated (and cut to size).
const BLOCK: usize = 1024 * 1024;

/// Runs the demo and returns the exit status.
pub async fn run(args: DemoArgs) -> Result<u8, CliError> {
    let block = Bytes::from(pseudo_random(BLOCK, 0x5eed_cafe_f00d_d00d));
    let expected_sha = sha_of(&block, args.size);
    let addr = serve(block.clone(), args.size).await?;

    let scratch;
    let root = match &args.root {
        Some(r) => r.clone(),
        None => {
            scratch =
                tempfile::tempdir().map_err(|e| CliError::internal(format!("temp dir: {e}")))?;
            scratch.path().to_path_buf()
        }
    };
    let client = Client::builder()
        .sandbox_root(&root)
        .platform_roots(false)
        .build()
        .map_err(|e| CliError::internal(e.to_string()))?;
    let url = format!("http://{addr}/demo.bin");
    if !args.json {
        eprintln!("wxdl demo: serving {} bytes at {url}", args.size);
    }
    let bar = render::byte_bar(args.json);
    let b = bar.clone();
    let outcome = client
        .download(DownloadOptions::new(&url).on_progress_update(move |p| render::update_bar(&b, p)))
        .await;
    bar.finish_and_clear();
    if args.json {
        println!("{}", render::outcome_json(&outcome));
        return Ok(exit::for_outcome(&outcome));
    }
    println!("{}", render::human_line(&outcome, None));
    if let Ok(s) = &outcome {
        let got = sha_file(&s.saved_path).unwrap_or_default();
        let verdict = if got == expected_sha {
            "matches"
        } else {
            "DIFFERS"
        };
        println!("sha256 {got} ({verdict} the served file)");
        if let Some(p) = &s.profile {
            print!("{}", crate::waterfall::render(p, crate::waterfall::width()));
        }
        if got != expected_sha {
            return Ok(exit::INTERNAL);
        }
    }
    Ok(exit::for_outcome(&outcome))
}

/// Starts the in-process HTTP/1.1 server on 127.0.0.1 and returns its address.
async fn serve(block: Bytes, size: u64) -> Result<SocketAddr, CliError> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| CliError::internal(format!("bind 127.0.0.1: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::internal(e.to_string()))?;
    crate::serve::spawn_http1(listener, move |req| {
        let reply = respond(&req, block.clone(), size);
        async move { reply }
    });
    Ok(addr)
}

type DemoBody =
    StreamBody<futures_util::stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>>>;

fn respond(req: &Request<hyper::body::Incoming>, block: Bytes, size: u64) -> Response<DemoBody> {
    let frames: Vec<Result<Frame<Bytes>, Infallible>> = if req.uri().path() == "/demo.bin" {
        chunks(&block, size).map(|b| Ok(Frame::data(b))).collect()
    } else {
        Vec::new()
    };
    let (status, len) = if req.uri().path() == "/demo.bin" {
        (200, size)
    } else {
        (404, 0)
    };
    Response::builder()
        .status(status)
        .header("content-type", "application/octet-stream")
        .header("content-length", len)
        .body(StreamBody::new(futures_util::stream::iter(frames)))
        .unwrap_or_else(|_| Response::new(StreamBody::new(futures_util::stream::iter(Vec::new()))))
}

/// The served bytes: `block` repeated, cut to `size`.
fn chunks(block: &Bytes, size: u64) -> impl Iterator<Item = Bytes> + '_ {
    let n = block.len() as u64;
    (0..size.div_ceil(n)).map(move |i| {
        let len = (size - i * n).min(n) as usize;
        block.slice(..len)
    })
}

fn sha_of(block: &Bytes, size: u64) -> String {
    let mut h = Sha256::new();
    for c in chunks(block, size) {
        h.update(&c);
    }
    hex(&h.finalize())
}

fn sha_file(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(hex(&h.finalize()));
        }
        h.update(&buf[..n]);
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Deterministic incompressible bytes (xorshift64*).
fn pseudo_random(len: usize, mut state: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(len);
    out
}
