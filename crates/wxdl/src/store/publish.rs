//! A finished body's way into place, as a job for the client's committer (`durability`): once
//! its data is durable, check that the target's directory is still where its path says, then
//! rename the private file over the target; a private file that cannot be published is
//! discarded, a partial one stays for the next run.
//!
//! Imports `durability`, `pinned`, `partial` and `error`.

use std::ffi::OsString;
use std::fs::File;

use crate::error::{storage_io, Fail, FailReason};
use crate::store::durability::Durable;
use crate::store::partial::Partial;
use crate::store::pinned::{PinnedDir, Private};

/// A download's own file, and how it goes into place once finished.
#[derive(Debug)]
pub(crate) enum Publish {
    /// A private file in the target's pinned directory, published over `name`; discarded if
    /// it cannot be.
    Private {
        dir: PinnedDir,
        private: Private,
        name: OsString,
    },
    /// A resumable partial file, published over `name` in `dir`; kept on failure (whole, as
    /// a partial).
    Partial {
        dir: PinnedDir,
        /// Boxed: its record makes it several times the size of the other variant.
        partial: Box<Partial>,
        name: OsString,
    },
}

/// A commit in the committer's hands: publishes once synced and reports how it went.
pub(crate) struct PublishJob {
    place: Publish,
    shown: String,
    done: tokio::sync::oneshot::Sender<Result<(), Fail>>,
}

impl Publish {
    /// The file the body is written to.
    pub fn file(&self) -> &File {
        match self {
            Publish::Private { private, .. } => &private.file,
            Publish::Partial { partial, .. } => &partial.private.file,
        }
    }
}

impl PublishJob {
    /// A job for `place`, reporting on `done`; `shown` names the target in messages.
    pub fn new(
        place: Publish,
        shown: String,
        done: tokio::sync::oneshot::Sender<Result<(), Fail>>,
    ) -> PublishJob {
        PublishJob { place, shown, done }
    }
}

impl Durable for PublishJob {
    fn file(&self) -> &File {
        self.place.file()
    }

    fn device(&self) -> std::io::Result<u64> {
        // The directory the file lives in was looked at when it was opened: no stat per file.
        Ok(match &self.place {
            Publish::Private { dir, .. } => dir.id().0,
            Publish::Partial { partial, .. } => partial.home.id().0,
        })
    }

    fn synced(self: Box<Self>, result: std::io::Result<()>) {
        let PublishJob { place, shown, done } = *self;
        let synced = result.map_err(|e| storage_io(e, &shown));
        let outcome = match &place {
            Publish::Private { dir, private, name } => {
                let r = synced.and_then(|()| publish(dir, dir, private, name, &shown));
                if r.is_err() {
                    dir.discard(private);
                }
                r
            }
            Publish::Partial { dir, partial, name } => {
                let r = synced
                    .and_then(|()| publish(dir, &partial.home, &partial.private, name, &shown));
                if r.is_ok() {
                    partial.published();
                }
                r
            }
        };
        let _ = done.send(outcome);
    }
}

/// Checks that `dir` is still where its path says and puts the private file (living in
/// `home`, its data durable) over `name` there.
fn publish(
    dir: &PinnedDir,
    home: &PinnedDir,
    private: &Private,
    name: &OsString,
    shown: &str,
) -> Result<(), Fail> {
    match dir.is_at(dir.path()) {
        Ok(true) => {}
        Ok(false) => {
            return Err(Fail::with(
                FailReason::PermissionDenied,
                format_args!("{shown}: its directory was replaced during the download"),
            ))
        }
        Err(e) => return Err(storage_io(e, shown)),
    }
    dir.publish_from(home, private, name)
        .map_err(|e| storage_io(e, shown))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    /// The committer groups a round's files by device (one `syncfs` each): a job must name the
    /// device its file is really on, or a file on another file system is never synced.
    #[test]
    fn a_job_names_the_device_its_file_is_on() {
        let base = tempfile::tempdir().unwrap();
        let dir = PinnedDir::open(base.path()).unwrap();
        let private = dir.create_private().unwrap();
        let dev = private.file.metadata().unwrap().dev();
        assert_eq!(dev, std::fs::metadata(base.path()).unwrap().dev());
        let (done, _report) = tokio::sync::oneshot::channel();
        let place = Publish::Private {
            dir,
            private,
            name: "f".into(),
        };
        let job = PublishJob::new(place, "f".into(), done);
        assert_eq!(job.device().unwrap(), dev);
    }
}
