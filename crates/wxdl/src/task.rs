//! The task every API returns (contract §2–3): abort, progress, headers and chunk events, and
//! the awaitable outcome. One generic [`Task`] over the result type: a download's
//! [`Success`], a request's or upload's response.
//!
//! Imports `events`, `profile`, `queue` and `error`; never the work it reports on.

use std::future::{Future, IntoFuture};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::{Fail, FailReason, Phase};
use crate::events::{Event, Header, HeadersFn, HeadersReceived, Progress, ProgressFn};
use crate::net::headers::headers_event;
use crate::quality::profile::{Hop, Profile};
use crate::queue::{Permit, Ticket};

/// A finished download: any HTTP status the server answered with.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Success {
    /// The HTTP status of the final response (404 and 500 included).
    pub status_code: u16,
    /// `wxfile://tmp_…` when no `filePath` was given.
    pub temp_file_path: Option<String>,
    /// The `filePath` that was given, echoed.
    pub file_path: Option<String>,
    /// Where the file is on the host.
    pub saved_path: PathBuf,
    /// Final response headers.
    pub header: Header,
    /// Body bytes written.
    pub data_length: u64,
    /// **\[beyond\]** Bytes of the file an earlier, interrupted run had kept (`resume`) and
    /// that were not fetched again; 0 when nothing was continued.
    pub resumed_from: u64,
    /// **\[beyond\]** The target was left as it was: a `304` to the caller's own conditional
    /// request, or a `204` over an existing file without
    /// [`save_empty`](crate::DownloadOptions::save_empty). `dataLength` is then 0.
    pub unchanged: bool,
    /// The timing waterfall and connection facts, when enabled.
    pub profile: Option<Profile>,
    /// **\[beyond\]** Every request of this download, redirects first (for HAR export).
    pub hops: Vec<Hop>,
}

/// What a task ends with.
pub type Outcome = Result<Success, Fail>;

/// Identifies a registered listener, for the `off…` methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenerId(u64);

/// A body-chunk listener (`onChunkReceived`).
pub type ChunkFn = Arc<dyn Fn(&Bytes) + Send + Sync>;

#[derive(Default)]
struct Listeners {
    next: u64,
    progress: Vec<(u64, ProgressFn)>,
    headers: Vec<(u64, HeadersFn)>,
    chunks: Vec<(u64, ChunkFn)>,
    streams: Vec<mpsc::UnboundedSender<Event>>,
    /// What a stream opened late starts with, so it misses nothing that matters: the headers
    /// event once it happened, and the latest progress (progress is cumulative).
    seen_headers: Option<SeenHead>,
    seen_progress: Option<Progress>,
}

/// The final response's head as it came (its values shared with the response, not copied),
/// for the headers event of a stream opened later: the event itself is built only for a
/// listener or a stream.
struct SeenHead {
    status: u16,
    head: http::HeaderMap,
}

impl SeenHead {
    fn event(&self) -> HeadersReceived {
        headers_event(self.status, &self.head)
    }
}

/// How a task is stopped from outside: aborted by its caller (`abort`), or interrupted by its
/// host (`interrupted`: the Mini Program stayed in the background).
#[derive(Debug, Default)]
pub(crate) struct Stop {
    token: CancellationToken,
    interrupted: AtomicBool,
}

impl Stop {
    fn abort(&self) {
        self.token.cancel();
    }

    fn interrupt(&self) {
        self.interrupted.store(true, Ordering::Release);
        self.token.cancel();
    }

    /// Completes when the task is stopped, with the failure it ends with.
    pub async fn stopped(&self) -> Fail {
        self.token.cancelled().await;
        self.failure()
    }

