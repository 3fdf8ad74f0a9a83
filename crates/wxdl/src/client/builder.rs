//! Client configuration: the builder with every setting a client has (sandbox, trust,
//! policy, concurrency and its scope, identity, resolver, saved estimator and Alt-Svc state,
//! QUIC bound, rate limit, emulation), and the build that assembles the shared engine.
//!
//! Imports the parts it assembles; only `client` imports it.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http::HeaderValue;

use super::{Client, Home};
use crate::engine::Engine;
use crate::net::policy::Policy;
use crate::quality::altsvc::{AltSvc, AltSvcEntry};
use crate::quality::nqe::{Estimator, EstimatorState};
use crate::queue::Queue;
use crate::store::sandbox::{Sandbox, DEFAULT_USR_QUOTA};
use crate::store::storage::Storage;
use crate::transport::bucket::Bucket;
#[cfg(feature = "http3")]
use crate::transport::QuicConnector;
use crate::transport::{
    CaError, Connector, Emulation, Link, Pool, Resolver, Trust, QUIC_HANDSHAKE_BOUND,
};

/// Default number of downloads (and of requests, and of uploads) that run at once per client.
pub const DEFAULT_CONCURRENCY: usize = 10;

/// Whether downloads, requests and uploads each have their own concurrency limit or share one
/// (WeChat documents a limit of 10 for the three; readers disagree whether it is shared).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ConcurrencyScope {
    /// A queue of [`concurrency`](ClientBuilder::concurrency) slots per API (default).
    #[default]
    PerApi,
    /// One queue of that many slots for the three APIs together.
    Shared,
}

/// Why a [`Client`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The sandbox root could not be created or opened.
    #[error("sandbox root {path}: {source}")]
    Sandbox {
        /// The root that was asked for.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// An extra CA certificate was invalid.
    #[error("TLS: {0}")]
    Tls(#[from] CaError),
    /// A header value (user agent, appid, version) was not a valid header value.
    #[error("invalid {0}: not a valid header value")]
    Header(&'static str),
    /// Accepting invalid certificates was asked for together with a strict policy.
    #[error("accepting invalid certificates is refused under the strict policy")]
    InsecureUnderPolicy,
}

/// Configures and builds a [`Client`].
#[derive(Debug, Clone)]
#[must_use]
pub struct ClientBuilder {
    root: Option<PathBuf>,
    ca_pems: Vec<Vec<u8>>,
    platform_roots: bool,
    insecure: bool,
    policy: Policy,
    concurrency: usize,
    scope: ConcurrencyScope,
    user_agent: Option<String>,
    appid: String,
    version: String,
    usr_quota: u64,
    resolver: Resolver,
    estimator: Option<EstimatorState>,
    alt_svc: Vec<AltSvcEntry>,
    #[cfg_attr(not(feature = "http3"), allow(dead_code))]
    quic_handshake: Duration,
    rate_limit: Option<u64>,
    network: Option<Emulation>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            root: None,
            ca_pems: Vec::new(),
            platform_roots: true,
            insecure: false,
            policy: Policy::Off,
            concurrency: DEFAULT_CONCURRENCY,
            scope: ConcurrencyScope::PerApi,
            user_agent: None,
            appid: "touristappid".into(),
            version: "devtools".into(),
            usr_quota: DEFAULT_USR_QUOTA,
            resolver: Resolver::default(),
            estimator: None,
            alt_svc: Vec::new(),
            quic_handshake: QUIC_HANDSHAKE_BOUND,
            rate_limit: None,
            network: None,
        }
    }
}

