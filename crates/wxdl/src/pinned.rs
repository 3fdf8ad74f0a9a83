//! Where a download lands: a directory held open by descriptor plus a file name, so that a
//! symlink swapped into the path after the checks cannot move the write anywhere else.
//!
//! The checks (sandbox confinement, parent exists, not a directory) run on paths before any
//! network I/O; the directory they approve is opened right then and every later step — create
//! the `.part`, rename it over the target, remove it on failure — is relative to that
//! descriptor (`openat`, `renameat`, `unlinkat`). Renaming or replacing a path component later
//! changes nothing about where the bytes go, and the commit refuses to publish the file when
//! the path no longer names the directory it was written in.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags};

/// A directory opened once and used by descriptor from then on.
#[derive(Debug)]
pub(crate) struct PinnedDir {
    fd: OwnedFd,
    /// The path it was opened at, for messages and for the "still there" check.
    path: PathBuf,
}

impl PinnedDir {
    /// Opens the directory at `path` (following symlinks: callers pass checked paths).
    pub fn open(path: &Path) -> io::Result<PinnedDir> {
        let fd = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(PinnedDir {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// The path the kernel has for the open directory now: canonical, whatever happened to
    /// the path it was opened at since.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub fn real_path(&self) -> io::Result<PathBuf> {
        use std::os::fd::AsRawFd;
        std::fs::read_link(format!("/proc/self/fd/{}", self.fd.as_raw_fd()))
    }

    /// Without `/proc`, the canonical form of the opened path, accepted only when it is the
    /// very directory that was opened.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    pub fn real_path(&self) -> io::Result<PathBuf> {
        let canon = self.path.canonicalize()?;
        if self.is_at(&canon)? {
            Ok(canon)
        } else {
            Err(io::Error::other("the directory moved while it was opened"))
        }
    }

    /// The path it was opened at.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether `path` still names this directory (same device and inode).
    pub fn is_at(&self, path: &Path) -> io::Result<bool> {
        let here = rustix::fs::fstat(&self.fd)?;
        Ok(match rustix::fs::stat(path) {
            Ok(there) => here.st_dev == there.st_dev && here.st_ino == there.st_ino,
            Err(_) => false,
        })
    }

    /// Creates (truncating) `name` in this directory for writing; never follows a symlink
    /// planted at `name`.
    pub fn create_file(&self, name: &OsStr) -> io::Result<File> {
        let fd = rustix::fs::openat(
            &self.fd,
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o644),
        )?;
        Ok(File::from(fd))
    }

    /// Renames `from` to `to`, both in this directory (atomic replace of `to`).
    pub fn rename(&self, from: &OsStr, to: &OsStr) -> io::Result<()> {
        Ok(rustix::fs::renameat(&self.fd, from, &self.fd, to)?)
    }

    /// Removes the file `name` from this directory.
    pub fn remove_file(&self, name: &OsStr) -> io::Result<()> {
        Ok(rustix::fs::unlinkat(&self.fd, name, AtFlags::empty())?)
    }
}

/// A checked destination: a pinned directory and the file name to publish there.
#[derive(Debug)]
pub(crate) struct Target {
    pub dir: PinnedDir,
    pub name: OsString,
}

impl Target {
    /// The target's host path (as it was when checked).
    pub fn path(&self) -> PathBuf {
        self.dir.path().join(&self.name)
    }

    /// The name of the `.part` file beside the target.
    pub fn part_name(&self) -> OsString {
        let mut part = self.name.clone();
        part.push(".part");
        part
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_follow_the_directory_not_the_path() {
        let base = tempfile::tempdir().unwrap();
        let inside = base.path().join("inside");
        let outside = base.path().join("outside");
        std::fs::create_dir_all(&inside).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        let dir = PinnedDir::open(&inside).unwrap();
        // Swap the path for a symlink leading elsewhere.
        let moved = base.path().join("moved");
        std::fs::rename(&inside, &moved).unwrap();
        std::os::unix::fs::symlink(&outside, &inside).unwrap();
        assert!(!dir.is_at(&inside).unwrap());

        drop(dir.create_file(OsStr::new("f.part")).unwrap());
        dir.rename(OsStr::new("f.part"), OsStr::new("f")).unwrap();
        assert!(moved.join("f").exists());
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
        dir.remove_file(OsStr::new("f")).unwrap();
        assert!(!moved.join("f").exists());
    }

    #[test]
    fn real_path_sees_through_links() {
        let base = tempfile::tempdir().unwrap();
        let root = base.path().join("root");
        let outside = base.path().join("outside");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
        let dir = PinnedDir::open(&root.join("link")).unwrap();
        assert_eq!(dir.real_path().unwrap(), outside.canonicalize().unwrap());
    }

    #[test]
    fn create_file_does_not_follow_a_planted_symlink() {
        let base = tempfile::tempdir().unwrap();
        let victim = base.path().join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        std::os::unix::fs::symlink(&victim, base.path().join("f.part")).unwrap();
        let dir = PinnedDir::open(base.path()).unwrap();
        assert!(dir.create_file(OsStr::new("f.part")).is_err());
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
    }
}
