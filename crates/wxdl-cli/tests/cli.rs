//! The `wxdl` binary as a user runs it, against a real nginx on loopback.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use wxdl_testkit::{cli, sha256_file, write_random, write_sparse, Nginx, TestCa};

const BIN: &str = env!("CARGO_BIN_EXE_wxdl");

/// `wxdl get --root ROOT ARGS…`, its state beside the sandbox, to its end.
fn wxdl(root: &Path, args: &[&str]) -> Output {
    cli::bounded(cli::get(BIN, root, args))
}

fn json(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text:?}"))
}

#[test]
fn get_to_output_file_json_and_exit_codes() {
    let nginx = Nginx::start();
    let sha = write_random(&nginx.root.join("f.bin"), 3_000_000);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sandbox");
    let out_path = dir.path().join("out");
    let out = out_path.to_str().unwrap();

    let o = wxdl(&root, &[&nginx.url("/f.bin"), "-o", out, "--json"]);
    cli::ok(&o);
    let v = json(&o);
    assert_eq!(v["errMsg"], "downloadFile:ok");
    assert_eq!(v["statusCode"], 200);
    assert_eq!(v["dataLength"], 3_000_000);
    assert!(v["profile"]["protocol"] == "http1.1");
    assert_eq!(sha256_file(&out_path), sha);
    assert!(
        o.stderr.is_empty(),
        "no progress bar when not on a terminal"
    );
    // errMsg comes first, as in WeChat's result objects.
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("{\"errMsg\""));

    let o = wxdl(&root, &[&nginx.url("/status/404"), "--json", "-q"]);
    assert_eq!(o.status.code(), Some(4));
    let v = json(&o);
    assert_eq!(
        (v["errMsg"].as_str(), v["statusCode"].as_u64()),
        (Some("downloadFile:ok"), Some(404))
    );
    let tmp = v["tempFilePath"].as_str().unwrap();
    assert!(tmp.starts_with("wxfile://tmp_"));
    let o = wxdl(&root, &[&nginx.url("/status/500"), "-q"]);
    assert_eq!(o.status.code(), Some(5));

    let o = wxdl(&root, &[&nginx.url("/hops/3"), "--json"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(json(&o)["statusCode"], 200);

    let o = wxdl(&root, &["ftp://127.0.0.1/x", "--json"]);
    assert_eq!(o.status.code(), Some(11));
    let v = json(&o);
    assert!(v["errMsg"]
        .as_str()
        .unwrap()
        .starts_with("downloadFile:fail invalid url"));
    assert_eq!(v["errno"], 600009);
    assert_eq!(
        wxdl(&root, &[&nginx.url("/loop"), "-q"]).status.code(),
        Some(21)
    );
}

#[test]
fn oversized_file_fails_and_leaves_existing_output_untouched() {
    let nginx = Nginx::start();
    write_sparse(&nginx.root.join("huge.bin"), 210_000_000);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sandbox");
    let out_path = dir.path().join("keep.bin");
    std::fs::write(&out_path, b"existing data").unwrap();
    let o = wxdl(
        &root,
        &[
            &nginx.url("/huge.bin"),
            "-o",
            out_path.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(o.status.code(), Some(16));
    let v = json(&o);
    assert!(v["errMsg"]
        .as_str()
        .unwrap()
        .starts_with("downloadFile:fail exceed max file size"));
    assert_eq!(v["errno"], 603301);
    assert_eq!(std::fs::read(&out_path).unwrap(), b"existing data");
    assert!(!dir.path().join("keep.bin.part").exists());
    let o = wxdl(&root, &[&nginx.url("/huge.bin"), "-q"]);
    assert_eq!(o.status.code(), Some(16));
    let leftovers: Vec<_> = std::fs::read_dir(root.join("tmp")).unwrap().collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn https_needs_the_ca() {
    let ca = TestCa::new();
    let nginx = Nginx::builder().tls(&ca).start();
    let sha = write_random(&nginx.root.join("s.bin"), 100_000);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sandbox");
    let ca_path = dir.path().join("ca.pem");
    std::fs::write(&ca_path, ca.cert_pem()).unwrap();
    let url = nginx.https_url("localhost", "/s.bin");
    let resolve = format!("localhost:{}:127.0.0.1", nginx.https_port);
    let out = dir.path().join("s.bin");
    let o = wxdl(
        &root,
        &[
            &url,
            "--resolve",
            &resolve,
            "--cacert",
            ca_path.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
    );
    cli::ok(&o);
    assert_eq!(sha256_file(&out), sha);
    let o = wxdl(
        &root,
        &[
            &url,
            "--resolve",
            &resolve,
            "--cacert",
            ca_path.to_str().unwrap(),
            "--http2",
            "--json",
        ],
    );
    cli::ok(&o);
    assert_eq!(json(&o)["profile"]["protocol"], "h2");
    let o = wxdl(&root, &[&url, "--resolve", &resolve, "--json"]);
    assert_eq!(o.status.code(), Some(19));
    assert!(json(&o)["errMsg"]
        .as_str()
        .unwrap()
        .starts_with("downloadFile:fail ssl handshake fail"));
}

/// `openssl req -x509`'s kind of certificate (self-signed, `CA:TRUE`), given with `--cacert`:
/// curl accepts it, and so does wxdl (HTTP/1.1 and h2).
#[test]
fn a_self_signed_server_certificate_given_with_cacert() {
    let own = wxdl_testkit::ca::self_signed_server_cert(&["localhost"], false);
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("server.pem");
    std::fs::write(&pem, &own.cert_pem).unwrap();
    let nginx = Nginx::builder().tls_cert(own).start();
    let sha = write_random(&nginx.root.join("s.bin"), 50_000);
    let root = dir.path().join("sandbox");
    let url = nginx.https_url("localhost", "/s.bin");
    let resolve = format!("localhost:{}:127.0.0.1", nginx.https_port);
    for (n, proto) in ["--quiet", "--http2"].into_iter().enumerate() {
        let out = dir.path().join(format!("s{n}.bin"));
        let o = wxdl(
            &root,
            &[
                &url,
                "--resolve",
                &resolve,
                "--cacert",
                pem.to_str().unwrap(),
                proto,
                "-o",
                out.to_str().unwrap(),
            ],
        );
        cli::ok(&o);
        assert_eq!(sha256_file(&out), sha);
    }
}

#[test]
fn sandbox_default_output_names_both_paths() {
    let nginx = Nginx::start();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sandbox");
    let o = wxdl(&root, &[&nginx.url("/hello.txt")]);
    assert_eq!(o.status.code(), Some(0));
    let line = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        line.contains("wxfile://tmp_") && line.contains(".txt"),
        "{line}"
    );
    assert!(line.contains(root.join("tmp").to_str().unwrap()), "{line}");
}

#[test]
fn batch_with_unique_names_json_lines_and_summary() {
    let nginx = Nginx::start();
    std::fs::create_dir_all(nginx.root.join("a")).unwrap();
    std::fs::create_dir_all(nginx.root.join("b")).unwrap();
    let sha_a = write_random(&nginx.root.join("a/f.bin"), 10_000);
    let sha_b = write_random(&nginx.root.join("b/f.bin"), 20_000);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sandbox");
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let list = dir.path().join("urls.txt");
    let mut urls = format!(
        "# a list\n{}\n\n{}\n",
        nginx.url("/a/f.bin"),
        nginx.url("/b/f.bin")
    );
    for i in 0..20 {
        urls.push_str(&format!("{}?n={i}\n", nginx.url("/hello.txt")));
    }
    std::fs::write(&list, &urls).unwrap();
    let args = [
        "-i",
        list.to_str().unwrap(),
        "-j",
        "4",
        "-d",
        out.to_str().unwrap(),
        "--json",
    ];
    let o = wxdl(&root, &args);
    cli::ok(&o);
    let lines: Vec<Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 22);
    for line in &lines {
        let saved = line["savedPath"]
            .as_str()
            .expect("each JSON line says where it was saved");
        assert!(Path::new(saved).starts_with(&out), "{saved}");
    }

    assert!(lines
        .iter()
        .all(|v| v["errMsg"] == "downloadFile:ok" && v["url"].is_string()));
    assert_eq!(sha256_file(&out.join("f.bin")), sha_a);
    assert_eq!(sha256_file(&out.join("f-1.bin")), sha_b);
    assert!(out.join("hello-19.txt").exists());
    // Connections were pooled: far fewer connections than downloads.
    let reused = lines
        .iter()
        .filter(|v| v["profile"]["socketReused"] == true)
        .count();
    assert!(reused >= 10, "{reused} of 22 reused a connection");
    assert!(String::from_utf8_lossy(&o.stderr).contains("22 downloads: 22 ok"));

    std::fs::write(&list, format!("{}\nftp://x/y\n", nginx.url("/hello.txt"))).unwrap();
    let o = wxdl(
        &root,
        &[
            "-i",
            list.to_str().unwrap(),
            "-d",
            out.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("1 failed"));
}

#[test]
fn demo_runs_offline() {
    let o = Command::new(env!("CARGO_BIN_EXE_wxdl"))
        .args(["demo", "--size", "3000000"])
        .output()
        .unwrap();
    cli::ok(&o);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("200 OK") && text.contains("matches the served file"),
        "{text}"
    );
}

const PROFILE_FIELDS: usize = 33;
const ORDER: [&str; 14] = wxdl::Profile::ORDERED_INSTANTS;

fn assert_profile(v: &Value, tls: bool, body: u64) {
    let p = &v["profile"];
    assert_eq!(p.as_object().unwrap().len(), PROFILE_FIELDS, "{p}");
    let mut last = 0.0;
    for f in ORDER {
        let t = p[f].as_f64().unwrap();
        if !tls && f.starts_with("SSL") {
            assert_eq!(t, 0.0);
            continue;
        }
        assert!(t >= last, "{f}: {t} < {last}");
        last = t;
    }
    assert_eq!(p["peerIP"], "127.0.0.1");
    assert_eq!(p["protocol"], "http1.1");
    let received = p["receivedBytedCount"].as_u64().unwrap();
    assert!(received >= body && received <= body + 4096, "{received}");
    assert!(p["sendBytesCount"].as_u64().unwrap() > 0);
    assert!(p["throughputKbps"].as_f64().unwrap() > 0.0);
}

#[test]
fn json_profile_over_http_and_https_with_waterfall_and_state() {
    let ca = TestCa::new();
    let nginx = Nginx::builder().tls(&ca).start();
    write_random(&nginx.root.join("f.bin"), 500_000);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ca_path = dir.path().join("ca.pem");
    std::fs::write(&ca_path, ca.cert_pem()).unwrap();
    let resolve = format!("localhost:{}:127.0.0.1", nginx.https_port);
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_wxdl"))
            .arg("get")
            .arg("--data-dir")
            .arg(&data)
            .args(args)
            .output()
            .unwrap()
    };
    let https = nginx.https_url("localhost", "/f.bin");
    let o = run(&[
        &https,
        "--cacert",
        ca_path.to_str().unwrap(),
        "--resolve",
        &resolve,
        "--json",
    ]);
    cli::ok(&o);
    let v = json(&o);
    assert_profile(&v, true, 500_000);
    assert_eq!(v["profile"]["port"], nginx.https_port);
    // The sandbox default is under the data dir.
    assert!(data.join("sandbox/tmp").is_dir());

    let o = run(&[&nginx.url("/f.bin"), "--json", "--profile"]);
    assert_eq!(o.status.code(), Some(0));
    let v = json(&o);
    assert_profile(&v, false, 500_000);
    let view = String::from_utf8_lossy(&o.stderr);
    for label in [
        "Queueing",
        "DNS lookup",
        "Initial connection",
        "Waiting (TTFB)",
        "Content download",
        "Total",
    ] {
        assert!(view.contains(label), "{label} missing in\n{view}");
    }
    assert!(view.contains("█") && view.contains(" ms"), "{view}");

    // The estimator state persisted: two runs, two observations of each RTT kind.
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("network-quality.json")).unwrap())
            .unwrap();
    assert_eq!(state["version"], 1);
    assert_eq!(state["http_rtt"].as_array().unwrap().len(), 2);
    // A corrupt file is ignored with a warning, never a crash, and replaced.
    std::fs::write(data.join("network-quality.json"), "{ not json").unwrap();
    let o = run(&[&nginx.url("/f.bin"), "-q"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stderr).contains("warning: ignoring corrupt"));
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("network-quality.json")).unwrap())
            .unwrap();
    assert_eq!(state["http_rtt"].as_array().unwrap().len(), 1);
}

