//! A token bucket shared by a client's downloads (**[beyond]**, the client's `rate_limit`): every
//! body byte any of them receives takes a token; tokens come back at the rate, and a little
//! burst is allowed so a chunk never waits for its own size. A download that takes more than
//! there is waits for its debt to be repaid, so together they never pass the rate.
//!
//! A leaf: imports nothing of the engine.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The burst allowed: this long at the rate.
const BURST: Duration = Duration::from_millis(50);

/// A shared byte-rate limit.
#[derive(Debug)]
pub(crate) struct Bucket {
    /// Bytes per second.
    rate: f64,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Tokens available now (negative: owed).
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// A bucket refilled at `bytes_per_second` (at least 1), full.
    pub fn new(bytes_per_second: u64) -> Bucket {
        let rate = bytes_per_second.max(1) as f64;
        Bucket {
            rate,
            state: Mutex::new(State {
                tokens: rate * BURST.as_secs_f64(),
                last: Instant::now(),
            }),
        }
    }

    /// Takes `n` tokens at `now`, returning how long the taker must wait before going on.
    fn debit(&self, n: u64, now: Instant) -> Duration {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let burst = self.rate * BURST.as_secs_f64();
        let refill = now.saturating_duration_since(s.last).as_secs_f64() * self.rate;
        s.tokens = (s.tokens + refill).min(burst) - n as f64;
        s.last = now;
        if s.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-s.tokens / self.rate)
        }
    }

    /// Takes `n` tokens, waiting as long as the bucket owes.
    pub async fn take(&self, n: u64) {
        let wait = self.debit(n, Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takers_together_never_pass_the_rate() {
        let b = Bucket::new(1000);
        let t0 = Instant::now();
        // The burst (50 ms at 1000 B/s = 50 bytes) is free; the rest is owed.
        assert_eq!(b.debit(50, t0), Duration::ZERO);
        assert_eq!(b.debit(100, t0), Duration::from_millis(100));
        // A second taker at the same instant owes behind the first.
        assert_eq!(b.debit(100, t0), Duration::from_millis(200));
        // 300 ms later the debt is repaid and 100 bytes are back (capped at the burst).
        let later = t0 + Duration::from_millis(1300);
        assert_eq!(b.debit(0, later), Duration::ZERO);
        assert_eq!(b.debit(50, later), Duration::ZERO);
        assert!(b.debit(1, later) > Duration::ZERO);
    }
}
