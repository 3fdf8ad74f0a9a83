//! `--har FILE`: every request of the run (redirects included) as an HTTP Archive 1.2 log,
//! for `wxdl get`, `wxdl request` and `wxdl upload`.

use std::path::Path;

use serde_json::{json, Value};
use wxdl::{quality::Hop, Success};

use crate::get::CliError;

/// A request body as HAR shows it (`postData`, its media type from the request's
/// `Content-Type`), given by the face that sent it.
pub enum PostData {
    /// A body of text (`-d`), copied into the log up to [`TEXT_BOUND`] bytes.
    Text(String),
    /// A body that is not shown: bytes, or text over [`TEXT_BOUND`].
    Opaque,
    /// `multipart/form-data` (`wxdl upload`): the fields' names and values, then the file
    /// part's name and file name; never the file's bytes.
    Form {
        fields: Vec<(String, String)>,
        file: (String, String),
    },
}

/// A text body longer than this is not copied into the log (its size still is).
pub const TEXT_BOUND: usize = 64 * 1024;

impl PostData {
    /// The body `bytes` as the log shows it: text when it is UTF-8 and within the bound.
    pub fn of_bytes(bytes: &[u8]) -> PostData {
        match std::str::from_utf8(bytes) {
            Ok(text) if text.len() <= TEXT_BOUND => PostData::Text(text.to_owned()),
            _ => PostData::Opaque,
        }
    }

    fn to_json(&self, mime: &str) -> Value {
        match self {
            PostData::Text(text) => json!({ "mimeType": mime, "text": text }),
            PostData::Opaque => json!({ "mimeType": mime, "text": "" }),
            PostData::Form { fields, file } => {
                let mut params: Vec<Value> = fields
                    .iter()
                    .map(|(name, value)| json!({ "name": name, "value": value }))
                    .collect();
                params.push(json!({ "name": file.0, "fileName": file.1 }));
                json!({ "mimeType": mime, "params": params })
            }
        }
    }
}

/// Collects entries over a run and writes them as one HAR log.
#[derive(Default)]
pub struct Har {
    entries: Vec<Value>,
}

impl Har {
    /// Adds every request of a finished download.
    pub fn add(&mut self, s: &Success) {
        self.add_hops(&s.hops, None);
    }

    /// Adds every request of a finished call; `post` describes the body of those that sent
    /// one (a 303 turns the next request into a GET without it).
    pub fn add_hops(&mut self, hops: &[Hop], post: Option<&PostData>) {
        for hop in hops {
            let mime = header(&hop.response_header, "content-type");
            let mut e = entry(hop, mime.unwrap_or("application/octet-stream"));
            if let Some(post) = post.filter(|_| hop.request_body_bytes > 0) {
                let sent_as = header(&hop.request_header, "content-type");
                e["request"]["postData"] =
                    post.to_json(sent_as.unwrap_or("application/octet-stream"));
            }
            self.entries.push(e);
        }
    }

    /// Writes the log to `--har`'s `path`, a failure in the words every command gives.
    pub fn save(&self, path: &Path) -> Result<(), CliError> {
        self.write(path)
            .map_err(|e| CliError::internal(format!("--har {}: {e}", path.display())))
    }

    /// Writes the log (atomically: a temp file renamed over `path`).
    fn write(&self, path: &Path) -> std::io::Result<()> {
        let log = json!({
            "log": {
                "version": "1.2",
                "creator": { "name": "wxdl", "version": env!("CARGO_PKG_VERSION") },
                "pages": [],
                "entries": self.entries,
            }
        });
        let text = serde_json::to_vec_pretty(&log).map_err(std::io::Error::other)?;
        wxdl::store::write_file_atomic(path, &text)
    }
}

fn header<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn headers(pairs: &[(String, String)]) -> Value {
    pairs
        .iter()
        .map(|(name, value)| json!({ "name": name, "value": value }))
        .collect()
}

fn query_string(url: &str) -> Value {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    let query = query.split('#').next().unwrap_or("");
    query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            json!({ "name": k, "value": v })
        })
        .collect()
}

fn entry(hop: &Hop, mime: &str) -> Value {
    let t = &hop.timings;
    // HAR's `time` is the sum of the non-negative phases; `ssl` is already inside `connect`.
    let total: f64 = [t.blocked, t.dns, t.connect, t.send, t.wait, t.receive]
        .iter()
        .filter(|v| **v >= 0.0)
        .sum();
    let head_received = hop.received_bytes.saturating_sub(hop.body_bytes);
    json!({
        "startedDateTime": iso8601(hop.started_ms),
        "time": total,
        "request": {
            "method": hop.method,
            "url": hop.url,
            "httpVersion": hop.http_version,
            "cookies": [],
            "headers": headers(&hop.request_header),
            "queryString": query_string(&hop.url),
            "headersSize": hop.sent_bytes.saturating_sub(hop.request_body_bytes),
            "bodySize": hop.request_body_bytes,
        },
        "response": {
            "status": hop.status_code,
            "statusText": "",
            "httpVersion": hop.http_version,
            "cookies": [],
            "headers": headers(&hop.response_header),
            "content": { "size": hop.body_bytes, "mimeType": mime },
            "redirectURL": hop.redirect_url.clone().unwrap_or_default(),
            "headersSize": head_received,
            "bodySize": hop.body_bytes,
        },
        "cache": {},
        "timings": {
            "blocked": t.blocked,
            "dns": t.dns,
            "connect": t.connect,
            "ssl": t.ssl,
            "send": t.send,
            "wait": t.wait,
            "receive": t.receive,
        },
        "serverIPAddress": hop.peer_ip,
        "_socketReused": hop.socket_reused,
    })
}

/// Epoch milliseconds as an ISO 8601 UTC date-time with milliseconds.
fn iso8601(epoch_ms: f64) -> String {
    let ms_total = epoch_ms.max(0.0) as i64;
    let (secs, ms) = (ms_total.div_euclid(1000), ms_total.rem_euclid(1000));
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day), after Howard Hinnant's
/// well-known `civil_from_days` algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(iso8601(0.0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(951_782_400_123.0), "2000-02-29T00:00:00.123Z");
        assert_eq!(iso8601(1_795_628_044_052.5), "2026-11-25T17:34:04.052Z");
    }

    #[test]
    fn queries() {
        assert_eq!(
            query_string("http://h/p?a=1&b&c=x#f"),
            json!([{"name":"a","value":"1"},{"name":"b","value":""},{"name":"c","value":"x"}])
        );
    }
}
