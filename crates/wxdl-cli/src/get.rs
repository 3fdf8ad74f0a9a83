//! `wxdl get`: one URL, or a batch from a file, over one client.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::IntoFuture;
use std::hash::{BuildHasher, RandomState};
use std::io::Write;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use wxdl::transport::NetworkSettings;
use wxdl::{AbortHandle, Client, DownloadOptions, Outcome, TaskFuture};
use wxdl_wx::config::ClientConfig;

use crate::args::{ClientArgs, GetArgs};
use crate::exit;
use crate::har::Har;
use crate::render;
use crate::signals::{self, Interrupt};
use crate::state;
use crate::urls::{self, UrlLines};
use crate::watch::{FailGate, Watch};
use crate::waterfall;

/// A command-line problem, reported with exit status 2 (or 1 for environment problems).
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError {
            code: exit::USAGE,
            message: message.into(),
        }
    }

    pub fn internal(message: impl Into<String>) -> CliError {
        CliError {
            code: exit::INTERNAL,
            message: message.into(),
        }
    }
}

/// Runs `wxdl get` and returns the exit status.
pub async fn run(args: GetArgs) -> Result<u8, CliError> {
    refuse_ignored(&args)?;
    warn_owned_headers(&args);
    let concurrency = if args.input.is_some() { args.jobs() } else { 1 };
    let data_dir = state::data_dir(args.client.data_dir.as_deref());
    // --limit-rate is the client's: the socket reads of all its downloads (a batch's whole
    // bandwidth; one download's, split or not) are held to it.
    let shared_rate = args.limit_rate;
    let client = build_client(&args.client, &data_dir, concurrency, shared_rate)?;
    let mut run = Run {
        args: &args,
        har: args.har.as_ref().map(|_| Har::default()),
        interrupt: Interrupt::listen(),
    };
    let code = match &args.input {
        Some(list) => run.batch(&client, list).await?,
        None => run.single(&client).await?,
    };
    let code = run.interrupt.signal().map_or(code, signals::exit_status);
    state::save_estimator(&data_dir, &client.estimator_state());
    state::save_alt_svc(&data_dir, &client.alt_svc_state());
    if let (Some(har), Some(path)) = (&run.har, &args.har) {
        har.save(path)?;
    }
    Ok(code)
}

/// Refuses, with a sentence, flags that would be ignored or cannot work together, before any
/// network: a command that does less than it says is worse than one that says no.
fn refuse_ignored(args: &GetArgs) -> Result<(), CliError> {
    let batch = args.input.is_some();
    let to_stdout = args.output.as_deref() == Some(Path::new("-"));
    let refusals: [(bool, &str); 11] = [
        (args.head, "-I/--head: wxdl get downloads bodies; for the response head alone, `wxdl request -I URL`"),
        (args.dir.is_some() && !batch, "-d DIR is where a batch (-i URLS_FILE) saves its files; for one URL, use -o DIR/NAME"),
        (args.jobs.is_some() && !batch, "-j N is how many downloads of a batch (-i URLS_FILE) run at once; one URL is one download"),
        (args.remote_header_name && !args.remote_name, "-J names the file after the server's Content-Disposition and goes with -O (-O -J)"),
        (args.clobber && !args.remote_header_name, "--clobber lets -O -J replace a file of the name the server suggested; -o FILE and -O always replace their file"),
        (args.resume && to_stdout, "-C keeps a partial file beside its target to continue it; stdout (-o -) has none: give -o FILE"),
        (args.resume && args.split.is_some_and(|n| n > 1), "-C and --split do not go together: a split download is not continued; choose one"),
        (args.retry == 0 && args.retry_delay.is_some(), "--retry-delay sets the wait between retries; it needs --retry N"),
        (args.retry == 0 && args.retry_http, "--retry-http adds HTTP 408, 429 and 5xx to what is retried; it needs --retry N"),
        (batch && (args.sha256.is_some() || args.integrity.is_some()), "--sha256/--integrity check one file; a batch's files cannot all have one digest"),
        (args.client.insecure && args.client.strict(), "-k/--insecure is refused under the strict policy (--domain), which checks every certificate as WeChat does; trust a private CA with --cacert FILE"),
    ];
    match refusals.iter().find(|(refused, _)| *refused) {
        Some((_, sentence)) => Err(CliError::usage(*sentence)),
        None => Ok(()),
    }
}

