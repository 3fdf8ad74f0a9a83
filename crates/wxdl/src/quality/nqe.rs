//! The network-quality estimator: recency-weighted medians of HTTP RTT, transport RTT and
//! downstream throughput, and the effective connection type, after Chromium's `net/nqe`.
//!
//! Imports only `error`; the profile and the client feed it.
//!
//! Constants and rules follow Chromium's Network Quality Estimator:
//! - observations lose half their weight every 60 s (`network_quality_estimator_params.cc`,
//!   `GetWeightMultiplierPerSecond`, default half life 60 s);
//! - each buffer keeps the 300 most recent observations (`kMaximumObservationsBufferSize`);
//! - estimates are weighted medians (`ObservationBuffer::GetPercentile`, 50th percentile);
//! - a throughput observation needs at least 32 000 bytes (`throughput_analyzer.cc`,
//!   `kMinTransferSizeInBits = 32 * 8 * 1000`);
//! - the HTTP RTT is bounded below by the transport RTT (multiplier 1.0) once at least 5
//!   transport observations exist (`lower_bound_http_rtt_transport_rtt_multiplier`,
//!   `http_rtt_transport_rtt_min_count`);
//! - the effective connection type comes from the HTTP RTT thresholds 2010 ms (slow-2g),
//!   1420 ms (2g) and 272 ms (3g), else 4g (`kHttpRttEffectiveConnectionTypeThresholds`).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Half life of an observation's weight, seconds.
const HALF_LIFE_S: f64 = 60.0;
/// Observations kept per kind.
const MAX_OBSERVATIONS: usize = 300;
/// Smallest body that yields a throughput observation, bytes.
pub const MIN_THROUGHPUT_BYTES: u64 = 32_000;
/// Transport observations needed before they bound the HTTP RTT.
const TRANSPORT_RTT_MIN_COUNT: usize = 5;
/// HTTP RTT thresholds (ms) for slow-2g, 2g and 3g.
const SLOW_2G_HTTP_RTT_MS: f64 = 2010.0;
const TWO_G_HTTP_RTT_MS: f64 = 1420.0;
const THREE_G_HTTP_RTT_MS: f64 = 272.0;

/// Version of the persisted state format.
pub const STATE_VERSION: u32 = 1;

/// Chromium's effective connection types, numbered as WeChat's `estimate_nettype`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum EffectiveConnectionType {
    /// Not enough observations.
    Unknown = 0,
    /// No network.
    Offline = 1,
    /// Slow 2G.
    Slow2g = 2,
    /// 2G.
    Type2g = 3,
    /// 3G.
    Type3g = 4,
    /// 4G or better.
    Type4g = 5,
}

impl EffectiveConnectionType {
    /// WeChat's `estimate_nettype` number.
    pub fn as_number(self) -> u8 {
        self as u8
    }

    /// The type for an `estimate_nettype` number (anything unknown → `Unknown`).
    pub fn from_number(n: u8) -> EffectiveConnectionType {
        match n {
            1 => EffectiveConnectionType::Offline,
            2 => EffectiveConnectionType::Slow2g,
            3 => EffectiveConnectionType::Type2g,
            4 => EffectiveConnectionType::Type3g,
            5 => EffectiveConnectionType::Type4g,
            _ => EffectiveConnectionType::Unknown,
        }
    }

    /// The name `wx.getNetworkType` and browsers use (`slow-2g`, `2g`, `3g`, `4g`, …).
    pub fn name(self) -> &'static str {
        match self {
            EffectiveConnectionType::Unknown => "unknown",
            EffectiveConnectionType::Offline => "offline",
            EffectiveConnectionType::Slow2g => "slow-2g",
            EffectiveConnectionType::Type2g => "2g",
            EffectiveConnectionType::Type3g => "3g",
            EffectiveConnectionType::Type4g => "4g",
        }
    }

    /// What `wx.getNetworkType` answers for this type (`none`, `2g`, `3g`, `4g`, `unknown`).
    pub fn wx_network_type(self) -> &'static str {
        match self {
            EffectiveConnectionType::Offline => "none",
            EffectiveConnectionType::Slow2g | EffectiveConnectionType::Type2g => "2g",
            EffectiveConnectionType::Type3g => "3g",
            EffectiveConnectionType::Type4g => "4g",
            EffectiveConnectionType::Unknown => "unknown",
        }
    }

    /// The type for an HTTP RTT estimate.
    pub fn from_http_rtt(http_rtt_ms: Option<f64>) -> EffectiveConnectionType {
        match http_rtt_ms {
            None => EffectiveConnectionType::Unknown,
            Some(ms) if ms >= SLOW_2G_HTTP_RTT_MS => EffectiveConnectionType::Slow2g,
            Some(ms) if ms >= TWO_G_HTTP_RTT_MS => EffectiveConnectionType::Type2g,
            Some(ms) if ms >= THREE_G_HTTP_RTT_MS => EffectiveConnectionType::Type3g,
            Some(_) => EffectiveConnectionType::Type4g,
        }
    }
}

