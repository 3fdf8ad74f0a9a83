//! Making finished files durable before they are renamed into place: one file alone with
//! `fdatasync`, many at once by group commit (one `syncfs` round covers every file waiting).
//!
//! Imports only `error`; never storage (storage submits to it).
//!
//! A batch finishing a thousand small files would otherwise force a thousand journal commits
//! and cache flushes, one per `fdatasync`. Instead finished files are handed to the client's
//! committer, one thread that works in rounds: it takes the first file waiting, gathers the
//! files that arrive while others are still being written (for at most [`GATHER`]), makes
//! them durable together — `fdatasync` for a file alone on its filesystem, one `syncfs` for
//! several — and then finishes each (the rename into place) in order. The number of syncs
//! follows the disk's pace, not the number of files, the way databases commit transactions
//! in groups; and a round costs one thread wake-up, not one per file.
//!
//! The price of `syncfs` is that it also waits for other dirty data on the same filesystem,
//! which is why a file alone in its round syncs only itself.

use std::fs::File;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::error::lock;

/// How long a round waits for more files to join while other files are still being written,
/// at most: a batch's files arrive a few hundred microseconds apart, and each round costs the
/// disk a flush.
const GATHER: Duration = Duration::from_millis(1);

/// A finished file waiting for a round: its data, and what to do once it is durable (or the
/// sync failed).
pub(crate) trait Durable: Send + 'static {
    /// The file whose written data must be durable.
    fn file(&self) -> &File;
    /// The device the file is on (files of one device share a `syncfs`).
    fn device(&self) -> io::Result<u64> {
        device(self.file())
    }
    /// Called once, on the committer's thread, with the round's outcome for this file.
    fn synced(self: Box<Self>, result: io::Result<()>);
}

/// One client's durability: counts the files it is writing and runs their commit rounds.
#[derive(Default)]
pub(crate) struct Syncer {
    /// Files being written, not yet handed over ([`Writing`] guards alive).
    writing: Arc<AtomicUsize>,
    /// What the committer thread works on.
    queue: Arc<Queue>,
}

/// The files handed over and not yet taken into a round. The committer is woken only when it
/// waits for a first file or when the last file being written arrives (the round can close):
/// the files that join a gathering round in between cost it no wake-up each.
#[derive(Default)]
struct Queue {
    state: Mutex<QueueState>,
    wake: Condvar,
}

#[derive(Default)]
struct QueueState {
    jobs: Vec<Box<dyn Durable>>,
    /// The committer thread runs.
    started: bool,
    /// It sleeps until a first file arrives.
    idle: bool,
    /// The client is gone: finish what is queued, then stop.
    closed: bool,
}

impl std::fmt::Debug for Syncer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Syncer")
            .field("writing", &self.writing.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Counts one file being written, from its creation until it is handed to the committer or
/// dropped.
#[derive(Debug)]
pub(crate) struct Writing(Arc<AtomicUsize>);

impl Drop for Writing {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Syncer {
    /// Registers a file being written: a round waits a moment for it to finish too.
    pub fn writing(&self) -> Writing {
        self.writing.fetch_add(1, Ordering::AcqRel);
        Writing(Arc::clone(&self.writing))
    }

    /// Hands a finished file (all its data written) to the committer; `job.synced` is called
    /// once its round has run. Its [`Writing`] registration ends here.
    pub fn submit(&self, writing: Writing, job: Box<dyn Durable>) {
        drop(writing);
        let mut q = lock(&self.queue.state);
        if !q.started {
            let queue = Arc::clone(&self.queue);
            let writing = Arc::clone(&self.writing);
            let started = std::thread::Builder::new()
                .name("wxdl-commit".into())
                .spawn(move || commit_rounds(&queue, &writing));
            if let Err(e) = started {
                // No thread to be had: this file syncs alone, here.
                drop(q);
                tracing::debug!("no committer thread ({e}); syncing in place");
                let result = job.file().sync_data();
                finish(job, result);
                return;
            }
            q.started = true;
        }
        q.jobs.push(job);
        let wake = q.idle || self.writing.load(Ordering::Acquire) == 0;
        drop(q);
        if wake {
            self.queue.wake.notify_one();
        }
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        lock(&self.queue.state).closed = true;
        self.queue.wake.notify_one();
    }
}

/// The committer: rounds until the client is gone and nothing is queued.
fn commit_rounds(queue: &Queue, writing: &AtomicUsize) {
    let wait = |q| queue.wake.wait(q).unwrap_or_else(|p| p.into_inner());
    let mut q = lock(&queue.state);
    loop {
        while q.jobs.is_empty() {
            if q.closed {
                return;
            }
            q.idle = true;
            q = wait(q);
        }
        q.idle = false;
        // Gather: files still being written may finish within the window and share the sync;
        // the last of them wakes this wait early.
        let until = Instant::now() + GATHER;
        while writing.load(Ordering::Acquire) > 0 && !q.closed {
            let Some(left) = until.checked_duration_since(Instant::now()) else {
                break;
            };
            q = queue
                .wake
                .wait_timeout(q, left)
                .map_or_else(|p| p.into_inner().0, |(q, _)| q);
        }
        let jobs = std::mem::take(&mut q.jobs);
        drop(q);
        round(jobs);
        q = lock(&queue.state);
    }
}

/// Makes every job's file durable, one sync per filesystem, then finishes them in order.
fn round(jobs: Vec<Box<dyn Durable>>) {
    let mut groups: Vec<(u64, Vec<Box<dyn Durable>>)> = Vec::new();
    for job in jobs {
        match job.device() {
            Ok(dev) => match groups.iter_mut().find(|(d, _)| *d == dev) {
                Some((_, group)) => group.push(job),
                None => groups.push((dev, vec![job])),
            },
            Err(e) => finish(job, Err(e)),
        }
    }
    for (_, group) in groups {
        let result = match group.as_slice() {
            [one] => one.file().sync_data(),
            [first, ..] => sync_filesystem(first.file()),
            [] => Ok(()),
        };
        for job in group {
            let outcome = match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
            };
            finish(job, outcome);
        }
    }
}

/// Finishes one job. One that panics must not stop the committer (every later commit would
/// wait for it) nor cost the others of its round: its download fails, the rest go on.
fn finish(job: Box<dyn Durable>, result: io::Result<()>) {
    let finished = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.synced(result)));
    if finished.is_err() {
        tracing::error!("finishing a commit panicked; its file was not published");
    }
}

