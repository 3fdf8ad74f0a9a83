//! Transports: name resolution, TCP, TLS, QUIC and the connection pool. The lowest layer of
//! the engine: it reports what happened as data (`ConnectTimes`, `ConnInfo`) and imports
//! nothing above it but the failure table (`error`); the profile is assembled by its callers.

mod body;
pub(crate) mod bucket;
mod connect;
mod emulate;
mod emulate_tcp;
#[cfg(feature = "http3")]
mod emulate_udp;
mod insecure;
mod io;
mod meter;
mod out_body;
mod pool;
#[cfg(feature = "http3")]
mod quic;
mod resolve;
mod self_signed;
mod tls;

pub(crate) use body::Body;
pub(crate) use connect::Connector;
pub(crate) use emulate::Link;
pub use emulate::{Emulation, NetworkConditions, NetworkSettings, PRESETS};
pub(crate) use meter::{Mark, Meter};
pub(crate) use out_body::{OutBody, Segment};
pub use out_body::{SentFn, OUT_CHUNK};
pub(crate) use pool::{Conn, Pool, SendError, Sender};
#[cfg(feature = "http3")]
pub(crate) use quic::QuicConnector;
pub use resolve::Resolver;
pub use tls::CaError;
pub(crate) use tls::Trust;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use url::{Host, Url};

/// The default bound on a QUIC handshake: one that has not completed by then counts as failed
/// (UDP blocked, nothing listening), and the download falls back to TCP.
pub(crate) const QUIC_HANDSHAKE_BOUND: Duration = Duration::from_millis(1000);

/// The application protocol a response came over (profile `protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Protocol {
    /// HTTP/1.1 (`"http1.1"`).
    Http11,
    /// HTTP/2 (`"h2"`).
    H2,
    /// HTTP/3 over QUIC (`"quic"`).
    Quic,
    /// Not known (`"unknown"`).
    Unknown,
}

impl Protocol {
    /// The name WeChat's profile uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Http11 => "http1.1",
            Protocol::H2 => "h2",
            Protocol::Quic => "quic",
            Protocol::Unknown => "unknown",
        }
    }

    /// The version string HAR uses.
    pub fn http_version(self) -> &'static str {
        match self {
            Protocol::Http11 => "HTTP/1.1",
            Protocol::H2 => "h2",
            Protocol::Quic => "h3",
            Protocol::Unknown => "unknown",
        }
    }
}

/// Where a connection goes: scheme, host and port. Pools are keyed by it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Origin {
    pub https: bool,
    pub host: Host<String>,
    pub port: u16,
}

impl Origin {
    /// The origin of an http(s) URL (already validated to have a host).
    pub fn of(url: &Url) -> Origin {
        let https = url.scheme() == "https";
        Origin {
            https,
            host: url
                .host()
                .map(|h| h.to_owned())
                .unwrap_or(Host::Domain(String::new())),
            port: url
                .port_or_known_default()
                .unwrap_or(if https { 443 } else { 80 }),
        }
    }

    /// `host:port`, the port always written.
    pub fn authority_with_port(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The value of the `Host` header: the host, plus the port when it is not the default.
    pub fn authority(&self) -> String {
        let default = if self.https { 443 } else { 80 };
        if self.port == default {
            self.host.to_string()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Facts about the connection a request went over.
#[derive(Debug, Clone)]
pub(crate) struct ConnInfo {
    pub peer: SocketAddr,
    pub protocol: Protocol,
    /// Bytes and marks of the exchanges on this connection.
    pub meter: std::sync::Arc<Meter>,
    /// The QUIC connection under HTTP/3 (for its path RTT).
    #[cfg(feature = "http3")]
    pub quic: Option<quinn::Connection>,
    /// When it was opened, phase by phase.
    pub times: ConnectTimes,
}

impl ConnInfo {
    /// The transport's smoothed RTT in ms: QUIC's path RTT, or TCP's from `TCP_INFO`.
    pub fn rtt_ms(&self) -> Option<f64> {
        #[cfg(feature = "http3")]
        if let Some(q) = &self.quic {
            return Some(q.rtt().as_secs_f64() * 1000.0);
        }
        self.meter.rtt_ms()
    }
}

/// When each phase of opening a connection happened, as the connector saw it: the facts the
/// profile's DNS, connect and SSL fields are made from. All `None` on a reused connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ConnectTimes {
    pub dns_start: Option<Instant>,
    pub dns_end: Option<Instant>,
    pub connect_start: Option<Instant>,
    /// The TLS handshake (QUIC's handshake is both connect and TLS); `None` on plain TCP.
    pub ssl_start: Option<Instant>,
    pub ssl_end: Option<Instant>,
    pub connect_end: Option<Instant>,
}
