//! The `usr` quota (contract §6): one ledger that every writer into `wxfile://usr` goes through,
//! so the limit holds under concurrency. A download reserves its `Content-Length` when the head
//! arrives and more as bytes arrive beyond it; the file system manager's writes and `saveFile`
//! reserve their size before writing. What is stored is walked at most every [`USAGE_TTL`] and
//! kept current by the writers' settlements in between.
//!
//! Imports only `error`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{lock, Fail, FailReason};

/// How long a walked `usr` size is trusted without walking again.
const USAGE_TTL: Duration = Duration::from_secs(10);

/// The ledger of one sandbox's `usr` tree.
#[derive(Debug)]
pub(crate) struct Quota {
    limit: u64,
    usr: PathBuf,
    ledger: Arc<Mutex<Ledger>>,
}

#[derive(Debug, Default)]
struct Ledger {
    /// Bytes stored under `usr`, and when they were walked.
    stored: Option<(u64, Instant)>,
    /// Bytes held by writers that have not settled: reservations and bytes written past them.
    held: u64,
}

impl Ledger {
    fn stored(&mut self, usr: &Path) -> u64 {
        match self.stored {
            Some((bytes, at)) if at.elapsed() < USAGE_TTL => bytes,
            _ => {
                let bytes = dir_size(usr, 0);
                self.stored = Some((bytes, Instant::now()));
                bytes
            }
        }
    }
}

/// Room a writer holds in the quota until it settles (its file is in place) or is dropped.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let sandbox = wxdl::Sandbox::open(dir.path(), 1000)?;
/// let target = sandbox.usr_dir().join("a.bin");
/// let mut room = sandbox.reserve(&target, 600)?;
/// assert!(sandbox.reserve(&sandbox.usr_dir().join("b.bin"), 600).is_err()); // 600 + 600 > 1000
/// std::fs::write(&target, vec![0u8; 600])?;
/// room.settle();
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Reservation {
    ledger: Arc<Mutex<Ledger>>,
    usr: PathBuf,
    limit: u64,
    /// What this writer holds in the ledger.
    held: u64,
    /// Bytes it has written so far.
    counted: u64,
    /// Size of the file it replaces (freed when it settles).
    replaced: u64,
}

impl Quota {
    pub fn new(usr: &Path, limit: u64) -> Quota {
        Quota {
            limit,
            usr: usr.to_path_buf(),
            ledger: Arc::default(),
        }
    }

    /// The limit in bytes.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Reserves `bytes` for a writer replacing `target` (whose current size is credited), or
    /// fails with the storage-limit row when they do not fit beside everything stored and held.
    pub fn reserve(&self, target: &Path, bytes: u64) -> Result<Reservation, Fail> {
        let replaced = std::fs::symlink_metadata(target)
            .map(|m| if m.is_file() { m.len() } else { 0 })
            .unwrap_or(0);
        self.reserve_replacing(replaced, bytes)
    }

    /// [`Quota::reserve`] for a target already looked at: it replaces a file of `replaced`
    /// bytes (0: none).
    pub fn reserve_replacing(&self, replaced: u64, bytes: u64) -> Result<Reservation, Fail> {
        let mut r = Reservation {
            ledger: Arc::clone(&self.ledger),
            usr: self.usr.clone(),
            limit: self.limit,
            held: 0,
            counted: 0,
            replaced,
        };
        if !r.grow(bytes) {
            return Err(Fail::with(
                FailReason::StorageLimitExceeded,
                format_args!(
                    "{bytes} bytes do not fit in the usr quota of {}",
                    self.limit
                ),
            ));
        }
        Ok(r)
    }

    /// Forgets the walked size (after files changed outside the ledger's writers).
    pub fn invalidate(&self) {
        lock(&self.ledger).stored = None;
    }

    /// Bytes stored under `usr` now (walked).
    pub fn usage(&self) -> u64 {
        dir_size(&self.usr, 0)
    }
}

impl Reservation {
    /// Takes `extra` more bytes of room; false when they do not fit.
    fn grow(&mut self, extra: u64) -> bool {
        if extra == 0 {
            return true;
        }
        let mut ledger = lock(&self.ledger);
        let stored = ledger.stored(&self.usr).saturating_sub(self.replaced);
        if stored.saturating_add(ledger.held).saturating_add(extra) > self.limit {
            return false;
        }
        ledger.held += extra;
        self.held += extra;
        true
    }

    /// Records `n` more bytes written; false (nothing recorded) when they no longer fit.
    pub fn take(&mut self, n: u64) -> bool {
        let total = self.counted + n;
        if total > self.held && !self.grow(total - self.held) {
            return false;
        }
        self.counted = total;
        true
    }

    /// The writer starts its file over: nothing written counts any more (the room stays held).
    pub fn restart(&mut self) {
        self.counted = 0;
    }

    /// The writer's file is in place: its bytes (what it reserved, or wrote past that) count
    /// as stored, the replaced file's no longer.
    pub fn settle(mut self) {
        let written = self.counted.max(self.held);
        let mut ledger = lock(&self.ledger);
        ledger.held -= self.held;
        if let Some((bytes, _)) = ledger.stored.as_mut() {
            *bytes = bytes.saturating_sub(self.replaced).saturating_add(written);
        }
        self.held = 0;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.held > 0 {
            lock(&self.ledger).held -= self.held;
        }
    }
}

