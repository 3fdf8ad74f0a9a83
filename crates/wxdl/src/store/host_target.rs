//! Ordinary host paths as destinations (the CLI's `-o`, `--har` and state files): a symlink is
//! followed and its target replaced, never the link; a character device, FIFO or socket is
//! written straight through; anything else is replaced atomically through a private file.
//!
//! Imports `pinned` and `error`; never the sandbox or a download policy.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{storage_io, Fail};
use crate::store::dir_pins::DirPins;
use crate::store::pinned::{PinnedDir, Target};

/// Where a download's body is to be written, checked before any network I/O.
#[derive(Debug)]
pub(crate) enum Sink {
    /// A file replaced atomically at commit.
    Replace(Target),
    /// Written straight through (a character device, FIFO, or an open stream).
    Through { file: Arc<File>, shown: PathBuf },
}

impl Sink {
    /// The host path shown for this sink.
    pub fn path(&self) -> PathBuf {
        match self {
            Sink::Replace(t) => t.path(),
            Sink::Through { shown, .. } => shown.clone(),
        }
    }
}

/// Checks an ordinary host path (CLI `-o`) before any network I/O and pins where it goes.
///
/// A symlink is followed: its final target is what gets replaced, never the link. A character
/// device, FIFO or socket there is written straight through (`-o /dev/null`). Otherwise the
/// parent must be a directory and the target must not be one. A directory other downloads
/// write into now is shared from `pins`.
pub(crate) fn check_host_target(path: &Path, pins: &DirPins) -> Result<Sink, Fail> {
    host_sink(path, Some(pins)).map_err(|e| storage_io(e, &path.display().to_string()))
}

/// [`check_host_target`] with the reasons as I/O errors: `IsADirectory` for a directory,
/// `NotFound` for a missing parent.
fn host_sink(path: &Path, pins: Option<&DirPins>) -> io::Result<Sink> {
    // One `lstat` answers for a path that is not a link (most are); a link is followed to
    // its end and that is looked at.
    let (path, meta) = match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            let end = follow_link(path)?;
            let meta = std::fs::metadata(&end).ok();
            (end, meta)
        }
        Ok(m) => (path.to_path_buf(), Some(m)),
        Err(_) => (path.to_path_buf(), None),
    };
    if let Some(meta) = meta {
        if meta.is_dir() {
            return Err(io::Error::new(io::ErrorKind::IsADirectory, "a directory"));
        }
        if !meta.is_file() {
            let file = std::fs::OpenOptions::new().write(true).open(&path)?;
            return Ok(Sink::Through {
                file: Arc::new(file),
                shown: path,
            });
        }
    }
    let Some(name) = path.file_name() else {
        return Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "names a directory",
        ));
    };
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = name.to_os_string();
    let pinned = match pins {
        Some(pins) => pins.pin(parent),
        None => PinnedDir::open(parent),
    };
    let dir = pinned.map_err(|e| {
        if e.raw_os_error() == Some(libc::ENOTDIR) {
            io::Error::new(io::ErrorKind::NotFound, "parent is not a directory")
        } else {
            e
        }
    })?;
    Ok(Sink::Replace(Target { dir, name }))
}

/// Writes a small file by the same rules as a download to a host path: readers see the old
/// file or the whole new one (a private file, synced, put in place; permission bits of a
/// replaced file kept), a symlink's target is replaced, a device or FIFO is written straight
/// through. For the state and reports a face keeps beside its downloads (`--har`, caches).
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("report.json");
/// wxdl::store::write_file_atomic(&path, b"{}")?;
/// wxdl::store::write_file_atomic(std::path::Path::new("/dev/null"), b"gone")?;
/// assert_eq!(std::fs::read(&path)?, b"{}");
/// # Ok(()) }
/// ```
pub fn write_file_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    match host_sink(path, None)? {
        Sink::Through { file, .. } => (&*file).write_all(data),
        Sink::Replace(target) => {
            let mut private = target.dir.create_private()?;
            let written = private
                .file
                .write_all(data)
                .and_then(|()| private.file.sync_data())
                .and_then(|()| target.dir.publish(&private, &target.name));
            if written.is_err() {
                target.dir.discard(&private);
            }
            written
        }
    }
}

/// Where a chain of symlinks ends, the last one possibly dangling (then its target is created).
fn follow_link(path: &Path) -> io::Result<PathBuf> {
    const MAX_LINKS: usize = 40;
    let mut path = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match std::fs::read_link(&path) {
            Ok(next) => {
                path = match path.parent() {
                    Some(parent) => parent.join(next),
                    None => next,
                }
            }
            Err(_) => return Ok(path),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::PermissionDenied,
        "too many levels of symbolic links",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FailReason;

    #[test]
    fn host_target_checks() {
        let dir = tempfile::tempdir().unwrap();
        let pins = DirPins::default();
        assert_eq!(
            check_host_target(&dir.path().join("nope/f"), &pins)
                .unwrap_err()
                .reason,
            FailReason::NoSuchFileOrDirectory
        );
        assert_eq!(
            check_host_target(dir.path(), &pins).unwrap_err().reason,
            FailReason::IllegalOperationOnDirectory
        );
        assert!(check_host_target(&dir.path().join("f"), &pins).is_ok());
    }
}
