//! Command-line arguments (clap): `wxdl get`, `run`, `demo`, `clean`, `completions`, `man`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub const AFTER_HELP: &str = "\
Examples:
  wxdl get https://example.com/a.mp3                 save to the sandbox (wxfile://tmp_…)
  wxdl get https://example.com/a.mp3 -o a.mp3        save to a local file (atomically)
  wxdl get URL --json                                print the Mini Program result object
  wxdl get URL --profile --har run.har               timing waterfall, and an HTTP Archive
  wxdl get URL -H 'Authorization: Bearer t' --timeout 5000
  wxdl get https://localhost:8443/f --cacert ca.pem  trust a private CA
  wxdl get -i urls.txt -j 10 -d out/ --json          batch: one JSON line per URL
  wxdl get -sLf --compressed URL -o a.json           curl habits: quiet, fail on 4xx/5xx, gzip
  wxdl get -C - URL -o big.iso                       continue where the file ends
  wxdl run app.js                                    run Mini Program code calling wx.downloadFile
  wxdl demo                                          serve and download a file on 127.0.0.1
  wxdl completions bash > ~/.local/share/bash-completion/completions/wxdl
  wxdl man > ~/.local/share/man/man1/wxdl.1          the man page (then: man wxdl)

Exit status:
  0      success with an HTTP 2xx or 3xx status
  2      bad command line
  3      batch: at least one download failed or got an HTTP error
  4      success with an HTTP 4xx status (the body is saved; with -f, nothing is)
  5      success with an HTTP 5xx (or other non-2xx/3xx) status (the body is saved; with -f,
         nothing is)
  6      wxdl run: the script threw an uncaught exception or left a rejection unhandled
  10-29  failure, one code per reason:
         10 url is null or nil        11 invalid url              12 invalid header
         13 url not in domain list    14 abort                    15 timeout
         16 exceed max file size      17 dns resolve fail         18 connect fail
         19 ssl handshake fail        20 network interrupted      21 too many redirects
         22 permission denied         23 no such file or directory
         24 illegal operation on a directory
         25 the maximum size of the file storage limit is exceeded
         26 integrity check fail      27 write file fail          28 interrupted
         29 parameter error
  1      wxdl itself could not run (e.g. the sandbox root is unusable)
  130, 143, 129  interrupted by SIGINT, SIGTERM, SIGHUP: every download aborted, nothing
         partial left (a second signal quits at once)";

/// wxdl: WeChat's wx.downloadFile as a fast, observable, safe downloader.
#[derive(Debug, Parser)]
#[command(name = "wxdl", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Download a URL (or a list of URLs with -i) like wx.downloadFile.
    #[command(after_help = AFTER_HELP)]
    Get(Box<GetArgs>),
    /// Send one request like wx.request (any method, a body, the response on stdout).
    #[command(after_help = REQUEST_HELP)]
    Request(Box<RequestArgs>),
    /// Upload a file like wx.uploadFile (multipart/form-data, fields first), the answer on stdout.
    #[command(after_help = UPLOAD_HELP)]
    Upload(Box<UploadArgs>),
    /// Run Mini Program JavaScript that calls wx.downloadFile (QuickJS), until nothing is pending.
    Run(Box<RunArgs>),
    /// Serve a generated file on 127.0.0.1 and download it, with progress and result.
    Demo(DemoArgs),
    /// Remove temp files past their retention and leftovers of downloads that died.
    Clean(CleanArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish) on stdout.
    #[command(after_help = COMPLETIONS_HELP)]
    Completions(CompletionsArgs),
    /// Print wxdl's man page (roff) on stdout, e.g. `wxdl man > ~/.local/share/man/man1/wxdl.1`.
    Man,
}

