//! Network emulation for QUIC (**[beyond]**): quinn's UDP socket wrapped so that every datagram
//! received goes through the client's emulated link — held for the round trip and the
//! downstream bandwidth, in order, and lost (really dropped: QUIC recovers as it would) with the
//! link's loss probability. Datagrams sent go straight out (the upstream rate is not applied to
//! QUIC; see docs/network.md).
//!
//! Imports `emulate` only.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use quinn::udp::{RecvMeta, Transmit};
use quinn::{AsyncUdpSocket, UdpPoller};

use super::emulate::Link;

/// The most bytes held for later delivery (beyond it, datagrams are dropped, as a full
/// router queue would).
const HELD_MAX: usize = 8 << 20;

/// A UDP socket behind an emulated link.
pub(crate) struct EmulatedUdp {
    inner: Arc<dyn AsyncUdpSocket>,
    link: Arc<Link>,
    held: Mutex<Held>,
}

#[derive(Default)]
struct Held {
    queue: VecDeque<(Vec<u8>, RecvMeta, Instant)>,
    bytes: usize,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl fmt::Debug for EmulatedUdp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatedUdp").finish_non_exhaustive()
    }
}

impl EmulatedUdp {
    pub fn new(inner: Arc<dyn AsyncUdpSocket>, link: Arc<Link>) -> EmulatedUdp {
        EmulatedUdp {
            inner,
            link,
            held: Mutex::new(Held::default()),
        }
    }
}

impl AsyncUdpSocket for EmulatedUdp {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        self.inner.clone().create_io_poller()
    }

    fn try_send(&self, transmit: &Transmit) -> io::Result<()> {
        if self.link.now().offline {
            // Sent into the void.
            return Ok(());
        }
        self.inner.try_send(transmit)
    }

    fn poll_recv(
        &self,
        cx: &mut Context,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        // Take in what the socket has, stamping each datagram (group) with its delivery time.
        loop {
            let mut data = vec![0u8; 64 * 1024];
            let mut one = [IoSliceMut::new(&mut data)];
            let mut m = [RecvMeta::default()];
            match self.inner.poll_recv(cx, &mut one, &mut m) {
                Poll::Ready(Ok(n)) if n > 0 => {
                    let len = m[0].len;
                    data.truncate(len);
                    let previous = held.queue.back().map_or(Instant::now(), |d| d.2);
                    let at = self.link.datagram(len, Instant::now(), previous);
                    match at {
                        Some(at) if held.bytes + len <= HELD_MAX => {
                            held.bytes += len;
                            held.queue.push_back((data, m[0], at));
                        }
                        _ => {} // lost
                    }
                }
                Poll::Ready(Ok(_)) => break,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => break,
            }
        }
        let Some(&(_, _, at)) = held.queue.front() else {
            return Poll::Pending;
        };
        if at > Instant::now() {
            let timer = held
                .timer
                .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at.into())));
            timer.as_mut().reset(at.into());
            if timer.as_mut().poll(cx).is_ready() {
                cx.waker().wake_by_ref();
            }
            return Poll::Pending;
        }
        let (data, m, _) = held.queue.pop_front().expect("front seen above");
        held.bytes -= data.len();
        let (Some(buf), Some(slot)) = (bufs.first_mut(), meta.first_mut()) else {
            return Poll::Ready(Ok(0));
        };
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        *slot = RecvMeta { len: n, ..m };
        Poll::Ready(Ok(1))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn max_receive_segments(&self) -> usize {
        self.inner.max_receive_segments()
    }

    fn max_transmit_segments(&self) -> usize {
        self.inner.max_transmit_segments()
    }

    fn may_fragment(&self) -> bool {
        self.inner.may_fragment()
    }
}
