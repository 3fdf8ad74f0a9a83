//! The `wxfile://` sandbox (contract §6): temp and user paths, confinement checks and the usr quota.
//!
//! Imports `pinned`, `quota` and `error`; never a download policy.

use std::io;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, FileType};

use crate::error::{Fail, FailReason};
use crate::store::dir_pins::DirPins;
use crate::store::pinned::{PinnedDir, Target};
use crate::store::quota::{Quota, Reservation};

/// `wx.env.USER_DATA_PATH`: the root of the user's files.
pub const USER_DATA_PATH: &str = "wxfile://usr";

/// Prefix of every temp file path.
pub const TEMP_PREFIX: &str = "wxfile://tmp_";

/// Prefix of every saved file path (`wx.saveFile`).
pub const STORE_PREFIX: &str = "wxfile://store_";

/// How long temp files and partial files are kept: 7 days since they last changed. The CLI
/// removes older ones when it starts ([`Sandbox::expire`]); `wxdl clean` on demand.
pub const TEMP_RETENTION: std::time::Duration = std::time::Duration::from_secs(7 * 86_400);

/// Default size limit of the `usr` tree: 200 MiB.
pub const DEFAULT_USR_QUOTA: u64 = 200 * 1024 * 1024;

/// A sandbox root on the host: `<root>/tmp` for temp files, `<root>/usr` for user files.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// let dir = tempfile::tempdir()?;
/// let sandbox = wxdl::Sandbox::open(dir.path(), wxdl::store::DEFAULT_USR_QUOTA)?;
/// let host = sandbox.resolve("wxfile://usr/music/a.mp3").unwrap();
/// assert!(host.ends_with("usr/music/a.mp3"));
/// assert!(sandbox.resolve("wxfile://usr/../../etc/passwd").is_err());
/// assert!(sandbox.resolve("/etc/passwd").is_err());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Sandbox {
    root: PathBuf,
    tmp: PathBuf,
    store: PathBuf,
    usr: PathBuf,
    /// `usr` with every symlink resolved, when the sandbox opened: no write may leave it.
    usr_canon: PathBuf,
    /// The one ledger every writer into `usr` goes through.
    quota: Quota,
    /// The directories downloads into the sandbox hold now (`tmp`, folders of `usr`).
    pins: DirPins,
}

impl Sandbox {
    /// Opens (creating when needed) a sandbox at `root` with a `usr` quota in bytes.
    pub fn open(root: impl AsRef<Path>, usr_quota: u64) -> io::Result<Sandbox> {
        std::fs::create_dir_all(root.as_ref())?;
        let root = root.as_ref().canonicalize()?;
        let tmp = root.join("tmp");
        let store = root.join("store");
        let usr = root.join("usr");
        for dir in [&tmp, &store, &usr] {
            std::fs::create_dir_all(dir)?;
        }
        let usr_canon = usr.canonicalize()?;
        Ok(Sandbox {
            root,
            tmp,
            store,
            quota: Quota::new(&usr, usr_quota),
            usr,
            usr_canon,
            pins: DirPins::default(),
        })
    }

    /// The sandbox root on the host.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where temp files live on the host.
    pub fn tmp_dir(&self) -> &Path {
        &self.tmp
    }

    /// Where saved files (`wxfile://store_…`, `wx.saveFile`) live on the host.
    pub fn store_dir(&self) -> &Path {
        &self.store
    }

    /// Where `wxfile://usr` lives on the host.
    pub fn usr_dir(&self) -> &Path {
        &self.usr
    }

    /// The `usr` quota in bytes.
    pub fn usr_quota(&self) -> u64 {
        self.quota.limit()
    }

    /// Maps a `wxfile://` path to its host path, lexically: `..`, absolute host paths and other
    /// schemes are refused with `permission denied`. Symlinks are checked by the storage step.
    pub fn resolve(&self, path: &str) -> Result<PathBuf, Fail> {
        for (prefix, dir, kind) in [
            (TEMP_PREFIX, &self.tmp, "tmp_"),
            (STORE_PREFIX, &self.store, "store_"),
        ] {
            if let Some(name) = path.strip_prefix(prefix) {
                let rel = relative_components(name, path)?;
                if rel.components().count() != 1 {
                    return Err(denied(path, "not a single file name"));
                }
                return Ok(dir.join(format!("{kind}{}", rel.display())));
            }
        }
        let rest = path
            .strip_prefix(USER_DATA_PATH)
            .filter(|r| r.is_empty() || r.starts_with('/'))
            .ok_or_else(|| denied(path, "not under wxfile://usr"))?;
        Ok(self.usr.join(relative_components(rest, path)?))
    }