impl ClientBuilder {
    /// The sandbox root directory (default: `wxdl` under the system temp dir).
    pub fn sandbox_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.root = Some(root.into());
        self
    }

    /// Trusts the CA certificates in a PEM file's contents, besides the platform roots.
    ///
    /// A certificate listed here that a server presents as its own (a self-signed certificate,
    /// even one flagged `CA:TRUE` as `openssl req -x509` makes them) is accepted when it names
    /// the host and is in date, as curl's `--cacert` accepts it.
    pub fn add_root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pems.push(pem.into());
        self
    }

    /// Whether to load the platform's root certificates (default true).
    pub fn platform_roots(mut self, on: bool) -> Self {
        self.platform_roots = on;
        self
    }

    /// **Dangerous** (curl's `-k`): accepts any server certificate — expired, self-signed,
    /// issued for another host — while still checking that the server holds its key. Anyone on
    /// the path can then read and change the downloads; prefer
    /// [`add_root_certificate_pem`](Self::add_root_certificate_pem). Refused (a build error)
    /// together with a strict [`Policy`], which checks every certificate as WeChat does.
    pub fn danger_accept_invalid_certs(mut self, on: bool) -> Self {
        self.insecure = on;
        self
    }

    /// The URL policy (default [`Policy::Off`]).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// How many downloads run at once; more wait in FIFO order (default 10, at least 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Whether downloads, requests and uploads each get [`concurrency`](Self::concurrency)
    /// slots (default) or share them; the profile's `queueStart`/`queueEnd` show the wait
    /// either way.
    pub fn concurrency_scope(mut self, scope: ConcurrencyScope) -> Self {
        self.scope = scope;
        self
    }

    /// Replaces the default User-Agent (a caller's `User-Agent` header still wins).
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = Some(ua.into());
        self
    }

    /// The Mini Program appid used in `Referer` (default `touristappid`).
    pub fn appid(mut self, appid: impl Into<String>) -> Self {
        self.appid = appid.into();
        self
    }

    /// The Mini Program version used in `Referer` (default `devtools`).
    pub fn app_version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// The size limit of `wxfile://usr` in bytes (default 200 MiB).
    pub fn usr_quota(mut self, bytes: u64) -> Self {
        self.usr_quota = bytes;
        self
    }

    /// Makes `host:port` connect to `addr` instead of resolving it (curl's `--resolve`).
    pub fn resolve(mut self, host: &str, port: u16, addr: IpAddr) -> Self {
        self.resolver.add(host, port, addr);
        self
    }

    /// Replaces the resolver.
    pub fn resolver(mut self, resolver: Resolver) -> Self {
        self.resolver = resolver;
        self
    }

    /// Starts the network-quality estimator from persisted observations.
    pub fn estimator_state(mut self, state: EstimatorState) -> Self {
        self.estimator = Some(state);
        self
    }

    /// Starts with HTTP/3 advertisements learned earlier (see [`Client::alt_svc_state`]).
    pub fn alt_svc_state(mut self, entries: Vec<AltSvcEntry>) -> Self {
        self.alt_svc = entries;
        self
    }

    /// How long a QUIC handshake may take before the download falls back to TCP (default
    /// 1 s).
    pub fn quic_handshake_timeout(mut self, bound: Duration) -> Self {
        self.quic_handshake = bound;
        self
    }

    /// **\[beyond\]** At most this many body bytes per second for all of this client's
    /// downloads together (a token bucket they share: a batch's bandwidth, as aria2's
    /// `--max-overall-download-limit`). A download's own
    /// [`rate_limit`](crate::DownloadOptions::rate_limit) applies too.
    pub fn rate_limit(mut self, bytes_per_second: u64) -> Self {
        self.rate_limit = Some(bytes_per_second);
        self
    }

    /// **\[beyond\]** Emulates a network under every connection of this client: bandwidth,
    /// round trip, jitter, loss, offline, changing over time (see [`Emulation`]). The profile,
    /// the estimator and [`Client::network_type`] see it as they would a real network.
    ///
    /// ```
    /// use wxdl::{Client, transport::{Emulation, NetworkConditions}};
    ///
    /// let slow = NetworkConditions::preset("3g").unwrap();
    /// let builder = Client::builder().network(Emulation::new(slow).seed(7));
    /// # let _ = builder;
    /// ```
    pub fn network(mut self, emulation: Emulation) -> Self {
        self.network = Some(emulation);
        self
    }

    /// Builds the client: opens the sandbox and parses the extra CA certificates (the platform
    /// roots are loaded on the first HTTPS connection).
    pub fn build(self) -> Result<Client, BuildError> {
        let root = self
            .root
            .unwrap_or_else(|| std::env::temp_dir().join("wxdl"));
        let sandbox = Sandbox::open(&root, self.usr_quota)
            .map_err(|source| BuildError::Sandbox { path: root, source })?;
        if self.insecure && !matches!(self.policy, Policy::Off) {
            return Err(BuildError::InsecureUnderPolicy);
        }
        let tls = Arc::new(Trust::new(&self.ca_pems, self.platform_roots)?.insecure(self.insecure));
        let link = self.network.map(|e| Arc::new(Link::new(e)));
        let bucket = self.rate_limit.map(|r| Arc::new(Bucket::new(r)));
        #[cfg(feature = "http3")]
        let quic = QuicConnector::new(
            Arc::clone(&tls),
            self.quic_handshake,
            link.clone(),
            bucket.clone(),
        );
        let user_agent = self.user_agent.unwrap_or_else(default_user_agent);
        let user_agent =
            HeaderValue::from_str(&user_agent).map_err(|_| BuildError::Header("user agent"))?;
        let referer = format!(
            "https://servicewechat.com/{}/{}/page-frame.html",
            self.appid, self.version
        );
        let referer =
            HeaderValue::from_str(&referer).map_err(|_| BuildError::Header("appid or version"))?;
        let queue = Queue::new(self.concurrency);
        let own_queue = || match self.scope {
            ConcurrencyScope::PerApi => Queue::new(self.concurrency),
            ConcurrencyScope::Shared => Arc::clone(&queue),
        };
        let (request_queue, upload_queue) = (own_queue(), own_queue());
        Ok(Client {
            home: Arc::new(Home {
                built_in: tokio::runtime::Handle::try_current().ok(),
                own: OnceLock::new(),
            }),
            inner: Arc::new(Engine {
                sandbox,
                pool: Pool::default(),
                #[cfg(feature = "http3")]
                quic,
                alt_svc: AltSvc::from_entries(&self.alt_svc),
                connector: Connector {
                    resolver: self.resolver,
                    tls,
                    link: link.clone(),
                    bucket: bucket.clone(),
                },
                queue,
                request_queue,
                upload_queue,
                policy: self.policy,
                estimator: self
                    .estimator
                    .as_ref()
                    .map(Estimator::from_state)
                    .unwrap_or_default(),
                storage: Storage::default(),
                user_agent,
                referer,
                commits: tokio::sync::Semaphore::new(crate::engine::commit_slots(self.concurrency)),
                host_dirs: Default::default(),
            }),
        })
    }
}

/// The default User-Agent: a Mini Program environment, and wxdl with its version.
pub fn default_user_agent() -> String {
    format!(
        "Mozilla/5.0 ({os}; {arch}) AppleWebKit/537.36 (KHTML, like Gecko) MicroMessenger/8.0.50 \
         MiniProgramEnv/{os} wxdl/{ver}",
        os = std::env::consts::OS,
        arch = std::env::consts::ARCH,
        ver = env!("CARGO_PKG_VERSION"),
    )
}
