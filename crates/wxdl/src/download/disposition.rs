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

    #[test]
    fn nothing_usable_is_no_name() {
        for bad in [
            "", ".", "..", "/", "\\", " ", "  \t ", "a/", "a/..", "a\\.", "\u{7}", " . ",
        ] {
            assert_eq!(safe(bad), None, "{bad:?}");
        }
        assert_eq!(safe(" x\u{1}y ").as_deref(), Some("xy"));
        assert_eq!(safe("...").as_deref(), Some("..."));
        assert_eq!(safe(".hidden").as_deref(), Some(".hidden"));
        assert_eq!(name("attachment; filename=\"\""), None);
        assert_eq!(name("attachment; filename=\" \""), None);
        assert_eq!(name("attachment; filename=/"), None);
    }

    #[test]
    fn long_names_are_cut_to_255_bytes_at_a_char_boundary() {
        let ascii = "a".repeat(300);
        assert_eq!(safe(&ascii).unwrap(), "a".repeat(255));
        assert_eq!(safe(&"b".repeat(255)).unwrap(), "b".repeat(255));
        // "你" is 3 bytes: 255 is 85 of them exactly; one byte more ("x" first) cuts a char.
        let wide = "你".repeat(100);
        assert_eq!(safe(&wide).unwrap(), "你".repeat(85));
        let odd = format!("x{}", "你".repeat(100));
        let cut = safe(&odd).unwrap();
        assert_eq!(cut, format!("x{}", "你".repeat(84)));
        assert_eq!(cut.len(), 253);
        assert_eq!(safe(&"c".repeat(256)).unwrap().len(), 255);
    }
}
