//! Moving a response body to its writer: chunk by chunk through the decoder, paced by the rate
//! limit, bounded by the stall timeout, hashed for the integrity check, with progress coalesced.
//! The attempt delivers the body; the download decides what the result means.
//!
//! Imports `decode`, `storage`, `integrity`, `progress`, `task` and `error`; never the transport or
//! a policy.

use std::time::{Duration, Instant};

use crate::download::integrity::Check;
use crate::download::progress::ProgressTicker;
use crate::error::{Fail, FailReason, Phase};
use crate::net::decode::BodyReader;
use crate::store::storage::BodyFile;
use crate::task::TaskShared;

/// How a body may flow.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Limits {
    /// Fail with `timeout` when no body byte arrives for this long.
    pub stall: Option<Duration>,
    /// At most this many bytes per second (the client's shared rate gates the transport's
    /// reads: `transport::emulate_tcp`, `transport::quic`).
    pub rate: Option<u64>,
}

/// Streams the rest of the body from `reader` into `part` (after what it holds), feeding the
/// integrity `check` and emitting progress. The check is verified by the caller once the body
/// is known to be whole.
pub(crate) async fn stream(
    reader: &mut BodyReader,
    part: &mut BodyFile,
    check: &mut Option<Check>,
    ticker: &mut ProgressTicker,
    shared: &TaskShared,
    limits: Limits,
) -> Result<(), Fail> {
    let start = Instant::now();
    let held = part.written();
    loop {
        let next = next_chunk(reader, limits.stall).await;
        let Some(chunk) = next.map_err(|f| f.in_phase(Phase::Body))? else {
            break;
        };
        if let Some(c) = check {
            c.update(&chunk);
        }
        part.write(chunk).map_err(|f| f.in_phase(Phase::Store))?;
        if let Some(p) = ticker.advance(part.written()) {
            shared.emit_progress(p);
        }
        if let Some(rate) = limits.rate {
            pace(start, part.written() - held, rate).await;
        }
    }
    Ok(())
}

/// The body's next chunk (`None` at its end), failing with `timeout` when none arrives within
/// `stall`.
pub(crate) async fn next_chunk(
    reader: &mut BodyReader,
    stall: Option<Duration>,
) -> Result<Option<bytes::Bytes>, Fail> {
    let Some(stall) = stall else {
        return reader.next_chunk().await;
    };
    tokio::time::timeout(stall, reader.next_chunk())
        .await
        .unwrap_or_else(|_| {
            Err(Fail::with(
                FailReason::Timeout,
                format_args!("no body byte for {} ms", stall.as_millis()),
            ))
        })
}

/// Waits until `bytes` at `rate` bytes per second since `start` are due.
async fn pace(start: Instant, bytes: u64, rate: u64) {
    let due = start + Duration::from_secs_f64(bytes as f64 / rate.max(1) as f64);
    if due > Instant::now() {
        tokio::time::sleep_until(due.into()).await;
    }
}
