//! The network-quality estimator: recency-weighted medians of HTTP RTT, transport RTT and
//! downstream throughput, and the effective connection type, after Chromium's `net/nqe`.
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

#[derive(Debug, Default)]
struct Buffer(VecDeque<Observation>);

impl Buffer {
    fn add(&mut self, o: Observation) {
        if !(o.value.is_finite() && o.value >= 0.0 && o.at_ms.is_finite()) {
            return;
        }
        if self.0.len() == MAX_OBSERVATIONS {
            self.0.pop_front();
        }
        self.0.push_back(o);
    }

    /// The recency-weighted median at `now_ms`.
    fn weighted_median(&self, now_ms: f64) -> Option<f64> {
        if self.0.is_empty() {
            return None;
        }
        let mut weighted: Vec<(f64, f64)> = self
            .0
            .iter()
            .map(|o| {
                let age_s = ((now_ms - o.at_ms) / 1000.0).max(0.0);
                (o.value, 0.5f64.powf(age_s / HALF_LIFE_S))
            })
            .collect();
        weighted.sort_by(|a, b| a.0.total_cmp(&b.0));
        let total: f64 = weighted.iter().map(|(_, w)| w).sum();
        let half = total / 2.0;
        let mut acc = 0.0;
        for (value, w) in &weighted {
            acc += w;
            if acc >= half {
                return Some(*value);
            }
        }
        weighted.last().map(|(v, _)| *v)
    }

    fn restore(list: &[Observation]) -> Buffer {
        let mut b = Buffer::default();
        let skip = list.len().saturating_sub(MAX_OBSERVATIONS);
        for o in &list[skip..] {
            b.add(*o);
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
        Estimator {
            state: Mutex::new(State {
                http_rtt: Buffer::restore(&state.http_rtt),
                transport_rtt: Buffer::restore(&state.transport_rtt),
                throughput: Buffer::restore(&state.throughput),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a download's observations.
    pub(crate) fn record(&self, s: Sample) {
        let at_ms = now_ms();
        let mut st = self.lock();
        if let Some(v) = s.http_rtt_ms {
            st.http_rtt.add(Observation { value: v, at_ms });
        }
        if let Some(v) = s.transport_rtt_ms {
            st.transport_rtt.add(Observation { value: v, at_ms });
        }
        if s.body_bytes >= MIN_THROUGHPUT_BYTES && s.body_ms > 0.0 {
            let kbps = s.body_bytes as f64 * 8.0 / s.body_ms;
            st.throughput.add(Observation { value: kbps, at_ms });
        }
    }

    /// The estimates now.
    pub fn estimates(&self) -> Estimates {
        let now = now_ms();
        let st = self.lock();
        let transport = st.transport_rtt.weighted_median(now);
        let mut http = st.http_rtt.weighted_median(now);
        if let (Some(h), Some(t)) = (http, transport) {
            if st.transport_rtt.0.len() >= TRANSPORT_RTT_MIN_COUNT {
                http = Some(h.max(t));
            }
        }
        Estimates {
            http_rtt_ms: http,
            transport_rtt_ms: transport,
            downstream_kbps: st.throughput.weighted_median(now),
            effective_type: EffectiveConnectionType::from_http_rtt(http),
        }
    }

    /// The observations, for persisting.
    pub fn state(&self) -> EstimatorState {
        let st = self.lock();
        EstimatorState {
            version: STATE_VERSION,
            http_rtt: st.http_rtt.0.iter().copied().collect(),
            transport_rtt: st.transport_rtt.0.iter().copied().collect(),
            throughput: st.throughput.0.iter().copied().collect(),
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
            b.add(Observation {
                value: 1000.0,
                at_ms: now - 600_000.0,
            });
        }
        for _ in 0..2 {
            b.add(Observation {
                value: 10.0,
                at_ms: now,
            });
        }
        assert_eq!(b.weighted_median(now), Some(10.0));
        // Unweighted (all fresh), the majority wins.
        let mut b = Buffer::default();
        for v in [1000.0, 1000.0, 1000.0, 10.0, 10.0] {
            b.add(Observation {
                value: v,
                at_ms: now,
            });
        }
        assert_eq!(b.weighted_median(now), Some(1000.0));
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
