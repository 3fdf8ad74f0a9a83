//! Progress coalescing (contract §2): an event when the integer percent changes or after 100 ms
//! without one, and a final event with everything written. Pure bookkeeping, no I/O.
//!
//! Imports only `events`.

use std::time::{Duration, Instant};

use crate::events::Progress;

/// Progress events are emitted on a percent change, or after this long without one.
pub(crate) const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// Coalesces a download's progress into the events its listeners see.
#[derive(Debug)]
pub(crate) struct ProgressTicker {
    expected: u64,
    last_percent: u8,
    last_emit: Instant,
    last_sent: Option<Progress>,
}

impl ProgressTicker {
    /// A ticker for a body of `expected` bytes (0 when unknown: the percent then stays 0).
    pub fn new(expected: u64) -> Self {
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

    /// The event to emit now that `written` bytes are on disk, if one is due.
    pub fn advance(&mut self, written: u64) -> Option<Progress> {
        self.advance_at(written, Instant::now())
    }

    fn advance_at(&mut self, written: u64, now: Instant) -> Option<Progress> {
        let percent = self.percent(written);
        if percent == self.last_percent
            && now.saturating_duration_since(self.last_emit) < PROGRESS_INTERVAL
        {
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
    pub fn finish(&self, written: u64) -> Option<Progress> {
        let last = Progress {
            progress: 100,
            total_bytes_written: written,
            total_bytes_expected_to_write: self.expected,
        };
        (self.last_sent != Some(last)).then_some(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emits_on_percent_change_and_after_the_interval() {
        let mut t = ProgressTicker::new(1000);
        let t0 = Instant::now();
        assert_eq!(t.advance_at(5, t0), None, "still 0 %, too soon");
        assert_eq!(t.advance_at(10, t0).map(|p| p.progress), Some(1));
        assert_eq!(t.advance_at(15, t0), None, "same percent, too soon");
        let later = t0 + PROGRESS_INTERVAL;
        assert_eq!(
            t.advance_at(15, later).map(|p| p.total_bytes_written),
            Some(15)
        );
        assert_eq!(t.advance_at(2000, later).map(|p| p.progress), Some(100));
    }

    #[test]
    fn unknown_length_stays_at_zero_and_final_event_is_not_repeated() {
        let mut t = ProgressTicker::new(0);
        let t0 = Instant::now();
        assert_eq!(
            t.advance_at(500, t0 + PROGRESS_INTERVAL)
                .map(|p| p.progress),
            Some(0)
        );
        let last = t.finish(800).unwrap();
        assert_eq!((last.progress, last.total_bytes_written), (100, 800));

        let mut full = ProgressTicker::new(800);
        full.advance_at(800, t0);
        assert_eq!(full.finish(800), None, "100 % of 800 was already sent");
    }
}
