//! A request body as it goes out: a list of parts, each bytes held in memory or a range of an
//! open file read in bounded chunks, with its whole length known before the first byte (so
//! `Content-Length` is exact) and, when asked, a listener told how many bytes of it were handed
//! to the connection so far.
//!
//! Imports nothing of the engine: the request pipeline opens one per try from its payload.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use std::future::Future;

/// At most this much of a file is read at a time. Each read runs on tokio's blocking pool, the
/// next one started as the last is handed on, so reading the file overlaps sending it (bench
/// W11); at most two chunks are held.
pub const OUT_CHUNK: usize = 512 * 1024;

/// One part of an outgoing body.
pub(crate) enum Segment {
    /// Bytes already in memory.
    Bytes(Bytes),
    /// The next `len` bytes of an open file.
    File { file: tokio::fs::File, len: u64 },
}

/// Told the bytes of one body handed to the connection so far (from 0 again on another try).
pub type SentFn = Arc<dyn Fn(u64) + Send + Sync>;

/// An outgoing request body (hyper's `Body`): its parts in order, the bytes not yet produced,
/// the bytes produced so far, and who hears of them.
pub(crate) struct OutBody {
    parts: VecDeque<Segment>,
    /// The file part being read: the read under way, and its bytes not yet read.
    reading: Option<Reading>,
    remaining: u64,
    produced: u64,
    sent: Option<SentFn>,
}

impl OutBody {
    /// No body.
    #[cfg(test)]
    pub fn empty() -> OutBody {
        OutBody::new(Vec::new(), None)
    }

    /// A body of `parts`; `sent`, when given, hears of the bytes produced.
    pub fn new(parts: Vec<Segment>, sent: Option<SentFn>) -> OutBody {
        let remaining = parts
            .iter()
            .map(|p| match p {
                Segment::Bytes(b) => b.len() as u64,
                Segment::File { len, .. } => *len,
            })
            .sum();
        OutBody {
            parts: parts.into(),
            reading: None,
            remaining,
            produced: 0,
            sent,
        }
    }

    /// The whole length of the body still to go (all of it before the first poll).
    pub fn len(&self) -> u64 {
        self.remaining
    }

    fn produced(&mut self, data: Bytes) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        self.remaining -= data.len() as u64;
        self.produced += data.len() as u64;
        if let Some(sent) = &self.sent {
            sent(self.produced);
        }
        Poll::Ready(Some(Ok(Frame::data(data))))
    }
}

impl hyper::body::Body for OutBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        loop {
            if let Some(reading) = &mut self.reading {
                let (file, data) = ready!(Pin::new(&mut reading.next).poll(cx))
                    .map_err(std::io::Error::other)??;
                if data.is_empty() {
                    return Poll::Ready(Some(Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the file got shorter while it was sent",
                    ))));
                }
                reading.left -= data.len() as u64;
                if reading.left > 0 {
                    reading.next = read_chunk(file, reading.left);
                } else {
                    self.reading = None;
                }
                return self.produced(Bytes::from(data));
            }
            match self.parts.pop_front() {
                None => return Poll::Ready(None),
                Some(Segment::Bytes(b)) if !b.is_empty() => return self.produced(b),
                Some(Segment::Bytes(_) | Segment::File { len: 0, .. }) => {}
                Some(Segment::File { file, len }) => {
                    // Opened just before (no operation under way), so this never fails.
                    let file = file
                        .try_into_std()
                        .map_err(|_| std::io::Error::other("a request body's file is busy"))?;
                    self.reading = Some(Reading {
                        left: len,
                        next: read_chunk(file, len),
                    });
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// A file part being read.
struct Reading {
    left: u64,
    next: tokio::task::JoinHandle<std::io::Result<(std::fs::File, Vec<u8>)>>,
}

/// Reads the next chunk (at most [`OUT_CHUNK`] of the `left` bytes) on the blocking pool; the
/// file comes back with it. Fewer bytes only at the file's end.
fn read_chunk(
    file: std::fs::File,
    left: u64,
) -> tokio::task::JoinHandle<std::io::Result<(std::fs::File, Vec<u8>)>> {
    tokio::task::spawn_blocking(move || {
        let want = left.min(OUT_CHUNK as u64);
        let mut data = Vec::with_capacity(want as usize);
        std::io::Read::read_to_end(&mut std::io::Read::take(&file, want), &mut data)?;
        Ok((file, data))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use std::io::Write;

    #[tokio::test]
    async fn parts_in_order_file_in_bounded_chunks_counted() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        let data: Vec<u8> = (0..OUT_CHUNK * 3 + 17).map(|i| i as u8).collect();
        f.write_all(&data).unwrap();
        let file = tokio::fs::File::open(f.path()).await.unwrap();
        let told = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let t = told.clone();
        let sent: SentFn = Arc::new(move |n| t.store(n, std::sync::atomic::Ordering::Relaxed));
        let mut body = OutBody::new(
            vec![
                Segment::Bytes(Bytes::from_static(b"head")),
                Segment::File {
                    file,
                    len: data.len() as u64,
                },
                Segment::Bytes(Bytes::from_static(b"tail")),
            ],
            Some(sent),
        );
        assert_eq!(body.len(), data.len() as u64 + 8);
        let mut got = Vec::new();
        while let Some(frame) = body.frame().await {
            let chunk = frame.unwrap().into_data().unwrap();
            assert!(chunk.len() <= OUT_CHUNK);
            got.extend_from_slice(&chunk);
        }
        assert_eq!(&got[..4], b"head");
        assert_eq!(&got[4..4 + data.len()], &data[..]);
        assert_eq!(&got[4 + data.len()..], b"tail");
        assert_eq!(
            told.load(std::sync::atomic::Ordering::Relaxed),
            got.len() as u64
        );
    }

    #[tokio::test]
    async fn a_file_shorter_than_announced_is_an_error() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(b"short").unwrap();
        let file = tokio::fs::File::open(f.path()).await.unwrap();
        let mut body = OutBody::new(vec![Segment::File { file, len: 10 }], None);
        assert!(body.frame().await.unwrap().is_ok());
        assert!(body.frame().await.unwrap().is_err());
    }
}
