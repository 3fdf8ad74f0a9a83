//! One download from start to end: queue, policy, request, redirects, body to disk, outcome.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{
    HeaderMap, HeaderValue, ACCEPT, ACCEPT_ENCODING, AUTHORIZATION, CONTENT_ENCODING,
    CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HOST, LOCATION, REFERER, USER_AGENT,
};
use http::{Method, Request, StatusCode};
use http_body_util::Empty;
use url::{Position, Url};

use crate::body::{Body, BodyReader, Coding};
use crate::client::ClientInner;
use crate::error::{Fail, FailReason};
use crate::nqe::Sample;
use crate::options::{check_scheme, DownloadOptions, Validated};
use crate::pinned::Target;
use crate::profile::{ConnFacts, Hop, Timeline};
use crate::queue::Ticket;
use crate::sandbox::QuotaGuard;
use crate::storage::{check_host_target, PartFile};
use crate::task::{Header, HeadersReceived, Outcome, Progress, Success, TaskShared};
use crate::transport::{Conn, Mark, Origin, SendError, Sender};

/// WeChat's client follows at most this many redirects.
pub const MAX_REDIRECTS: usize = 15;

/// Progress events are emitted on a percent change, or after this long without one.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// At most this much of a redirect's body is read to keep its connection for reuse.
const REDIRECT_DRAIN_LIMIT: usize = 64 * 1024;

/// Runs a task to its outcome: validation first (no I/O), then the download under the abort
/// signal and the whole-download deadline (queued time included).
pub(crate) async fn run(
    client: &ClientInner,
    options: DownloadOptions,
    shared: &TaskShared,
    ticket: Ticket,
    mut timeline: Timeline,
) -> Outcome {
    let valid = options.validate()?;
    let deadline = timeline.invoked() + valid.timeout;
    let timeout_ms = valid.timeout.as_millis();
    let done = tokio::select! {
        biased;
        _ = shared.cancel.cancelled() => Err(Fail::new(FailReason::Abort)),
        _ = tokio::time::sleep_until(deadline.into()) => {
            Err(Fail::with(FailReason::Timeout, format_args!("{timeout_ms} ms")))
        }
        r = download(client, &options, valid, shared, ticket, &mut timeline) => r,
    }?;
    // Every byte is in the .part file: the download has reached its end. The fsync and rename
    // that make it visible are not interrupted by abort or the deadline, so the outcome always
    // says what is on disk.
    done.part.commit().await?;
    if let Some(last) = done.last_progress {
        shared.emit_progress(last);
    }
    Ok(done.success)
}

/// A download whose body is complete in its `.part` file, ready to be made visible.
struct Downloaded {
    success: Success,
    part: PartFile,
    /// The final progress event, unless the last one emitted already said it all.
    last_progress: Option<Progress>,
}

/// Where the body goes, checked before any network I/O.
enum Destination {
    /// A new `wxfile://tmp_…` file, named once the response type is known.
    Temp,
    /// A `wxfile://usr/…` path (echoed back) and where it lives on the host.
    User { file_path: String, host: Target },
    /// An ordinary host path (CLI `-o`).
    Host(Target),
}

impl Destination {
    fn prepare(client: &ClientInner, options: &DownloadOptions) -> Result<Destination, Fail> {
        if let Some(p) = &options.host_path {
            return Ok(Destination::Host(check_host_target(p)?));
        }
        match &options.file_path {
            Some(fp) => Ok(Destination::User {
                host: client.sandbox.check_user_target(fp)?,
                file_path: fp.clone(),
            }),
            None => Ok(Destination::Temp),
        }
    }
}

