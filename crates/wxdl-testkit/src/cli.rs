//! Running the `wxdl` binary as a user would: with its state kept beside the test's sandbox,
//! bounded in time (a hang fails the test instead of stalling the suite), and interrupted by
//! signals. The binary's path comes from the test (`env!("CARGO_BIN_EXE_wxdl")`).

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// How long a run of the binary may take before the test calls it a hang.
pub const RUN_LIMIT: Duration = Duration::from_secs(20);

/// `bin get --root ROOT ARGS…`, its state in `data` next to ROOT.
pub fn get(bin: &str, root: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(bin);
    c.env("WXDL_DATA_DIR", root.with_file_name("data"))
        .arg("get")
        .arg("--root")
        .arg(root)
        .args(args);
    c
}

/// `bin run SCRIPT --data-dir DATA ARGS…`.
pub fn run(bin: &str, script: &Path, data: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(bin);
    c.arg("run")
        .arg(script)
        .arg("--data-dir")
        .arg(data)
        .args(args);
    c
}

/// Starts `cmd` with piped output.
pub fn spawn(mut cmd: Command) -> Child {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start wxdl")
}

/// Waits for `child` within [`RUN_LIMIT`], reading its output meanwhile (a body on stdout
/// fills any pipe buffer); a hang is killed and fails the test.
pub fn finish(child: Child) -> Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(RUN_LIMIT) {
        Ok(out) => out.expect("wxdl output"),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("wxdl hung (more than {RUN_LIMIT:?})");
        }
    }
}

/// Runs `cmd` to its end within [`RUN_LIMIT`].
pub fn bounded(cmd: Command) -> Output {
    finish(spawn(cmd))
}

/// Starts `cmd`, sends it `signal` (`INT`, `TERM`, `HUP`) after `after`, and returns what it
/// printed by its end.
pub fn interrupted(cmd: Command, signal: &str, after: Duration) -> Output {
    let child = spawn(cmd);
    std::thread::sleep(after);
    let sent = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .expect("kill");
    assert!(sent.success(), "could not send SIG{signal}");
    finish(child)
}

/// Writes each `(relative path, text)` under `dir`, creating directories.
pub fn write_all(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().expect("a file has a parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }
}

/// Makes a FIFO at `path`.
pub fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

/// Stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Stdout of a run that must have exited 0 (else both streams are shown).
pub fn ok(o: &Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        stdout(o),
        String::from_utf8_lossy(&o.stderr)
    );
    stdout(o)
}

/// `npm ci` in `dir` from its committed lockfile; false (the reason printed, for a test to skip)
/// when it did not run.
pub fn npm_ci(dir: &Path) -> bool {
    let npm = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--silent"])
        .current_dir(dir)
        .status();
    match npm {
        Ok(s) if s.success() => true,
        other => {
            eprintln!(
                "skipped: npm ci in {} did not run ({other:?})",
                dir.display()
            );
            false
        }
    }
}