/// The current estimates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimates {
    /// HTTP RTT (request start to first response byte), ms.
    pub http_rtt_ms: Option<f64>,
    /// Transport RTT, ms.
    pub transport_rtt_ms: Option<f64>,
    /// Downstream throughput, kbit/s.
    pub downstream_kbps: Option<f64>,
    /// The effective connection type.
    pub effective_type: EffectiveConnectionType,
}

/// One observation: a value and when it was made (epoch ms).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// ms for RTTs, kbit/s for throughput.
    pub value: f64,
    /// Epoch milliseconds.
    pub at_ms: f64,
}

/// The estimator's observations, for persisting between runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EstimatorState {
    /// Format version ([`STATE_VERSION`]).
    pub version: u32,
    /// HTTP RTT observations.
    pub http_rtt: Vec<Observation>,
    /// Transport RTT observations.
    pub transport_rtt: Vec<Observation>,
    /// Throughput observations.
    pub throughput: Vec<Observation>,
}

/// One kind of observation: the most recent [`MAX_OBSERVATIONS`], kept both in arrival order
/// (for eviction and persisting) and sorted by value with precomputed weights, so that an
/// estimate is one walk over the buffer — no sort and no `powf` per download.
///
/// A weight `0.5^(age / half life)` is `2^((at - now) / half life)`: every weight shares the
/// factor `2^(-now / half life)`, which a weighted median ignores. So each observation's
/// weight is stored relative to a fixed anchor time, computed once when it arrives, and the
/// median comes out exactly as with weights taken at `now`.
#[derive(Debug, Default)]
struct Buffer {
    order: VecDeque<Observation>,
    /// (value, arrival number, weight relative to `anchor_ms`), sorted by value then arrival.
    sorted: Vec<(f64, u64, f64)>,
    /// Arrival number of the next observation.
    next: u64,
    anchor_ms: f64,
    max_at_ms: f64,
}

/// Relative weights stay within `2^±RE_ANCHOR_HALF_LIVES` (far from f64's range limits).
const RE_ANCHOR_HALF_LIVES: f64 = 500.0;

impl Buffer {
    fn len(&self) -> usize {
        self.order.len()
    }

    /// Adds `o`, made no later than `now_ms` (a later time is clamped to `now_ms`, so a clock
    /// that went backwards cannot give an observation more weight than a fresh one).
    fn add(&mut self, mut o: Observation, now_ms: f64) {
        if !(o.value.is_finite() && o.value >= 0.0 && o.at_ms.is_finite()) {
            return;
        }
        o.at_ms = o.at_ms.min(now_ms);
        if self.order.len() == MAX_OBSERVATIONS {
            self.evict_oldest();
        }
        if self.order.is_empty() {
            self.anchor_ms = o.at_ms;
            self.max_at_ms = o.at_ms;
        }
        self.max_at_ms = self.max_at_ms.max(o.at_ms);
        let seq = self.next;
        self.next += 1;
        self.order.push_back(o);
        if self.half_lives(o.at_ms).abs() > RE_ANCHOR_HALF_LIVES {
            self.re_anchor();
        } else {
            let entry = (o.value, seq, self.weight(o.at_ms));
            let at = self.position(o.value, seq).unwrap_or_else(|i| i);
            self.sorted.insert(at, entry);
        }
    }

    fn evict_oldest(&mut self) {
        let Some(old) = self.order.pop_front() else {
            return;
        };
        let seq = self.next - self.order.len() as u64 - 1;
        if let Ok(i) = self.position(old.value, seq) {
            self.sorted.remove(i);
        }
    }

    fn position(&self, value: f64, seq: u64) -> Result<usize, usize> {
        self.sorted
            .binary_search_by(|(v, s, _)| v.total_cmp(&value).then(s.cmp(&seq)))
    }

