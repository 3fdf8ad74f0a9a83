//! Connection pools per origin and protocol: idle HTTP/1.1 keep-alive connections, and one
//! shared multiplexed HTTP/2 connection per origin. Knows whether a request reused a connection.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[cfg(feature = "http3")]
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};

use super::out_body::OutBody;
#[cfg(feature = "http3")]
use super::quic::H3Send;
use super::{Body, ConnInfo, ConnectTimes, Connector, Origin, Protocol};
#[cfg(feature = "http3")]
use super::{QuicConnector, Resolver};
#[cfg(feature = "http3")]
use crate::error::h3_error;
use crate::error::{http_error, lock, Fail};

/// How long an idle connection stays in the pool.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// At most this many idle HTTP/1.1 connections are kept per origin.
const MAX_IDLE_PER_ORIGIN: usize = 32;
/// A returned connection that is not ready again within this bound is dropped.
const CHECKIN_READY_BOUND: Duration = Duration::from_secs(1);
/// HTTP/2 flow-control windows: large enough that one stream is not throttled by the window on
/// a fast path, bounded so a slow disk cannot make the connection buffer without limit.
const H2_STREAM_WINDOW: u32 = 8 * 1024 * 1024;
const H2_CONNECTION_WINDOW: u32 = 16 * 1024 * 1024;

/// An HTTP/2 window: `wide` (stream or connection), or under the client's rate limit the
/// bucket's window for the connection's round trip (what the peer may send ahead of the gated
/// socket reads: a split's first answer, let go after its segment, otherwise still fills its
/// stream's window). The round trip is the TCP connect's time: an emulated link's delay is in
/// it, which the kernel's RTT does not see.
fn h2_window(connector: &Connector, info: &ConnInfo, wide: u32) -> u32 {
    let Some(bucket) = &connector.bucket else {
        return wide;
    };
    let t = info.times;
    let rtt = match (t.connect_start, t.ssl_start.or(t.connect_end)) {
        (Some(start), Some(end)) => end.saturating_duration_since(start),
        _ => Duration::ZERO,
    };
    bucket.window(rtt)
}

/// Sends requests over one connection, whatever its protocol.
pub(crate) enum Sender {
    H1(http1::SendRequest<OutBody>),
    H2(http2::SendRequest<OutBody>),
    #[cfg(feature = "http3")]
    H3(H3Send),
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Sender::H1(_) => "Sender::H1",
            Sender::H2(_) => "Sender::H2",
            #[cfg(feature = "http3")]
            Sender::H3(_) => "Sender::H3",
        })
    }
}

/// Why a request got no response head.
#[derive(Debug)]
pub(crate) enum SendError {
    Hyper(hyper::Error),
    #[cfg(feature = "http3")]
    H3(String),
    /// The request could not even be built.
    Fail(Fail),
}

impl SendError {
    /// The failure row of this error.
    pub fn into_fail(self) -> Fail {
        match self {
            SendError::Hyper(e) => http_error(e),
            #[cfg(feature = "http3")]
            SendError::H3(e) => h3_error(&e),
            SendError::Fail(f) => f,
        }
    }
}

impl Sender {
    /// Sends a request and its body and waits for the response head.
    pub async fn send(
        &mut self,
        req: http::Request<OutBody>,
    ) -> Result<http::Response<Body>, SendError> {
        let http = |r: hyper::Result<http::Response<Incoming>>| {
            r.map(|resp| resp.map(Body::Http)).map_err(SendError::Hyper)
        };
        match self {
            Sender::H1(s) => http(s.send_request(req).await),
            Sender::H2(s) => http(s.send_request(req).await),
            #[cfg(feature = "http3")]
            Sender::H3(s) => {
                let h3 = |e: &dyn std::fmt::Display| SendError::H3(e.to_string());
                let (parts, mut body) = req.into_parts();
                let mut stream = s
                    .requests
                    .send_request(http::Request::from_parts(parts, ()))
                    .await
                    .map_err(|e| h3(&e))?;
                while let Some(frame) = body.frame().await {
                    let frame = frame.map_err(|e| h3(&e))?;
                    if let Ok(data) = frame.into_data() {
                        stream.send_data(data).await.map_err(|e| h3(&e))?;
                    }
                }
                // Finishing ends the request stream. A server that has its answer may already
                // have asked us to stop sending (RFC 9114 4.1: clients must not discard a
                // complete response for that), so an error here is not the request's failure;
                // the response head, or its absence, tells.
                let _ = stream.finish().await;
                let head = stream.recv_response().await.map_err(|e| h3(&e))?;
                Ok(head.map(|()| Body::H3(Box::new(stream), s.gate())))
            }
        }
    }
}

