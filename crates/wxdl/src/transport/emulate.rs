//! Network emulation (**[beyond]**): a bad network on demand, under the transports, so that
//! everything above — phases, profile, estimator, retries, stall timeouts — sees it as it would
//! see a real one.
//!
//! The model works at the byte-stream level, per client (its connections share one link, as a
//! phone's share its radio):
//! - **latency**: a TCP connect waits one round trip; every byte read waits the round trip
//!   (plus jitter) after it came off the wire, so a TLS 1.3 handshake pays one round trip, TLS
//!   1.2 two, and a request's first response byte one; the round trip is all charged on the way
//!   down, so the order of bytes never changes;
//! - **bandwidth**: bytes are serialised at the downstream rate on the link's one clock (two
//!   downloads share it), and written no faster than the upstream rate;
//! - **loss**: as TCP shows it to an application, a lost segment (1460 bytes, with the given
//!   probability) holds back everything after it for one more round trip (fast retransmit);
//! - **offline**: new connections fail at once (the name does not resolve, or the network is
//!   unreachable for an IP literal) and nothing is delivered on open ones until the link is
//!   back;
//! - **over time**: a timeline of conditions from the client's start; the last one lasts.
//!
//! TCP streams go through it in `emulate_tcp`, QUIC datagrams in `emulate_udp`. What it is not: a TCP stack —
//! congestion control, slow start and receive windows are not modelled (see docs/network.md).
//!
//! Imports nothing of the engine but `error`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};

/// One set of link conditions.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct NetworkConditions {
    /// Downstream bandwidth in kbit/s (0: not limited).
    pub down_kbps: u32,
    /// Upstream bandwidth in kbit/s (0: not limited).
    pub up_kbps: u32,
    /// Added round-trip time in ms.
    pub rtt_ms: u32,
    /// Up to this many ms more, at random, per delivery (order is kept).
    pub jitter_ms: u32,
    /// Probability that a 1460-byte segment (or a QUIC datagram) is lost, 0.0–1.0.
    pub loss: f64,
    /// No network at all.
    pub offline: bool,
    /// What `wx.getNetworkType` says under these conditions (`wifi`, `4g`, `3g`, `2g`,
    /// `none`, `unknown`).
    pub network_type: &'static str,
}

/// The named presets: name, down kbit/s, up kbit/s, RTT ms, the type `wx.getNetworkType` says.
/// `slow-2g`, `2g`, `3g` and `4g` are Chromium's typical figures for those effective connection
/// types (transport RTT and downlink, `network_quality_estimator_params.cc`); `wifi` is a good
/// home Wi-Fi.
pub const PRESETS: [(&str, u32, u32, u32, &str); 6] = [
    ("offline", 0, 0, 0, "none"),
    ("slow-2g", 40, 20, 3000, "2g"),
    ("2g", 75, 32, 1500, "2g"),
    ("3g", 400, 200, 400, "3g"),
    ("4g", 1600, 800, 125, "4g"),
    ("wifi", 30_000, 15_000, 30, "wifi"),
];

impl NetworkConditions {
    /// A named preset (see [`PRESETS`]).
    ///
    /// ```
    /// let c = wxdl::transport::NetworkConditions::preset("3g").unwrap();
    /// assert_eq!((c.down_kbps, c.rtt_ms, c.network_type), (400, 400, "3g"));
    /// assert!(wxdl::transport::NetworkConditions::preset("5g").is_none());
    /// ```
    pub fn preset(name: &str) -> Option<NetworkConditions> {
        let (_, down, up, rtt, kind) = PRESETS.iter().find(|p| p.0 == name)?;
        Some(NetworkConditions {
            down_kbps: *down,
            up_kbps: *up,
            rtt_ms: *rtt,
            jitter_ms: 0,
            loss: 0.0,
            offline: *kind == "none",
            network_type: kind,
        })
    }

    /// Custom conditions: bandwidths in kbit/s (0: not limited) and an added round trip.
    pub fn custom(down_kbps: u32, up_kbps: u32, rtt_ms: u32) -> NetworkConditions {
        NetworkConditions {
            down_kbps,
            up_kbps,
            rtt_ms,
            jitter_ms: 0,
            loss: 0.0,
            offline: false,
            network_type: "unknown",
        }
    }

    /// The same, with jitter (ms).
    pub fn jitter(mut self, ms: u32) -> Self {
        self.jitter_ms = ms;
        self
    }

    /// The same, with a loss probability (clamped to 0.0–1.0).
    pub fn loss(mut self, p: f64) -> Self {
        self.loss = p.clamp(0.0, 1.0);
        self
    }
}

