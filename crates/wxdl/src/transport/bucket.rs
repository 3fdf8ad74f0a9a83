//! A token bucket that gates socket reads (**[beyond]**, the client's `rate_limit`): before a
//! read, the reader asks how many bytes it may read now and reads no more; tokens come back at
//! the rate. The bucket starts empty, and a ledger of the last second's reads keeps any
//! one-second window — the first included — to at most the rate plus 64 KiB, however late a
//! reader wakes; readers that share the bucket (a client's connections) share the rate.
//! Reads that cannot be bounded beforehand (QUIC's) keep a [`Credit`]: they wait until it is in
//! credit, and are charged what arrived after.
//!
//! Tokens saved up while a reader sleeps past its time (timers tick in milliseconds: at
//! 50 MiB/s a millisecond is 50 KiB) are kept up to `BURST_TIME` at the rate, so the average
//! holds at high rates; the ledger bounds what they may add to any second.
//!
//! A leaf: imports nothing of the engine.

use std::collections::VecDeque;
#[cfg(feature = "http3")]
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What any one-second window may read beyond the rate.
const WINDOW_EXCESS: f64 = 64.0 * 1024.0;
/// The ledger's window: a second and 10 ms, so that a reader descheduled between its grant and
/// its read (two cores, several busy threads) does not move a grant into the next second as
/// the kernel sees the reads. At most 1 % of the rate when the window binds.
const WINDOW: Duration = Duration::from_millis(1010);
/// Tokens saved up: this long at the rate (at least `WINDOW_EXCESS`).
const BURST_TIME: f64 = 0.05;
/// A waiting reader wakes when this many bytes are due (this long at the rate, at most
/// `MAX_GRANT`), so a low rate is not read a byte at a time and a high one not per timer tick.
const GRANT_TIME: f64 = 0.02;
const MAX_GRANT: f64 = 16.0 * 1024.0;
/// The least time at the rate a peer's window holds (see [`Bucket::window`]).
const PEER_WINDOW_TIME: f64 = 0.005;
/// What a [`Credit`] asks for beyond its overdraft (a TCP read asks for its buffer's room).
#[cfg(feature = "http3")]
const CREDIT_ASK: usize = 64 * 1024;

/// A shared byte-rate limit on reads.
#[derive(Debug)]
pub(crate) struct Bucket {
    /// Bytes per second.
    rate: f64,
    /// The most tokens held.
    burst: f64,
    /// The fewest bytes a waiting reader wakes for.
    grant: f64,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Tokens available now.
    tokens: f64,
    last: Instant,
    /// The grants of the last second (when, bytes), oldest first, and their sum.
    ledger: VecDeque<(Instant, usize)>,
    in_window: usize,
}

/// What a reader may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Grant {
    /// Read at most this many bytes (taken from the bucket at this instant; give back what
    /// was not read with [`Bucket::settle`]).
    Read(usize, Instant),
    /// Nothing is due: ask again at this instant.
    WaitUntil(Instant),
}

impl Bucket {
    /// A bucket refilled at `bytes_per_second` (at least 1), empty.
    pub fn new(bytes_per_second: u64) -> Bucket {
        Bucket::starting(bytes_per_second, Instant::now())
    }

    fn starting(bytes_per_second: u64, now: Instant) -> Bucket {
        let rate = bytes_per_second.max(1) as f64;
        let grant = (rate * GRANT_TIME).clamp(1.0, MAX_GRANT);
        let burst = (rate * BURST_TIME).max(WINDOW_EXCESS);
        Bucket {
            rate,
            burst,
            grant,
            state: Mutex::new(State {
                tokens: 0.0,
                last: now,
                ledger: VecDeque::new(),
                in_window: 0,
            }),
        }
    }