#[cfg(unix)]
fn device(file: &File) -> io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    Ok(file.metadata()?.dev())
}

#[cfg(not(unix))]
fn device(_file: &File) -> io::Result<u64> {
    Ok(0)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn sync_filesystem(file: &File) -> io::Result<()> {
    Ok(rustix::fs::syncfs(file)?)
}

/// Without `syncfs`, each file syncs itself (rounds then only batch the wake-ups).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn sync_filesystem(file: &File) -> io::Result<()> {
    file.sync_data()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::mpsc::{self, Sender};

    /// A job that reports its outcome on a channel.
    struct Job(File, Sender<io::Result<()>>);

    impl Durable for Job {
        fn file(&self) -> &File {
            &self.0
        }
        fn synced(self: Box<Self>, result: io::Result<()>) {
            let _ = self.1.send(result);
        }
    }

    #[test]
    fn overlapping_commits_share_rounds_and_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let syncer = Arc::new(Syncer::default());
        let (tx, rx) = mpsc::channel();
        let threads: Vec<_> = (0..32)
            .map(|i| {
                let syncer = Arc::clone(&syncer);
                let path = dir.path().join(format!("f{i}"));
                let writing = syncer.writing();
                let tx = tx.clone();
                std::thread::spawn(move || {
                    let mut f = File::create(path).unwrap();
                    f.write_all(&[i as u8; 4096]).unwrap();
                    syncer.submit(writing, Box::new(Job(f, tx)));
                })
            })
            .collect();
        drop(tx);
        for t in threads {
            t.join().unwrap();
        }
        let outcomes: Vec<_> = rx.iter().collect();
        assert_eq!(outcomes.len(), 32);
        assert!(outcomes.iter().all(|r| r.is_ok()));
        assert_eq!(syncer.writing.load(Ordering::Acquire), 0);
    }

    /// A job whose finishing panics.
    struct Panics(File);

    impl Durable for Panics {
        fn file(&self) -> &File {
            &self.0
        }
        fn synced(self: Box<Self>, _: io::Result<()>) {
            panic!("a job that panics (expected by the test)");
        }
    }

    #[test]
    fn a_panicking_job_does_not_stop_later_commits() {
        let dir = tempfile::tempdir().unwrap();
        let syncer = Syncer::default();
        let f = File::create(dir.path().join("p")).unwrap();
        syncer.submit(syncer.writing(), Box::new(Panics(f)));
        let (tx, rx) = mpsc::channel();
        let f = File::create(dir.path().join("f")).unwrap();
        syncer.submit(syncer.writing(), Box::new(Job(f, tx)));
        let outcome = rx.recv_timeout(Duration::from_secs(10));
        assert!(matches!(outcome, Ok(Ok(()))), "{outcome:?}");
    }

    #[test]
    fn a_committer_outlives_nothing_it_serves() {
        let dir = tempfile::tempdir().unwrap();
        let syncer = Syncer::default();
        let (tx, rx) = mpsc::channel();
        let f = File::create(dir.path().join("f")).unwrap();
        syncer.submit(syncer.writing(), Box::new(Job(f, tx)));
        assert!(rx.recv().unwrap().is_ok());
        // Dropping the syncer closes the queue: the thread's loop ends.
        let queue = Arc::clone(&syncer.queue);
        drop(syncer);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Arc::strong_count(&queue) > 1 {
            assert!(
                Instant::now() < deadline,
                "the committer thread did not end"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