/// Installs the npm `har-validator` package under the test's target dir (once) and returns the
/// module path.
fn har_validator() -> std::path::PathBuf {
    let prefix = Path::new(env!("CARGO_TARGET_TMPDIR")).join("har-validator");
    let module = prefix.join("node_modules/har-validator");
    if !module.exists() {
        let status = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
            .arg(&prefix)
            .arg("har-validator@5")
            .status()
            .expect("npm is needed to install the HAR validator (scripts/test.sh installs it)");
        assert!(status.success(), "npm install har-validator failed");
    }
    module
}

#[test]
fn har_of_a_redirected_run_validates() {
    let nginx = Nginx::start();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sandbox");
    let har_path = dir.path().join("run.har");
    let o = wxdl(
        &root,
        &[
            &nginx.url("/hops/2?x=1"),
            "-q",
            "--har",
            har_path.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0));
    let har: Value = serde_json::from_str(&std::fs::read_to_string(&har_path).unwrap()).unwrap();
    let entries = har["log"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "two redirects and the final request");
    assert_eq!(entries[0]["response"]["status"], 302);
    assert!(entries[0]["response"]["redirectURL"]
        .as_str()
        .unwrap()
        .ends_with("/hops/1"));
    assert_eq!(entries[2]["response"]["status"], 200);
    assert_eq!(entries[0]["request"]["queryString"][0]["name"], "x");
    for e in entries {
        let t = &e["timings"];
        let sum: f64 = ["blocked", "dns", "connect", "send", "wait", "receive"]
            .iter()
            .map(|k| t[k].as_f64().unwrap().max(0.0))
            .sum();
        assert!((sum - e["time"].as_f64().unwrap()).abs() < 1e-6);
    }

    let module = har_validator();
    let script = format!(
        "const v = require({m:?}); const har = JSON.parse(require('fs').readFileSync({f:?}, 'utf8'));\
         v.har(har).then(() => console.log('valid')).catch(e => {{ console.error(JSON.stringify(e.errors || e.message)); process.exit(1); }});",
        m = module.to_str().unwrap(),
        f = har_path.to_str().unwrap()
    );
    let out = Command::new("node")
        .arg("-e")
        .arg(&script)
        .output()
        .expect("node");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("valid"),
        "HAR invalid: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn http3_against_caddy_and_alt_svc_remembered_between_runs() {
    let ca = TestCa::new();
    let caddy = wxdl_testkit::Caddy::start(&ca);
    let sha = write_random(&caddy.root.join("f.bin"), 2_000_000);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sandbox");
    let ca_path = dir.path().join("ca.pem");
    std::fs::write(&ca_path, ca.cert_pem()).unwrap();
    let url = caddy.url("localhost", "/f.bin");
    let resolve = format!("localhost:{}:127.0.0.1", caddy.port);
    let out = dir.path().join("f.bin");
    let base = [
        url.as_str(),
        "--resolve",
        &resolve,
        "--cacert",
        ca_path.to_str().unwrap(),
        "--json",
    ];
    let run = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        let o = wxdl(&root, &args);
        cli::ok(&o);
        json(&o)["profile"]["protocol"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(run(&["--http3", "-o", out.to_str().unwrap()]), "quic");
    assert_eq!(sha256_file(&out), sha);
    // Alt-Svc: learned over h2 in one run, used by --quic in the next.
    std::fs::remove_file(root.with_file_name("data").join("alt-svc.json")).ok();
    assert_eq!(run(&["--http2", "--quic"]), "h2");
    assert_eq!(run(&["--quic"]), "quic");
    assert_eq!(run(&["--http2"]), "h2", "QUIC only when asked for");
}

#[test]
fn devices_stdout_and_odd_state_files() {
    use std::os::unix::fs::FileTypeExt;
    let nginx = Nginx::start();
    let sha = write_random(&nginx.root.join("f.bin"), 1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sandbox");
    let is_char_device = |p: &str| {
        std::fs::metadata(p)
            .map(|m| m.file_type().is_char_device())
            .unwrap_or(false)
    };

    // curl's idiom: the body and the HAR thrown away, the device left a device.
    let o = wxdl(
        &root,
        &[
            &nginx.url("/f.bin"),
            "-o",
            "/dev/null",
            "--har",
            "/dev/null",
        ],
    );
    cli::ok(&o);
    assert!(is_char_device("/dev/null"), "/dev/null was replaced");

    // `-o -`: the body on stdout, byte for byte; the result line on stderr.
    let o = wxdl(&root, &[&nginx.url("/f.bin"), "-o", "-"]);
    cli::ok(&o);
    assert_eq!(wxdl_testkit::sha256_hex(&o.stdout), sha);
    assert!(String::from_utf8_lossy(&o.stderr).contains("200 OK"));
    let o = wxdl(&root, &[&nginx.url("/f.bin"), "-o", "-", "--json"]);
    assert_eq!(o.stdout.len(), 1_000_000);
    assert!(String::from_utf8_lossy(&o.stderr).contains("\"errMsg\":\"downloadFile:ok\""));

    // A FIFO, a directory or a device at a state file: ignored with a warning, left alone,
    // and the run neither hangs nor fails.
    let data = root.with_file_name("data");
    std::fs::create_dir_all(&data).unwrap();
    for saved in ["alt-svc.json", "network-quality.json"] {
        let _ = std::fs::remove_file(data.join(saved));
    }
    cli::mkfifo(&data.join("alt-svc.json"));
    std::fs::create_dir_all(data.join("network-quality.json")).unwrap();
    let o = wxdl(&root, &[&nginx.url("/f.bin"), "-q"]);
    cli::ok(&o);
    let warnings = String::from_utf8_lossy(&o.stderr);
    assert!(warnings.contains("alt-svc.json"), "{warnings}");
    assert!(std::fs::metadata(data.join("alt-svc.json"))
        .unwrap()
        .file_type()
        .is_fifo());
    assert!(data.join("network-quality.json").is_dir());
}

#[test]
fn headers_wxdl_owns_are_dropped_with_a_warning() {
    let nginx = Nginx::start();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sandbox");
    let out = dir.path().join("echo.txt");
    let o = wxdl(
        &root,
        &[
            &nginx.url("/echo"),
            "-o",
            out.to_str().unwrap(),
            "-H",
            "Content-Length: 99",
            "-H",
            "Referer: https://elsewhere/",
            "-H",
            "X-Test: kept",
        ],
    );
    cli::ok(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("-H Content-Length: wxdl sets this header itself"),
        "{err}"
    );
    assert!(err.contains("-H Referer"), "{err}");
    assert!(!err.contains("X-Test"), "{err}");
    let echo = std::fs::read_to_string(&out).unwrap();
    assert!(echo.contains("x=kept"), "{echo}");
    assert!(
        echo.contains("referer=https://servicewechat.com/"),
        "{echo}"
    );
}

#[test]
fn a_long_batch_runs_under_a_small_descriptor_limit_and_bad_lists_stop_cleanly() {
    let nginx = Nginx::start();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sandbox");
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let list = dir.path().join("urls.txt");
    let urls: String = (0..2000)
        .map(|i| format!("{}?n={i}\n", nginx.url("/hello.txt")))
        .collect();
    std::fs::write(&list, urls).unwrap();
    // Queued downloads hold no descriptor: 2000 URLs with -j 10 fit in 128 descriptors.
    let o = Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -n 128 && exec "$@""#)
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_wxdl"))
        .env("WXDL_DATA_DIR", dir.path().join("data"))
        .args(["get", "--root", root.to_str().unwrap(), "-q", "-j", "10"])
        .args(["-i", list.to_str().unwrap(), "-d", out.to_str().unwrap()])
        .output()
        .unwrap();
    cli::ok(&o);
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 2000);

    // A list that is one endless line is refused at that line, in bounded memory.
    let o = wxdl(&root, &["-i", "/dev/zero", "-d", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("line 1 is longer than"));
}

/// `wxdl get` sent `signal` once the body is streaming (the slow location serves 256 KiB/s).
fn interrupted(root: &Path, signal: &str, args: &[&str]) -> Output {
    let streaming = std::time::Duration::from_millis(700);
    cli::interrupted(cli::get(BIN, root, args), signal, streaming)
}

#[test]
fn signals_abort_every_download_and_leave_nothing() {
    let nginx = Nginx::start();
    std::fs::create_dir_all(nginx.root.join("slow")).unwrap();
    write_random(&nginx.root.join("slow/big.bin"), 4 * 1024 * 1024);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sandbox");
    let kept = dir.path().join("kept.bin");
    std::fs::write(&kept, b"precious").unwrap();
    let slow = nginx.url("/slow/big.bin");

    for (signal, code) in [("INT", 130), ("TERM", 143), ("HUP", 129)] {
        let o = interrupted(
            &root,
            signal,
            &[&slow, "-o", kept.to_str().unwrap(), "--json"],
        );
        assert_eq!(
            o.status.code(),
            Some(code),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let v = json(&o);
        assert_eq!(v["errMsg"], "downloadFile:fail abort");
        assert_eq!(v["errno"], 603105);
        assert_eq!(std::fs::read(&kept).unwrap(), b"precious");
    }

    // A batch: every running and queued download ends as abort, one JSON line each.
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let list = dir.path().join("urls.txt");
    let urls: String = (0..6).map(|i| format!("{slow}?n={i}\n")).collect();
    std::fs::write(&list, urls).unwrap();
    let args = [
        "-i",
        list.to_str().unwrap(),
        "-j",
        "3",
        "-d",
        out.to_str().unwrap(),
        "--json",
    ];
    let o = interrupted(&root, "INT", &args);
    assert_eq!(o.status.code(), Some(130));
    let lines: Vec<Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6);
    assert!(lines
        .iter()
        .all(|v| v["errMsg"] == "downloadFile:fail abort"));
    let left: Vec<_> = std::fs::read_dir(&out).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
    let sandbox_tmp: Vec<_> = std::fs::read_dir(root.join("tmp")).unwrap().collect();
    assert!(sandbox_tmp.is_empty(), "{sandbox_tmp:?}");
}

#[test]
fn curl_habits_scheme_less_urls_new_batch_dirs_and_clear_refusals() {
    let nginx = Nginx::start();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sandbox");
    // A URL without a scheme is http://, as in curl.
    let bare = nginx.url("/hello.txt").replace("http://", "");
    let out = dir.path().join("hello.txt");
    let o = wxdl(&root, &[&bare, "-o", out.to_str().unwrap()]);
    cli::ok(&o);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "hello from nginx\n");
    // -d is created when missing; the summary counts in good English.
    let list = dir.path().join("one.txt");
    std::fs::write(&list, format!("{}\n", nginx.url("/hello.txt"))).unwrap();
    let new_dir = dir.path().join("new/nested");
    let o = wxdl(
        &root,
        &[
            "-i",
            list.to_str().unwrap(),
            "-d",
            new_dir.to_str().unwrap(),
        ],
    );
    cli::ok(&o);
    assert!(new_dir.join("hello.txt").is_file());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("1 download: 1 ok, 0 HTTP errors, 0 failed; 17 bytes"),
        "{err}"
    );
    // A URL together with -i is refused, never silently ignored.
    let o = wxdl(
        &root,
        &[&nginx.url("/hello.txt"), "-i", list.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot be used with"));
}

#[test]
fn remote_name_and_verbose_heads() {
    let nginx = Nginx::start();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sandbox");
    let mut cmd = cli::get(BIN, &root, &["-O", "-v", &nginx.url("/hops/2")]);
    cmd.current_dir(dir.path());
    let o = cli::bounded(cmd);
    cli::ok(&o);
    // -O names the file after the URL asked for, in the current directory.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("2")).unwrap(),
        "hello from nginx\n"
    );
    let err = String::from_utf8_lossy(&o.stderr);
    for line in [
        "* connected to 127.0.0.1 (HTTP/1.1)",
        "> GET /hops/2 HTTP/1.1",
        "< HTTP/1.1 302 Found",
        "* following the redirect to",
        "* reusing connection to 127.0.0.1 (HTTP/1.1)",
        "> GET /hello.txt HTTP/1.1",
        "< HTTP/1.1 200 OK",
        "< content-length: 17",
    ] {
        assert!(err.contains(line), "{line:?} missing in\n{err}");
    }
}

/// `-C`: a download killed outright (SIGKILL: no clean-up of any kind) is continued by the
/// next `-C` run from the bytes its partial file holds; in the sandbox, `wxdl clean --all`
/// removes a partial nobody continues.
#[test]
fn continue_after_sigkill_and_clean_partials() {
    let nginx = Nginx::start();
    let sha = write_random(&nginx.root.join("k.bin"), 4_000_000);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sandbox");
    let out = dir.path().join("k.bin");
    let partial = dir.path().join(".k.bin.wxdl-partial");
    let url = nginx.url("/k.bin");
    let args = [url.as_str(), "-C", "-o", out.to_str().unwrap(), "--json"];
    let slow: Vec<&str> = args.iter().copied().chain(["--limit-rate", "1M"]).collect();
    // Killed once its partial file holds some bytes (bounded wait).
    let killed_with = |args: &[&str], partial: &dyn Fn() -> Option<std::path::PathBuf>| -> u64 {
        let held = || {
            partial()
                .and_then(|p| std::fs::metadata(p).ok())
                .map_or(0, |m| m.len())
        };
        let mut child = cli::spawn(cli::get(BIN, &root, args));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while held() < 300_000 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        held()
    };
    let held = killed_with(&slow, &|| Some(partial.clone()));
    assert!((300_000..4_000_000).contains(&held), "{held}");
    assert!(!out.exists());
    let o = wxdl(&root, &args);
    cli::ok(&o);
    let v = json(&o);
    assert_eq!(v["statusCode"], 200);
    assert!(v["resumedFrom"].as_u64().unwrap() >= held, "{v}");
    assert_eq!(sha256_file(&out), sha);
    assert!(!partial.exists());

    // A sandbox temp download killed the same way leaves a partial in tmp; clean --all frees it.
    let slow = [url.as_str(), "-C", "--limit-rate", "1M", "-q"];
    let tmp = root.join("tmp");
    let found = || {
        std::fs::read_dir(&tmp)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.to_string_lossy().contains(".wxdl-partial-")
                    && !p.to_string_lossy().ends_with(".json")
            })
    };
    assert!(killed_with(&slow, &found) >= 300_000);
    assert!(found().is_some());
    let mut c = std::process::Command::new(BIN);
    c.env("WXDL_DATA_DIR", root.with_file_name("data")).args([
        "clean",
        "--all",
        "--root",
        root.to_str().unwrap(),
    ]);
    let said = cli::ok(&cli::bounded(c));
    assert!(said.contains("and 1 partial file of any age"), "{said}");
    assert!(found().is_none());
}

