//! Rendering for people and programs: the progress bar, the result line, the JSON object.

use std::io::IsTerminal;
use std::time::Duration;

use std::sync::{Arc, OnceLock};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;
use wxdl::{Outcome, Progress};
use wxdl_wx::download;

/// A byte progress bar on stderr when it is a terminal and not quiet; hidden otherwise.
pub fn byte_bar(quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10));
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// The live view of a batch on a terminal: an overall bar, and a line for each download while
/// it transfers. Hidden when quiet or not on a terminal.
pub struct BatchView {
    multi: MultiProgress,
    overall: ProgressBar,
    live: bool,
}

impl BatchView {
    pub fn new(quiet: bool, total: u64) -> BatchView {
        let live = !quiet && std::io::stderr().is_terminal();
        let target = if live {
            ProgressDrawTarget::stderr_with_hz(10)
        } else {
            ProgressDrawTarget::hidden()
        };
        let multi = MultiProgress::with_draw_target(target);
        let overall = multi.add(ProgressBar::new(total));
        overall.set_style(
            ProgressStyle::with_template("[{bar:30}] {pos}/{len} files {per_sec} ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        BatchView {
            multi,
            overall,
            live,
        }
    }

    /// Whether the view is drawn: a hidden view needs no per-download lines (nor the progress
    /// events that would feed them).
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// The overall bar (one step per finished download).
    pub fn overall(&self) -> &ProgressBar {
        &self.overall
    }

    /// A line for one download, shown from its first progress event until [`Line::done`].
    pub fn line(&self, label: &str) -> Line {
        Line {
            multi: self.multi.clone(),
            label: label.to_owned(),
            bar: Arc::default(),
        }
    }

    /// Runs `f` with the view out of the way (for printing results).
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.multi.suspend(f)
    }

    pub fn finish(&self) {
        self.overall.finish_and_clear();
        let _ = self.multi.clear();
    }
}

/// One download's line in a [`BatchView`].
#[derive(Clone)]
pub struct Line {
    multi: MultiProgress,
    label: String,
    bar: Arc<OnceLock<ProgressBar>>,
}

impl Line {
    /// Feeds a progress event, adding the line on the first.
    pub fn update(&self, p: &Progress) {
        let bar = self.bar.get_or_init(|| {
            let bar = self.multi.add(ProgressBar::new(0));
            bar.set_style(
                ProgressStyle::with_template("  {wide_msg} {bytes}/{total_bytes} {bytes_per_sec}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_message(self.label.clone());
            bar
        });
        update_bar(bar, p);
    }

    /// The download ended: its line goes.
    pub fn done(&self) {
        if let Some(bar) = self.bar.get() {
            bar.finish_and_clear();
            self.multi.remove(bar);
        }
    }
}

/// Feeds a progress event into a byte bar.
pub fn update_bar(bar: &ProgressBar, p: &Progress) {
    if p.total_bytes_expected_to_write > 0 {
        bar.set_length(p.total_bytes_expected_to_write);
    }
    bar.set_position(p.total_bytes_written);
}

/// The Mini Program result object of an outcome (the wx layer's).
pub fn outcome_json(outcome: &Outcome) -> Value {
    download::result(outcome)
}

/// A one-line human summary of an outcome (`label` names the URL in batches).
pub fn human_line(outcome: &Outcome, label: Option<&str>) -> String {
    let prefix = label.map(|l| format!("{l}: ")).unwrap_or_default();
    match outcome {
        Ok(s) => {
            let wx = s
                .temp_file_path
                .as_deref()
                .or(s.file_path.as_deref())
                .map(|p| format!("{p} = "))
                .unwrap_or_default();
            if s.unchanged {
                return format!(
                    "{prefix}{} {} -> {wx}{} (unchanged: the file was kept as it was)",
                    s.status_code,
                    reason_phrase(s.status_code),
                    s.saved_path.display(),
                );
            }
            format!(
                "{prefix}{} {} -> {wx}{} ({} bytes)",
                s.status_code,
                reason_phrase(s.status_code),
                s.saved_path.display(),
                s.data_length
            )
        }
        Err(f) => format!(
            "{prefix}{} (errno {})",
            download::API.describe(f),
            f.errno()
        ),
    }
}

pub fn reason_phrase(code: u16) -> &'static str {
    http_reason(code).unwrap_or("")
}

fn http_reason(code: u16) -> Option<&'static str> {
    hyper::StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
}

/// `-v`: each request of a download as curl shows it on stderr: the connection (`*`), the
/// request head as sent (`>`), the response head as received (`<`).
pub fn verbose(success: &wxdl::Success) -> String {
    let mut out = String::new();
    for hop in &success.hops {
        let reuse = if hop.socket_reused {
            "reusing connection to"
        } else {
            "connected to"
        };
        out.push_str(&format!(
            "* {reuse} {} ({})\n",
            hop.peer_ip, hop.http_version
        ));
        let target = url_target(&hop.url);
        out.push_str(&format!("> GET {target} {}\n", hop.http_version));
        for (k, v) in &hop.request_header {
            out.push_str(&format!("> {k}: {v}\n"));
        }
        out.push_str(">\n");
        out.push_str(&format!(
            "< {} {} {}\n",
            hop.http_version,
            hop.status_code,
            reason_phrase(hop.status_code)
        ));
        for (k, v) in &hop.response_header {
            out.push_str(&format!("< {k}: {v}\n"));
        }
        out.push_str("<\n");
        if let Some(next) = &hop.redirect_url {
            out.push_str(&format!("* following the redirect to {next}\n"));
        }
    }
    out
}

/// The path and query of a URL, as a request line names them.
pub fn url_target(url: &str) -> &str {
    let after = url.split_once("://").map_or(url, |(_, r)| r);
    match after.find('/') {
        Some(i) => &after[i..],
        None => "/",
    }
}
