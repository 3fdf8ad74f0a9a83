//! What a client learned about HTTP/3: `Alt-Svc: h3=…` advertisements (RFC 7838) with their
//! lifetimes, and origins where QUIC failed (so the next download goes straight to TCP, in this
//! run and — the marks are saved with the advertisements — in the next ones), for as long as an
//! advertisement would last: its own expiry, at most RFC 7838's default of 24 hours.
//!
//! Imports `transport` (origins), `nqe` (clock) and `error`; never a download policy.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use http::HeaderMap;
use serde::{Deserialize, Serialize};

use crate::error::lock;
use crate::quality::nqe::now_ms;
use crate::transport::Origin;

/// `ma` when an advertisement names none (RFC 7838 §3.1: 24 hours).
const DEFAULT_MAX_AGE_S: f64 = 86_400.0;
/// How long a QUIC failure keeps an origin on TCP at most: an advertisement's default lifetime.
#[cfg_attr(not(feature = "http3"), allow(dead_code))]
pub(crate) const QUIC_BROKEN_FOR: Duration = Duration::from_secs(DEFAULT_MAX_AGE_S as u64);

/// One learned advertisement, in the form the CLI persists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AltSvcEntry {
    /// `https://host:port` of the origin that advertised it.
    pub origin: String,
    /// The UDP port HTTP/3 is offered on.
    pub h3_port: u16,
    /// When it expires (epoch ms).
    pub expires_ms: f64,
    /// Not an advertisement but a failure: QUIC to `h3_port` failed, so the origin goes
    /// straight to TCP until `expires_ms`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub quic_failed: bool,
}

#[derive(Debug, Default)]
pub(crate) struct AltSvc {
    h3: Mutex<HashMap<String, AltSvcEntry>>,
    /// Origins where QUIC failed, with the port tried and when the mark expires.
    broken: Mutex<HashMap<String, AltSvcEntry>>,
}

fn key(origin: &Origin) -> String {
    format!("https://{}", origin.authority_with_port())
}

impl AltSvc {
    pub fn from_entries(entries: &[AltSvcEntry]) -> AltSvc {
        let now = now_ms();
        let live = |failed: bool| {
            entries
                .iter()
                .filter(|e| e.expires_ms > now && e.quic_failed == failed)
                .map(|e| (e.origin.clone(), e.clone()))
                .collect()
        };
        AltSvc {
            h3: Mutex::new(live(false)),
            broken: Mutex::new(live(true)),
        }
    }

    /// The live advertisements and failure marks, to be saved.
    pub fn entries(&self) -> Vec<AltSvcEntry> {
        let now = now_ms();
        let h3 = lock(&self.h3);
        let broken = lock(&self.broken);
        h3.values()
            .chain(broken.values())
            .filter(|e| e.expires_ms > now)
            .cloned()
            .collect()
    }

    /// The HTTP/3 port `origin` advertised, if still valid.
    #[cfg_attr(not(feature = "http3"), allow(dead_code))]
    pub fn h3_port(&self, origin: &Origin) -> Option<u16> {
        let map = lock(&self.h3);
        let e = map.get(&key(origin))?;
        (e.expires_ms > now_ms()).then_some(e.h3_port)
    }

    /// Whether QUIC failed for `origin` and the mark has not expired.
    #[cfg_attr(not(feature = "http3"), allow(dead_code))]
    pub fn is_broken(&self, origin: &Origin) -> bool {
        let mut map = lock(&self.broken);
        match map.get(&key(origin)) {
            Some(mark) if mark.expires_ms > now_ms() => true,
            Some(_) => {
                map.remove(&key(origin));
                false
            }
            None => false,
        }
    }

    /// Records a QUIC failure to `port` for `origin`: it stays on TCP as long as its
    /// advertisement would have lasted, at most [`QUIC_BROKEN_FOR`].
    #[cfg_attr(not(feature = "http3"), allow(dead_code))]
    pub fn mark_broken(&self, origin: &Origin, port: u16) {
        let cap = now_ms() + QUIC_BROKEN_FOR.as_secs_f64() * 1000.0;
        let expires_ms = lock(&self.h3)
            .get(&key(origin))
            .map_or(cap, |advert| advert.expires_ms.min(cap));
        let mark = AltSvcEntry {
            origin: key(origin),
            h3_port: port,
            expires_ms,
            quic_failed: true,
        };
        lock(&self.broken).insert(mark.origin.clone(), mark);
    }