const COMPLETIONS_HELP: &str = "\
Install:
  bash        wxdl completions bash > ~/.local/share/bash-completion/completions/wxdl
  zsh         wxdl completions zsh > ~/.zfunc/_wxdl   (with fpath+=~/.zfunc before compinit)
  fish        wxdl completions fish > ~/.config/fish/completions/wxdl.fish
  powershell  wxdl completions powershell >> $PROFILE";

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct CleanArgs {
    /// Remove temp files (wxfile://tmp_…) and partial files of interrupted `-C` downloads last
    /// changed more than DAYS ago (default 7; 0: all).
    #[arg(long = "older-than", value_name = "DAYS", default_value_t = 7)]
    pub older_than: u64,

    /// Remove every temp file and unused partial file, whatever its age (--older-than 0).
    #[arg(long, conflicts_with = "older_than")]
    pub all: bool,

    /// Sandbox root directory (default: DATA_DIR/sandbox).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// Where wxdl keeps its state (default: $WXDL_DATA_DIR, else wxdl under your data dir).
    #[arg(long = "data-dir", value_name = "DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The script to run: CommonJS (require() resolves ./files, miniprogram_npm/,
    /// node_modules/) or an ES module (import/export).
    pub script: PathBuf,

    /// After the page the script registered with Page() ran onLoad, onShow and onReady, call
    /// METHOD once; setData changes are printed as JSON lines.
    #[arg(long, value_name = "METHOD")]
    pub call: Option<String>,

    /// Serve this directory on 127.0.0.1:PORT for the run (e.g. examples/static:8000; PORT 0
    /// picks a free one), so scripts download for real with no other server; the script reads
    /// the origin (the first one's) as `wxdl.serveOrigin`.
    #[arg(long, value_name = "DIR:PORT")]
    pub serve: Vec<String>,

    /// The page's query string, given to onLoad as its options (e.g. 'id=7&from=share').
    #[arg(long, value_name = "QUERY")]
    pub query: Option<String>,

    /// Send the app to the background MS after the start (onAppHide fires; a download still
    /// running 5 s later fails with 'interrupted', one started there fails at once).
    #[arg(long = "hide-at", value_name = "MS")]
    pub hide_at: Option<u64>,

    /// Keep the temp files the run downloaded (by default they go when it ends, as in WeChat).
    #[arg(long = "keep-tmp")]
    pub keep_tmp: bool,

    /// Make the tasks of calls without success/fail/complete thenable (`await
    /// wx.downloadFile({url})` yields the result); WeChat's are not, so by default neither
    /// are wxdl's.
    #[arg(long)]
    pub promise: bool,

    /// Bring the app back MS after the start (onAppShow fires).
    #[arg(long = "show-at", value_name = "MS")]
    pub show_at: Option<u64>,

    #[command(flatten)]
    pub client: ClientArgs,
}

/// Help headings of `wxdl get`, in the order `--help` shows them: what people use first,
/// the tuning knobs last.
pub const OUTPUT: &str = "Output";
pub const REQUEST: &str = "Request";
pub const BATCH: &str = "Batch";
pub const SANDBOX: &str = "Sandbox and policy";
pub const TUNING: &str = "Tuning";
pub const EMULATION: &str = "Network emulation";

const REQUEST_HELP: &str = "\
Examples:
  wxdl request https://api.example.com/items                 GET, the body on stdout
  wxdl request -d '{\"name\":\"a\"}' https://api.example.com/items  POST as JSON (WeChat's default type)
  wxdl request -X PUT -H 'content-type: application/x-www-form-urlencoded' -d 'a=1' URL
  wxdl request -I URL                                         HEAD: the response head only
  wxdl request --json URL                                     the Mini Program result object

Like wx.request, any HTTP status is a success (exit 0 for 2xx/3xx, 4 for 4xx, 5 otherwise);
a failure exits with its reason's code (see wxdl get --help). Unlike curl, -d sends
content-type: application/json unless -H sets one, as WeChat does.";

const UPLOAD_HELP: &str = "\
Examples:
  wxdl upload photo.jpg https://up.example.com/p                  the part is named 'file'
  wxdl upload photo.jpg URL --name avatar -F user=42 -F album=x   fields first, as WeChat sends
  wxdl upload --file-path wxfile://usr/a.jpg URL --root DIR       a file of a sandbox

The file streams from disk (never read whole). Any HTTP status is a success (exit 0 for
2xx/3xx, 4 for 4xx, 5 otherwise); a failure exits with its reason's code.";

