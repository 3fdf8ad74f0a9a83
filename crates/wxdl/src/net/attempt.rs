//! One attempt: a single request/response exchange on a connection the caller chose. Builds the
//! request (method, headers, a body opened afresh for this try), marks the request and response phases, and measures the exchange for the profile and
//! HAR. Policies (redirects, QUIC fallback, the stale-connection retry, and resume, retry and
//! split to come) are built around it; it knows none of them.
//!
//! Imports `transport`, `profile`, `headers` and `error`; never a policy around it (redirect,
//! retry, fallback) nor the download.

use std::time::Instant;

use http::header::{HeaderMap, HeaderValue, CONTENT_LENGTH, HOST, RANGE};
use http::{Method, Request};
use url::{Position, Url};

use crate::error::{Fail, FailReason};
use crate::events::Trace;
use crate::net::headers::{head_size, header_list};
use crate::net::payload::Outgoing;
use crate::quality::profile::{ConnFacts, Hop, Timeline};
use crate::transport::{Body, Conn, Mark, Origin, OutBody, SendError, Sender};

/// What one request asks for: the URL, its origin, the headers to send, the method and body,
/// and where in the response body to start (0 for all of it; a later byte asks for
/// `Range: bytes=<offset>-`, the seam resume and split attach to).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fetch<'a> {
    pub url: &'a Url,
    pub origin: &'a Origin,
    pub headers: &'a HeaderMap,
    pub outgoing: &'a Outgoing,
    pub offset: u64,
}

/// Which protocols one download may use.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(feature = "http3"), allow(dead_code))]
pub(crate) struct Protocols {
    pub h2: bool,
    pub quic: bool,
    /// Try HTTP/3 even before any `Alt-Svc` advertisement (CLI `--http3`).
    pub quic_hint: bool,
}

/// The response head of an attempt, the connection it came on, and the exchange's record.
pub(crate) struct Answer {
    pub response: http::Response<Body>,
    pub conn: Conn,
    pub exchange: Exchange,
}

/// Why an attempt got no response head, and whether its connection had served before (then a
/// transport error may only mean the peer closed it while idle).
pub(crate) struct Refused {
    pub error: SendError,
    pub reused: bool,
}

/// Sends `fetch` on `conn` and waits for the response head, marking the connection's opening
/// phases (unless it was reused) and the request and response phases on `timeline`.
pub(crate) async fn attempt(
    mut conn: Conn,
    fetch: Fetch<'_>,
    timeline: &mut Timeline,
) -> Result<Answer, Refused> {
    timeline.connected(conn.connect_times());
    let multiplexed = !matches!(conn.sender, Sender::H1(_));
    let url = fetch.url;
    let body = match fetch
        .outgoing
        .payload
        .open(fetch.outgoing.sent.clone())
        .await
    {
        Ok(body) => body,
        Err(f) => {
            return Err(Refused {
                error: SendError::Fail(f),
                reused: false,
            })
        }
    };
    let req = build_request(fetch, body, multiplexed).map_err(|f| Refused {
        error: SendError::Fail(f),
        reused: false,
    })?;
    let request_header = header_list(req.headers());
    let method = req.method().clone();
    timeline.trace.emit(|| Trace::Request {
        method: req.method().to_string(),
        url: url.to_string(),
        http_version: conn.info.protocol.http_version(),
        peer_ip: conn.info.peer.ip().to_string(),
        reused: conn.reused,
        header: request_header.clone(),
    });
    let request_line = format!("{} / HTTP/1.1", req.method());
    let request_head_bytes = head_size(&request_line, req.headers()) + fetch.outgoing.payload.len();
    let meter = conn.info.meter.clone();
    // A multiplexed connection's bytes and marks belong to all its streams at once, so only a
    // connection with one exchange at a time is metered per request.
    let mark = (!multiplexed).then(|| meter.arm());
    let request_start = Instant::now();
    timeline.request_start = Some(request_start);
    let response = match conn.sender.send(req).await {
        Ok(resp) => resp,
        Err(error) => {
            return Err(Refused {
                error,
                reused: conn.reused,
            })
        }
    };
    let head = Instant::now();
    timeline.trace.emit(|| Trace::Response {
        http_version: conn.info.protocol.http_version(),
        status_code: response.status().as_u16(),
        header: header_list(response.headers()),
    });
    let (request_end, response_start) = match mark {
        Some(_) => {
            // The meter saw the bytes; fall back to now only if it could not.
            let first_byte = meter.response_start().filter(|t| *t >= request_start);
            let response_start = first_byte.unwrap_or(head);
            let request_end = meter
                .request_end()
                .filter(|t| *t >= request_start)
                .unwrap_or(request_start)
                .min(response_start);
            (request_end, response_start)
        }
        // HTTP/2 and HTTP/3: the request's HEADERS go out at once; the head is decoded when
        // its frames arrived.
        None => (request_start, head),
    };
    timeline.request_end = Some(request_end);
    timeline.response_start = Some(response_start);
    let exchange = Exchange {
        mark,
        method,
        request_head_bytes,
        response_head_bytes: head_size("HTTP/1.1 200 OK", response.headers()),
        request_header,
        request_body_bytes: fetch.outgoing.payload.len(),
    };
    Ok(Answer {
        response,
        conn,
        exchange,
    })
}