/// Says once which `-H` headers the engine drops (it sets them itself), as curl users expect
/// to hear rather than find out.
fn warn_owned_headers(args: &GetArgs) {
    let strict = args.client.strict();
    for h in &args.headers {
        let name = h.split_once(':').map_or(h.as_str(), |(n, _)| n).trim();
        if wxdl::options::is_engine_owned_header(name, strict) {
            eprintln!("wxdl: warning: -H {name}: wxdl sets this header itself; yours is dropped");
        }
    }
}

/// The client for a run: the flags fill the one client configuration every face fills
/// (`wxdl_wx::config::ClientConfig`), plus what only a command line has: the sandbox under the
/// data dir, the saved estimator and Alt-Svc state, and `-k`.
pub fn build_client(
    args: &ClientArgs,
    data_dir: &Path,
    concurrency: usize,
    rate_limit: Option<u64>,
) -> Result<Client, CliError> {
    let config = client_config(args, data_dir, concurrency, rate_limit);
    let mut builder = config.builder().map_err(|e| {
        CliError::usage(match e.field {
            "cacert" => format!("--cacert {}", e.message),
            "resolve" => format!("--resolve {}", e.message),
            "network" => format!("network emulation: {}", e.message),
            _ => e.message,
        })
    })?;
    if let Some(saved) = state::load_estimator(data_dir) {
        builder = builder.estimator_state(saved);
    }
    if let Some(saved) = state::load_alt_svc(data_dir) {
        builder = builder.alt_svc_state(saved);
    }
    if args.insecure {
        if args.strict() {
            return Err(CliError::usage(
                "-k/--insecure is refused under the strict policy (--domain); trust a private \
                 CA with --cacert FILE",
            ));
        }
        eprintln!(
            "wxdl: warning: -k/--insecure: server certificates are not checked; anyone on the \
             path can read and change this download (trust a private CA with --cacert FILE)"
        );
        builder = builder.danger_accept_invalid_certs(true);
    }
    let client = builder
        .build()
        .map_err(|e| CliError::internal(e.to_string()))?;
    // The sandbox does not grow forever: temp and partial files past their retention go now
    // (quietly: `wxdl clean` is the verbose way; a failure here only means they stay).
    let _ = client.sandbox().expire(wxdl::store::TEMP_RETENTION);
    Ok(client)
}

/// The flags as the client configuration every face fills.
fn client_config(
    args: &ClientArgs,
    data_dir: &Path,
    concurrency: usize,
    rate_limit: Option<u64>,
) -> ClientConfig {
    let mut config = ClientConfig::default();
    config.root = Some(
        args.root
            .clone()
            .unwrap_or_else(|| data_dir.join("sandbox")),
    );
    config.appid = args.appid.clone();
    config.app_version = args.app_version.clone();
    let list = |l: &Vec<String>| (!l.is_empty()).then(|| l.clone());
    config.domains = list(&args.domains);
    config.download_domains = list(&args.download_domains);
    config.request_domains = list(&args.request_domains);
    config.upload_domains = list(&args.upload_domains);
    config.concurrency_scope = args.concurrency_scope.clone();
    config.cacert = args
        .cacert
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    config.concurrency = Some(concurrency.max(1));
    config.user_agent = args.user_agent.clone();
    config.resolve = args.resolve.clone();
    config.rate_limit = rate_limit;
    config.quic_handshake_timeout = args.quic_handshake_timeout;
    config.network = NetworkSettings {
        network: args.network.clone(),
        down: args.down,
        up: args.up,
        latency: args.latency,
        jitter: args.jitter,
        loss: args.loss,
        timeline: args.network_timeline.clone(),
        seed: args.seed,
    };
    config
}

