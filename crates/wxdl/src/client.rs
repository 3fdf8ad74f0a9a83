//! The client: owns the sandbox, trust store, pool and queues; starts downloads and requests.
//!
//! Imports the parts it assembles and `download`; nothing imports it but the crate root.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http::HeaderValue;

use crate::download::Request;
use crate::engine::Engine;
use crate::error::{Fail, FailReason};
use crate::events::Tracer;
use crate::events::UploadProgress;
use crate::net::policy::Api;
use crate::net::policy::Policy;
use crate::options::DownloadOptions;
use crate::quality::altsvc::{AltSvc, AltSvcEntry};
use crate::quality::nqe::{Estimates, Estimator, EstimatorState};
use crate::quality::profile::Timeline;
use crate::queue::Queue;
use crate::request::exchange::Call;
use crate::request::{RequestOptions, RequestTask, Response};
use crate::store::sandbox::{Sandbox, DEFAULT_USR_QUOTA};
use crate::store::storage::Storage;
use crate::task::{DownloadTask, Task, TaskShared};
use crate::transport::bucket::Bucket;
use crate::transport::{
    CaError, Connector, Emulation, Link, Pool, QuicConnector, Resolver, Trust, QUIC_HANDSHAKE_BOUND,
};
use crate::upload::{progress_feed, UploadOptions, UploadTask, Uploaded};

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
        let quic = QuicConnector::new(Arc::clone(&tls), self.quic_handshake, link.clone());
        let user_agent = self.user_agent.unwrap_or_else(default_user_agent);
        let user_agent =
            HeaderValue::from_str(&user_agent).map_err(|_| BuildError::Header("user agent"))?;
        let referer = format!(
            "https://servicewechat.com/{}/{}/page-frame.html",
            self.appid, self.version
        );
        let referer =
            HeaderValue::from_str(&referer).map_err(|_| BuildError::Header("appid or version"))?;
        let bucket = self.rate_limit.map(|r| Arc::new(Bucket::new(r)));
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
                bucket: bucket.clone(),
                commits: tokio::sync::Semaphore::new(
                    self.concurrency.max(1) * crate::engine::COMMITS_PER_SLOT,
                ),
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

/// Downloads files the way `wx.downloadFile` does. Cheap to clone; clones share the sandbox,
/// connection pool and queue. Needs a tokio runtime.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use wxdl::{Client, DownloadOptions};
///
/// let client = Client::builder().sandbox_root("/tmp/wxdl-demo").build()?;
/// let ok = client
///     .download(DownloadOptions::new("https://example.com/audio/123"))
///     .await?;
/// println!("{} {}", ok.status_code, ok.temp_file_path.unwrap());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    pub(crate) inner: Arc<Engine>,
    home: Arc<Home>,
}

/// Where a client's downloads run when `download` is called outside any tokio runtime: the
/// runtime the client was built in, else a small one of its own, made on first need and shut
/// down when the last clone of the client goes.
#[derive(Debug)]
struct Home {
    built_in: Option<tokio::runtime::Handle>,
    own: OnceLock<Option<tokio::runtime::Runtime>>,
}

impl Home {
    /// The runtime to spawn a download on: the caller's, else the client's.
    fn handle(&self) -> Option<tokio::runtime::Handle> {
        if let Ok(current) = tokio::runtime::Handle::try_current() {
            return Some(current);
        }
        if let Some(h) = &self.built_in {
            return Some(h.clone());
        }
        let own = self.own.get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("wxdl")
                .enable_all()
                .build()
                .ok()
        });
        own.as_ref().map(|rt| rt.handle().clone())
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        if let Some(Some(rt)) = self.own.take() {
            rt.shutdown_background();
        }
    }
}

impl Client {
    /// A builder with every default.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// Starts a download and returns its task at once. Within a tokio runtime the download runs
    /// there; called from anywhere else, it runs on the runtime the client was built in, or on
    /// one the client starts for itself.
    pub fn download(&self, options: DownloadOptions) -> DownloadTask {
        let mut timeline = Timeline::start();
        timeline.trace = Tracer(options.on_trace.clone());
        // The place in line is taken now, so admission follows call order.
        let ticket = self.inner.queue.enqueue();
        timeline.queue_start = Some(timeline.invoked());
        let shared = TaskShared::new(
            options.on_progress_update.clone(),
            options.on_headers_received.clone(),
        );
        let request = Box::new(Request { options, timeline });
        let work = crate::download::task(
            Arc::clone(&self.inner),
            request,
            Arc::clone(&shared),
            ticket,
        );
        self.spawn(shared, work)
    }

    /// Starts a `wx.request` and returns its task at once (on the runtime a download would
    /// use). The method, headers and body go through the same pipeline downloads use; the
    /// strict policy checks the request domain list; the task waits in the requests' queue.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use wxdl::{request::RequestOptions, Client};
    ///
    /// let client = Client::builder().build()?;
    /// let res = client
    ///     .request(RequestOptions::new("https://api.example.com/items?page=2"))
    ///     .await?;
    /// println!("{} {} bytes", res.status_code, res.body.len());
    /// # Ok(()) }
    /// ```
    pub fn request(&self, options: RequestOptions) -> RequestTask {
        let shared = TaskShared::new(None, options.on_headers_received.clone());
        if let Some(f) = &options.on_chunk_received {
            shared.add_chunk(Arc::clone(f));
        }
        let call = options.validate().map(Box::new);
        self.start_call(Api::Request, call, options.on_trace.clone(), shared, |r| r)
    }

