//! The atomic writer: stream to `<target>.part`, enforce cap and quota, fsync, rename on success.

use std::ffi::OsString;
use std::fs::File;
use std::io::{IoSlice, Write};
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

use crate::durability::{Syncer, Writing};
use crate::error::{storage_io, Fail, FailReason};
use crate::pinned::{PinnedDir, Target};
use crate::sandbox::QuotaGuard;

/// Chunks are gathered (not copied: they are reference-counted) until this many bytes, then
/// written with one `writev`: HTTP/2, HTTP/3 and TLS deliver 16 KiB pieces, and one syscall per
/// piece costs more than the gathering.
const GATHER_BYTES: usize = 256 * 1024;
/// At most this many chunks per `writev` (well under any IOV_MAX).
const GATHER_CHUNKS: usize = 64;
/// Writeback of the data written so far is started every this many bytes, so the disk works
/// while the network does and the final fsync waits only for the tail (and the dirty page
/// cache a large download leaves stays bounded).
const WRITEBACK_STEP: u64 = 8 * 1024 * 1024;

/// A download's body on its way to disk. Dropping it without [`PartFile::commit`] deletes the
/// `.part` file, so a failure or an abort never leaves partial data and never touches the target.
#[derive(Debug)]
pub(crate) struct PartFile {
    /// Counts this file among the client's files being written until it is dropped.
    writing: Writing,
    file: Option<File>,
    /// The directory both files live in, held by descriptor; `None` once committed.
    dir: Option<PinnedDir>,
    part: OsString,
    name: OsString,
    /// The target's host path, for messages.
    shown: String,
    written: u64,
    /// Bytes up to which writeback was started.
    writeback_from: u64,
    max_bytes: u64,
    quota: Option<QuotaGuard>,
    pending: Vec<Bytes>,
    pending_len: usize,
}

impl PartFile {
    /// Creates (truncating) `<target>.part` in the target's pinned directory. Never follows a
    /// symlink planted at the `.part` name.
    pub fn create(
        target: Target,
        max_bytes: u64,
        quota: Option<QuotaGuard>,
        syncer: &Arc<Syncer>,
    ) -> Result<PartFile, Fail> {
        let part = target.part_name();
        let shown = target.path().display().to_string();
        let file = target
            .dir
            .create_file(&part)
            .map_err(|e| storage_io(&e, &format!("{shown}.part")))?;
        Ok(PartFile {
            writing: syncer.writing(),
            file: Some(file),
            dir: Some(target.dir),
            part,
            name: target.name,
            shown,
            written: 0,
            writeback_from: 0,
            max_bytes,
            quota,
            pending: Vec::with_capacity(GATHER_CHUNKS),
            pending_len: 0,
        })
    }

    /// Bytes accepted so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Appends `data`, failing before writing when it would pass the cap or the quota. Data is
    /// written in arrival order.
    pub fn write(&mut self, data: Bytes) -> Result<(), Fail> {
        let n = data.len() as u64;
        if self.written + n > self.max_bytes {
            return Err(Fail::with(
                FailReason::ExceedMaxFileSize,
                format_args!("body passed {} bytes", self.max_bytes),
            ));
        }
        if let Some(q) = &mut self.quota {
            if !q.take(n) {
                return Err(Fail::new(FailReason::StorageLimitExceeded));
            }
        }
        self.written += n;
        self.pending_len += data.len();
        self.pending.push(data);
        if self.pending_len >= GATHER_BYTES || self.pending.len() >= GATHER_CHUNKS {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes every gathered chunk, in order, with as few `writev` calls as the kernel allows.
    fn flush(&mut self) -> Result<(), Fail> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| Fail::new(FailReason::WriteFileFail))?;
        let mut slices: Vec<IoSlice<'_>> = self.pending.iter().map(|b| IoSlice::new(b)).collect();
        let mut rest = &mut slices[..];
        while !rest.is_empty() {
            match file.write_vectored(rest) {
                Ok(0) => {
                    let e = std::io::Error::from(std::io::ErrorKind::WriteZero);
                    return Err(storage_io(&e, &self.shown));
                }
                Ok(n) => IoSlice::advance_slices(&mut rest, n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(storage_io(&e, &self.shown)),
            }
        }
        drop(slices);
        self.pending.clear();
        self.pending_len = 0;
        if self.written - self.writeback_from >= WRITEBACK_STEP {
            start_writeback(
                file,
                self.writeback_from,
                self.written - self.writeback_from,
            );
            self.writeback_from = self.written;
        }
        Ok(())
    }

    /// Makes the data durable and visible: fsync, then rename over the target. Runs on the
    /// blocking pool, so many downloads can sync at once without stalling the runtime.
    ///
    /// Refuses to publish (`permission denied`, the `.part` removed) when the target's path no
    /// longer names the directory the data was written in: something was swapped in meanwhile.
    pub async fn commit(mut self) -> Result<u64, Fail> {
        self.flush()?;
        let (Some(file), Some(dir)) = (self.file.take(), self.dir.take()) else {
            return Err(Fail::new(FailReason::WriteFileFail));
        };
        let part = std::mem::take(&mut self.part);
        let name = std::mem::take(&mut self.name);
        let shown = std::mem::take(&mut self.shown);
        let written = self.written;
        let quota = self.quota.take();
        let syncer = Arc::clone(self.writing.syncer());
        let job = tokio::task::spawn_blocking(move || {
            let result = publish(&syncer, file, &dir, &part, &name, &shown);
            if result.is_err() {
                let _ = dir.remove_file(&part);
            }
            result
        });
        match job.await {
            Ok(Ok(())) => {
                if let Some(q) = quota {
                    q.settle();
                }
                Ok(written)
            }
            Ok(Err(f)) => Err(f),
            Err(_) => Err(Fail::with(FailReason::WriteFileFail, "commit task failed")),
        }
    }
}

/// fsync `file`, check that `dir` is still where its path says, rename `part` over `name`.
fn publish(
    syncer: &Syncer,
    file: File,
    dir: &PinnedDir,
    part: &OsString,
    name: &OsString,
    shown: &str,
) -> Result<(), Fail> {
    syncer.sync(&file).map_err(|e| storage_io(&e, shown))?;
    drop(file);
    match dir.is_at(dir.path()) {
        Ok(true) => {}
        Ok(false) => {
            return Err(Fail::with(
                FailReason::PermissionDenied,
                format_args!("{shown}: its directory was replaced during the download"),
            ))
        }
        Err(e) => return Err(storage_io(&e, shown)),
    }
    dir.rename(part, name).map_err(|e| storage_io(&e, shown))
}

/// Asks the kernel to start writing `len` bytes at `offset` to disk, without waiting.
/// Advisory: an error changes nothing (the commit's fsync is what guarantees durability).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn start_writeback(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: the descriptor is open for the call's duration (borrowed from `file`) and the
    // call reads no memory of ours.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn start_writeback(_file: &File, _offset: u64, _len: u64) {}

impl Drop for PartFile {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            drop(self.file.take());
            let _ = dir.remove_file(&self.part);
        }
    }
}