/// Conditions over time, and the seed that makes jitter and loss reproduce.
#[derive(Debug, Clone, PartialEq)]
pub struct Emulation {
    /// Each phase's conditions and how long it lasts (`None`: for good; only the last).
    phases: Vec<(NetworkConditions, Option<Duration>)>,
    seed: u64,
}

impl Emulation {
    /// These conditions for good.
    pub fn new(conditions: NetworkConditions) -> Emulation {
        Emulation {
            phases: vec![(conditions, None)],
            seed: 0,
        }
    }

    /// A timeline such as `4g:5s,offline:3s,3g` (presets, each but the last with a duration in
    /// `ms` or `s`; the last lasts). A phase may also be `custom`, meaning `base`.
    ///
    /// ```
    /// let e = wxdl::transport::Emulation::timeline("4g:5s,offline:500ms,3g", None).unwrap();
    /// assert!(wxdl::transport::Emulation::timeline("4g,3g", None).is_err(), "only the last lasts");
    /// # let _ = e;
    /// ```
    pub fn timeline(spec: &str, base: Option<NetworkConditions>) -> Result<Emulation, String> {
        let parts: Vec<&str> = spec.split(',').map(str::trim).collect();
        let mut phases = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            let (name, duration) = match part.split_once(':') {
                Some((n, d)) => (n.trim(), Some(parse_duration(d.trim())?)),
                None if last => (*part, None),
                None => {
                    return Err(format!(
                        "{part:?}: every phase but the last needs a duration"
                    ))
                }
            };
            let conditions = match (name, base) {
                ("custom", Some(b)) => b,
                _ => NetworkConditions::preset(name)
                    .ok_or_else(|| format!("{name:?}: not a network preset"))?,
            };
            phases.push((conditions, duration));
        }
        Ok(Emulation { phases, seed: 0 })
    }

    /// Seeds jitter and loss (default 0), so a run reproduces.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The conditions `elapsed` after the start, and when they end (from the start).
    fn at(&self, elapsed: Duration) -> (NetworkConditions, Option<Duration>) {
        let mut end = Duration::ZERO;
        for (c, d) in &self.phases {
            match d {
                Some(d) => {
                    end += *d;
                    if elapsed < end {
                        return (*c, Some(end));
                    }
                }
                None => return (*c, None),
            }
        }
        let last = self.phases.last().map(|p| p.0);
        (last.unwrap_or(NetworkConditions::custom(0, 0, 0)), None)
    }
}

/// The network settings every face takes by the same names (the CLI's `--network`, `--down`,
/// …; the Node package's `createWx({network, down, …})`), turned into an [`Emulation`] in one
/// place.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NetworkSettings {
    /// A preset name.
    pub network: Option<String>,
    /// Downstream kbit/s (with `up` or `latency`: custom conditions over the preset's).
    pub down: Option<u32>,
    /// Upstream kbit/s.
    pub up: Option<u32>,
    /// Added round trip, ms.
    pub latency: Option<u32>,
    /// Jitter, ms.
    pub jitter: Option<u32>,
    /// Loss probability, 0.0–1.0.
    pub loss: Option<f64>,
    /// A timeline (`4g:5s,offline:3s,3g`; `custom` is the conditions the rest give).
    pub timeline: Option<String>,
    /// The seed of jitter and loss.
    pub seed: Option<u64>,
}

impl NetworkSettings {
    /// The emulation these settings ask for (`None`: none asked for), or why they are wrong.
    ///
    /// ```
    /// use wxdl::transport::NetworkSettings;
    ///
    /// let s = NetworkSettings { network: Some("3g".into()), jitter: Some(20), ..Default::default() };
    /// assert!(s.emulation().unwrap().is_some());
    /// assert!(NetworkSettings::default().emulation().unwrap().is_none());
    /// let bad = NetworkSettings { network: Some("5g".into()), ..Default::default() };
    /// assert!(bad.emulation().unwrap_err().contains("slow-2g"));
    /// ```
    pub fn emulation(&self) -> Result<Option<Emulation>, String> {
        let preset = match &self.network {
            Some(name) => Some(NetworkConditions::preset(name).ok_or_else(|| {
                let names: Vec<&str> = PRESETS.iter().map(|p| p.0).collect();
                format!(
                    "{name:?}: not a network preset (one of {})",
                    names.join(", ")
                )
            })?),
            None => None,
        };
        let custom = self.down.is_some() || self.up.is_some() || self.latency.is_some();
        let tuned = custom || self.jitter.is_some() || self.loss.is_some();
        let base = match (preset, tuned) {
            (None, false) => None,
            (p, _) => {
                let mut c = p.unwrap_or(NetworkConditions::custom(0, 0, 0));
                if custom {
                    c = NetworkConditions::custom(
                        self.down.unwrap_or(c.down_kbps),
                        self.up.unwrap_or(c.up_kbps),
                        self.latency.unwrap_or(c.rtt_ms),
                    )
                    .jitter(c.jitter_ms)
                    .loss(c.loss);
                }
                if let Some(ms) = self.jitter {
                    c = c.jitter(ms);
                }
                if let Some(p) = self.loss {
                    c = c.loss(p);
                }
                Some(c)
            }
        };
        let emulation = match (&self.timeline, base) {
            (Some(spec), base) => Some(Emulation::timeline(spec, base)?),
            (None, Some(c)) => Some(Emulation::new(c)),
            (None, None) => None,
        };
        Ok(emulation.map(|e| e.seed(self.seed.unwrap_or(0))))
    }
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?}: a duration is like 500ms or 5s");
    if let Some(ms) = text.strip_suffix("ms") {
        return ms
            .parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|_| bad());
    }
    let s = text.strip_suffix('s').ok_or_else(bad)?;
    s.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(bad)
}

