//! What a request or upload ends with: the final response held in memory, for any HTTP
//! status, and the task type that returns it with its chunk listener.
//!
//! Imports `events`, `quality` (profile, HAR hops), `task` and `error`; never the exchange.

use bytes::Bytes;

use crate::events::Header;
use crate::quality::profile::{Hop, Profile};
use crate::task::{ListenerId, Task};

/// A finished request: any HTTP status the server answered with (404 and 500 included; a 3xx
/// too with [`Redirect::Manual`](crate::request::Redirect::Manual)).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Response {
    /// The HTTP status of the final response.
    pub status_code: u16,
    /// The final response's headers (repeated fields joined by `, `).
    pub header: Header,
    /// The final response's headers in order, as received.
    pub header_list: Vec<(String, String)>,
    /// The body, decoded when the caller asked for a content-coding; empty for HEAD, 204
    /// and 304.
    pub body: Bytes,
    /// The timing waterfall and connection facts, when enabled.
    pub profile: Option<Profile>,
    /// The URL that answered (after redirects).
    pub url: String,
    /// **\[beyond\]** Every exchange of this request, redirects first (for HAR export).
    pub hops: Vec<Hop>,
}

/// A running `wx.request`, returned at once by [`Client::request`](crate::Client::request).
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use http::Method;
/// use wxdl::{request::RequestOptions, Client};
///
/// let client = Client::builder().build()?;
/// let task = client.request(
///     RequestOptions::new("https://api.example.com/items")
///         .method(Method::POST)
///         .header("Content-Type", "application/json")
///         .body(r#"{"name":"a"}"#),
/// );
/// task.on_headers_received(|h| eprintln!("HTTP {}", h.status_code));
/// task.on_chunk_received(|chunk| eprintln!("{} bytes", chunk.len()));
/// let res = task.await?;
/// println!("{} {}", res.status_code, String::from_utf8_lossy(&res.body));
/// # Ok(()) }
/// ```
pub type RequestTask = Task<Response>;

impl Task<Response> {
    /// Registers a chunk listener: each body chunk as it arrives, from now on. Chunks are
    /// handed out only while a listener is registered.
    pub fn on_chunk_received(&self, f: impl Fn(&Bytes) + Send + Sync + 'static) -> ListenerId {
        self.shared.add_chunk(std::sync::Arc::new(f))
    }

    /// Removes one chunk listener, or all with `None`.
    pub fn off_chunk_received(&self, id: Option<ListenerId>) {
        self.shared.remove_chunk(id);
    }
}