    /// Runs `work` once `ticket` is admitted, under this stop signal and the whole-call
    /// `deadline` (the call's `timeout`, counted from its invocation: queued time included).
    pub async fn bound<T, F>(
        &self,
        deadline: std::time::Instant,
        timeout: std::time::Duration,
        ticket: Ticket,
        work: impl FnOnce(Permit) -> F,
    ) -> Result<T, Fail>
    where
        F: Future<Output = Result<T, Fail>>,
    {
        let timeout_ms = timeout.as_millis();
        tokio::select! {
            biased;
            fail = self.stopped() => Err(fail),
            _ = tokio::time::sleep_until(deadline.into()) => {
                Err(Fail::with(FailReason::Timeout, format_args!("{timeout_ms} ms")))
            }
            r = async {
                let permit = ticket.admitted().await.ok_or_else(|| {
                    Fail::with(FailReason::Abort, "client closed").in_phase(Phase::Queue)
                })?;
                work(permit).await
            } => r,
        }
    }

    /// The failure the task ends with if it was stopped already, without waiting.
    pub fn stopped_now(&self) -> Option<Fail> {
        self.token.is_cancelled().then(|| self.failure())
    }

    fn failure(&self) -> Fail {
        if self.interrupted.load(Ordering::Acquire) {
            Fail::new(FailReason::Interrupted)
        } else {
            Fail::new(FailReason::Abort)
        }
    }
}

/// State shared by the task handle and the running download.
pub(crate) struct TaskShared {
    listeners: Mutex<Listeners>,
    pub stop: Arc<Stop>,
    ended: AtomicBool,
}