async fn download(
    client: &ClientInner,
    options: &DownloadOptions,
    valid: Validated,
    shared: &TaskShared,
    ticket: Ticket,
    timeline: &mut Timeline,
) -> Result<Downloaded, Fail> {
    let dest = Destination::prepare(client, options)?;

    let _permit = ticket
        .admitted()
        .await
        .ok_or_else(|| Fail::with(FailReason::Abort, "client closed"))?;
    timeline.queue_end = Some(Instant::now());

    let raw_url = options.url.clone().unwrap_or_default();
    let decode_wanted = valid.header.contains_key(ACCEPT_ENCODING);
    let mut headers = request_headers(client, valid.header);
    let mut hops = Vec::new();
    let (resp, conn, exchange, url) = follow(
        client,
        valid.url,
        raw_url,
        &mut headers,
        Protocols {
            h2: options.enable_http2,
            quic: options.enable_quic,
            quic_hint: options.quic_hint,
        },
        timeline,
        &mut hops,
    )
    .await?;

    let status = resp.status().as_u16();
    let header = header_map(resp.headers());
    shared.emit_headers(&HeadersReceived {
        header: header.clone(),
        status_code: status,
    });

    let coding = if decode_wanted {
        Coding::from_header(resp.headers().get(CONTENT_ENCODING))
    } else {
        Coding::Identity
    };
    // Content-Length describes the decoded body only without a content coding.
    let expected = match coding {
        Coding::Identity => content_length(resp.headers()),
        _ => None,
    };
    if let Some(len) = expected {
        if len > valid.max_bytes {
            return Err(Fail::with(
                FailReason::ExceedMaxFileSize,
                format_args!("Content-Length {len} > {}", valid.max_bytes),
            ));
        }
    }

    let content_type = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (target, temp_file_path, file_path, quota) = match dest {
        Destination::Temp => {
            let ext = crate::mime::temp_extension(&url, content_type.as_deref());
            let (wx, host) = client.sandbox.new_temp(ext.as_deref())?;
            (host, Some(wx), None, None)
        }
        Destination::User { file_path, host } => {
            let guard = client.sandbox.reserve_usr(&host.path());
            check_quota(&guard, expected)?;
            (host, None, Some(file_path), Some(guard))
        }
        Destination::Host(host) => (host, None, None, None),
    };

    let saved_path = target.path();
    let mut part = PartFile::create(target, valid.max_bytes, quota, &client.syncer)?;
    let mut ticker = ProgressTicker::new(expected.unwrap_or(0));
    let response_header = header_list(resp.headers());
    let mut reader = BodyReader::new(resp.into_body(), coding);
    while let Some(chunk) = reader.next_chunk().await? {
        part.write(chunk)?;
        if let Some(p) = ticker.advance(part.written()) {
            shared.emit_progress(p);
        }
    }
    timeline.response_end = Some(Instant::now());
    let written = part.written();
    if let Some(len) = expected {
        if written != len {
            return Err(Fail::with(
                FailReason::NetworkInterrupted,
                format_args!("body ended after {written} of {len} bytes"),
            ));
        }
    }
    let facts = exchange.facts(&conn, written);
    if reader.finished_cleanly() {
        client.pool.checkin(conn).await;
    }
    let data_length = written;

    client.estimator.record(Sample {
        http_rtt_ms: timeline.span_ms(timeline.request_start, timeline.response_start),
        transport_rtt_ms: facts.rtt_ms,
        body_bytes: facts.body_bytes,
        body_ms: timeline
            .span_ms(timeline.response_start, timeline.response_end)
            .unwrap_or(0.0),
    });
    let profile = options
        .enable_profile
        .then(|| timeline.profile(&facts, &client.estimator.estimates()));
    hops.push(exchange.hop(
        &url,
        status,
        response_header,
        None,
        &facts,
        timeline,
        hops.is_empty(),
    ));
    Ok(Downloaded {
        success: Success {
            status_code: status,
            temp_file_path,
            file_path,
            saved_path,
            header,
            data_length,
            profile,
            hops,
        },
        part,
        last_progress: ticker.finish(data_length),
    })
}

