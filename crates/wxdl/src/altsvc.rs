//! What a client learned about HTTP/3: `Alt-Svc: h3=…` advertisements (RFC 7838) with their
//! lifetimes, and origins where QUIC recently failed (so the next download goes straight to TCP).
//!
//! Imports `transport` (origins), `nqe` (clock) and `error`; never a download policy.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::HeaderMap;
use serde::{Deserialize, Serialize};

use crate::error::lock;
use crate::nqe::now_ms;
use crate::transport::Origin;

/// `ma` when an advertisement names none (RFC 7838 §3.1: 24 hours).
const DEFAULT_MAX_AGE_S: f64 = 86_400.0;
/// How long a QUIC failure keeps an origin on TCP.
pub(crate) const QUIC_BROKEN_FOR: Duration = Duration::from_secs(300);

/// One learned advertisement, in the form the CLI persists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AltSvcEntry {
    /// `https://host:port` of the origin that advertised it.
    pub origin: String,
    /// The UDP port HTTP/3 is offered on.
    pub h3_port: u16,
    /// When it expires (epoch ms).
    pub expires_ms: f64,
}

#[derive(Debug, Default)]
pub(crate) struct AltSvc {
    h3: Mutex<HashMap<String, AltSvcEntry>>,
    broken: Mutex<HashMap<String, Instant>>,
}

fn key(origin: &Origin) -> String {
    format!("https://{}", origin.authority_with_port())
}

impl AltSvc {
    pub fn from_entries(entries: &[AltSvcEntry]) -> AltSvc {
        let now = now_ms();
        let map = entries
            .iter()
            .filter(|e| e.expires_ms > now)
            .map(|e| (e.origin.clone(), e.clone()))
            .collect();
        AltSvc {
            h3: Mutex::new(map),
            broken: Mutex::default(),
        }
    }

    /// The live advertisements.
    pub fn entries(&self) -> Vec<AltSvcEntry> {
        let now = now_ms();
        lock(&self.h3)
            .values()
            .filter(|e| e.expires_ms > now)
            .cloned()
            .collect()
    }

    /// The HTTP/3 port `origin` advertised, if still valid.
    pub fn h3_port(&self, origin: &Origin) -> Option<u16> {
        let map = lock(&self.h3);
        let e = map.get(&key(origin))?;
        (e.expires_ms > now_ms()).then_some(e.h3_port)
    }

    /// Whether QUIC failed for `origin` recently.
    pub fn is_broken(&self, origin: &Origin) -> bool {
        let mut map = lock(&self.broken);
        match map.get(&key(origin)) {
            Some(until) if *until > Instant::now() => true,
            Some(_) => {
                map.remove(&key(origin));
                false
            }
            None => false,
        }
    }

    /// Records a QUIC failure for `origin`.
    pub fn mark_broken(&self, origin: &Origin) {
        lock(&self.broken).insert(key(origin), Instant::now() + QUIC_BROKEN_FOR);
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
        alt.mark_broken(&o);
        assert!(alt.is_broken(&o));
        h.insert(http::header::ALT_SVC, "clear".parse().unwrap());
        alt.learn(&o, &h);
        assert_eq!(alt.h3_port(&o), None);
    }
}