/// `-H 'Name: value'` as curl reads it: the name trimmed, the value without its leading blanks.
pub fn header_line(h: &str) -> Result<(&str, &str), CliError> {
    let (name, value) = h
        .split_once(':')
        .ok_or_else(|| CliError::usage(format!("-H {h:?}: expected 'Name: value'")))?;
    Ok((name.trim(), value.trim_start()))
}

/// `-H` lines as a Mini Program's `header` object.
pub fn header_object(
    lines: &[String],
) -> Result<serde_json::Map<String, serde_json::Value>, CliError> {
    lines
        .iter()
        .map(|h| header_line(h).map(|(n, v)| (n.to_owned(), serde_json::Value::from(v))))
        .collect()
}

/// Whether `-o PATH` means this process's stdout: `-`, or a name of descriptor 1
/// (`/dev/stdout`, `/dev/fd/1`, `/proc/self/fd/1`). The body is then written through to the
/// descriptor — a pipe, a terminal, or a file the shell opened (appended to, never replaced).
fn is_stdout(path: &Path) -> bool {
    ["-", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"]
        .iter()
        .any(|s| path.as_os_str() == *s)
}

/// A URL as a curl user types it: without a scheme it is `http://` (the JS host stays strict).
pub fn with_scheme(url: &str) -> String {
    let url = url.trim();
    if url.is_empty() || url.contains("://") {
        url.to_owned()
    } else {
        format!("http://{url}")
    }
}

fn options(args: &GetArgs, url: &str) -> Result<DownloadOptions, CliError> {
    let mut opts = DownloadOptions::new(with_scheme(url))
        .enable_profile(!args.no_profile)
        .enable_http2(args.http2)
        .enable_quic(args.http3 || args.quic)
        .quic_hint(args.http3);
    for h in &args.headers {
        let (name, value) = header_line(h)?;
        opts = opts.header(name, value);
    }
    let asked_coding = args.headers.iter().any(|h| {
        h.split(':')
            .next()
            .is_some_and(|n| n.trim().eq_ignore_ascii_case("accept-encoding"))
    });
    if args.compressed && !asked_coding {
        // The engine decodes whatever it was asked for with Accept-Encoding (decode.rs).
        opts = opts.header("Accept-Encoding", "gzip, deflate, br, zstd");
    }
    if let Some(ms) = args.timeout {
        opts = opts.timeout(Duration::from_millis(ms));
    }
    if let Some(max) = args.max_bytes {
        opts = opts.max_bytes(max);
    }
    if let Some(expected) = args.sha256.as_ref().or(args.integrity.as_ref()) {
        opts = opts.integrity(expected.clone());
    }
    opts = opts
        .retry(args.retry)
        .retry_http(args.retry_http)
        .resume(args.resume)
        .save_empty(args.save_empty)
        .split(args.split.unwrap_or(1));
    if let Some(ms) = args.retry_delay {
        opts = opts.retry_delay(Duration::from_millis(ms));
    }
    if let Some(ms) = args.stall_timeout {
        opts = opts.stall_timeout(Duration::from_millis(ms));
    }
    if let Some(fp) = &args.file_path {
        opts = opts.file_path(fp.clone());
    }
    if args.remote_name {
        opts = opts.host_path(file_name_of(&with_scheme(url)));
        if args.remote_header_name {
            opts = opts.name_from_response(args.clobber);
        }
    }
    if let Some(out) = &args.output {
        opts = opts.host_path(out.clone());
        if is_stdout(out) {
            let stdout = std::io::stdout()
                .as_fd()
                .try_clone_to_owned()
                .map_err(|e| CliError::internal(format!("-o -: {e}")))?;
            opts = opts.output_file(std::fs::File::from(stdout));
        }
    }
    Ok(opts)
}

/// One invocation of `wxdl get`: its arguments and what it collects across downloads.
struct Run<'a> {
    args: &'a GetArgs,
    har: Option<Har>,
    interrupt: Interrupt,
}

/// A started download of a batch: its URL, a handle to abort it, its line in the live view,
/// and its outcome to come.
struct Started {
    url: String,
    gate: FailGate,
    abort: AbortHandle,
    line: render::Line,
    outcome: TaskFuture,
}

