//! Reads a response body chunk by chunk, decoding gzip/deflate/br/zstd when asked to.

use std::io;
use std::pin::Pin;

use async_compression::tokio::bufread::{BrotliDecoder, GzipDecoder, ZlibDecoder, ZstdDecoder};
use bytes::{Bytes, BytesMut};
use http::HeaderValue;
use tokio::io::{AsyncRead, AsyncReadExt, BufReader};
use tokio_util::io::StreamReader;

use crate::error::{http_error, Fail, FailReason};
use crate::transport::Body;

/// Decoded chunks are read in pieces of this size, so a compression bomb is seen growing and
/// stopped by the cap long before it fills memory.
const DECODE_CHUNK: usize = 64 * 1024;

/// The content coding of a response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    Identity,
    Gzip,
    Deflate,
    Brotli,
    Zstd,
}

impl Coding {
    /// From `Content-Encoding`; anything unknown or stacked is stored as received.
    pub fn from_header(value: Option<&HeaderValue>) -> Coding {
        let Some(v) = value.and_then(|v| v.to_str().ok()) else {
            return Coding::Identity;
        };
        match v.trim().to_ascii_lowercase().as_str() {
            "gzip" | "x-gzip" => Coding::Gzip,
            "deflate" => Coding::Deflate,
            "br" => Coding::Brotli,
            "zstd" => Coding::Zstd,
            _ => Coding::Identity,
        }
    }
}

type Decoder = Pin<Box<dyn AsyncRead + Send>>;

enum Source {
    Plain(Body),
    Decoded(Decoder, BytesMut),
}

/// Yields the body's (decoded) bytes in bounded chunks.
pub(crate) struct BodyReader {
    source: Source,
    clean_end: bool,
}

impl BodyReader {
    pub fn new(body: Body, coding: Coding) -> BodyReader {
        let source = match coding {
            Coding::Identity => Source::Plain(body),
            coding => {
                // Transport failures travel through the decoder as io::Error and come back
                // out as the same Fail in `decode_error`.
                let stream = futures_util::stream::unfold(body, |mut b| async move {
                    let item = b.data().await?.map_err(io::Error::other);
                    Some((item, b))
                });
                let raw = BufReader::new(StreamReader::new(stream));
                let dec: Decoder = match coding {
                    Coding::Gzip => {
                        let mut d = GzipDecoder::new(raw);
                        d.multiple_members(true);
                        Box::pin(d)
                    }
                    Coding::Deflate => Box::pin(ZlibDecoder::new(raw)),
                    Coding::Brotli => Box::pin(BrotliDecoder::new(raw)),
                    Coding::Zstd => Box::pin(ZstdDecoder::new(raw)),
                    Coding::Identity => unreachable!("handled above"),
                };
                Source::Decoded(dec, BytesMut::with_capacity(DECODE_CHUNK))
            }
        };
        BodyReader {
            source,
            clean_end: false,
        }
    }

    /// The next chunk, or `None` at the end of the body.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, Fail> {
        match &mut self.source {
            Source::Plain(body) => match body.data().await {
                None => {
                    self.clean_end = true;
                    Ok(None)
                }
                Some(chunk) => chunk.map(Some),
            },
            Source::Decoded(dec, buf) => {
                buf.reserve(DECODE_CHUNK);
                let n = dec.read_buf(buf).await.map_err(decode_error)?;
                if n == 0 {
                    self.clean_end = true;
                    return Ok(None);
                }
                Ok(Some(buf.split().freeze()))
            }
        }
    }

    /// True when the body was read to its end without error (its connection may be reused).
    pub fn finished_cleanly(&self) -> bool {
        self.clean_end
    }
}

fn decode_error(e: io::Error) -> Fail {
    // Transport errors surface wrapped in io::Error by the stream adapter.
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<hyper::Error>())
    {
        Some(h) => http_error(h),
        None => Fail::with(
            FailReason::NetworkInterrupted,
            format_args!("content decoding: {e}"),
        ),
    }
}
