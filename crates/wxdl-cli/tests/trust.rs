//! `wxdl get` against staged servers that change the file under it, plant things beside the
//! target or answer 304/204 (issue 23): never two versions in one file, nothing hangs, a
//! kept file is said to be kept.

use std::path::Path;
use std::process::Output;
use std::sync::Arc;

use wxdl_testkit::cli;
use wxdl_testkit::ranged::{pattern, Ranged, Script};

const BIN: &str = env!("CARGO_BIN_EXE_wxdl");

/// `wxdl get --root ROOT ARGS…`, its state beside the sandbox, to its end.
fn wxdl(root: &Path, args: &[&str]) -> Output {
    cli::bounded(cli::get(BIN, root, args))
}

/// A staged server running on its own runtime while the test runs the binary.
struct Staged {
    _rt: tokio::runtime::Runtime,
    server: Ranged,
}

fn staged(script: Script) -> Staged {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(Ranged::start(script));
    Staged { _rt: rt, server }
}

/// `-C --retry 2`: the body is cut, the file changes on the server, and the server ignores
/// `If-Range` (its 206 is a range of the new version). The file is the new version whole,
/// never 2 parts of two versions; `--split 4` against such a server fails and leaves nothing.
#[test]
fn continue_and_split_never_splice_two_versions() {
    let (v1, v2) = (pattern(1, 2 << 20), pattern(2, 2 << 20));
    let s = staged(Script {
        cut_next: Some(700_000),
        ignore_if_range: true,
        then: Some(("\"v2\"".into(), v2.clone())),
        ..Script::new("\"v1\"", v1.clone())
    });
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sandbox");
    let out = dir.path().join("t.bin");
    let url = s.server.url("/t");
    let o = wxdl(
        &root,
        &[
            &url,
            "-C",
            "--retry",
            "2",
            "--retry-delay",
            "10",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    cli::ok(&o);
    assert!(std::fs::read(&out).unwrap() == *v2, "two versions spliced");

    let s = staged(Script {
        ignore_if_range: true,
        then: Some(("\"v2\"".into(), v2.clone())),
        ..Script::new("\"v1\"", v1.clone())
    });
    let split = dir.path().join("s.bin");
    let o = wxdl(
        &root,
        &[
            &s.server.url("/s"),
            "--split",
            "4",
            "-o",
            split.to_str().unwrap(),
        ],
    );
    assert_ne!(o.status.code(), Some(0), "{}", cli::stdout(&o));
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(said.contains("the file changed"), "{said}");
    assert!(!split.exists());
}

/// A FIFO planted as the partial file's record: `wxdl get -C` does not block on it (the
/// harness kills a run past 20 s and fails the test).
#[test]
fn continue_never_hangs_on_a_fifo_planted_as_the_record() {
    let data: Arc<Vec<u8>> = pattern(3, 300_000);
    let s = staged(Script::new("\"f\"", data.clone()));
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sandbox");
    let out = dir.path().join("f.bin");
    let fifo = std::process::Command::new("mkfifo")
        .arg(dir.path().join(".f.bin.wxdl-partial.json"))
        .status()
        .unwrap();
    assert!(fifo.success());
    cli::ok(&wxdl(
        &root,
        &[&s.server.url("/f"), "-C", "-o", out.to_str().unwrap()],
    ));
    assert!(std::fs::read(&out).unwrap() == *data);
}

/// A 304 to the user's own `If-None-Match` keeps the `-o` file and says so (exit 0); a 204
/// keeps it too unless `--save-empty`.
#[test]
fn not_modified_and_no_content_keep_the_file_and_say_so() {
    let s = staged(Script::new("\"e\"", pattern(4, 1000)));
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sandbox");
    let out = dir.path().join("e.bin");
    std::fs::write(&out, b"current").unwrap();
    let o = out.to_str().unwrap();
    let url = s.server.url("/e");
    let said = cli::ok(&wxdl(&root, &[&url, "-H", "If-None-Match: \"e\"", "-o", o]));
    assert!(
        said.contains("304 Not Modified") && said.contains("unchanged"),
        "{said}"
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"current");
    let json = cli::ok(&wxdl(
        &root,
        &[&url, "-H", "If-None-Match: \"e\"", "-o", o, "--json"],
    ));
    assert!(json.contains("\"unchanged\":true"), "{json}");

    s.server.script().no_content = true;
    let said = cli::ok(&wxdl(&root, &[&url, "-o", o]));
    assert!(
        said.contains("204 No Content") && said.contains("unchanged"),
        "{said}"
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"current");
    cli::ok(&wxdl(&root, &[&url, "-o", o, "--save-empty"]));
    assert_eq!(std::fs::read(&out).unwrap(), b"");
}

/// The JS host (`wxdl run`): `resume: true, retry: 2` against a server that changes the file
/// and ignores `If-Range` gets the new version whole; `split: 4` against such a server fails
/// and leaves nothing.
#[test]
fn a_script_never_gets_two_versions_spliced() {
    let (v1, v2) = (pattern(5, 2 << 20), pattern(6, 2 << 20));
    let resumed = staged(Script {
        cut_next: Some(600_000),
        ignore_if_range: true,
        then: Some(("\"v2\"".into(), v2.clone())),
        ..Script::new("\"v1\"", v1.clone())
    });
    let split = staged(Script {
        ignore_if_range: true,
        then: Some(("\"v2\"".into(), v2.clone())),
        ..Script::new("\"v1\"", v1.clone())
    });
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        r#"const usr = wx.env.USER_DATA_PATH;
wx.downloadFile({{ url: '{}', filePath: usr + '/r.bin', resume: true, retry: 2, retryDelay: 10,
  success: (r) => console.log('resumed', r.statusCode, r.dataLength),
  fail: (e) => console.log('resumed fail', e.errMsg) }});
wx.downloadFile({{ url: '{}', filePath: usr + '/s.bin', split: 4,
  success: (r) => console.log('split', r.statusCode),
  fail: (e) => console.log('split fail', e.errMsg) }});
"#,
        resumed.server.url("/r"),
        split.server.url("/s")
    );
    let path = dir.path().join("splice.js");
    std::fs::write(&path, script).unwrap();
    let data = dir.path().join(".wxdl-data");
    let out = cli::ok(&cli::bounded(cli::run(BIN, &path, &data, &[])));
    assert!(out.contains("resumed 200 2097152"), "{out}");
    assert!(out.contains("split fail downloadFile:fail"), "{out}");
    let usr = data.join("sandbox/usr");
    assert!(std::fs::read(usr.join("r.bin")).unwrap() == *v2, "spliced");
    assert!(!usr.join("s.bin").exists());
}

/// `-o /dev/stdout` is `-o -`: the body goes through descriptor 1 — a pipe, or a file the
/// shell opened for appending (kept, written after what it held; never replaced).
#[test]
fn output_to_dev_stdout_writes_through_descriptor_one() {
    let data = pattern(7, 100_000);
    let s = staged(Script::new("\"o\"", data.clone()));
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sandbox");
    let url = s.server.url("/o");
    let o = wxdl(&root, &[&url, "-o", "/dev/stdout"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.stdout == *data, "the body on the pipe, and nothing else");

    let log = dir.path().join("log");
    std::fs::write(&log, b"before\n").unwrap();
    let appended = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    let mut cmd = cli::get(BIN, &root, &[&url, "-o", "/dev/stdout"]);
    cmd.stdout(appended).stderr(std::process::Stdio::piped());
    let o = cli::finish(cmd.spawn().unwrap());
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut want = b"before\n".to_vec();
    want.extend_from_slice(&data);
    assert!(
        std::fs::read(&log).unwrap() == want,
        "appended through fd 1"
    );
}

/// `-O -J`: a server-suggested name that starts with `.` (`.bash_profile`) or `-` (`-rf`) is
/// refused (exit 22, nothing created); the user may still pass such a name with `-o`.
#[test]
fn remote_header_names_never_start_with_a_dot_or_a_dash() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(wxdl_testkit::RawServer::start(|mut s, _| async move {
        use tokio::io::AsyncWriteExt;
        let head = wxdl_testkit::raw::read_head(&mut s).await;
        let name = if head.starts_with("GET /dot") {
            ".bash_profile"
        } else {
            "-rf"
        };
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Disposition: attachment; filename=\"{name}\"\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbody"
        );
        let _ = s.write_all(answer.as_bytes()).await;
    }));
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let root = dir.path().join("sandbox");
    let get = |args: &[&str]| {
        let mut c = cli::get(BIN, &root, args);
        c.current_dir(&work);
        cli::bounded(c)
    };
    for path in ["/dot", "/dash"] {
        let o = get(&["-O", "-J", &server.url(path)]);
        let said = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(22), "{said}");
        assert!(said.contains("starts with '.' or '-'"), "{said}");
    }
    assert_eq!(std::fs::read_dir(&work).unwrap().count(), 0);
    cli::ok(&get(&[&server.url("/dot"), "-o", ".bash_profile"]));
    assert_eq!(std::fs::read(work.join(".bash_profile")).unwrap(), b"body");
}