impl Run<'_> {
    async fn single(&mut self, client: &Client) -> Result<u8, CliError> {
        let args = self.args;
        let url = args.url.as_deref().unwrap_or_default();
        let bar = render::byte_bar(args.quiet);
        let b = bar.clone();
        let opts = options(args, url)?.on_progress_update(move |p| render::update_bar(&b, p));
        let watch = Watch {
            heads: args.verbose,
            retries: args.retry > 0 && !args.quiet,
            label: None,
        };
        let opts = watch.attach(opts, bar.clone());
        let gate = FailGate::default();
        let opts = match args.fail {
            true => gate.arm(opts),
            false => opts,
        };
        let task = client.download(opts);
        gate.bind(task.abort_handle());
        let outcome = signals::until_interrupted(task, &mut self.interrupt).await;
        bar.finish_and_clear();
        if let Some(status) = self.refused(&outcome, gate.refused(), None) {
            return Ok(exit::for_http_status(status));
        }
        self.report(&outcome, None);
        Ok(exit::for_outcome(&outcome))
    }

    /// `-f`: an HTTP error status leaves no file. The gate aborted the download on the final
    /// answer's head (`gated`); should a body have been saved all the same (the abort came
    /// too late), the saved file is removed now. Reports it and returns the status; `None` when `-f` had no say.
    fn refused(&mut self, outcome: &Outcome, gated: Option<u16>, url: Option<&str>) -> Option<u16> {
        let args = self.args;
        let status = match (gated, outcome) {
            (Some(code), Err(_)) => code,
            (_, Ok(s)) if args.fail && s.status_code >= 400 => {
                // Only a regular file is removed (never a device given with -o).
                if std::fs::symlink_metadata(&s.saved_path).is_ok_and(|m| m.is_file()) {
                    let _ = std::fs::remove_file(&s.saved_path);
                }
                s.status_code
            }
            _ => return None,
        };
        let label = url.map(|u| format!("{u}: ")).unwrap_or_default();
        let sentence = format!(
            "{label}HTTP {status} {}: nothing saved (-f/--fail)",
            render::reason_phrase(status)
        );
        if args.json {
            // The engine's own result (the abort the gate caused), with the status that
            // caused it: faces never word an errMsg themselves.
            let mut v = render::outcome_json(outcome);
            if let Some(obj) = v.as_object_mut() {
                obj.insert("statusCode".into(), status.into());
                if let Some(url) = url {
                    obj.insert("url".into(), url.into());
                }
            }
            if args.output.as_deref() == Some(Path::new("-")) {
                eprintln!("{v}");
            } else {
                println!("{v}");
            }
        }
        eprintln!("wxdl: {sentence}");
        Some(status)
    }

    /// Prints one outcome (result line or JSON, then the waterfall) and adds it to the HAR.
    fn report(&mut self, outcome: &Outcome, url: Option<&str>) {
        let args = self.args;
        // With `-o -` the body owns stdout: what would be printed there goes to stderr.
        let body_on_stdout = args.output.as_deref().is_some_and(is_stdout);
        let say = |line: &str| {
            if body_on_stdout {
                eprintln!("{line}");
            } else {
                println!("{line}");
            }
        };
        if args.json {
            let mut v = render::outcome_json(outcome);
            if let Some(obj) = v.as_object_mut() {
                if let Some(url) = url {
                    obj.insert("url".into(), url.into());
                }
                // [beyond] Where the file is on this machine (a batch's -d, -o, or the sandbox).
                if let Ok(s) = outcome {
                    obj.insert(
                        "savedPath".into(),
                        s.saved_path.display().to_string().into(),
                    );
                }
            }
            say(&v.to_string());
        } else if !args.quiet || outcome.is_err() {
            let line = render::human_line(outcome, url);
            match outcome {
                Ok(_) => say(&line),
                Err(_) => eprintln!("wxdl: {line}"),
            }
        }
        let Ok(success) = outcome else { return };
        // A single download's heads were shown live (watch.rs); a batch's come with its result.
        if args.verbose && url.is_some() {
            eprint!("{}", render::verbose(success));
        }
        if let Some(har) = &mut self.har {
            har.add(success);
        }
        if let (true, Some(p)) = (args.profile, &success.profile) {
            let view = waterfall::render(p, waterfall::width());
            if args.json || body_on_stdout {
                eprint!("{view}");
            } else {
                print!("{view}");
                let _ = std::io::stdout().flush();
            }
        }
    }

    /// Streams the list: at most a window of downloads is started ahead of the one reported
    /// next (results come in list order), so any length runs in flat memory and descriptors.
    async fn batch(&mut self, client: &Client, list: &Path) -> Result<u8, CliError> {
        let args = self.args;
        let file = std::fs::File::open(list)
            .map_err(|e| CliError::usage(format!("-i {}: {e}", list.display())))?;
        let mut urls = UrlLines::new(file);
        let window = args.jobs().saturating_mul(4).max(64);
        let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from("."));
        std::fs::create_dir_all(&dir)
            .map_err(|e| CliError::usage(format!("-d {}: cannot create it: {e}", dir.display())))?;
        let mut names = UniqueNames::default();
        let view = render::BatchView::new(args.quiet, urls::count(list).unwrap_or(0));
        let start = Instant::now();
        let mut started: VecDeque<Started> = VecDeque::with_capacity(window);
        let mut list_error = None;
        let (mut ok, mut http_err, mut failed, mut bytes) = (0usize, 0usize, 0usize, 0u64);
        loop {
            while self.interrupt.signal().is_none()
                && list_error.is_none()
                && started.len() < window
            {
                match urls.next() {
                    Some(Ok(url)) => {
                        let line = view.line(&url);
                        let mut opts = options(args, &url)?
                            .host_path(dir.join(names.claim(&with_scheme(&url))));
                        if view.is_live() {
                            let feed = line.clone();
                            opts = opts.on_progress_update(move |p| feed.update(p));
                        }
                        let watch = Watch {
                            heads: false,
                            retries: args.retry > 0 && !args.quiet,
                            label: Some(url.clone()),
                        };
                        let opts = watch.attach(opts, view.overall().clone());
                        let gate = FailGate::default();
                        let opts = match args.fail {
                            true => gate.arm(opts),
                            false => opts,
                        };
                        let task = client.download(opts);
                        gate.bind(task.abort_handle());
                        started.push_back(Started {
                            url,
                            gate,
                            abort: task.abort_handle(),
                            line,
                            outcome: task.into_future(),
                        });
                    }
                    Some(Err(e)) => list_error = Some(e),
                    None => break,
                }
            }
            let Some(mut next) = started.pop_front() else {
                break;
            };
            let outcome = tokio::select! {
                o = &mut next.outcome => o,
                _ = self.interrupt.wait() => {
                    next.abort.abort();
                    started.iter().for_each(|s| s.abort.abort());
                    next.outcome.await
                }
            };
            next.line.done();
            view.overall().inc(1);
            let gated = next.gate.refused();
            if view
                .suspend(|| self.refused(&outcome, gated, Some(&next.url)))
                .is_some()
            {
                http_err += 1;
                continue;
            }
            match &outcome {
                Ok(s) if (200..400).contains(&s.status_code) => ok += 1,
                Ok(_) => http_err += 1,
                Err(_) => failed += 1,
            }
            if let Ok(s) = &outcome {
                bytes += s.data_length;
            }
            view.suspend(|| self.report(&outcome, Some(&next.url)));
        }
        view.finish();
        let total = ok + http_err + failed;
        if !args.quiet {
            eprintln!(
                "wxdl: {}: {ok} ok, {}, {failed} failed; {} in {:.2} s",
                plural(total as u64, "download"),
                plural(http_err as u64, "HTTP error"),
                plural(bytes, "byte"),
                start.elapsed().as_secs_f64()
            );
        }
        if let Some(e) = list_error {
            return Err(CliError::usage(format!("-i {}: {e}", list.display())));
        }
        Ok(if http_err + failed > 0 {
            exit::BATCH_FAILED
        } else {
            exit::OK
        })
    }
}

