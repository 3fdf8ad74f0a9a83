//! Split (**[beyond]**, `split`): one large body fetched as N ranged requests at once — N
//! connections over HTTP/1.1, N streams on one connection over h2/h3 (the pool decides) — each
//! segment written in place (`pwrite`) into the download's private file.
//!
//! The first answer decides: a `200` with a length of at least two segments, `Accept-Ranges:
//! bytes`, a validator and no content-coding is split; anything else streams as one. The first
//! answer's own body fills the first segment, then the rest of it is let go unread (its h2/h3
//! stream reset, its HTTP/1.1 connection closed: the server stops sending); every other
//! segment asks for `Range: bytes=a-b` with `If-Range`, and must get exactly that `206` (the
//! same validator, that range of the same length, no multipart framing: `resume`'s check) — a
//! `200` or any other `206` there means the file changed, and the download fails rather than
//! mix versions. A
//! segment cut short is asked again from its first missing byte, alone. The cap and quota were
//! settled on the announced length; progress counts every segment's bytes; the integrity check
//! reads the file back once at the end.
//!
//! Imports `tries`, `attempt`, `transfer`, `decode`, `resume`, `progress`, `headers`, `task`,
//! `error`;
//! only `download` imports it.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use futures_util::future::try_join_all;
use http::header::{HeaderMap, HeaderValue, ACCEPT_RANGES, IF_RANGE, RANGE};

use crate::download::progress::ProgressTicker;
use crate::download::resume;
use crate::download::transfer::next_chunk;
use crate::engine::Engine;
use crate::error::{lock, storage_io, Fail, FailReason, Phase};
use crate::net::attempt::{Answer, HopRecord};
use crate::net::decode::{BodyReader, Codings};
use crate::net::headers::{content_length, header_list};
use crate::net::tries::{Ask, Tries};
use crate::quality::profile::{Hop, Timeline};
use crate::task::TaskShared;
use crate::transport::Conn;

/// The smallest segment worth its own request: 1 MiB.
pub(crate) const MIN_SEGMENT: u64 = 1 << 20;
/// The most segments one download is split into.
pub(crate) const MAX_SPLIT: u32 = 16;
/// Tries per segment after its first (a cut segment is asked again from where it stopped).
const SEGMENT_RETRIES: u32 = 3;

/// How a body is split: `[start, end)` ranges, in order, covering `0..total`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    pub segments: Vec<(u64, u64)>,
    pub total: u64,
    validator: String,
}

/// Whether a first answer (`status`, `headers`; `identity`: nothing decoded) can be split `n`
/// ways, and how.
pub(crate) fn plan(n: u32, status: u16, headers: &HeaderMap, identity: bool) -> Option<Plan> {
    let ranges = headers.get_all(ACCEPT_RANGES).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.split(',').any(|u| u.trim() == "bytes"))
    });
    if n < 2 || status != 200 || !identity || !ranges {
        return None;
    }
    let total = content_length(headers)?;
    let validator = resume::validator(headers)?;
    let count = u64::from(n.min(MAX_SPLIT)).min(total / MIN_SEGMENT);
    if count < 2 {
        return None;
    }
    let size = total / count;
    let segments = (0..count)
        .map(|i| {
            (
                i * size,
                if i + 1 == count {
                    total
                } else {
                    (i + 1) * size
                },
            )
        })
        .collect();
    Some(Plan {
        segments,
        total,
        validator,
    })
}

/// Why a segment's request brought no body to write.
enum Missed {
    /// A failed try: the segment may be asked again.
    Again(Fail),
    /// A `206` that is not the range asked of the same file (another version, another range,
    /// multipart framing): asking again would not help, the download fails.
    Refused(Fail),
}

impl From<Fail> for Missed {
    fn from(f: Fail) -> Missed {
        Missed::Again(f)
    }
}

/// What every segment shares.
pub(crate) struct Split<'a> {
    pub engine: &'a Engine,
    /// Asks for the final URL (after redirects), with the download's protocols.
    pub ask: Ask<'a>,
    /// The request headers every segment sends (the range is added per segment).
    pub headers: &'a HeaderMap,
    /// The private file, sized to the whole body.
    pub file: &'a File,
    pub shown: &'a str,
    pub stall: Option<Duration>,
    pub shared: &'a TaskShared,
}

/// Progress across segments.
struct Counted<'a> {
    done: AtomicU64,
    ticker: Mutex<&'a mut ProgressTicker>,
}