impl TaskShared {
    pub fn new(progress: Option<ProgressFn>, headers: Option<HeadersFn>) -> Arc<TaskShared> {
        let mut l = Listeners::default();
        if let Some(f) = progress {
            l.progress.push((l.next, f));
            l.next += 1;
        }
        if let Some(f) = headers {
            l.headers.push((l.next, f));
            l.next += 1;
        }
        Arc::new(TaskShared {
            listeners: Mutex::new(l),
            stop: Arc::default(),
            ended: AtomicBool::new(false),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Listeners> {
        crate::error::lock(&self.listeners)
    }

    /// Calls progress listeners (outside the lock, so they may register or remove listeners).
    pub fn emit_progress(&self, p: Progress) {
        let fns = {
            let mut l = self.lock();
            l.seen_progress = Some(p);
            l.streams.retain(|s| s.send(Event::Progress(p)).is_ok());
            l.progress
                .iter()
                .map(|(_, f)| f.clone())
                .collect::<Vec<_>>()
        };
        for f in fns {
            f(&p);
        }
    }

    /// Adds `f` to the list `pick` chooses (unless the task ended) under a new id.
    fn register<F>(&self, pick: fn(&mut Listeners) -> &mut Vec<(u64, F)>, f: F) -> ListenerId {
        let mut l = self.lock();
        let id = l.next;
        l.next += 1;
        if !self.is_ended() {
            pick(&mut l).push((id, f));
        }
        ListenerId(id)
    }

    /// Removes listener `id` from the list `pick` chooses, or all of them with `None`.
    fn unregister<F>(
        &self,
        pick: fn(&mut Listeners) -> &mut Vec<(u64, F)>,
        id: Option<ListenerId>,
    ) {
        let mut l = self.lock();
        let list = pick(&mut l);
        match id {
            Some(ListenerId(id)) => list.retain(|(i, _)| *i != id),
            None => list.clear(),
        }
    }

    /// Registers a progress listener (before the task starts, or from its handle).
    pub fn add_progress(&self, f: ProgressFn) -> ListenerId {
        self.register(|l| &mut l.progress, f)
    }

    /// Removes one progress listener, or all with `None`.
    pub fn remove_progress(&self, id: Option<ListenerId>) {
        self.unregister(|l| &mut l.progress, id);
    }

    /// Whether a chunk listener is registered (chunks are copied out only then).
    pub fn wants_chunks(&self) -> bool {
        !self.lock().chunks.is_empty()
    }

    /// Calls chunk listeners with one body chunk.
    pub fn emit_chunk(&self, chunk: &Bytes) {
        let fns = {
            let l = self.lock();
            l.chunks.iter().map(|(_, f)| f.clone()).collect::<Vec<_>>()
        };
        for f in fns {
            f(chunk);
        }
    }

    /// Registers a chunk listener (before the task starts, or from its handle).
    pub fn add_chunk(&self, f: ChunkFn) -> ListenerId {
        self.register(|l| &mut l.chunks, f)
    }

    /// Removes one chunk listener, or all with `None`.
    pub fn remove_chunk(&self, id: Option<ListenerId>) {
        self.unregister(|l| &mut l.chunks, id);
    }

    /// Calls headers listeners.
    pub fn emit_headers(&self, status: u16, head: &http::HeaderMap) {
        let (fns, h) = {
            let mut l = self.lock();
            l.seen_headers = Some(SeenHead {
                status,
                head: head.clone(),
            });
            if l.headers.is_empty() && l.streams.is_empty() {
                return;
            }
            let h = headers_event(status, head);
            l.streams
                .retain(|s| s.send(Event::HeadersReceived(h.clone())).is_ok());
            let fns = l.headers.iter().map(|(_, f)| f.clone()).collect::<Vec<_>>();
            (fns, h)
        };
        for f in fns {
            f(&h);
        }
    }

    /// Marks the task ended: listeners are dropped and event streams end.
    pub fn finish(&self) {
        self.ended.store(true, Ordering::Release);
        let mut l = self.lock();
        l.progress.clear();
        l.headers.clear();
        l.chunks.clear();
        l.streams.clear();
    }

    fn is_ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }
}

/// A running download, returned at once by [`Client::download`](crate::Client::download).
pub type DownloadTask = Task<Success>;

/// A running task, returned at once by [`Client::download`](crate::Client::download) (a
/// [`DownloadTask`]) and [`Client::request`](crate::Client::request) (a
/// [`RequestTask`](crate::request::RequestTask)).
///
/// Await it (it is [`IntoFuture`]) for its outcome. Dropping the handle does not cancel the
/// work, as in WeChat; call [`abort`](Task::abort) for that. Listeners registered
/// here see the events emitted after they were added; to miss none, register them on the
/// [`DownloadOptions`](crate::DownloadOptions) instead.
///
/// ```no_run
/// # async fn demo() {
/// use wxdl::{Client, DownloadOptions};
///
/// let client = Client::builder().build().unwrap();
/// let task = client.download(DownloadOptions::new("https://example.com/a.mp3"));
/// task.on_progress_update(|p| eprintln!("{}%", p.progress));
/// match task.await {
///     Ok(ok) => println!("{} -> {:?}", ok.status_code, ok.temp_file_path),
///     Err(fail) => eprintln!("{} ({})", fail.message(), fail.errno()),
/// }
/// # }
/// ```
pub struct Task<T> {
    pub(crate) shared: Arc<TaskShared>,
    handle: TaskFuture<T>,
}

impl<T> std::fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Task")
            .field("ended", &self.shared.is_ended())
            .finish_non_exhaustive()
    }
}

impl<T> Task<T> {
    pub(crate) fn new(shared: Arc<TaskShared>, handle: JoinHandle<Result<T, Fail>>) -> Task<T> {
        Task {
            shared,
            handle: TaskFuture(Running::Spawned(handle)),
        }
    }

    /// A task that could not start: it ends at once with `fail`.
    pub(crate) fn failed(shared: Arc<TaskShared>, fail: Fail) -> Task<T> {
        shared.finish();
        Task {
            shared,
            handle: TaskFuture(Running::Ended(Some(fail))),
        }
    }

    /// Cancels the task at whatever phase it is in; it fails with `abort` and no partial
    /// data is left. Does nothing once the task has ended.
    pub fn abort(&self) {
        self.shared.stop.abort();
    }

    /// A cloneable handle that can abort this task from elsewhere.
    pub fn abort_handle(&self) -> AbortHandle {
        AbortHandle(Arc::clone(&self.shared.stop))
    }

    /// Whether the task has ended (success or fail).
    pub fn is_finished(&self) -> bool {
        self.shared.is_ended()
    }