/// Follows redirects from `url` to the final response, re-checking policy at every hop. `raw` is
/// the current URL as written, for the policy's port rule.
async fn follow(
    client: &ClientInner,
    mut url: Url,
    mut raw: String,
    headers: &mut HeaderMap,
    protocols: Protocols,
    timeline: &mut Timeline,
    hops: &mut Vec<Hop>,
) -> Result<(http::Response<Body>, Conn, Exchange, Url), Fail> {
    let mut visited = HashSet::from([url.as_str().to_owned()]);
    let mut same_origin = true;
    let mut hop = 0;
    loop {
        client.policy.check(&url, &raw)?;
        let origin = Origin::of(&url);
        let (resp, conn, exchange) =
            send(client, &url, &origin, headers, protocols, timeline).await?;
        let Some(location) = redirect_location(&resp) else {
            if !same_origin {
                timeline.redirect_start = None;
                timeline.redirect_end = None;
            }
            return Ok((resp, conn, exchange, url));
        };
        if hop == MAX_REDIRECTS {
            return Err(Fail::with(
                FailReason::TooManyRedirects,
                format_args!("more than {MAX_REDIRECTS}"),
            ));
        }
        let location = location
            .to_str()
            .map_err(|_| Fail::with(FailReason::InvalidUrl, "redirect Location"))?;
        let next = url.join(location).map_err(|e| {
            Fail::with(
                FailReason::InvalidUrl,
                format_args!("redirect Location: {e}"),
            )
        })?;
        check_scheme(&next)?;
        if location.contains("://") {
            raw = location.to_owned();
        } else if location.starts_with("//") {
            raw = format!("{}:{location}", next.scheme());
        }
        hop += 1;
        if !visited.insert(next.as_str().to_owned()) {
            return Err(Fail::with(
                FailReason::TooManyRedirects,
                format_args!("loop at {next}"),
            ));
        }
        if timeline.redirect_start.is_none() {
            timeline.redirect_start = timeline.fetch_start;
        }
        let status = resp.status().as_u16();
        let response_header = header_list(resp.headers());
        let (drained, clean) = drain(resp).await;
        timeline.response_end = Some(Instant::now());
        timeline.redirect_end = timeline.response_end;
        let facts = exchange.facts(&conn, drained);
        if clean {
            client.pool.checkin(conn).await;
        }
        hops.push(exchange.hop(
            &url,
            status,
            response_header,
            Some(next.to_string()),
            &facts,
            timeline,
            hops.is_empty(),
        ));
        if Origin::of(&next) != origin {
            same_origin = false;
            headers.remove(AUTHORIZATION);
            headers.remove(COOKIE);
        }
        url = next;
    }
}

/// Which protocols one download may use.
#[derive(Debug, Clone, Copy)]
struct Protocols {
    h2: bool,
    quic: bool,
    quic_hint: bool,
}

/// Sends one GET and waits for the response head. HTTP/3 goes first when allowed and the origin
/// is known to speak it; if QUIC fails before a response head, the request goes over TCP
/// instead and the origin stays on TCP for a while. Over TCP, a reused connection that turns
/// out to be closed is replaced once by a new one (the request was not answered; GET is
/// idempotent).
async fn send(
    client: &ClientInner,
    url: &Url,
    origin: &Origin,
    headers: &HeaderMap,
    protocols: Protocols,
    timeline: &mut Timeline,
) -> Result<(http::Response<Body>, Conn, Exchange), Fail> {
    timeline.begin_fetch();
    if let Some(port) = quic_port(client, origin, protocols) {
        let attempt = async {
            let conn = client
                .pool
                .get_h3(
                    &client.quic,
                    &client.connector.resolver,
                    origin,
                    port,
                    timeline,
                )
                .await?;
            exchange(conn, url, origin, headers, timeline)
                .await
                .map_err(|(e, _)| e.into_fail())
        };
        match attempt.await {
            Ok(done) => return Ok(done),
            Err(f) => {
                tracing::debug!(
                    "HTTP/3 to {} failed, falling back to TCP: {f}",
                    origin.authority()
                );
                client.alt_svc.mark_broken(origin);
                client.pool.drop_h3(origin);
                timeline.clear_connection_marks();
            }
        }
    }
    let mut retried = false;
    loop {
        let conn = client
            .pool
            .get(&client.connector, origin, protocols.h2, retried, timeline)
            .await?;
        match exchange(conn, url, origin, headers, timeline).await {
            Ok(done) => {
                client.alt_svc.learn(origin, done.0.headers());
                return Ok(done);
            }
            Err((e, reused)) if reused && !retried && e.is_stale_connection() => {
                tracing::debug!("stale pooled connection, retrying: {e:?}");
                retried = true;
                timeline.begin_fetch();
            }
            Err((e, _)) => return Err(e.into_fail()),
        }
    }
}