/// `wxdl upload`: one `wx.uploadFile`.
#[derive(Debug, Args)]
pub struct UploadArgs {
    /// The local file to upload (or give --file-path for a sandbox file).
    #[arg(required_unless_present = "file_path")]
    pub file: Option<PathBuf>,

    /// Where to send it (http:// or https://; without a scheme, http://).
    pub url: Option<String>,

    /// The form part's name (wx.uploadFile's `name`).
    #[arg(long, default_value = "file", help_heading = REQUEST)]
    pub name: String,

    /// A form field 'key=value' sent before the file (repeatable; `formData`).
    #[arg(short = 'F', long = "form", value_name = "KEY=VALUE", help_heading = REQUEST)]
    pub form: Vec<String>,

    /// Upload this sandbox file (`wxfile://usr/…`, `wxfile://tmp_…`) instead of a local one
    /// (then the only positional argument is the URL).
    #[arg(long = "file-path", value_name = "WXFILE", help_heading = REQUEST)]
    pub file_path: Option<String>,

    /// Extra request header, 'Name: value' (repeatable).
    #[arg(short = 'H', long = "header", value_name = "HEADER", help_heading = REQUEST)]
    pub headers: Vec<String>,

    /// The whole upload's timeout in ms (default 60000, as WeChat's).
    #[arg(long, value_name = "MS", help_heading = REQUEST)]
    pub timeout: Option<u64>,

    /// Offer HTTP/2 (ALPN h2) on https.
    #[arg(long, help_heading = REQUEST)]
    pub http2: bool,

    /// Try HTTP/3 first (QUIC), then TCP.
    #[arg(long, help_heading = REQUEST)]
    pub http3: bool,

    /// Print the Mini Program result object (`uploadFile:ok`, data, statusCode) or the fail
    /// object as JSON instead of the answer's body.
    #[arg(long, help_heading = OUTPUT)]
    pub json: bool,

    /// No progress bar and no error lines on stderr (the exit code still tells).
    #[arg(short, long, visible_short_alias = 's', visible_alias = "silent", help_heading = OUTPUT)]
    pub quiet: bool,

    /// Show each request head as it is sent and each response head as it arrives, on stderr.
    #[arg(short = 'v', long, help_heading = OUTPUT)]
    pub verbose: bool,

    /// Write every request of the run, redirects included, as an HTTP Archive (HAR 1.2).
    #[arg(long, value_name = "FILE", help_heading = OUTPUT)]
    pub har: Option<PathBuf>,

    #[command(flatten)]
    pub client: ClientArgs,
}

/// `wxdl request`: one `wx.request`, curl's way of asking.
#[derive(Debug, Args)]
pub struct RequestArgs {
    /// The URL (http:// or https://; without a scheme, http:// as in curl).
    pub url: String,

    /// The method: OPTIONS, GET, HEAD, POST, PUT, DELETE, TRACE or CONNECT (WeChat's list);
    /// POST when -d is given, else GET.
    #[arg(short = 'X', long = "request", value_name = "METHOD", help_heading = REQUEST)]
    pub method: Option<String>,

    /// Extra request header, 'Name: value' (repeatable).
    #[arg(short = 'H', long = "header", value_name = "HEADER", help_heading = REQUEST)]
    pub headers: Vec<String>,

    /// The body (wx.request's `data` as a string): sent as it is, or for GET appended to the
    /// URL as its query; '@FILE' sends a file's bytes, '@-' standard input's.
    #[arg(short = 'd', long = "data", value_name = "DATA", help_heading = REQUEST)]
    pub data: Option<String>,

    /// HEAD: print the response head only.
    #[arg(short = 'I', long = "head", conflicts_with_all = ["method", "data"], help_heading = REQUEST)]
    pub head: bool,

    /// The whole-request timeout in ms (default 60000, as WeChat's).
    #[arg(long, value_name = "MS", help_heading = REQUEST)]
    pub timeout: Option<u64>,

    /// Stop at a redirect and print it (wx.request's redirect: 'manual').
    #[arg(long = "no-follow", help_heading = REQUEST)]
    pub no_follow: bool,

