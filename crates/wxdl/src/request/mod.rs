//! `wx.request` on the engine (SPEC §9): a method, headers and a body through the same request
//! pipeline downloads use (policy per hop with the request domain list, redirects with RFC
//! 9110's method rules, QUIC fallback, the stale-connection retry), the response body held in
//! memory up to a bound, and the profile, estimator sample, HAR hops and trace events.
//!
//! Imports `net`, `quality`, `queue`, `task`, `options` and `error`; only `client` imports it.

pub(crate) mod exchange;
mod options;
mod response;

pub use options::{Redirect, RequestOptions, DEFAULT_REQUEST_MAX_BYTES};
pub use response::{RequestTask, Response};
