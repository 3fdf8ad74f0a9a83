//! The profile (contract §7): phase marks on one monotonic clock, turned into WeChat's fields.
//!
//! Imports `transport` (its reported facts) and `nqe`; the transport never imports it.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::events::Tracer;
use crate::quality::nqe::Estimates;
use crate::transport::{ConnectTimes, Protocol};

/// Instants of one download's phases, on the monotonic clock, taken from what the transport
/// reports ([`ConnectTimes`]) and what the attempt sees; they become epoch milliseconds only
/// in [`Timeline::profile`].
#[derive(Debug, Clone)]
pub(crate) struct Timeline {
    anchor: Instant,
    anchor_epoch_ms: f64,
    pub queue_start: Option<Instant>,
    pub queue_end: Option<Instant>,
    pub fetch_start: Option<Instant>,
    /// How the request's connection was opened (all `None` when it was reused).
    pub conn: ConnectTimes,
    pub request_start: Option<Instant>,
    pub request_end: Option<Instant>,
    pub response_start: Option<Instant>,
    pub response_end: Option<Instant>,
    pub redirect_start: Option<Instant>,
    pub redirect_end: Option<Instant>,
    /// Who hears of each head as it goes out or comes in (`DownloadOptions::on_trace`).
    pub trace: Tracer,
}

/// Connection facts that go into the profile next to the timings.
#[derive(Debug, Clone)]
pub(crate) struct ConnFacts {
    pub peer_ip: String,
    pub port: u16,
    pub reused: bool,
    pub protocol: Protocol,
    pub body_bytes: u64,
    /// Request bytes (head included) as HTTP wrote them.
    pub sent_bytes: u64,
    /// Response bytes (head and body) as HTTP read them.
    pub received_bytes: u64,
    /// The transport's smoothed RTT, ms.
    pub rtt_ms: Option<f64>,
}

impl Timeline {
    /// Anchors the clock: `invokeStart` is now.
    pub fn start() -> Timeline {
        let anchor = Instant::now();
        let anchor_epoch_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0);
        Timeline {
            anchor,
            anchor_epoch_ms,
            queue_start: None,
            queue_end: None,
            fetch_start: None,
            conn: ConnectTimes::default(),
            request_start: None,
            request_end: None,
            response_start: None,
            response_end: None,
            redirect_start: None,
            redirect_end: None,
            trace: Tracer::default(),
        }
    }

    /// When the task was invoked.
    pub fn invoked(&self) -> Instant {
        self.anchor
    }

    /// Starts a new hop: clears the per-request marks and sets `fetchStart`.
    pub fn begin_fetch(&mut self) {
        self.fetch_start = Some(Instant::now());
        self.conn = ConnectTimes::default();
        self.request_start = None;
        self.request_end = None;
        self.response_start = None;
        self.response_end = None;
    }

    /// Takes the opening phases of the connection a request goes out on (all `None` when it
    /// was reused).
    pub fn connected(&mut self, t: ConnectTimes) {
        self.conn = t;
    }

    /// Milliseconds from `a` to `b`, when both happened.
    pub fn span_ms(&self, a: Option<Instant>, b: Option<Instant>) -> Option<f64> {
        Some(b?.saturating_duration_since(a?).as_secs_f64() * 1000.0)
    }

    /// Forgets a failed connection attempt's marks (a QUIC try before the TCP fallback), keeping
    /// `fetchStart`: the time it cost stays visible as the gap before the new connect.
    #[cfg_attr(not(feature = "http3"), allow(dead_code))]
    pub fn clear_connection_marks(&mut self) {
        let fetch = self.fetch_start;
        self.begin_fetch();
        self.fetch_start = fetch;
    }

    fn ms(&self, t: Option<Instant>) -> f64 {
        match t {
            Some(t) => {
                let since = t.saturating_duration_since(self.anchor);
                self.anchor_epoch_ms + since.as_secs_f64() * 1000.0
            }
            None => 0.0,
        }
    }

    /// What this exchange tells the network-quality estimator, once its body was read.
    pub fn sample(&self, facts: &ConnFacts) -> crate::quality::nqe::Sample {
        crate::quality::nqe::Sample {
            http_rtt_ms: self.span_ms(self.request_start, self.response_start),
            transport_rtt_ms: facts.rtt_ms,
            body_bytes: facts.body_bytes,
            body_ms: self
                .span_ms(self.response_start, self.response_end)
                .unwrap_or(0.0),
        }
    }

    /// Produces the profile: timings, connection facts and the client's current estimates.
    pub fn profile(&self, facts: &ConnFacts, est: &Estimates) -> Profile {
        let fetch = self.ms(self.fetch_start);
        // On a reused connection DNS and connect equal fetchStart.
        let or_fetch = |t: Option<Instant>| {
            if facts.reused || t.is_none() {
                fetch
            } else {
                self.ms(t)
            }
        };
        let dns_start = or_fetch(self.conn.dns_start);
        let dns_end = or_fetch(self.conn.dns_end);
        let response_start = self.ms(self.response_start);
        let response_end = self.ms(self.response_end);
        let body_ms = response_end - response_start;
        let throughput_kbps = if body_ms > 0.0 {
            facts.body_bytes as f64 * 8.0 / body_ms
        } else {
            0.0
        };
        Profile {
            invoke_start: self.ms(Some(self.anchor)),
            queue_start: self.ms(self.queue_start),
            queue_end: self.ms(self.queue_end),
            fetch_start: fetch,
            redirect_start: self.ms(self.redirect_start),
            redirect_end: self.ms(self.redirect_end),
            domain_look_up_start: dns_start,
            domain_look_up_end: dns_end,
            domain_lookup_start: dns_start,
            domain_lookup_end: dns_end,
            http_dns_domain_look_up_start: 0.0,
            http_dns_domain_look_up_end: 0.0,
            connect_start: or_fetch(self.conn.connect_start),
            ssl_connection_start: if facts.reused {
                0.0
            } else {
                self.ms(self.conn.ssl_start)
            },
            ssl_connection_end: if facts.reused {
                0.0
            } else {
                self.ms(self.conn.ssl_end)
            },
            connect_end: or_fetch(self.conn.connect_end),
            request_start: self.ms(self.request_start),
            request_end: self.ms(self.request_end),
            response_start,
            response_end,
            rtt: facts.rtt_ms.unwrap_or(0.0),
            estimate_nettype: est.effective_type.as_number(),
            http_rtt_estimate: est.http_rtt_ms.unwrap_or(0.0),
            transport_rtt_estimate: est.transport_rtt_ms.unwrap_or(0.0),
            downstream_throughput_kbps_estimate: est.downstream_kbps.unwrap_or(0.0),
            throughput_kbps,
            peer_ip: facts.peer_ip.clone(),
            port: facts.port,
            socket_reused: facts.reused,
            send_bytes_count: facts.sent_bytes,
            received_byted_count: facts.received_bytes,
            protocol: facts.protocol.as_str(),
            using_high_performance_mode: false,
        }
    }
}

