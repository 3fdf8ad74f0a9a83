//! Redirects (contract §4): 301/302/303/307/308 are followed, at most [`MAX_REDIRECTS`] hops, no
//! loops; every hop passes the same URL policy as the first URL, and a hop to another origin
//! drops the caller's credentials (`Authorization`, `Proxy-Authorization`, `Cookie`) and
//! their `Host`. Method and body per RFC 9110 §15.4: a 301 or 302 turns a POST into a GET
//! without body (as browsers and `curl -L` do), a 303 turns any method but HEAD into a GET
//! without body; either way the old body's `Content-Type`, `Content-Length` and
//! `Content-Encoding` go with it. A 307 or 308 keeps the method and sends the body again.
//!
//! Imports `quic_fallback`, `attempt`, `headers`, `options`, `transport`, `profile`, `engine`;
//! never `retry` or the download.

use std::collections::HashSet;
use std::time::Instant;

use http::header::{
    HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, COOKIE,
    HOST, LOCATION, PROXY_AUTHORIZATION,
};
use http::{Method, StatusCode};
use url::Url;

use crate::engine::Engine;
use crate::error::{Fail, FailReason};
use crate::net::attempt::{Answer, Fetch, HopRecord, Protocols};
use crate::net::headers::header_list;
use crate::net::payload::{Outgoing, Payload};
use crate::net::policy::Api;
use crate::net::quic_fallback::send;
use crate::options::check_scheme;
use crate::quality::profile::{Hop, Timeline};
use crate::transport::{Body, Origin};

/// WeChat's client follows at most this many redirects.
pub const MAX_REDIRECTS: usize = 15;

/// At most this much of a redirect's body is read to keep its connection for reuse.
const REDIRECT_DRAIN_LIMIT: usize = 64 * 1024;

/// Where a request starts: the checked URL, the text it was written as (the policy's port
/// rule reads it), the headers, method and body to send, and the protocols allowed.
pub(crate) struct Start {
    pub url: Url,
    pub raw: String,
    pub headers: HeaderMap,
    pub outgoing: Outgoing,
    pub protocols: Protocols,
    /// Whether a redirect is followed (`false`: a 3xx is the final answer).
    pub follow: bool,
    /// Whose domain list the policy checks.
    pub api: Api,
}

/// The final (non-redirect) response, and the URL it answered.
pub(crate) struct Followed {
    pub answer: Answer,
    pub url: Url,
}

/// Follows redirects from `start` to the final response, re-checking policy at every hop and
/// recording every redirect hop in `hops`.
pub(crate) async fn follow(
    engine: &Engine,
    start: Start,
    timeline: &mut Timeline,
    hops: &mut Vec<Hop>,
) -> Result<Followed, Fail> {
    let Start {
        mut url,
        mut raw,
        mut headers,
        mut outgoing,
        protocols,
        follow,
        api,
    } = start;
    let mut visited = HashSet::from([url.as_str().to_owned()]);
    let mut same_origin = true;
    let mut hop = 0;
    loop {
        engine.policy.check(api, &url, &raw)?;
        let origin = Origin::of(&url);
        let fetch = Fetch {
            url: &url,
            origin: &origin,
            headers: &headers,
            outgoing: &outgoing,
            offset: 0,
        };
        let answer = send(engine, fetch, protocols, timeline).await?;
        let location = redirect_location(&answer.response).filter(|_| follow);
        let Some(location) = location else {
            if !same_origin {
                timeline.redirect_start = None;
                timeline.redirect_end = None;
            }
            return Ok(Followed { answer, url });
        };
        if hop == MAX_REDIRECTS {
            return Err(Fail::with(
                FailReason::TooManyRedirects,
                format_args!("more than {MAX_REDIRECTS}"),
            ));
        }
        // A raw UTF-8 Location (servers send them) is taken as text and percent-encoded by the
        // URL parser, as browsers and curl do.
        let location = std::str::from_utf8(location.as_bytes())
            .map_err(|_| Fail::with(FailReason::InvalidUrl, "redirect Location is not UTF-8"))?;
        let next = url.join(location).map_err(|e| {
            Fail::with(
                FailReason::InvalidUrl,
                format_args!("redirect Location: {e}"),
            )
        })?;
        check_scheme(&next)?;
        if location.contains("://") {
            raw = location.to_owned();
        } else if location.starts_with("//") {
            raw = format!("{}:{location}", next.scheme());
        }
        hop += 1;
        if !visited.insert(next.as_str().to_owned()) {
            return Err(Fail::with(
                FailReason::TooManyRedirects,
                format_args!("loop at {next}"),
            ));
        }
        if timeline.redirect_start.is_none() {
            timeline.redirect_start = timeline.fetch_start;
        }
        let Answer {
            response,
            conn,
            exchange,
        } = answer;
        let status_code = response.status().as_u16();
        let response_header = header_list(response.headers());
        let (drained, clean) = drain(response.into_body()).await;
        timeline.response_end = Some(Instant::now());
        timeline.redirect_end = timeline.response_end;
        let facts = exchange.facts(&conn, drained);
        if clean {
            engine.pool.checkin(conn).await;
        }
        let record = HopRecord {
            url: &url,
            status_code,
            response_header,
            redirect_url: Some(next.to_string()),
            first: hops.is_empty(),
        };
        hops.push(exchange.hop(record, &facts, timeline));
        if Origin::of(&next) != origin {
            same_origin = false;
            drop_credentials(&mut headers);
        }
        if let Some(method) = method_after(status_code, &outgoing.method) {
            outgoing.method = method;
            outgoing.payload = Payload::Empty;
            for name in [CONTENT_TYPE, CONTENT_LENGTH, CONTENT_ENCODING] {
                headers.remove(name);
            }
        }
        url = next;
    }
}