    /// The most response bytes held in memory (default 50M).
    #[arg(long = "max-bytes", value_name = "SIZE", value_parser = parse_max_bytes, help_heading = REQUEST)]
    pub max_bytes: Option<u64>,

    /// Offer HTTP/2 (ALPN h2) on https.
    #[arg(long, help_heading = REQUEST)]
    pub http2: bool,

    /// Try HTTP/3 first (QUIC), then TCP.
    #[arg(long, help_heading = REQUEST)]
    pub http3: bool,

    /// Write the body to FILE (atomically) instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE", help_heading = OUTPUT)]
    pub output: Option<PathBuf>,

    /// Print the response's status line and headers before the body (like curl -i).
    #[arg(short = 'i', long = "include", help_heading = OUTPUT)]
    pub include: bool,

    /// Print the Mini Program result object (`request:ok`, data, statusCode, header, cookies,
    /// profile) or the fail object as JSON instead of the body.
    #[arg(long, help_heading = OUTPUT)]
    pub json: bool,

    /// Write every request of the run, redirects included, as an HTTP Archive (HAR 1.2).
    #[arg(long, value_name = "FILE", help_heading = OUTPUT)]
    pub har: Option<PathBuf>,

    /// `dataType` for --json: 'json' parses the body when it parses (the default), anything
    /// else keeps the text.
    #[arg(long = "data-type", value_name = "TYPE", requires = "json", help_heading = OUTPUT)]
    pub data_type: Option<String>,

    /// With an HTTP status of 400 or more, print nothing of the body and exit 4 or 5 (curl -f).
    #[arg(short = 'f', long = "fail", help_heading = OUTPUT)]
    pub fail: bool,

    /// No error lines on stderr (the exit code still tells).
    #[arg(short, long, visible_short_alias = 's', visible_alias = "silent", help_heading = OUTPUT)]
    pub quiet: bool,

    /// Show each request head as it is sent and each response head as it arrives, on stderr.
    #[arg(short = 'v', long, help_heading = OUTPUT)]
    pub verbose: bool,

    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// The URL to download (http:// or https://; without a scheme, http:// as in curl).
    #[arg(required_unless_present = "input", conflicts_with = "input")]
    pub url: Option<String>,

    /// Write to this local file instead of the sandbox: atomically (a private file, fsync,
    /// rename over FILE; a symlink's target is replaced). A device or FIFO is written straight
    /// through; '-' is stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE", conflicts_with_all = ["input", "file_path"], help_heading = OUTPUT)]
    pub output: Option<PathBuf>,

    /// Write to a local file named after the URL's last path segment (like curl -O).
    #[arg(short = 'O', long = "remote-name", conflicts_with_all = ["output", "input", "file_path"], help_heading = OUTPUT)]
    pub remote_name: bool,

    /// With -O: name the file after the server's Content-Disposition instead (made safe: one
    /// name, no path separators or control characters), never replacing a file unless --clobber.
    #[arg(short = 'J', long = "remote-header-name", help_heading = OUTPUT)]
    pub remote_header_name: bool,

    /// With -J: replace a file of the name the server suggested.
    #[arg(long, help_heading = OUTPUT)]
    pub clobber: bool,

    /// Let a 204 No Content replace an existing file with its empty body (by default the file
    /// is kept, as it always is after a 304 to your own If-None-Match/If-Modified-Since).
    #[arg(long = "save-empty", help_heading = OUTPUT)]
    pub save_empty: bool,

    /// Store at a sandbox user path (wxfile://usr/…), as the filePath option does.
    #[arg(long = "file-path", value_name = "WXFILE", help_heading = OUTPUT)]
    pub file_path: Option<String>,

    /// On an HTTP error status (400 and above) keep no file and exit non-zero (4 or 5), like
    /// curl -f; without it the error page is saved, as wx.downloadFile does.
    #[arg(short = 'f', long = "fail", help_heading = OUTPUT)]
    pub fail: bool,

