//! Resumable partial files (**[beyond]**, `resume`): the data of an interrupted download kept
//! in a hidden file beside its target, with a small JSON record of what it is (URL, final URL,
//! validators, expected length, bytes held), so the next download of the same URL to the same
//! target can continue it.
//!
//! Names: `.<target name>.wxdl-partial` beside a host file (a hashed `.wxdl-partial-<16 hex>`
//! when the name is long), and `.wxdl-partial-<16 hex of the URL and path>` in the sandbox's
//! `tmp` for sandbox destinations; the record is the same name plus `.json`. A partial file is
//! locked (`flock`) while a download uses it, so two downloads never write one: the second
//! waits a moment ([`LOCKED_PATIENCE`]), then downloads without resuming. The moment matters
//! in a process that starts others: between `fork` and `exec` a child holds every descriptor
//! of its parent, and with them its locks. One not changed for [`PARTIAL_RETENTION`] is not
//! continued, and [`clean_partials`] removes it.
//!
//! The bytes held are the file's length: writes are appended in order, so after any stop —
//! abort, timeout, `SIGINT`, even `SIGKILL` — the file holds a prefix of the body.
//!
//! Imports `pinned`; never a policy or the transport.

use std::ffi::{OsStr, OsString};
use std::io::{self, Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use rustix::fs::{FileType, FlockOperation, Mode, OFlags};
use sha2::{Digest, Sha256};

use crate::store::pinned::{PinnedDir, Private};

/// How long a download waits for a partial file another holder has locked, at most, before it
/// goes without resuming.
pub(crate) const LOCKED_PATIENCE: Duration = Duration::from_millis(50);

/// How long a partial file may sit unchanged and still be continued: 7 days.
pub const PARTIAL_RETENTION: Duration = Duration::from_secs(7 * 86_400);

/// The ending of a partial file named after its target.
const NAMED_SUFFIX: &str = ".wxdl-partial";
/// The beginning of a partial file named by a hash.
const HASHED_PREFIX: &str = ".wxdl-partial-";
/// The record's ending, after the data file's name.
const RECORD_SUFFIX: &str = ".json";
/// Target names longer than this get a hashed partial name (the result must fit in 255 bytes).
const LONGEST_NAMED: usize = 200;

/// What a partial file holds, as recorded beside it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Record {
    /// The URL asked for.
    pub url: String,
    /// The URL the body came from, after redirects.
    pub final_url: String,
    /// The validator the bytes can be continued under (`If-Range`).
    pub validator: Option<String>,
    /// The representation's whole length, when known.
    pub expected_length: Option<u64>,
    /// The bytes held when the record was last written (the file's length is what counts).
    pub bytes: u64,
}

/// A partial file opened (and locked) for one download.
#[derive(Debug)]
pub(crate) struct Partial {
    /// The directory it lives in.
    pub home: PinnedDir,
    /// The data file, named, locked, positioned at its end.
    pub private: Private,
    record_name: OsString,
    /// What it held when opened, if that is worth continuing for this URL.
    found: Option<Record>,
    url: String,
    /// Published under the target's name, or removed: nothing of it to tidy on drop.
    gone: std::sync::atomic::AtomicBool,
}

/// The partial file's name for a host target named `target`.
pub(crate) fn name_beside(target: &OsStr) -> OsString {
    if target.len() <= LONGEST_NAMED {
        let mut name = OsString::from(".");
        name.push(target);
        name.push(NAMED_SUFFIX);
        name
    } else {
        hashed(target.as_bytes())
    }
}

/// The partial file's name for a sandbox download of `url` to `destination` (a `wxfile://usr`
/// path, or empty for a temp file).
pub(crate) fn name_for(url: &str, destination: &str) -> OsString {
    let mut key = url.as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(destination.as_bytes());
    hashed(&key)
}

fn hashed(key: &[u8]) -> OsString {
    let digest = Sha256::digest(key);
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("{HASHED_PREFIX}{hex}").into()
}

/// Whether `name` is a partial data file's (not its record).
pub(crate) fn is_partial_name(name: &[u8]) -> bool {
    name.starts_with(b".")
        && !name.ends_with(RECORD_SUFFIX.as_bytes())
        && (name.ends_with(NAMED_SUFFIX.as_bytes()) || name.starts_with(HASHED_PREFIX.as_bytes()))
}

fn record_name(data: &OsStr) -> OsString {
    let mut name = data.to_os_string();
    name.push(RECORD_SUFFIX);
    name
}