    /// The `wxfile://` path of a host path inside the sandbox, if it is inside.
    pub fn to_wxfile(&self, host: &Path) -> Option<String> {
        if let Ok(rel) = host.strip_prefix(&self.usr) {
            let rel = rel.to_str()?;
            return Some(if rel.is_empty() {
                USER_DATA_PATH.to_string()
            } else {
                format!("{USER_DATA_PATH}/{rel}")
            });
        }
        if let Ok(name) = host.strip_prefix(&self.store) {
            let name = name.to_str()?;
            return name
                .starts_with("store_")
                .then(|| format!("wxfile://{name}"));
        }
        let name = host.strip_prefix(&self.tmp).ok()?.to_str()?;
        name.starts_with("tmp_").then(|| format!("wxfile://{name}"))
    }

    /// Checks a download's `filePath` before any network I/O and returns the host path to write.
    ///
    /// Refuses: paths outside `wxfile://usr`, traversal, parents that lead out through a symlink
    /// or a target symlink that does (`permission denied`), a missing parent (`no such file or
    /// directory`), an existing directory (`illegal operation on a directory`). The approved
    /// parent directory is pinned: later swaps of path components cannot redirect the write.
    pub(crate) fn check_user_target(&self, file_path: &str) -> Result<UserTarget, Fail> {
        let lexical = self.resolve(file_path)?;
        if lexical == self.usr {
            return Err(Fail::with(
                FailReason::IllegalOperationOnDirectory,
                file_path,
            ));
        }
        let name = lexical
            .file_name()
            .ok_or_else(|| denied(file_path, "no file name"))?
            .to_owned();
        let parent = lexical.parent().unwrap_or(&self.usr);
        // The parent is opened (following symlinks) and the kernel says where it really is:
        // it must be inside `usr` as it was when the sandbox opened.
        let dir = match self.pins.pin(parent) {
            Ok(dir) => dir,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                return Err(Fail::with(FailReason::NoSuchFileOrDirectory, file_path))
            }
            Err(e) => return Err(store_err(e, file_path)),
        };
        let parent_canon = dir.real_path().map_err(|e| store_err(e, file_path))?;
        if !parent_canon.starts_with(&self.usr_canon) {
            return Err(denied(file_path, "leads outside the sandbox"));
        }
        // Looked at in the pinned directory (no second walk of the path).
        match rustix::fs::statat(dir.fd(), name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) {
            // A symlink inside the sandbox is followed: the file it names is replaced.
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => {
                match parent_canon.join(&name).canonicalize() {
                    Ok(dest) if !dest.starts_with(&self.usr_canon) => {
                        Err(denied(file_path, "symlink leads outside the sandbox"))
                    }
                    Ok(dest) => {
                        let replaced = match std::fs::metadata(&dest) {
                            Ok(m) => kind(m.is_dir(), m.is_file(), m.len(), file_path)?,
                            Err(_) => 0,
                        };
                        let (Some(parent), Some(name)) = (dest.parent(), dest.file_name()) else {
                            return Err(denied(file_path, "no file name"));
                        };
                        let dir = self.pins.pin(parent).map_err(|e| store_err(e, file_path))?;
                        let name = name.to_owned();
                        Ok(UserTarget {
                            target: Target { dir, name },
                            replaced,
                        })
                    }
                    Err(_) => Err(denied(file_path, "dangling symlink")),
                }
            }
            Ok(st) => {
                let t = FileType::from_raw_mode(st.st_mode);
                let (is_dir, is_file) = (t == FileType::Directory, t == FileType::RegularFile);
                let replaced = kind(is_dir, is_file, st.st_size as u64, file_path)?;
                Ok(UserTarget {
                    target: Target { dir, name },
                    replaced,
                })
            }
            Err(_) => Ok(UserTarget {
                target: Target { dir, name },
                replaced: 0,
            }),
        }
    }

    /// A fresh temp file: its `wxfile://tmp_…` path and where to write it.
    pub(crate) fn new_temp(&self, ext: Option<&str>) -> Result<(String, Target), Fail> {
        let id: u64 = rand::random();
        let name = match ext {
            Some(ext) => format!("tmp_{id:016x}.{ext}"),
            None => format!("tmp_{id:016x}"),
        };
        let wx = format!("wxfile://{name}");
        let dir = self.pins.pin(&self.tmp).map_err(|e| store_err(e, &wx))?;
        Ok((
            wx,
            Target {
                dir,
                name: name.into(),
            },
        ))
    }

    /// Removes what no one needs any more: temp files (`wxfile://tmp_…`) and the partial files
    /// of interrupted resumable downloads last changed more than `older_than` ago, and the
    /// unlocked private leftovers of crashed downloads in `tmp` and anywhere under `usr`. The
    /// CLI's `wxdl clean`.
    pub fn clean(&self, older_than: std::time::Duration) -> io::Result<Cleaned> {
        let mut cleaned = self.expire(older_than)?;
        let mut dirs = vec![self.tmp.clone(), self.usr.clone()];
        let mut seen = 0usize;
        while let Some(dir) = dirs.pop() {
            seen += 1;
            if seen > 100_000 {
                break;
            }
            if let Ok(pinned) = PinnedDir::open(&dir) {
                cleaned.leftovers += pinned.sweep_leftovers().unwrap_or(0);
            }
            if dir.starts_with(&self.usr) {
                let subdirs = std::fs::read_dir(&dir).into_iter().flatten().flatten();
                dirs.extend(
                    subdirs
                        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                        .map(|e| e.path()),
                );
            }
        }
        self.quota.invalidate();
        Ok(cleaned)
    }

    /// The retention rule alone, cheap enough for every start (the CLI runs it with
    /// [`TEMP_RETENTION`]): temp files and partial files in `tmp` last changed more than
    /// `older_than` ago are removed; `usr` is not walked.
    pub fn expire(&self, older_than: std::time::Duration) -> io::Result<Cleaned> {
        let mut cleaned = Cleaned::default();
        let cutoff = std::time::SystemTime::now()
            .checked_sub(older_than)
            .unwrap_or(std::time::UNIX_EPOCH);
        for entry in std::fs::read_dir(&self.tmp)?.flatten() {
            let name = entry.file_name();
            let Ok(meta) = entry.metadata() else { continue };
            let old = meta.modified().is_ok_and(|t| t < cutoff);
            let temp = meta.is_file() && name.to_string_lossy().starts_with("tmp_");
            if temp && old && std::fs::remove_file(entry.path()).is_ok() {
                cleaned.temp_files += 1;
                cleaned.bytes += meta.len();
            }
        }
        let partials = crate::store::partial::clean_partials(&self.tmp, cutoff)?;
        cleaned.partials = partials.files;
        cleaned.bytes += partials.bytes;
        Ok(cleaned)
    }

    /// Bytes currently stored under `usr` (regular files, symlinks not followed).
    pub fn usr_usage(&self) -> u64 {
        self.quota.usage()
    }

    /// Forgets the cached `usr` size, after files there changed outside the quota's writers.
    pub fn invalidate_usage(&self) {
        self.quota.invalidate();
    }

    /// Reserves room in the `usr` quota for `bytes` written to `target` (a file it replaces is
    /// credited). Every writer into `usr` goes through this ledger, so the limit holds for
    /// concurrent downloads and file system writes together; a download grows its
    /// reservation as bytes arrive past it.
    pub fn reserve(&self, target: &Path, bytes: u64) -> Result<Reservation, Fail> {
        self.quota.reserve(target, bytes)
    }

    /// [`Sandbox::reserve`] for a checked target ([`UserTarget::replaced`]).
    pub(crate) fn reserve_for(&self, target: &UserTarget, bytes: u64) -> Result<Reservation, Fail> {
        self.quota.reserve_replacing(target.replaced, bytes)
    }
}

