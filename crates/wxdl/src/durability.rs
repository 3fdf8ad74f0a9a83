//! Making finished files durable before they are renamed into place: one file alone with
//! `fdatasync`, many at once by group commit (one `syncfs` round covers every file waiting).
//!
//! Imports only `error`; never storage (storage calls it).
//!
//! A batch finishing a thousand small files would otherwise force a thousand journal commits
//! and cache flushes, one per `fdatasync`. Instead, while several files are being written,
//! their commits share rounds: a commit whose data is written needs a `syncfs` of its
//! filesystem that *starts* after that moment. If none is running, it runs one itself (the
//! leader); if one is running, it waits for it to end and then joins the next round, which
//! one of the waiters leads. Each round covers every file written before it began, so the
//! number of syncs follows the disk's pace, not the number of files — the way databases
//! commit transactions in groups.
//!
//! The price of `syncfs` is that it also waits for other dirty data on the same filesystem,
//! which is why a file with no company (no other file of the client being written) still
//! syncs only itself.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// One client's durability: counts the files it is writing and runs their group rounds.
#[derive(Debug, Default)]
pub(crate) struct Syncer {
    /// Files being written or committed ([`Writing`] guards alive).
    writing: AtomicUsize,
    /// Round bookkeeping per filesystem (device number).
    rounds: Mutex<HashMap<u64, Rounds>>,
    round_ended: Condvar,
}

/// How long a round's leader waits for more files to join before syncing, at most: a batch's
/// files arrive a few hundred microseconds apart, and each round costs the disk a flush.
const GATHER: Duration = Duration::from_millis(1);

/// Rounds of `syncfs` on one filesystem, numbered from 1.
#[derive(Debug, Default)]
struct Rounds {
    /// The last round started, and whether it is still running (or gathering).
    started: u64,
    running: bool,
    /// Commits waiting for a round.
    waiting: usize,
    /// The last round that ended.
    ended: u64,
    /// The last round that failed, and how.
    failed: Option<(u64, io::ErrorKind, String)>,
}

/// Counts one file being written, from its creation until it is published or dropped.
#[derive(Debug)]
pub(crate) struct Writing(Arc<Syncer>);

impl Writing {
    /// The client's syncer this file is counted by.
    pub fn syncer(&self) -> &Arc<Syncer> {
        &self.0
    }
}

impl Drop for Writing {
    fn drop(&mut self) {
        self.0.writing.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Syncer {
    /// Registers a file being written; its commits count as company for the others'.
    pub fn writing(self: &Arc<Self>) -> Writing {
        self.writing.fetch_add(1, Ordering::AcqRel);
        Writing(Arc::clone(self))
    }

    /// Makes `file`'s data (all of it written already) durable. The caller holds the file's
    /// own [`Writing`] registration: with no other file being written, it syncs alone.
    pub fn sync(&self, file: &File) -> io::Result<()> {
        if self.writing.load(Ordering::Acquire) <= 1 {
            file.sync_data()
        } else {
            self.group_sync(file)
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Rounds>> {
        crate::error::lock(&self.rounds)
    }

    /// Waits for, or leads, a `syncfs` round that starts after this call.
    fn group_sync(&self, file: &File) -> io::Result<()> {
        let dev = device(file)?;
        let mut rounds = self.lock();
        // Any round that starts from now on covers this file's data; a running one may not.
        let need = rounds.entry(dev).or_default().started + 1;
        loop {
            let r = rounds.entry(dev).or_default();
            if r.ended >= need {
                return match &r.failed {
                    Some((round, kind, msg)) if *round >= need => {
                        Err(io::Error::new(*kind, msg.clone()))
                    }
                    _ => Ok(()),
                };
            }
            if r.running {
                r.waiting += 1;
                rounds = self
                    .round_ended
                    .wait(rounds)
                    .unwrap_or_else(|p| p.into_inner());
                rounds.entry(dev).or_default().waiting -= 1;
                continue;
            }
            r.running = true;
            // Gather: files arriving now still count on the round about to start (it is not
            // numbered yet), until every file being written waits or the window closes.
            let until = Instant::now() + GATHER;
            while rounds.entry(dev).or_default().waiting + 1 < self.writing.load(Ordering::Acquire)
                && Instant::now() < until
            {
                drop(rounds);
                std::thread::sleep(Duration::from_micros(100));
                rounds = self.lock();
            }
            let r = rounds.entry(dev).or_default();
            r.started += 1;
            let round = r.started;
            drop(rounds);
            let result = sync_filesystem(file);
            rounds = self.lock();
            let r = rounds.entry(dev).or_default();
            r.running = false;
            r.ended = round;
            if let Err(e) = &result {
                r.failed = Some((round, e.kind(), e.to_string()));
            }
            self.round_ended.notify_all();
            return result;
        }
    }
}

#[cfg(unix)]
fn device(file: &File) -> io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    Ok(file.metadata()?.dev())
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn sync_filesystem(file: &File) -> io::Result<()> {
    Ok(rustix::fs::syncfs(file)?)
}

/// Without `syncfs`, each file syncs itself (rounds then only order the calls).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn sync_filesystem(file: &File) -> io::Result<()> {
    file.sync_data()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn overlapping_commits_share_rounds_and_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let syncer = Arc::new(Syncer::default());
        let threads: Vec<_> = (0..32)
            .map(|i| {
                let syncer = Arc::clone(&syncer);
                let path = dir.path().join(format!("f{i}"));
                let writing = syncer.writing();
                std::thread::spawn(move || {
                    let mut f = File::create(path).unwrap();
                    f.write_all(&[i as u8; 4096]).unwrap();
                    let result = syncer.sync(&f);
                    drop(writing);
                    result
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap().unwrap();
        }
        assert_eq!(syncer.writing.load(Ordering::Acquire), 0);
        let rounds = syncer.lock();
        for r in rounds.values() {
            assert!(!r.running);
            assert_eq!(r.started, r.ended);
            assert!(r.started <= 32);
        }
    }
}
