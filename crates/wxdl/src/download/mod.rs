//! One download from call to outcome, assembled from the policies: validation (no I/O), the
//! destination check, the queue, redirects around attempts (with QUIC fallback and the
//! stale-connection retry), the body through the decoder into the private file with progress
//! coalesced, then the commit. The abort signal and the whole-download deadline bound it all.
//!
//! The top of the engine: imports the policies and parts it assembles; only `client` imports it.

pub(crate) mod body;
pub(crate) mod destination;
pub(crate) mod disposition;
pub(crate) mod integrity;
pub(crate) mod progress;
pub(crate) mod resume;
pub(crate) mod split;
pub(crate) mod transfer;

use std::sync::Arc;
use std::time::Instant;

use http::header::{ACCEPT_ENCODING, IF_MODIFIED_SINCE, IF_NONE_MATCH, RANGE};

use crate::engine::Engine;
use crate::error::{Fail, FailReason, Phase};
use crate::events::Progress;
use crate::net::attempt::{Answer, HopRecord, Protocols};
use crate::net::decode::{BodyReader, Codings};
use crate::net::headers::request_headers;
use crate::net::payload::Outgoing;
use crate::net::policy::Api;
use crate::net::redirect::Followed;
use crate::net::tries::{attempt_hop, Ask, Tries};
use crate::options::{DownloadOptions, Validated};
use crate::quality::profile::Timeline;
use crate::queue::{Permit, Ticket};
use crate::store::storage::BodyFile;
use crate::task::{Outcome, Success, TaskShared};
use body::{restart, Body, Fresh};
use destination::{Destination, Naming};
use resume::{Held, Reply};
use split::Split;
use transfer::Limits;

/// What a download was asked, kept on the heap while it waits in line.
pub(crate) struct Request {
    pub options: DownloadOptions,
    pub timeline: Timeline,
}

/// A task's whole life on the runtime: [`run`], then the listeners are let go.
pub(crate) async fn task(
    engine: Arc<Engine>,
    request: Box<Request>,
    shared: Arc<TaskShared>,
    ticket: Ticket,
) -> Outcome {
    let outcome = run(&engine, request, &shared, ticket).await;
    shared.finish();
    outcome
}

/// Runs a task to its outcome: validation first (no I/O), then the download under the abort
/// signal and the whole-download deadline (queued time included).
///
/// A download waiting in line is a few hundred bytes (its request and its validated options
/// are boxed); the state of the transfer (about 11 KiB) and of the commit are allocated once
/// it is admitted, so a batch of thousands queued at once costs little memory.
pub(crate) async fn run(
    engine: &Engine,
    request: Box<Request>,
    shared: &TaskShared,
    ticket: Ticket,
) -> Outcome {
    let valid = Box::new(
        request
            .options
            .validate()
            .map_err(|f| f.in_phase(Phase::Options))?,
    );
    let deadline = request.timeline.invoked() + valid.timeout;
    let timeout = valid.timeout;
    let done = shared
        .stop
        .bound(deadline, timeout, ticket, |permit| {
            Box::pin(download(engine, request, valid, shared, permit))
        })
        .await?;
    // A stop that came while the last of the body was handled (in the same poll: a listener
    // of the headers event may abort) still counts: nothing is put in place.
    if let Some(fail) = shared.stop.stopped_now() {
        return Err(fail);
    }
    // Every byte is in the private file: the download has reached its end. The fsync and
    // rename that make it visible are not interrupted by abort or the deadline, so the outcome
    // always says what is on disk. The download's slot goes to the next one once this one
    // has a commit slot: the network work is over, and commits gather into shared sync
    // rounds; the commit slots bound the descriptors waiting files hold.
    let commit_slot = engine.commits.acquire().await;
    drop(done.permit);
    // Boxed: the commit's state would otherwise be part of every queued download's. A target
    // kept as it was gets nothing: the empty private file is dropped.
    if !done.success.unchanged {
        Box::pin(done.part.commit())
            .await
            .map_err(|f| f.in_phase(Phase::Commit))?;
    }
    drop(commit_slot);
    if let Some(last) = done.last_progress {
        shared.emit_progress(last);
    }
    Ok(done.success)
}

/// A download whose body is complete in its private file, ready to be made visible.
struct Downloaded {
    success: Success,
    part: BodyFile,
    /// The download's slot under the client's concurrency limit.
    permit: Permit,
    /// The final progress event, unless the last one emitted already said it all.
    last_progress: Option<Progress>,
}