impl Partial {
    /// Opens (creating it if needed) the partial file `name` in `home` for a download of `url`,
    /// locked. `Ok(None)` when the name is taken by something that is not a plain file of its
    /// own: that download goes without resuming. An error of kind `WouldBlock` when another
    /// holder has it locked now.
    pub fn open(home: PinnedDir, name: OsString, url: &str) -> io::Result<Option<Partial>> {
        // Without waiting: whatever sits under the name, the open returns (checked below).
        let flags =
            OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let fd = match rustix::fs::openat(home.fd(), &name, flags, Mode::from(0o644)) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::LOOP) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let st = rustix::fs::fstat(&fd)?;
        // A hard link would make the partial someone else's file too.
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile || st.st_nlink != 1 {
            return Ok(None);
        }
        if let Err(e) = rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive) {
            return Err(if e == rustix::io::Errno::WOULDBLOCK {
                io::ErrorKind::WouldBlock.into()
            } else {
                e.into()
            });
        }
        let mut file = std::fs::File::from(fd);
        let held = file.seek(SeekFrom::End(0))?;
        let record_name = record_name(&name);
        let fresh = SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .and_then(|now| now.as_secs().checked_sub(st.st_mtime as u64))
            .is_some_and(|age| age < PARTIAL_RETENTION.as_secs());
        let found = read_record(&home, &record_name).filter(|r| {
            fresh
                && held > 0
                && r.url == url
                && r.validator.is_some()
                && r.expected_length.is_none_or(|len| held < len)
        });
        let found = found.map(|r| Record { bytes: held, ..r });
        Ok(Some(Partial {
            home,
            private: Private {
                file,
                name: Some(name),
            },
            record_name,
            found,
            url: url.to_owned(),
            gone: Default::default(),
        }))
    }

    /// What it holds that may be continued: its record, with `bytes` its length.
    pub fn found(&self) -> Option<&Record> {
        self.found.as_ref()
    }

    /// Empties it for a body that starts from the first byte.
    pub fn start_over(&mut self) -> io::Result<()> {
        self.found = None;
        self.private.file.set_len(0)?;
        self.private.file.seek(SeekFrom::Start(0))?;
        Ok(())
    }

    /// Records what its body is, before the first byte of it is written.
    pub fn describe(&self, record: &Record) -> io::Result<()> {
        let json = serde_json::to_vec(record).map_err(io::Error::other)?;
        let mut tmp = self.home.create_private()?;
        tmp.file.write_all(&json)?;
        let published = self.home.publish(&tmp, &self.record_name);
        if published.is_err() {
            self.home.discard(&tmp);
        }
        published
    }

    /// The URL it was opened for.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Removes the data and its record: what it holds must not be continued (it failed the
    /// integrity check, or passed the cap).
    pub fn abandon(&self) {
        self.gone.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(name) = &self.private.name {
            let _ = self.home.remove_file(name);
        }
        let _ = self.home.remove_file(&self.record_name);
    }

    /// Forgets the record once the data file has been published under the target's name.
    pub fn published(&self) {
        self.gone.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = self.home.remove_file(&self.record_name);
    }
}

impl Drop for Partial {
    /// A partial file that holds nothing (opened, then not used: the answer had no validator,
    /// or was an error page) is not left behind.
    fn drop(&mut self) {
        let empty = self.private.file.metadata().is_ok_and(|m| m.len() == 0);
        if empty && !self.gone.load(std::sync::atomic::Ordering::Relaxed) {
            self.abandon();
        }
    }
}

/// Reads a record: opened without waiting (a FIFO planted under its name would block a plain
/// `open` for ever) and read only when it is a regular file.
fn read_record(home: &PinnedDir, name: &OsStr) -> Option<Record> {
    use std::io::Read;
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(home.fd(), name, flags, Mode::empty()).ok()?;
    let st = rustix::fs::fstat(&fd).ok()?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return None;
    }
    let mut text = Vec::new();
    // A record is a few hundred bytes; anything much larger is not one of ours.
    std::fs::File::from(fd)
        .take(64 * 1024)
        .read_to_end(&mut text)
        .ok()?;
    serde_json::from_slice(&text).ok()
}

/// What [`clean_partials`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Removed {
    pub files: usize,
    pub bytes: u64,
}

