//! A file name from a response's `Content-Disposition` (**[beyond]**, the CLI's `-J`): the
//! RFC 6266 `filename*` (RFC 8187, UTF-8) first, else `filename`, made safe to use as one name
//! in a directory the user chose — no path separators, no control characters, not `.`/`..`,
//! at most 255 bytes.
//!
//! A leaf: imports nothing of the engine.

use http::header::{HeaderMap, CONTENT_DISPOSITION};

/// The safe file name a response suggests, if it suggests one.
pub(crate) fn suggested_name(headers: &HeaderMap) -> Option<String> {
    let value = String::from_utf8_lossy(headers.get(CONTENT_DISPOSITION)?.as_bytes()).into_owned();
    let mut plain = None;
    let mut extended = None;
    for param in value.split(';').skip(1) {
        let Some((key, raw)) = param.split_once('=') else {
            continue;
        };
        match key.trim().to_ascii_lowercase().as_str() {
            "filename*" => extended = decode_extended(raw.trim()),
            "filename" => plain = Some(unquote(raw.trim())),
            _ => {}
        }
    }
    extended.or(plain).and_then(|n| safe(&n))
}

/// `UTF-8''%E4%BD%A0.pdf` → `你.pdf` (RFC 8187); other charsets are not trusted.
fn decode_extended(raw: &str) -> Option<String> {
    let mut parts = raw.splitn(3, '\'');
    let (charset, _lang, encoded) = (parts.next()?, parts.next()?, parts.next()?);
    if !charset.eq_ignore_ascii_case("utf-8") {
        return None;
    }
    let mut bytes = Vec::with_capacity(encoded.len());
    let mut it = encoded.bytes();
    while let Some(b) = it.next() {
        if b == b'%' {
            let hex = [it.next()?, it.next()?];
            bytes.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            bytes.push(b);
        }
    }
    String::from_utf8(bytes).ok()
}

fn unquote(raw: &str) -> String {
    match raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) => inner.replace("\\\"", "\"").replace("\\\\", "\\"),
        None => raw.to_owned(),
    }
}

/// The last path component, without control characters; `None` when nothing usable is left.
fn safe(name: &str) -> Option<String> {
    let last = name.rsplit(['/', '\\']).next()?;
    let clean: String = last.chars().filter(|c| !c.is_control()).collect();
    let clean = clean.trim().to_owned();
    if clean.is_empty() || clean == "." || clean == ".." {
        return None;
    }
    let mut cut = clean;
    while cut.len() > 255 {
        cut.pop();
    }
    Some(cut)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn name(v: &'static str) -> Option<String> {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_DISPOSITION, HeaderValue::from_static(v));
        suggested_name(&h)
    }

    #[test]
    fn names_are_taken_and_made_safe() {
        assert_eq!(
            name("attachment; filename=\"report.pdf\"").as_deref(),
            Some("report.pdf")
        );
        assert_eq!(
            name("attachment; filename=\"a.pdf\"; filename*=UTF-8''%E4%BD%A0%E5%A5%BD.pdf")
                .as_deref(),
            Some("你好.pdf")
        );
        assert_eq!(
            name("attachment; filename=../../etc/passwd").as_deref(),
            Some("passwd")
        );
        assert_eq!(
            name("attachment; filename=\"..\\\\evil.exe\"").as_deref(),
            Some("evil.exe")
        );
        assert_eq!(name("attachment; filename=\"..\""), None);
        assert_eq!(name("inline"), None);
        assert_eq!(name("attachment; filename*=ISO-8859-1''x.txt"), None);
    }
}
