//! The Node package (`crates/wxdl-node/npm`) against a real nginx: its `node:test` suite, and
//! `npm pack` installed into a fresh project that downloads with it. Needs the addon built
//! (`scripts/build-node.sh`, which `scripts/test.sh` runs first) and node; otherwise skipped
//! with the reason printed.

use std::path::{Path, PathBuf};
use std::process::Command;

use wxdl_testkit::{write_random, write_sparse, Nginx, TestCa};

fn package() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../wxdl-node/npm")
}

/// The package directory, when the addon is built and node is here.
fn ready() -> Option<PathBuf> {
    let pkg = package();
    if !pkg.join("wxdl.node").exists() || !pkg.join("fs_manager.js").exists() {
        eprintln!("skipped: the Node addon is not built (bash scripts/build-node.sh)");
        return None;
    }
    if Command::new("node").arg("--version").output().is_err() {
        eprintln!("skipped: node is not installed");
        return None;
    }
    Some(pkg)
}

/// nginx with what the package's tests ask for: a slow file, one past the 200 MiB cap
/// (sparse), a connection closed without an answer, and HTTPS from a CA nobody trusts.
fn nginx() -> Nginx {
    let nginx = Nginx::builder()
        .tls(&TestCa::new())
        .location("location = /drop { return 444; }")
        .start();
    std::fs::create_dir_all(nginx.root.join("slow")).unwrap();
    write_random(&nginx.root.join("slow/big.bin"), 4 << 20);
    write_sparse(&nginx.root.join("huge.bin"), 200 * 1024 * 1024 + 1);
    nginx
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("start");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

#[test]
fn the_packages_node_test_suite_passes() {
    let Some(pkg) = ready() else { return };
    let nginx = nginx();
    let out = run(Command::new("node")
        .arg("--test")
        .arg("--test-timeout=60000")
        .arg(pkg.join("test"))
        .env("WXDL_TEST_BASE", nginx.url(""))
        .env("WXDL_TEST_HTTPS", nginx.https_url("localhost", "")));
    assert!(out.contains("# fail 0"), "{out}");
    assert!(out.contains("# pass 9"), "every test ran: {out}");
}

#[test]
fn npm_pack_installs_into_a_fresh_project_and_works_there() {
    let Some(pkg) = ready() else { return };
    let nginx = nginx();
    let work = tempfile::tempdir().unwrap();
    let packed = run(Command::new("npm")
        .args(["pack", "--silent", "--pack-destination"])
        .arg(work.path())
        .current_dir(&pkg));
    let tarball = work
        .path()
        .join(packed.trim().lines().last().unwrap().trim());
    assert!(tarball.exists(), "{packed}");
    let project = work.path().join("app");
    std::fs::create_dir(&project).unwrap();
    std::fs::write(
        project.join("package.json"),
        r#"{"name":"app","version":"1.0.0"}"#,
    )
    .unwrap();
    run(Command::new("npm")
        .args(["install", "--offline", "--no-audit", "--no-fund"])
        .arg(&tarball)
        .current_dir(&project));
    let script = format!(
        "const {{ createWx }} = require('wxdl');\n\
         createWx({{}}).downloadFile({{ url: '{}', success: (r) => console.log('got', r.statusCode, r.dataLength) }});",
        nginx.url("/hello.txt")
    );
    let out = run(Command::new("node")
        .args(["-e", &script])
        .current_dir(&project));
    assert!(out.contains("got 200 17"), "{out}");
}

/// `examples/jest`: a custom component that downloads in `attached`, rendered by
/// miniprogram-simulate under Jest with `setupFiles: ['wxdl/jest']`, against nginx; and its
/// `types.check.ts` (official typings against the package's) through `tsc`. Its npm
/// dependencies come from the committed lockfile (`npm ci`).
#[test]
fn the_jest_example_passes_with_miniprogram_simulate() {
    let Some(_) = ready() else { return };
    let nginx = nginx();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/jest");
    run(Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--silent"])
        .current_dir(&example));
    let out = run(Command::new("npx")
        .args(["jest", "--ci"])
        .env("WXDL_TEST_BASE", nginx.url(""))
        .current_dir(&example));
    assert!(out.contains("Tests:       2 passed, 2 total"), "{out}");
    // Code typed against miniprogram-api-typings type-checks against the package's types.
    run(Command::new("npm")
        .args(["run", "--silent", "typecheck"])
        .current_dir(&example));
}
