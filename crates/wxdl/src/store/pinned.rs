//! Where a download lands: a directory held open by descriptor plus a file name, so that a
//! symlink swapped into the path after the checks cannot move the write anywhere else.
//!
//! A leaf: imports nothing of the engine.
//!
//! The checks (sandbox confinement, parent exists, not a directory) run on paths before any
//! network I/O; the directory they approve is opened right then and every later step — create
//! the private file, link it over the target, remove leftovers — is relative to that descriptor
//! (`openat`, `linkat`, `renameat`, `unlinkat`). Renaming or replacing a path component later
//! changes nothing about where the bytes go, and the commit refuses to publish the file when
//! the path no longer names the directory it was written in.
//!
//! A download's data lives in a *private* file no other writer or reader can name: an unnamed
//! `O_TMPFILE` where the filesystem has them, else a random hidden name created exclusively
//! ([`PRIVATE_PREFIX`]…[`PRIVATE_SUFFIX`]). While it has a private name it is locked (`flock`),
//! so a leftover of a crash (unlocked) is told apart from a live download of another process
//! (locked) by [`PinnedDir::sweep_leftovers`], and it carries a mark only wxdl writes (the
//! extended attribute [`PRIVATE_MARK`], taken off when it is published), so a file the user
//! named like one is never taken for a leftover. An unnamed file needs neither (no sweep can
//! see it, a crash leaves nothing of it): it is linked straight under the target's name when
//! that name is free, and locked and marked only when it must take a private name to be
//! renamed over an existing file. Where the filesystem has no user extended attributes nothing
//! is marked, and nothing is swept.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};

use rustix::fs::{AtFlags, FileType, FlockOperation, Mode, OFlags, XattrFlags};

/// Names of private files begin with this (hidden) and end with [`PRIVATE_SUFFIX`], with 16
/// lowercase hex digits between: the pattern [`PinnedDir::sweep_leftovers`] recognises.
pub const PRIVATE_PREFIX: &str = ".wxdl-";
/// See [`PRIVATE_PREFIX`].
pub const PRIVATE_SUFFIX: &str = ".tmp";
/// The extended attribute (value `1`) every private file carries until it is published: the
/// proof that a file with a private name is wxdl's own leftover.
pub const PRIVATE_MARK: &str = "user.wxdl.private";
/// Attempts at a fresh random private name before giving up (collisions need 2^64 luck).
const NAME_ATTEMPTS: usize = 8;

/// A file being written for a download: its descriptor, and whether it has a name yet.
#[derive(Debug)]
pub(crate) struct Private {
    pub file: File,
    /// The hidden name it was created under; `None` for an unnamed `O_TMPFILE`.
    pub name: Option<OsString>,
}

/// A fresh private name: `.wxdl-<16 hex>.tmp`.
fn private_name() -> OsString {
    format!(
        "{PRIVATE_PREFIX}{:016x}{PRIVATE_SUFFIX}",
        rand::random::<u64>()
    )
    .into()
}

/// Locks a private file that has (or is about to have) a private name, so a sweep sees it is
/// alive, and marks it as wxdl's own ([`PRIVATE_MARK`]). Without user extended attributes
/// (some filesystems) it stays unmarked, so never swept. An unnamed file needs neither: no
/// sweep can see it.
fn claim(file: &File) -> io::Result<()> {
    rustix::fs::flock(file, FlockOperation::NonBlockingLockExclusive)?;
    let _ = rustix::fs::fsetxattr(file, PRIVATE_MARK, b"1", XattrFlags::empty());
    Ok(())
}

/// Whether `name` has the pattern of a private file.
pub(crate) fn is_private_name(name: &[u8]) -> bool {
    let (p, s) = (PRIVATE_PREFIX.as_bytes(), PRIVATE_SUFFIX.as_bytes());
    name.len() == p.len() + 16 + s.len()
        && name.starts_with(p)
        && name.ends_with(s)
        && name[p.len()..p.len() + 16]
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
}

/// A [`PinnedDir`]'s descriptor, not kept open, and its device and inode numbers.
pub(crate) type SharedDir = (Weak<OwnedFd>, (u64, u64));

