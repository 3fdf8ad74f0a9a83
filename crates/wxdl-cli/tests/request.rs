//! `wxdl request` against real servers on loopback: the testkit's echo server (what went on the
//! wire) and nginx (HEAD, statuses), curl's flags, the Mini Program result with `--json`, exit
//! codes, and docs/request.md naming every option the help shows.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use wxdl_testkit::echo::Echo;
use wxdl_testkit::{cli, write_random, Nginx, TestCa};

const BIN: &str = env!("CARGO_BIN_EXE_wxdl");

fn request(dir: &Path, args: &[&str]) -> Output {
    let mut c = Command::new(BIN);
    c.env("WXDL_DATA_DIR", dir.join("data"))
        .arg("request")
        .args(args);
    cli::bounded(c)
}

fn json(o: &Output) -> Value {
    serde_json::from_str(cli::stdout(o).trim()).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            cli::stdout(o),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

#[test]
fn curl_flags_put_a_mini_programs_request_on_the_wire() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ca = TestCa::new();
    let echo = rt.block_on(Echo::start(&ca));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // GET: the body is printed as received (the echo's JSON).
    let got = json(&request(d, &[&echo.url("/a?x=1")]));
    assert_eq!(got["method"], "GET");
    assert_eq!(got["path"], "/a?x=1");

    // -d: POST, WeChat's default content-type, the text as it is.
    let o = request(
        d,
        &["-d", r#"{"n":1}"#, "-H", "X-Trace: t1", &echo.url("/p")],
    );
    assert_eq!(o.status.code(), Some(0));
    let got = json(&o);
    assert_eq!(got["method"], "POST");
    assert_eq!(got["body_text"], r#"{"n":1}"#);
    assert_eq!(got["headers"]["content-type"], "application/json");
    assert_eq!(got["headers"]["x-trace"], "t1");

    // -X PUT with a form type; -d @FILE sends the file's bytes.
    let body = d.join("body.bin");
    write_random(&body, 70_000);
    let got = json(&request(
        d,
        &[
            "-X",
            "put",
            "-H",
            "content-type: application/octet-stream",
            "-d",
            &format!("@{}", body.display()),
            &echo.url("/u"),
        ],
    ));
    assert_eq!(got["method"], "PUT");
    assert_eq!(got["body_len"], 70_000);
    assert_eq!(
        got["body_sha256"],
        wxdl_testkit::data::sha256_hex(&std::fs::read(&body).unwrap())
    );

    // GET with -d: the data is the query, as wx.request does with a string.
    let got = json(&request(d, &["-X", "GET", "-d", "k=v", &echo.url("/g")]));
    assert_eq!(got["path"], "/g?k=v");
    assert_eq!(got["body_len"], 0);

    // --json: the Mini Program result object; any status is a success (exit 4 for a 4xx).
    let o = request(d, &["--json", &echo.url("/status/404")]);
    assert_eq!(o.status.code(), Some(4));
    let res = json(&o);
    assert_eq!(res["errMsg"], "request:ok");
    assert_eq!(res["statusCode"], 404);
    assert_eq!(res["data"]["path"], "/status/404");
    assert_eq!(res["header"]["content-type"], "application/json");

    // A bad method: WeChat's words, exit 2, nothing sent.
    let before = echo.hits();
    let o = request(d, &["--json", "-X", "PATCH", &echo.url("/x")]);
    assert_eq!(o.status.code(), Some(2));
    let res = json(&o);
    assert!(
        res["errMsg"]
            .as_str()
            .unwrap()
            .starts_with("request:fail parameter error: parameter.method should be one of"),
        "{res}"
    );
    assert_eq!(echo.hits(), before);

    // --no-follow prints the redirect itself; -i shows the head first; -f hides a 4xx body.
    let o = request(d, &["-i", "--no-follow", &echo.url("/redirect/307?to=/b")]);
    let text = cli::stdout(&o);
    assert!(text.starts_with("HTTP/1.1 307 "), "{text}");
    assert!(text.contains("location: /b\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nmoved"), "{text}");
    let o = request(d, &["-f", &echo.url("/status/500")]);
    assert_eq!(o.status.code(), Some(5));
    assert!(cli::stdout(&o).is_empty());

    // -o FILE: the body put in place.
    let out = d.join("out.json");
    let o = request(d, &["-o", out.to_str().unwrap(), &echo.url("/o")]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let saved: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(saved["path"], "/o");
}

#[test]
fn head_and_failures_against_nginx() {
    let dir = tempfile::tempdir().unwrap();
    let nginx = Nginx::start();
    write_random(&nginx.root.join("f.bin"), 12_345);
    let d = dir.path();

    let o = request(d, &["-I", &nginx.url("/f.bin")]);
    let head = cli::stdout(&o);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("content-length: 12345\r\n"), "{head}");
    assert!(head.ends_with("\r\n\r\n"), "nothing after the head: {head}");

    // A refused connection is the failure table's row, in the fail object.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let o = request(d, &["--json", &format!("http://127.0.0.1:{port}/")]);
    assert_eq!(o.status.code(), Some(18));
    let res = json(&o);
    assert_eq!(res["errno"], 600001);
    assert!(res["errMsg"]
        .as_str()
        .unwrap()
        .starts_with("request:fail connect fail"));
}

/// `request --help` and docs/request.md say the same options.
#[test]
fn request_help_and_docs_name_the_same_options() {
    let dir = tempfile::tempdir().unwrap();
    let help = cli::ok(&request(dir.path(), &["--help"]));
    let page = include_str!("../../../docs/request.md");
    let longs = |text: &str| -> std::collections::BTreeSet<String> {
        text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .filter(|w| w.starts_with("--") && w[2..].starts_with(|c: char| c.is_ascii_lowercase()))
            .map(|w| w.trim_end_matches('-').to_owned())
            .collect()
    };
    let option_lines: String = help
        .lines()
        .filter(|l| l.trim_start().starts_with('-'))
        .collect::<Vec<_>>()
        .join("\n");
    let (in_help, in_page) = (longs(&option_lines), longs(page));
    for flag in in_help.iter().filter(|f| *f != "--help") {
        assert!(in_page.contains(flag), "docs/request.md lacks {flag}");
    }
    let rows: String = page
        .lines()
        .filter(|l| l.starts_with("| `-"))
        .collect::<Vec<_>>()
        .join("\n");
    for flag in longs(&rows) {
        assert!(
            in_help.contains(&flag),
            "docs/request.md names {flag}, which request --help lacks"
        );
    }
}