/// `1 download`, `2 downloads`.
fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// File names for a batch: each URL's last path segment, made unique within the batch
/// (`f.bin`, `f-1.bin`, `f-2.bin`, …). Each name remembers the next suffix to try, so a batch of
/// 100 000 URLs ending alike costs what it costs to name them, not the square of it.
///
/// Names handed out are remembered by a keyed 64-bit fingerprint, not as strings, so a batch of
/// 100 000 files holds 100 000 `u64`s (about 1.2 MiB), whatever the names' length. Two distinct
/// names share a fingerprint with odds of about n² / 2⁶⁵ (3 in 10¹⁰ for 100 000 names); the cost
/// of that is a `-1` suffix where none was needed, never an overwrite.
#[derive(Default)]
struct UniqueNames {
    keys: RandomState,
    used: HashSet<u64>,
    next: HashMap<String, u64>,
}

impl UniqueNames {
    fn claim(&mut self, url: &str) -> String {
        let base = file_name_of(url);
        if self.take(&base) {
            return base;
        }
        let (stem, ext) = match base.rsplit_once('.') {
            Some((s, e)) if !s.is_empty() => (s.to_string(), format!(".{e}")),
            _ => (base.clone(), String::new()),
        };
        let next = self.next.entry(base).or_insert(1);
        loop {
            let candidate = format!("{stem}-{next}{ext}");
            *next += 1;
            if self.used.insert(self.keys.hash_one(&candidate)) {
                return candidate;
            }
        }
    }

