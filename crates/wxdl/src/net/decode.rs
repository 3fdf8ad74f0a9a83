//! Reads a response body chunk by chunk, undoing its codings: transfer codings other than
//! `chunked` always (RFC 9112 §6.1), content codings (gzip, deflate — zlib-wrapped or raw, as
//! browsers accept —, br, zstd, stacked in any order) when the caller asked with
//! `Accept-Encoding`. A body is decoded fully or the download fails: never stored half-decoded.
//!
//! Imports `transport` (the body) and `error`; never storage or the download.

use std::io;
use std::pin::Pin;

#[cfg(feature = "brotli")]
use async_compression::tokio::bufread::BrotliDecoder;
#[cfg(feature = "zstd")]
use async_compression::tokio::bufread::ZstdDecoder;
#[cfg(feature = "gzip")]
use async_compression::tokio::bufread::{DeflateDecoder, GzipDecoder, ZlibDecoder};
use bytes::{Bytes, BytesMut};
use http::header::{HeaderMap, CONTENT_ENCODING, TRANSFER_ENCODING};
#[cfg(feature = "gzip")]
use tokio::io::AsyncBufReadExt;
use tokio::io::{AsyncRead, AsyncReadExt, BufReader};
use tokio_util::io::StreamReader;

use crate::error::{Fail, FailReason};
use crate::transport::Body;

/// Decoded chunks are read in pieces of this size, so a compression bomb is seen growing and
/// stopped by the cap long before it fills memory.
const DECODE_CHUNK: usize = 64 * 1024;

/// One coding of a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    #[cfg(feature = "gzip")]
    Gzip,
    /// zlib-wrapped (RFC 9110's `deflate`) or raw DEFLATE, told apart by the first bytes.
    #[cfg(feature = "gzip")]
    Deflate,
    #[cfg(feature = "brotli")]
    Brotli,
    #[cfg(feature = "zstd")]
    Zstd,
}

/// The codings to undo, in the order to undo them (the last one applied first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Codings(Vec<Coding>);

impl Codings {
    /// From a response head: transfer codings always, content codings when `content` (the
    /// caller asked for them). An unknown coding that must be undone fails the download.
    pub fn of(headers: &HeaderMap, content: bool) -> Result<Codings, Fail> {
        let mut undo = parse(headers, TRANSFER_ENCODING.as_str(), &["chunked"])?;
        if content {
            undo.extend(parse(headers, CONTENT_ENCODING.as_str(), &[])?);
        }
        Ok(Codings(undo))
    }

    /// Whether the body is stored as it arrives (its `Content-Length` is then its length).
    pub fn is_identity(&self) -> bool {
        self.0.is_empty()
    }
}

/// The codings listed in every `name` field, last applied first, skipping `identity` and
/// `skip`.
#[cfg_attr(
    not(any(feature = "gzip", feature = "brotli", feature = "zstd")),
    allow(unreachable_code, unused_variables)
)]
fn parse(headers: &HeaderMap, name: &str, skip: &[&str]) -> Result<Vec<Coding>, Fail> {
    let mut listed = Vec::new();
    for value in headers.get_all(name) {
        let text = String::from_utf8_lossy(value.as_bytes()).to_ascii_lowercase();
        for token in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let coding = match token {
                "identity" => continue,
                t if skip.contains(&t) => continue,
                #[cfg(feature = "gzip")]
                "gzip" | "x-gzip" => Coding::Gzip,
                #[cfg(feature = "gzip")]
                "deflate" => Coding::Deflate,
                #[cfg(feature = "brotli")]
                "br" => Coding::Brotli,
                #[cfg(feature = "zstd")]
                "zstd" => Coding::Zstd,
                other => {
                    return Err(Fail::with(
                        FailReason::NetworkInterrupted,
                        format_args!("{name}: cannot decode {other:?}"),
                    ))
                }
            };
            listed.push(coding);
        }
    }
    listed.reverse();
    Ok(listed)
}

type Decoder = Pin<Box<dyn AsyncRead + Send>>;

enum Source {
    Plain(Body),
    Decoded(Decoder, BytesMut),
    /// Let go unread (see [`BodyReader::release`]).
    Released,
}

/// Yields the body's (decoded) bytes in bounded chunks.
pub(crate) struct BodyReader {
    source: Source,
    clean_end: bool,
}