/// The UDP port to try HTTP/3 on, when allowed and known (or hinted), and not recently broken.
fn quic_port(client: &ClientInner, origin: &Origin, p: Protocols) -> Option<u16> {
    if !(p.quic && origin.https) || client.alt_svc.is_broken(origin) {
        return None;
    }
    client
        .alt_svc
        .h3_port(origin)
        .or(p.quic_hint.then_some(origin.port))
}

/// One request on `conn`: marks the request and response phases, and measures the exchange.
/// On failure, tells whether the connection had been reused.
async fn exchange(
    mut conn: Conn,
    url: &Url,
    origin: &Origin,
    headers: &HeaderMap,
    timeline: &mut Timeline,
) -> Result<(http::Response<Body>, Conn, Exchange), (SendError, bool)> {
    let multiplexed = !matches!(conn.sender, Sender::H1(_));
    let req = build_request(url, origin, headers, multiplexed)
        .map_err(|f| (SendError::Fail(f), false))?;
    let request_header = header_list(req.headers());
    let request_head_bytes = head_size("GET / HTTP/1.1", req.headers());
    let meter = conn.info.meter.clone();
    // A multiplexed connection's bytes and marks belong to all its streams at once, so only a
    // connection with one exchange at a time is metered per request.
    let mark = (!multiplexed).then(|| meter.arm());
    let request_start = Instant::now();
    timeline.request_start = Some(request_start);
    let resp = match conn.sender.send(req).await {
        Ok(resp) => resp,
        Err(e) => return Err((e, conn.reused)),
    };
    let head = Instant::now();
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
        request_head_bytes,
        response_head_bytes: head_size("HTTP/1.1 200 OK", resp.headers()),
        request_header,
    };
    Ok((resp, conn, exchange))
}

/// The GET request: origin-form with a `Host` header for HTTP/1.1, absolute-form (which
/// becomes `:scheme` and `:authority`) for HTTP/2.
fn build_request(
    url: &Url,
    origin: &Origin,
    headers: &HeaderMap,
    absolute: bool,
) -> Result<Request<Empty<Bytes>>, Fail> {
    let target = if absolute {
        &url[..Position::AfterQuery]
    } else {
        &url[Position::BeforePath..Position::AfterQuery]
    };
    let mut req = Request::builder()
        .method(Method::GET)
        .uri(target)
        .body(Empty::new())
        .map_err(|e| Fail::with(FailReason::InvalidUrl, e))?;
    let h = req.headers_mut();
    if !absolute {
        h.insert(
            HOST,
            HeaderValue::from_str(&origin.authority())
                .map_err(|e| Fail::with(FailReason::InvalidUrl, e))?,
        );
    }
    h.extend(headers.iter().map(|(k, v)| (k.clone(), v.clone())));
    Ok(req)
}

/// The caller's headers plus the host's: default User-Agent and Accept, identity coding unless
/// the caller asked otherwise, and the host's own Referer.
fn request_headers(client: &ClientInner, mut headers: HeaderMap) -> HeaderMap {
    if !headers.contains_key(USER_AGENT) {
        headers.insert(USER_AGENT, client.user_agent.clone());
    }
    if !headers.contains_key(ACCEPT) {
        headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
    }
    if !headers.contains_key(ACCEPT_ENCODING) {
        headers.insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
    }
    headers.insert(REFERER, client.referer.clone());
    headers
}

fn redirect_location(resp: &http::Response<Body>) -> Option<&HeaderValue> {
    match resp.status() {
        StatusCode::MOVED_PERMANENTLY
        | StatusCode::FOUND
        | StatusCode::SEE_OTHER
        | StatusCode::TEMPORARY_REDIRECT
        | StatusCode::PERMANENT_REDIRECT => resp.headers().get(LOCATION),
        _ => None,
    }
}

/// Reads a small redirect body to its end so the connection can serve the next hop. Returns
/// the body bytes read, and whether the body ended cleanly (then the connection is reusable).
async fn drain(resp: http::Response<Body>) -> (u64, bool) {
    let mut body = resp.into_body();
    let mut seen = 0usize;
    while seen <= REDIRECT_DRAIN_LIMIT {
        match body.data().await {
            Some(Ok(data)) => seen += data.len(),
            Some(Err(_)) => return (seen as u64, false),
            None => return (seen as u64, true),
        }
    }
    (seen as u64, false)
}