/// The request: origin-form with a `Host` header for HTTP/1.1, absolute-form (which
/// becomes `:scheme` and `:authority`) for HTTP/2 and HTTP/3. A body, or a method that defines
/// one (POST, PUT, PATCH), gets an exact `Content-Length`.
fn build_request(
    fetch: Fetch<'_>,
    body: OutBody,
    absolute: bool,
) -> Result<Request<OutBody>, Fail> {
    let url = fetch.url;
    let target = if absolute {
        &url[..Position::AfterQuery]
    } else {
        &url[Position::BeforePath..Position::AfterQuery]
    };
    let mut req = Request::builder()
        .method(fetch.outgoing.method.clone())
        .uri(target)
        .body(body)
        .map_err(|e| Fail::with(FailReason::InvalidUrl, e))?;
    let h = req.headers_mut();
    // A caller's Host (left in only with the policy off) replaces ours on HTTP/1.1; HTTP/2 and
    // HTTP/3 carry the URL's authority instead.
    let caller_host = fetch.headers.contains_key(HOST);
    if !absolute && !caller_host {
        h.insert(
            HOST,
            HeaderValue::from_str(&fetch.origin.authority())
                .map_err(|e| Fail::with(FailReason::InvalidUrl, e))?,
        );
    }
    h.extend(
        fetch
            .headers
            .iter()
            .filter(|(k, _)| !(absolute && *k == HOST))
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    let len = req.body().len();
    let defines_body = [Method::POST, Method::PUT, Method::PATCH].contains(req.method());
    if len > 0 || defines_body {
        req.headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(len));
    }
    let h = req.headers_mut();
    if fetch.offset > 0 {
        let range = format!("bytes={}-", fetch.offset);
        h.insert(
            RANGE,
            HeaderValue::from_str(&range).map_err(|e| Fail::with(FailReason::InvalidHeader, e))?,
        );
    }
    Ok(req)
}

/// One request/response exchange on a connection: where its byte counts start (when the
/// connection carries one exchange at a time), and the request headers as sent.
#[derive(Clone)]
pub(crate) struct Exchange {
    mark: Option<Mark>,
    method: http::Method,
    request_header: Vec<(String, String)>,
    request_body_bytes: u64,
    /// Sizes of the request and response heads in HTTP/1.1 text form, the measure used where
    /// the connection cannot be metered per request (HTTP/2 and HTTP/3 streams).
    request_head_bytes: u64,
    response_head_bytes: u64,
}