impl BodyReader {
    /// A reader undoing `codings` over `body`. Waits for the first bytes only when a deflate
    /// layer has to see whether it is zlib-wrapped.
    pub async fn open(body: Body, codings: Codings) -> Result<BodyReader, Fail> {
        let source = if codings.is_identity() {
            Source::Plain(body)
        } else {
            // Transport failures travel through the decoders as io::Error carrying the Fail,
            // and come back out unchanged in `decode_error`.
            let stream = futures_util::stream::unfold(body, |mut b| async move {
                let item = b.data().await?.map_err(io::Error::other);
                Some((item, b))
            });
            let mut layer: Decoder = Box::pin(StreamReader::new(stream));
            for coding in codings.0 {
                layer = undo(layer, coding).await.map_err(decode_error)?;
            }
            Source::Decoded(layer, BytesMut::with_capacity(DECODE_CHUNK))
        };
        Ok(BodyReader {
            source,
            clean_end: false,
        })
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
            Source::Released => Ok(None),
        }
    }

    /// Lets the rest of the body go unread: dropping it resets its stream (h2, h3) or closes
    /// its connection (HTTP/1.1), so the server stops sending. Nothing more is yielded, and the
    /// body does not count as finished cleanly (its connection is not reused).
    pub fn release(&mut self) {
        self.source = Source::Released;
    }

    /// True when the body was read to its end without error (its connection may be reused).
    pub fn finished_cleanly(&self) -> bool {
        self.clean_end
    }
}

/// One decoding layer over `inner`.
#[cfg_attr(
    not(any(feature = "gzip", feature = "brotli", feature = "zstd")),
    allow(unreachable_code, unused_variables)
)]
async fn undo(inner: Decoder, coding: Coding) -> io::Result<Decoder> {
    #[cfg_attr(not(feature = "gzip"), allow(unused_mut))]
    let mut raw = BufReader::new(inner);
    Ok(match coding {
        #[cfg(feature = "gzip")]
        Coding::Gzip => {
            let mut d = GzipDecoder::new(raw);
            d.multiple_members(true);
            Box::pin(d)
        }
        #[cfg(feature = "gzip")]
        Coding::Deflate => {
            if is_zlib(raw.fill_buf().await?) {
                Box::pin(ZlibDecoder::new(raw))
            } else {
                Box::pin(DeflateDecoder::new(raw))
            }
        }
        #[cfg(feature = "brotli")]
        Coding::Brotli => Box::pin(BrotliDecoder::new(raw)),
        #[cfg(feature = "zstd")]
        Coding::Zstd => Box::pin(ZstdDecoder::new(raw)),
    })
}

/// Whether a deflate body starts with a zlib header (RFC 1950: method 8, a check that makes
/// the first two bytes a multiple of 31), as opposed to raw DEFLATE some servers send.
#[cfg(feature = "gzip")]
fn is_zlib(head: &[u8]) -> bool {
    match head {
        [cmf, flg, ..] => cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0,
        _ => true,
    }
}

fn decode_error(e: io::Error) -> Fail {
    // A transport failure carried through the decoder keeps its own row and detail.
    if let Some(fail) = e.get_ref().and_then(|inner| inner.downcast_ref::<Fail>()) {
        return fail.clone();
    }
    Fail::with(
        FailReason::NetworkInterrupted,
        format_args!("content decoding: {e}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn codings(pairs: &[(&'static str, &'static str)], content: bool) -> Result<Codings, Fail> {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        Codings::of(&h, content)
    }

    #[test]
    fn stacked_codings_are_undone_last_applied_first() {
        use Coding::*;
        let c = codings(&[("content-encoding", "gzip, br")], true).unwrap();
        assert_eq!(c.0, [Brotli, Gzip]);
        let c = codings(
            &[
                ("transfer-encoding", "gzip, chunked"),
                ("content-encoding", "deflate"),
            ],
            true,
        )
        .unwrap();
        assert_eq!(c.0, [Gzip, Deflate], "transfer codings come off first");
        // Content codings stay when the caller did not ask; transfer codings never do.
        assert_eq!(
            codings(&[("content-encoding", "gzip")], false).unwrap().0,
            []
        );
        let c = codings(&[("transfer-encoding", "gzip, chunked")], false).unwrap();
        assert_eq!(c.0, [Gzip]);
        assert!(codings(&[("transfer-encoding", "chunked")], false)
            .unwrap()
            .is_identity());
    }

    #[test]
    fn an_unknown_coding_to_undo_fails() {
        let f = codings(&[("content-encoding", "gzip, compress")], true).unwrap_err();
        assert_eq!(f.reason, FailReason::NetworkInterrupted);
        assert!(codings(&[("content-encoding", "compress")], false).is_ok());
    }

    #[test]
    fn zlib_headers_are_told_from_raw_deflate() {
        assert!(is_zlib(&[0x78, 0x9c]));
        assert!(is_zlib(&[0x78, 0x01]));
        assert!(!is_zlib(&[0xcb, 0x48]), "raw deflate of 'hello'");
    }
}