/// A connection (or, for HTTP/2, a stream slot on one) used by one request.
#[derive(Debug)]
pub(crate) struct Conn {
    pub sender: Sender,
    pub info: ConnInfo,
    /// True when it served an earlier request.
    pub reused: bool,
    pub origin: Origin,
}

impl Conn {
    /// When this request's connection was opened, phase by phase; all `None` when it was
    /// reused (the request paid for none of those phases).
    pub fn connect_times(&self) -> ConnectTimes {
        if self.reused {
            ConnectTimes::default()
        } else {
            self.info.times
        }
    }
}

#[derive(Debug)]
struct Idle {
    sender: http1::SendRequest<OutBody>,
    info: ConnInfo,
    since: Instant,
}

/// A multiplexed connection every request to its origin shares.
struct Shared<S> {
    sender: S,
    info: ConnInfo,
    last_used: Instant,
}

impl<S> std::fmt::Debug for Shared<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// The pools. Dropping them closes every connection.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    idle: Mutex<HashMap<Origin, Vec<Idle>>>,
    h2: Mutex<HashMap<Origin, Shared<http2::SendRequest<OutBody>>>>,
    #[cfg(feature = "http3")]
    h3: Mutex<HashMap<Origin, Shared<H3Send>>>,
    /// One QUIC handshake at a time per origin, so concurrent requests share it.
    #[cfg(feature = "http3")]
    h3_connecting: Mutex<HashMap<Origin, Arc<tokio::sync::Mutex<()>>>>,
    /// One connect at a time per origin while HTTP/2 may come of it, so concurrent requests
    /// share the connection instead of racing to open several.
    h2_connecting: Mutex<HashMap<Origin, Arc<tokio::sync::Mutex<()>>>>,
    /// Origins that answered an `h2` offer with HTTP/1.1: no need to serialize their connects.
    h1_only: Mutex<HashSet<Origin>>,
}

impl Pool {
    /// A connection for one request to `origin`: reused when possible, else new (always new
    /// with `fresh`, for a retry after a reused one failed). `h2` allows HTTP/2 (offered in
    /// ALPN on TLS; never cleartext h2c).
    pub async fn get(
        &self,
        connector: &Connector,
        origin: &Origin,
        h2: bool,
        fresh: bool,
    ) -> Result<Conn, Fail> {
        let h2 = h2 && origin.https;
        if fresh {
            return Box::pin(self.open(connector, origin, h2)).await;
        }
        if h2 {
            if let Some(c) = self.shared_h2(origin) {
                return Ok(c);
            }
            if !lock(&self.h1_only).contains(origin) {
                let gate = lock(&self.h2_connecting)
                    .entry(origin.clone())
                    .or_default()
                    .clone();
                let _turn = gate.lock().await;
                if let Some(c) = self.shared_h2(origin) {
                    return Ok(c);
                }
                if let Some(c) = self.checkout_h1(origin) {
                    return Ok(c);
                }
                return Box::pin(self.open(connector, origin, true)).await;
            }
        }
        if let Some(c) = self.checkout_h1(origin) {
            return Ok(c);
        }
        Box::pin(self.open(connector, origin, h2)).await
    }

    /// A request slot on the origin's HTTP/3 connection (UDP `port`), opening it if needed.
    #[cfg(feature = "http3")]
    pub async fn get_h3(
        &self,
        quic: &QuicConnector,
        resolver: &Resolver,
        origin: &Origin,
        port: u16,
    ) -> Result<Conn, Fail> {
        if let Some(c) = self.shared_h3(origin) {
            return Ok(c);
        }
        let gate = lock(&self.h3_connecting)
            .entry(origin.clone())
            .or_default()
            .clone();
        let _turn = gate.lock().await;
        if let Some(c) = self.shared_h3(origin) {
            return Ok(c);
        }
        let (sender, info) = Box::pin(quic.connect(resolver, origin, port)).await?;
        lock(&self.h3).insert(
            origin.clone(),
            Shared {
                sender: sender.clone(),
                info: info.clone(),
                last_used: Instant::now(),
            },
        );
        Ok(Conn {
            sender: Sender::H3(sender),
            info,
            reused: false,
            origin: origin.clone(),
        })
    }