/// What the HAR record of one exchange says besides its measurements.
pub(crate) struct HopRecord<'a> {
    pub url: &'a Url,
    pub status_code: u16,
    pub response_header: Vec<(String, String)>,
    pub redirect_url: Option<String>,
    /// The download's first request (it also carries the queue wait).
    pub first: bool,
}

impl Exchange {
    /// The connection facts of this exchange, once `body_bytes` of its body were read.
    pub fn facts(&self, conn: &Conn, body_bytes: u64) -> ConnFacts {
        let meter = &conn.info.meter;
        ConnFacts {
            peer_ip: conn.info.peer.ip().to_string(),
            port: conn.info.peer.port(),
            reused: conn.reused,
            protocol: conn.info.protocol,
            body_bytes,
            sent_bytes: match self.mark {
                Some(m) => meter.sent_since(m),
                None => self.request_head_bytes,
            },
            received_bytes: match self.mark {
                Some(m) => meter.received_since(m),
                None => self.response_head_bytes + body_bytes,
            },
            rtt_ms: conn.info.rtt_ms(),
        }
    }

    /// The HAR record of this exchange.
    pub fn hop(self, record: HopRecord<'_>, facts: &ConnFacts, timeline: &Timeline) -> Hop {
        Hop {
            method: self.method.to_string(),
            url: record.url.to_string(),
            status_code: record.status_code,
            http_version: facts.protocol.http_version(),
            request_header: self.request_header,
            response_header: record.response_header,
            redirect_url: record.redirect_url,
            started_ms: timeline.hop_started_ms(record.first),
            timings: timeline.hop_timings(facts.reused, record.first),
            body_bytes: facts.body_bytes,
            sent_bytes: facts.sent_bytes,
            request_body_bytes: self.request_body_bytes,
            received_bytes: facts.received_bytes,
            peer_ip: facts.peer_ip.clone(),
            socket_reused: facts.reused,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(url: &str, offset: u64, absolute: bool) -> Request<OutBody> {
        let url = Url::parse(url).unwrap();
        let origin = Origin::of(&url);
        let headers = HeaderMap::new();
        let fetch = Fetch {
            url: &url,
            origin: &origin,
            headers: &headers,
            outgoing: &Outgoing::get(),
            offset,
        };
        build_request(fetch, OutBody::empty(), absolute).unwrap()
    }

    #[test]
    fn origin_form_with_host_for_http1_absolute_form_for_multiplexed() {
        let r = request("http://h:8080/a/b?q=1#frag", 0, false);
        assert_eq!(r.uri(), "/a/b?q=1");
        assert_eq!(r.headers()[HOST], "h:8080");
        assert!(r.headers().get(RANGE).is_none());
        let r = request("https://h/a?q=1#frag", 0, true);
        assert_eq!(r.uri(), "https://h/a?q=1");
        assert!(r.headers().get(HOST).is_none());
    }

    #[test]
    fn a_callers_host_replaces_ours_on_http1_only() {
        let url = Url::parse("http://h:8080/a").unwrap();
        let origin = Origin::of(&url);
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("example.test"));
        let outgoing = Outgoing::get();
        let fetch = Fetch {
            url: &url,
            origin: &origin,
            headers: &headers,
            outgoing: &outgoing,
            offset: 0,
        };
        let r = build_request(fetch, OutBody::empty(), false).unwrap();
        let hosts: Vec<_> = r.headers().get_all(HOST).iter().collect();
        assert_eq!(hosts, ["example.test"]);
        assert!(r.headers().get(CONTENT_LENGTH).is_none(), "a GET has none");
        let r = build_request(fetch, OutBody::empty(), true).unwrap();
        assert!(r.headers().get(HOST).is_none());
    }

    #[test]
    fn an_offset_asks_for_the_rest_of_the_body() {
        let r = request("http://h/f", 4096, false);
        assert_eq!(r.headers()[RANGE], "bytes=4096-");
    }
}