/// A checked `wxfile://usr/…` destination.
#[derive(Debug)]
pub(crate) struct UserTarget {
    pub target: Target,
    /// The bytes of the regular file there now, which the download replaces (0: none).
    pub replaced: u64,
}

/// What [`Sandbox::clean`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Cleaned {
    /// Temp files past their retention.
    pub temp_files: usize,
    /// **\[beyond\]** Partial files of interrupted resumable downloads past the cutoff.
    pub partials: usize,
    /// The bytes of both.
    pub bytes: u64,
    /// Private files of downloads that died (nobody held them).
    pub leftovers: usize,
}

/// An existing target must be a regular file: a directory is its own row, anything else (a
/// FIFO, a device, a socket) is refused. Ok: the bytes of the file it replaces.
fn kind(is_dir: bool, is_file: bool, len: u64, file_path: &str) -> Result<u64, Fail> {
    if is_dir {
        Err(Fail::with(
            FailReason::IllegalOperationOnDirectory,
            file_path,
        ))
    } else if !is_file {
        Err(denied(file_path, "not a regular file"))
    } else {
        Ok(len)
    }
}

fn denied(path: &str, why: &str) -> Fail {
    Fail::with(FailReason::PermissionDenied, format_args!("{path}: {why}"))
}

fn store_err(e: io::Error, path: &str) -> Fail {
    crate::error::storage_io(e, path)
}

