//! Set-up for tests of the engine: a sandbox and client builder per test, outcome helpers,
//! and the "nothing was left" checks.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tempfile::TempDir;

use crate::TestCa;
use wxdl::{
    Client, ClientBuilder, DownloadOptions, DownloadTask, Fail, FailReason, Outcome, Success,
};

/// A sandbox directory and a client builder over it (wxdl.test resolves to 127.0.0.1).
pub struct Env {
    pub dir: TempDir,
}

impl Default for Env {
    fn default() -> Self {
        Env::new()
    }
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("sandbox")
    }

    /// A builder with this sandbox, no platform roots, and `wxdl.test` → 127.0.0.1 for `ports`.
    pub fn builder(&self, ports: &[u16]) -> ClientBuilder {
        let mut b = Client::builder()
            .sandbox_root(self.root())
            .platform_roots(false);
        for &p in ports {
            b = b.resolve("wxdl.test", p, "127.0.0.1".parse().unwrap());
        }
        b
    }

    pub fn client(&self, ports: &[u16]) -> Client {
        self.builder(ports).build().unwrap()
    }

    /// [`Env::builder`] that also trusts `ca` (HTTPS to the test servers).
    pub fn trusting(&self, ports: &[u16], ca: &TestCa) -> ClientBuilder {
        self.builder(ports).add_root_certificate_pem(ca.cert_pem())
    }

    /// Every file under the sandbox (tmp and usr), for "nothing was left" checks.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        walk(&self.root(), &mut out);
        out.sort();
        out
    }
}

/// Every file below `dir` (not directories), appended to `out`.
pub fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Unwraps a success, with the failure in the panic message.
pub fn ok(outcome: Outcome) -> Success {
    match outcome {
        Ok(s) => s,
        Err(f) => panic!("expected success, got {f}"),
    }
}

/// Unwraps a failure and checks its reason.
pub fn fail(outcome: Outcome, reason: FailReason) -> Fail {
    match outcome {
        Ok(s) => panic!("expected {reason:?}, got success {}", s.status_code),
        Err(f) => {
            assert_eq!(f.reason, reason, "{f}");
            assert!(f.message().starts_with(reason.reason()));
            assert_eq!(f.errno(), reason.errno());
            f
        }
    }
}

/// A bound for waiting on anything in tests.
pub const LIMIT: Duration = Duration::from_secs(20);

/// Starts a download and returns its task once the first body bytes are on disk (bounded).
pub async fn started_streaming(client: &Client, opts: DownloadOptions) -> DownloadTask {
    let seen = std::sync::Arc::new(tokio::sync::Notify::new());
    let signal = seen.clone();
    let task = client.download(opts.on_progress_update(move |p| {
        if p.total_bytes_written > 0 {
            signal.notify_one();
        }
    }));
    tokio::time::timeout(LIMIT, seen.notified())
        .await
        .expect("the body started within the limit");
    task
}

/// Asserts that `dir` holds no partial data: no private file (`.wxdl-….tmp`, the name an
/// unnamed file gets for an instant at commit, or the fallback's) and no `.part`.
pub fn assert_no_partial(dir: &Path) {
    let partial: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".wxdl-") || n.ends_with(".part"))
        .collect();
    assert!(
        partial.is_empty(),
        "partial data left in {dir:?}: {partial:?}"
    );
}
