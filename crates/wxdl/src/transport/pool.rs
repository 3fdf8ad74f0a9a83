//! Keep-alive connection pool per origin; knows whether a request went over a reused connection.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Empty;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;

use super::{ConnInfo, Connector, Origin};
use crate::error::{Fail, FailReason};
use crate::profile::Timeline;

/// How long an idle connection stays in the pool.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// At most this many idle connections are kept per origin.
const MAX_IDLE_PER_ORIGIN: usize = 32;
/// A returned connection that is not ready again within this bound is dropped.
const CHECKIN_READY_BOUND: Duration = Duration::from_secs(1);

pub(crate) type Sender = http1::SendRequest<Empty<Bytes>>;

/// A connection checked out for one request.
#[derive(Debug)]
pub(crate) struct Conn {
    pub sender: Sender,
    pub info: ConnInfo,
    /// True when it served an earlier request.
    pub reused: bool,
    pub origin: Origin,
}

#[derive(Debug)]
struct Idle {
    sender: Sender,
    info: ConnInfo,
    since: Instant,
}

/// Idle connections by origin. Dropping the pool closes them.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    idle: Mutex<HashMap<Origin, Vec<Idle>>>,
}

impl Pool {
    /// An idle, live connection to `origin`, most recently used first.
    pub fn checkout(&self, origin: &Origin) -> Option<Conn> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = idle.get_mut(origin)?;
        let now = Instant::now();
        list.retain(|c| !c.sender.is_closed() && now.duration_since(c.since) < IDLE_TIMEOUT);
        while let Some(c) = list.pop() {
            if c.sender.is_ready() {
                return Some(Conn {
                    sender: c.sender,
                    info: c.info,
                    reused: true,
                    origin: origin.clone(),
                });
            }
        }
        None
    }

    /// Opens a new connection through `connector` and starts its HTTP/1.1 driver task.
    pub async fn open(
        connector: &Connector,
        origin: &Origin,
        timeline: &mut Timeline,
    ) -> Result<Conn, Fail> {
        let (stream, info) = connector.connect(origin, timeline).await?;
        let (sender, conn) = http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|e| Fail::with(FailReason::NetworkInterrupted, e))?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("connection closed: {e}");
            }
        });
        Ok(Conn {
            sender,
            info,
            reused: false,
            origin: origin.clone(),
        })
    }

    /// Returns a connection whose response was read to the end, once it is ready again.
    pub async fn checkin(&self, mut conn: Conn) {
        match tokio::time::timeout(CHECKIN_READY_BOUND, conn.sender.ready()).await {
            Ok(Ok(())) => {}
            _ => return,
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = idle.entry(conn.origin).or_default();
        if list.len() < MAX_IDLE_PER_ORIGIN {
            list.push(Idle {
                sender: conn.sender,
                info: conn.info,
                since: Instant::now(),
            });
        }
    }
}