    /// Print the Mini Program result object as JSON on stdout.
    #[arg(long, help_heading = OUTPUT)]
    pub json: bool,

    /// No progress bar and no human-readable result (errors are still shown).
    #[arg(short, long, visible_short_alias = 's', visible_alias = "silent", help_heading = OUTPUT)]
    pub quiet: bool,

    /// Show each request head as it is sent and each response head as it arrives, and the
    /// connection, on stderr (like curl -v).
    #[arg(short = 'v', long, help_heading = OUTPUT)]
    pub verbose: bool,

    /// Print the timing waterfall after the result (on stderr with --json).
    #[arg(long, help_heading = OUTPUT)]
    pub profile: bool,

    /// Write every request of the run, redirects included, as an HTTP Archive (HAR 1.2).
    #[arg(long, value_name = "FILE", help_heading = OUTPUT)]
    pub har: Option<PathBuf>,

    /// Leave the profile out of the result.
    #[arg(long = "no-profile", conflicts_with_all = ["profile", "har"], help_heading = OUTPUT)]
    pub no_profile: bool,

    /// Extra request header, 'Name: value' (repeatable).
    #[arg(short = 'H', long = "header", value_name = "HEADER", help_heading = REQUEST)]
    pub headers: Vec<String>,

    /// Whole-download timeout in milliseconds (default 60000).
    #[arg(long, value_name = "MS", help_heading = REQUEST)]
    pub timeout: Option<u64>,

    /// Size cap (default 200M, i.e. 209715200 bytes; suffixes K, M, G: 1024-based).
    #[arg(long = "max-bytes", value_name = "SIZE", value_parser = parse_max_bytes, help_heading = REQUEST)]
    pub max_bytes: Option<u64>,

    /// Check the body's SHA-256 (64 hex digits) before it is put in place; a mismatch fails
    /// with 'integrity check fail' and leaves nothing.
    #[arg(long, value_name = "HEX", conflicts_with = "integrity", value_parser = parse_sha256, help_heading = REQUEST)]
    pub sha256: Option<String>,

    /// Check the body against a Subresource Integrity value (`sha256-<base64>`).
    #[arg(long, value_name = "SRI", value_parser = parse_integrity, help_heading = REQUEST)]
    pub integrity: Option<String>,

    /// Keep the data of an interrupted download (failure, Ctrl-C, kill) in a hidden partial file
    /// beside the target and continue it next time (Range + If-Range); a changed file starts
    /// over. With --retry, a retry continues a cut body. Partial files expire after 7 days.
    /// `-C -` reads as curl's: continue where the file ends.
    #[arg(short = 'C', long = "continue", visible_alias = "continue-at", help_heading = REQUEST)]
    pub resume: bool,

    /// Try again up to N times after a failure a later try may not meet (DNS, refused or reset
    /// connections, a response cut before its body began; with -C also a cut body, continued),
    /// with exponential backoff and jitter, honouring Retry-After; each retry is told on stderr
    /// (unless -q).
    #[arg(long, value_name = "N", default_value_t = 0, help_heading = REQUEST)]
    pub retry: u32,

    /// The base delay of --retry's backoff in ms: retry n waits up to base x 2^n (default 1000).
    #[arg(long = "retry-delay", value_name = "MS", help_heading = REQUEST)]
    pub retry_delay: Option<u64>,

    /// With --retry, also retry on HTTP 408, 429 and 5xx answers.
    #[arg(long = "retry-http", help_heading = REQUEST)]
    pub retry_http: bool,

    /// Ask for a compressed body (Accept-Encoding: gzip, deflate, br, zstd) and store it
    /// decoded, like curl --compressed.
    #[arg(long, help_heading = REQUEST)]
    pub compressed: bool,

    /// Accepted for curl's sake: redirects are always followed (up to 10, as WeChat does).
    #[arg(short = 'L', long, help_heading = REQUEST)]
    pub location: bool,

    /// Refused: wxdl get downloads bodies; `wxdl request -I URL` shows the response head.
    #[arg(short = 'I', long, help_heading = REQUEST)]
    pub head: bool,

