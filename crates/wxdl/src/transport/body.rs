//! A response body from any of the protocols, read as data chunks.

#[cfg(feature = "http3")]
use bytes::Buf;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;

#[cfg(feature = "http3")]
use super::quic::{H3Gate, H3Stream};
#[cfg(feature = "http3")]
use crate::error::h3_error;
use crate::error::{http_error, Fail};

/// A response body from any of the protocols.
pub(crate) enum Body {
    /// HTTP/1.1 or HTTP/2, from hyper.
    Http(Incoming),
    /// HTTP/3, from h3 over quinn; gated by the client's rate limit when it has one.
    #[cfg(feature = "http3")]
    H3(Box<H3Stream>, Option<Box<H3Gate>>),
}

impl Body {
    /// The next non-empty data chunk, `None` at the end.
    pub async fn data(&mut self) -> Option<Result<Bytes, Fail>> {
        match self {
            Body::Http(body) => loop {
                match body.frame().await? {
                    Ok(frame) => match frame.into_data() {
                        Ok(data) if !data.is_empty() => return Some(Ok(data)),
                        _ => continue,
                    },
                    Err(e) => return Some(Err(http_error(e))),
                }
            },
            #[cfg(feature = "http3")]
            Body::H3(stream, gate) => loop {
                if let Some(gate) = gate {
                    gate.admit().await;
                }
                match stream.recv_data().await {
                    Ok(None) => return None,
                    Ok(Some(mut buf)) => {
                        if buf.has_remaining() {
                            return Some(Ok(buf.copy_to_bytes(buf.remaining())));
                        }
                    }
                    Err(e) => return Some(Err(h3_error(&e))),
                }
            },
        }
    }
}
