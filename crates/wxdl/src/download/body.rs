//! The body being received: opened when the response that carries it arrives (headers event,
//! cap check, destination, writer — a resumable partial file with `resume`), then how much of
//! it is held, whether it is whole, how it is checked, and what a retry may continue.
//!
//! Imports `destination`, `storage`, `partial`, `resume`, `integrity`, `progress`, `decode`,
//! `headers`, `task` and `error`; only `download` imports it.

use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use url::Url;

use crate::download::destination::{Destination, Naming, Opened};
use crate::download::integrity::{Check, Integrity};
use crate::download::progress::ProgressTicker;
use crate::download::resume::{self, Held};
use crate::engine::Engine;
use crate::error::{storage_io, Fail, FailReason, Phase};
use crate::events::Header;
use crate::net::attempt::Answer;
use crate::net::decode::Codings;
use crate::net::headers::{content_length, header_list, header_map};
use crate::store::host_target::Sink;
use crate::store::partial::{Partial, Record};
use crate::store::storage::BodyFile;
use crate::task::TaskShared;

/// A body on its way to its file.
pub(crate) struct Body {
    pub part: BodyFile,
    pub check: Option<Check>,
    pub ticker: ProgressTicker,
    /// The status reported: the response's, or 200 for a continued body (the file is the
    /// whole representation).
    pub status: u16,
    pub header: Header,
    pub response_header: Vec<(String, String)>,
    pub temp_file_path: Option<String>,
    pub file_path: Option<String>,
    pub saved_path: PathBuf,
    /// Bytes an earlier run had kept that were not fetched again.
    pub resumed_from: u64,
    /// Whether the caller asked for content-codings (`Accept-Encoding`).
    pub decode_wanted: bool,
    /// The whole length, when known (the stored length: nothing decoded).
    expected: Option<u64>,
    /// What a retry may continue it under: the validator, when nothing is decoded.
    validator: Option<String>,
    /// The URL the body comes from (after redirects), for a partial file's record.
    final_url: String,
    integrity: Option<Integrity>,
}

/// What opening a body needs to know about the download.
pub(crate) struct Fresh<'a> {
    pub engine: &'a Engine,
    pub max_bytes: u64,
    pub integrity: Option<Integrity>,
    pub naming: Option<Naming>,
    pub decode_wanted: bool,
}

impl Fresh<'_> {
    /// Opens the body `answer` carries: emits the headers event, checks the announced length
    /// against the cap, makes the destination concrete and the writer. `continues` is the
    /// whole length when the answer continues the partial file's bytes (`Some(None)`: not
    /// known).
    pub fn open(
        self,
        dest: Destination,
        partial: Option<Partial>,
        url: &Url,
        answer: &Answer,
        continues: Option<Option<u64>>,
        shared: &TaskShared,
    ) -> Result<Body, Fail> {
        let headers = answer.response.headers();
        let status = match continues {
            Some(_) => 200,
            None => answer.response.status().as_u16(),
        };
        shared.emit_headers(status, headers);
        let header = header_map(headers);
        let codings =
            Codings::of(headers, self.decode_wanted).map_err(|f| f.in_phase(Phase::Response))?;
        // Content-Length is the stored length only when nothing is decoded, and never for a
        // status that has no body by definition (RFC 9110 §6.4.1: 204, 304).
        let bodiless = matches!(status, 204 | 304);
        let expected = match (continues, codings.is_identity() && !bodiless) {
            (Some(total), _) => total,
            (None, true) => content_length(headers),
            (None, false) => None,
        };
        let max = self.max_bytes;
        if let Some(len) = expected.filter(|len| *len > max) {
            return Err(Fail::with(
                FailReason::ExceedMaxFileSize,
                format_args!("Content-Length {len} > {max}"),
            )
            .in_phase(Phase::Response));
        }
        let store = |f: Fail| f.in_phase(Phase::Store);
        let Opened {
            target,
            temp_file_path,
            file_path,
            quota,
        } = dest
            .open(self.engine, url, headers, expected, self.naming)
            .map_err(store)?;
        let saved_path = target.path();
        let shown = saved_path.display().to_string();
        let validator = resume::validator(headers).filter(|_| codings.is_identity());
        let (part, resumed_from) = match (partial, target) {
            // Kept only for what can be continued: a validator, nothing decoded.
            (Some(mut partial), Sink::Replace(target)) if validator.is_some() => {
                let resumed_from = continues.map_or(0, |_| partial.found().map_or(0, |r| r.bytes));
                if resumed_from == 0 {
                    // A body from its first byte starts from an empty file: whatever the
                    // partial held (another URL's, too old, unreadable record) is not kept.
                    partial
                        .start_over()
                        .map_err(|e| store(storage_io(e, &shown)))?;
                }
                partial
                    .describe(&Record {
                        url: partial.url().to_owned(),
                        final_url: url.to_string(),
                        validator: validator.clone(),
                        expected_length: expected,
                        bytes: resumed_from,
                    })
                    .map_err(|e| store(storage_io(e, &shown)))?;
                let part = BodyFile::resumable(target, partial, max, quota, &self.engine.storage)
                    .map_err(store)?;
                (part, resumed_from)
            }
            (_, target) => {
                let part = BodyFile::create(target, max, quota, &self.engine.storage)?;
                if let Some(len) = expected {
                    part.preallocate(len);
                }
                (part, 0)
            }
        };
        let mut check = self.integrity.map(Check::new);
        if let (Some(c), Some(p)) = (&mut check, part.partial()) {
            hash_prefix(&p.private.file, resumed_from, c)
                .map_err(|e| store(storage_io(e, &shown)))?;
        }
        Ok(Body {
            ticker: ProgressTicker::new(expected.unwrap_or(0)),
            part,
            check,
            status,
            header,
            response_header: header_list(headers),
            temp_file_path,
            file_path,
            saved_path,
            resumed_from,
            decode_wanted: self.decode_wanted,
            expected,
            validator,
            final_url: url.to_string(),
            integrity: self.integrity,
        })
    }
}