    /// Allow HTTP/2 (offered in TLS ALPN; never cleartext h2c), like enableHttp2.
    #[arg(long, help_heading = REQUEST)]
    pub http2: bool,

    /// Try HTTP/3 over QUIC first (enableQuic plus a hint that the server speaks it); falls back
    /// to TCP when QUIC fails before the response, and remembers an origin without QUIC for a
    /// while. Without this flag, QUIC is never used.
    #[arg(long, help_heading = REQUEST)]
    pub http3: bool,

    /// Allow HTTP/3 over QUIC where the server advertised it (Alt-Svc), like enableQuic.
    #[arg(long = "quic", help_heading = REQUEST)]
    pub quic: bool,

    /// Batch: read URLs from this file, one per line ('#' comments and blank lines skipped).
    #[arg(short = 'i', long = "input", value_name = "URLS_FILE", help_heading = BATCH)]
    pub input: Option<PathBuf>,

    /// Batch: downloads that run at once (default 10).
    #[arg(short = 'j', long = "jobs", value_name = "N", help_heading = BATCH)]
    pub jobs: Option<usize>,

    /// Batch: directory to save into, each file under its URL's name, created when missing
    /// (default: current dir).
    #[arg(short = 'd', long = "dir", value_name = "DIR", help_heading = BATCH)]
    pub dir: Option<PathBuf>,

    /// Fetch one large file as N ranged requests at once (N connections over HTTP/1.1, N
    /// streams over h2), like aria2c -x N -s N; only when the server allows ranges.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=16), help_heading = TUNING)]
    pub split: Option<u32>,

    /// Receive at most this many bytes per second (suffixes K, M, G: 1024-based), like curl; in
    /// a batch (-i), for the whole batch together.
    #[arg(long = "limit-rate", value_name = "RATE", value_parser = parse_rate, help_heading = TUNING)]
    pub limit_rate: Option<u64>,

    /// Fail with 'timeout' when no body byte arrives for this long, in ms.
    #[arg(long = "stall-timeout", value_name = "MS", help_heading = TUNING)]
    pub stall_timeout: Option<u64>,

    #[command(flatten)]
    pub client: ClientArgs,
}

impl GetArgs {
    /// Batch downloads that run at once.
    pub fn jobs(&self) -> usize {
        self.jobs.unwrap_or(10).max(1)
    }
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Size of the generated file (suffixes K, M, G: 1024-based).
    #[arg(long, env = "WXDL_DEMO_SIZE", default_value = "64M", value_parser = parse_size)]
    pub size: u64,

    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,

    /// Sandbox root directory (default: a temporary directory, removed afterwards).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
}

