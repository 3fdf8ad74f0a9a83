//! What a request sends besides its head: nothing, bytes, a file, or a `multipart/form-data`
//! body of fields and one file. Every form is replayable: a try (a retry, the stale-connection
//! retry, the QUIC fallback, a 307/308 hop) opens it afresh — a file is opened again — and its
//! length is known before sending, so `Content-Length` is exact.
//!
//! Imports `transport` (the outgoing body) and `error`; never a policy or an API above.

use std::path::PathBuf;

use bytes::Bytes;

use crate::error::{Fail, FailReason};
use crate::transport::{OutBody, Segment, SentFn};

/// What a request sends besides its URL and headers: the method and the body, and who hears
/// of the body's bytes as they go (upload progress). The same value serves every try.
#[derive(Clone, Default)]
pub(crate) struct Outgoing {
    pub method: http::Method,
    pub payload: Payload,
    pub sent: Option<SentFn>,
}

impl std::fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outgoing")
            .field("method", &self.method)
            .field("payload", &self.payload)
            .field("sent", &self.sent.is_some())
            .finish()
    }
}

impl Outgoing {
    /// A GET without a body (what a download sends).
    pub fn get() -> Outgoing {
        Outgoing::default()
    }

    /// Whether the method is idempotent (RFC 9110 §9.2.2): a try may be repeated after its
    /// bytes went out.
    pub fn idempotent(&self) -> bool {
        use http::Method;
        [
            Method::GET,
            Method::HEAD,
            Method::OPTIONS,
            Method::TRACE,
            Method::PUT,
            Method::DELETE,
        ]
        .contains(&self.method)
    }
}

/// A request body that can be sent again for every try.
///
/// ```
/// use wxdl::net::Payload;
///
/// let json = Payload::from(r#"{"a":1}"#.to_owned());
/// assert_eq!(json.len(), 7);
/// assert!(Payload::Empty.is_empty());
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum Payload {
    /// No body.
    #[default]
    Empty,
    /// Bytes held in memory.
    Bytes(Bytes),
    /// A file's contents, read in bounded chunks.
    File(FileSource),
    /// `multipart/form-data`: fields, then one file.
    Multipart(Multipart),
}

/// A file sent as (part of) a body: its path on the host and the length it had when the
/// request was made (a file that got shorter fails the try; bytes beyond it are not sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSource {
    /// Where the file is on the host.
    pub path: PathBuf,
    /// How many bytes of it are sent.
    pub len: u64,
}

impl FileSource {
    /// The file at `path`, with its current length.
    pub fn open(path: impl Into<PathBuf>) -> std::io::Result<FileSource> {
        let path = path.into();
        let meta = std::fs::metadata(&path)?;
        if meta.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::IsADirectory,
                "is a directory",
            ));
        }
        Ok(FileSource {
            path,
            len: meta.len(),
        })
    }
}

/// A `multipart/form-data` body (RFC 7578): text fields first, then one file part. Its bytes
/// around the file are made once; its length is computed before sending.
#[derive(Debug, Clone)]
pub struct Multipart {
    boundary: String,
    head: Bytes,
    file: FileSource,
    tail: Bytes,
}

impl Multipart {
    /// Fields (name, value) in order, then `file` as the part `name` with `filename` and
    /// `content_type`.
    pub fn new(
        fields: &[(String, String)],
        name: &str,
        filename: &str,
        content_type: &str,
        file: FileSource,
    ) -> Multipart {
        let boundary = format!("----wxdlFormBoundary{:016x}", rand::random::<u64>());
        let mut head = String::new();
        for (k, v) in fields {
            head.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n{v}\r\n",
                quote(k)
            ));
        }
        head.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\n\
             Content-Type: {content_type}\r\n\r\n",
            quote(name),
            quote(filename)
        ));
        let tail = format!("\r\n--{boundary}--\r\n");
        Multipart {
            boundary,
            head: Bytes::from(head),
            file,
            tail: Bytes::from(tail),
        }
    }

    /// The request's `Content-Type`: `multipart/form-data; boundary=…`.
    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// The length of the file part's contents.
    pub fn file_len(&self) -> u64 {
        self.file.len
    }
}

/// A name or filename inside a quoted `Content-Disposition` parameter: `"` and line breaks
/// percent-encoded, as browsers do (WHATWG HTML, multipart/form-data encoding).
fn quote(s: &str) -> String {
    s.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

impl From<Bytes> for Payload {
    fn from(b: Bytes) -> Payload {
        Payload::Bytes(b)
    }
}

impl From<Vec<u8>> for Payload {
    fn from(b: Vec<u8>) -> Payload {
        Payload::Bytes(b.into())
    }
}

impl From<String> for Payload {
    fn from(s: String) -> Payload {
        Payload::Bytes(s.into())
    }
}

impl From<&'static str> for Payload {
    fn from(s: &'static str) -> Payload {
        Payload::Bytes(Bytes::from_static(s.as_bytes()))
    }
}

impl Payload {
    /// The body's length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Payload::Empty => 0,
            Payload::Bytes(b) => b.len() as u64,
            Payload::File(f) => f.len,
            Payload::Multipart(m) => m.head.len() as u64 + m.file.len + m.tail.len() as u64,
        }
    }

    /// Whether there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Opens the body for one try (a file is opened anew); `sent` hears of the bytes handed
    /// to the connection.
    pub(crate) async fn open(&self, sent: Option<SentFn>) -> Result<OutBody, Fail> {
        let file = |f: &FileSource| {
            let path = f.path.clone();
            let len = f.len;
            async move {
                let file = tokio::fs::File::open(&path).await.map_err(|e| {
                    let reason = match e.kind() {
                        std::io::ErrorKind::NotFound => FailReason::NoSuchFileOrDirectory,
                        std::io::ErrorKind::PermissionDenied => FailReason::PermissionDenied,
                        _ => FailReason::WriteFileFail,
                    };
                    Fail::with(reason, format_args!("{}: {e}", path.display()))
                })?;
                Ok::<_, Fail>(Segment::File { file, len })
            }
        };
        let parts = match self {
            Payload::Empty => Vec::new(),
            Payload::Bytes(b) => vec![Segment::Bytes(b.clone())],
            Payload::File(f) => vec![file(f).await?],
            Payload::Multipart(m) => vec![
                Segment::Bytes(m.head.clone()),
                file(&m.file).await?,
                Segment::Bytes(m.tail.clone()),
            ],
        };
        Ok(OutBody::new(parts, sent))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn multipart_length_is_what_is_sent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.png");
        std::fs::write(&path, vec![7u8; 1000]).unwrap();
        let fields = [
            ("k".to_owned(), "v".to_owned()),
            ("q\"".to_owned(), "2".to_owned()),
        ];
        let m = Multipart::new(
            &fields,
            "file",
            "a.png",
            "image/png",
            FileSource::open(&path).unwrap(),
        );
        assert!(m
            .content_type()
            .starts_with("multipart/form-data; boundary=----wxdl"));
        let p = Payload::Multipart(m);
        let body = p.open(None).await.unwrap().collect().await.unwrap();
        let bytes = body.to_bytes();
        assert_eq!(bytes.len() as u64, p.len());
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("name=\"k\"\r\n\r\nv\r\n"));
        assert!(text.contains("name=\"q%22\""));
        assert!(text.contains("filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n"));
        assert!(text.ends_with("--\r\n"));
        // Opened again for another try: the same bytes.
        let again = p.open(None).await.unwrap().collect().await.unwrap();
        assert_eq!(again.to_bytes(), bytes);
    }
}