async fn download(
    engine: &Engine,
    mut request: Box<Request>,
    valid: Box<Validated>,
    shared: &TaskShared,
    permit: Permit,
) -> Result<Box<Downloaded>, Fail> {
    let Request {
        ref options,
        ref mut timeline,
    } = *request;
    let valid = *valid;
    timeline.queue_end = Some(Instant::now());
    // Checked (and its directory pinned) once admitted: a queued download holds no
    // descriptor, so a batch of any length needs only those of the running ones.
    let mut dest = Some(Destination::check(engine, options).map_err(|f| f.in_phase(Phase::Store))?);
    let naming = options.name_from_response.then_some(Naming {
        clobber: options.clobber,
    });
    // A caller's own `Range` is its business: the engine then neither keeps nor continues.
    let resume = options.resume && !valid.header.contains_key(RANGE);
    let mut partial = match dest.as_ref().filter(|_| resume) {
        Some(d) => d.partial(engine, &options.url, naming.is_some()).await,
        None => None,
    };
    // The bytes already held (on disk, or from an earlier try), to continue from.
    let mut held = partial.as_ref().and_then(|p| p.found()).map(|r| Held {
        bytes: r.bytes,
        validator: r.validator.clone().unwrap_or_default(),
        total: r.expected_length,
    });

    let decode_wanted = valid.header.contains_key(ACCEPT_ENCODING);
    let conditional =
        valid.header.contains_key(IF_NONE_MATCH) || valid.header.contains_key(IF_MODIFIED_SINCE);
    let headers = request_headers(engine, valid.header);
    let protocols = Protocols {
        h2: options.enable_http2,
        quic: options.enable_quic,
        quic_hint: options.quic_hint,
    };
    let get = Outgoing::get();
    let ask = Ask {
        url: &valid.url,
        raw: &options.url,
        outgoing: &get,
        protocols,
        retry: options.retry_policy(),
        follow: true,
        api: Api::Download,
    };
    let mut tries = Tries::default();
    tries.trace = timeline.trace.clone();
    let mut body: Option<Body> = None;
    let mut asked_whole_again = false;
    let limits = Limits {
        stall: options.stall_timeout,
        rate: options.rate_limit,
    };
    // One round per response that may carry the body: the first, a fresh ask when a
    // continuation cannot be used, and — with resume — one per retry of a cut body.
    let (answer, url) = loop {
        let mut request = headers.clone();
        if let Some(h) = &held {
            h.ask(&mut request);
        }
        let Followed { answer, url } = ask.answer(engine, request, timeline, &mut tries).await?;
        let status = answer.response.status().as_u16();
        if answer.response.status().is_informational() {
            // hyper hands over only a final 1xx (an unsolicited `101 Switching Protocols`):
            // there is no HTTP body to store, and saving nothing as a success would empty
            // the target.
            return Err(Fail::with(
                FailReason::NetworkInterrupted,
                format_args!("unexpected {} final response", answer.response.status()),
            )
            .in_phase(Phase::Response));
        }
        let reply = held
            .as_ref()
            .map(|h| resume::reply(status, answer.response.headers(), h));
        let continues = match reply {
            Some(Reply::Continues { total }) => Some(total.or(held.as_ref().and_then(|h| h.total))),
            Some(Reply::Unusable) if !asked_whole_again => {
                // The held bytes cannot be continued: ask for the whole body, once.
                asked_whole_again = true;
                tries
                    .hops
                    .push(attempt_hop(&answer, &url, timeline, &tries));
                drop(answer);
                held = None;
                restart(&mut body, &mut partial, None)?;
                continue;
            }
            Some(Reply::Other | Reply::Unusable) if body.is_some() => {
                // A retry of a cut body got something other than its rest: another failed try.
                let fail = Fail::with(
                    FailReason::NetworkInterrupted,
                    format_args!("continuing the body: HTTP {status}"),
                );
                tries
                    .hops
                    .push(attempt_hop(&answer, &url, timeline, &tries));
                drop(answer);
                tries.again(&ask, fail, None).await?;
                continue;
            }
            Some(Reply::Whole) => {
                restart(&mut body, &mut partial, Some(answer.response.headers()))?;
                None
            }
            // The whole body asked for again (no range) after a 206 that could not be used: the
            // body started over takes this answer's length and validator.
            None if body.is_some() => {
                restart(&mut body, &mut partial, Some(answer.response.headers()))?;
                None
            }
            // Any other answer is stored as WeChat stores it; a partial file stays as it was.
            Some(Reply::Other | Reply::Unusable) => {
                partial = None;
                None
            }
            None => None,
        };
        if body.is_none() {
            let fresh = Fresh {
                engine,
                max_bytes: valid.max_bytes,
                integrity: valid.integrity,
                naming,
                decode_wanted,
            };
            let dest = dest
                .take()
                .ok_or_else(|| Fail::new(FailReason::WriteFileFail))?;
            body = Some(fresh.open(dest, partial.take(), &url, &answer, continues, shared)?);
        }
        let Some(b) = body.as_mut() else {
            unreachable!("a body was opened above")
        };
        let Answer {
            response: resp,
            conn,
            exchange,
        } = answer;
        let codings = Codings::of(resp.headers(), b.decode_wanted)
            .map_err(|f| f.in_phase(Phase::Response))?;
        // A fresh body may be split (not a continued one, not one paced by a rate limit).
        let plan = (b.part.written() == 0 && limits.rate.is_none())
            .then(|| {
                let status = resp.status().as_u16();
                split::plan(options.split, status, resp.headers(), codings.is_identity())
            })
            .flatten();
        let mut reader = BodyReader::open(resp.into_body(), codings)
            .await
            .map_err(|f| f.in_phase(Phase::Body))?;
        let split = plan.and_then(|plan| b.part.positional(plan.total).map(|file| (plan, file)));
        let streamed = match split {
            Some((plan, file)) => {
                let split = Split {
                    engine,
                    ask: Ask {
                        url: &url,
                        raw: url.as_str(),
                        outgoing: &get,
                        protocols,
                        retry: None,
                        follow: true,
                        api: Api::Download,
                    },
                    headers: &headers,
                    file,
                    shown: &b.saved_path.display().to_string(),
                    stall: limits.stall,
                    shared,
                };
                match split.run(&plan, &mut reader, &mut b.ticker).await {
                    Ok(mut hops) => {
                        tries.hops.append(&mut hops);
                        b.segments_done(plan.total)
                    }
                    Err(f) => Err(f),
                }
            }
            None => {
                transfer::stream(
                    &mut reader,
                    &mut b.part,
                    &mut b.check,
                    &mut b.ticker,
                    shared,
                    limits,
                )
                .await
            }
        };
        timeline.response_end = Some(Instant::now());
        let cut = match streamed.and_then(|()| b.check_length()) {
            Ok(()) => break ((conn, exchange, reader), url),
            Err(fail) => fail,
        };
        // A cut body is continued by a retry only with resume, and only when the bytes kept
        // can be named for the server: a validator and no content-coding in between.
        let facts = exchange.facts(&conn, b.part.written());
        let record = HopRecord {
            url: &url,
            status_code: b.status,
            response_header: b.response_header.clone(),
            redirect_url: None,
            first: tries.hops.is_empty(),
        };
        tries.hops.push(exchange.hop(record, &facts, timeline));
        match b.continuation(resume) {
            Some(h) if tries.may_continue(&ask, &cut) => {
                drop((conn, reader));
                held = Some(h);
                tries.again(&ask, cut, None).await?;
            }
            _ => {
                // Only a cut (network, stall) leaves bytes worth continuing another time.
                if !matches!(
                    cut.reason,
                    FailReason::NetworkInterrupted | FailReason::Timeout
                ) {
                    if let Some(b) = body.take() {
                        b.abandon();
                    }
                }
                return Err(cut);
            }
        }
    };
    let ((conn, exchange, reader), url) = (answer, url);
    let Some(mut b) = body else {
        unreachable!("the loop ends with a body")
    };
    if let Some(check) = b.check.take() {
        if let Err(f) = check.verify() {
            b.abandon();
            return Err(f.in_phase(Phase::Body));
        }
    }
    let written = b.part.written();
    // A 304 to the caller's own conditional request says their copy is current; a 204 over a
    // file that exists is not asked to empty it: the target stays as it was.
    let unchanged = written == 0
        && match b.status {
            304 => conditional,
            204 => !options.save_empty,
            _ => false,
        }
        && b.part.target_exists();
    let facts = exchange.facts(&conn, written - b.resumed_from);
    if reader.finished_cleanly() {
        engine.pool.checkin(conn).await;
    }

    engine.estimator.record(timeline.sample(&facts));
    let profile = options.enable_profile.then(|| {
        let mut p = timeline.profile(&facts, &engine.estimator.estimates());
        p.using_high_performance_mode = options.use_high_performance_mode;
        p
    });
    let record = HopRecord {
        url: &url,
        status_code: b.status,
        response_header: b.response_header,
        redirect_url: None,
        first: tries.hops.is_empty(),
    };
    let mut hops = tries.hops;
    hops.push(exchange.hop(record, &facts, timeline));
    Ok(Box::new(Downloaded {
        success: Success {
            status_code: b.status,
            temp_file_path: b.temp_file_path,
            file_path: b.file_path,
            saved_path: b.saved_path,
            header: b.header,
            data_length: written,
            resumed_from: b.resumed_from,
            unchanged,
            profile,
            hops,
        },
        last_progress: b.ticker.finish(written),
        part: b.part,
        permit,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of what `f` returns, without calling it.
    fn returned_size<A, B, C, D, R>(_f: fn(A, B, C, D) -> R) -> usize {
        std::mem::size_of::<R>()
    }

    #[test]
    fn a_queued_download_is_small() {
        // Thousands may be queued at once (a script's Promise.all): the transfer's state
        // (about 11 KiB) must not be part of a task until it is admitted.
        let size = returned_size(task);
        assert!(size <= 1024, "a task's future is {size} bytes");
    }
}
