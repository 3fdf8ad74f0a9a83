//! Exit statuses: one per outcome class, documented in `--help` and the README.

use wxdl::{FailReason, Outcome};

/// Success with an HTTP 2xx or 3xx status.
pub const OK: u8 = 0;
/// wxdl itself could not run.
pub const INTERNAL: u8 = 1;
/// Bad command line.
pub const USAGE: u8 = 2;
/// Batch: at least one download failed or got an HTTP error.
pub const BATCH_FAILED: u8 = 3;
/// Success with an HTTP 4xx status.
pub const HTTP_4XX: u8 = 4;
/// Success with an HTTP 5xx or other non-2xx/3xx status.
pub const HTTP_OTHER: u8 = 5;
/// `wxdl run`: the script threw an uncaught exception or left a rejection unhandled.
pub const SCRIPT_FAILED: u8 = 6;
/// Failures are `FAIL_BASE + FailReason::index()`.
pub const FAIL_BASE: u8 = 10;

/// The exit status for one download's outcome.
pub fn for_outcome(outcome: &Outcome) -> u8 {
    match outcome {
        Ok(s) => for_http_status(s.status_code),
        Err(f) => for_reason(f.reason),
    }
}

/// The exit status for an HTTP status (`-f` refusals use it too: 4 or 5).
pub fn for_http_status(status: u16) -> u8 {
    match status {
        200..=399 => OK,
        400..=499 => HTTP_4XX,
        _ => HTTP_OTHER,
    }
}

/// The exit status for a failure reason.
pub fn for_reason(reason: FailReason) -> u8 {
    FAIL_BASE + reason.index() as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_codes_are_distinct_and_documented_range() {
        let codes: Vec<u8> = FailReason::ALL.iter().map(|r| for_reason(*r)).collect();
        assert_eq!(codes.first(), Some(&10));
        assert_eq!(codes.last(), Some(&29));
        assert_eq!(for_reason(FailReason::SslHandshakeFail), 19);
        assert_eq!(for_reason(FailReason::ExceedMaxFileSize), 16);
        assert_eq!(for_reason(FailReason::Interrupted), 28);
    }

    /// The failure table in docs/errors.md has a row for every reason, with its errno and exit
    /// code; the exit tables in `--help` and the README's list every reason with its code.
    #[test]
    fn failure_table_has_every_reason() {
        let table = include_str!("../../../docs/errors.md");
        for reason in FailReason::ALL {
            let row = format!("| `{}` | {} |", reason.reason(), reason.errno());
            let line = table
                .lines()
                .find(|l| l.starts_with(&row))
                .unwrap_or_else(|| panic!("docs/errors.md lacks {row:?}"));
            let code = format!("| {} |", for_reason(reason));
            assert!(line.contains(&code), "{line} lacks exit {code}");
        }
    }

    #[test]
    fn exit_tables_name_every_reason() {
        let readme = include_str!("../../../README.md");
        let help = crate::args::AFTER_HELP;
        for reason in FailReason::ALL {
            let code = for_reason(reason);
            let entry = format!("{code} {}", reason.reason());
            let squeezed = help.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(squeezed.contains(&entry), "--help lacks {entry:?}");
            let row = format!("{code} `{}`", reason.reason());
            assert!(readme.contains(&row), "README lacks {row:?}");
        }
    }
}
