//! Daily use of the `wxdl` binary (issue 24): completions and man page, curl's habits, `-v` as
//! heads happen, errors that name the fix, the help's order; against real servers on loopback.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};

use wxdl_testkit::{cli, write_random, Nginx, TestCa};

const BIN: &str = env!("CARGO_BIN_EXE_wxdl");

fn wxdl(root: &Path, args: &[&str]) -> Output {
    cli::bounded(cli::get(BIN, root, args))
}

/// `wxdl ARGS…` (no `get` added), its state in a scratch dir.
fn bare(dir: &Path, args: &[&str]) -> Output {
    let mut c = Command::new(BIN);
    c.env("WXDL_DATA_DIR", dir.join("data")).args(args);
    cli::bounded(c)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit status 2 and a message on stderr containing each of `needles`.
fn refused(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} missing in\n{err}");
    }
    assert!(!err.contains("to pass"), "clap's generic advice:\n{err}");
}

#[test]
fn completions_and_man_page() {
    let dir = tempfile::tempdir().unwrap();
    let bash = cli::ok(&bare(dir.path(), &["completions", "bash"]));
    assert!(bash.contains("get") && bash.contains("complete"), "{bash}");
    assert!(bash.contains("--output"));
    // Installed as the README says, bash loads it and completes wxdl with it.
    let installed = dir.path().join("wxdl.bash");
    std::fs::write(&installed, &bash).unwrap();
    let loaded = cli::bounded({
        let mut c = Command::new("bash");
        c.arg("-c").arg(format!(
            "source {} && complete -p wxdl",
            installed.display()
        ));
        c
    });
    assert!(cli::ok(&loaded).contains("wxdl"), "{}", stderr(&loaded));
    for shell in ["zsh", "fish", "powershell"] {
        let script = cli::ok(&bare(dir.path(), &["completions", shell]));
        assert!(script.contains("remote-name"), "{shell}: {script}");
    }
    let man = cli::ok(&bare(dir.path(), &["man"]));
    assert!(man.contains(".TH wxdl 1"), "{man}");
    assert!(man.contains(r"\-\-output"), "the man page lists --output");
    assert!(man.contains("WXDL GET") && man.contains("WXDL RUN"));
    assert!(man.is_ascii(), "roff input is best plain ASCII");
    refused(&bare(dir.path(), &["completions", "tcsh"]), &["tcsh"]);
}

#[test]
fn get_help_opens_with_output_then_request_then_batch() {
    let dir = tempfile::tempdir().unwrap();
    let help = cli::ok(&bare(dir.path(), &["get", "--help"]));
    let at = |s: &str| {
        help.find(s)
            .unwrap_or_else(|| panic!("{s:?} missing in\n{help}"))
    };
    assert!(at("\nOutput:") < at("\nRequest:"));
    assert!(at("\nRequest:") < at("\nBatch:"));
    assert!(at("\nBatch:") < at("\nTuning:"));
    assert!(at("\nTuning:") < at("\nNetwork emulation:"));
    assert!(at("--output") < at("--header"));
    assert!(at("\nBatch:") < at("--quic-handshake-timeout"));
    assert!(at("\nTuning:") < at("--split"));
}

/// `get --help` and docs/cli.md say the same: every option the help shows is in the page, and
/// every `--option` the page names is in the help (the README links the page).
#[test]
fn get_help_and_docs_name_the_same_options() {
    let dir = tempfile::tempdir().unwrap();
    let help = cli::ok(&bare(dir.path(), &["get", "--help"]));
    let page = include_str!("../../../docs/cli.md");
    let readme = include_str!("../../../README.md");
    assert!(readme.contains("docs/cli.md"));
    let longs = |text: &str| -> std::collections::BTreeSet<String> {
        text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .filter(|w| w.starts_with("--") && w[2..].starts_with(|c: char| c.is_ascii_lowercase()))
            .map(|w| w.trim_end_matches('-').to_owned())
            .collect()
    };
    let (in_help, in_page) = (longs(&help), longs(page));
    // Examples and exit-status notes in the help name other commands' flags too; the option
    // lines are what must match.
    let option_lines: String = help
        .lines()
        .filter(|l| l.trim_start().starts_with('-'))
        .collect::<Vec<_>>()
        .join("\n");
    for flag in longs(&option_lines) {
        assert!(in_page.contains(&flag), "docs/cli.md lacks {flag}");
    }
    // The page's option rows (not its notes on curl's flags) name only options that exist.
    let rows: String = page
        .lines()
        .filter(|l| l.starts_with("| `") || l.starts_with("`--"))
        .collect::<Vec<_>>()
        .join("\n");
    for flag in longs(&rows) {
        assert!(
            in_help.contains(&flag),
            "docs/cli.md names {flag}, which get --help lacks"
        );
    }
}

