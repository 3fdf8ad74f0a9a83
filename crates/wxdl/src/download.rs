//! One download from call to outcome, assembled from the policies: validation (no I/O), the
//! destination check, the queue, redirects around attempts (with QUIC fallback and the
//! stale-connection retry), the body through the decoder into the private file with progress
//! coalesced, then the commit. The abort signal and the whole-download deadline bound it all.
//!
//! The top of the engine: imports the policies and parts it assembles; only `client` imports it.

use std::sync::Arc;
use std::time::Instant;

use http::header::{ACCEPT_ENCODING, CONTENT_TYPE};

use crate::attempt::{Answer, HopRecord, Protocols};
use crate::decode::{BodyReader, Codings};
use crate::engine::Engine;
use crate::error::{Fail, FailReason, Phase};
use crate::events::{HeadersReceived, Progress};
use crate::headers::{content_length, header_list, header_map, request_headers};
use crate::host_target::{check_host_target, Sink};
use crate::nqe::Sample;
use crate::options::{DownloadOptions, Validated};
use crate::pinned::Target;
use crate::profile::Timeline;
use crate::progress::ProgressTicker;
use crate::queue::{Permit, Ticket};
use crate::quota::Reservation;
use crate::redirect::{follow, Followed, Start};
use crate::retry::retry_after;
use crate::storage::BodyFile;
use crate::task::{Outcome, Success, TaskShared};
use crate::transfer::{self, Limits};

