//! Habits people bring from curl and wget: `-C -` read as curl's "continue where the file
//! ends", flags wxdl lacks answered with the nearest wxdl flag, and `wxdl URL` answered with
//! "did you mean `wxdl get URL`", instead of clap's generic advice.

use std::ffi::OsString;

use clap::error::{ContextKind, ContextValue, ErrorKind};

use crate::exit;

/// Flags of curl and wget that wxdl lacks, and what to use instead.
const NEAREST: &[(&[&str], &str)] = &[
    (&["-x", "--proxy", "--socks5", "--noproxy"], "wxdl connects directly (no proxy); --resolve HOST:PORT:ADDR sends a host to another address"),
    (&["-m", "--max-time"], "use --timeout MS (the whole download, in milliseconds)"),
    (&["--connect-timeout"], "use --timeout MS (the whole download) or --stall-timeout MS (no byte for that long)"),
    (&["--max-filesize"], "use --max-bytes SIZE (e.g. 10M)"),
    (&["-X", "--request"], "wxdl get only GETs; for another method: wxdl request -X METHOD URL"),
    (&["--data", "--data-binary", "--data-raw", "--data-urlencode", "--json-data", "-F", "--form", "--upload-file", "--post-data", "--post-file"], "a body goes with `wxdl request -d DATA URL` (-d @FILE sends a file's bytes, -d @- standard input's)"),
    (&["-T"], "use --timeout MS (wget's -T); uploads (curl's -T) come with wx.uploadFile"),
    (&["-u", "--user", "--http-user", "--password"], "use -H 'Authorization: Basic BASE64(user:password)'"),
    (&["-b", "--cookie", "--load-cookies"], "use -H 'Cookie: name=value'"),
    (&["-e", "--referer"], "wxdl sets the Referer itself, as WeChat does: --appid and --app-version shape it"),
    (&["-S", "--show-error"], "errors are always shown, also with -s"),
    (&["-#", "--progress-bar", "--show-progress"], "the progress bar is on by default on a terminal (-q hides it)"),
    (&["-w", "--write-out"], "use --json (the result object, with timings) or --profile"),
    (&["-D", "--dump-header", "--save-headers", "--server-response"], "use -v (the heads on stderr) or --har FILE"),
    (&["--create-dirs"], "use -d DIR (created when missing, with -i)"),
    (&["-Z", "--parallel"], "use -i URLS_FILE -j N (a batch)"),
    (&["--parallel-max"], "use -j N (with -i)"),
    (&["--retry-max-time", "--retry-all-errors", "--retry-connrefused", "--waitretry"], "use --retry N, --retry-delay MS, --retry-http"),
    (&["--http1.1", "--http1.0", "--http2-prior-knowledge"], "HTTP/1.1 is the default; --http2 allows h2 over TLS"),
    (&["--http3-only"], "use --http3"),
    (&["--output-dir", "-P", "--directory-prefix"], "use -d DIR (with -i) or -o DIR/NAME"),
    (&["-c"], "use -C (continue where the file ends)"),
    (&["-t", "--tries"], "use --retry N"),
    (&["--no-check-certificate"], "use -k/--insecure (better: --cacert FILE)"),
    (&["--ca-certificate", "--capath", "--ca-directory", "--ca-native"], "use --cacert FILE (repeatable)"),
    (&["-U"], "use -A/--user-agent UA"),
    (&["-nc", "--no-clobber"], "-o and -O replace atomically; -O -J never replaces a file unless --clobber"),
    (&["-4", "-6", "--ipv4", "--ipv6", "--inet4-only", "--inet6-only", "--interface"], "use --resolve HOST:PORT:ADDR to pick the address"),
    (&["-E", "--cert", "--key", "--certificate", "--private-key"], "client certificates are not supported"),
    (&["-r", "--range"], "use -C to continue a file where it ends, or -H 'Range: bytes=A-B'"),
    (&["-n", "--netrc"], "use -H 'Authorization: …'"),
    (&["--include"], "use -v (heads on stderr)"),
];