/// Total size of regular files below `dir`, without following symlinks; bounded depth.
fn dir_size(dir: &Path, depth: u32) -> u64 {
    if depth > 64 {
        return 0;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path(), depth + 1),
            Ok(t) if t.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_writers_share_one_limit() {
        let dir = tempfile::tempdir().unwrap();
        let q = Quota::new(dir.path(), 1000);
        std::fs::write(dir.path().join("a"), vec![0u8; 300]).unwrap();
        let mut one = q.reserve(&dir.path().join("b"), 400).unwrap();
        // 300 stored + 400 held: a second writer sees 300 left, not 700.
        assert!(q.reserve(&dir.path().join("c"), 301).is_err());
        let mut two = q.reserve(&dir.path().join("c"), 0).unwrap();
        assert!(two.take(300));
        assert!(!two.take(1), "the limit binds bytes past a reservation");
        assert!(one.take(400));
        assert!(!one.take(1));
        drop(two);
        assert!(one.take(300), "a dropped writer's room is free again");
        // Replacing `a` credits its 300 bytes: 0 stored + 700 held + 300 fits exactly.
        assert!(q.reserve(&dir.path().join("a"), 301).is_err());
        assert!(q.reserve(&dir.path().join("a"), 300).is_ok());
    }

    #[test]
    fn settling_moves_bytes_from_held_to_stored() {
        let dir = tempfile::tempdir().unwrap();
        let q = Quota::new(dir.path(), 1000);
        let mut w = q.reserve(&dir.path().join("f"), 0).unwrap();
        assert!(w.take(700));
        std::fs::write(dir.path().join("f"), vec![0u8; 700]).unwrap();
        w.settle();
        assert!(q.reserve(&dir.path().join("g"), 301).is_err());
        assert!(q.reserve(&dir.path().join("g"), 300).is_ok());
        // Replacing f: its 700 bytes are credited.
        assert!(q.reserve(&dir.path().join("f"), 1000).is_ok());
        // A writer that reserved its size up front settles it without counting bytes.
        q.reserve(&dir.path().join("g"), 300).unwrap().settle();
        assert!(q.reserve(&dir.path().join("h"), 1).is_err());
    }

    #[test]
    fn a_walk_is_trusted_for_its_ttl_and_then_walked_again() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), vec![0u8; 100]).unwrap();
        let mut ledger = Ledger::default();
        assert_eq!(ledger.stored(dir.path()), 100);
        std::fs::write(dir.path().join("b"), vec![0u8; 50]).unwrap();
        ledger.stored = Some((100, Instant::now()));
        assert_eq!(ledger.stored(dir.path()), 100, "a fresh walk is trusted");
        let old = Instant::now()
            .checked_sub(USAGE_TTL + Duration::from_secs(1))
            .unwrap();
        ledger.stored = Some((100, old));
        assert_eq!(ledger.stored(dir.path()), 150, "an old one is walked again");
    }

    #[test]
    fn limit_usage_and_forgetting_the_walk() {
        let dir = tempfile::tempdir().unwrap();
        let quota = Quota::new(dir.path(), 200);
        assert_eq!(quota.limit(), 200);
        std::fs::write(dir.path().join("a"), vec![0u8; 100]).unwrap();
        assert_eq!(quota.usage(), 100);
        drop(quota.reserve(&dir.path().join("x"), 30).unwrap());
        // Written outside the ledger: the walk of 100 bytes is trusted until forgotten.
        std::fs::write(dir.path().join("b"), vec![0u8; 80]).unwrap();
        assert_eq!(quota.usage(), 180);
        assert!(quota.reserve(&dir.path().join("x"), 30).is_ok());
        quota.invalidate();
        assert!(
            quota.reserve(&dir.path().join("x"), 30).is_err(),
            "180 + 30 > 200"
        );
    }

    #[test]
    fn a_writer_that_starts_over_counts_from_zero() {
        let dir = tempfile::tempdir().unwrap();
        let quota = Quota::new(dir.path(), 150);
        let mut room = quota.reserve(&dir.path().join("f"), 100).unwrap();
        assert!(room.take(80));
        room.restart();
        assert!(room.take(100), "the new body's 100 bytes, not 180");
        assert!(!room.take(51), "151 > 150");
    }

    #[test]
    fn files_in_subdirectories_count_down_to_the_depth_bound_links_do_not() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/b/f"), vec![0u8; 70]).unwrap();
        assert_eq!(dir_size(dir.path(), 0), 70, "a subdirectory's files count");
        // A link is not followed, nor counted (its own size is the length of its target).
        std::os::unix::fs::symlink("/a/target/of/some/length", dir.path().join("l")).unwrap();
        assert_eq!(dir_size(dir.path(), 0), 70, "links do not count");
        // The walk reads directories down to depth 64 (the top is 0), not below.
        let mut deep = dir.path().join("d");
        for _ in 1..64 {
            deep.push("d");
        }
        std::fs::create_dir_all(deep.join("d")).unwrap();
        std::fs::write(deep.join("at64"), vec![0u8; 5]).unwrap();
        std::fs::write(deep.join("d/at65"), vec![0u8; 1000]).unwrap();
        assert_eq!(dir_size(dir.path(), 0), 75);
    }
}
