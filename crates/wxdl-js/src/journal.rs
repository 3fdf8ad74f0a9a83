//! The temp files of a run, journaled so that none outlives it: a run removes its own when it
//! ends (unless kept), and the next run removes those of a run that was killed (`SIGKILL`, a
//! power loss) before it could. A live run holds its journal locked; a journal nobody holds is
//! an orphan's.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use rustix::fs::FlockOperation;

/// One run's journal, locked while the run lives.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    tmp: PathBuf,
    keep: bool,
}

impl Journal {
    /// Starts this run's journal in `<root>/runs/`, after cleaning up after dead runs.
    pub fn start(root: &Path, tmp: &Path, keep: bool) -> Option<Journal> {
        let runs = root.join("runs");
        std::fs::create_dir_all(&runs).ok()?;
        sweep_orphans(&runs, tmp);
        let path = runs.join(format!(
            "{}-{:x}.journal",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        let mut file = File::options()
            .create_new(true)
            .append(true)
            .open(&path)
            .ok()?;
        rustix::fs::flock(file.as_fd(), FlockOperation::NonBlockingLockExclusive).ok()?;
        if keep {
            writeln!(file, "keep").ok()?;
        }
        Some(Journal {
            path,
            file,
            tmp: tmp.to_path_buf(),
            keep,
        })
    }

    /// Records a temp file the run made.
    pub fn add(&mut self, file: &Path) {
        if let Some(name) = file.file_name().and_then(|n| n.to_str()) {
            let _ = writeln!(self.file, "{name}");
        }
    }

    /// The run ended: its temp files go (unless kept), then the journal.
    pub fn finish(self) {
        if !self.keep {
            remove_listed(&self.path, &self.tmp);
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Opens a journal to read it: without waiting (a FIFO planted under a journal's name would
/// block a plain `open` for ever) and only when it is a regular file.
fn open_journal(path: &Path) -> Option<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_NOCTTY)
        .open(path)
        .ok()?;
    file.metadata().ok()?.is_file().then_some(file)
}

/// Removes the temp files a journal lists (plain names inside `tmp` only).
fn remove_listed(journal: &Path, tmp: &Path) {
    let Some(file) = open_journal(journal) else {
        return;
    };
    for name in BufReader::new(file).lines().map_while(Result::ok) {
        let plain = name.starts_with("tmp_") && !name.contains('/') && !name.contains("..");
        if plain {
            let _ = std::fs::remove_file(tmp.join(name));
        }
    }
}

/// Cleans up after runs that died: their journals are not locked by anyone.
fn sweep_orphans(runs: &Path, tmp: &Path) {
    let Ok(entries) = std::fs::read_dir(runs) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("journal") {
            continue;
        }
        let Some(file) = open_journal(&path) else {
            continue;
        };
        if rustix::fs::flock(file.as_fd(), FlockOperation::NonBlockingLockExclusive).is_err() {
            continue; // a live run holds it
        }
        let keep = BufReader::new(&file)
            .lines()
            .next()
            .and_then(Result::ok)
            .is_some_and(|l| l == "keep");
        if !keep {
            remove_listed(&path, tmp);
        }
        let _ = std::fs::remove_file(&path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_runs_temp_files_go_a_live_runs_stay() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join("tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        for f in ["tmp_a", "tmp_b", "tmp_c", "tmp_user"] {
            std::fs::write(tmp.join(f), b"x").unwrap();
        }
        let mut live = Journal::start(dir.path(), &tmp, false).unwrap();
        live.add(&tmp.join("tmp_a"));
        // A run that died: its journal exists, unlocked.
        let runs = dir.path().join("runs");
        std::fs::write(runs.join("999-1.journal"), "tmp_b\n../escape\n").unwrap();
        std::fs::write(runs.join("998-1.journal"), "keep\ntmp_c\n").unwrap();
        let other = Journal::start(dir.path(), &tmp, false).unwrap();
        assert!(
            !tmp.join("tmp_b").exists(),
            "the dead run's temp file stays"
        );
        assert!(tmp.join("tmp_a").exists(), "a live run's temp file went");
        assert!(tmp.join("tmp_c").exists(), "a kept run's temp file went");
        assert!(tmp.join("tmp_user").exists());
        live.finish();
        assert!(!tmp.join("tmp_a").exists());
        other.finish();
        assert_eq!(std::fs::read_dir(&runs).unwrap().count(), 0);
    }

    #[test]
    fn a_fifo_planted_as_a_journal_is_not_waited_on() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join("tmp");
        let runs = dir.path().join("runs");
        std::fs::create_dir_all(&runs).unwrap();
        let fifo = runs.join("1-1.journal");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        // A regression blocks in open(): after 20 s a watchdog keeps giving the FIFO a writer
        // (for at most 20 s more), so the test fails instead of hanging.
        let (done, wait) = std::sync::mpsc::channel::<()>();
        let watchdog = std::thread::spawn(move || {
            use std::os::unix::fs::OpenOptionsExt;
            let step = std::time::Duration::from_millis(50);
            if wait
                .recv_timeout(std::time::Duration::from_secs(20))
                .is_ok()
            {
                return false;
            }
            for _ in 0..400 {
                if wait.try_recv().is_ok() {
                    break;
                }
                let writer = std::fs::OpenOptions::new()
                    .write(true)
                    .custom_flags(libc::O_NONBLOCK)
                    .open(&fifo);
                std::thread::sleep(step);
                drop(writer);
            }
            true
        });
        let run = Journal::start(dir.path(), &tmp, false).unwrap();
        let _ = done.send(());
        assert!(!watchdog.join().unwrap(), "the run blocked on the FIFO");
        run.finish();
    }
}
