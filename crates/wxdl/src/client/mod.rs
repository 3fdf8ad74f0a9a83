//! The client: owns the sandbox, trust store, pool and queues (built by `builder`); starts
//! downloads, requests and uploads.
//!
//! Imports the parts it assembles and `download`, `request`, `upload`; nothing imports it but
//! the crate root.

mod builder;

pub use builder::{
    default_user_agent, BuildError, ClientBuilder, ConcurrencyScope, DEFAULT_CONCURRENCY,
};

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::download::Request;
use crate::engine::Engine;
use crate::error::{Fail, FailReason};
use crate::events::{Tracer, UploadProgress};
use crate::net::policy::Api;
use crate::options::DownloadOptions;
use crate::quality::altsvc::AltSvcEntry;
use crate::quality::nqe::{Estimates, EstimatorState};
use crate::quality::profile::Timeline;
use crate::request::exchange::Call;
use crate::request::{RequestOptions, RequestTask, Response};
use crate::store::sandbox::Sandbox;
use crate::task::{DownloadTask, Task, TaskShared};
use crate::upload::{progress_feed, UploadOptions, UploadTask, Uploaded};

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