/// A directory opened once and used by descriptor from then on. Clones share the descriptor.
#[derive(Debug, Clone)]
pub(crate) struct PinnedDir {
    fd: Arc<OwnedFd>,
    /// The path it was opened at, for messages and for the "still there" check.
    path: PathBuf,
    /// Its device and inode numbers, read once at open.
    id: (u64, u64),
}

impl PinnedDir {
    /// Opens the directory at `path` (following symlinks: callers pass checked paths).
    pub fn open(path: &Path) -> io::Result<PinnedDir> {
        let fd = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let st = rustix::fs::fstat(&fd)?;
        Ok(PinnedDir {
            fd: Arc::new(fd),
            path: path.to_path_buf(),
            id: (st.st_dev, st.st_ino),
        })
    }

    /// The descriptor without keeping it open, and the identity it was opened with: what
    /// [`PinnedDir::reopen`] needs (see `dir_pins`).
    pub fn share(&self) -> SharedDir {
        (Arc::downgrade(&self.fd), self.id)
    }

    /// The directory of [`PinnedDir::share`] again, while another holder keeps it open and
    /// `path` still names it (one `stat`): else `None`, and the caller opens it anew.
    pub fn reopen(path: &Path, shared: &SharedDir) -> Option<PinnedDir> {
        let fd = shared.0.upgrade()?;
        let dir = PinnedDir {
            fd,
            path: path.to_path_buf(),
            id: shared.1,
        };
        dir.is_at(path).ok()?.then_some(dir)
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

    /// The directory's descriptor, for `*at` calls relative to it.
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.fd.as_fd()
    }

    /// The directory's identity: device and inode numbers.
    pub fn id(&self) -> (u64, u64) {
        self.id
    }

    /// Whether `path` still names this directory (same device and inode).
    pub fn is_at(&self, path: &Path) -> io::Result<bool> {
        Ok(match rustix::fs::stat(path) {
            Ok(there) => (there.st_dev, there.st_ino) == self.id,
            Err(_) => false,
        })
    }

    /// Creates a private file for writing (see the module docs); one with a name is locked
    /// while it is open.
    /// Its permission bits are `0o644` less the umask, until [`PinnedDir::publish`] says
    /// otherwise.
    pub fn create_private(&self) -> io::Result<Private> {
        let mode = Mode::from_raw_mode(0o644);
        let flags = OFlags::RDWR | OFlags::CLOEXEC;
        let private = match rustix::fs::openat(&self.fd, ".", flags | OFlags::TMPFILE, mode) {
            Ok(fd) => Private {
                file: File::from(fd),
                name: None,
            },
            // No O_TMPFILE on this filesystem or kernel: a hidden name, created exclusively.
            Err(e) if tmpfile_unsupported(e) => self.create_named(flags, mode)?,
            Err(e) => return Err(e.into()),
        };
        if private.name.is_some() {
            claim(&private.file)?;
        }
        Ok(private)
    }

    /// A private file under a fresh hidden name, created exclusively (never an existing file,
    /// never through a symlink).
    fn create_named(&self, flags: OFlags, mode: Mode) -> io::Result<Private> {
        let mut last = io::Error::from(io::ErrorKind::AlreadyExists);
        for _ in 0..NAME_ATTEMPTS {
            let name = private_name();
            let excl = flags | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW;
            match rustix::fs::openat(&self.fd, &name, excl, mode) {
                Ok(fd) => {
                    return Ok(Private {
                        file: File::from(fd),
                        name: Some(name),
                    })
                }
                Err(e) if e == rustix::io::Errno::EXIST => last = e.into(),
                Err(e) => return Err(e.into()),
            }
        }
        Err(last)
    }

    /// Puts a finished private file in place as `target`, atomically replacing what was there
    /// (readers see the old file or the new one). A regular file it replaces passes on its
    /// permission bits, and its owner and group where the process may set them; its other hard
    /// links keep the old content (a new file is renamed over the name). `file` must be the private file's descriptor (still open: its lock
    /// keeps a sweep off the name it is linked under for a moment).
    pub fn publish(&self, private: &Private, target: &OsStr) -> io::Result<()> {
        self.publish_from(self, private, target)
    }

