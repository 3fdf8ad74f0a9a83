//! The request pipeline: the layers every request goes through, outermost first — retry,
//! redirects with the URL policy per hop, QUIC fallback, the stale-connection retry — down to one
//! exchange on a connection the transport gives; plus the headers the host adds and the body
//! decoder. Imports `transport`, `quality` and the root's errors; never `download` or `store`.

pub(crate) mod attempt;
pub(crate) mod decode;
pub(crate) mod headers;
pub(crate) mod payload;
pub(crate) mod policy;
pub(crate) mod quic_fallback;
pub(crate) mod redirect;
pub(crate) mod retry;
pub(crate) mod stale_retry;
pub(crate) mod tries;

pub use payload::{FileSource, Multipart, Payload};
pub use policy::{Api, ApiDomains, DomainEntry, DomainError, Policy};
pub use redirect::MAX_REDIRECTS;