/// Feeds the first `len` bytes of `file` to the integrity check (a continued body's hash must
/// cover what an earlier run wrote).
fn hash_prefix(file: &std::fs::File, len: u64, check: &mut Check) -> std::io::Result<()> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut at = 0u64;
    while at < len {
        let want = buf.len().min((len - at) as usize);
        let n = file.read_at(&mut buf[..want], at)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        check.update(&buf[..n]);
        at += n as u64;
    }
    Ok(())
}

impl Body {
    /// Whether the body is whole: as long as announced, when a length was.
    pub fn check_length(&self) -> Result<(), Fail> {
        let written = self.part.written();
        match self.expected {
            Some(len) if written != len => Err(Fail::with(
                FailReason::NetworkInterrupted,
                format_args!("body ended after {written} of {len} bytes"),
            )
            .in_phase(Phase::Body)),
            _ => Ok(()),
        }
    }

    /// What a retry may ask for to continue this body, with resume on: the bytes held under
    /// the validator, when there is one and nothing is decoded.
    pub fn continuation(&self, resume: bool) -> Option<Held> {
        let bytes = self.part.written();
        (resume && bytes > 0 && self.part.can_continue())
            .then_some(())
            .and(self.validator.clone())
            .map(|validator| Held {
                bytes,
                validator,
                total: self.expected,
            })
    }

    /// Every segment of a split body is in: counts them, and hashes the file for the
    /// integrity check (the segments arrived out of order).
    pub fn segments_done(&mut self, total: u64) -> Result<(), Fail> {
        self.part.positional_done(total)?;
        if let Some(want) = self.integrity {
            let mut check = Check::new(want);
            if let Some(file) = self.part.file() {
                hash_prefix(file, total, &mut check)
                    .map_err(|e| storage_io(e, &self.saved_path.display().to_string()))?;
            }
            self.check = Some(check);
        }
        Ok(())
    }

    /// Gives the body up for good: a partial file is removed, not kept for another run.
    pub fn abandon(self) {
        self.part.abandon();
    }

    /// Drops what was written, for the whole body anew; `headers` are the new answer's when it
    /// is already here (its length and validator replace the old ones).
    pub fn restart(&mut self, headers: Option<&http::HeaderMap>) -> Result<(), Fail> {
        self.part.start_over()?;
        self.check = self.integrity.map(Check::new);
        self.resumed_from = 0;
        if let Some(h) = headers {
            let identity = Codings::of(h, self.decode_wanted).is_ok_and(|c| c.is_identity());
            self.expected = content_length(h).filter(|_| identity);
            self.validator = resume::validator(h).filter(|_| identity);
            self.ticker = ProgressTicker::new(self.expected.unwrap_or(0));
            // A partial file's record names the new version, before any byte of it is
            // written: a later run must never continue these bytes under the old validator.
            if let Some(p) = self.part.partial() {
                let record = Record {
                    url: p.url().to_owned(),
                    final_url: self.final_url.clone(),
                    validator: self.validator.clone(),
                    expected_length: self.expected,
                    bytes: 0,
                };
                p.describe(&record)
                    .map_err(|e| storage_io(e, &self.saved_path.display().to_string()))?;
            }
        }
        Ok(())
    }
}

/// Drops the bytes held (in a body being written, or in a partial file not yet opened as
/// one): the server will send the whole representation (`headers`, when already here).
pub(crate) fn restart(
    body: &mut Option<Body>,
    partial: &mut Option<Partial>,
    headers: Option<&http::HeaderMap>,
) -> Result<(), Fail> {
    if let Some(b) = body {
        return b.restart(headers);
    }
    if let Some(p) = partial {
        if p.start_over().is_err() {
            // It cannot be emptied: download without it.
            *partial = None;
        }
    }
    Ok(())
}