    /// [`PinnedDir::publish`] for a private file that lives in `home`, another directory on the
    /// same filesystem (a resumable partial file kept in the sandbox's `tmp`).
    pub fn publish_from(
        &self,
        home: &PinnedDir,
        private: &Private,
        target: &OsStr,
    ) -> io::Result<()> {
        if private.name.is_none() {
            // A free name: the unnamed file is linked under it, atomically. A name that is
            // taken (or is taken meanwhile) refuses the link, and the rename below replaces it.
            match self.link_fd(&private.file, target) {
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                linked => return linked,
            }
        }
        if let Ok(old) = rustix::fs::statat(&self.fd, target, AtFlags::SYMLINK_NOFOLLOW) {
            if FileType::from_raw_mode(old.st_mode) == FileType::RegularFile {
                // Its owner and group too, where the process may give them (root; a group of
                // the user's own): else the new file is the process's. Before the bits, as a
                // change of owner clears set-user-ID.
                let _ = rustix::fs::fchown(
                    &private.file,
                    Some(rustix::fs::Uid::from_raw(old.st_uid)),
                    Some(rustix::fs::Gid::from_raw(old.st_gid)),
                );
                let bits = Mode::from_raw_mode(old.st_mode & 0o7777);
                rustix::fs::fchmod(&private.file, bits)?;
            }
        }
        let rename = |from: &OsStr| -> io::Result<()> {
            // The mark goes at the last moment: a crash before it leaves a marked leftover, a
            // crash after it at worst an unmarked one that stays; the target never has it.
            let _ = rustix::fs::fremovexattr(&private.file, PRIVATE_MARK);
            Ok(rustix::fs::renameat(&home.fd, from, &self.fd, target)?)
        };
        match &private.name {
            Some(name) => rename(name),
            None => {
                // Named for a moment, then renamed: locked and marked while it has the
                // private name (a sweep leaves it alone).
                claim(&private.file)?;
                let name = home.link_unnamed(&private.file)?;
                let renamed = rename(&name);
                if renamed.is_err() {
                    let _ = home.remove_file(&name);
                }
                renamed
            }
        }
    }

    /// Forgets a private file that will not be published: an unnamed one goes with its
    /// descriptor, a named one is unlinked.
    pub fn discard(&self, private: &Private) {
        if let Some(name) = &private.name {
            let _ = self.remove_file(name);
        }
    }

