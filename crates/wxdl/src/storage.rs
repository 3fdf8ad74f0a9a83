//! The atomic writer: stream to `<target>.part`, enforce cap and quota, fsync, rename on success.

use std::fs::{File, OpenOptions};
use std::io::{IoSlice, Write};

use bytes::Bytes;
use std::path::{Path, PathBuf};

use crate::error::{storage_io, Fail, FailReason};
use crate::sandbox::QuotaGuard;

/// Chunks are gathered (not copied: they are reference-counted) until this many bytes, then
/// written with one `writev`: HTTP/2, HTTP/3 and TLS deliver 16 KiB pieces, and one syscall per
/// piece costs more than the gathering.
const GATHER_BYTES: usize = 256 * 1024;
/// At most this many chunks per `writev` (well under any IOV_MAX).
const GATHER_CHUNKS: usize = 64;

/// A download's body on its way to disk. Dropping it without [`PartFile::commit`] deletes the
/// `.part` file, so a failure or an abort never leaves partial data and never touches the target.
#[derive(Debug)]
pub(crate) struct PartFile {
    file: Option<File>,
    part: PathBuf,
    target: PathBuf,
    written: u64,
    max_bytes: u64,
    quota: Option<QuotaGuard>,
    pending: Vec<Bytes>,
    pending_len: usize,
}

/// The `.part` path next to `target`.
pub(crate) fn part_path(target: &Path) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    target.with_file_name(name)
}

impl PartFile {
    /// Creates (truncating) `<target>.part`. Never follows a symlink planted at the `.part` name.
    pub fn create(
        target: PathBuf,
        max_bytes: u64,
        quota: Option<QuotaGuard>,
    ) -> Result<PartFile, Fail> {
        let part = part_path(&target);
        let mut opts = OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.custom_flags(libc_o_nofollow());
        }
        let file = opts
            .open(&part)
            .map_err(|e| storage_io(&e, &part.display().to_string()))?;
        Ok(PartFile {
            file: Some(file),
            part,
            target,
            written: 0,
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
                    return Err(storage_io(&e, &self.part.display().to_string()));
                }
                Ok(n) => IoSlice::advance_slices(&mut rest, n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(storage_io(&e, &self.part.display().to_string())),
            }
        }
        drop(slices);
        self.pending.clear();
        self.pending_len = 0;
        Ok(())
    }

    /// Makes the data durable and visible: fsync, then rename over the target. Runs on the
    /// blocking pool, so many downloads can sync at once without stalling the runtime.
    pub async fn commit(mut self) -> Result<u64, Fail> {
        self.flush()?;
        let file = self
            .file
            .take()
            .ok_or_else(|| Fail::new(FailReason::WriteFileFail))?;
        let part = std::mem::take(&mut self.part);
        let target = self.target.clone();
        let written = self.written;
        let quota = self.quota.take();
        let job = tokio::task::spawn_blocking(move || {
            let what = target.display().to_string();
            let result = file
                .sync_data()
                .and_then(|()| {
                    drop(file);
                    std::fs::rename(&part, &target)
                })
                .map_err(|e| storage_io(&e, &what));
            if result.is_err() {
                let _ = std::fs::remove_file(&part);
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

impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.part.as_os_str().is_empty() {
            drop(self.file.take());
            let _ = std::fs::remove_file(&self.part);
        }
    }
}

#[cfg(unix)]
fn libc_o_nofollow() -> i32 {
    // O_NOFOLLOW: 0o400000 on Linux (x86, arm), 0x100 on the BSDs and macOS.
    if cfg!(any(target_os = "linux", target_os = "android")) {
        0o400000
    } else {
        0x100
    }
}

/// Checks an ordinary host path (CLI `-o`) before any network I/O: the parent must exist and the
/// target must not be a directory.
pub(crate) fn check_host_target(path: &Path) -> Result<PathBuf, Fail> {
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
    Ok(path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_removes_part_and_keeps_target() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("f");
        std::fs::write(&target, b"old").unwrap();
        let mut p = PartFile::create(target.clone(), 10, None).unwrap();
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
        let mut p = PartFile::create(target.clone(), u64::MAX, None).unwrap();
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
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(p.commit()).unwrap();
        assert!(std::fs::read(&target).unwrap() == expected);
    }

    #[test]
    fn commit_replaces_target() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("f");
        std::fs::write(&target, b"old").unwrap();
        let mut p = PartFile::create(target.clone(), 10, None).unwrap();
        p.write(Bytes::from_static(b"new")).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(rt.block_on(p.commit()).unwrap(), 3);
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
