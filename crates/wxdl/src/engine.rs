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
use crate::store::sandbox::Sandbox;
use crate::store::storage::Storage;
#[cfg(feature = "http3")]
use crate::transport::QuicConnector;
use crate::transport::{Connector, Pool};

/// Commits that may wait for their sync round per download slot.
pub(crate) const COMMITS_PER_SLOT: usize = 2;

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
    /// back: [`COMMITS_PER_SLOT`] per concurrency slot, so a batch's files share sync rounds
    /// while the descriptors they hold stay bounded.
    pub commits: tokio::sync::Semaphore,
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
