//! Picks a temp file's extension: from the response's `Content-Type` first (WeChat's client
//! uses the MIME type), else from the URL path; and an uploaded file's `Content-Type` from its
//! extension.
//!
//! A leaf: imports nothing of the engine.

use url::Url;

/// Well-known media types and the extension WeChat-style temp files get for them.
const TYPES: &[(&str, &str)] = &[
    ("audio/mpeg", "mp3"),
    ("audio/mp3", "mp3"),
    ("audio/mp4", "m4a"),
    ("audio/x-m4a", "m4a"),
    ("audio/aac", "aac"),
    ("audio/wav", "wav"),
    ("audio/x-wav", "wav"),
    ("audio/ogg", "ogg"),
    ("audio/flac", "flac"),
    ("audio/amr", "amr"),
    ("audio/silk", "silk"),
    ("video/mp4", "mp4"),
    ("video/quicktime", "mov"),
    ("video/webm", "webm"),
    ("video/x-flv", "flv"),
    ("application/vnd.apple.mpegurl", "m3u8"),
    ("image/jpeg", "jpg"),
    ("image/png", "png"),
    ("image/gif", "gif"),
    ("image/webp", "webp"),
    ("image/svg+xml", "svg"),
    ("image/bmp", "bmp"),
    ("image/x-icon", "ico"),
    ("image/heic", "heic"),
    ("text/plain", "txt"),
    ("text/html", "html"),
    ("text/css", "css"),
    ("text/csv", "csv"),
    ("text/xml", "xml"),
    ("text/javascript", "js"),
    ("application/javascript", "js"),
    ("application/json", "json"),
    ("application/xml", "xml"),
    ("application/pdf", "pdf"),
    ("application/zip", "zip"),
    ("application/gzip", "gz"),
    ("application/x-tar", "tar"),
    ("application/wasm", "wasm"),
    ("application/msword", "doc"),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "docx",
    ),
    ("application/vnd.ms-excel", "xls"),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xlsx",
    ),
    ("application/vnd.ms-powerpoint", "ppt"),
    (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "pptx",
    ),
    ("font/woff", "woff"),
    ("font/woff2", "woff2"),
    ("font/ttf", "ttf"),
];

/// The media type of a file named `name`, by its extension (case-insensitive), from the same
/// table; `application/octet-stream` when unknown.
///
/// ```
/// assert_eq!(wxdl::store::content_type_of("a.JPG"), "image/jpeg");
/// assert_eq!(wxdl::store::content_type_of("b.jpeg"), "image/jpeg");
/// assert_eq!(wxdl::store::content_type_of("noext"), "application/octet-stream");
/// ```
pub fn content_type_of(name: &str) -> &'static str {
    let Some((_, ext)) = name.rsplit_once('.') else {
        return "application/octet-stream";
    };
    let ext = match ext.to_ascii_lowercase().as_str() {
        "jpeg" => "jpg".to_owned(),
        "htm" => "html".to_owned(),
        other => other.to_owned(),
    };
    TYPES
        .iter()
        .find(|(_, e)| *e == ext)
        .map_or("application/octet-stream", |(t, _)| t)
}

/// The extension for a temp file: the one for a known media type, else the URL path's
/// (`/a/b.MP3` → `MP3` kept as written), else none.
///
/// ```
/// use url::Url;
/// let u = Url::parse("http://h/audio/123").unwrap();
/// assert_eq!(wxdl::store::temp_extension(&u, Some("audio/mpeg; charset=x")), Some("mp3".into()));
/// let u = Url::parse("http://h/get.php?id=7").unwrap();
/// assert_eq!(wxdl::store::temp_extension(&u, Some("application/pdf")), Some("pdf".into()));
/// let u = Url::parse("http://h/a/pic.png?x=1").unwrap();
/// assert_eq!(wxdl::store::temp_extension(&u, Some("application/octet-stream")), Some("png".into()));
/// ```
pub fn temp_extension(url: &Url, content_type: Option<&str>) -> Option<String> {
    content_type
        .and_then(type_extension)
        .or_else(|| url_extension(url))
        .map(str::to_string)
}

fn url_extension(url: &Url) -> Option<&str> {
    let last = url.path_segments()?.next_back()?;
    let (stem, ext) = last.rsplit_once('.')?;
    let plain = !stem.is_empty()
        && (1..=8).contains(&ext.len())
        && ext.bytes().all(|b| b.is_ascii_alphanumeric());
    plain.then_some(ext)
}

fn type_extension(content_type: &str) -> Option<&'static str> {
    let essence = content_type.split(';').next()?.trim();
    TYPES
        .iter()
        .find(|(t, _)| t.eq_ignore_ascii_case(essence))
        .map(|(_, e)| *e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(url: &str, ct: Option<&str>) -> Option<String> {
        temp_extension(&Url::parse(url).unwrap(), ct)
    }

    #[test]
    fn picks() {
        assert_eq!(ext("http://h/x.tar.gz", None).as_deref(), Some("gz"));
        assert_eq!(ext("http://h/.hidden", None), None);
        assert_eq!(ext("http://h/a.b%2Fc", None), None);
        assert_eq!(
            ext("http://h/a", Some("AUDIO/MPEG")).as_deref(),
            Some("mp3")
        );
        assert_eq!(ext("http://h/a", Some("application/x-unknown")), None);
        assert_eq!(ext("http://h/", None), None);
        // The media type wins over the URL, as in WeChat's client.
        assert_eq!(
            ext("http://h/get.php", Some("application/pdf")).as_deref(),
            Some("pdf")
        );
    }
}
