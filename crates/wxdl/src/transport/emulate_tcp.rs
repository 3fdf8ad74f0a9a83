//! A TCP byte stream through the client's emulated link (see `emulate`): each chunk read off
//! the socket is held until the link delivers it (read ahead up to a bound, so the round trip
//! is paid once, not per chunk), and writes wait for the upstream to take them. Without a link
//! it is the socket itself. With the client's rate limit, every read off the socket first asks
//! the shared `bucket` how much it may read, so the socket is read at the rate, not the body
//! paced after the fact (the kernel's receive buffer then fills and TCP pushes back).
//!
//! Imports `emulate` and `bucket` only.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::emulate::Link;
use crate::transport::bucket::{Bucket, Grant};

/// The most bytes read ahead of the reader while they wait for their delivery time.
const READ_AHEAD: usize = 4 << 20;
/// The size of one read from the socket.
const READ_CHUNK: usize = 64 * 1024;

/// A byte stream through an emulated link (or straight through, without one).
#[derive(Debug)]
pub(crate) struct Wire<S> {
    inner: S,
    link: Option<Arc<Link>>,
    /// Bytes off the wire, each chunk with its delivery time, in order.
    queue: std::collections::VecDeque<(Vec<u8>, Instant)>,
    queued: usize,
    eof: bool,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    write_timer: Option<Pin<Box<tokio::time::Sleep>>>,
    gate: Gate,
}

/// The rate limit on socket reads: the bucket, a timer for when it has nothing to give, and
/// a buffer to read a granted amount into.
#[derive(Debug, Default)]
struct Gate {
    bucket: Option<Arc<Bucket>>,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    scratch: Vec<u8>,
}

impl Gate {
    /// Reads from `inner` into `buf` no more than the bucket grants (straight through without
    /// a bucket); `Pending` with a timer set while it grants nothing.
    fn poll_read<S: AsyncRead + Unpin>(
        &mut self,
        inner: &mut S,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let Some(bucket) = &self.bucket else {
            return Pin::new(inner).poll_read(cx, buf);
        };
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        match bucket.grant(buf.remaining(), Instant::now()) {
            Grant::WaitUntil(at) => {
                let timer = self
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at.into())));
                timer.as_mut().reset(at.into());
                if timer.as_mut().poll(cx).is_ready() {
                    cx.waker().wake_by_ref();
                }
                Poll::Pending
            }
            Grant::Read(n, at) if n >= buf.remaining() => {
                let before = buf.filled().len();
                let res = Pin::new(inner).poll_read(cx, buf);
                bucket.settle(n, at, buf.filled().len() - before);
                res
            }
            Grant::Read(n, at) => {
                self.scratch.resize(n, 0);
                let mut part = ReadBuf::new(&mut self.scratch[..n]);
                let res = Pin::new(inner).poll_read(cx, &mut part);
                let got = part.filled().len();
                buf.put_slice(part.filled());
                bucket.settle(n, at, got);
                res
            }
        }
    }
}

impl<S> Wire<S> {
    pub fn new(inner: S, link: Option<Arc<Link>>, bucket: Option<Arc<Bucket>>) -> Wire<S> {
        Wire {
            inner,
            link,
            queue: Default::default(),
            queued: 0,
            eof: false,
            timer: None,
            write_timer: None,
            gate: Gate {
                bucket,
                ..Gate::default()
            },
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Wire<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let Some(link) = this.link.clone() else {
            return this.gate.poll_read(&mut this.inner, cx, buf);
        };
        // Read ahead what the socket has, stamping each chunk with its delivery time.
        while !this.eof && this.queued < READ_AHEAD {
            let mut chunk = vec![0u8; READ_CHUNK];
            let mut rb = ReadBuf::new(&mut chunk);
            match this.gate.poll_read(&mut this.inner, cx, &mut rb) {
                Poll::Ready(Ok(())) => {
                    let n = rb.filled().len();
                    if n == 0 {
                        this.eof = true;
                        break;
                    }
                    chunk.truncate(n);
                    let previous = this.queue.back().map_or(Instant::now(), |c| c.1);
                    let at = link.deliver(n, Instant::now(), previous);
                    this.queued += n;
                    this.queue.push_back((chunk, at));
                }
                Poll::Ready(Err(e)) => {
                    if this.queue.is_empty() {
                        return Poll::Ready(Err(e));
                    }
                    this.eof = true;
                    break;
                }
                Poll::Pending => break,
            }
        }
        let Some((front, at)) = this.queue.front_mut() else {
            // Nothing held: the end of the stream, or wait for the socket (already registered).
            return if this.eof {
                Poll::Ready(Ok(()))
            } else {
                Poll::Pending
            };
        };
        let now = Instant::now();
        if *at > now {
            let timer = this
                .timer
                .get_or_insert_with(|| Box::pin(tokio::time::sleep_until((*at).into())));
            timer.as_mut().reset((*at).into());
            return match timer.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
                Poll::Pending => Poll::Pending,
            };
        }
        let n = front.len().min(buf.remaining());
        buf.put_slice(&front[..n]);
        this.queued -= n;
        if n == front.len() {
            this.queue.pop_front();
        } else {
            front.drain(..n);
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Wire<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(link) = &this.link {
            // The upstream takes the bytes at its rate: wait for the previous write's.
            if let Some(timer) = &mut this.write_timer {
                if timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.write_timer = None;
            }
            let written = Pin::new(&mut this.inner).poll_write(cx, data);
            if let Poll::Ready(Ok(n)) = &written {
                let wait = link.send(*n, Instant::now());
                if !wait.is_zero() {
                    this.write_timer = Some(Box::pin(tokio::time::sleep(wait)));
                }
            }
            return written;
        }
        Pin::new(&mut this.inner).poll_write(cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