    /// How many of `want` bytes may be read at `now`.
    pub fn grant(&self, want: usize, now: Instant) -> Grant {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = now.max(s.last);
        let refill = now.duration_since(s.last).as_secs_f64() * self.rate;
        s.tokens = (s.tokens + refill).min(self.burst);
        s.last = now;
        while let Some(&(at, n)) = s.ledger.front() {
            if at + WINDOW > now {
                break;
            }
            s.in_window -= n;
            s.ledger.pop_front();
        }
        let room = (self.rate + WINDOW_EXCESS - s.in_window as f64).max(0.0);
        let available = s.tokens.min(room);
        let need = self.grant.min(want.max(1) as f64);
        if available >= need {
            let n = (available.floor() as usize).min(want);
            s.tokens -= n as f64;
            s.ledger.push_back((now, n));
            s.in_window += n;
            return Grant::Read(n, now);
        }
        let by_tokens = now + Duration::from_secs_f64(((need - s.tokens) / self.rate).max(1e-6));
        // The window frees room as its oldest grants turn a second old.
        let mut by_window = now;
        let mut freed = room;
        for &(at, n) in &s.ledger {
            if freed >= need {
                break;
            }
            freed += n as f64;
            by_window = at + WINDOW;
        }
        Grant::WaitUntil(by_tokens.max(by_window))
    }

    /// Gives back the part of a grant of `granted` bytes at `at` that a read of `read` did
    /// not use.
    pub fn settle(&self, granted: usize, at: Instant, read: usize) {
        if read >= granted {
            return;
        }
        let unused = granted - read;
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.tokens = (s.tokens + unused as f64).min(self.burst);
        if let Some(e) = s
            .ledger
            .iter_mut()
            .rev()
            .find(|e| e.0 == at && e.1 >= unused)
        {
            e.1 -= unused;
            s.in_window -= unused;
        }
    }

    /// The flow-control window a connection read under this bucket offers its peer (HTTP/2's
    /// and QUIC's) on a path of round trip `rtt`: two round trips at the rate (so the window's
    /// update is back before it is spent; at least 5 ms, at most a second), at least 64 KiB.
    /// Bounds what the peer sends ahead of the reads: what reaches the socket before a body is
    /// let go (a split's first answer), and what QUIC, whose datagrams quinn reads itself,
    /// takes in before the bucket is charged.
    pub fn window(&self, rtt: Duration) -> u32 {
        let time = (2.0 * rtt.as_secs_f64()).clamp(PEER_WINDOW_TIME, 1.0);
        let window = (self.rate * time).max(WINDOW_EXCESS);
        window.min(f64::from(u32::MAX >> 1)) as u32
    }
}

/// A reader's account with a bucket, for reads that cannot be bounded beforehand (QUIC: quinn
/// takes datagrams off the socket itself, and a stream hands over what it holds): a read waits
/// until the account is in credit, what arrived is charged after it, and an overdraft is repaid
/// before the next read. Credit left over goes back to the bucket when the account is dropped.
#[cfg(feature = "http3")]
#[derive(Debug)]
pub(crate) struct Credit {
    bucket: Arc<Bucket>,
    /// Granted and not yet charged (negative: overdrawn).
    balance: i64,
    /// The last grant (bytes, when), to give back what is left of it.
    last: Option<(usize, Instant)>,
}

#[cfg(feature = "http3")]
impl Credit {
    /// An empty account with `bucket`.
    pub fn new(bucket: Arc<Bucket>) -> Credit {
        Credit {
            bucket,
            balance: 0,
            last: None,
        }
    }

