//! Opens a connection to an origin: resolve, TCP connect, TLS handshake, each phase timed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use url::Host;

use super::emulate::Link;
use super::emulate_tcp::Wire;
use super::io::Stream;
use super::meter::{Meter, Metered};
use super::tls::handshake_sentence;
use super::{ConnInfo, ConnectTimes, Origin, Protocol, Resolver, Trust};
use crate::error::{Fail, FailReason, Phase};
use crate::transport::bucket::Bucket;

/// Makes new connections for the pool.
#[derive(Debug, Clone)]
pub(crate) struct Connector {
    pub resolver: Resolver,
    pub tls: Arc<Trust>,
    /// **\[beyond\]** The emulated link every connection goes through, if any.
    pub link: Option<Arc<Link>>,
    /// **\[beyond\]** The client's rate limit: every TCP read asks it first.
    pub bucket: Option<Arc<Bucket>>,
}

impl Connector {
    /// Connects to `origin`, noting when the DNS, connect and TLS phases happened. With
    /// `offer_h2` TLS offers ALPN `h2, http/1.1`, else `http/1.1`; the protocol the server
    /// picked is in the returned [`ConnInfo`].
    pub async fn connect(
        &self,
        origin: &Origin,
        offer_h2: bool,
    ) -> Result<(Metered<Stream>, ConnInfo), Fail> {
        let mut times = ConnectTimes {
            dns_start: Some(Instant::now()),
            ..ConnectTimes::default()
        };
        let conditions = self.link.as_ref().map(|l| l.now());
        if conditions.is_some_and(|c| c.offline) {
            return Err(offline(&origin.host));
        }
        let addrs = self.resolver.resolve(&origin.host, origin.port).await?;
        times.dns_end = Some(Instant::now());
        times.connect_start = times.dns_end;
        let (tcp, peer) = connect_any(&addrs).await?;
        let _ = tcp.set_nodelay(true);
        // The kernel's TCP_INFO knows only loopback; an emulated link reports its own RTT.
        let fd = raw_fd(&tcp).filter(|_| conditions.is_none());
        if let Some(c) = conditions {
            // The SYN and SYN-ACK: one round trip.
            tokio::time::sleep(Duration::from_millis(u64::from(c.rtt_ms))).await;
        }
        let tcp = Wire::new(tcp, self.link.clone(), self.bucket.clone());
        let mut protocol = Protocol::Http11;
        let stream = if origin.https {
            times.ssl_start = Some(Instant::now());
            let name = server_name(&origin.host)?;
            let configs = self.tls.configs();
            let config = if offer_h2 {
                &configs.h2
            } else {
                &configs.http1
            };
            let tls = TlsConnector::from(config.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| {
                    Fail::with(
                        FailReason::SslHandshakeFail,
                        format_args!("{}: {}", origin.host, handshake_sentence(&e)),
                    )
                    .in_phase(Phase::Tls)
                    .caused_by(e)
                })?;
            times.ssl_end = Some(Instant::now());
            if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
                protocol = Protocol::H2;
            }
            Stream::Tls(Box::new(tls))
        } else {
            Stream::Plain(tcp)
        };
        times.connect_end = Some(Instant::now());
        let meter = Meter::new();
        if let Some(c) = conditions {
            meter.set_rtt_us(c.rtt_ms.saturating_mul(1000).max(1));
        }
        Ok((
            Metered::new(stream, meter.clone(), fd),
            ConnInfo {
                peer,
                protocol,
                meter,
                #[cfg(feature = "http3")]
                quic: None,
                times,
            },
        ))
    }
}

/// Tries each address in turn; the last error wins.
///
/// A reset seen while connecting means the handshake completed and the peer then reset the
/// connection before we looked at it (the socket error is read after the handshake), so it is
/// an interruption, not a refusal.
async fn connect_any(addrs: &[SocketAddr]) -> Result<(TcpStream, SocketAddr), Fail> {
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => return Ok((s, *addr)),
            Err(e) => {
                let reason = match e.kind() {
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted => {
                        FailReason::NetworkInterrupted
                    }
                    _ => FailReason::ConnectFail,
                };
                last = Some(
                    Fail::with(reason, format_args!("{addr}: {e}"))
                        .in_phase(Phase::Connect)
                        .caused_by(e),
                )
            }
        }
    }
    Err(last.unwrap_or_else(|| {
        Fail::with(FailReason::ConnectFail, "no address").in_phase(Phase::Connect)
    }))
}

/// What a connection attempt meets on an emulated offline link: as on a phone without a
/// network, a name does not resolve and an address is unreachable — at once.
fn offline(host: &Host<String>) -> Fail {
    match host {
        Host::Domain(d) => Fail::with(
            FailReason::DnsResolveFail,
            format_args!("{d}: the network is offline (emulated)"),
        )
        .in_phase(Phase::Resolve),
        ip => Fail::with(
            FailReason::ConnectFail,
            format_args!("{ip}: network is unreachable (emulated offline)"),
        )
        .in_phase(Phase::Connect),
    }
}

fn server_name(host: &Host<String>) -> Result<ServerName<'static>, Fail> {
    match host {
        Host::Domain(d) => ServerName::try_from(d.clone()).map_err(|e| {
            Fail::with(FailReason::SslHandshakeFail, format_args!("{d}: {e}")).in_phase(Phase::Tls)
        }),
        Host::Ipv4(ip) => Ok(ServerName::IpAddress((*ip).into())),
        Host::Ipv6(ip) => Ok(ServerName::IpAddress((*ip).into())),
    }
}

#[cfg(unix)]
fn raw_fd(tcp: &TcpStream) -> Option<i32> {
    use std::os::fd::AsRawFd;
    Some(tcp.as_raw_fd())
}

#[cfg(not(unix))]
fn raw_fd(_tcp: &TcpStream) -> Option<i32> {
    None
}