/// Runs a task to its outcome: validation first (no I/O), then the download under the abort
/// signal and the whole-download deadline (queued time included).
pub(crate) async fn run(
    engine: &Engine,
    options: DownloadOptions,
    shared: &TaskShared,
    ticket: Ticket,
    mut timeline: Timeline,
) -> Outcome {
    let valid = options.validate().map_err(|f| f.in_phase(Phase::Options))?;
    let deadline = timeline.invoked() + valid.timeout;
    let timeout_ms = valid.timeout.as_millis();
    let done = tokio::select! {
        biased;
        fail = shared.stop.stopped() => Err(fail),
        _ = tokio::time::sleep_until(deadline.into()) => {
            Err(Fail::with(FailReason::Timeout, format_args!("{timeout_ms} ms")))
        }
        r = download(engine, &options, valid, shared, ticket, &mut timeline) => r,
    }?;
    // Every byte is in the private file: the download has reached its end. The fsync and
    // rename that make it visible are not interrupted by abort or the deadline, so the outcome
    // always says what is on disk.
    done.part
        .commit()
        .await
        .map_err(|f| f.in_phase(Phase::Commit))?;
    // The slot is freed only now: a download holds its descriptors until its file is in
    // place, so the limit bounds what the running downloads hold, commits included.
    drop(done.permit);
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

/// Where the body goes, checked before any network I/O.
enum Destination {
    /// A new `wxfile://tmp_…` file, named once the response type is known.
    Temp,
    /// A `wxfile://usr/…` path (echoed back) and where it lives on the host.
    User { file_path: String, host: Target },
    /// An ordinary host path (CLI `-o`) or an open stream.
    Host(Sink),
}

/// **\[beyond\]** A host file named by the response (`Content-Disposition`), the CLI's `-J`.
#[derive(Debug, Clone, Copy)]
struct Naming {
    /// Replace a file of that name that is already there.
    clobber: bool,
}

impl Naming {
    /// Renames `target` (in its pinned directory) after the response's suggestion, if any;
    /// refuses to replace an existing file unless clobbering.
    fn apply(self, target: &mut Target, headers: &http::HeaderMap) -> Result<(), Fail> {
        if let Some(name) = crate::disposition::suggested_name(headers) {
            target.name = name.into();
        }
        let exists = std::fs::symlink_metadata(target.path()).is_ok();
        if exists && !self.clobber {
            return Err(Fail::with(
                FailReason::PermissionDenied,
                format_args!(
                    "{}: refusing to replace a file named by the server (clobber to allow)",
                    target.path().display()
                ),
            ));
        }
        Ok(())
    }
}

/// A destination made concrete once the response head is known.
struct Opened {
    target: Sink,
    temp_file_path: Option<String>,
    file_path: Option<String>,
    quota: Option<Reservation>,
}

impl Destination {
    fn check(engine: &Engine, options: &DownloadOptions) -> Result<Destination, Fail> {
        if let Some(file) = &options.output_file {
            return Ok(Destination::Host(Sink::Through {
                file: Arc::clone(file),
                shown: options.host_path.clone().unwrap_or_else(|| "-".into()),
            }));
        }
        if let Some(p) = &options.host_path {
            return Ok(Destination::Host(check_host_target(p)?));
        }
        match &options.file_path {
            Some(fp) => Ok(Destination::User {
                host: engine.sandbox.check_user_target(fp)?,
                file_path: fp.clone(),
            }),
            None => Ok(Destination::Temp),
        }
    }

    /// Names the temp file (its extension from the response type, else the URL) or reserves
    /// the user file's room in the quota.
    fn open(
        self,
        engine: &Engine,
        url: &url::Url,
        headers: &http::HeaderMap,
        expected: Option<u64>,
        naming: Option<Naming>,
    ) -> Result<Opened, Fail> {
        let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
        Ok(match self {
            Destination::Temp => {
                let ext = crate::mime::temp_extension(url, content_type);
                let (wx, target) = engine.sandbox.new_temp(ext.as_deref())?;
                Opened {
                    target: Sink::Replace(target),
                    temp_file_path: Some(wx),
                    file_path: None,
                    quota: None,
                }
            }
            Destination::User { file_path, host } => {
                // Room for the announced length now; more is taken as bytes arrive past it.
                let guard = engine
                    .sandbox
                    .reserve(&host.path(), expected.unwrap_or(0))?;
                Opened {
                    target: Sink::Replace(host),
                    temp_file_path: None,
                    file_path: Some(file_path),
                    quota: Some(guard),
                }
            }
            Destination::Host(mut target) => {
                if let (Some(naming), Sink::Replace(t)) = (naming, &mut target) {
                    naming.apply(t, headers)?;
                }
                Opened {
                    target,
                    temp_file_path: None,
                    file_path: None,
                    quota: None,
                }
            }
        })
    }
}

async fn download(
    engine: &Engine,
    options: &DownloadOptions,
    valid: Validated,
    shared: &TaskShared,
    ticket: Ticket,
    timeline: &mut Timeline,
) -> Result<Downloaded, Fail> {
    let permit = ticket
        .admitted()
        .await
        .ok_or_else(|| Fail::with(FailReason::Abort, "client closed").in_phase(Phase::Queue))?;
    timeline.queue_end = Some(Instant::now());
    // Checked (and its directory pinned) once admitted: a queued download holds no
    // descriptor, so a batch of any length needs only those of the running ones.
    let dest = Destination::check(engine, options).map_err(|f| f.in_phase(Phase::Store))?;

    let decode_wanted = valid.header.contains_key(ACCEPT_ENCODING);
    let headers = request_headers(engine, valid.header);
    let protocols = Protocols {
        h2: options.enable_http2,
        quic: options.enable_quic,
        quic_hint: options.quic_hint,
    };
    let mut hops = Vec::new();
    // Tries up to the final response head: the first, then as many retries as asked for.
    let retry = options.retry_policy();
    let mut retried = 0;
    let Followed { answer, url } = loop {
        let start = Start {
            url: valid.url.clone(),
            raw: options.url.clone(),
            headers: headers.clone(),
            protocols,
        };
        let again = retry.filter(|r| retried < r.retries);
        match follow(engine, start, timeline, &mut hops).await {
            Ok(followed) => {
                let status = followed.answer.response.status().as_u16();
                let Some(r) = again.filter(|r| r.retries_status(status)) else {
                    break followed;
                };
                let wait = r.delay(retried, retry_after(followed.answer.response.headers()));
                // The answer is an attempt of its own in the HAR; its connection is let go
                // before the wait.
                hops.push(attempt_hop(&followed, timeline, hops.is_empty()));
                drop(followed);
                tracing::debug!("HTTP {status}: retry {} in {wait:?}", retried + 1);
                tokio::time::sleep(wait).await;
            }
            Err(fail) => {
                let Some(r) = again.filter(|r| r.retries_failure(&fail)) else {
                    return Err(fail.in_phase(Phase::Request));
                };
                let wait = r.delay(retried, None);
                tracing::debug!("{fail}: retry {} in {wait:?}", retried + 1);
                tokio::time::sleep(wait).await;
            }
        }
        retried += 1;
    };
    let Answer {
        response: resp,
        conn,
        exchange,
    } = answer;

    let status = resp.status().as_u16();
    if resp.status().is_informational() {
        // hyper hands over only a final 1xx (an unsolicited `101 Switching Protocols`): there
        // is no HTTP body to store, and saving nothing as a success would empty the target.
        return Err(Fail::with(
            FailReason::NetworkInterrupted,
            format_args!("unexpected {} final response", resp.status()),
        )
        .in_phase(Phase::Response));
    }
    let header = header_map(resp.headers());
    shared.emit_headers(&HeadersReceived {
        header: header.clone(),
        status_code: status,
    });

    let codings =
        Codings::of(resp.headers(), decode_wanted).map_err(|f| f.in_phase(Phase::Response))?;
    // Content-Length is the stored length only when nothing is decoded, and never for a
    // status that has no body by definition (RFC 9110 §6.4.1: 204, 304).
    let bodiless = matches!(status, 204 | 304);
    let expected = match codings.is_identity() && !bodiless {
        true => content_length(resp.headers()),
        false => None,
    };
    if let Some(len) = expected {
        if len > valid.max_bytes {
            return Err(Fail::with(
                FailReason::ExceedMaxFileSize,
                format_args!("Content-Length {len} > {}", valid.max_bytes),
            )
            .in_phase(Phase::Response));
        }
    }

    let naming = options.name_from_response.then_some(Naming {
        clobber: options.clobber,
    });
    let opened = dest
        .open(engine, &url, resp.headers(), expected, naming)
        .map_err(|f| f.in_phase(Phase::Store))?;
    let saved_path = opened.target.path();
    let mut part = BodyFile::create(
        opened.target,
        valid.max_bytes,
        opened.quota,
        &engine.storage,
    )?;
    let mut ticker = ProgressTicker::new(expected.unwrap_or(0));
    let response_header = header_list(resp.headers());
    let mut reader = BodyReader::open(resp.into_body(), codings)
        .await
        .map_err(|f| f.in_phase(Phase::Body))?;
    let limits = Limits {
        stall: options.stall_timeout,
        rate: options.rate_limit,
        integrity: valid.integrity,
    };
    let check = transfer::stream(&mut reader, &mut part, shared, &mut ticker, limits).await?;
    timeline.response_end = Some(Instant::now());
    let written = part.written();
    if let Some(len) = expected {
        if written != len {
            return Err(Fail::with(
                FailReason::NetworkInterrupted,
                format_args!("body ended after {written} of {len} bytes"),
            )
            .in_phase(Phase::Body));
        }
    }
    if let Some(check) = check {
        check.verify().map_err(|f| f.in_phase(Phase::Body))?;
    }
    let facts = exchange.facts(&conn, written);
    if reader.finished_cleanly() {
        engine.pool.checkin(conn).await;
    }

    engine.estimator.record(Sample {
        http_rtt_ms: timeline.span_ms(timeline.request_start, timeline.response_start),
        transport_rtt_ms: facts.rtt_ms,
        body_bytes: facts.body_bytes,
        body_ms: timeline
            .span_ms(timeline.response_start, timeline.response_end)
            .unwrap_or(0.0),
    });
    let profile = options.enable_profile.then(|| {
        let mut p = timeline.profile(&facts, &engine.estimator.estimates());
        p.using_high_performance_mode = options.use_high_performance_mode;
        p
    });
    let record = HopRecord {
        url: &url,
        status_code: status,
        response_header,
        redirect_url: None,
        first: hops.is_empty(),
    };
    hops.push(exchange.hop(record, &facts, timeline));
    Ok(Downloaded {
        success: Success {
            status_code: status,
            temp_file_path: opened.temp_file_path,
            file_path: opened.file_path,
            saved_path,
            header,
            data_length: written,
            profile,
            hops,
        },
        part,
        permit,
        last_progress: ticker.finish(written),
    })
}

/// The HAR record of a final answer that is retried instead of stored.
fn attempt_hop(followed: &Followed, timeline: &Timeline, first: bool) -> crate::profile::Hop {
    let answer = &followed.answer;
    let facts = answer.exchange.facts(&answer.conn, 0);
    let record = HopRecord {
        url: &followed.url,
        status_code: answer.response.status().as_u16(),
        response_header: header_list(answer.response.headers()),
        redirect_url: None,
        first,
    };
    answer.exchange.hop(record, &facts, timeline)
}