/// The caller's credentials do not travel to another origin, nor a `Host` of theirs (it named
/// the first origin; the next hop's comes from its URL).
fn drop_credentials(headers: &mut HeaderMap) {
    for name in [AUTHORIZATION, PROXY_AUTHORIZATION, COOKIE, HOST] {
        headers.remove(name);
    }
}

/// The method the next hop uses when a redirect with `status` changes it (RFC 9110 §15.4),
/// its body then dropped; `None` keeps method and body.
fn method_after(status: u16, method: &Method) -> Option<Method> {
    match status {
        301 | 302 if *method == Method::POST => Some(Method::GET),
        303 if *method != Method::HEAD && *method != Method::GET => Some(Method::GET),
        _ => None,
    }
}

fn redirect_location(resp: &http::Response<Body>) -> Option<&HeaderValue> {
    match resp.status() {
        StatusCode::MOVED_PERMANENTLY
        | StatusCode::FOUND
        | StatusCode::SEE_OTHER
        | StatusCode::TEMPORARY_REDIRECT
        | StatusCode::PERMANENT_REDIRECT => resp.headers().get(LOCATION),
        _ => None,
    }
}

/// Reads a small redirect body to its end so the connection can serve the next hop. Returns
/// the body bytes read, and whether the body ended cleanly (then the connection is reusable).
async fn drain(mut body: Body) -> (u64, bool) {
    let mut seen = 0usize;
    while seen <= REDIRECT_DRAIN_LIMIT {
        match body.data().await {
            Some(Ok(data)) => seen += data.len(),
            Some(Err(_)) => return (seen as u64, false),
            None => return (seen as u64, true),
        }
    }
    (seen as u64, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::ACCEPT;

    #[test]
    fn which_redirects_change_the_method() {
        let get = Some(Method::GET);
        assert_eq!(method_after(301, &Method::POST), get);
        assert_eq!(method_after(302, &Method::POST), get);
        assert_eq!(method_after(302, &Method::PUT), None);
        assert_eq!(method_after(303, &Method::PUT), get);
        assert_eq!(method_after(303, &Method::DELETE), get);
        assert_eq!(method_after(303, &Method::HEAD), None);
        for keeps in [307, 308] {
            assert_eq!(method_after(keeps, &Method::POST), None);
        }
    }

    #[test]
    fn credentials_do_not_cross_origins() {
        let mut h = HeaderMap::new();
        for (name, value) in [
            (AUTHORIZATION, "Bearer t"),
            (PROXY_AUTHORIZATION, "Basic x"),
            (COOKIE, "a=1"),
            (HOST, "first.example"),
            (ACCEPT, "*/*"),
        ] {
            h.insert(name, HeaderValue::from_static(value));
        }
        drop_credentials(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key(ACCEPT));
    }
}