impl Split<'_> {
    /// Fetches every segment of `plan`, the first from `first` (the first answer's body).
    /// Returns the HAR records of the segments' requests.
    pub async fn run(
        &self,
        plan: &Plan,
        first: &mut BodyReader,
        ticker: &mut ProgressTicker,
    ) -> Result<Vec<Hop>, Fail> {
        let counted = Counted {
            done: AtomicU64::new(0),
            ticker: Mutex::new(ticker),
        };
        let mut first = Some(first);
        let jobs = plan.segments.iter().map(|&(start, end)| {
            let reader = first.take();
            self.segment(plan, start, end, reader, &counted)
        });
        let hops = try_join_all(jobs).await?;
        Ok(hops.into_iter().flatten().collect())
    }

    /// One segment `[start, end)`, asked again from its first missing byte when cut.
    async fn segment(
        &self,
        plan: &Plan,
        start: u64,
        end: u64,
        mut first: Option<&mut BodyReader>,
        counted: &Counted<'_>,
    ) -> Result<Vec<Hop>, Fail> {
        let mut at = start;
        let mut hops = Vec::new();
        let mut retried = 0;
        loop {
            let drained = match first.take() {
                Some(reader) => {
                    let drained = self.drain(reader, &mut at, end, counted, false).await;
                    // The rest of the first answer belongs to other segments: stop it now
                    // rather than let the server fill the stream's window (or the socket) with
                    // bytes that are never written (they would also spend a rate limit).
                    reader.release();
                    drained.map(drop)
                }
                None => match self.fetch(plan, at, end, &mut hops).await {
                    Ok((mut reader, conn)) => {
                        let drained = self.drain(&mut reader, &mut at, end, counted, true).await;
                        // The body ends where its Content-Range does: a byte past it means it
                        // is not that range (what was written of it is in its own segment).
                        let past = match drained {
                            Ok(true) => true,
                            Ok(false) if at == end => {
                                matches!(next_chunk(&mut reader, self.stall).await, Ok(Some(_)))
                            }
                            _ => false,
                        };
                        if past {
                            return Err(Fail::with(
                                FailReason::NetworkInterrupted,
                                format_args!("segment {start}-{end}: the 206 is longer than its Content-Range: the file changed, nothing is mixed"),
                            )
                            .in_phase(Phase::Body));
                        }
                        if drained.is_ok() && reader.finished_cleanly() {
                            self.engine.pool.checkin(conn).await;
                        }
                        drained.map(drop)
                    }
                    Err(Missed::Again(f)) => Err(f),
                    Err(Missed::Refused(f)) => return Err(f.in_phase(Phase::Response)),
                },
            };
            let fail = match drained {
                Ok(()) if at == end => return Ok(hops),
                Ok(()) => Fail::with(
                    FailReason::NetworkInterrupted,
                    format_args!("segment {start}-{end} ended at {at}"),
                ),
                Err(f) => f,
            };
            let again = matches!(
                fail.reason,
                FailReason::NetworkInterrupted | FailReason::ConnectFail | FailReason::Timeout
            );
            if !again || retried >= SEGMENT_RETRIES {
                return Err(fail.in_phase(Phase::Body));
            }
            retried += 1;
            tracing::debug!("{fail}: segment {start}-{end} again from {at}");
            tokio::time::sleep(Duration::from_millis(50 << retried)).await;
        }
    }

    /// Asks for `[at, end)` and checks that exactly that range of the same file comes.
    async fn fetch(
        &self,
        plan: &Plan,
        at: u64,
        end: u64,
        hops: &mut Vec<Hop>,
    ) -> Result<(BodyReader, Conn), Missed> {
        let mut headers = self.headers.clone();
        let range = format!("bytes={at}-{}", end - 1);
        headers.insert(RANGE, HeaderValue::from_str(&range).expect("ASCII range"));
        if let Ok(v) = HeaderValue::from_str(&plan.validator) {
            headers.insert(IF_RANGE, v);
        }
        let mut timeline = Timeline::start();
        let mut tries = Tries::default();
        let followed = self
            .ask
            .answer(self.engine, headers, &mut timeline, &mut tries)
            .await;
        hops.append(&mut tries.hops);
        let Answer {
            response,
            conn,
            exchange,
        } = followed?.answer;
        let status = response.status().as_u16();
        let want = resume::Want {
            validator: &plan.validator,
            start: at,
            end: Some(end - 1),
            total: Some(plan.total),
        };
        let fits = match status {
            206 => resume::partial_content(response.headers(), &want).map(|_| ()),
            _ => Ok(()),
        };
        let facts = exchange.facts(&conn, end - at);
        let record = HopRecord {
            url: self.ask.url,
            status_code: status,
            response_header: header_list(response.headers()),
            redirect_url: None,
            first: false,
        };
        hops.push(exchange.hop(record, &facts, &timeline));
        if let Err(why) = fits {
            return Err(Missed::Refused(Fail::with(
                FailReason::NetworkInterrupted,
                format_args!("a range request for {range} got a 206 that is not it ({why}): the file changed, nothing is mixed"),
            )));
        }
        if status != 206 {
            // A 200 here is the whole file again: it changed since the first answer.
            return Err(Missed::Again(Fail::with(
                FailReason::NetworkInterrupted,
                format_args!("a range request for {range} got HTTP {status}: the file changed"),
            )));
        }
        let codings = Codings::of(response.headers(), false)?;
        let reader = BodyReader::open(response.into_body(), codings).await?;
        Ok((reader, conn))
    }

    /// Writes what `reader` delivers at `*at` onwards, up to `end`. With `exact` (a body that
    /// is this range alone) `Ok(true)` says it went on past `end` (the rest is not written).
    async fn drain(
        &self,
        reader: &mut BodyReader,
        at: &mut u64,
        end: u64,
        counted: &Counted<'_>,
        exact: bool,
    ) -> Result<bool, Fail> {
        let mut past = false;
        while *at < end {
            let Some(chunk) = next_chunk(reader, self.stall).await? else {
                return Ok(false);
            };
            let take = chunk.len().min((end - *at) as usize);
            past = exact && take < chunk.len();
            self.file
                .write_all_at(&chunk[..take], *at)
                .map_err(|e| storage_io(e, self.shown).in_phase(Phase::Store))?;
            *at += take as u64;
            let done = counted.done.fetch_add(take as u64, Ordering::Relaxed) + take as u64;
            let due = lock(&counted.ticker).advance(done);
            if let Some(p) = due {
                self.shared.emit_progress(p);
            }
        }
        Ok(past)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn only_a_whole_ranged_validated_body_is_split() {
        let ok = head(&[
            ("content-length", "10485760"),
            ("accept-ranges", "bytes"),
            ("etag", "\"x\""),
        ]);
        let p = plan(4, 200, &ok, true).unwrap();
        assert_eq!(p.segments.len(), 4);
        assert_eq!(p.segments[0], (0, 2_621_440));
        assert_eq!(p.segments[3].1, 10_485_760);
        assert!(p.segments.windows(2).all(|w| w[0].1 == w[1].0));
        assert!(plan(1, 200, &ok, true).is_none());
        assert!(plan(4, 206, &ok, true).is_none());
        assert!(plan(4, 200, &ok, false).is_none(), "decoded");
        let no_ranges = head(&[("content-length", "10485760"), ("etag", "\"x\"")]);
        assert!(plan(4, 200, &no_ranges, true).is_none());
        let none = head(&[("content-length", "10485760"), ("accept-ranges", "none")]);
        assert!(plan(4, 200, &none, true).is_none());
        let unvalidated = head(&[("content-length", "10485760"), ("accept-ranges", "bytes")]);
        assert!(plan(4, 200, &unvalidated, true).is_none());
        // Segments of at least MIN_SEGMENT: 3 MiB splits 3 ways at most.
        let small = head(&[
            ("content-length", "3145728"),
            ("accept-ranges", "bytes"),
            ("etag", "\"x\""),
        ]);
        assert_eq!(plan(8, 200, &small, true).unwrap().segments.len(), 3);
        let tiny = head(&[
            ("content-length", "1000"),
            ("accept-ranges", "bytes"),
            ("etag", "\"x\""),
        ]);
        assert!(plan(8, 200, &tiny, true).is_none());
    }

    #[test]
    fn two_ways_is_a_split_one_is_not() {
        let ok = head(&[
            ("content-length", "10485760"),
            ("accept-ranges", "bytes"),
            ("etag", "\"x\""),
        ]);
        let two = plan(2, 200, &ok, true).unwrap();
        assert_eq!(two.segments, [(0, 5_242_880), (5_242_880, 10_485_760)]);
        assert!(plan(1, 200, &ok, true).is_none());
        assert!(plan(0, 200, &ok, true).is_none());
        assert_eq!(
            plan(99, 200, &ok, true).unwrap().segments.len(),
            10,
            "1 MiB each"
        );
    }
}
