//! Pinned directories shared by the downloads writing into them at the same time: a batch
//! into one directory opens it once, and each later download checks with one `stat` that the
//! path still names that very directory instead of opening it again.
//!
//! Imports `pinned` only. Holds no directory open by itself: an entry lives while a download
//! holds its directory, so a long-lived client keeps no descriptors between batches.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::store::pinned::{PinnedDir, SharedDir};

/// Entries past this many are pruned of the directories no download holds any more.
const PRUNE_AT: usize = 64;

/// The directories downloads hold now, by the path they were opened at.
#[derive(Debug, Default)]
pub(crate) struct DirPins {
    held: Mutex<HashMap<PathBuf, SharedDir>>,
}

impl DirPins {
    /// [`PinnedDir::open`], sharing the descriptor of a download that holds the same
    /// directory at the same path now (checked by device and inode).
    pub fn pin(&self, path: &Path) -> io::Result<PinnedDir> {
        let shared = self.lock().get(path).cloned();
        if let Some(dir) = shared.and_then(|s| PinnedDir::reopen(path, &s)) {
            return Ok(dir);
        }
        let dir = PinnedDir::open(path)?;
        let mut held = self.lock();
        if held.len() >= PRUNE_AT {
            held.retain(|_, (fd, _)| fd.strong_count() > 0);
        }
        held.insert(path.to_path_buf(), dir.share());
        Ok(dir)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, SharedDir>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_directory_is_shared_and_a_replaced_one_is_not() {
        let base = tempfile::tempdir().unwrap();
        let path = base.path().join("d");
        std::fs::create_dir(&path).unwrap();
        let pins = DirPins::default();
        let a = pins.pin(&path).unwrap();
        let b = pins.pin(&path).unwrap();
        assert_eq!(a.id(), b.id());
        assert_eq!(a.real_path().unwrap(), b.real_path().unwrap());

        // Replaced while held: the next download pins the new directory, never the old one.
        std::fs::rename(&path, base.path().join("old")).unwrap();
        std::fs::create_dir(&path).unwrap();
        let c = pins.pin(&path).unwrap();
        assert_ne!(c.id(), a.id());
        assert_eq!(c.id(), PinnedDir::open(&path).unwrap().id());

        // Gone with its last holder: nothing is kept open.
        drop((a, b, c));
        assert!(pins.lock().values().all(|(fd, _)| fd.strong_count() == 0));
        assert_eq!(
            pins.pin(&path).unwrap().id(),
            PinnedDir::open(&path).unwrap().id()
        );
    }

    /// A held directory removed and another made at its path (again and again, to give the
    /// file system every chance to hand out the old inode number): the held one keeps its
    /// inode alive, so the path never matches it and each pin is the new directory, which
    /// takes a private file (the removed one would refuse it).
    #[test]
    fn a_removed_held_directory_is_never_handed_out() {
        let base = tempfile::tempdir().unwrap();
        let path = base.path().join("d");
        let pins = DirPins::default();
        std::fs::create_dir(&path).unwrap();
        let mut held = vec![pins.pin(&path).unwrap()];
        for _ in 0..32 {
            std::fs::remove_dir(&path).unwrap();
            std::fs::create_dir(&path).unwrap();
            let now = pins.pin(&path).unwrap();
            assert!(held.iter().all(|h| h.id() != now.id()));
            assert_eq!(now.id(), PinnedDir::open(&path).unwrap().id());
            assert!(now.create_private().is_ok());
            assert!(held[0].create_private().is_err());
            held.push(now);
        }
    }

    #[test]
    fn entries_are_pruned_once_no_one_holds_them() {
        let base = tempfile::tempdir().unwrap();
        let pins = DirPins::default();
        for i in 0..(PRUNE_AT * 3) {
            let path = base.path().join(i.to_string());
            std::fs::create_dir(&path).unwrap();
            drop(pins.pin(&path).unwrap());
        }
        assert!(pins.lock().len() <= PRUNE_AT);
    }
}
