//! A download's progress and headers events on their way to the script: the engine's callbacks
//! push them, the script's side of the download takes them in order. Light enough to make one
//! per download when a script queues thousands: no event is kept unless the task listens.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

use tokio::sync::Notify;
#[cfg(doc)]
use wxdl_wx::events::{WANT_HEADERS, WANT_PROGRESS};

/// One event for the script.
pub enum Update {
    Progress(serde_json::Value),
    Headers(serde_json::Value),
    /// A `wx.request` body chunk, as base64.
    Chunk(String),
}

/// One download's events, and which of them its task listens to.
#[derive(Default)]
pub struct Inbox {
    /// [`WANT_PROGRESS`] | [`WANT_HEADERS`], set when the task gets its first listener.
    wants: AtomicU8,
    queue: Mutex<VecDeque<Update>>,
    ready: Notify,
}

impl Inbox {
    /// The task now listens to `events` (bits).
    pub fn want(&self, events: u8) {
        self.wants.fetch_or(events, Ordering::Relaxed);
    }

    /// Whether the task listens to `event` (one bit): unheard events are not even built.
    pub fn wants(&self, event: u8) -> bool {
        self.wants.load(Ordering::Relaxed) & event != 0
    }

    /// Queues an event for the script.
    pub fn push(&self, update: Update) {
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push_back(update);
        self.ready.notify_one();
    }

    /// The next queued event, if any.
    pub fn take(&self) -> Option<Update> {
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop_front()
    }

    /// Waits until an event may be queued (spurious wake-ups are possible: `take` tells).
    pub async fn ready(&self) {
        self.ready.notified().await;
    }
}
