//! The body writer: streams into a private file in the target's directory that no one else can
//! name (see `pinned`), enforcing the cap and the quota; on success makes it durable and puts it
//! in place over the target atomically. Devices, FIFOs and open streams (`-o /dev/null`,
//! `-o -`) are written straight through instead (`host_target` says which).
//!
//! Imports `durability`, `pinned`, `quota`, `host_target` and `error`; never the transport or a
//! policy.

use std::collections::HashSet;
use std::fs::File;
use std::io::{IoSlice, Seek, Write};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use crate::error::{lock, storage_io, Fail, FailReason};
use crate::store::durability::{Syncer, Writing};
use crate::store::host_target::Sink;
use crate::store::partial::Partial;
use crate::store::pinned::{PinnedDir, Target};
use crate::store::publish::{Publish, PublishJob};
use crate::store::quota::Reservation;

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
/// A fresh body announced at least this long gets its disk space reserved before its first
/// byte ([`BodyFile::preallocate`]): ext4 then skips its per-page delayed-allocation work
/// (W1 -14 % by the medians of seven alternated sessions); for a small file it would only
/// add a syscall.
const PREALLOCATE_FROM: u64 = WRITEBACK_STEP;

/// A client's storage bookkeeping: its durability rounds, and the directories it has swept
/// for leftovers of earlier crashes (each once per client).
#[derive(Debug, Default)]
pub(crate) struct Storage {
    syncer: Arc<Syncer>,
    swept: Mutex<HashSet<(u64, u64)>>,
}

impl Storage {
    /// Removes crash leftovers from `dir` the first time this client writes there.
    fn sweep_once(&self, dir: &PinnedDir) {
        let id = dir.id();
        let first = lock(&self.swept).insert(id);
        if first {
            match dir.sweep_leftovers() {
                Ok(0) => {}
                Ok(n) => tracing::info!("removed {n} leftover partial files in {:?}", dir.path()),
                Err(e) => tracing::debug!("sweeping {:?}: {e}", dir.path()),
            }
        }
    }
}

/// A download's body on its way to disk. Dropping it without [`BodyFile::commit`] discards the
/// private file (unnamed, or unlinked by name), so a failure or an abort never leaves partial
/// data and never touches the target.
#[derive(Debug)]
pub(crate) struct BodyFile {
    /// Counts this file among the client's files being written until it is committed or
    /// dropped.
    writing: Option<Writing>,
    /// The client's durability rounds.
    syncer: Arc<Syncer>,
    place: Place,
    /// The target's host path, for messages.
    shown: String,
    written: u64,
    /// Bytes up to which writeback was started.
    writeback_from: u64,
    max_bytes: u64,
    quota: Option<Reservation>,
    pending: Vec<Bytes>,
    pending_len: usize,
}

/// Where the bytes go and how they become visible.
#[derive(Debug)]
enum Place {
    /// A file of the download's own (private or partial), published over the target at
    /// commit.
    Own(Publish),
    /// A device, FIFO or open stream: written in place, nothing to publish.
    Through(Arc<File>),
    /// Committed or discarded.
    Gone,
}

impl BodyFile {
    /// Starts writing a body to `sink`: for a file to replace, creates its private file in
    /// the target's pinned directory.
    pub fn create(
        sink: Sink,
        max_bytes: u64,
        quota: Option<Reservation>,
        storage: &Storage,
    ) -> Result<BodyFile, Fail> {
        let shown = sink.path().display().to_string();
        let place = match sink {
            Sink::Replace(target) => {
                storage.sweep_once(&target.dir);
                let private = target
                    .dir
                    .create_private()
                    .map_err(|e| storage_io(e, &shown))?;
                Place::Own(Publish::Private {
                    dir: target.dir,
                    private,
                    name: target.name,
                })
            }
            Sink::Through { file, .. } => Place::Through(file),
        };
        Ok(BodyFile {
            writing: Some(storage.syncer.writing()),
            syncer: Arc::clone(&storage.syncer),
            place,
            shown,
            written: 0,
            writeback_from: 0,
            max_bytes,
            quota,
            pending: Vec::with_capacity(GATHER_CHUNKS),
            pending_len: 0,
        })
    }

