//! The minimal build (`scripts/build-c.sh --minimal`: no QUIC, brotli or zstd, the size
//! profile) still downloads over HTTP/1.1, TLS and HTTP/2, and stays within the embedding
//! budget: built by the script, loaded through Python's ctypes, against nginx with TLS.

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use wxdl_testkit::{sha256_file, write_random, Nginx, TestCa};

/// The budget issue 28 sets for the stripped minimal `libwxdl_c.so`.
const BUDGET: u64 = 3 << 20;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
}

#[test]
#[ignore = "heavy: builds the minimal library (minutes), run by scripts/heavy.sh"]
fn the_minimal_library_downloads_over_http1_tls_and_h2() {
    let build = Command::new("bash")
        .arg(root().join("scripts/build-c.sh"))
        .arg("--minimal")
        .current_dir(root())
        .output()
        .expect("run scripts/build-c.sh");
    let stderr = String::from_utf8_lossy(&build.stderr);
    assert!(build.status.success(), "build-c.sh --minimal:\n{stderr}");
    let stdout = String::from_utf8_lossy(&build.stdout);
    let dir = root().join(stdout.lines().last().expect("the output directory").trim());
    let lib = dir.join("libwxdl_c.so");
    // The script strips symbols; what ships is the file as built.
    let size = std::fs::metadata(&lib).unwrap().len();
    assert!(
        size <= BUDGET,
        "{} is {size} bytes, over {BUDGET}",
        lib.display()
    );

    let ca = TestCa::new();
    let nginx = Nginx::builder().tls(&ca).start();
    write_random(&nginx.root.join("m.bin"), 300_000);
    let want = sha256_file(&nginx.root.join("m.bin"));
    let scratch = tempfile::tempdir().unwrap();
    let cacert = scratch.path().join("ca.pem");
    std::fs::write(&cacert, ca.cert_pem()).unwrap();
    let sandbox = scratch.path().join("sandbox");
    let http = nginx.url("/m.bin");
    // Two origins (the certificate names both): an idle HTTP/1.1 connection in the pool would
    // serve a later enableHttp2 download of its origin.
    let https_h1 = nginx.https_url("127.0.0.1", "/m.bin");
    let https = nginx.https_url("localhost", "/m.bin");
    // (name, URL and options, protocol the profile must name)
    let cases = [
        ("h1", http.clone(), "http1.1"),
        ("tls-h1", format!("{https_h1},enableHttp2=0"), "http1.1"),
        ("tls-h2", format!("{https},enableHttp2=1"), "h2"),
        // Without the http3 feature enableQuic is accepted and the download goes over h2.
        (
            "quic-asked",
            format!("{https},enableHttp2=1,enableQuic=1"),
            "h2",
        ),
    ];
    let out = Command::new("python3")
        .arg(root().join("crates/wxdl-c/tests/fixtures/fetch.py"))
        .arg(&lib)
        .arg(&sandbox)
        .arg(&cacert)
        .args(cases.iter().map(|(name, url, _)| format!("{name}={url}")))
        .output()
        .expect("python3");
    let text = format!(
        "{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), cases.len(), "{text}");
    for ((name, _, protocol), line) in cases.iter().zip(&lines) {
        assert_eq!(line["name"], *name, "{text}");
        assert_eq!(line["kind"], "success", "{name}: {text}");
        assert_eq!(line["statusCode"], 200, "{name}: {text}");
        assert_eq!(line["protocol"], *protocol, "{name}: {text}");
        assert_eq!(line["sha256"], want.as_str(), "{name}: {text}");
    }
}