/// Checks an ordinary host path (CLI `-o`) before any network I/O: the parent must exist and the
/// target must not be a directory. Pins the parent directory.
pub(crate) fn check_host_target(path: &Path) -> Result<Target, Fail> {
    let shown = path.display().to_string();
    if path.file_name().is_none() {
        return Err(Fail::with(FailReason::IllegalOperationOnDirectory, shown));
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match std::fs::metadata(parent) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(Fail::with(FailReason::NoSuchFileOrDirectory, shown)),
        Err(e) => return Err(storage_io(&e, &shown)),
    }
    if std::fs::metadata(path).map(|m| m.is_dir()).unwrap_or(false) {
        return Err(Fail::with(FailReason::IllegalOperationOnDirectory, shown));
    }
    let name = path.file_name().unwrap_or_default().to_os_string();
    let dir = PinnedDir::open(parent).map_err(|e| storage_io(&e, &shown))?;
    Ok(Target { dir, name })
}

/// The `.part` path next to `target`.
#[cfg(test)]
pub(crate) fn part_path(target: &Path) -> std::path::PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    target.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `.part` writer for `target` with cap `max`, no quota and a client of its own.
    fn part_file(target: &Path, max: u64) -> PartFile {
        PartFile::create(
            check_host_target(target).unwrap(),
            max,
            None,
            &Arc::default(),
        )
        .unwrap()
    }

    fn commit(p: PartFile) -> Result<u64, Fail> {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(p.commit())
    }

    #[test]
    fn drop_removes_part_and_keeps_target() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("f");
        std::fs::write(&target, b"old").unwrap();
        let mut p = part_file(&target, 10);
        p.write(Bytes::from_static(b"new data")).unwrap();
        assert!(part_path(&target).exists());
        let over = p.write(Bytes::from_static(b"xxx")).unwrap_err();
        assert_eq!(over.reason, FailReason::ExceedMaxFileSize);
        drop(p);
        assert!(!part_path(&target).exists());
        assert_eq!(std::fs::read(&target).unwrap(), b"old");
    }

    #[test]
    fn mixed_write_sizes_keep_their_order() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("f");
        let mut p = part_file(&target, u64::MAX);
        let mut expected = Vec::new();
        // Every size class and boundary, then more small chunks than one writev takes.
        let sizes = [
            10,
            200_000,
            3,
            GATHER_BYTES / 2,
            1,
            GATHER_BYTES - 1,
            70_000,
            GATHER_BYTES,
            5,
        ];
        let many_small = std::iter::repeat_n(100, GATHER_CHUNKS * 2 + 3);
        for (i, len) in sizes.into_iter().chain(many_small).enumerate() {
            let chunk: Vec<u8> = (0..len).map(|j| (i * 31 + j) as u8).collect();
            expected.extend_from_slice(&chunk);
            p.write(Bytes::from(chunk)).unwrap();
        }
        commit(p).unwrap();
        assert!(std::fs::read(&target).unwrap() == expected);
    }

    #[test]
    fn commit_replaces_target() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("f");
        std::fs::write(&target, b"old").unwrap();
        let mut p = part_file(&target, 10);
        p.write(Bytes::from_static(b"new")).unwrap();
        assert_eq!(commit(p).unwrap(), 3);
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        assert!(!part_path(&target).exists());
    }

    #[test]
    fn host_target_checks() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            check_host_target(&dir.path().join("nope/f"))
                .unwrap_err()
                .reason,
            FailReason::NoSuchFileOrDirectory
        );
        assert_eq!(
            check_host_target(dir.path()).unwrap_err().reason,
            FailReason::IllegalOperationOnDirectory
        );
        assert!(check_host_target(&dir.path().join("f")).is_ok());
    }
}