    #[cfg(feature = "http3")]
    fn shared_h3(&self, origin: &Origin) -> Option<Conn> {
        let mut map = lock(&self.h3);
        let entry = map.get_mut(origin)?;
        let closed = entry
            .info
            .quic
            .as_ref()
            .is_none_or(|q| q.close_reason().is_some());
        if closed || entry.last_used.elapsed() > IDLE_TIMEOUT {
            map.remove(origin);
            return None;
        }
        entry.last_used = Instant::now();
        Some(Conn {
            sender: Sender::H3(entry.sender.clone()),
            info: entry.info.clone(),
            reused: true,
            origin: origin.clone(),
        })
    }

    /// Forgets the origin's HTTP/3 connection (after it failed).
    #[cfg(feature = "http3")]
    pub fn drop_h3(&self, origin: &Origin) {
        lock(&self.h3).remove(origin);
    }

    fn shared_h2(&self, origin: &Origin) -> Option<Conn> {
        let mut map = lock(&self.h2);
        let entry = map.get_mut(origin)?;
        if entry.sender.is_closed() || entry.last_used.elapsed() > IDLE_TIMEOUT {
            map.remove(origin);
            return None;
        }
        entry.last_used = Instant::now();
        Some(Conn {
            sender: Sender::H2(entry.sender.clone()),
            info: entry.info.clone(),
            reused: true,
            origin: origin.clone(),
        })
    }

    /// An idle, live HTTP/1.1 connection to `origin`, most recently used first.
    fn checkout_h1(&self, origin: &Origin) -> Option<Conn> {
        let mut idle = lock(&self.idle);
        let list = idle.get_mut(origin)?;
        let now = Instant::now();
        list.retain(|c| !c.sender.is_closed() && now.duration_since(c.since) < IDLE_TIMEOUT);
        while let Some(c) = list.pop() {
            if c.sender.is_ready() {
                return Some(Conn {
                    sender: Sender::H1(c.sender),
                    info: c.info,
                    reused: true,
                    origin: origin.clone(),
                });
            }
        }
        None
    }

    /// Opens a new connection and starts its protocol driver task.
    async fn open(
        &self,
        connector: &Connector,
        origin: &Origin,
        offer_h2: bool,
    ) -> Result<Conn, Fail> {
        let (stream, info) = connector.connect(origin, offer_h2).await?;
        let io = TokioIo::new(stream);
        let sender = match info.protocol {
            Protocol::H2 => {
                let (sender, conn) = http2::Builder::new(TokioExecutor::new())
                    .timer(TokioTimer::new())
                    .initial_stream_window_size(h2_window(connector, &info, H2_STREAM_WINDOW))
                    .initial_connection_window_size(h2_window(
                        connector,
                        &info,
                        H2_CONNECTION_WINDOW,
                    ))
                    .handshake(io)
                    .await
                    .map_err(http_error)?;
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!("h2 connection closed: {e}");
                    }
                });
                lock(&self.h1_only).remove(origin);
                lock(&self.h2).insert(
                    origin.clone(),
                    Shared {
                        sender: sender.clone(),
                        info: info.clone(),
                        last_used: Instant::now(),
                    },
                );
                Sender::H2(sender)
            }
            _ => {
                let (sender, conn) = http1::Builder::new()
                    .handshake(io)
                    .await
                    .map_err(http_error)?;
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!("connection closed: {e}");
                    }
                });
                if offer_h2 {
                    lock(&self.h1_only).insert(origin.clone());
                }
                Sender::H1(sender)
            }
        };
        Ok(Conn {
            sender,
            info,
            reused: false,
            origin: origin.clone(),
        })
    }

    /// Returns a connection whose response was read to the end. HTTP/1.1 connections go back to
    /// the idle list once ready again; HTTP/2 connections stay shared anyway.
    pub async fn checkin(&self, conn: Conn) {
        let Sender::H1(mut sender) = conn.sender else {
            return;
        };
        match tokio::time::timeout(CHECKIN_READY_BOUND, sender.ready()).await {
            Ok(Ok(())) => {}
            _ => return,
        }
        let mut idle = lock(&self.idle);
        let list = idle.entry(conn.origin).or_default();
        if list.len() < MAX_IDLE_PER_ORIGIN {
            list.push(Idle {
                sender,
                info: conn.info,
                since: Instant::now(),
            });
        }
    }
}
