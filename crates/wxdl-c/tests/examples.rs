//! The C and Python examples, built against the header and the shared library alone and run
//! against a real nginx: a download, an abort, a bad option.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use wxdl_testkit::{write_random, Nginx};

/// The workspace root.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
}

/// The directory holding this build's `libwxdl_c.so` (built here if the test build did not
/// make it: integration tests link the rlib), or `WXDL_C_LIB_DIR` (e.g. the `--minimal` build's
/// `target/minimal/release`) when set.
fn lib_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("WXDL_C_LIB_DIR") {
            return root().join(dir);
        }
        // target/<profile>/deps/examples-… → target/<profile>
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().unwrap().parent().unwrap().to_owned();
        let target = profile_dir.parent().unwrap();
        let release = profile_dir.file_name().unwrap() == "release";
        let mut cargo = Command::new(env!("CARGO"));
        cargo
            .args(["build", "-q", "-p", "wxdl-c", "--lib"])
            .env("CARGO_TARGET_DIR", target)
            .current_dir(root());
        if release {
            cargo.arg("--release");
        }
        let status = cargo.status().expect("run cargo");
        assert!(status.success(), "cargo build -p wxdl-c");
        assert!(profile_dir.join("libwxdl_c.so").exists());
        profile_dir
    })
}

/// The C example, compiled once per test run.
fn c_example() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(compile_c_example)
}

fn compile_c_example() -> PathBuf {
    let out = lib_dir().join("wxdl-c-example");
    let status = Command::new("cc")
        .arg(root().join("examples/c/download.c"))
        .arg("-I")
        .arg(root().join("crates/wxdl-c/include"))
        .arg("-L")
        .arg(lib_dir())
        .args(["-lwxdl_c", "-lpthread", "-Wall", "-Werror", "-o"])
        .arg(&out)
        .status()
        .expect("run cc");
    assert!(status.success(), "cc examples/c/download.c");
    out
}

fn show(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// nginx with a small file and a slow big one.
fn server() -> Nginx {
    let nginx = Nginx::start();
    write_random(&nginx.root.join("small.bin"), 200_000);
    write_random(&nginx.root.join("slow/big.bin"), 8 << 20);
    nginx
}

/// Runs the C example (`ROOT URL SLOW_URL extra…`) against a fresh nginx and sandbox.
fn run_c_example(extra: &[&str]) -> Output {
    let nginx = server();
    let sandbox = tempfile::tempdir().unwrap();
    Command::new(c_example())
        .arg(sandbox.path())
        .arg(nginx.url("/small.bin"))
        .arg(nginx.url("/slow/big.bin"))
        .args(extra)
        .env("LD_LIBRARY_PATH", lib_dir())
        .output()
        .unwrap()
}

#[test]
fn the_c_example_downloads_aborts_and_gets_wechats_failure() {
    let out = run_c_example(&[]);
    let text = show(&out);
    assert!(out.status.success(), "{text}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(r#"1 success {"errMsg":"downloadFile:ok","statusCode":200"#),
        "{text}"
    );
    assert!(
        stdout.contains(r#"2 fail {"errMsg":"downloadFile:fail abort","errno":603105}"#),
        "{text}"
    );
    assert!(
        stdout.contains(r#"3 fail {"errMsg":"downloadFile:fail invalid url: parameter.url should be String instead of Number","errno":600009}"#),
        "{text}"
    );
    assert!(stdout.contains("done: 3 completed"), "{text}");
}

#[test]
fn the_python_example_runs() {
    let nginx = server();
    let sandbox = tempfile::tempdir().unwrap();
    let out = Command::new("python3")
        .arg(root().join("examples/python/download.py"))
        .arg(sandbox.path())
        .arg(nginx.url("/small.bin"))
        .arg(nginx.url("/slow/big.bin"))
        .env("WXDL_LIB", lib_dir().join("libwxdl_c.so"))
        .output()
        .expect("python3");
    let text = show(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("done: ok"),
        "{text}"
    );
}

#[test]
fn a_hundred_calls_with_aborts_all_complete_before_free_returns() {
    let out = run_c_example(&["--loop", "100"]);
    let text = show(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("loop: 100 calls, 100 completed, 50 ok, 50 aborted"),
        "{text}"
    );
}

/// The heavy run (scripts/heavy.sh, release build): 1000 calls, every other one aborted, under
/// valgrind: no definite or indirect leak, no invalid read or write, every call completed
/// before free returned. Bounded to 15 minutes; `WXDL_VALGRIND_CALLS` changes the count (even).
#[test]
#[ignore = "heavy: valgrind, run by scripts/heavy.sh"]
fn a_thousand_calls_with_aborts_under_valgrind() {
    let nginx = Nginx::start();
    write_random(&nginx.root.join("tiny.bin"), 20_000);
    write_random(&nginx.root.join("slow/big.bin"), 8 << 20);
    let calls: u32 = std::env::var("WXDL_VALGRIND_CALLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    let sandbox = tempfile::tempdir().unwrap();
    let log = sandbox.path().join("valgrind.log");
    let out = Command::new("timeout")
        .args([
            "900",
            "valgrind",
            "--error-exitcode=99",
            "--leak-check=full",
        ])
        .args([
            "--errors-for-leak-kinds=definite,indirect",
            "--show-leak-kinds=definite,indirect",
        ])
        .arg(format!("--log-file={}", log.display()))
        .arg(c_example())
        .arg(sandbox.path().join("root"))
        .arg(nginx.url("/tiny.bin"))
        .arg(nginx.url("/slow/big.bin"))
        .args(["--loop", &calls.to_string()])
        .env("LD_LIBRARY_PATH", lib_dir())
        .output()
        .expect("valgrind");
    let report = std::fs::read_to_string(&log).unwrap_or_default();
    let summary: Vec<&str> = report
        .lines()
        .filter(|l| {
            l.contains("ERROR SUMMARY") || l.contains("lost:") || l.contains("in use at exit")
        })
        .collect();
    println!("{}\n{}", show(&out), summary.join("\n"));
    assert!(out.status.success(), "{}\n{report}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!(
            "loop: {calls} calls, {calls} completed, {} ok, {} aborted",
            calls / 2,
            calls / 2
        )),
        "{}",
        show(&out)
    );
    assert!(report.contains("ERROR SUMMARY: 0 errors"), "{report}");
}