    /// Learns from a response's `Alt-Svc` headers (HTTPS origins only).
    pub fn learn(&self, origin: &Origin, headers: &HeaderMap) {
        if !origin.https {
            return;
        }
        for value in headers.get_all(http::header::ALT_SVC) {
            let Ok(text) = value.to_str() else { continue };
            match parse_h3(text, origin) {
                Advert::Clear => {
                    lock(&self.h3).remove(&key(origin));
                }
                Advert::H3 { port, max_age_s } => {
                    let entry = AltSvcEntry {
                        origin: key(origin),
                        h3_port: port,
                        expires_ms: now_ms() + max_age_s * 1000.0,
                        quic_failed: false,
                    };
                    lock(&self.h3).insert(entry.origin.clone(), entry);
                }
                Advert::None => {}
            }
        }
    }
}

#[derive(Debug, PartialEq)]
enum Advert {
    Clear,
    H3 { port: u16, max_age_s: f64 },
    None,
}

/// The first usable `h3` alternative in an `Alt-Svc` value: same host (or none named), with its
/// `ma`. Drafts (`h3-29`) are not spoken here.
fn parse_h3(text: &str, origin: &Origin) -> Advert {
    if text.trim().eq_ignore_ascii_case("clear") {
        return Advert::Clear;
    }
    for alt in text.split(',') {
        let mut parts = alt.split(';');
        let Some((proto, authority)) = parts.next().and_then(|p| p.split_once('=')) else {
            continue;
        };
        if proto.trim() != "h3" {
            continue;
        }
        let authority = authority.trim().trim_matches('"');
        let Some((host, port)) = authority.rsplit_once(':') else {
            continue;
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if !host.is_empty() && !host.eq_ignore_ascii_case(&origin.host.to_string()) {
            continue;
        }
        let Ok(port) = port.parse::<u16>() else {
            continue;
        };
        let max_age_s = parts
            .filter_map(|p| p.trim().strip_prefix("ma="))
            .find_map(|v| v.trim_matches('"').parse::<f64>().ok())
            .unwrap_or(DEFAULT_MAX_AGE_S);
        return Advert::H3 { port, max_age_s };
    }
    Advert::None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin {
        Origin::of(&url::Url::parse("https://a.example:8443/").unwrap())
    }

    #[test]
    fn parses_adverts() {
        let o = origin();
        assert_eq!(
            parse_h3(r#"h3=":8443"; ma=2592000, h3-29=":8443""#, &o),
            Advert::H3 {
                port: 8443,
                max_age_s: 2_592_000.0
            }
        );
        assert_eq!(
            parse_h3(r#"h3-29=":1", h3="a.example:9""#, &o),
            Advert::H3 {
                port: 9,
                max_age_s: 86_400.0
            }
        );
        assert_eq!(parse_h3(r#"h3="other.example:443""#, &o), Advert::None);
        assert_eq!(parse_h3("clear", &o), Advert::Clear);
        assert_eq!(parse_h3("garbage", &o), Advert::None);
    }

    #[test]
    fn learns_expires_and_breaks() {
        let o = origin();
        let alt = AltSvc::default();
        let mut h = HeaderMap::new();
        h.insert(
            http::header::ALT_SVC,
            r#"h3=":8443"; ma=60"#.parse().unwrap(),
        );
        alt.learn(&o, &h);
        assert_eq!(alt.h3_port(&o), Some(8443));
        let saved = alt.entries();
        assert_eq!(AltSvc::from_entries(&saved).h3_port(&o), Some(8443));
        let mut expired = saved.clone();
        expired[0].expires_ms = 0.0;
        assert_eq!(AltSvc::from_entries(&expired).h3_port(&o), None);
        assert!(!alt.is_broken(&o));
        alt.mark_broken(&o, 8443);
        assert!(alt.is_broken(&o));
        // The mark is saved with the advertisements and read back; it lasts as long as the
        // advertisement (60 s here), not past it.
        let saved = alt.entries();
        assert_eq!(saved.len(), 2);
        let mark = saved.iter().find(|e| e.quic_failed).unwrap();
        assert!(mark.expires_ms <= saved.iter().find(|e| !e.quic_failed).unwrap().expires_ms);
        let next_run = AltSvc::from_entries(&saved);
        assert!(next_run.is_broken(&o));
        assert_eq!(next_run.h3_port(&o), Some(8443));
        let mut expired = saved.clone();
        expired.iter_mut().for_each(|e| e.expires_ms = 0.0);
        assert!(!AltSvc::from_entries(&expired).is_broken(&o));
        h.insert(http::header::ALT_SVC, "clear".parse().unwrap());
        alt.learn(&o, &h);
        assert_eq!(alt.h3_port(&o), None);
    }
}
