//! A staged HTTP/1.1 server for range requests whose behaviour a test changes as it goes: the
//! representation (body, `ETag`, `Last-Modified`), whether ranges are honoured, refused with
//! 416 or ignored, whether `If-Range` is ignored (a `206` of whatever is served now), how a
//! `206` is framed (`multipart/byteranges`, a `*` complete-length), whether a `200` says its
//! length, conditional requests (`If-None-Match` answered `304`), `204`, and cuts (the next
//! answer, or the next ranged answer, stops after so many body bytes). Every request head is
//! recorded.

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::io::AsyncWriteExt;

use crate::raw::{read_head, RawServer};

/// What the server serves and how; change it between requests through [`Ranged::script`].
#[derive(Debug, Clone)]
pub struct Script {
    /// The strong `ETag` (with quotes), the `If-Range` that must match; empty: no `ETag`.
    pub etag: String,
    /// A `Last-Modified` date to send; with no `ETag` it is the `If-Range` that must match.
    pub last_modified: Option<String>,
    /// `If-Range` is ignored: a range is answered from what is served now, whatever its
    /// version (a server that does not implement `If-Range`).
    pub ignore_if_range: bool,
    /// A `206` is sent as `multipart/byteranges` (one part, with its framing), with a
    /// top-level `Content-Range` that fits.
    pub multipart: bool,
    /// A `206`'s `Content-Range` says `*` for the complete length.
    pub star_total: bool,
    /// A `206` is sent chunked (no `Content-Length`) with this many bytes more than its
    /// `Content-Range` says.
    pub overlong: Option<usize>,
    /// A `200` carries no `Content-Length` (its end is the connection's close).
    pub no_length: bool,
    /// Every answer is `204 No Content`.
    pub no_content: bool,
    /// The representation.
    pub body: Arc<Vec<u8>>,
    /// The next answer of any kind stops after this many body bytes (then the connection
    /// closes).
    pub cut_next: Option<usize>,
    /// The next `206` answer stops after this many body bytes.
    pub cut_ranged: Option<usize>,
    /// The next `200` answer not already cut by `cut_next` stops after this many body bytes.
    pub cut_whole: Option<usize>,
    /// Whether `Range` is honoured at all (and `Accept-Ranges: bytes` sent).
    pub ranges: bool,
    /// Whether a range request is refused with 416.
    pub unsatisfiable: bool,
    /// Once the next answer is written, the representation becomes this one (`ETag`, body):
    /// the file changes on the server mid-download.
    pub then: Option<(String, Arc<Vec<u8>>)>,
    /// With `then`: the new version's `Last-Modified`.
    pub then_last_modified: Option<String>,
    /// Every request head received.
    pub heads: Vec<String>,
}

impl Script {
    /// Serves `body` under `etag`, ranges honoured, no cuts.
    pub fn new(etag: &str, body: Arc<Vec<u8>>) -> Script {
        Script {
            etag: etag.into(),
            last_modified: None,
            ignore_if_range: false,
            multipart: false,
            star_total: false,
            overlong: None,
            no_length: false,
            no_content: false,
            body,
            cut_next: None,
            cut_ranged: None,
            cut_whole: None,
            ranges: true,
            unsatisfiable: false,
            then: None,
            then_last_modified: None,
            heads: Vec::new(),
        }
    }
}

/// Deterministic bytes: `len` of them, varied by `seed`.
pub fn pattern(seed: u8, len: usize) -> Arc<Vec<u8>> {
    Arc::new(
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31) ^ seed ^ (i >> 16) as u8)
            .collect(),
    )
}

/// The running server and its script.
pub struct Ranged {
    pub server: RawServer,
    script: Arc<Mutex<Script>>,
}

impl Ranged {
    /// Starts serving `script` on 127.0.0.1.
    pub async fn start(script: Script) -> Ranged {
        let script = Arc::new(Mutex::new(script));
        let shared = script.clone();
        let server = RawServer::start(move |mut s, _| {
            let script = shared.clone();
            async move {
                let head = read_head(&mut s).await;
                let (answer, cut) = answer(&mut script.lock().unwrap(), &head);
                let end = match cut {
                    Some(n) => {
                        let head_len =
                            answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                        (head_len + n).min(answer.len())
                    }
                    None => answer.len(),
                };
                let _ = s.write_all(&answer[..end]).await;
                let _ = s.shutdown().await;
            }
        })
        .await;
        Ranged { server, script }
    }

    /// The script, to read the heads or change what comes next.
    pub fn script(&self) -> MutexGuard<'_, Script> {
        self.script.lock().unwrap()
    }

    /// `http://127.0.0.1:PORT<path>` (every path serves the same representation).
    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }
}

