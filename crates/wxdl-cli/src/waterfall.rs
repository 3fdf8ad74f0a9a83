//! The `--profile` view: a download's phases as scaled bars with milliseconds, like a browser's
//! timing tab, laid out for the terminal's width.

use std::fmt::Write as _;

use wxdl::{quality::EffectiveConnectionType, Profile};

/// Width used when the output is not a terminal and `COLUMNS` is unset.
const DEFAULT_WIDTH: usize = 100;
const LABEL: usize = 18;
const VALUE: usize = 12;

/// The columns to lay out for: the terminal's, else `$COLUMNS`, else 100; kept within 60–200.
pub fn width() -> usize {
    let term = console::Term::stdout()
        .size_checked()
        .map(|(_, c)| c as usize);
    let env = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok());
    term.or(env).unwrap_or(DEFAULT_WIDTH).clamp(60, 200)
}

/// One row: a phase from `start` to `end` (epoch ms), or a phase that did not happen.
struct Row {
    label: &'static str,
    span: Option<(f64, f64)>,
    note: &'static str,
}

fn rows(p: &Profile) -> Vec<Row> {
    let span = |a: f64, b: f64| (a > 0.0 && b >= a).then_some((a, b));
    let reused = p.socket_reused;
    let mut rows = vec![Row {
        label: "Queueing",
        span: span(p.queue_start, p.queue_end),
        note: "",
    }];
    if p.redirect_start > 0.0 {
        rows.push(Row {
            label: "Redirects",
            span: span(p.redirect_start, p.redirect_end),
            note: "",
        });
    }
    let conn_note = if reused { "reused connection" } else { "" };
    rows.extend([
        Row {
            label: "DNS lookup",
            span: if reused {
                None
            } else {
                span(p.domain_look_up_start, p.domain_look_up_end)
            },
            note: conn_note,
        },
        Row {
            label: "Initial connection",
            span: if reused {
                None
            } else {
                span(p.connect_start, p.connect_end)
            },
            note: conn_note,
        },
        Row {
            label: "SSL",
            span: span(p.ssl_connection_start, p.ssl_connection_end),
            note: if reused {
                "reused connection"
            } else {
                "plain HTTP"
            },
        },
        Row {
            label: "Request sent",
            span: span(p.request_start, p.request_end),
            note: "",
        },
        Row {
            label: "Waiting (TTFB)",
            span: span(p.request_end, p.response_start),
            note: "",
        },
        Row {
            label: "Content download",
            span: span(p.response_start, p.response_end),
            note: "",
        },
    ]);
    rows
}

/// Renders the waterfall for `cols` columns.
pub fn render(p: &Profile, cols: usize) -> String {
    let origin = p.invoke_start;
    let total = (p.response_end - origin).max(0.001);
    let bar = cols.saturating_sub(LABEL + VALUE + 4).max(10);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<LABEL$} 0 ms{:>w$}",
        "Timing",
        format!("{total:.2} ms"),
        w = bar - 4
    );
    for row in rows(p) {
        let (cells, value) = match row.span {
            Some((a, b)) => {
                let from = (((a - origin) / total) * bar as f64).floor() as usize;
                let to = (((b - origin) / total) * bar as f64).ceil() as usize;
                let from = from.min(bar - 1);
                let to = to.clamp(from + 1, bar);
                let mut cells = " ".repeat(from);
                cells.push_str(&"█".repeat(to - from));
                cells.push_str(&" ".repeat(bar - to));
                (cells, format!("{:.2} ms", b - a))
            }
            None => (format!("{:<bar$}", row.note), "—".to_string()),
        };
        let _ = writeln!(out, "{:<LABEL$} {cells}  {value:>VALUE$}", row.label);
    }
    let _ = writeln!(
        out,
        "{:<LABEL$} {:<bar$}  {:>VALUE$}",
        "Total",
        "",
        format!("{total:.2} ms")
    );
    let _ = writeln!(
        out,
        "{} {}:{}{}  rtt {:.2} ms  sent {} B  received {} B  {:.0} kbit/s",
        p.protocol,
        p.peer_ip,
        p.port,
        if p.socket_reused { " (reused)" } else { "" },
        p.rtt,
        p.send_bytes_count,
        p.received_byted_count,
        p.throughput_kbps
    );
    let _ = writeln!(
        out,
        "estimates: http rtt {:.1} ms, transport rtt {:.2} ms, downlink {:.0} kbit/s, nettype {} ({})",
        p.http_rtt_estimate,
        p.transport_rtt_estimate,
        p.downstream_throughput_kbps_estimate,
        p.estimate_nettype,
        EffectiveConnectionType::from_number(p.estimate_nettype).name()
    );
    out
}