    fn half_lives(&self, at_ms: f64) -> f64 {
        (at_ms - self.anchor_ms) / (HALF_LIFE_S * 1000.0)
    }

    fn weight(&self, at_ms: f64) -> f64 {
        self.half_lives(at_ms).exp2()
    }

    /// Moves the anchor to the newest observation and recomputes every weight.
    fn re_anchor(&mut self) {
        self.anchor_ms = self.max_at_ms;
        let first = self.next - self.order.len() as u64;
        let mut sorted: Vec<(f64, u64, f64)> = (first..)
            .zip(&self.order)
            .map(|(seq, o)| (o.value, seq, self.weight(o.at_ms)))
            .collect();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        self.sorted = sorted;
    }

    /// The recency-weighted median (Chromium's `GetPercentile` at 50).
    fn weighted_median(&self) -> Option<f64> {
        let total: f64 = self.sorted.iter().map(|e| e.2).sum();
        let half = total / 2.0;
        let mut acc = 0.0;
        for &(value, _, w) in &self.sorted {
            acc += w;
            if acc >= half {
                return Some(value);
            }
        }
        self.sorted.last().map(|e| e.0)
    }

    fn restore(list: &[Observation], now_ms: f64) -> Buffer {
        let mut b = Buffer::default();
        let skip = list.len().saturating_sub(MAX_OBSERVATIONS);
        for o in &list[skip..] {
            b.add(*o, now_ms);
        }
        b
    }
}

#[derive(Debug, Default)]
struct State {
    http_rtt: Buffer,
    transport_rtt: Buffer,
    throughput: Buffer,
}

/// One client's estimator, fed by every download.
#[derive(Debug, Default)]
pub struct Estimator {
    state: Mutex<State>,
}

/// What one download contributes.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Sample {
    pub http_rtt_ms: Option<f64>,
    pub transport_rtt_ms: Option<f64>,
    pub body_bytes: u64,
    pub body_ms: f64,
}

pub(crate) fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