/// Rewrites the habits clap cannot read: `-C -` / `--continue-at -` is `-C` (the `-` would
/// otherwise be taken for the URL). An offset after `-C` is refused with a sentence.
pub fn normalize(args: Vec<OsString>) -> Result<Vec<OsString>, String> {
    let mut out = Vec::with_capacity(args.len());
    let mut iter = args.into_iter().peekable();
    while let Some(arg) = iter.next() {
        let is_continue = matches!(arg.to_str(), Some("-C" | "--continue" | "--continue-at"));
        if arg == "--" {
            out.push(arg);
            out.extend(iter);
            break;
        }
        out.push(arg);
        if !is_continue {
            continue;
        }
        match iter.peek().and_then(|n| n.to_str()) {
            Some("-") => {
                iter.next();
            }
            Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                return Err(format!(
                    "-C {n}: wxdl continues where the partial file ends (it checks that the \
                     file did not change meanwhile); give `-C -` or `-C`, not an offset"
                ));
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The nearest wxdl flag for a curl or wget flag wxdl lacks.
pub fn nearest(flag: &str) -> Option<&'static str> {
    let flag = flag.split_once('=').map_or(flag, |(f, _)| f);
    NEAREST
        .iter()
        .find(|(names, _)| names.contains(&flag))
        .map(|(_, hint)| *hint)
}

/// Whether a word on the command line looks like a URL (`wxdl URL` without `get`).
fn looks_like_url(word: &str) -> bool {
    word.contains("://")
        || word.starts_with("localhost")
        || word
            .split(['/', ':'])
            .next()
            .is_some_and(|host| host.contains('.') && !host.starts_with('-'))
}

/// Reports a command-line error the way a user can act on it, and returns the exit status.
/// Errors that are not about an unknown word are clap's own (help and version included).
pub fn explain(err: clap::Error, argv: &[OsString]) -> u8 {
    let words: Vec<String> = argv
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let subcommand_given = words.first().is_some_and(|w| {
        ["get", "run", "demo", "clean", "completions", "man", "help"].contains(&w.as_str())
    });
    let usage = match err.get(ContextKind::Usage) {
        Some(ContextValue::StyledStr(u)) => u.to_string(),
        _ => String::new(),
    };
    let invalid = match err
        .get(ContextKind::InvalidArg)
        .or(err.get(ContextKind::InvalidSubcommand))
    {
        Some(ContextValue::String(s)) => s.clone(),
        _ => String::new(),
    };
    let tip = match err.kind() {
        ErrorKind::InvalidSubcommand | ErrorKind::UnknownArgument if !subcommand_given => {
            words.iter().find(|w| looks_like_url(w)).map(|_| {
                format!(
                    "did you mean `wxdl get {}`? (downloads go through `wxdl get`)",
                    words.join(" ")
                )
            })
        }
        _ => None,
    };
    let tip = tip.or_else(|| match err.kind() {
        ErrorKind::UnknownArgument => Some(match nearest(&invalid) {
            Some(hint) => format!("wxdl has no {invalid}; {hint}"),
            None => match err.get(ContextKind::SuggestedArg) {
                Some(ContextValue::String(s)) => format!("a similar option exists: '{s}'"),
                _ => "see `wxdl get --help` for the options".to_owned(),
            },
        }),
        _ => None,
    });
    let Some(tip) = tip else {
        // clap's own report (and exit status 0 for --help and --version).
        let _ = err.print();
        return if err.use_stderr() {
            exit::USAGE
        } else {
            exit::OK
        };
    };
    let what = match err.kind() {
        ErrorKind::InvalidSubcommand => format!("unrecognized subcommand '{invalid}'"),
        _ => format!("unexpected argument '{invalid}' found"),
    };
    eprintln!("error: {what}\n\n  tip: {tip}\n");
    if !usage.is_empty() {
        eprintln!("{usage}\n");
    }
    eprintln!("For more information, try '--help'.");
    exit::USAGE
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn continue_dash_is_curls() {
        assert_eq!(
            normalize(os(&["wxdl", "get", "-C", "-", "-o", "f", "URL"])).unwrap(),
            os(&["wxdl", "get", "-C", "-o", "f", "URL"])
        );
        assert_eq!(
            normalize(os(&["wxdl", "get", "--continue-at", "-", "URL"])).unwrap(),
            os(&["wxdl", "get", "--continue-at", "URL"])
        );
        // `-o -` stays stdout; after `--` nothing is rewritten.
        assert_eq!(
            normalize(os(&["wxdl", "get", "-o", "-", "--", "-C", "-"])).unwrap(),
            os(&["wxdl", "get", "-o", "-", "--", "-C", "-"])
        );
        assert!(normalize(os(&["wxdl", "get", "-C", "100", "URL"])).is_err());
    }

    #[test]
    fn curl_and_wget_flags_have_a_nearest() {
        assert!(nearest("-x").unwrap().contains("--resolve"));
        assert!(nearest("--max-time=5").unwrap().contains("--timeout"));
        assert!(nearest("--no-check-certificate").unwrap().contains("-k"));
        assert_eq!(nearest("--frobnicate"), None);
        assert!(looks_like_url("127.0.0.1:8000/a.txt"));
        assert!(looks_like_url("https://x/"));
        assert!(looks_like_url("example.com"));
        assert!(!looks_like_url("gte"));
    }
}
