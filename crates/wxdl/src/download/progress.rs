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

    /// Feeds `writes` (bytes written so far, at an offset from the start) and collects the
    /// events, then the final one.
    fn run(expected: u64, writes: &[(u64, u64)]) -> Vec<Progress> {
        let t0 = Instant::now();
        let mut t = ProgressTicker {
            last_emit: t0,
            ..ProgressTicker::new(expected)
        };
        let mut out: Vec<Progress> = writes
            .iter()
            .filter_map(|&(written, ms)| t.advance_at(written, t0 + Duration::from_millis(ms)))
            .collect();
        let written = writes.last().map_or(0, |w| w.0);
        out.extend(t.finish(written));
        out
    }

    #[test]
    fn one_event_per_percent_however_many_writes() {
        // 100 000 bytes a byte at a time, all at once: exactly one event per percent 1..=100,
        // each at the first byte of its percent, and no separate final event.
        let writes: Vec<(u64, u64)> = (1..=100_000).map(|w| (w, 0)).collect();
        let events = run(100_000, &writes);
        assert_eq!(events.len(), 100);
        for (i, e) in events.iter().enumerate() {
            let percent = i as u64 + 1;
            assert_eq!(u64::from(e.progress), percent);
            assert_eq!(e.total_bytes_written, percent * 1000);
            assert_eq!(e.total_bytes_expected_to_write, 100_000);
        }
    }

    #[test]
    fn a_write_over_several_percents_is_one_event() {
        let events = run(1000, &[(5, 0), (300, 0), (310, 0), (999, 0), (1000, 0)]);
        let seen: Vec<(u8, u64)> = events
            .iter()
            .map(|e| (e.progress, e.total_bytes_written))
            .collect();
        assert_eq!(seen, [(30, 300), (31, 310), (99, 999), (100, 1000)]);
    }

    #[test]
    fn without_a_percent_change_one_event_per_interval() {
        // Unknown length, a write every 10 ms for one second: an event at each 100 ms (the
        // first write at or past it), then the final one.
        let writes: Vec<(u64, u64)> = (1..=100).map(|i| (i * 10, i * 10)).collect();
        let events = run(0, &writes);
        assert_eq!(events.len(), 11, "{events:?}");
        for (i, e) in events[..10].iter().enumerate() {
            assert_eq!(e.progress, 0);
            assert_eq!(e.total_bytes_written, (i as u64 + 1) * 100);
        }
        let last = events[10];
        assert_eq!((last.progress, last.total_bytes_written), (100, 1000));
        assert_eq!(last.total_bytes_expected_to_write, 0);
        // Just under the interval: nothing.
        assert!(run(0, &[(1, 99)]).len() == 1, "only the final event");
    }

    #[test]
    fn the_interval_restarts_at_each_event() {
        // A percent change at 60 ms restarts the clock: nothing at 100 ms, one at 160 ms.
        let events = run(1000, &[(10, 60), (11, 100), (12, 159), (13, 160)]);
        let seen: Vec<u64> = events.iter().map(|e| e.total_bytes_written).collect();
        assert_eq!(seen, [10, 13, 13]);
        assert_eq!(events[2].progress, 100, "the final event");
    }

    #[test]
    fn percent_is_floored_and_capped() {
        let t = ProgressTicker::new(3);
        assert_eq!([0, 1, 2, 3, 9].map(|w| t.percent(w)), [0, 33, 66, 100, 100]);
        assert_eq!(ProgressTicker::new(0).percent(5), 0);
        assert_eq!(ProgressTicker::new(1 << 40).percent(1 << 39), 50);
    }
}