/// How the client is set up: sandbox, state, trust, resolution, identity, policy.
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// Trust the CA certificates in this PEM file (repeatable), besides the system roots; a
    /// server's own self-signed certificate given here is accepted too, as curl does.
    #[arg(long = "cacert", value_name = "PEM", help_heading = REQUEST)]
    pub cacert: Vec<PathBuf>,

    /// Accept any server certificate (expired, self-signed, another host's), with a warning on
    /// every use; refused under the strict policy (--domain). Prefer --cacert FILE.
    #[arg(short = 'k', long, help_heading = REQUEST)]
    pub insecure: bool,

    /// User-Agent to send.
    #[arg(short = 'A', long = "user-agent", value_name = "UA", help_heading = REQUEST)]
    pub user_agent: Option<String>,

    /// Sandbox root directory (default: DATA_DIR/sandbox).
    #[arg(long, value_name = "DIR", help_heading = SANDBOX)]
    pub root: Option<PathBuf>,

    /// Where wxdl keeps its state between runs (default: $WXDL_DATA_DIR, else wxdl under your
    /// data directory).
    #[arg(long = "data-dir", value_name = "DATA_DIR", help_heading = SANDBOX)]
    pub data_dir: Option<PathBuf>,

    /// Resolve HOST:PORT to ADDR instead of asking DNS, like curl (repeatable).
    #[arg(long, value_name = "HOST:PORT:ADDR", help_heading = REQUEST)]
    pub resolve: Vec<String>,

    /// Strict policy (WeChat production rules) with this domain for every API without a list
    /// of its own (repeatable).
    #[arg(long = "domain", value_name = "DOMAIN", help_heading = SANDBOX)]
    pub domains: Vec<String>,

    /// Strict policy with this downloadFile domain, WeChat's downloadFile list (repeatable).
    #[arg(long = "download-domain", value_name = "DOMAIN", help_heading = SANDBOX)]
    pub download_domains: Vec<String>,

    /// Strict policy with this request domain, WeChat's request list (repeatable).
    #[arg(long = "request-domain", value_name = "DOMAIN", help_heading = SANDBOX)]
    pub request_domains: Vec<String>,

    /// Strict policy with this uploadFile domain, WeChat's uploadFile list (repeatable).
    #[arg(long = "upload-domain", value_name = "DOMAIN", help_heading = SANDBOX)]
    pub upload_domains: Vec<String>,

    /// Whether downloads, requests and uploads each have their own slots (per-api, the
    /// default) or share one pool (shared).
    #[arg(long = "concurrency-scope", value_name = "SCOPE", value_parser = ["per-api", "shared"], help_heading = TUNING)]
    pub concurrency_scope: Option<String>,

    /// Mini Program appid used in the Referer (default: `wxdl run` reads project.config.json,
    /// else touristappid).
    #[arg(long, help_heading = SANDBOX)]
    pub appid: Option<String>,

    /// Mini Program version used in the Referer: devtools (default), 0 for develop and trial
    /// builds, or a release number.
    #[arg(long = "app-version", value_name = "VERSION", help_heading = SANDBOX)]
    pub app_version: Option<String>,

    /// How long a QUIC handshake may take before falling back to TCP, in ms (default 1000).
    #[arg(long = "quic-handshake-timeout", value_name = "MS", help_heading = TUNING)]
    pub quic_handshake_timeout: Option<u64>,

    /// Emulate a network under every connection: offline, slow-2g, 2g, 3g, 4g or wifi (the
    /// figures are in docs/network.md).
    #[arg(long, value_name = "PRESET", help_heading = EMULATION)]
    pub network: Option<String>,

    /// Emulated downstream bandwidth in kbit/s (over --network's, if given).
    #[arg(long, value_name = "KBPS", help_heading = EMULATION)]
    pub down: Option<u32>,

    /// Emulated upstream bandwidth in kbit/s.
    #[arg(long, value_name = "KBPS", help_heading = EMULATION)]
    pub up: Option<u32>,

    /// Emulated added round-trip time in ms.
    #[arg(long, value_name = "MS", help_heading = EMULATION)]
    pub latency: Option<u32>,

    /// Emulated jitter: up to this many ms more per delivery.
    #[arg(long, value_name = "MS", help_heading = EMULATION)]
    pub jitter: Option<u32>,

    /// Emulated loss, a percentage of TCP segments or QUIC datagrams (e.g. 1%).
    #[arg(long, value_name = "PERCENT", value_parser = parse_percent, help_heading = EMULATION)]
    pub loss: Option<f64>,

    /// Emulated conditions over time, e.g. '4g:5s,offline:3s,3g' (`custom` is the conditions
    /// the other network flags give).
    #[arg(long = "network-timeline", value_name = "SPEC", help_heading = EMULATION)]
    pub network_timeline: Option<String>,

    /// Seed of the emulation's jitter and loss, so a run reproduces (default 0).
    #[arg(long, value_name = "N", help_heading = EMULATION)]
    pub seed: Option<u64>,
}

impl ClientArgs {
    /// Whether a domain list was given: the strict policy (WeChat's production rules).
    pub fn strict(&self) -> bool {
        [
            &self.domains,
            &self.download_domains,
            &self.request_domains,
            &self.upload_domains,
        ]
        .iter()
        .any(|list| !list.is_empty())
    }
}

fn parse_percent(text: &str) -> Result<f64, String> {
    let n: f64 = text
        .trim()
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("{text:?}: a percentage like 1% or 0.5"))?;
    if (0.0..=100.0).contains(&n) {
        Ok(n / 100.0)
    } else {
        Err(format!("{text:?}: between 0% and 100%"))
    }
}