/// Durations of one request's phases in HAR's terms, ms; -1 when a phase did not apply.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HopTimings {
    /// Waiting in the queue (first request only).
    pub blocked: f64,
    /// Name resolution.
    pub dns: f64,
    /// TCP connect, TLS included (as HAR counts it).
    pub connect: f64,
    /// TLS handshake.
    pub ssl: f64,
    /// Sending the request.
    pub send: f64,
    /// Waiting for the first response byte.
    pub wait: f64,
    /// Reading the response.
    pub receive: f64,
}

/// One HTTP request of a download (redirect hops and the final one), for HAR export.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Hop {
    /// The request's method (`GET` for a download).
    pub method: String,
    /// The requested URL.
    pub url: String,
    /// Response status.
    pub status_code: u16,
    /// `HTTP/1.1`, `h2` or `h3`.
    pub http_version: &'static str,
    /// Request headers as sent.
    pub request_header: Vec<(String, String)>,
    /// Response headers as received.
    pub response_header: Vec<(String, String)>,
    /// Where a redirect pointed, if this hop was one.
    pub redirect_url: Option<String>,
    /// When this request started (epoch ms).
    pub started_ms: f64,
    /// Phase durations.
    pub timings: HopTimings,
    /// Body bytes received.
    pub body_bytes: u64,
    /// Request bytes sent (head included).
    pub sent_bytes: u64,
    /// The request body's length (0 without one).
    pub request_body_bytes: u64,
    /// Response bytes received (head and body).
    pub received_bytes: u64,
    /// Remote IP.
    pub peer_ip: String,
    /// Whether the connection was reused.
    pub socket_reused: bool,
}

impl Timeline {
    /// This hop's phase durations; `first` hops also carry the queue wait as `blocked`.
    pub fn hop_timings(&self, reused: bool, first: bool) -> HopTimings {
        let span = |a: Option<Instant>, b: Option<Instant>| match (a, b) {
            (Some(a), Some(b)) => b.saturating_duration_since(a).as_secs_f64() * 1000.0,
            _ => -1.0,
        };
        let fresh = |d: f64| if reused { -1.0 } else { d };
        HopTimings {
            blocked: if first {
                span(self.queue_start, self.queue_end)
            } else {
                0.0
            },
            dns: fresh(span(self.conn.dns_start, self.conn.dns_end)),
            connect: fresh(span(self.conn.connect_start, self.conn.connect_end)),
            ssl: fresh(span(self.conn.ssl_start, self.conn.ssl_end)),
            send: span(self.request_start, self.request_end).max(0.0),
            wait: span(self.request_end, self.response_start).max(0.0),
            receive: span(self.response_start, self.response_end).max(0.0),
        }
    }

