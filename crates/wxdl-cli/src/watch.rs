//! What `wxdl get` and `wxdl request` show and decide while a call runs, from the engine's events: `-v`'s
//! heads as they are sent and received, `--retry`'s notes (what, why, how long), and `-f`'s
//! gate that aborts on an HTTP error status before anything is put in place.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, OnceLock};

use indicatif::ProgressBar;
use wxdl::{AbortHandle, DownloadOptions, Trace};

/// Which events a download's trace prints on stderr.
pub struct Watch {
    /// `-v`: request and response heads, as they happen.
    pub heads: bool,
    /// `--retry`: each retry with its reason and wait.
    pub retries: bool,
    /// Names the download in a batch.
    pub label: Option<String>,
}

impl Watch {
    /// `opts` with a trace listener printing what was asked for (none when nothing was), out of
    /// the progress bar's way.
    pub fn attach(self, opts: DownloadOptions, bar: ProgressBar) -> DownloadOptions {
        match self.printer(bar) {
            Some(print) => opts.on_trace(print),
            None => opts,
        }
    }

    /// The trace listener printing what was asked for, for any call's options (none when
    /// nothing was).
    pub fn printer(self, bar: ProgressBar) -> Option<impl Fn(&Trace) + Send + Sync + 'static> {
        if !self.heads && !self.retries {
            return None;
        }
        Some(move |t: &Trace| {
            let text = match t {
                Trace::Request { .. } | Trace::Response { .. } if self.heads => heads(t),
                Trace::Retry { .. } if self.retries => retry(t, self.label.as_deref()),
                _ => return,
            };
            bar.suspend(|| eprint!("{text}"));
        })
    }
}

/// A head as curl -v shows it: `*` the connection, `>` the request, `<` the response.
fn heads(t: &Trace) -> String {
    let mut out = String::new();
    match t {
        Trace::Request {
            method,
            url,
            http_version,
            peer_ip,
            reused,
            header,
        } => {
            let how = if *reused {
                "reusing connection to"
            } else {
                "connected to"
            };
            out.push_str(&format!("* {how} {peer_ip} ({http_version})\n"));
            out.push_str(&format!(
                "> {method} {} {http_version}\n",
                crate::render::url_target(url)
            ));
            for (k, v) in header {
                out.push_str(&format!("> {k}: {v}\n"));
            }
            out.push_str(">\n");
        }
        Trace::Response {
            http_version,
            status_code,
            header,
        } => {
            let reason = crate::render::reason_phrase(*status_code);
            out.push_str(&format!("< {http_version} {status_code} {reason}\n"));
            for (k, v) in header {
                out.push_str(&format!("< {k}: {v}\n"));
            }
            out.push_str("<\n");
            let location = header
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("location"));
            if let (301 | 302 | 303 | 307 | 308, Some((_, to))) = (status_code, location) {
                out.push_str(&format!("* following the redirect to {to}\n"));
            }
        }
        _ => {}
    }
    out
}

/// `wxdl: retry 1 of 3 in 1.20 s: HTTP 503` (a batch names the URL first).
fn retry(t: &Trace, label: Option<&str>) -> String {
    let Trace::Retry {
        retry,
        of,
        why,
        wait,
    } = t
    else {
        return String::new();
    };
    let label = label.map(|l| format!("{l}: ")).unwrap_or_default();
    format!(
        "wxdl: {label}retry {retry} of {of} in {:.2} s, after {why}\n",
        wait.as_secs_f64()
    )
}

/// `-f`: aborts the download when the final answer is an HTTP error (400 and above), before
/// anything is put in place; remembers the status to report it.
#[derive(Clone, Default)]
pub struct FailGate {
    status: Arc<AtomicU16>,
    abort: Arc<OnceLock<AbortHandle>>,
}

impl FailGate {
    /// `opts` with the gate on its headers event. The engine emits it once, for the final
    /// answer (after any `--retry-http` retries), so an error status there is the last word:
    /// the download is aborted before its body can replace an existing file.
    pub fn arm(&self, opts: DownloadOptions) -> DownloadOptions {
        let gate = self.clone();
        opts.on_headers_received(move |h| {
            if h.status_code >= 400 {
                gate.status.store(h.status_code, Ordering::Relaxed);
                if let Some(abort) = gate.abort.get() {
                    abort.abort();
                }
            }
        })
    }

    /// Binds the gate to its task (before the task first runs).
    pub fn bind(&self, abort: AbortHandle) {
        let _ = self.abort.set(abort);
    }

    /// The HTTP error status that closed the gate, if it did.
    pub fn refused(&self) -> Option<u16> {
        match self.status.load(Ordering::Relaxed) {
            0 => None,
            code => Some(code),
        }
    }
}