    /// Registers a headers-received listener.
    pub fn on_headers_received(
        &self,
        f: impl Fn(&HeadersReceived) + Send + Sync + 'static,
    ) -> ListenerId {
        self.shared
            .register(|l| &mut l.headers, Arc::new(f) as HeadersFn)
    }

    /// Removes one headers listener, or all with `None`.
    pub fn off_headers_received(&self, id: Option<ListenerId>) {
        self.shared.unregister(|l| &mut l.headers, id);
    }

    /// The task's events as a stream that ends when the task ends. A stream opened after the
    /// task started misses nothing that matters: it begins with the headers event if it already
    /// happened and the latest progress, then continues live.
    pub fn events(&self) -> EventStream {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut l = self.shared.lock();
        if let Some(h) = &l.seen_headers {
            let _ = tx.send(Event::HeadersReceived(h.event()));
        }
        if let Some(p) = l.seen_progress {
            let _ = tx.send(Event::Progress(p));
        }
        if !self.shared.is_ended() {
            l.streams.push(tx);
        }
        EventStream(rx)
    }
}

impl Task<Success> {
    /// Registers a progress listener.
    pub fn on_progress_update(&self, f: impl Fn(&Progress) + Send + Sync + 'static) -> ListenerId {
        self.shared.add_progress(Arc::new(f))
    }

    /// Removes one progress listener, or all with `None`.
    pub fn off_progress_update(&self, id: Option<ListenerId>) {
        self.shared.remove_progress(id);
    }
}

impl<T> IntoFuture for Task<T> {
    type Output = Result<T, Fail>;
    type IntoFuture = TaskFuture<T>;

    fn into_future(self) -> TaskFuture<T> {
        self.handle
    }
}

/// The future of a task's outcome (a download's [`Outcome`] by default).
///
/// # Panics
///
/// If the download task panicked (a bug in wxdl, never an outcome), awaiting resumes that
/// panic in the caller, as awaiting a tokio `JoinHandle` and unwrapping would.
#[derive(Debug)]
pub struct TaskFuture<T = Success>(Running<T>);

#[derive(Debug)]
enum Running<T> {
    Spawned(JoinHandle<Result<T, Fail>>),
    /// Ended before it could start; the failure until it is taken.
    Ended(Option<Fail>),
}

impl<T> Future for TaskFuture<T> {
    type Output = Result<T, Fail>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, Fail>> {
        match &mut self.0 {
            Running::Spawned(handle) => Pin::new(handle).poll(cx).map(|r| match r {
                Ok(outcome) => outcome,
                Err(e) if e.is_cancelled() => {
                    Err(Fail::with(FailReason::Abort, "runtime shut down"))
                }
                // A panic is a bug in wxdl, not a row of the failure table: it reaches the
                // awaiting caller as the panic it is (as tokio's JoinHandle would hand it over).
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }),
            Running::Ended(fail) => Poll::Ready(Err(fail
                .take()
                .unwrap_or_else(|| Fail::with(FailReason::WriteFileFail, "polled after its end")))),
        }
    }
}

/// Aborts a task from anywhere; cheap to clone.
#[derive(Debug, Clone)]
pub struct AbortHandle(Arc<Stop>);

impl AbortHandle {
    /// Same as [`DownloadTask::abort`].
    pub fn abort(&self) {
        self.0.abort();
    }

    /// Stops the task as WeChat's client does a download still running 5 s after the Mini
    /// Program went to the background: it fails with `interrupted` (600003), no partial data
    /// left. For hosts that model the app lifecycle.
    pub fn interrupt(&self) {
        self.0.interrupt();
    }
}

/// A task's events; ends when the task ends.
#[derive(Debug)]
pub struct EventStream(mpsc::UnboundedReceiver<Event>);

impl EventStream {
    /// The next event, or `None` once the task has ended.
    pub async fn next(&mut self) -> Option<Event> {
        self.0.recv().await
    }
}

impl futures_util::Stream for EventStream {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.0.poll_recv(cx)
    }
}