/// A size as curl reads one (`--limit-rate 100k`, `--max-filesize 10M`): a number with an
/// optional K, M or G (1024-based), optionally followed by `B` or `iB` (`10MiB`, `64KB`).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix("ib"))
        .or_else(|| {
            t.strip_suffix(['B', 'b'])
                .filter(|r| r.ends_with(|c: char| c.is_ascii_alphabetic()))
        })
        .unwrap_or(t);
    let (digits, unit) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&t[..i], c.to_ascii_uppercase()),
        _ => (t, 'B'),
    };
    let scale: u64 = match unit {
        'B' => 1,
        'K' => 1 << 10,
        'M' => 1 << 20,
        'G' => 1 << 30,
        other => return Err(format!("unknown unit {other:?} (K, M or G)")),
    };
    let n: f64 = digits
        .parse()
        .map_err(|_| format!("{text:?}: expected a number with an optional K, M or G"))?;
    if !n.is_finite() || n < 0.0 {
        return Err(format!(
            "{text:?}: expected a number with an optional K, M or G"
        ));
    }
    let bytes = n * scale as f64;
    if bytes >= u64::MAX as f64 {
        return Err(format!("{text:?}: too large"));
    }
    Ok(bytes as u64)
}

/// A rate like curl's `--limit-rate`: bytes per second, with the suffixes of [`parse_size`].
fn parse_rate(text: &str) -> Result<u64, String> {
    match parse_size(text)? {
        0 => Err(format!("{text:?}: must be at least 1 byte per second")),
        n => Ok(n),
    }
}

/// `--max-bytes`: a size of at least one byte.
fn parse_max_bytes(text: &str) -> Result<u64, String> {
    match parse_size(text)? {
        0 => Err(format!("{text:?}: must be at least 1 byte")),
        n => Ok(n),
    }
}

/// `--sha256`: exactly 64 hex digits, checked before any network.
fn parse_sha256(text: &str) -> Result<String, String> {
    let t = text.trim();
    if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(t.to_owned())
    } else {
        Err(format!(
            "{text:?} is not a SHA-256: 64 hex digits expected (got {} characters); \
             an SRI value goes with --integrity",
            t.chars().count()
        ))
    }
}

/// `--integrity`: `sha256-` and the base64 of 32 bytes, checked before any network.
fn parse_integrity(text: &str) -> Result<String, String> {
    let t = text.trim();
    let valid = t.starts_with("sha256-")
        && wxdl::DownloadOptions::new("http://127.0.0.1/")
            .integrity(t)
            .check()
            .is_ok();
    if valid {
        Ok(t.to_owned())
    } else {
        Err(format!(
            "{text:?} is not a Subresource Integrity value: `sha256-` and the base64 of the \
             32-byte digest expected (hex digits go with --sha256)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_like_curls() {
        assert_eq!(parse_rate("1000"), Ok(1000));
        assert_eq!(parse_rate("64k"), Ok(64 * 1024));
        assert_eq!(parse_rate("1.5M"), Ok(1536 * 1024));
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("fast").is_err());
        assert!(parse_rate("3T").is_err());
        assert_eq!(parse_size("10M"), Ok(10 << 20));
        assert_eq!(parse_size("10MiB"), Ok(10 << 20));
        assert_eq!(parse_size("64KB"), Ok(64 << 10));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert_eq!(parse_size("0"), Ok(0));
        assert!(parse_max_bytes("0").is_err());
        assert!(parse_size("-1").is_err());
    }

    #[test]
    fn digests_are_checked_as_typed() {
        let hex = "ab".repeat(32);
        assert_eq!(parse_sha256(&hex), Ok(hex.clone()));
        assert!(parse_sha256(&hex[1..]).is_err());
        assert!(parse_sha256(&"zz".repeat(32)).is_err());
        let sri = "sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=";
        assert!(parse_integrity(sri).is_ok());
        assert!(parse_integrity("sha256-abc").is_err());
        assert!(parse_integrity(&hex).is_err());
    }
}