/// A client's emulated link: the timeline from its start, and the shared clocks.
#[derive(Debug)]
pub(crate) struct Link {
    emulation: Emulation,
    start: Instant,
    state: Mutex<Clocks>,
}

#[derive(Debug)]
struct Clocks {
    /// When the downstream is free to serialise more bytes.
    down_free: Instant,
    /// When the upstream is.
    up_free: Instant,
    rng: rand::rngs::StdRng,
}

/// The bytes in a TCP segment, for loss.
const SEGMENT: usize = 1460;

impl Link {
    pub fn new(emulation: Emulation) -> Link {
        let start = Instant::now();
        Link {
            state: Mutex::new(Clocks {
                down_free: start,
                up_free: start,
                rng: rand::rngs::StdRng::seed_from_u64(emulation.seed),
            }),
            emulation,
            start,
        }
    }

    /// The conditions at `t`, and when they end.
    pub fn conditions(&self, t: Instant) -> (NetworkConditions, Option<Instant>) {
        let (c, end) = self.emulation.at(t.saturating_duration_since(self.start));
        (c, end.map(|e| self.start + e))
    }

    /// The conditions now.
    pub fn now(&self) -> NetworkConditions {
        self.conditions(Instant::now()).0
    }

    /// The instants after `t` at which the network's type changes, with the new type.
    pub fn changes_after(&self, t: Instant) -> Vec<(Instant, &'static str)> {
        let mut out = Vec::new();
        let mut at = self.start;
        let mut kind = self.emulation.phases.first().map(|p| p.0.network_type);
        for (c, d) in &self.emulation.phases {
            if Some(c.network_type) != kind && at > t {
                out.push((at, c.network_type));
            }
            kind = Some(c.network_type);
            match d {
                Some(d) => at += *d,
                None => break,
            }
        }
        out
    }

    /// The first instant at or after `t` when the link is up (`None`: never again).
    fn online_from(&self, mut t: Instant) -> Option<Instant> {
        for _ in 0..=self.emulation.phases.len() {
            match self.conditions(t) {
                (c, _) if !c.offline => return Some(t),
                (_, Some(end)) => t = end,
                (_, None) => return None,
            }
        }
        None
    }

    /// When `n` bytes that came off the wire at `arrived` reach the reader, given that the
    /// previous ones on the same connection reach it at `previous`. A lost segment costs a
    /// round trip more (TCP retransmits it).
    pub fn deliver(&self, n: usize, arrived: Instant, previous: Instant) -> Instant {
        self.arrival(n, arrived, previous, false)
            .unwrap_or(arrived + Duration::from_secs(86_400))
    }

    /// [`Link::deliver`] for a datagram, which loss really drops (`None`).
    #[cfg_attr(not(feature = "http3"), allow(dead_code))]
    pub fn datagram(&self, n: usize, arrived: Instant, previous: Instant) -> Option<Instant> {
        self.arrival(n, arrived, previous, true)
    }