    /// Reserves disk space for a fresh body announced `len` bytes long (`fallocate`, the
    /// file's length unchanged), so the file system allocates it once instead of page by page.
    /// Only for a private file of at least [`PREALLOCATE_FROM`] bytes: a resumable partial
    /// is kept when interrupted and would hold the whole length's blocks. A file system
    /// without it, or one that is full, says no, and the writes go on as without it (a full
    /// disk then fails them as ever).
    pub fn preallocate(&self, len: u64) {
        if len < PREALLOCATE_FROM || len > self.max_bytes {
            return;
        }
        if let Place::Own(Publish::Private { private, .. }) = &self.place {
            let kept = rustix::fs::FallocateFlags::KEEP_SIZE;
            if let Err(e) = rustix::fs::fallocate(&private.file, kept, 0, len) {
                tracing::debug!("{}: no space reserved ahead: {e}", self.shown);
            }
        }
    }

    /// **\[beyond\]** Writes a body into a resumable partial file, after the bytes it already
    /// holds (its length), to be published over `target`: a failure keeps what arrived.
    pub fn resumable(
        target: Target,
        mut partial: Partial,
        max_bytes: u64,
        mut quota: Option<Reservation>,
        storage: &Storage,
    ) -> Result<BodyFile, Fail> {
        let shown = target.path().display().to_string();
        let held = partial
            .private
            .file
            .stream_position()
            .map_err(|e| storage_io(e, &shown))?;
        if held > max_bytes {
            partial.start_over().map_err(|e| storage_io(e, &shown))?;
            return Err(Fail::with(
                FailReason::ExceedMaxFileSize,
                format_args!("{held} bytes held > {max_bytes}"),
            ));
        }
        if let Some(q) = &mut quota {
            if !q.take(held) {
                return Err(Fail::new(FailReason::StorageLimitExceeded));
            }
        }
        Ok(BodyFile {
            writing: Some(storage.syncer.writing()),
            syncer: Arc::clone(&storage.syncer),
            place: Place::Own(Publish::Partial {
                dir: target.dir,
                partial: Box::new(partial),
                name: target.name,
            }),
            shown,
            written: held,
            writeback_from: held,
            max_bytes,
            quota,
            pending: Vec::with_capacity(GATHER_CHUNKS),
            pending_len: 0,
        })
    }

    /// Drops every byte written so far, to write the body again from its first byte (a server
    /// answered a continuation with the whole representation).
    pub fn start_over(&mut self) -> Result<(), Fail> {
        self.pending.clear();
        self.pending_len = 0;
        let restarted = match &mut self.place {
            Place::Own(Publish::Private { private, .. }) => {
                private.file.set_len(0).and_then(|()| private.file.rewind())
            }
            Place::Own(Publish::Partial { partial, .. }) => partial.start_over(),
            // Bytes passed straight through cannot be taken back.
            Place::Through(_) | Place::Gone => return Err(Fail::new(FailReason::WriteFileFail)),
        };
        restarted.map_err(|e| storage_io(e, &self.shown))?;
        self.written = 0;
        self.writeback_from = 0;
        if let Some(q) = &mut self.quota {
            q.restart();
        }
        Ok(())
    }

    /// The resumable partial file being written, if this body goes to one.
    pub fn partial(&self) -> Option<&Partial> {
        match &self.place {
            Place::Own(Publish::Partial { partial, .. }) => Some(partial),
            _ => None,
        }
    }

    /// Gives up a body whose bytes must not be kept for a later run (a partial file is
    /// removed); an ordinary private file goes as on any failure.
    pub fn abandon(mut self) {
        self.pending.clear();
        self.pending_len = 0;
        if let Place::Own(Publish::Partial { partial, .. }) =
            std::mem::replace(&mut self.place, Place::Gone)
        {
            partial.abandon();
        }
    }

    /// **\[beyond\]** For a split body: the private file, sized to `len`, to write segments
    /// into by position. `None` when the body does not go to a private file of its own (a
    /// partial file, a device) or already has bytes.
    pub fn positional(&mut self, len: u64) -> Option<&File> {
        match &self.place {
            Place::Own(Publish::Private { private, .. })
                if self.written == 0 && self.pending.is_empty() =>
            {
                private.file.set_len(len).ok()?;
                Some(&private.file)
            }
            _ => None,
        }
    }

