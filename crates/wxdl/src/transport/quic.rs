//! HTTP/3 over QUIC (quinn + h3): connects with the client's trust store, the handshake timed as
//! both connect and SSL phases, within a short bound so a silent UDP path falls back quickly.
//! Under the client's rate limit (**[beyond]**) the datagrams a connection receives are charged
//! to its bucket before each body read, and quinn's receive windows are bounded, so the peer
//! cannot send far ahead of the rate (quinn reads its socket itself: the reads cannot be gated
//! as TCP's are).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::bucket::{Bucket, Credit};
use super::emulate::Link;
use super::emulate_udp::EmulatedUdp;
use super::{ConnInfo, ConnectTimes, Meter, Origin, Protocol, Resolver, Trust};
use crate::error::{Fail, FailReason, Phase};

/// One HTTP/3 request stream.
pub(crate) type H3Stream = h3::client::RequestStream<h3_quinn::BidiStream<Bytes>, Bytes>;

/// Sends HTTP/3 requests on one QUIC connection (cheap to clone; multiplexed).
#[derive(Clone)]
pub(crate) struct H3Send {
    pub requests: h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>,
    /// The connection's datagrams and the client's bucket, under a rate limit.
    charged: Option<Arc<Charged>>,
}

impl H3Send {
    /// The gate for one response body on this connection (none without a rate limit).
    pub fn gate(&self) -> Option<Box<H3Gate>> {
        self.charged.as_ref().map(|c| {
            Box::new(H3Gate {
                credit: Credit::new(c.bucket.clone()),
                charged: c.clone(),
            })
        })
    }
}

/// What a QUIC connection has received, as charged to the client's bucket so far (its streams'
/// bodies share it: each charges what arrived since the last charge, on whichever stream).
struct Charged {
    conn: quinn::Connection,
    bucket: Arc<Bucket>,
    /// Datagram bytes received (whole QUIC packets, as a TCP socket read counts TLS records)
    /// charged so far.
    bytes: AtomicU64,
}

impl Charged {
    /// Bytes received since the last call (by any stream).
    fn due(&self) -> u64 {
        let now = self.conn.stats().udp_rx.bytes;
        now.saturating_sub(self.bytes.fetch_max(now, Ordering::Relaxed))
    }
}

/// Holds a response body's reads to the client's rate: before each read, what the connection
/// received since the last charge is charged, and the read waits until the account is in
/// credit.
pub(crate) struct H3Gate {
    credit: Credit,
    charged: Arc<Charged>,
}

impl H3Gate {
    /// Charges what arrived and waits for credit.
    pub async fn admit(&mut self) {
        self.credit.charge(self.charged.due());
        self.credit.admit().await;
    }
}

/// quinn's receive windows under `bucket`'s rate: a stream's a second at the rate, the
/// connection's (all streams together) the bucket's least until the handshake tells the round
/// trip (then [`Bucket::window`] for it: `set_receive_window`).
fn transport_config(bucket: &Bucket) -> quinn::TransportConfig {
    let mut config = quinn::TransportConfig::default();
    config
        .stream_receive_window(quinn::VarInt::from_u32(
            bucket.window(Duration::from_secs(1)),
        ))
        .receive_window(quinn::VarInt::from_u32(bucket.window(Duration::ZERO)));
    config
}

/// Opens QUIC connections.
#[derive(Debug)]
pub(crate) struct QuicConnector {
    trust: Arc<Trust>,
    /// Made from the trust's `h3` configuration on the first QUIC connection.
    config: OnceLock<Result<quinn::ClientConfig, String>>,
    handshake_bound: Duration,
    /// **\[beyond\]** The emulated link the datagrams go through, if any.
    link: Option<Arc<Link>>,
    /// **\[beyond\]** The client's rate limit, if any.
    bucket: Option<Arc<Bucket>>,
}

impl QuicConnector {
    /// Connections trusting `trust`, with ALPN `h3` over TLS 1.3, their bodies held to
    /// `bucket`'s rate when there is one.
    pub fn new(
        trust: Arc<Trust>,
        handshake_bound: Duration,
        link: Option<Arc<Link>>,
        bucket: Option<Arc<Bucket>>,
    ) -> QuicConnector {
        QuicConnector {
            trust,
            config: OnceLock::new(),
            handshake_bound,
            link,
            bucket,
        }
    }

    /// A client endpoint on `bind`, its datagrams through the emulated link when there is one.
    fn endpoint(&self, bind: SocketAddr) -> std::io::Result<quinn::Endpoint> {
        let Some(link) = &self.link else {
            return quinn::Endpoint::client(bind);
        };
        use quinn::Runtime;
        let runtime = Arc::new(quinn::TokioRuntime);
        let socket = runtime.wrap_udp_socket(std::net::UdpSocket::bind(bind)?)?;
        let socket = Arc::new(EmulatedUdp::new(socket, link.clone()));
        quinn::Endpoint::new_with_abstract_socket(
            quinn::EndpointConfig::default(),
            None,
            socket,
            runtime,
        )
    }

