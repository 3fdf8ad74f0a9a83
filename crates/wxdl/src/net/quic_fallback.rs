//! HTTP/3 first, TCP when it fails (contract §5): with `enableQuic`, a request goes over QUIC when
//! the origin is known to speak HTTP/3 (an `Alt-Svc` seen earlier, or the host's hint); if QUIC
//! fails before a response head, the request (its body sent again) goes over TCP instead,
//! transparently, and the origin stays on TCP for a while (as long as an advertisement would
//! last; `altsvc`). Every response seen over TCP teaches the Alt-Svc cache.
//!
//! Imports `attempt`, `stale_retry`, `transport`, `profile`, `engine`; never `redirect`, `retry` or
//! the download.

use crate::engine::Engine;
use crate::error::Fail;
#[cfg(feature = "http3")]
use crate::net::attempt::attempt;
use crate::net::attempt::{Answer, Fetch, Protocols};
use crate::net::stale_retry::send_tcp;
use crate::quality::profile::Timeline;
#[cfg(feature = "http3")]
use crate::transport::Origin;

/// Sends one request (its body opened afresh for each try) and waits for the response head,
/// on the protocol the rules above pick.
pub(crate) async fn send(
    engine: &Engine,
    fetch: Fetch<'_>,
    protocols: Protocols,
    timeline: &mut Timeline,
) -> Result<Answer, Fail> {
    timeline.begin_fetch();
    #[cfg(feature = "http3")]
    if let Some(port) = quic_port(engine, fetch.origin, protocols) {
        match send_h3(engine, fetch, port, timeline).await {
            Ok(answer) => return Ok(answer),
            Err(f) => {
                tracing::debug!(
                    "HTTP/3 to {} failed, falling back to TCP: {f}",
                    fetch.origin.authority()
                );
                engine.alt_svc.mark_broken(fetch.origin, port);
                engine.pool.drop_h3(fetch.origin);
                timeline.clear_connection_marks();
            }
        }
    }
    let answer = send_tcp(engine, fetch, protocols.h2, timeline).await?;
    engine
        .alt_svc
        .learn(fetch.origin, answer.response.headers());
    Ok(answer)
}

#[cfg(feature = "http3")]
async fn send_h3(
    engine: &Engine,
    fetch: Fetch<'_>,
    port: u16,
    timeline: &mut Timeline,
) -> Result<Answer, Fail> {
    let conn = engine
        .pool
        .get_h3(&engine.quic, &engine.connector.resolver, fetch.origin, port)
        .await?;
    attempt(conn, fetch, timeline)
        .await
        .map_err(|refused| refused.error.into_fail())
}

/// The UDP port to try HTTP/3 on, when allowed and known (or hinted), and not recently broken.
#[cfg(feature = "http3")]
fn quic_port(engine: &Engine, origin: &Origin, p: Protocols) -> Option<u16> {
    if !(p.quic && origin.https) || engine.alt_svc.is_broken(origin) {
        return None;
    }
    engine
        .alt_svc
        .h3_port(origin)
        .or(p.quic_hint.then_some(origin.port))
}