    /// Marks `name` as handed out; false when it already was.
    fn take(&mut self, name: &str) -> bool {
        self.used.insert(self.keys.hash_one(name))
    }
}

/// The URL's last path segment, as a safe single file name.
fn file_name_of(url: &str) -> String {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or("")
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or("");
    let last = path.split_once('/').map(|(_, p)| p).unwrap_or("");
    let last = last.rsplit('/').next().unwrap_or("");
    let clean: String = last
        .chars()
        .map(|c| if c.is_control() || c == '\\' { '_' } else { c })
        .collect();
    match clean.as_str() {
        "" | "." | ".." => "index.html".to_string(),
        _ => clean,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_without_a_scheme_are_http_and_summaries_count_right() {
        assert_eq!(with_scheme("example.com/a"), "http://example.com/a");
        assert_eq!(with_scheme("https://x/"), "https://x/");
        assert_eq!(with_scheme("ftp://x/"), "ftp://x/");
        assert_eq!(with_scheme(""), "");
        assert_eq!(plural(1, "download"), "1 download");
        assert_eq!(plural(0, "HTTP error"), "0 HTTP errors");
    }

    #[test]
    fn names_are_unique_and_safe() {
        let mut n = UniqueNames::default();
        assert_eq!(n.claim("http://h/a/f.bin?x=1"), "f.bin");
        assert_eq!(n.claim("http://h/b/f.bin"), "f-1.bin");
        assert_eq!(n.claim("http://h/c/f.bin"), "f-2.bin");
        assert_eq!(n.claim("http://h/"), "index.html");
        assert_eq!(n.claim("http://h"), "index-1.html");
        assert_eq!(n.claim("http://h/x/.."), "index-2.html");
        assert_eq!(n.claim("http://h/noext"), "noext");
        assert_eq!(n.claim("http://h/noext"), "noext-1");
        // A name already taken by another URL's own is skipped.
        assert_eq!(n.claim("http://h/g-1.txt"), "g-1.txt");
        assert_eq!(n.claim("http://h/g.txt"), "g.txt");
        assert_eq!(n.claim("http://h/g.txt"), "g-2.txt");
        // Many alike: each takes the next suffix (one step, not a scan from 1).
        for _ in 0..50_000 {
            n.claim("http://h/many.bin");
        }
        assert_eq!(n.claim("http://h/many.bin"), "many-50000.bin");
    }
}