    fn config(&self) -> Result<&quinn::ClientConfig, Fail> {
        self.config
            .get_or_init(|| {
                let tls = self.trust.configs().h3.clone();
                let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls)
                    .map_err(|e| format!("QUIC TLS: {e}"))?;
                let mut config = quinn::ClientConfig::new(Arc::new(crypto));
                if let Some(bucket) = &self.bucket {
                    config.transport_config(Arc::new(transport_config(bucket)));
                }
                Ok(config)
            })
            .as_ref()
            .map_err(|e| Fail::with(FailReason::SslHandshakeFail, e))
    }

    /// Connects to `origin`'s host on UDP `port` and starts HTTP/3 on it.
    pub async fn connect(
        &self,
        resolver: &Resolver,
        origin: &Origin,
        port: u16,
    ) -> Result<(H3Send, ConnInfo), Fail> {
        let dns_start = Some(Instant::now());
        let addrs = resolver.resolve(&origin.host, port).await?;
        let dns_end = Some(Instant::now());
        let addr = addrs[0];
        let start = Some(Instant::now());
        let bind = match addr.ip() {
            IpAddr::V4(_) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
            IpAddr::V6(_) => SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)),
        };
        let quic_fail = |what: &str, e: &dyn std::fmt::Display| {
            Fail::with(
                FailReason::ConnectFail,
                format_args!("QUIC {what} {addr}: {e}"),
            )
            .in_phase(Phase::Connect)
        };
        if self.link.as_ref().is_some_and(|l| l.now().offline) {
            return Err(quic_fail(
                "connect",
                &"network is unreachable (emulated offline)",
            ));
        }
        let endpoint = self.endpoint(bind).map_err(|e| quic_fail("socket", &e))?;
        let server_name = match &origin.host {
            url::Host::Domain(d) => d.clone(),
            other => other.to_string(),
        };
        let connecting = endpoint
            .connect_with(self.config()?.clone(), addr, &server_name)
            .map_err(|e| quic_fail("connect", &e))?;
        let conn = match tokio::time::timeout(self.handshake_bound, connecting).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Err(handshake_fail(addr, e)),
            Err(_) => return Err(quic_fail("handshake", &"no answer in time")),
        };
        let (mut driver, requests) = h3::client::new(h3_quinn::Connection::new(conn.clone()))
            .await
            .map_err(|e| quic_fail("h3 setup", &e))?;
        tokio::spawn(async move {
            let e = std::future::poll_fn(|cx| driver.poll_close(cx)).await;
            tracing::debug!("h3 connection closed: {e}");
        });
        let end = Some(Instant::now());
        if let Some(bucket) = &self.bucket {
            conn.set_receive_window(quinn::VarInt::from_u32(bucket.window(conn.rtt())));
        }
        let charged = self.bucket.as_ref().map(|bucket| {
            Arc::new(Charged {
                conn: conn.clone(),
                bucket: bucket.clone(),
                bytes: AtomicU64::new(0),
            })
        });
        let info = ConnInfo {
            peer: addr,
            protocol: Protocol::Quic,
            meter: Meter::new(),
            quic: Some(conn),
            // The QUIC handshake is the connect and the TLS handshake at once.
            times: ConnectTimes {
                dns_start,
                dns_end,
                connect_start: start,
                ssl_start: start,
                ssl_end: end,
                connect_end: end,
            },
        };
        Ok((H3Send { requests, charged }, info))
    }
}

/// A failed QUIC handshake, classified like TCP's: a TLS alert (QUIC's crypto error codes,
/// RFC 9000 §20.1: 0x0100–0x01ff) is `ssl handshake fail`, anything else `connect fail`.
fn handshake_fail(addr: SocketAddr, e: quinn::ConnectionError) -> Fail {
    let tls = match &e {
        quinn::ConnectionError::TransportError(t) => is_crypto(t.code),
        quinn::ConnectionError::ConnectionClosed(c) => is_crypto(c.error_code),
        _ => false,
    };
    let (reason, phase) = if tls {
        (FailReason::SslHandshakeFail, Phase::Tls)
    } else {
        (FailReason::ConnectFail, Phase::Connect)
    };
    Fail::with(reason, format_args!("QUIC handshake {addr}: {e}"))
        .in_phase(phase)
        .caused_by(e)
}

fn is_crypto(code: quinn::TransportErrorCode) -> bool {
    (0x100..0x200).contains(&u64::from(code))
}
