//! Meters a connection as HTTP sees it: bytes each way, when a request was fully written, when
//! its response's first byte arrived, and the kernel's smoothed RTT (`TCP_INFO`).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Counters and marks of one connection, shared between the I/O wrapper (which the HTTP
/// driver task owns) and the download that uses the connection.
///
/// Instants are kept as nanoseconds since `base` so they fit in atomics; 0 means "not yet".
#[derive(Debug)]
pub(crate) struct Meter {
    base: Instant,
    sent: AtomicU64,
    received: AtomicU64,
    armed: AtomicBool,
    last_write_ns: AtomicU64,
    first_read_ns: AtomicU64,
    rtt_us: AtomicU32,
}

/// The counters when a request began, to measure just that exchange.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mark {
    sent: u64,
    received: u64,
}

impl Meter {
    pub fn new() -> Arc<Meter> {
        Arc::new(Meter {
            base: Instant::now(),
            sent: AtomicU64::new(0),
            received: AtomicU64::new(0),
            // Armed from the start: the first bytes the peer sends sample the RTT.
            armed: AtomicBool::new(true),
            last_write_ns: AtomicU64::new(0),
            first_read_ns: AtomicU64::new(0),
            rtt_us: AtomicU32::new(0),
        })
    }

    fn now_ns(&self) -> u64 {
        // At least 1 so that 0 keeps meaning "not yet".
        (self.base.elapsed().as_nanos() as u64).max(1)
    }

    fn at(&self, ns: u64) -> Option<Instant> {
        (ns != 0).then(|| self.base + Duration::from_nanos(ns))
    }

    /// Starts measuring a new request on this connection (HTTP/1.1: one at a time).
    pub fn arm(&self) -> Mark {
        self.last_write_ns.store(0, Ordering::Relaxed);
        self.first_read_ns.store(0, Ordering::Relaxed);
        self.armed.store(true, Ordering::Release);
        Mark {
            sent: self.sent.load(Ordering::Relaxed),
            received: self.received.load(Ordering::Relaxed),
        }
    }

    /// When the last byte of the request was handed to the transport.
    pub fn request_end(&self) -> Option<Instant> {
        self.at(self.last_write_ns.load(Ordering::Relaxed))
    }

    /// When the first byte of the response was read.
    pub fn response_start(&self) -> Option<Instant> {
        self.at(self.first_read_ns.load(Ordering::Relaxed))
    }

    /// Bytes written since `mark`.
    pub fn sent_since(&self, mark: Mark) -> u64 {
        self.sent.load(Ordering::Relaxed).saturating_sub(mark.sent)
    }

    /// Bytes read since `mark`.
    pub fn received_since(&self, mark: Mark) -> u64 {
        self.received
            .load(Ordering::Relaxed)
            .saturating_sub(mark.received)
    }

    /// The transport's smoothed RTT in ms, sampled when the response began.
    pub fn rtt_ms(&self) -> Option<f64> {
        match self.rtt_us.load(Ordering::Relaxed) {
            0 => None,
            us => Some(f64::from(us) / 1000.0),
        }
    }

    /// Records a transport RTT sample (microseconds).
    pub fn set_rtt_us(&self, us: u32) {
        self.rtt_us.store(us, Ordering::Relaxed);
    }
}

/// An I/O stream wrapped by a [`Meter`].
#[derive(Debug)]
pub(crate) struct Metered<S> {
    inner: S,
    meter: Arc<Meter>,
    /// The raw TCP socket under it, for `TCP_INFO` (None where there is none).
    fd: Option<i32>,
}

impl<S> Metered<S> {
    pub fn new(inner: S, meter: Arc<Meter>, fd: Option<i32>) -> Metered<S> {
        Metered { inner, meter, fd }
    }

    fn on_first_response_byte(&self) {
        if let Some(us) = self.fd.and_then(tcp_rtt_us) {
            self.meter.set_rtt_us(us);
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Metered<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let res = Pin::new(&mut this.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            let m = &this.meter;
            m.received.fetch_add(n as u64, Ordering::Relaxed);
            if m.armed.swap(false, Ordering::AcqRel) {
                m.first_read_ns.store(m.now_ns(), Ordering::Relaxed);
                this.on_first_response_byte();
            }
        }
        res
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Metered<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let res = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = res {
            this.count_write(n);
        }
        res
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let res = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = res {
            this.count_write(n);
        }
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl<S> Metered<S> {
    fn count_write(&self, n: usize) {
        if n > 0 {
            self.meter.sent.fetch_add(n as u64, Ordering::Relaxed);
            self.meter
                .last_write_ns
                .store(self.meter.now_ns(), Ordering::Relaxed);
        }
    }
}

/// The kernel's smoothed RTT of a TCP socket, in microseconds.
#[cfg(target_os = "linux")]
fn tcp_rtt_us(fd: i32) -> Option<u32> {
    // SAFETY: `tcp_info` is plain old data, so all-zero is a valid value; getsockopt writes at
    // most `len` bytes into it, and `fd` is a socket owned by the stream this wrapper holds,
    // so it is open for the duration of the call.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    (rc == 0 && info.tcpi_rtt > 0).then_some(info.tcpi_rtt)
}

#[cfg(not(target_os = "linux"))]
fn tcp_rtt_us(_fd: i32) -> Option<u32> {
    None
}
