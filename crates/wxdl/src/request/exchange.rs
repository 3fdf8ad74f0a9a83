//! One request or upload from admission to response: under the abort signal and the
//! whole-call deadline (queued time included), the pipeline's final answer, its head to the
//! headers listeners, its body read into memory up to the bound (each chunk to the chunk
//! listeners when there are any), then the connection back to the pool, the estimator's
//! sample, the profile and the HAR hops.
//!
//! Imports `net`, `quality`, `queue`, `task`, `engine` and `error`; never an API's options.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use http::header::{HeaderValue, ACCEPT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, Method};
use url::Url;

use crate::engine::Engine;
use crate::error::{Fail, FailReason, Phase};
use crate::net::attempt::{Answer, HopRecord, Protocols};
use crate::net::decode::{BodyReader, Codings};
use crate::net::headers::{header_list, header_map, request_headers};
use crate::net::payload::Outgoing;
use crate::net::policy::Api;
use crate::net::redirect::Followed;
use crate::net::retry::Retry;
use crate::net::tries::{Ask, Tries};
use crate::net::Payload;
use crate::quality::profile::Timeline;
use crate::queue::Ticket;
use crate::request::response::Response;
use crate::task::TaskShared;
use crate::transport::SentFn;

/// A checked call, whatever API made it.
pub(crate) struct Call {
    pub url: Url,
    /// The URL as written (the policy's port rule reads it).
    pub raw: String,
    pub method: Method,
    pub headers: HeaderMap,
    pub payload: Payload,
    /// Hears of the body bytes handed to the connection (upload progress).
    pub sent: Option<SentFn>,
    pub timeout: Duration,
    pub follow: bool,
    pub h2: bool,
    pub quic: bool,
    pub quic_hint: bool,
    pub enable_profile: bool,
    pub use_high_performance_mode: bool,
    /// The bound on the response body held in memory.
    pub max_bytes: u64,
    /// **\[beyond\]** How failed tries are repeated.
    pub retry: Option<Retry>,
}

/// A call's whole life on the runtime: [`run`], then the listeners are let go.
pub(crate) async fn task(
    engine: Arc<Engine>,
    api: Api,
    call: Result<Box<Call>, Fail>,
    mut timeline: Box<Timeline>,
    shared: Arc<TaskShared>,
    ticket: Ticket,
) -> Result<Response, Fail> {
    let outcome = match call {
        Ok(call) => run(&engine, api, call, &mut timeline, &shared, ticket).await,
        Err(fail) => Err(fail.in_phase(Phase::Options)),
    };
    shared.finish();
    outcome
}

async fn run(
    engine: &Engine,
    api: Api,
    call: Box<Call>,
    timeline: &mut Timeline,
    shared: &TaskShared,
    ticket: Ticket,
) -> Result<Response, Fail> {
    let deadline = timeline.invoked() + call.timeout;
    let timeout = call.timeout;
    let response = shared
        .stop
        .bound(deadline, timeout, ticket, |permit| async move {
            // Boxed once admitted: the exchange's state (several KiB) is not part of every
            // spawned task, so a thousand queued calls each hold a few hundred bytes.
            let r = Box::pin(exchange(engine, api, *call, timeline, shared)).await;
            drop(permit);
            r
        })
        .await?;
    // A stop that came while the last of the body was handled still counts.
    if let Some(fail) = shared.stop.stopped_now() {
        return Err(fail);
    }
    Ok(response)
}

async fn exchange(
    engine: &Engine,
    api: Api,
    call: Call,
    timeline: &mut Timeline,
    shared: &TaskShared,
) -> Result<Response, Fail> {
    timeline.queue_end = Some(Instant::now());
    let decode_wanted = call.headers.contains_key(ACCEPT_ENCODING);
    let mut headers = call.headers;
    if let Payload::Multipart(m) = &call.payload {
        let value = HeaderValue::from_str(&m.content_type())
            .map_err(|e| Fail::with(FailReason::InvalidHeader, e))?;
        headers.insert(CONTENT_TYPE, value);
    }
    let headers = request_headers(engine, headers);
    let outgoing = Outgoing {
        method: call.method,
        payload: call.payload,
        sent: call.sent,
    };
    let ask = Ask {
        url: &call.url,
        raw: &call.raw,
        outgoing: &outgoing,
        protocols: Protocols {
            h2: call.h2,
            quic: call.quic,
            quic_hint: call.quic_hint,
        },
        retry: call.retry,
        follow: call.follow,
        api,
    };
    let mut tries = Tries::default();
    tries.trace = timeline.trace.clone();
    let Followed { answer, url } = ask.answer(engine, headers, timeline, &mut tries).await?;
    let head = answer.response.headers();
    let (header, response_header) = (header_map(head), header_list(head));
    let status_code = answer.response.status().as_u16();
    shared.emit_headers(status_code, head);
    let Answer {
        response,
        conn,
        exchange,
    } = answer;
    let announced = response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let bodiless = outgoing.method == Method::HEAD || matches!(status_code, 204 | 304);
    let too_big = |what: &str| {
        Fail::with(
            FailReason::ExceedMaxFileSize,
            format_args!("{what} is more than {} bytes", call.max_bytes),
        )
        .in_phase(Phase::Body)
    };
    if !bodiless && announced.is_some_and(|n| n > call.max_bytes) {
        return Err(too_big("Content-Length"));
    }
    let codings =
        Codings::of(response.headers(), decode_wanted).map_err(|f| f.in_phase(Phase::Response))?;
    let mut reader = BodyReader::open(response.into_body(), codings)
        .await
        .map_err(|f| f.in_phase(Phase::Body))?;
    let mut body = BytesMut::new();
    while let Some(chunk) = reader
        .next_chunk()
        .await
        .map_err(|f| f.in_phase(Phase::Body))?
    {
        if (body.len() + chunk.len()) as u64 > call.max_bytes {
            return Err(too_big("the body"));
        }
        if shared.wants_chunks() {
            shared.emit_chunk(&chunk);
        }
        body.extend_from_slice(&chunk);
    }
    timeline.response_end = Some(Instant::now());
    let facts = exchange.facts(&conn, body.len() as u64);
    if reader.finished_cleanly() {
        engine.pool.checkin(conn).await;
    }
    engine.estimator.record(timeline.sample(&facts));
    let profile = call.enable_profile.then(|| {
        let mut p = timeline.profile(&facts, &engine.estimator.estimates());
        p.using_high_performance_mode = call.use_high_performance_mode;
        p
    });
    let record = HopRecord {
        url: &url,
        status_code,
        response_header: response_header.clone(),
        redirect_url: None,
        first: tries.hops.is_empty(),
    };
    let mut hops = tries.hops;
    hops.push(exchange.hop(record, &facts, timeline));
    Ok(Response {
        status_code,
        header,
        header_list: response_header,
        body: body.freeze(),
        profile,
        url: url.to_string(),
        hops,
    })
}