    /// Gives an unnamed (`O_TMPFILE`) file a fresh private name in this directory.
    fn link_unnamed(&self, file: &File) -> io::Result<OsString> {
        let mut last = io::Error::from(io::ErrorKind::AlreadyExists);
        for _ in 0..NAME_ATTEMPTS {
            let name = private_name();
            match self.link_fd(file, &name) {
                Ok(()) => return Ok(name),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    /// Links an open file under `name` in this directory; an existing `name` (a symlink
    /// included) refuses it.
    fn link_fd(&self, file: &File, name: &OsStr) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; /proc/self/fd works for anyone.
        let linked = match rustix::fs::linkat(file, "", &self.fd, name, AtFlags::EMPTY_PATH) {
            Err(e) if e != rustix::io::Errno::EXIST => {
                let proc = format!("/proc/self/fd/{}", file.as_raw_fd());
                rustix::fs::linkat(
                    rustix::fs::CWD,
                    proc.as_str(),
                    &self.fd,
                    name,
                    AtFlags::SYMLINK_FOLLOW,
                )
            }
            linked => linked,
        };
        Ok(linked?)
    }

    /// Removes leftovers of downloads that ended without cleaning up (a `SIGKILL`, a power
    /// loss): files with a private name that carry [`PRIVATE_MARK`] and that nobody holds
    /// locked. A live download's file, this process's or another's, is locked and stays; a
    /// file the user named like a private one has no mark and stays. Returns how many were
    /// removed.
    pub fn sweep_leftovers(&self) -> io::Result<usize> {
        let dirfd = rustix::fs::openat(
            &self.fd,
            ".",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let mut removed = 0;
        for entry in rustix::fs::Dir::read_from(&dirfd)? {
            let entry = entry?;
            let name = entry.file_name().to_bytes();
            if !is_private_name(name) {
                continue;
            }
            let name = OsStr::from_bytes(name).to_os_string();
            let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
            let Ok(fd) = rustix::fs::openat(&self.fd, &name, flags, Mode::empty()) else {
                continue;
            };
            let regular = rustix::fs::fstat(&fd)
                .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::RegularFile);
            let mut mark = [0u8; 2];
            let marked =
                rustix::fs::fgetxattr(&fd, PRIVATE_MARK, &mut mark) == Ok(1) && mark[0] == b'1';
            if regular
                && marked
                && rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive).is_ok()
                && self.remove_file(&name).is_ok()
            {
                removed += 1;
            }
        }
        Ok(removed)
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
}

/// Whether `openat(O_TMPFILE)` failed because the filesystem or kernel lacks it.
fn tmpfile_unsupported(e: rustix::io::Errno) -> bool {
    use rustix::io::Errno;
    e == Errno::OPNOTSUPP || e == Errno::ISDIR || e == Errno::INVAL
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    fn write_private(dir: &PinnedDir, data: &[u8]) -> Private {
        let mut p = dir.create_private().unwrap();
        p.file.write_all(data).unwrap();
        p
    }

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

        let p = write_private(&dir, b"x");
        dir.publish(&p, OsStr::new("f")).unwrap();
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
    fn private_files_have_no_shared_name_and_each_publishes_whole() {
        let base = tempfile::tempdir().unwrap();
        // The names a user or another tool might use are theirs.
        std::fs::write(base.path().join("f.part"), b"user's").unwrap();
        let dir = PinnedDir::open(base.path()).unwrap();
        let a = write_private(&dir, b"first body");
        let b = write_private(&dir, b"second, longer body");
        assert_eq!(
            names(base.path()),
            ["f.part"],
            "nothing nameable while writing"
        );
        dir.publish(&a, OsStr::new("f")).unwrap();
        assert_eq!(std::fs::read(base.path().join("f")).unwrap(), b"first body");
        dir.publish(&b, OsStr::new("f")).unwrap();
        assert_eq!(
            std::fs::read(base.path().join("f")).unwrap(),
            b"second, longer body"
        );
        assert_eq!(names(base.path()), ["f", "f.part"]);
        assert_eq!(
            std::fs::read(base.path().join("f.part")).unwrap(),
            b"user's"
        );
    }

    #[test]
    fn publishing_keeps_the_replaced_files_permission_bits() {
        let base = tempfile::tempdir().unwrap();
        let target = base.path().join("secret");
        std::fs::write(&target, b"old").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
        let dir = PinnedDir::open(base.path()).unwrap();
        let p = write_private(&dir, b"new");
        dir.publish(&p, OsStr::new("secret")).unwrap();
        let meta = std::fs::metadata(&target).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o600);
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
    }

    #[test]
    fn publishing_keeps_the_replaced_files_owner_where_it_may() {
        use std::os::unix::fs::MetadataExt;
        let base = tempfile::tempdir().unwrap();
        let target = base.path().join("owned");
        std::fs::write(&target, b"old").unwrap();
        // As root: any owner (nobody's ids); otherwise the process's own (nothing to change).
        let mine = std::fs::metadata(&target).unwrap();
        let (uid, gid) = if mine.uid() == 0 {
            (65534, 65534)
        } else {
            (mine.uid(), mine.gid())
        };
        std::os::unix::fs::chown(&target, Some(uid), Some(gid)).unwrap();
        let dir = PinnedDir::open(base.path()).unwrap();
        let p = write_private(&dir, b"new");
        dir.publish(&p, OsStr::new("owned")).unwrap();
        let meta = std::fs::metadata(&target).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (uid, gid));
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
    }

    #[test]
    fn named_fallback_is_hidden_exclusive_and_published_by_rename() {
        let base = tempfile::tempdir().unwrap();
        let dir = PinnedDir::open(base.path()).unwrap();
        let p = dir
            .create_named(OFlags::WRONLY | OFlags::CLOEXEC, Mode::from_raw_mode(0o644))
            .unwrap();
        let name = p.name.clone().unwrap();
        assert!(is_private_name(name.as_bytes()), "{name:?}");
        dir.publish(&p, OsStr::new("f")).unwrap();
        assert_eq!(names(base.path()), ["f"]);
    }

    fn mark(path: &Path) {
        rustix::fs::setxattr(path, PRIVATE_MARK, b"1", XattrFlags::empty()).unwrap();
    }

