//! The URL list of a batch (`-i FILE`), streamed: one URL per line, blank lines and `#` comments
//! skipped, each line bounded, so a list of any length (or `/dev/zero`) runs in flat memory.

use std::io::{BufRead, BufReader, Read};

/// A line longer than this is not a URL anyone meant: the list is refused there.
pub const MAX_LINE: usize = 64 * 1024;

/// The URLs of a list, read as they are needed.
pub struct UrlLines<R> {
    reader: BufReader<R>,
    line: usize,
    buf: Vec<u8>,
}

impl<R: Read> UrlLines<R> {
    pub fn new(source: R) -> Self {
        UrlLines {
            reader: BufReader::new(source),
            line: 0,
            buf: Vec::new(),
        }
    }
}

impl<R: Read> Iterator for UrlLines<R> {
    /// A URL, or why the list cannot be read past this line.
    type Item = Result<String, String>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.buf.clear();
            self.line += 1;
            let limit = (MAX_LINE + 1) as u64;
            let n = match (&mut self.reader)
                .take(limit)
                .read_until(b'\n', &mut self.buf)
            {
                Ok(0) => return None,
                Ok(n) => n,
                Err(e) => return Some(Err(format!("line {}: {e}", self.line))),
            };
            if n > MAX_LINE && self.buf.last() != Some(&b'\n') {
                return Some(Err(format!(
                    "line {} is longer than {MAX_LINE} bytes",
                    self.line
                )));
            }
            let Ok(text) = std::str::from_utf8(&self.buf) else {
                return Some(Err(format!("line {} is not UTF-8", self.line)));
            };
            let url = text.trim();
            if !url.is_empty() && !url.starts_with('#') {
                return Some(Ok(url.to_owned()));
            }
        }
    }
}

/// How many URLs a list holds (for the progress bar), read once without keeping them; `None`
/// when it cannot be read to its end within the bounds.
pub fn count(path: &std::path::Path) -> Option<u64> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() {
        return None;
    }
    let file = std::fs::File::open(path).ok()?;
    UrlLines::new(file).try_fold(0u64, |n, url| url.ok().map(|_| n + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_blanks_and_comments_and_bounds_lines() {
        let text = b"http://a/1\n\n  # note\n http://a/2 \r\nhttp://a/3";
        let urls: Vec<_> = UrlLines::new(&text[..]).collect();
        assert_eq!(
            urls,
            [
                Ok("http://a/1".to_string()),
                Ok("http://a/2".to_string()),
                Ok("http://a/3".to_string())
            ]
        );
        let endless = std::io::repeat(0).take(10 * MAX_LINE as u64);
        let first = UrlLines::new(endless).next().unwrap();
        assert_eq!(
            first,
            Err(format!("line 1 is longer than {MAX_LINE} bytes"))
        );
        let exact = vec![b'x'; MAX_LINE];
        assert!(UrlLines::new(&exact[..]).next().unwrap().is_ok());
    }
}