/// `--split 4`: the file comes in four ranged requests (the HAR shows them), whole.
#[test]
fn split_fetches_a_large_file_in_segments() {
    let nginx = Nginx::start();
    let sha = write_random(&nginx.root.join("s.bin"), 5_000_000);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sandbox");
    let out = dir.path().join("s.bin");
    let har = dir.path().join("s.har");
    let o = wxdl(
        &root,
        &[
            &nginx.url("/s.bin"),
            "--split",
            "4",
            "-o",
            out.to_str().unwrap(),
            "--har",
            har.to_str().unwrap(),
        ],
    );
    cli::ok(&o);
    assert_eq!(sha256_file(&out), sha);
    let har: Value = serde_json::from_slice(&std::fs::read(&har).unwrap()).unwrap();
    let mut statuses: Vec<u64> = har["log"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["response"]["status"].as_u64().unwrap())
        .collect();
    statuses.sort();
    assert_eq!(statuses, [200, 206, 206, 206]);
    let o = wxdl(&root, &[&nginx.url("/s.bin"), "--split", "17"]);
    assert_eq!(o.status.code(), Some(2), "at most 16");
}

/// `--network`, `--latency`: the emulated link under the CLI; offline fails at once.
#[test]
fn emulated_networks_from_the_command_line() {
    let nginx = Nginx::start();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sandbox");
    let url = nginx.url("/hello.txt");
    let o = wxdl(&root, &[&url, "--network", "offline", "--json"]);
    assert_eq!(
        o.status.code(),
        Some(18),
        "connect fail: an address is unreachable"
    );
    let o = wxdl(&root, &[&url, "--network", "5g"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("slow-2g"));
    let o = wxdl(
        &root,
        &[
            &url,
            "--down",
            "4000",
            "--latency",
            "150",
            "--loss",
            "1%",
            "--json",
        ],
    );
    cli::ok(&o);
    let v = json(&o);
    assert_eq!(v["profile"]["rtt"], 150.0);
    assert!(
        v["profile"]["responseStart"].as_f64().unwrap()
            - v["profile"]["requestStart"].as_f64().unwrap()
            >= 149.0
    );
}

#[test]
fn clean_removes_temp_files_past_retention() {
    let nginx = Nginx::start();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sandbox");
    // `wxdl get` into the sandbox keeps its temp file...
    cli::ok(&wxdl(&root, &[&nginx.url("/hello.txt"), "-q"]));
    let tmp = root.join("tmp");
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 1);
    let clean = |days: &str| {
        let mut c = std::process::Command::new(BIN);
        c.env("WXDL_DATA_DIR", root.with_file_name("data")).args([
            "clean",
            "--root",
            root.to_str().unwrap(),
            "--older-than",
            days,
        ]);
        cli::ok(&cli::bounded(c))
    };
    // ...within its retention...
    let out = clean("7");
    assert!(out.contains("0 temp files"), "{out}");
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 1);
    // ...and not past it.
    let out = clean("0");
    assert!(out.contains("freed 17 bytes: 1 temp file "), "{out}");
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);

    // Every start removes what is past the 7-day retention, and nothing younger.
    let old = ["tmp_00000000000000aa.txt", ".wxdl-partial-00000000000000aa"];
    for name in old {
        std::fs::write(tmp.join(name), b"old").unwrap();
        let touched = std::process::Command::new("touch")
            .args(["-d", "8 days ago"])
            .arg(tmp.join(name))
            .status()
            .unwrap();
        assert!(touched.success());
    }
    std::fs::write(tmp.join(".wxdl-partial-00000000000000aa.json"), b"{}").unwrap();
    std::fs::write(tmp.join("tmp_00000000000000bb.txt"), b"young").unwrap();
    cli::ok(&wxdl(&root, &[&nginx.url("/hello.txt"), "-o", "/dev/null"]));
    let mut left: Vec<String> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["tmp_00000000000000bb.txt"]);
}