/// One request/response exchange on a connection: where its byte counts start (when the
/// connection carries one exchange at a time), and the request headers as sent.
struct Exchange {
    mark: Option<Mark>,
    request_header: Vec<(String, String)>,
    /// Sizes of the request and response heads in HTTP/1.1 text form, the measure used where
    /// the connection cannot be metered per request (HTTP/2 streams).
    request_head_bytes: u64,
    response_head_bytes: u64,
}

/// The size of a head in HTTP/1.1 text form: start line, `name: value` lines, blank line.
fn head_size(start_line: &str, headers: &HeaderMap) -> u64 {
    let fields: usize = headers
        .iter()
        .map(|(k, v)| k.as_str().len() + 2 + v.as_bytes().len() + 2)
        .sum();
    (start_line.len() + 2 + fields + 2) as u64
}

impl Exchange {
    /// The connection facts of this exchange.
    fn facts(&self, conn: &Conn, body_bytes: u64) -> ConnFacts {
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
    #[allow(clippy::too_many_arguments)]
    fn hop(
        &self,
        url: &Url,
        status_code: u16,
        response_header: Vec<(String, String)>,
        redirect_url: Option<String>,
        facts: &ConnFacts,
        timeline: &Timeline,
        first: bool,
    ) -> Hop {
        Hop {
            url: url.to_string(),
            status_code,
            http_version: facts.protocol.http_version(),
            request_header: self.request_header.clone(),
            response_header,
            redirect_url,
            started_ms: timeline.hop_started_ms(first),
            timings: timeline.hop_timings(facts.reused, first),
            body_bytes: facts.body_bytes,
            sent_bytes: facts.sent_bytes,
            received_bytes: facts.received_bytes,
            peer_ip: facts.peer_ip.clone(),
            socket_reused: facts.reused,
        }
    }
}

/// Headers as (name, value) pairs, in order.
fn header_list(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// Response headers as a map of lowercase names; repeated fields joined by `, `.
fn header_map(headers: &HeaderMap) -> Header {
    let mut out = Header::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        out.entry(name.as_str().to_owned())
            .and_modify(|v: &mut String| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert_with(|| value.into_owned());
    }
    out
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

fn check_quota(guard: &QuotaGuard, expected: Option<u64>) -> Result<(), Fail> {
    match expected {
        Some(len) if len > guard.remaining => Err(Fail::with(
            FailReason::StorageLimitExceeded,
            format_args!("{len} bytes do not fit in the {} left", guard.remaining),
        )),
        _ => Ok(()),
    }
}

/// The single place where an HTTP-layer error becomes a failure row.
pub(crate) fn network_error(e: &hyper::Error) -> Fail {
    Fail::with(FailReason::NetworkInterrupted, e)
}

/// Coalesces progress: an event when the integer percent changes, or after
/// [`PROGRESS_INTERVAL`] without one.
struct ProgressTicker {
    expected: u64,
    last_percent: u8,
    last_emit: Instant,
    last_sent: Option<Progress>,
}

impl ProgressTicker {
    fn new(expected: u64) -> Self {
        ProgressTicker {
            expected,
            last_percent: 0,
            last_emit: Instant::now(),
            last_sent: None,
        }
    }

    fn percent(&self, written: u64) -> u8 {
        written
            .saturating_mul(100)
            .checked_div(self.expected)
            .map_or(0, |p| p.min(100) as u8)
    }

    fn advance(&mut self, written: u64) -> Option<Progress> {
        let percent = self.percent(written);
        let now = Instant::now();
        if percent == self.last_percent && now.duration_since(self.last_emit) < PROGRESS_INTERVAL {
            return None;
        }
        self.last_percent = percent;
        self.last_emit = now;
        let p = Progress {
            progress: percent,
            total_bytes_written: written,
            total_bytes_expected_to_write: self.expected,
        };
        self.last_sent = Some(p);
        Some(p)
    }

    /// The final event (100 %, everything written), or `None` when the last event emitted
    /// was exactly that.
    fn finish(&self, written: u64) -> Option<Progress> {
        let last = Progress {
            progress: 100,
            total_bytes_written: written,
            total_bytes_expected_to_write: self.expected,
        };
        (self.last_sent != Some(last)).then_some(last)
    }
}