    /// Starts a `wx.uploadFile` and returns its task at once: the form fields, then the file
    /// (found through the sandbox, or a host path) streamed in bounded chunks as a
    /// `multipart/form-data` POST. A missing file fails with `no such file or directory`
    /// (1300002). The strict policy checks the upload domain list; the task waits in the
    /// uploads' queue.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use wxdl::{upload::UploadOptions, Client};
    ///
    /// let client = Client::builder().build()?;
    /// let done = client
    ///     .upload(UploadOptions::new("https://up.example.com/p", "wxfile://usr/a.jpg", "file"))
    ///     .await?;
    /// println!("{}", done.response.status_code);
    /// # Ok(()) }
    /// ```
    pub fn upload(&self, options: UploadOptions) -> UploadTask {
        let shared = TaskShared::new(None, options.headers_listener());
        if let Some(f) = options.progress_listener() {
            shared.add_progress(Arc::new(move |p| f(&UploadProgress::from(*p))));
        }
        let call = options.prepare(&self.inner.sandbox).map(|mut call| {
            call.sent = Some(progress_feed(&shared, call.payload.len()));
            Box::new(call)
        });
        self.start_call(
            Api::Upload,
            call,
            options.trace_listener(),
            shared,
            |response| Uploaded { response },
        )
    }

    /// Queues a checked call of `api` and spawns its exchange; `wrap` makes its result.
    fn start_call<T: Send + 'static>(
        &self,
        api: Api,
        call: Result<Box<Call>, Fail>,
        on_trace: Option<crate::events::TraceFn>,
        shared: Arc<TaskShared>,
        wrap: fn(Response) -> T,
    ) -> Task<T> {
        let mut timeline = Box::new(Timeline::start());
        timeline.trace = Tracer(on_trace);
        // The place in line is taken now, so admission follows call order.
        let ticket = self.inner.queue_of(api).enqueue();
        timeline.queue_start = Some(timeline.invoked());
        let work = crate::request::exchange::task(
            Arc::clone(&self.inner),
            api,
            call,
            timeline,
            Arc::clone(&shared),
            ticket,
        );
        self.spawn(shared, async move { work.await.map(wrap) })
    }

    /// Spawns a task's work on the runtime [`download`](Self::download) describes.
    fn spawn<T: Send + 'static>(
        &self,
        shared: Arc<TaskShared>,
        work: impl std::future::Future<Output = Result<T, Fail>> + Send + 'static,
    ) -> Task<T> {
        match self.home.handle() {
            Some(runtime) => Task::new(shared, runtime.spawn(work)),
            None => Task::failed(
                shared,
                Fail::with(
                    FailReason::WriteFileFail,
                    "no tokio runtime could be started",
                ),
            ),
        }
    }

    /// **\[beyond\]** The network an emulated link is now (`wifi`, `4g`, `3g`, `2g`, `none`,
    /// `unknown`), or `None` without emulation.
    pub fn network_type(&self) -> Option<&'static str> {
        self.inner
            .connector
            .link
            .as_ref()
            .map(|l| l.now().network_type)
    }

    /// What `wx.getNetworkType` answers: the emulated network's type, else the type the
    /// network-quality estimate says (`unknown` before any download).
    pub fn wx_network_type(&self) -> &'static str {
        self.network_type()
            .unwrap_or_else(|| self.network_quality().effective_type.wx_network_type())
    }

    /// **\[beyond\]** When the emulated network's type changes from now on (time from now,
    /// the new type), for `wx.onNetworkStatusChange`; empty without emulation.
    pub fn network_changes(&self) -> Vec<(Duration, &'static str)> {
        let now = std::time::Instant::now();
        self.inner
            .connector
            .link
            .as_ref()
            .map_or_else(Vec::new, |l| {
                l.changes_after(now)
                    .into_iter()
                    .map(|(at, kind)| (at.saturating_duration_since(now), kind))
                    .collect()
            })
    }

    /// The network-quality estimates from this client's downloads so far.
    pub fn network_quality(&self) -> Estimates {
        self.inner.estimator.estimates()
    }

    /// The estimator's observations, to persist and restore with
    /// [`ClientBuilder::estimator_state`].
    pub fn estimator_state(&self) -> EstimatorState {
        self.inner.estimator.state()
    }

    /// The HTTP/3 advertisements this client knows, to persist and restore with
    /// [`ClientBuilder::alt_svc_state`].
    pub fn alt_svc_state(&self) -> Vec<AltSvcEntry> {
        self.inner.alt_svc.entries()
    }

    /// The client's sandbox.
    pub fn sandbox(&self) -> &Sandbox {
        &self.inner.sandbox
    }
}