    #[test]
    fn sweep_removes_unlocked_marked_leftovers_only() {
        let base = tempfile::tempdir().unwrap();
        let dir = PinnedDir::open(base.path()).unwrap();
        // A crash leftover (marked, nobody holds it), a live download's file (marked, locked),
        // and user files that merely look like one — one with exactly the pattern, unmarked.
        let leftover = format!("{PRIVATE_PREFIX}0123456789abcdef{PRIVATE_SUFFIX}");
        std::fs::write(base.path().join(&leftover), b"old partial").unwrap();
        mark(&base.path().join(&leftover));
        let live = dir
            .create_named(OFlags::WRONLY | OFlags::CLOEXEC, Mode::from_raw_mode(0o644))
            .unwrap();
        mark(&base.path().join(live.name.as_ref().unwrap()));
        rustix::fs::flock(&live.file, FlockOperation::NonBlockingLockExclusive).unwrap();
        let lookalike = format!("{PRIVATE_PREFIX}fedcba9876543210{PRIVATE_SUFFIX}");
        for user in [
            ".wxdl-notours.tmp",
            "x.part",
            ".wxdl-0123456789ABCDEF.tmp",
            &lookalike,
        ] {
            std::fs::write(base.path().join(user), b"mine").unwrap();
        }
        assert_eq!(dir.sweep_leftovers().unwrap(), 1);
        let left = names(base.path());
        assert!(!left.contains(&leftover), "{left:?}");
        assert!(left.contains(&lookalike), "{left:?}");
        assert!(left.contains(&live.name.unwrap().to_string_lossy().into_owned()));
        assert_eq!(left.len(), 5, "{left:?}");
    }

    #[test]
    fn private_files_are_marked_only_while_they_have_a_private_name() {
        let base = tempfile::tempdir().unwrap();
        let dir = PinnedDir::open(base.path()).unwrap();
        let mut v = [0u8; 2];
        let named = dir
            .create_named(OFlags::WRONLY | OFlags::CLOEXEC, Mode::from_raw_mode(0o644))
            .unwrap();
        super::claim(&named.file).unwrap();
        // What create_private makes: unnamed where the filesystem has O_TMPFILE (then no
        // mark: a crash leaves nothing of it), else named and marked.
        let p = dir.create_private().unwrap();
        let marked = rustix::fs::fgetxattr(&p.file, PRIVATE_MARK, &mut v) == Ok(1);
        assert_eq!(marked, p.name.is_some(), "{:?}", p.name);
        // A free name: linked straight under it, no private name on the way.
        dir.publish(&p, OsStr::new("f")).unwrap();
        // Over an existing file: renamed from a private name, marked only until then.
        let q = write_private(&dir, b"second");
        dir.publish(&q, OsStr::new("f")).unwrap();
        dir.publish(&named, OsStr::new("g")).unwrap();
        for published in ["f", "g"] {
            let marked = rustix::fs::getxattr(base.path().join(published), PRIVATE_MARK, &mut v);
            assert!(marked.is_err(), "the published {published} carries no mark");
        }
        assert_eq!(names(base.path()), ["f", "g"]);
        assert_eq!(std::fs::read(base.path().join("f")).unwrap(), b"second");
    }

    #[test]
    fn a_name_taken_after_the_check_is_replaced_as_by_a_rename() {
        // The unnamed file's link to a free name is refused when the name appears meanwhile
        // (here: before publish, as a symlink): publish then renames over it, never through it.
        let base = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let dir = PinnedDir::open(base.path()).unwrap();
        let p = write_private(&dir, b"mine");
        std::os::unix::fs::symlink(outside.path().join("x"), base.path().join("f")).unwrap();
        dir.publish(&p, OsStr::new("f")).unwrap();
        assert_eq!(std::fs::read(base.path().join("f")).unwrap(), b"mine");
        assert!(!outside.path().join("x").exists());
        assert_eq!(names(base.path()), ["f"]);
    }

