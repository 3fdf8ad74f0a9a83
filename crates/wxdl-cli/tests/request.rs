//! `wxdl request` and `wxdl upload` against real servers on loopback: the testkit's echo server (what went on the
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

fn upload(dir: &Path, args: &[&str]) -> Output {
    let mut c = Command::new(BIN);
    c.env("WXDL_DATA_DIR", dir.join("data"))
        .arg("upload")
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

#[test]
fn upload_sends_wechats_multipart_from_a_local_or_sandbox_file() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ca = TestCa::new();
    let echo = rt.block_on(Echo::start(&ca));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = d.join("photo.jpg");
    let sha = write_random(&file, 3 * 1024 * 1024 + 7);

    // A local file: fields first, then the file, byte-exact; the answer's body on stdout.
    let o = upload(
        d,
        &[
            file.to_str().unwrap(),
            &echo.url("/up"),
            "--name",
            "avatar",
            "-F",
            "user=42",
            "-F",
            "a=b=c",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let got = json(&o);
    let parts = got["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 3, "{got}");
    assert_eq!(
        (parts[0]["name"].as_str(), parts[0]["value"].as_str()),
        (Some("user"), Some("42"))
    );
    assert_eq!(
        (parts[1]["name"].as_str(), parts[1]["value"].as_str()),
        (Some("a"), Some("b=c"))
    );
    assert_eq!(parts[2]["name"], "avatar");
    assert_eq!(parts[2]["filename"], "photo.jpg");
    assert_eq!(parts[2]["content_type"], "image/jpeg");
    assert_eq!(parts[2]["len"], 3 * 1024 * 1024 + 7);
    assert_eq!(parts[2]["sha256"], sha);

    // A sandbox file by its wxfile:// path, --json: the Mini Program result (data as text).
    let root = d.join("sandbox");
    std::fs::create_dir_all(root.join("usr")).unwrap();
    std::fs::copy(&file, root.join("usr/p.jpg")).unwrap();
    let o = upload(
        d,
        &[
            "--root",
            root.to_str().unwrap(),
            "--file-path",
            "wxfile://usr/p.jpg",
            "--json",
            &echo.url("/status/201"),
        ],
    );
    assert_eq!(o.status.code(), Some(0));
    let res = json(&o);
    assert_eq!(res["errMsg"], "uploadFile:ok");
    assert_eq!(res["statusCode"], 201);
    let echoed: Value = serde_json::from_str(res["data"].as_str().unwrap()).unwrap();
    assert_eq!(echoed["parts"][0]["sha256"], sha);

    // A sandbox path outside usr/ and tmp: refused as WeChat does, nothing sent.
    let hits = echo.hits();
    let o = upload(
        d,
        &[
            "--root",
            root.to_str().unwrap(),
            "--file-path",
            "wxfile://usr/../../etc/passwd",
            "--json",
            &echo.url("/x"),
        ],
    );
    let res = json(&o);
    assert_eq!(res["errno"], 603303, "{res}");
    assert_eq!(echo.hits(), hits);
}

/// `request --help` and `upload --help` name the same options as their sections of
/// docs/request.md.
#[test]
fn help_and_docs_name_the_same_options() {
    let dir = tempfile::tempdir().unwrap();
    let page = include_str!("../../../docs/request.md");
    let longs = |text: &str| -> std::collections::BTreeSet<String> {
        text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .filter(|w| w.starts_with("--") && w[2..].starts_with(|c: char| c.is_ascii_lowercase()))
            .map(|w| w.trim_end_matches('-').to_owned())
            .collect()
    };
    let (request_part, upload_part) = page.split_at(page.find("## `wxdl upload`").unwrap());
    for (command, section) in [("request", request_part), ("upload", upload_part)] {
        let help = cli::ok(&{
            let mut c = Command::new(BIN);
            c.env("WXDL_DATA_DIR", dir.path().join("data"))
                .args([command, "--help"]);
            cli::bounded(c)
        });
        let option_lines: String = help
            .lines()
            // An option's line, and its aliases where clap wraps them onto a line of their own.
            .filter(|l| l.trim_start().starts_with('-') || l.trim_start().starts_with("[aliases:"))
            .collect::<Vec<_>>()
            .join("\n");
        // The client options are listed once, in the request section.
        let (in_help, in_page) = (longs(&option_lines), longs(page));
        for flag in in_help.iter().filter(|f| *f != "--help") {
            assert!(
                in_page.contains(flag),
                "docs/request.md's {command} lacks {flag}"
            );
        }
        let rows: String = section
            .lines()
            .filter(|l| l.starts_with("| `-"))
            .collect::<Vec<_>>()
            .join("\n");
        for flag in longs(&rows) {
            assert!(
                in_help.contains(&flag),
                "docs/request.md names {flag}, which {command} --help lacks"
            );
        }
    }
}

#[test]
fn har_records_a_request_with_its_body_and_an_upload_with_its_fields() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ca = TestCa::new();
    let echo = rt.block_on(Echo::start(&ca));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let read_har = |path: &Path| -> Vec<Value> {
        let log: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        assert_eq!(log["log"]["version"], "1.2");
        log["log"]["entries"].as_array().unwrap().clone()
    };

    // POST through a 307 (method and body kept) and a 303 (a GET without the body).
    let har = d.join("post.har");
    let o = request(
        d,
        &[
            "-d",
            r#"{"n":1}"#,
            "--har",
            har.to_str().unwrap(),
            &echo.url("/redirect/307?to=/redirect/303"),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let entries = read_har(&har);
    let methods: Vec<&str> = entries
        .iter()
        .map(|e| e["request"]["method"].as_str().unwrap())
        .collect();
    assert_eq!(methods, ["POST", "POST", "GET"], "{entries:#?}");
    for e in &entries[..2] {
        let req = &e["request"];
        assert_eq!(req["bodySize"], 7);
        assert_eq!(req["postData"]["mimeType"], "application/json");
        assert_eq!(req["postData"]["text"], r#"{"n":1}"#);
        assert!(e["response"]["redirectURL"].as_str().unwrap().contains("/"));
    }
    assert_eq!(entries[0]["response"]["status"], 307);
    assert_eq!(entries[1]["response"]["status"], 303);
    let last = &entries[2];
    assert_eq!(last["request"]["bodySize"], 0);
    assert!(last["request"].get("postData").is_none(), "{last:#}");
    assert_eq!(last["response"]["status"], 200);
    // The 303's Location is `/` (no `to`), fetched with GET.
    assert_eq!(last["request"]["url"], echo.url("/"));

    // An upload: the fields and the file part by name, never the file's bytes.
    let file = d.join("photo.jpg");
    write_random(&file, 50_000);
    let har = d.join("upload.har");
    let o = upload(
        d,
        &[
            file.to_str().unwrap(),
            &echo.url("/up"),
            "--name",
            "pic",
            "-F",
            "user=7",
            "-F",
            "note=hi there",
            "--har",
            har.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let entries = read_har(&har);
    assert_eq!(entries.len(), 1);
    let req = &entries[0]["request"];
    assert_eq!(req["method"], "POST");
    assert!(req["bodySize"].as_u64().unwrap() > 50_000, "{req:#}");
    let post = &req["postData"];
    assert!(post["mimeType"]
        .as_str()
        .unwrap()
        .starts_with("multipart/form-data; boundary="));
    assert_eq!(
        post["params"],
        serde_json::json!([
            {"name": "user", "value": "7"},
            {"name": "note", "value": "hi there"},
            {"name": "pic", "fileName": "photo.jpg"},
        ])
    );
    assert!(post.get("text").is_none());
    assert!(
        std::fs::metadata(&har).unwrap().len() < 20_000,
        "no file bytes in the log"
    );
}

#[test]
fn per_api_domain_lists_from_the_command_line() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ca = TestCa::new();
    let echo = rt.block_on(Echo::start(&ca));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pem = d.join("ca.pem");
    std::fs::write(&pem, ca.cert_pem()).unwrap();
    let entry = format!("wxdl.test:{}", echo.https_port);
    let resolve = format!("wxdl.test:{}:127.0.0.1", echo.https_port);
    let url = echo.https_url("wxdl.test", "/ok");
    let common = [
        "--json",
        "--cacert",
        pem.to_str().unwrap(),
        "--resolve",
        &resolve,
    ];
    let with = |extra: &[&str]| -> Vec<String> {
        common
            .iter()
            .chain(extra)
            .map(|s| s.to_string())
            .chain([url.clone()])
            .collect()
    };

    // The request list admits it.
    let v = with(&[
        "--request-domain",
        &entry,
        "--download-domain",
        "cdn.example.com",
    ]);
    let res = json(&request(d, &strs(&v)));
    assert_eq!(res["errMsg"], "request:ok", "{res}");
    // Only a download list: a request has no list of its own and no --domain, so it is refused.
    let before = echo.hits();
    let v = with(&["--download-domain", &entry]);
    let o = request(d, &strs(&v));
    let res = json(&o);
    let msg = res["errMsg"].as_str().unwrap();
    assert!(
        msg.starts_with("request:fail url not in domain list"),
        "{res}"
    );
    assert_eq!(res["errno"], 600002);
    assert_eq!(echo.hits(), before, "nothing was sent");
    // --domain is the fallback of an API without its own list.
    let v = with(&["--domain", &entry, "--upload-domain", "up.example.com"]);
    assert_eq!(json(&request(d, &strs(&v)))["errMsg"], "request:ok");

    // An upload is checked against the upload list.
    let file = d.join("f.bin");
    write_random(&file, 1000);
    let up = |extra: &[&str]| {
        let mut v: Vec<String> = common.iter().map(|s| s.to_string()).collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v.push(file.to_str().unwrap().to_owned());
        v.push(echo.https_url("wxdl.test", "/up"));
        upload(d, &strs(&v))
    };
    let res = json(&up(&["--request-domain", &entry]));
    let msg = res["errMsg"].as_str().unwrap();
    assert!(
        msg.starts_with("uploadFile:fail url not in domain list"),
        "{res}"
    );
    let res = json(&up(&["--upload-domain", &entry]));
    assert_eq!(res["errMsg"], "uploadFile:ok", "{res}");
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}