/// Removes the partial files in `dir` last changed before `cutoff` that no download holds,
/// with their records, and records left without a data file.
pub(crate) fn clean_partials(dir: &Path, cutoff: SystemTime) -> io::Result<Removed> {
    let home = PinnedDir::open(dir)?;
    let mut removed = Removed::default();
    for entry in std::fs::read_dir(dir)?.flatten() {
        let name = entry.file_name();
        let bytes = name.as_bytes();
        if let Some(data) = bytes.strip_suffix(RECORD_SUFFIX.as_bytes()) {
            let orphan = is_partial_name(data) && !dir.join(OsStr::from_bytes(data)).exists();
            if orphan {
                let _ = home.remove_file(&name);
            }
            continue;
        }
        if !is_partial_name(bytes) {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() || meta.modified().is_ok_and(|t| t >= cutoff) {
            continue;
        }
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let Ok(fd) = rustix::fs::openat(home.fd(), &name, flags, Mode::empty()) else {
            continue;
        };
        if rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive).is_ok()
            && home.remove_file(&name).is_ok()
        {
            let _ = home.remove_file(&record_name(&name));
            removed.files += 1;
            removed.bytes += meta.len();
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `None` also when it is locked.
    fn open(dir: &Path, url: &str) -> Option<Partial> {
        let home = PinnedDir::open(dir).unwrap();
        match Partial::open(home, name_beside(OsStr::new("f.bin")), url) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
            opened => opened.unwrap(),
        }
    }

    fn record(url: &str, expected: Option<u64>) -> Record {
        Record {
            url: url.into(),
            final_url: url.into(),
            validator: Some("\"v\"".into()),
            expected_length: expected,
            bytes: 0,
        }
    }

    #[test]
    fn what_was_held_is_found_again_for_the_same_url_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = open(dir.path(), "http://a/f").unwrap();
        assert!(p.found().is_none());
        p.describe(&record("http://a/f", Some(10))).unwrap();
        p.private.file.write_all(b"hello").unwrap();
        drop(p);
        assert!(dir.path().join(".f.bin.wxdl-partial").exists());
        assert!(dir.path().join(".f.bin.wxdl-partial.json").exists());
        let p = open(dir.path(), "http://a/f").unwrap();
        assert_eq!(p.found().map(|r| r.bytes), Some(5));
        // Held open: a second download of the same target goes without resuming.
        assert!(open(dir.path(), "http://a/f").is_none());
        drop(p);
        assert!(open(dir.path(), "http://b/f").unwrap().found().is_none());
    }

    #[test]
    fn an_unused_partial_file_is_not_left_behind() {
        let dir = tempfile::tempdir().unwrap();
        drop(open(dir.path(), "u").unwrap());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_complete_or_unvalidated_partial_is_not_continued() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = open(dir.path(), "u").unwrap();
        p.describe(&record("u", Some(5))).unwrap();
        p.private.file.write_all(b"hello").unwrap();
        drop(p);
        assert!(open(dir.path(), "u").unwrap().found().is_none(), "5 of 5");
        let mut p = open(dir.path(), "u").unwrap();
        p.start_over().unwrap();
        p.describe(&Record {
            validator: None,
            ..record("u", None)
        })
        .unwrap();
        p.private.file.write_all(b"abc").unwrap();
        drop(p);
        assert!(
            open(dir.path(), "u").unwrap().found().is_none(),
            "no validator"
        );
    }

    #[test]
    fn links_and_other_kinds_are_never_written() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join(".f.bin.wxdl-partial")).unwrap();
        assert!(open(dir.path(), "u").is_none());
        std::fs::remove_file(dir.path().join(".f.bin.wxdl-partial")).unwrap();
        std::fs::hard_link(&victim, dir.path().join(".f.bin.wxdl-partial")).unwrap();
        assert!(open(dir.path(), "u").is_none());
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
    }

    #[test]
    fn names_are_recognisable_and_fit() {
        assert_eq!(name_beside(OsStr::new("a.mp4")), ".a.mp4.wxdl-partial");
        let long = "x".repeat(255);
        let hashed = name_beside(OsStr::new(&long));
        assert!(hashed.len() < 40 && is_partial_name(hashed.as_bytes()));
        assert_ne!(name_for("u", ""), name_for("u", "wxfile://usr/a"));
        assert!(is_partial_name(b".a.mp4.wxdl-partial"));
        assert!(!is_partial_name(b".a.mp4.wxdl-partial.json"));
        assert!(!is_partial_name(b"a.mp4"));
    }

    #[test]
    fn clean_removes_old_unheld_partials_and_orphan_records() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = open(dir.path(), "u").unwrap();
        p.describe(&record("u", None)).unwrap();
        p.private.file.write_all(b"abc").unwrap();
        let future = SystemTime::now() + Duration::from_secs(60);
        let held = clean_partials(dir.path(), future).unwrap();
        assert_eq!(held.files, 0, "a held partial stays");
        drop(p);
        std::fs::write(dir.path().join(".gone.wxdl-partial.json"), b"{}").unwrap();
        let removed = clean_partials(dir.path(), future).unwrap();
        assert_eq!((removed.files, removed.bytes), (1, 3));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_partial_is_continued_for_seven_days_after_its_last_change() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = open(dir.path(), "u").unwrap();
        p.describe(&record("u", None)).unwrap();
        p.private.file.write_all(b"abc").unwrap();
        drop(p);
        let data = dir.path().join(".f.bin.wxdl-partial");
        let day = Duration::from_secs(86_400);
        for (age, continued) in [(2, true), (6, true), (8, false)] {
            let file = std::fs::File::options().write(true).open(&data).unwrap();
            file.set_modified(SystemTime::now() - day * age).unwrap();
            drop(file);
            let p = open(dir.path(), "u").unwrap();
            assert_eq!(p.found().is_some(), continued, "{age} days old");
        }
    }

    #[test]
    fn a_users_dot_files_are_not_partials_and_are_never_cleaned() {
        for name in [".profile", ".a.mp4", ".wxdl-partial.txt", "x.wxdl-partial"] {
            assert!(!is_partial_name(name.as_bytes()), "{name}");
        }
        let dir = tempfile::tempdir().unwrap();
        for name in [".profile", ".notes.json"] {
            std::fs::write(dir.path().join(name), b"mine").unwrap();
        }
        let future = SystemTime::now() + PARTIAL_RETENTION * 2;
        let removed = clean_partials(dir.path(), future).unwrap();
        assert_eq!(removed.files, 0);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn a_record_of_a_long_signed_url_is_read_back() {
        // CDN URLs carry signatures and tokens: a record of several KiB is still one of ours.
        let url = format!("https://cdn.example/f.bin?sig={}", "a".repeat(6000));
        let dir = tempfile::tempdir().unwrap();
        let mut p = open(dir.path(), &url).unwrap();
        p.describe(&record(&url, None)).unwrap();
        p.private.file.write_all(b"abc").unwrap();
        drop(p);
        let p = open(dir.path(), &url).unwrap();
        assert_eq!(p.found().map(|r| r.bytes), Some(3));
    }

    #[test]
    fn a_record_that_is_a_link_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = open(dir.path(), "u").unwrap();
        p.describe(&record("u", None)).unwrap();
        p.private.file.write_all(b"abc").unwrap();
        drop(p);
        let record = dir.path().join(".f.bin.wxdl-partial.json");
        let elsewhere = dir.path().join("elsewhere.json");
        std::fs::rename(&record, &elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &record).unwrap();
        let p = open(dir.path(), "u").unwrap();
        assert!(
            p.found().is_none(),
            "a record is read only from its own file"
        );
    }

    #[test]
    fn clean_keeps_a_partial_changed_since_the_cutoff() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = open(dir.path(), "u").unwrap();
        p.describe(&record("u", None)).unwrap();
        p.private.file.write_all(b"abc").unwrap();
        drop(p);
        let a_day_ago = SystemTime::now() - Duration::from_secs(86_400);
        let removed = clean_partials(dir.path(), a_day_ago).unwrap();
        assert_eq!(removed, Removed::default());
        assert_eq!(
            open(dir.path(), "u").unwrap().found().map(|r| r.bytes),
            Some(3)
        );
    }

    #[test]
    fn a_partial_last_changed_seven_days_ago_to_the_second_is_not_continued() {
        // Retention is "kept for 7 days": at 604 800 s of age it is over. The age is read in
        // whole seconds; a clock tick between staging and reading only makes it older, so the
        // answer is the same every time, and three tries leave no tick to hide behind.
        let dir = tempfile::tempdir().unwrap();
        let mut p = open(dir.path(), "u").unwrap();
        p.describe(&record("u", None)).unwrap();
        p.private.file.write_all(b"abc").unwrap();
        drop(p);
        let data = dir.path().join(".f.bin.wxdl-partial");
        for _ in 0..3 {
            let now = SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let seven_days_ago = std::time::UNIX_EPOCH + Duration::from_secs(now - 7 * 86_400);
            let file = std::fs::File::options().write(true).open(&data).unwrap();
            file.set_modified(seven_days_ago).unwrap();
            drop(file);
            let p = open(dir.path(), "u").unwrap();
            assert!(p.found().is_none(), "7 days old to the second");
        }
    }

    #[test]
    fn an_empty_partial_is_not_continued() {
        // A record whose data file holds nothing: there is nothing to continue, so no ranged
        // request (`bytes=0-` of an empty file on the server would be a 416 and a second try).
        let dir = tempfile::tempdir().unwrap();
        let mut p = open(dir.path(), "u").unwrap();
        p.describe(&record("u", Some(10))).unwrap();
        p.private.file.write_all(b"abc").unwrap();
        drop(p);
        let data = dir.path().join(".f.bin.wxdl-partial");
        std::fs::File::options()
            .write(true)
            .open(&data)
            .unwrap()
            .set_len(0)
            .unwrap();
        assert!(dir.path().join(".f.bin.wxdl-partial.json").exists());
        let p = open(dir.path(), "u").unwrap();
        assert!(p.found().is_none(), "0 bytes held");
    }
}