    /// The file being written, when it is a file of this download's own.
    pub fn file(&self) -> Option<&File> {
        match &self.place {
            Place::Own(publish) => Some(publish.file()),
            _ => None,
        }
    }

    /// Counts `len` bytes written by position (every segment of a split body is in).
    pub fn positional_done(&mut self, len: u64) -> Result<(), Fail> {
        if let Some(q) = &mut self.quota {
            if !q.take(len) {
                return Err(Fail::new(FailReason::StorageLimitExceeded));
            }
        }
        self.written = len;
        Ok(())
    }

    /// Whether the bytes written can be kept and continued (not passed straight through).
    pub fn can_continue(&self) -> bool {
        matches!(self.place, Place::Own(_))
    }

    /// Whether the file it will be published over exists now (a file of its own only: a
    /// device or stream written through has nothing to keep).
    pub fn target_exists(&self) -> bool {
        let (dir, name) = match &self.place {
            Place::Own(Publish::Private { dir, name, .. } | Publish::Partial { dir, name, .. }) => {
                (dir, name)
            }
            Place::Through(_) | Place::Gone => return false,
        };
        rustix::fs::statat(dir.fd(), name, rustix::fs::AtFlags::empty()).is_ok()
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
        let (mut file, private) = match &self.place {
            Place::Own(publish) => (publish.file(), true),
            Place::Through(file) => (&**file, false),
            Place::Gone => return Err(Fail::new(FailReason::WriteFileFail)),
        };
        let mut slices: Vec<IoSlice<'_>> = self.pending.iter().map(|b| IoSlice::new(b)).collect();
        let mut rest = &mut slices[..];
        while !rest.is_empty() {
            match file.write_vectored(rest) {
                Ok(0) => {
                    let e = std::io::Error::from(std::io::ErrorKind::WriteZero);
                    return Err(storage_io(e, &self.shown));
                }
                Ok(n) => IoSlice::advance_slices(&mut rest, n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(storage_io(e, &self.shown)),
            }
        }
        drop(slices);
        self.pending.clear();
        self.pending_len = 0;
        if private && self.written - self.writeback_from >= WRITEBACK_STEP {
            start_writeback(
                file,
                self.writeback_from,
                self.written - self.writeback_from,
            );
            self.writeback_from = self.written;
        }
        Ok(())
    }

    /// Makes the data durable and visible: fsync, then link over the target. The client's
    /// committer does both (see `durability`), so many downloads share a sync and none stalls
    /// the runtime. A straight-through sink only has its last bytes written.
    ///
    /// Refuses to publish (`permission denied`, the private file discarded) when the target's
    /// path no longer names the directory the data was written in: something was swapped in
    /// meanwhile.
    pub async fn commit(mut self) -> Result<u64, Fail> {
        self.flush()?;
        let written = self.written;
        let quota = self.quota.take();
        let place = match std::mem::replace(&mut self.place, Place::Gone) {
            Place::Own(publish) => publish,
            Place::Through(_) => return Ok(written),
            Place::Gone => return Err(Fail::new(FailReason::WriteFileFail)),
        };
        let (done, outcome) = tokio::sync::oneshot::channel();
        let job = PublishJob::new(place, std::mem::take(&mut self.shown), done);
        let writing = self.writing.take().unwrap_or_else(|| self.syncer.writing());
        self.syncer.submit(writing, Box::new(job));
        match outcome.await {
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

impl Drop for BodyFile {
    fn drop(&mut self) {
        match &self.place {
            Place::Own(Publish::Private { dir, private, .. }) => dir.discard(private),
            // What arrived is kept for the next try; a failed write only loses the tail.
            Place::Own(Publish::Partial { .. }) => {
                let _ = self.flush();
            }
            Place::Through(_) | Place::Gone => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::host_target::check_host_target;
    use std::path::Path;

    /// A writer for `target` with cap `max`, no quota and a client of its own.
    fn body_file(target: &Path, max: u64) -> BodyFile {
        BodyFile::create(
            check_host_target(target, &Default::default()).unwrap(),
            max,
            None,
            &Storage::default(),
        )
        .unwrap()
    }

    fn commit(p: BodyFile) -> Result<u64, Fail> {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(p.commit())
    }

    fn entries(dir: &Path) -> usize {
        std::fs::read_dir(dir).unwrap().count()
    }

    #[test]
    fn drop_discards_and_keeps_target() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("f");
        std::fs::write(&target, b"old").unwrap();
        let mut p = body_file(&target, 10);
        p.write(Bytes::from_static(b"new data")).unwrap();
        let over = p.write(Bytes::from_static(b"xxx")).unwrap_err();
        assert_eq!(over.reason, FailReason::ExceedMaxFileSize);
        drop(p);
        assert_eq!(entries(dir.path()), 1);
        assert_eq!(std::fs::read(&target).unwrap(), b"old");
    }

    #[test]
    fn mixed_write_sizes_keep_their_order() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("f");
        let mut p = body_file(&target, u64::MAX);
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

    /// Disk bytes a file holds (its blocks), whatever its length says.
    fn held(file: &File) -> u64 {
        use std::os::unix::fs::MetadataExt;
        file.metadata().unwrap().blocks() * 512
    }

    #[test]
    fn a_large_announced_body_has_its_space_reserved_and_a_small_one_not() {
        let dir = tempfile::tempdir().unwrap();
        let len = PREALLOCATE_FROM + 4096;
        let private = |p: &BodyFile| match &p.place {
            Place::Own(Publish::Private { private, .. }) => private.file.try_clone().unwrap(),
            _ => panic!("a private file"),
        };
        let small = body_file(&dir.path().join("small"), len);
        small.preallocate(PREALLOCATE_FROM - 1);
        assert_eq!(held(&private(&small)), 0, "a small body reserves nothing");

        let mut p = body_file(&dir.path().join("f"), len);
        let file = private(&p);
        p.preallocate(len);
        if held(&file) == 0 {
            eprintln!("skipped: this file system has no fallocate");
            return;
        }
        assert!(held(&file) >= len, "{} of {len}", held(&file));
        assert_eq!(
            file.metadata().unwrap().len(),
            0,
            "its length is the bytes written"
        );
        p.write(Bytes::from(vec![7u8; len as usize])).unwrap();
        assert_eq!(commit(p).unwrap(), len);
        let published = File::open(dir.path().join("f")).unwrap();
        assert_eq!(published.metadata().unwrap().len(), len);
        assert!(
            held(&published) < len + 1024 * 1024,
            "nothing held past the body"
        );

        // Past the body cap (a server announcing more than may be kept): nothing reserved.
        let capped = body_file(&dir.path().join("g"), PREALLOCATE_FROM);
        capped.preallocate(len);
        assert_eq!(held(&private(&capped)), 0);
    }

    #[test]
    fn commit_replaces_target_and_leaves_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("f");
        std::fs::write(&target, b"old").unwrap();
        let mut p = body_file(&target, 10);
        p.write(Bytes::from_static(b"new")).unwrap();
        assert_eq!(commit(p).unwrap(), 3);
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        assert_eq!(entries(dir.path()), 1);
    }

    #[test]
    fn a_symlink_target_is_followed_and_its_file_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::write(&real, b"old").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("real", &link).unwrap();
        let mut p = body_file(&link, 10);
        p.write(Bytes::from_static(b"new")).unwrap();
        commit(p).unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
    }

    #[test]
    fn a_device_is_written_straight_through() {
        let sink = check_host_target(Path::new("/dev/null"), &Default::default()).unwrap();
        assert!(matches!(sink, Sink::Through { .. }));
        let mut p = body_file(Path::new("/dev/null"), 100);
        p.write(Bytes::from_static(b"discarded")).unwrap();
        assert_eq!(commit(p).unwrap(), 9);
        let meta = std::fs::metadata("/dev/null").unwrap();
        assert!(std::os::unix::fs::FileTypeExt::is_char_device(
            &meta.file_type()
        ));
    }
}