/// The answer to one request head, and where to cut it.
fn answer(sc: &mut Script, head: &str) -> (Vec<u8>, Option<usize>) {
    let answer = answer_now(sc, head);
    if let Some((etag, body)) = sc.then.take() {
        sc.etag = etag;
        sc.body = body;
        if let Some(date) = sc.then_last_modified.take() {
            sc.last_modified = Some(date);
        }
    }
    answer
}

fn answer_now(sc: &mut Script, head: &str) -> (Vec<u8>, Option<usize>) {
    sc.heads.push(head.to_owned());
    let lower = head.to_ascii_lowercase();
    let header = |name: &str| {
        lower
            .lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
    };
    let body = sc.body.clone();
    let len = body.len();
    // `bytes=a-` or `bytes=a-b`.
    let range = header("range:").and_then(|r| {
        let (a, b) = r.strip_prefix("bytes=")?.split_once('-')?;
        let a = a.parse::<usize>().ok()?;
        let b = if b.is_empty() {
            len.checked_sub(1)?
        } else {
            b.parse::<usize>().ok()?.min(len.checked_sub(1)?)
        };
        (a <= b).then_some((a, b))
    });
    let current = if sc.etag.is_empty() {
        sc.last_modified.clone().unwrap_or_default()
    } else {
        sc.etag.clone()
    };
    let validator_holds =
        sc.ignore_if_range || header("if-range:").is_none_or(|v| v == current.to_ascii_lowercase());
    let accept = if sc.ranges {
        "Accept-Ranges: bytes\r\n"
    } else {
        ""
    };
    let mut validators = String::new();
    if !sc.etag.is_empty() {
        validators += &format!("ETag: {}\r\n", sc.etag);
    }
    if let Some(date) = &sc.last_modified {
        validators += &format!("Last-Modified: {date}\r\n");
    }
    let mut out = Vec::new();
    let ranged = sc.ranges && header("range:").is_some();
    let cut = sc.cut_next.take();
    if sc.no_content {
        out.extend_from_slice(
            format!("HTTP/1.1 204 No Content\r\n{validators}Connection: close\r\n\r\n").as_bytes(),
        );
        return (out, cut);
    }
    let not_modified = !sc.etag.is_empty()
        && header("if-none-match:").is_some_and(|v| v == sc.etag.to_ascii_lowercase());
    if not_modified {
        out.extend_from_slice(
            format!("HTTP/1.1 304 Not Modified\r\n{validators}Connection: close\r\n\r\n")
                .as_bytes(),
        );
        return (out, cut);
    }
    if ranged && sc.unsatisfiable {
        out.extend_from_slice(
            format!("HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{len}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        return (out, cut);
    }
    match range {
        Some((a, b)) if ranged && validator_holds => {
            let total = if sc.star_total {
                "*".to_owned()
            } else {
                len.to_string()
            };
            let mut payload = Vec::new();
            let mut kind = String::new();
            if sc.multipart {
                kind = "Content-Type: multipart/byteranges; boundary=WXDLSEP\r\n".into();
                payload.extend_from_slice(
                    format!("--WXDLSEP\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes {a}-{b}/{total}\r\n\r\n").as_bytes(),
                );
            }
            payload.extend_from_slice(&body[a..=b]);
            if sc.multipart {
                payload.extend_from_slice(b"\r\n--WXDLSEP--\r\n");
            }
            if let Some(extra) = sc.overlong {
                payload.extend(std::iter::repeat_n(b'#', extra));
                out.extend_from_slice(
                    format!(
                        "HTTP/1.1 206 Partial Content\r\n{validators}{accept}Content-Range: bytes {a}-{b}/{total}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n",
                        payload.len()
                    )
                    .as_bytes(),
                );
                out.extend_from_slice(&payload);
                out.extend_from_slice(b"\r\n0\r\n\r\n");
                return (out, cut.or(sc.cut_ranged.take()));
            }
            out.extend_from_slice(
                format!(
                    "HTTP/1.1 206 Partial Content\r\n{validators}{accept}{kind}Content-Range: bytes {a}-{b}/{total}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    payload.len()
                )
                .as_bytes(),
            );
            out.extend_from_slice(&payload);
            (out, cut.or(sc.cut_ranged.take()))
        }
        _ => {
            let length = if sc.no_length {
                String::new()
            } else {
                format!("Content-Length: {len}\r\n")
            };
            out.extend_from_slice(
                format!("HTTP/1.1 200 OK\r\n{validators}{accept}{length}Connection: close\r\n\r\n")
                    .as_bytes(),
            );
            out.extend_from_slice(&body);
            let cut = cut.or_else(|| sc.cut_whole.take());
            (out, cut)
        }
    }
}
