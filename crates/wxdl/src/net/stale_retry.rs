//! The stale-connection retry: over TCP, a request that fails before any response head on a
//! pooled connection that had served before goes out once more on a new connection, its body
//! opened again. The peer closed or reset the idle connection as we reused it and the request
//! was not answered; this holds for any method (as browsers resend on a reused socket: RFC
//! 9110 §9.2.2 allows it when the client knows the request was not processed, which an idle
//! close before any answer tells). A failure on a new connection is the request's failure.
//!
//! Imports `attempt`, `transport`, `profile`, `engine`; never a policy above it.

use crate::engine::Engine;
use crate::error::Fail;
use crate::net::attempt::{attempt, Answer, Fetch, Refused};
use crate::quality::profile::Timeline;
use crate::transport::SendError;

/// Sends `fetch` over TCP (HTTP/1.1, or HTTP/2 when `h2` allows it), reusing a pooled
/// connection when there is one and retrying once on a new one when that turns out stale.
pub(crate) async fn send_tcp(
    engine: &Engine,
    fetch: Fetch<'_>,
    h2: bool,
    timeline: &mut Timeline,
) -> Result<Answer, Fail> {
    let mut fresh = false;
    loop {
        let conn = engine
            .pool
            .get(&engine.connector, fetch.origin, h2, fresh)
            .await?;
        match attempt(conn, fetch, timeline).await {
            Ok(answer) => return Ok(answer),
            Err(refused) if !fresh && worth_retrying(&refused) => {
                tracing::debug!("stale pooled connection, retrying: {:?}", refused.error);
                fresh = true;
                timeline.begin_fetch();
            }
            Err(refused) => return Err(refused.error.into_fail()),
        }
    }
}

/// Whether a failed attempt may go out again on a new connection: a transport error before
/// any response head, on a connection that had served an earlier request.
fn worth_retrying(refused: &Refused) -> bool {
    refused.reused && matches!(refused.error, SendError::Hyper(_))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FailReason;

    #[test]
    fn only_transport_errors_on_reused_connections_are_retried() {
        let built = |reused| Refused {
            error: SendError::Fail(Fail::new(FailReason::InvalidUrl)),
            reused,
        };
        assert!(!worth_retrying(&built(true)));
        let h3 = Refused {
            error: SendError::H3("reset".into()),
            reused: true,
        };
        assert!(!worth_retrying(&h3), "HTTP/3 falls back to TCP instead");
    }
}
