//! The parts one client owns and every download of it shares: sandbox, connection pool and
//! connectors, queue, URL policy, network-quality estimator, storage bookkeeping, identity headers.
//! Plain data assembled by `client`; the download policies read it. Imports no policy module.
//!
//! Imports the parts it holds; never a policy or the download.

use std::sync::Arc;

use http::HeaderValue;

use crate::net::policy::{Api, Policy};
use crate::quality::altsvc::AltSvc;
use crate::quality::nqe::Estimator;
use crate::queue::Queue;
use crate::store::dir_pins::DirPins;
use crate::store::sandbox::Sandbox;
use crate::store::storage::Storage;
#[cfg(feature = "http3")]
use crate::transport::QuicConnector;
use crate::transport::{Connector, Pool};

/// Commits that may wait for their sync round per download slot.
pub(crate) const COMMITS_PER_SLOT: usize = 2;
/// Commits that may wait for their sync round whatever the concurrency: when a sync round
/// is slow (a disk busy with others' writes), a small batch's files still gather into large
/// rounds instead of holding the next downloads back.
pub(crate) const MIN_COMMITS: usize = 64;

/// How many commits may wait for their sync round at once with `concurrency` download slots:
/// [`COMMITS_PER_SLOT`] each, and at least [`MIN_COMMITS`] where a quarter of the process's
/// descriptor limit allows (each waiting file holds one).
pub(crate) fn commit_slots(concurrency: usize) -> usize {
    let per_slot = concurrency.max(1) * COMMITS_PER_SLOT;
    let spare = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .map_or(MIN_COMMITS, |n| {
            usize::try_from(n / 4).unwrap_or(MIN_COMMITS)
        });
    per_slot.max(MIN_COMMITS.min(spare))
}

/// Everything a client's downloads share. Behind an `Arc` in [`Client`](crate::Client).
#[derive(Debug)]
pub(crate) struct Engine {
    pub sandbox: Sandbox,
    pub pool: Pool,
    pub connector: Connector,
    #[cfg(feature = "http3")]
    pub quic: QuicConnector,
    pub alt_svc: AltSvc,
    /// The downloads' queue.
    pub queue: Arc<Queue>,
    /// The requests' queue (the downloads' own with a shared concurrency scope).
    pub request_queue: Arc<Queue>,
    /// The uploads' queue (the downloads' own with a shared concurrency scope).
    pub upload_queue: Arc<Queue>,
    pub policy: Policy,
    pub estimator: Estimator,
    pub storage: Storage,
    pub user_agent: HeaderValue,
    pub referer: HeaderValue,
    /// Commits (fsync and rename) waiting or running after their download gave its slot
    /// back ([`commit_slots`]), so a batch's files share sync rounds while the descriptors
    /// they hold stay bounded.
    pub commits: tokio::sync::Semaphore,
    /// **\[beyond\]** The host directories (`-o`, `-d`) downloads write into now, opened once
    /// for a batch into one directory.
    pub host_dirs: DirPins,
}

impl Engine {
    /// The queue calls of `api` wait in.
    pub fn queue_of(&self, api: Api) -> &Arc<Queue> {
        match api {
            Api::Download => &self.queue,
            Api::Request => &self.request_queue,
            Api::Upload => &self.upload_queue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_slots_grow_with_concurrency_and_stay_within_the_descriptor_limit() {
        assert_eq!(commit_slots(100), 200);
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
        let small = commit_slots(1);
        assert!((COMMITS_PER_SLOT..=MIN_COMMITS).contains(&small));
        if let Some(n) = limit {
            assert!(small as u64 <= (n / 4).max(COMMITS_PER_SLOT as u64));
        }
    }
}