/// Splits `rest` (after the `wxfile://` prefix) into safe relative components.
fn relative_components(rest: &str, whole: &str) -> Result<PathBuf, Fail> {
    let mut out = PathBuf::new();
    for part in rest.split('/') {
        match part {
            "" | "." => continue,
            ".." => return Err(denied(whole, "path traversal")),
            p if p.contains('\0') || p.contains('\\') => {
                return Err(denied(whole, "invalid character"))
            }
            p => {
                // A lone component may still parse as something else on the host.
                let mut comps = Path::new(p).components();
                match (comps.next(), comps.next()) {
                    (Some(Component::Normal(_)), None) => out.push(p),
                    _ => return Err(denied(whole, "invalid component")),
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sandbox() -> (tempfile::TempDir, Sandbox) {
        let dir = tempfile::tempdir().unwrap();
        let s = Sandbox::open(dir.path().join("root"), 1000).unwrap();
        (dir, s)
    }

    fn reason<T: std::fmt::Debug>(r: Result<T, Fail>) -> FailReason {
        r.unwrap_err().reason
    }

    #[test]
    fn lexical_resolution() {
        let (_d, s) = sandbox();
        assert_eq!(
            s.resolve("wxfile://usr/a/b.txt").unwrap(),
            s.usr_dir().join("a/b.txt")
        );
        assert_eq!(s.resolve("wxfile://usr").unwrap(), s.usr_dir());
        assert_eq!(
            s.resolve("wxfile://tmp_abc.mp3").unwrap(),
            s.tmp_dir().join("tmp_abc.mp3")
        );
        for bad in [
            "wxfile://usr/../x",
            "wxfile://usr/a/../../x",
            "wxfile://usrx/a",
            "/etc/passwd",
            "usr/a",
            "wxfile://tmp_a/../../x",
            "http://x/",
            "wxfile://usr/a\0b",
        ] {
            assert_eq!(
                reason(s.resolve(bad)),
                FailReason::PermissionDenied,
                "{bad}"
            );
        }
        let host = s.resolve("wxfile://usr/x/y").unwrap();
        assert_eq!(s.to_wxfile(&host).unwrap(), "wxfile://usr/x/y");
    }

    #[test]
    fn target_checks() {
        let (dir, s) = sandbox();
        std::fs::create_dir(s.usr_dir().join("sub")).unwrap();
        assert!(s.check_user_target("wxfile://usr/sub/a.bin").is_ok());
        assert_eq!(
            reason(s.check_user_target("wxfile://usr/missing/a.bin")),
            FailReason::NoSuchFileOrDirectory
        );
        assert_eq!(
            reason(s.check_user_target("wxfile://usr/sub")),
            FailReason::IllegalOperationOnDirectory
        );
        assert_eq!(
            reason(s.check_user_target("wxfile://usr/")),
            FailReason::IllegalOperationOnDirectory
        );
        let outside = dir.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, s.usr_dir().join("out")).unwrap();
        assert_eq!(
            reason(s.check_user_target("wxfile://usr/out/a.bin")),
            FailReason::PermissionDenied
        );
        std::os::unix::fs::symlink(outside.join("f"), s.usr_dir().join("link")).unwrap();
        std::fs::write(outside.join("f"), b"x").unwrap();
        assert_eq!(
            reason(s.check_user_target("wxfile://usr/link")),
            FailReason::PermissionDenied
        );
        // A link that stays inside is followed to the file it names.
        std::fs::write(s.usr_dir().join("sub/real"), b"x").unwrap();
        std::os::unix::fs::symlink("sub/real", s.usr_dir().join("inner")).unwrap();
        let t = s.check_user_target("wxfile://usr/inner").unwrap();
        assert_eq!((t.target.name.to_str(), t.replaced), (Some("real"), 1));
        // Not a regular file: refused, never replaced.
        let fifo = s.usr_dir().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        assert_eq!(
            reason(s.check_user_target("wxfile://usr/fifo")),
            FailReason::PermissionDenied
        );
    }

    #[test]
    fn clean_removes_old_temp_files_and_leftovers_only() {
        let (_d, s) = sandbox();
        std::fs::write(s.tmp_dir().join("tmp_fresh"), b"x").unwrap();
        std::fs::write(s.tmp_dir().join("tmp_old"), b"xyz").unwrap();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(8 * 86400);
        std::fs::File::options()
            .write(true)
            .open(s.tmp_dir().join("tmp_old"))
            .unwrap()
            .set_modified(old)
            .unwrap();
        std::fs::create_dir(s.usr_dir().join("sub")).unwrap();
        // A crash leftover carries wxdl's mark; a user's file of that shape does not.
        let leftover = s.usr_dir().join("sub/.wxdl-0123456789abcdef.tmp");
        std::fs::write(&leftover, b"partial").unwrap();
        rustix::fs::setxattr(
            &leftover,
            crate::store::pinned::PRIVATE_MARK,
            b"1",
            rustix::fs::XattrFlags::empty(),
        )
        .unwrap();
        let lookalike = s.usr_dir().join("sub/.wxdl-fedcba9876543210.tmp");
        std::fs::write(&lookalike, b"mine too").unwrap();
        std::fs::write(s.usr_dir().join("sub/keep.txt"), b"mine").unwrap();
        let c = s.clean(std::time::Duration::from_secs(7 * 86400)).unwrap();
        assert_eq!((c.temp_files, c.bytes, c.leftovers), (1, 3, 1));
        assert!(s.tmp_dir().join("tmp_fresh").exists());
        assert!(s.usr_dir().join("sub/keep.txt").exists());
        assert!(!leftover.exists() && lookalike.exists());
    }

    #[test]
    fn quota_counts_existing_files() {
        let (_d, s) = sandbox();
        std::fs::write(s.usr_dir().join("a"), vec![0u8; 600]).unwrap();
        assert!(s.reserve(&s.usr_dir().join("b"), 401).is_err());
        let mut b = s.reserve(&s.usr_dir().join("b"), 400).unwrap();
        assert!(!b.take(401));
        // Replacing `a` frees its 600 bytes, but 400 are held for `b`.
        assert!(s.reserve(&s.usr_dir().join("a"), 601).is_err());
        assert!(s.reserve(&s.usr_dir().join("a"), 600).is_ok());
        drop(b);
        assert!(s.reserve(&s.usr_dir().join("a"), 1000).is_ok());
    }

    /// Sets a file's last change to `days` days ago.
    fn age(path: &Path, days: u64) {
        let then = std::time::SystemTime::now() - std::time::Duration::from_secs(days * 86_400);
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(then)
            .unwrap();
    }

    #[test]
    fn the_documented_defaults() {
        // docs/: temp files are kept 7 days; SPEC §6: the usr quota is 200 MiB by default.
        let (d, s) = sandbox();
        for days in [1, 6] {
            std::fs::write(s.tmp_dir().join(format!("tmp_{days}")), b"x").unwrap();
            age(&s.tmp_dir().join(format!("tmp_{days}")), days);
        }
        std::fs::write(s.tmp_dir().join("tmp_8"), b"x").unwrap();
        age(&s.tmp_dir().join("tmp_8"), 8);
        let c = s.expire(TEMP_RETENTION).unwrap();
        assert_eq!(c.temp_files, 1);
        assert!(s.tmp_dir().join("tmp_1").exists() && s.tmp_dir().join("tmp_6").exists());
        assert!(!s.tmp_dir().join("tmp_8").exists());
        assert_eq!(DEFAULT_USR_QUOTA, 209_715_200);
        let big = Sandbox::open(d.path().join("big"), DEFAULT_USR_QUOTA).unwrap();
        assert_eq!(big.usr_quota(), 209_715_200);
        assert_eq!(s.usr_quota(), 1000);
    }

    #[test]
    fn expire_removes_old_temp_files_and_partials_only() {
        let (_d, s) = sandbox();
        let tmp = s.tmp_dir();
        std::fs::write(tmp.join("tmp_old.bin"), b"abc").unwrap();
        std::fs::write(tmp.join(".wxdl-partial-00112233"), b"12345").unwrap();
        std::fs::write(tmp.join("notes.txt"), b"not a temp file").unwrap();
        std::fs::create_dir(tmp.join("tmp_dir")).unwrap();
        for name in ["tmp_old.bin", ".wxdl-partial-00112233", "notes.txt"] {
            age(&tmp.join(name), 30);
        }
        let c = s.expire(TEMP_RETENTION).unwrap();
        assert_eq!((c.temp_files, c.partials, c.bytes), (1, 1, 3 + 5));
        assert!(tmp.join("notes.txt").exists() && tmp.join("tmp_dir").is_dir());
        assert!(!tmp.join("tmp_old.bin").exists());
        assert!(!tmp.join(".wxdl-partial-00112233").exists());
    }

    #[test]
    fn wxfile_paths_of_host_paths() {
        let (d, s) = sandbox();
        assert_eq!(s.to_wxfile(s.usr_dir()).unwrap(), "wxfile://usr");
        assert_eq!(
            s.to_wxfile(&s.store_dir().join("store_ab.txt")).unwrap(),
            "wxfile://store_ab.txt"
        );
        assert_eq!(
            s.to_wxfile(&s.tmp_dir().join("tmp_ab.mp3")).unwrap(),
            "wxfile://tmp_ab.mp3"
        );
        assert_eq!(
            s.resolve("wxfile://store_ab.txt").unwrap(),
            s.store_dir().join("store_ab.txt")
        );
        // Files there that are not the sandbox's, and the world outside, have no wxfile path.
        assert_eq!(s.to_wxfile(&s.store_dir().join("ab.txt")), None);
        assert_eq!(s.to_wxfile(&s.tmp_dir().join("ab.mp3")), None);
        assert_eq!(s.to_wxfile(&d.path().join("elsewhere")), None);
        assert_eq!(s.to_wxfile(s.root()), None);
        assert!(s.root().ends_with("root") && s.tmp_dir().starts_with(s.root()));
        // A name with a backslash (a separator on other hosts) is refused.
        assert_eq!(
            reason(s.resolve("wxfile://usr/a\\b")),
            FailReason::PermissionDenied
        );
    }

    #[test]
    fn links_inside_the_sandbox_to_a_directory_or_nowhere_are_refused() {
        let (_d, s) = sandbox();
        std::fs::create_dir(s.usr_dir().join("sub")).unwrap();
        std::os::unix::fs::symlink("sub", s.usr_dir().join("to-dir")).unwrap();
        assert_eq!(
            reason(s.check_user_target("wxfile://usr/to-dir")),
            FailReason::IllegalOperationOnDirectory
        );
        std::os::unix::fs::symlink("sub/none", s.usr_dir().join("dangling")).unwrap();
        assert_eq!(
            reason(s.check_user_target("wxfile://usr/dangling")),
            FailReason::PermissionDenied
        );
        assert!(!s.usr_dir().join("sub/none").exists());
        // A parent that is a file: no such directory.
        std::fs::write(s.usr_dir().join("file"), b"x").unwrap();
        assert_eq!(
            reason(s.check_user_target("wxfile://usr/file/a.bin")),
            FailReason::NoSuchFileOrDirectory
        );
    }

    #[test]
    fn usage_is_what_usr_holds_and_clean_gives_back_the_room_of_leftovers() {
        let (_d, s) = sandbox();
        std::fs::write(s.usr_dir().join("a"), vec![0u8; 300]).unwrap();
        assert_eq!(s.usr_usage(), 300);
        // A crash leftover of 600 bytes takes room until `clean` removes it.
        std::fs::create_dir(s.usr_dir().join("sub")).unwrap();
        let leftover = s.usr_dir().join("sub/.wxdl-0123456789abcdef.tmp");
        std::fs::write(&leftover, vec![0u8; 600]).unwrap();
        rustix::fs::setxattr(
            &leftover,
            crate::store::pinned::PRIVATE_MARK,
            b"1",
            rustix::fs::XattrFlags::empty(),
        )
        .unwrap();
        assert!(s.reserve(&s.usr_dir().join("b"), 500).is_err());
        assert_eq!(s.clean(TEMP_RETENTION).unwrap().leftovers, 1);
        assert!(s.reserve(&s.usr_dir().join("b"), 500).is_ok());
        // Files written or removed behind the ledger's back count once it is told.
        std::fs::write(s.usr_dir().join("c"), vec![0u8; 600]).unwrap();
        s.invalidate_usage();
        assert!(s.reserve(&s.usr_dir().join("b"), 500).is_err());
        std::fs::remove_file(s.usr_dir().join("c")).unwrap();
        s.invalidate_usage();
        assert!(s.reserve(&s.usr_dir().join("b"), 500).is_ok());
    }
}