    /// Epoch ms of this hop's start (the invocation for the first hop, else `fetchStart`).
    pub fn hop_started_ms(&self, first: bool) -> f64 {
        if first {
            self.ms(Some(self.anchor))
        } else {
            self.ms(self.fetch_start)
        }
    }
}

impl Profile {
    /// The instants of contract §7 in the order they always hold (each ≤ the next; the SSL pair is 0
    /// on plain HTTP and reused connections).
    pub const ORDERED_INSTANTS: [&'static str; 14] = [
        "invokeStart",
        "queueStart",
        "queueEnd",
        "fetchStart",
        "domainLookUpStart",
        "domainLookUpEnd",
        "connectStart",
        "SSLconnectionStart",
        "SSLconnectionEnd",
        "connectEnd",
        "requestStart",
        "requestEnd",
        "responseStart",
        "responseEnd",
    ];
}

/// WeChat's `profile` object. Instants are epoch milliseconds (fractional), 0 when a phase did
/// not happen.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Profile {
    /// When `downloadFile` was called.
    pub invoke_start: f64,
    /// Start of the wait for a free slot.
    pub queue_start: f64,
    /// End of the wait for a free slot.
    pub queue_end: f64,
    /// Start of the first redirect (same-origin chains only).
    pub redirect_start: f64,
    /// End of the last redirect (same-origin chains only).
    pub redirect_end: f64,
    /// When the final request began to be fetched.
    pub fetch_start: f64,
    /// DNS start (current spelling).
    #[serde(rename = "domainLookUpStart")]
    pub domain_look_up_start: f64,
    /// DNS end (current spelling).
    #[serde(rename = "domainLookUpEnd")]
    pub domain_look_up_end: f64,
    /// DNS start (older spelling, same value).
    #[serde(rename = "domainLookupStart")]
    pub domain_lookup_start: f64,
    /// DNS end (older spelling, same value).
    #[serde(rename = "domainLookupEnd")]
    pub domain_lookup_end: f64,
    /// WeChat's HttpDNS lookup start: always 0 (wxdl resolves with the system's DNS).
    #[serde(rename = "httpDNSDomainLookUpStart")]
    pub http_dns_domain_look_up_start: f64,
    /// WeChat's HttpDNS lookup end: always 0.
    #[serde(rename = "httpDNSDomainLookUpEnd")]
    pub http_dns_domain_look_up_end: f64,
    /// TCP connect start.
    pub connect_start: f64,
    /// TLS handshake start (0 for plain HTTP or a reused connection).
    #[serde(rename = "SSLconnectionStart")]
    pub ssl_connection_start: f64,
    /// TLS handshake end (0 for plain HTTP or a reused connection).
    #[serde(rename = "SSLconnectionEnd")]
    pub ssl_connection_end: f64,
    /// Connection ready.
    pub connect_end: f64,
    /// Request started to be sent.
    pub request_start: f64,
    /// Request fully sent.
    pub request_end: f64,
    /// First response byte.
    pub response_start: f64,
    /// Last response byte.
    pub response_end: f64,
    /// Transport smoothed RTT of this connection, ms.
    pub rtt: f64,
    /// Effective connection type: 0 unknown, 1 offline, 2 slow-2g, 3 2g, 4 3g, 5 4g.
    #[serde(rename = "estimate_nettype")]
    pub estimate_nettype: u8,
    /// HTTP RTT estimate, ms.
    pub http_rtt_estimate: f64,
    /// Transport RTT estimate, ms.
    pub transport_rtt_estimate: f64,
    /// Downstream throughput estimate, kbit/s.
    pub downstream_throughput_kbps_estimate: f64,
    /// This response's body throughput, kbit/s.
    pub throughput_kbps: f64,
    /// Remote IP used.
    #[serde(rename = "peerIP")]
    pub peer_ip: String,
    /// Remote port used.
    pub port: u16,
    /// Whether the connection was reused.
    pub socket_reused: bool,
    /// Bytes sent for this request.
    pub send_bytes_count: u64,
    /// Bytes received for the response (WeChat's spelling).
    pub received_byted_count: u64,
    /// `http1.1`, `h2`, `quic` or `unknown`.
    pub protocol: &'static str,
    /// Whether the call asked for `useHighPerformanceMode` (accepted, as in WeChat 3.4.1+).
    pub using_high_performance_mode: bool,
}
