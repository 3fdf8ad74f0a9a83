//! Where a download's body goes: checked (and its directory pinned) once the download is
//! admitted, made concrete when the response head is known (a temp file's extension, a user
//! file's quota, a name from `Content-Disposition`), and — with `resume` — the partial file
//! that may hold the start of the body already.
//!
//! Imports the sandbox, `host_target`, `partial`, `pinned`, `quota`, `disposition`, `mime` and
//! `error`; only `download` imports it.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::header::CONTENT_TYPE;

use crate::engine::Engine;
use crate::error::{Fail, FailReason};
use crate::options::DownloadOptions;
use crate::store::host_target::{check_host_target, Sink};
use crate::store::partial::{self, Partial};
use crate::store::pinned::{PinnedDir, Target};
use crate::store::quota::Reservation;
use crate::store::sandbox::UserTarget;

/// How often a locked partial file is asked for again.
const LOCKED_POLL: Duration = Duration::from_millis(2);

/// Where the body goes, checked before any network I/O.
pub(crate) enum Destination {
    /// A new `wxfile://tmp_…` file, named once the response type is known.
    Temp,
    /// A `wxfile://usr/…` path (echoed back) and where it lives on the host.
    User { file_path: String, host: UserTarget },
    /// An ordinary host path (CLI `-o`) or an open stream.
    Host(Sink),
}

/// **\[beyond\]** A host file named by the response (`Content-Disposition`), the CLI's `-J`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Naming {
    /// Replace a file of that name that is already there.
    pub clobber: bool,
}

impl Naming {
    /// Renames `target` (in its pinned directory) after the response's suggestion, if any;
    /// refuses to replace an existing file unless clobbering, and refuses a suggestion that
    /// starts with `.` (a hidden file: `.bashrc`) or `-` (read as an option by the next
    /// command: `-rf`) — a name like that only when the user passes it (`-o`).
    fn apply(self, target: &mut Target, headers: &http::HeaderMap) -> Result<(), Fail> {
        if let Some(name) = crate::download::disposition::suggested_name(headers) {
            if name.starts_with(['.', '-']) {
                return Err(Fail::with(
                    FailReason::PermissionDenied,
                    format_args!(
                        "the server suggested the name {name:?}: refusing a name that starts \
                         with '.' or '-' (pass it with -o to use it)"
                    ),
                ));
            }
            target.name = name.into();
        }
        let exists = std::fs::symlink_metadata(target.path()).is_ok();
        if exists && !self.clobber {
            return Err(Fail::with(
                FailReason::PermissionDenied,
                format_args!(
                    "{}: refusing to replace a file named by the server (clobber to allow)",
                    target.path().display()
                ),
            ));
        }
        Ok(())
    }
}

/// A destination made concrete once the response head is known.
pub(crate) struct Opened {
    pub target: Sink,
    pub temp_file_path: Option<String>,
    pub file_path: Option<String>,
    pub quota: Option<Reservation>,
}

impl Destination {
    pub fn check(engine: &Engine, options: &DownloadOptions) -> Result<Destination, Fail> {
        if let Some(file) = &options.output_file {
            return Ok(Destination::Host(Sink::Through {
                file: Arc::clone(file),
                shown: options.host_path.clone().unwrap_or_else(|| "-".into()),
            }));
        }
        if let Some(p) = &options.host_path {
            return Ok(Destination::Host(check_host_target(p, &engine.host_dirs)?));
        }
        match &options.file_path {
            Some(fp) => Ok(Destination::User {
                host: engine.sandbox.check_user_target(fp)?,
                file_path: fp.clone(),
            }),
            None => Ok(Destination::Temp),
        }
    }

    /// Names the temp file (its extension from the response type, else the URL) or reserves
    /// the user file's room in the quota.
    pub fn open(
        self,
        engine: &Engine,
        url: &url::Url,
        headers: &http::HeaderMap,
        expected: Option<u64>,
        naming: Option<Naming>,
    ) -> Result<Opened, Fail> {
        let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
        Ok(match self {
            Destination::Temp => {
                let ext = crate::store::mime::temp_extension(url, content_type);
                let (wx, target) = engine.sandbox.new_temp(ext.as_deref())?;
                Opened {
                    target: Sink::Replace(target),
                    temp_file_path: Some(wx),
                    file_path: None,
                    quota: None,
                }
            }
            Destination::User { file_path, host } => {
                // Room for the announced length now; more is taken as bytes arrive past it.
                let guard = engine.sandbox.reserve_for(&host, expected.unwrap_or(0))?;
                Opened {
                    target: Sink::Replace(host.target),
                    temp_file_path: None,
                    file_path: Some(file_path),
                    quota: Some(guard),
                }
            }
            Destination::Host(mut target) => {
                if let (Some(naming), Sink::Replace(t)) = (naming, &mut target) {
                    naming.apply(t, headers)?;
                }
                Opened {
                    target,
                    temp_file_path: None,
                    file_path: None,
                    quota: None,
                }
            }
        })
    }

    /// **\[beyond\]** The partial file a resumable download of `url` to this destination
    /// uses: beside a host file, in the sandbox's `tmp` for sandbox paths. `None` where a body
    /// cannot be kept (a device or stream, a name the response chooses) or when another
    /// holder keeps it locked past [`partial::LOCKED_PATIENCE`]; a file system error there only
    /// means the download does not resume.
    pub async fn partial(
        &self,
        engine: &Engine,
        url: &str,
        named_by_response: bool,
    ) -> Option<Partial> {
        let name = match self {
            Destination::Host(Sink::Replace(t)) if !named_by_response => {
                partial::name_beside(&t.name)
            }
            Destination::Host(_) => return None,
            Destination::User { file_path, .. } => partial::name_for(url, file_path),
            Destination::Temp => partial::name_for(url, ""),
        };
        let home = || match self {
            Destination::Host(Sink::Replace(t)) => Ok(t.dir.clone()),
            _ => PinnedDir::open(engine.sandbox.tmp_dir()),
        };
        let give_up = Instant::now() + partial::LOCKED_PATIENCE;
        loop {
            match home().and_then(|home| Partial::open(home, name.clone(), url)) {
                Ok(found) => return found,
                // Held by another download, or for a moment by a child process of ours
                // between fork and exec: asked again shortly.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < give_up => {
                    tokio::time::sleep(LOCKED_POLL).await;
                }
                Err(e) => {
                    tracing::debug!("no partial file for {url}: {e}");
                    return None;
                }
            }
        }
    }
}