    fn arrival(
        &self,
        n: usize,
        arrived: Instant,
        previous: Instant,
        drop: bool,
    ) -> Option<Instant> {
        // Offline: nothing moves until the link is back (far in the future if never).
        let Some(from) = self.online_from(arrived) else {
            return (!drop).then(|| arrived + Duration::from_secs(86_400));
        };
        let (c, _) = self.conditions(from);
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if drop && (from > arrived || (c.loss > 0.0 && s.rng.random_bool(c.loss))) {
            // Lost, or sent while the link was down.
            return None;
        }
        let serial = match c.down_kbps {
            0 => Duration::ZERO,
            kbps => Duration::from_secs_f64(n as f64 * 8.0 / (f64::from(kbps) * 1000.0)),
        };
        let begin = s.down_free.max(from);
        let done = begin + serial;
        s.down_free = done;
        let rtt = Duration::from_millis(u64::from(c.rtt_ms));
        let mut at = done + rtt;
        if c.jitter_ms > 0 {
            at += Duration::from_millis(s.rng.random_range(0..=u64::from(c.jitter_ms)));
        }
        if c.loss > 0.0 && !drop {
            let segments = n.div_ceil(SEGMENT);
            let lost = (0..segments).filter(|_| s.rng.random_bool(c.loss)).count() as u32;
            at += rtt.max(Duration::from_millis(10)) * lost;
        }
        Some(at.max(previous))
    }

    /// How long a writer of `n` bytes at `now` waits for the upstream to take them.
    pub fn send(&self, n: usize, now: Instant) -> Duration {
        let Some(from) = self.online_from(now) else {
            return Duration::from_secs(86_400);
        };
        let (c, _) = self.conditions(from);
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let serial = match c.up_kbps {
            0 => Duration::ZERO,
            kbps => Duration::from_secs_f64(n as f64 * 8.0 / (f64::from(kbps) * 1000.0)),
        };
        let done = s.up_free.max(from) + serial;
        s.up_free = done;
        done.saturating_duration_since(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_and_timelines() {
        let g3 = NetworkConditions::preset("3g").unwrap();
        assert_eq!((g3.down_kbps, g3.up_kbps, g3.rtt_ms), (400, 200, 400));
        assert!(NetworkConditions::preset("offline").unwrap().offline);
        let e = Emulation::timeline("4g:5s, offline:500ms, 3g", None).unwrap();
        assert_eq!(e.at(Duration::from_secs(1)).0.network_type, "4g");
        assert_eq!(
            e.at(Duration::from_millis(5200)).1,
            Some(Duration::from_millis(5500))
        );
        assert!(e.at(Duration::from_millis(5200)).0.offline);
        assert_eq!(e.at(Duration::from_secs(60)).0, g3);
        assert!(Emulation::timeline("4g:5x,3g", None).is_err());
        assert!(Emulation::timeline("5g", None).is_err());
        let link = Link::new(Emulation::timeline("4g:1s,4g:1s,offline:2s,3g", None).unwrap());
        let kinds: Vec<_> = link
            .changes_after(link.start)
            .into_iter()
            .map(|c| (c.0 - link.start, c.1))
            .collect();
        assert_eq!(
            kinds,
            [
                (Duration::from_secs(2), "none"),
                (Duration::from_secs(4), "3g")
            ]
        );
        let custom = NetworkConditions::custom(2000, 500, 200);
        let e = Emulation::timeline("custom:1s,offline", Some(custom)).unwrap();
        assert_eq!(e.at(Duration::ZERO).0, custom);
    }

    #[test]
    fn bytes_pay_the_round_trip_and_the_shared_bandwidth() {
        // 8000 kbit/s = 1000 bytes per ms; 100 ms round trip.
        let link = Link::new(Emulation::new(NetworkConditions::custom(8000, 0, 100)));
        let t = link.start;
        let first = link.deliver(10_000, t, t);
        assert_eq!(first, t + Duration::from_millis(110));
        // The next bytes queue behind on the same link (another connection too).
        let second = link.deliver(10_000, t, t);
        assert_eq!(second, t + Duration::from_millis(120));
        // Unlimited upstream: no wait to write.
        assert_eq!(link.send(1000, t), Duration::ZERO);
    }

    #[test]
    fn offline_holds_everything_until_the_link_is_back() {
        let e = Emulation::timeline("offline:1s,wifi", None).unwrap();
        let link = Link::new(e);
        let t = link.start;
        let at = link.deliver(100, t, t);
        assert!(at >= t + Duration::from_millis(1030), "{:?}", at - t);
        let never = Link::new(Emulation::new(
            NetworkConditions::preset("offline").unwrap(),
        ));
        assert!(
            never.deliver(1, never.start, never.start) > never.start + Duration::from_secs(3600)
        );
    }

    #[test]
    fn loss_and_jitter_reproduce_with_the_seed() {
        let cond = NetworkConditions::custom(0, 0, 50).jitter(20).loss(0.3);
        let run = |seed| {
            let link = Link::new(Emulation::new(cond).seed(seed));
            let t = link.start;
            (0..20)
                .map(|_| link.deliver(3000, t, t) - t)
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        assert!(
            run(7).iter().any(|d| *d >= Duration::from_millis(100)),
            "some loss"
        );
    }
}