/// Flags wxdl lacks name the nearest wxdl flag; `wxdl URL` suggests `wxdl get URL`; malformed
/// digests are usage errors before any connection; ignored combinations are refused.
#[test]
fn unknown_flags_and_refusals_point_at_the_fix() {
    // A listener nobody should reach: every refusal comes before the network.
    let trap = TcpListener::bind("127.0.0.1:0").unwrap();
    trap.set_nonblocking(true).unwrap();
    let url = format!("http://{}/f.bin", trap.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sandbox");

    refused(
        &wxdl(&root, &["-x", "http://proxy:3128", &url]),
        &["-x", "--resolve"],
    );
    refused(&wxdl(&root, &["-m", "5", &url]), &["--timeout MS"]);
    refused(
        &wxdl(&root, &["--no-check-certificate", &url]),
        &["-k/--insecure"],
    );
    refused(
        &wxdl(&root, &["--max-filesize", "1M", &url]),
        &["--max-bytes"],
    );
    refused(&wxdl(&root, &["--bogus", &url]), &["--help"]);
    refused(
        &bare(dir.path(), &[&url]),
        &[&format!("did you mean `wxdl get {url}`")],
    );
    let bare_url = url.trim_start_matches("http://").to_owned();
    refused(
        &bare(dir.path(), &["-O", &bare_url]),
        &[&format!("wxdl get -O {bare_url}")],
    );

    refused(&wxdl(&root, &["--sha256", "abc", &url]), &["64 hex digits"]);
    refused(
        &wxdl(&root, &["--sha256", &"zz".repeat(32), &url]),
        &["64 hex digits"],
    );
    refused(
        &wxdl(&root, &["--integrity", "sha256-abc", &url]),
        &["Subresource Integrity"],
    );
    refused(
        &wxdl(&root, &["--integrity", &"ab".repeat(32), &url]),
        &["--sha256"],
    );

    refused(
        &wxdl(&root, &["-d", "out", &url]),
        &["-d DIR", "-i URLS_FILE"],
    );
    refused(&wxdl(&root, &["-j", "4", &url]), &["-j N"]);
    refused(&wxdl(&root, &["-C", "-o", "-", &url]), &["-C", "stdout"]);
    refused(&wxdl(&root, &["-C", "100", "-o", "f", &url]), &["`-C -`"]);
    refused(
        &wxdl(&root, &["-C", "--split", "4", "-o", "f", &url]),
        &["--split"],
    );
    refused(&wxdl(&root, &["--retry-delay", "10", &url]), &["--retry N"]);
    refused(&wxdl(&root, &["--retry-http", &url]), &["--retry N"]);
    refused(&wxdl(&root, &["-J", &url]), &["-O -J"]);
    refused(&wxdl(&root, &["-I", &url]), &["wxdl request"]);
    refused(
        &wxdl(&root, &["-k", "--domain", "127.0.0.1", &url]),
        &["strict policy", "--cacert FILE"],
    );
    refused(&wxdl(&root, &["--max-bytes", "lots", &url]), &["K, M or G"]);
    assert!(
        trap.accept().is_err(),
        "a refused command line reached the network"
    );
}

/// `-s -L -f`, `--compressed`, `-C -`, size suffixes and `--retry`'s notes, against nginx.
#[test]
fn curl_habits_work_against_nginx() {
    let nginx = Nginx::builder()
        .location("location = /busy { return 503; }")
        .start();
    let text = "compress me please, compress me please, compress me please\n".repeat(200);
    std::fs::write(nginx.root.join("gz/t.txt"), &text).unwrap();
    write_random(&nginx.root.join("f.bin"), 20_000);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sandbox");
    let out = dir.path().join("out.txt");
    let out_s = out.to_str().unwrap();

    // -sL: quiet, redirects followed (they always are).
    let o = wxdl(&root, &["-sL", &nginx.url("/hops/2"), "-o", out_s]);
    assert_eq!(cli::ok(&o), "");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "hello from nginx\n");

    // -f: an HTTP error leaves no file (an existing one untouched), exit 4; without -f the
    // error page is saved, as wx.downloadFile does.
    let o = wxdl(&root, &["-f", &nginx.url("/status/404"), "-o", out_s]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("HTTP 404 Not Found: nothing saved"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "hello from nginx\n");
    let fresh = dir.path().join("fresh.txt");
    let o = wxdl(
        &root,
        &[
            "--fail",
            &nginx.url("/status/500"),
            "-o",
            fresh.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(5));
    assert!(!fresh.exists());
    let o = wxdl(&root, &["-f", &nginx.url("/status/404"), "--json"]);
    assert_eq!(o.status.code(), Some(4));
    assert!(
        cli::stdout(&o).contains("\"statusCode\":404"),
        "{}",
        cli::stdout(&o)
    );
    let tmp_files = std::fs::read_dir(root.join("tmp")).map_or(0, |d| d.count());
    assert_eq!(tmp_files, 0, "-f left a temp file");
    let o = wxdl(
        &root,
        &[&nginx.url("/status/404"), "-o", fresh.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(4));
    assert_eq!(std::fs::read_to_string(&fresh).unwrap(), "not found body\n");

    // --compressed: asked for, sent gzip, stored decoded.
    let o = wxdl(
        &root,
        &["--compressed", "-v", &nginx.url("/gz/t.txt"), "-o", out_s],
    );
    cli::ok(&o);
    let err = stderr(&o);
    assert!(err.contains("> accept-encoding: gzip"), "{err}");
    assert!(err.contains("< content-encoding: gzip"), "{err}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), text);

    // Sizes take the same suffixes everywhere.
    let o = wxdl(&root, &["--max-bytes", "10K", &nginx.url("/f.bin"), "-q"]);
    assert_eq!(o.status.code(), Some(16), "{}", stderr(&o));
    let o = wxdl(
        &root,
        &[
            "--max-bytes",
            "1M",
            "--limit-rate",
            "10M",
            &nginx.url("/f.bin"),
            "-q",
        ],
    );
    cli::ok(&o);

    // --retry tells what it retries, why and how long it waits.
    let o = wxdl(
        &root,
        &[
            "--retry",
            "2",
            "--retry-http",
            "--retry-delay",
            "10",
            &nginx.url("/busy"),
        ],
    );
    assert_eq!(o.status.code(), Some(5));
    let err = stderr(&o);
    assert!(err.contains("retry 1 of 2 in"), "{err}");
    assert!(err.contains("retry 2 of 2 in"), "{err}");
    assert!(err.contains("after HTTP 503"), "{err}");
    // ... and why for a failure too (nothing listens on the trap's port once it is closed).
    let gone = TcpListener::bind("127.0.0.1:0").unwrap();
    let gone_url = format!("http://{}/x", gone.local_addr().unwrap());
    drop(gone);
    let o = wxdl(&root, &["--retry", "1", "--retry-delay", "10", &gone_url]);
    assert_eq!(o.status.code(), Some(18));
    assert!(stderr(&o).contains("retry 1 of 1 in"), "{}", stderr(&o));
    assert!(stderr(&o).contains("after connect fail"), "{}", stderr(&o));
}

/// `-v` prints heads as they happen: also for a download that then fails, and a continued
/// download shows the server's real `206`. `-C -` is curl's "continue where the file ends".
#[test]
fn verbose_heads_as_they_happen_and_continue_dash() {
    let nginx = Nginx::start();
    std::fs::create_dir_all(nginx.root.join("slow")).unwrap();
    let sha = write_random(&nginx.root.join("slow/s.bin"), 2_000_000);
    write_random(&nginx.root.join("big.bin"), 100_000);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sandbox");
    let out = dir.path().join("s.bin");
    let out_s = out.to_str().unwrap();

    // Fails on --max-bytes after the head: the head was shown.
    let o = wxdl(&root, &["-v", "--max-bytes", "50K", &nginx.url("/big.bin")]);
    assert_eq!(o.status.code(), Some(16));
    let err = stderr(&o);
    assert!(err.contains("> GET /big.bin HTTP/1.1"), "{err}");
    assert!(err.contains("< HTTP/1.1 200 OK"), "{err}");

    // Times out mid-body (256 KiB/s): the 200 head was shown; the partial is kept (-C -).
    let url = nginx.url("/slow/s.bin");
    let o = wxdl(
        &root,
        &["-v", "-C", "-", "--timeout", "1500", "-o", out_s, &url],
    );
    assert_eq!(o.status.code(), Some(15), "{}", stderr(&o));
    assert!(stderr(&o).contains("< HTTP/1.1 200 OK"), "{}", stderr(&o));
    let partial = dir.path().join(".s.bin.wxdl-partial");
    let held = std::fs::metadata(&partial).map_or(0, |m| m.len());
    assert!(held > 0, "no partial kept");

    // Continued: the server's real 206 line, and the file whole.
    let o = wxdl(&root, &["-v", "-C", "-", "-o", out_s, &url]);
    cli::ok(&o);
    let err = stderr(&o);
    assert!(err.contains("> range: bytes="), "{err}");
    assert!(err.contains("< HTTP/1.1 206 Partial Content"), "{err}");
    assert_eq!(wxdl_testkit::sha256_file(&out), sha);
}

/// A self-signed certificate is named as such with the fix (`--cacert FILE`); `-k` accepts it
/// with a warning; a CA certificate used as a server's is named as such.
#[test]
fn certificate_errors_name_the_fix_and_insecure_warns() {
    let own = wxdl_testkit::ca::self_signed_server_cert(&["localhost"], false);
    let nginx = Nginx::builder().tls_cert(own).start();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sandbox");
    let url = nginx.https_url("localhost", "/hello.txt");
    let resolve = format!("localhost:{}:127.0.0.1", nginx.https_port);
    let o = wxdl(&root, &[&url, "--resolve", &resolve]);
    assert_eq!(o.status.code(), Some(19));
    let err = stderr(&o);
    assert!(err.contains("self-signed certificate"), "{err}");
    assert!(err.contains("--cacert FILE"), "{err}");

    let out = dir.path().join("h.txt");
    let o = wxdl(
        &root,
        &[
            &url,
            "--resolve",
            &resolve,
            "-k",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    cli::ok(&o);
    assert!(
        stderr(&o).contains("warning: -k/--insecure"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "hello from nginx\n");

    let ca = TestCa::new();
    let ca_pem = dir.path().join("ca.pem");
    std::fs::write(&ca_pem, ca.cert_pem()).unwrap();
    let flagged = Nginx::builder()
        .tls_cert(ca.ca_flagged_server_cert(&["localhost"]))
        .start();
    let url = flagged.https_url("localhost", "/hello.txt");
    let resolve = format!("localhost:{}:127.0.0.1", flagged.https_port);
    let o = wxdl(
        &root,
        &[
            &url,
            "--resolve",
            &resolve,
            "--cacert",
            ca_pem.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(19));
    assert!(
        stderr(&o).contains("is a CA certificate, not a server certificate"),
        "{}",
        stderr(&o)
    );
}

/// A scheme-less URL in a batch list is saved under its last path segment, as `-O` does.
#[test]
fn batch_names_scheme_less_urls_by_their_path() {
    let nginx = Nginx::start();
    std::fs::create_dir_all(nginx.root.join("dir")).unwrap();
    std::fs::write(nginx.root.join("dir/a.txt"), "a\n").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sandbox");
    let list = dir.path().join("list.txt");
    let bare = nginx.url("/dir/a.txt").replace("http://", "");
    std::fs::write(&list, format!("{bare}\n")).unwrap();
    let into = dir.path().join("into");
    let o = wxdl(
        &root,
        &[
            "-i",
            list.to_str().unwrap(),
            "-d",
            into.to_str().unwrap(),
            "-q",
        ],
    );
    cli::ok(&o);
    assert_eq!(std::fs::read_to_string(into.join("a.txt")).unwrap(), "a\n");
    assert!(!into.join("index.html").exists());
}

/// `--http3` against a server without QUIC: the first run tries QUIC once (its Initial packets
/// reach the UDP port, nobody answers, it falls back to TCP after the handshake bound) and
/// remembers it; the next run goes straight to TCP (not one datagram).
#[test]
fn http3_without_quic_is_tried_once_then_remembered_across_runs() {
    let ca = TestCa::new();
    let nginx = Nginx::builder().tls(&ca).start();
    // Nothing speaks QUIC here: a silent UDP socket on the HTTPS port counts what arrives.
    let udp = std::net::UdpSocket::bind(("127.0.0.1", nginx.https_port)).unwrap();
    udp.set_nonblocking(true).unwrap();
    let datagrams = || {
        let mut buf = [0u8; 2048];
        std::iter::from_fn(|| udp.recv(&mut buf).ok())
            .take(10_000)
            .count()
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sandbox");
    let ca_pem = dir.path().join("ca.pem");
    std::fs::write(&ca_pem, ca.cert_pem()).unwrap();
    let url = nginx.https_url("localhost", "/hello.txt");
    let resolve = format!("localhost:{}:127.0.0.1", nginx.https_port);
    let args = [
        url.as_str(),
        "--http3",
        "--resolve",
        &resolve,
        "--cacert",
        ca_pem.to_str().unwrap(),
        "--json",
    ];
    let o = wxdl(&root, &args);
    cli::ok(&o);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["profile"]["protocol"],
        "http1.1"
    );
    assert!(datagrams() > 0, "the first run did not try QUIC");
    let state = std::fs::read_to_string(root.with_file_name("data").join("alt-svc.json")).unwrap();
    assert!(
        state.contains("quic_failed") || state.contains("quicFailed"),
        "{state}"
    );
    for _ in 0..2 {
        let o = wxdl(&root, &args);
        cli::ok(&o);
        assert_eq!(datagrams(), 0, "a later run tried QUIC again");
    }
}