    #[test]
    fn the_private_name_pattern_is_exactly_the_documented_one() {
        // `.wxdl-` + 16 lowercase hex digits + `.tmp`, nothing else.
        assert!(is_private_name(b".wxdl-0123456789abcdef.tmp"));
        assert!(is_private_name(private_name().as_bytes()));
        for other in [
            ".wxdl-0123456789abcde.tmp",    // 15 digits
            ".wxdl-0123456789abcdef0.tmp",  // 17
            ".wxdl-0123456789abcdefff.tmp", // longer still
            "xwxdl-0123456789abcdef.tmp",   // another prefix, same length
            ".wxdl-0123456789abcdef.tmq",   // another suffix, same length
            ".wxdl-0123456789abcdeg.tmp",   // not hex
            ".wxdl-0123456789ABCDEF.tmp",   // not lowercase
            ".wxdl-.tmp",
            "",
        ] {
            assert!(!is_private_name(other.as_bytes()), "{other}");
        }
    }

    #[test]
    fn a_pinned_directory_knows_where_and_what_it_is() {
        use std::os::unix::fs::MetadataExt;
        let base = tempfile::tempdir().unwrap();
        let a = base.path().join("a");
        let b = base.path().join("b");
        std::fs::create_dir(&a).unwrap();
        std::fs::create_dir(&b).unwrap();
        let dir = PinnedDir::open(&a).unwrap();
        let meta = std::fs::metadata(&a).unwrap();
        assert_eq!(dir.id(), (meta.dev(), meta.ino()));
        assert_ne!(dir.id(), PinnedDir::open(&b).unwrap().id());
        assert_eq!(dir.clone().id(), dir.id());
        assert!(dir.is_at(&a).unwrap());
        assert!(!dir.is_at(&b).unwrap());
        assert!(!dir.is_at(&base.path().join("none")).unwrap());
        assert_eq!(dir.path(), a);
        let target = Target {
            dir,
            name: "f.bin".into(),
        };
        assert_eq!(target.path(), a.join("f.bin"));
        // Only a directory is pinned.
        std::fs::write(base.path().join("file"), b"x").unwrap();
        assert!(PinnedDir::open(&base.path().join("file")).is_err());
    }

    #[test]
    fn o_tmpfile_is_given_up_only_where_it_is_unsupported() {
        use rustix::io::Errno;
        // open(2): EOPNOTSUPP (the filesystem lacks it), EISDIR (a kernel without O_TMPFILE
        // sees O_DIRECTORY | O_RDWR), EINVAL (not understood).
        for e in [Errno::OPNOTSUPP, Errno::ISDIR, Errno::INVAL] {
            assert!(tmpfile_unsupported(e), "{e:?}");
        }
        for e in [Errno::ACCESS, Errno::NOSPC, Errno::ROFS, Errno::NOENT] {
            assert!(!tmpfile_unsupported(e), "{e:?}");
        }
    }

    #[test]
    fn a_discarded_named_private_file_leaves_nothing() {
        let base = tempfile::tempdir().unwrap();
        let dir = PinnedDir::open(base.path()).unwrap();
        let p = dir
            .create_named(OFlags::WRONLY | OFlags::CLOEXEC, Mode::from_raw_mode(0o644))
            .unwrap();
        assert_eq!(names(base.path()).len(), 1);
        dir.discard(&p);
        assert!(names(base.path()).is_empty());
    }

    #[test]
    fn sweep_leaves_fifos_links_and_other_marks_alone() {
        let base = tempfile::tempdir().unwrap();
        let dir = PinnedDir::open(base.path()).unwrap();
        let outside = tempfile::tempdir().unwrap();
        // A FIFO with a private name: opening it to look must not wait for a writer.
        let fifo = base.path().join(".wxdl-00000000000000aa.tmp");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            FileType::Fifo,
            Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        // A link with a private name to a marked, unlocked file elsewhere: neither goes.
        let elsewhere = outside.path().join("marked");
        std::fs::write(&elsewhere, b"x").unwrap();
        mark(&elsewhere);
        let link = base.path().join(".wxdl-00000000000000bb.tmp");
        std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
        // A private name whose attribute says something other than `1`.
        let other = base.path().join(".wxdl-00000000000000cc.tmp");
        std::fs::write(&other, b"x").unwrap();
        rustix::fs::setxattr(&other, PRIVATE_MARK, b"0", XattrFlags::empty()).unwrap();
        assert_eq!(dir.sweep_leftovers().unwrap(), 0);
        assert_eq!(names(base.path()).len(), 3);
        assert!(elsewhere.exists());
    }
}