    /// Charges `n` bytes that arrived.
    pub fn charge(&mut self, n: u64) {
        self.balance = self
            .balance
            .saturating_sub(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Waits until the account is in credit: any overdraft repaid, and a grant of up to
    /// `CREDIT_ASK` more.
    pub async fn admit(&mut self) {
        // Each turn is a grant (of at least the bucket's smallest) or a wait for one.
        let turns = 2 * (self.balance.unsigned_abs() / self.bucket.grant.max(1.0) as u64 + 2);
        for _ in 0..turns {
            if self.balance > 0 {
                return;
            }
            let want = CREDIT_ASK.saturating_add(self.balance.unsigned_abs() as usize);
            match self.bucket.grant(want, Instant::now()) {
                Grant::Read(n, at) => {
                    self.balance += n as i64;
                    self.last = Some((n, at));
                }
                Grant::WaitUntil(at) => tokio::time::sleep_until(at.into()).await,
            }
        }
    }
}

#[cfg(feature = "http3")]
impl Drop for Credit {
    fn drop(&mut self) {
        if let (Some((granted, at)), Ok(left)) = (self.last, usize::try_from(self.balance)) {
            if left > 0 {
                self.bucket
                    .settle(granted, at, granted.saturating_sub(left));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives a greedy reader (it always reads all it is granted, at once) for `secs`,
    /// waking exactly when told; returns each read as (seconds since start, bytes).
    fn greedy(rate: u64, secs: f64, want: usize) -> Vec<(f64, usize)> {
        let t0 = Instant::now();
        let b = Bucket::starting(rate, t0);
        let mut now = t0;
        let mut reads = Vec::new();
        for _ in 0..10_000_000 {
            let at = now.duration_since(t0).as_secs_f64();
            if at > secs {
                break;
            }
            match b.grant(want, now) {
                Grant::Read(n, _) => reads.push((at, n)),
                Grant::WaitUntil(t) => {
                    assert!(t > now, "a wait is in the future");
                    now = t;
                }
            }
        }
        reads
    }

    /// The most bytes read in any one-second window (windows start at a read).
    fn max_window(reads: &[(f64, usize)]) -> usize {
        let mut best = 0;
        let mut sum = 0;
        let mut lo = 0;
        for &(t, n) in reads {
            sum += n;
            while reads[lo].0 < t - 1.0 {
                sum -= reads[lo].1;
                lo += 1;
            }
            best = best.max(sum);
        }
        best
    }

    #[test]
    fn no_second_reads_more_than_the_rate_and_a_burst_and_the_average_holds() {
        for rate in [1_000u64, 100 * 1024, 1 << 20, 50 << 20] {
            for want in [8 * 1024, 64 * 1024, 1 << 20] {
                let reads = greedy(rate, 5.0, want);
                let window = max_window(&reads);
                assert!(
                    window as u64 <= rate + 64 * 1024,
                    "rate {rate}, reads of {want}: {window} in one second"
                );
                // The first second included.
                let first: usize = reads.iter().filter(|r| r.0 <= 1.0).map(|r| r.1).sum();
                assert!(first as u64 <= rate + 64 * 1024, "first second: {first}");
                let total: usize = reads.iter().map(|r| r.1).sum();
                let avg = total as f64 / 5.0 / rate as f64;
                assert!((0.97..=1.03).contains(&avg), "rate {rate}: average {avg}");
            }
        }
    }

    /// A reader that wakes `late` after each time it is told (a coarse timer), reading all it
    /// is granted.
    fn late(rate: u64, secs: f64, late: Duration) -> Vec<(f64, usize)> {
        let t0 = Instant::now();
        let b = Bucket::starting(rate, t0);
        let mut now = t0;
        let mut reads = Vec::new();
        while now.duration_since(t0).as_secs_f64() <= secs {
            match b.grant(1 << 20, now) {
                Grant::Read(n, _) => reads.push((now.duration_since(t0).as_secs_f64(), n)),
                Grant::WaitUntil(t) => now = t + late,
            }
        }
        reads
    }

    #[test]
    fn a_reader_waking_late_keeps_the_average_and_the_window() {
        // At 50 MiB/s a reader 1-2 ms late would lose a third of the rate to a 64 KiB bucket.
        for ms in [1, 2, 5] {
            let rate = 50u64 << 20;
            let reads = late(rate, 5.0, Duration::from_millis(ms));
            let window = max_window(&reads);
            assert!(window as u64 <= rate + 64 * 1024, "{ms} ms late: {window}");
            let total: usize = reads.iter().map(|r| r.1).sum();
            let avg = total as f64 / 5.0 / rate as f64;
            assert!((0.97..=1.03).contains(&avg), "{ms} ms late: average {avg}");
        }
    }

    #[test]
    fn an_empty_bucket_waits_for_a_grant_and_refunds_what_was_not_read() {
        let t0 = Instant::now();
        let b = Bucket::starting(1000, t0);
        // Empty at the start: 20 bytes (20 ms at 1000 B/s) are the least worth waking for.
        assert_eq!(
            b.grant(100, t0),
            Grant::WaitUntil(t0 + Duration::from_millis(20))
        );
        let t1 = t0 + Duration::from_millis(20);
        assert_eq!(b.grant(100, t1), Grant::Read(20, t1));
        // The read got 5: 15 come back (a reader wanting 100 waits for 20 again; one wanting
        // 15 reads them).
        b.settle(20, t1, 5);
        assert!(matches!(b.grant(100, t1), Grant::WaitUntil(_)));
        assert_eq!(b.grant(15, t1), Grant::Read(15, t1));
        // Two readers share it: what one took the other waits for.
        assert_eq!(
            b.grant(10, t1),
            Grant::WaitUntil(t1 + Duration::from_millis(10))
        );
    }

    #[test]
    fn saved_up_tokens_never_pass_the_window() {
        // 64 KiB/s: the most saved up is 64 KiB, and any second reads at most 128 KiB.
        let t0 = Instant::now();
        let b = Bucket::starting(64 * 1024, t0);
        let t1 = t0 + Duration::from_secs(10);
        assert_eq!(b.grant(1 << 20, t1), Grant::Read(64 * 1024, t1));
        let t2 = t1 + Duration::from_millis(999);
        let Grant::Read(n, _) = b.grant(1 << 20, t2) else {
            panic!("due")
        };
        assert!(n <= 64 * 1024, "{n}");
        assert!(matches!(b.grant(1 << 20, t2), Grant::WaitUntil(_)));
    }

    #[cfg(feature = "http3")]
    #[tokio::test]
    async fn a_credit_repays_its_overdraft_before_the_next_read_and_gives_back_what_is_left() {
        // 1 GiB/s: the waits are microseconds; nothing here is timed.
        let b = Arc::new(Bucket::new(1 << 30));
        let mut c = Credit::new(b.clone());
        c.admit().await;
        assert!(c.balance > 0);
        // A read brought 5 MiB more than was granted (quinn had them already).
        let over = c.balance + (5 << 20);
        c.charge(over as u64);
        assert_eq!(c.balance, -(5 << 20));
        c.admit().await;
        assert!(c.balance > 0, "repaid, then in credit: {}", c.balance);
        let granted = b.state.lock().unwrap().in_window;
        // Every grant is in the ledger: the first, and what repaid the 5 MiB and left credit.
        assert_eq!(granted, over as usize + c.balance as usize);
        // Dropped in credit: what is left of its last grant goes back.
        let left = c.balance as usize;
        let tokens = b.state.lock().unwrap().tokens;
        drop(c);
        let s = b.state.lock().unwrap();
        assert_eq!(s.in_window, granted - left);
        assert!(s.tokens >= (tokens + left as f64).min(b.burst) - 1.0);
    }

    #[test]
    fn a_peers_window_is_two_round_trips_at_the_rate_within_bounds() {
        let mib = Bucket::new(1 << 20);
        // Loopback: at least 64 KiB (5 ms at 1 MiB/s is 5 KiB).
        assert_eq!(mib.window(Duration::from_micros(50)), 64 * 1024);
        // 100 ms round trips: 200 ms at the rate, so the update is back before it is spent.
        assert_eq!(mib.window(Duration::from_millis(100)), (1 << 20) / 5);
        // At most a second at the rate.
        assert_eq!(mib.window(Duration::from_secs(3)), 1 << 20);
        // 50 MiB/s on loopback: 5 ms at the rate.
        assert_eq!(Bucket::new(50 << 20).window(Duration::ZERO), 256 * 1024);
    }
}