#[test]
fn remote_header_name_is_safe_and_never_clobbers_unasked() {
    let nginx = Nginx::builder()
        .location(r#"location = /get.php { add_header Content-Disposition 'attachment; filename="report.pdf"'; }"#)
        .location(r#"location = /evil { add_header Content-Disposition 'attachment; filename="../../escape.txt"'; }"#)
        .start();
    std::fs::write(nginx.root.join("get.php"), b"%PDF-1.4 first").unwrap();
    std::fs::write(nginx.root.join("evil"), b"evil").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let root = dir.path().join("sandbox");
    let get = |args: &[&str]| {
        let mut c = cli::get(BIN, &root, args);
        c.current_dir(&work);
        cli::bounded(c)
    };
    cli::ok(&get(&["-O", "-J", &nginx.url("/get.php")]));
    assert_eq!(
        std::fs::read(work.join("report.pdf")).unwrap(),
        b"%PDF-1.4 first"
    );
    // The name is the server's: an existing file of that name is not replaced unasked.
    std::fs::write(nginx.root.join("get.php"), b"%PDF-1.4 second").unwrap();
    let o = get(&["-O", "-J", &nginx.url("/get.php")]);
    assert_eq!(
        o.status.code(),
        Some(22),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        std::fs::read(work.join("report.pdf")).unwrap(),
        b"%PDF-1.4 first"
    );
    cli::ok(&get(&["-O", "-J", "--clobber", &nginx.url("/get.php")]));
    assert_eq!(
        std::fs::read(work.join("report.pdf")).unwrap(),
        b"%PDF-1.4 second"
    );
    // A name with a path in it lands as its last component, in the directory the user chose.
    cli::ok(&get(&["-O", "-J", &nginx.url("/evil")]));
    assert!(work.join("escape.txt").is_file());
    assert!(!dir.path().join("escape.txt").exists());
}
