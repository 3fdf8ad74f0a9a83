//! Asking for the final response with retries (**[beyond]**, `retry`): each try follows the
//! redirects to a final answer; a failure worth retrying, or an answer the caller asked to
//! retry (408/429/5xx), waits out the backoff (or `Retry-After`) and tries again. Every try
//! that was answered is kept for the HAR. A non-idempotent method (POST, PATCH, …) is tried
//! again only when its request cannot have left (the name did not resolve, the connection was
//! refused): never once a request byte may have been sent, nor for an answer.
//!
//! Imports `redirect`, `retry`, `attempt`, `headers`, `profile` and `error`; only `download`
//! imports it.

use http::HeaderMap;
use url::Url;

use crate::engine::Engine;
use crate::error::{Fail, FailReason, Phase};
use crate::events::{Trace, Tracer};
use crate::net::attempt::{Answer, HopRecord, Protocols};
use crate::net::headers::header_list;
use crate::net::payload::Outgoing;
use crate::net::policy::Api;
use crate::net::redirect::{follow, Followed, Start};
use crate::net::retry::{retry_after, Retry};
use crate::quality::profile::{Hop, Timeline};

/// What every try of a request asks for.
pub(crate) struct Ask<'a> {
    pub url: &'a Url,
    pub raw: &'a str,
    pub outgoing: &'a Outgoing,
    pub protocols: Protocols,
    pub retry: Option<Retry>,
    /// Whether redirects are followed.
    pub follow: bool,
    /// Whose domain list the policy checks.
    pub api: Api,
}

/// The tries made so far, and the HAR records of their requests.
#[derive(Default)]
pub(crate) struct Tries {
    retried: u32,
    pub hops: Vec<Hop>,
    /// Who hears of each retry, its reason and its wait.
    pub trace: Tracer,
}

impl Ask<'_> {
    /// The final response to a request with `headers`, retrying as the policy allows.
    pub async fn answer(
        &self,
        engine: &Engine,
        headers: HeaderMap,
        timeline: &mut Timeline,
        tries: &mut Tries,
    ) -> Result<Followed, Fail> {
        loop {
            let start = Start {
                url: self.url.clone(),
                raw: self.raw.to_owned(),
                headers: headers.clone(),
                outgoing: self.outgoing.clone(),
                protocols: self.protocols,
                follow: self.follow,
                api: self.api,
            };
            let again = self.retry.filter(|r| tries.retried < r.retries);
            let idempotent = self.outgoing.idempotent();
            match follow(engine, start, timeline, &mut tries.hops).await {
                Ok(followed) => {
                    let status = followed.answer.response.status().as_u16();
                    if !(idempotent && again.is_some_and(|r| r.retries_status(status))) {
                        return Ok(followed);
                    }
                    let wait = retry_after(followed.answer.response.headers());
                    // The answer is an attempt of its own in the HAR; its connection is let
                    // go before the wait.
                    let hop = attempt_hop(&followed.answer, &followed.url, timeline, tries);
                    tries.hops.push(hop);
                    drop(followed);
                    let fail = Fail::with(FailReason::NetworkInterrupted, "");
                    tries
                        .retry(self, fail, format!("HTTP {status}"), wait)
                        .await?;
                }
                Err(fail) => {
                    let retried =
                        |r: Retry| r.retries_failure(&fail) && (idempotent || unsent(&fail));
                    if !again.is_some_and(retried) {
                        return Err(fail.in_phase(Phase::Request));
                    }
                    tries.again(self, fail, None).await?;
                }
            }
        }
    }
}

impl Tries {
    /// Whether a body cut by `fail` may be continued by another try: the failure is one a
    /// later try may not meet (a stalled body's timeout included) and tries are left.
    pub fn may_continue(&self, ask: &Ask<'_>, fail: &Fail) -> bool {
        ask.retry.is_some_and(|r| {
            self.retried < r.retries
                && (r.retries_failure(fail) || fail.reason == FailReason::Timeout)
        })
    }

    /// Waits out the backoff before the next try, or gives `fail` back when no try is left.
    pub async fn again(
        &mut self,
        ask: &Ask<'_>,
        fail: Fail,
        retry_after: Option<std::time::Duration>,
    ) -> Result<(), Fail> {
        let why = match &fail.detail {
            Some(d) if !d.is_empty() => format!("{}: {d}", fail.reason),
            _ => fail.reason.to_string(),
        };
        self.retry(ask, fail, why, retry_after).await
    }

    /// [`again`](Self::again), telling the trace listener `why`.
    async fn retry(
        &mut self,
        ask: &Ask<'_>,
        fail: Fail,
        why: String,
        retry_after: Option<std::time::Duration>,
    ) -> Result<(), Fail> {
        let Some(r) = ask.retry.filter(|r| self.retried < r.retries) else {
            return Err(fail);
        };
        let wait = r.delay(self.retried, retry_after);
        tracing::debug!("{fail}: retry {} in {wait:?}", self.retried + 1);
        self.trace.emit(|| Trace::Retry {
            retry: self.retried + 1,
            of: r.retries,
            why,
            wait,
        });
        tokio::time::sleep(wait).await;
        self.retried += 1;
        Ok(())
    }
}

/// Whether a failure means the request never left: no connection was made.
fn unsent(fail: &Fail) -> bool {
    matches!(
        fail.reason,
        FailReason::DnsResolveFail | FailReason::ConnectFail
    )
}

/// The HAR record of a final answer that is not stored (retried, or asked again).
pub(crate) fn attempt_hop(answer: &Answer, url: &Url, timeline: &Timeline, tries: &Tries) -> Hop {
    let facts = answer.exchange.facts(&answer.conn, 0);
    let record = HopRecord {
        url,
        status_code: answer.response.status().as_u16(),
        response_header: header_list(answer.response.headers()),
        redirect_url: None,
        first: tries.hops.is_empty(),
    };
    // Rare (an answer retried or asked again): the exchange stays with its answer.
    answer.exchange.clone().hop(record, &facts, timeline)
}