impl Estimator {
    /// An estimator restored from persisted state (ignored when the version differs).
    pub fn from_state(state: &EstimatorState) -> Estimator {
        if state.version != STATE_VERSION {
            return Estimator::default();
        }
        let now = now_ms();
        Estimator {
            state: Mutex::new(State {
                http_rtt: Buffer::restore(&state.http_rtt, now),
                transport_rtt: Buffer::restore(&state.transport_rtt, now),
                throughput: Buffer::restore(&state.throughput, now),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        crate::error::lock(&self.state)
    }

    /// Adds a download's observations.
    pub(crate) fn record(&self, s: Sample) {
        let at_ms = now_ms();
        let mut st = self.lock();
        if let Some(v) = s.http_rtt_ms {
            st.http_rtt.add(Observation { value: v, at_ms }, at_ms);
        }
        if let Some(v) = s.transport_rtt_ms {
            st.transport_rtt.add(Observation { value: v, at_ms }, at_ms);
        }
        if s.body_bytes >= MIN_THROUGHPUT_BYTES && s.body_ms > 0.0 {
            let kbps = s.body_bytes as f64 * 8.0 / s.body_ms;
            st.throughput.add(Observation { value: kbps, at_ms }, at_ms);
        }
    }

    /// The estimates now.
    pub fn estimates(&self) -> Estimates {
        let st = self.lock();
        let transport = st.transport_rtt.weighted_median();
        let mut http = st.http_rtt.weighted_median();
        if let (Some(h), Some(t)) = (http, transport) {
            if st.transport_rtt.len() >= TRANSPORT_RTT_MIN_COUNT {
                http = Some(h.max(t));
            }
        }
        Estimates {
            http_rtt_ms: http,
            transport_rtt_ms: transport,
            downstream_kbps: st.throughput.weighted_median(),
            effective_type: EffectiveConnectionType::from_http_rtt(http),
        }
    }

    /// The observations, for persisting.
    pub fn state(&self) -> EstimatorState {
        let st = self.lock();
        EstimatorState {
            version: STATE_VERSION,
            http_rtt: st.http_rtt.order.iter().copied().collect(),
            transport_rtt: st.transport_rtt.order.iter().copied().collect(),
            throughput: st.throughput.order.iter().copied().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds() {
        use EffectiveConnectionType as E;
        assert_eq!(E::from_http_rtt(None), E::Unknown);
        assert_eq!(E::from_http_rtt(Some(5.0)), E::Type4g);
        assert_eq!(E::from_http_rtt(Some(272.0)), E::Type3g);
        assert_eq!(E::from_http_rtt(Some(1420.0)), E::Type2g);
        assert_eq!(E::from_http_rtt(Some(2500.0)), E::Slow2g);
        assert_eq!(E::Type4g.as_number(), 5);
    }

    #[test]
    fn recent_observations_weigh_more() {
        let now = now_ms();
        let mut b = Buffer::default();
        // Three old slow samples (10 minutes ago) against two fresh fast ones.
        for _ in 0..3 {
            b.add(
                Observation {
                    value: 1000.0,
                    at_ms: now - 600_000.0,
                },
                now,
            );
        }
        for _ in 0..2 {
            b.add(
                Observation {
                    value: 10.0,
                    at_ms: now,
                },
                now,
            );
        }
        assert_eq!(b.weighted_median(), Some(10.0));
        // Unweighted (all fresh), the majority wins.
        let mut b = Buffer::default();
        for v in [1000.0, 1000.0, 1000.0, 10.0, 10.0] {
            b.add(
                Observation {
                    value: v,
                    at_ms: now,
                },
                now,
            );
        }
        assert_eq!(b.weighted_median(), Some(1000.0));
    }

    /// The direct definition: weights taken at `now`, sorted by value (stable), weighted median.
    fn reference_median(obs: &[Observation], now_ms: f64) -> Option<f64> {
        let mut w: Vec<(f64, f64)> = obs
            .iter()
            .map(|o| {
                let age_s = ((now_ms - o.at_ms) / 1000.0).max(0.0);
                (o.value, 0.5f64.powf(age_s / HALF_LIFE_S))
            })
            .collect();
        w.sort_by(|a, b| a.0.total_cmp(&b.0));
        let half = w.iter().map(|e| e.1).sum::<f64>() / 2.0;
        let mut acc = 0.0;
        for (v, weight) in &w {
            acc += weight;
            if acc >= half {
                return Some(*v);
            }
        }
        w.last().map(|e| e.0)
    }

    #[test]
    fn incremental_median_matches_the_definition() {
        // A deterministic jumble: values with repeats, times spread over hours (re-anchoring)
        // and out of order, more observations than the buffer keeps.
        let now = 1.8e12;
        let mut b = Buffer::default();
        let mut kept: VecDeque<Observation> = VecDeque::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for i in 0..1000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let value = (x % 50) as f64 * 1.5;
            let at_ms = now - ((x >> 20) % (40 * 3_600_000)) as f64 + (i * 36_000) as f64;
            let o = Observation {
                value,
                at_ms: at_ms.min(now),
            };
            b.add(o, now);
            if kept.len() == MAX_OBSERVATIONS {
                kept.pop_front();
            }
            kept.push_back(o);
            let slice: Vec<Observation> = kept.iter().copied().collect();
            assert_eq!(b.weighted_median(), reference_median(&slice, now), "at {i}");
        }
        assert_eq!(b.sorted.len(), MAX_OBSERVATIONS);
    }

    #[test]
    fn buffer_is_bounded_and_state_round_trips() {
        let e = Estimator::default();
        for i in 0..400 {
            e.record(Sample {
                http_rtt_ms: Some(i as f64),
                transport_rtt_ms: None,
                body_bytes: 100_000,
                body_ms: 10.0,
            });
        }
        let st = e.state();
        assert_eq!(st.http_rtt.len(), MAX_OBSERVATIONS);
        assert_eq!(st.throughput[0].value, 80_000.0);
        let back = Estimator::from_state(&st);
        assert_eq!(back.state(), st);
        let wrong = EstimatorState { version: 99, ..st };
        assert_eq!(Estimator::from_state(&wrong).estimates().http_rtt_ms, None);
    }

    #[test]
    fn small_bodies_give_no_throughput() {
        let e = Estimator::default();
        e.record(Sample {
            http_rtt_ms: Some(1.0),
            transport_rtt_ms: Some(0.5),
            body_bytes: 31_999,
            body_ms: 1.0,
        });
        let est = e.estimates();
        assert_eq!(est.downstream_kbps, None);
        assert_eq!(est.http_rtt_ms, Some(1.0));
    }
}
