//! The file system manager's `unzip`: a zip file of the sandbox extracted into a directory
//! under `wxfile://usr`. Every entry stays inside the target (names with `..` or a root are
//! refused, as are entries through a link), links in the archive are not made, and the bytes
//! actually inflated are bounded ([`MAX_UNZIPPED`], [`MAX_ENTRIES`]) and reserved in the usr
//! quota, whatever sizes the archive claims (a zip bomb stops at the bound).

use std::io::Read;
use std::path::Path;

use serde_json::{json, Value};
use wxdl::Sandbox;

use crate::fs::{io, readable, writable, FsError};

/// The most bytes one `unzip` writes: 200 MiB (WeChat's usr limit).
pub const MAX_UNZIPPED: u64 = 200 << 20;
/// The most entries one `unzip` extracts.
pub const MAX_ENTRIES: usize = 10_000;

/// `unzip({zipFilePath, targetPath})`.
pub(crate) fn unzip(sandbox: &Sandbox, a: &Value) -> Result<Value, FsError> {
    let s = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or_default();
    let (zip_path, target_path) = (s("zipFilePath"), s("targetPath"));
    let source = readable(sandbox, zip_path, "unzip")?;
    let target = writable(sandbox, target_path)?;
    let usr = sandbox
        .usr_dir()
        .canonicalize()
        .map_err(|e| io(e, "unzip", target_path))?;
    let meta = std::fs::symlink_metadata(&target).map_err(|e| io(e, "unzip", target_path))?;
    if !meta.is_dir() {
        return Err(FsError::Io {
            source: std::io::ErrorKind::NotADirectory.into(),
            verb: "unzip",
            path: target_path.into(),
        });
    }
    let file = std::fs::File::open(&source).map_err(|e| io(e, "unzip", zip_path))?;
    let mut archive = zip::ZipArchive::new(file)
        .map_err(|e| FsError::Argument(format!("invalid zip file {zip_path}: {e}")))?;
    if archive.len() > MAX_ENTRIES {
        return Err(FsError::Argument(format!(
            "{zip_path} has more than {MAX_ENTRIES} entries"
        )));
    }
    let mut written = 0u64;
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| FsError::Argument(format!("invalid zip file {zip_path}: {e}")))?;
        let name = entry.name().to_owned();
        let Some(rel) = entry.enclosed_name() else {
            return Err(FsError::denied("unzip", &name));
        };
        let dest = target.join(&rel);
        if entry.is_symlink() {
            continue;
        }
        let dir = if entry.is_dir() {
            dest.as_path()
        } else {
            dest.parent().unwrap_or(&target)
        };
        std::fs::create_dir_all(dir).map_err(|e| io(e, "unzip", &name))?;
        // No link on the way out of usr (one already in the target directory, say).
        if !dir.canonicalize().is_ok_and(|real| real.starts_with(&usr)) {
            return Err(FsError::denied("unzip", &name));
        }
        if entry.is_dir() {
            continue;
        }
        if std::fs::symlink_metadata(&dest).is_ok_and(|m| !m.is_file()) {
            return Err(FsError::denied("unzip", &name));
        }
        let left = MAX_UNZIPPED - written;
        let mut bytes = Vec::new();
        (&mut entry)
            .take(left + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| FsError::Argument(format!("invalid zip file {zip_path}: {name}: {e}")))?;
        if bytes.len() as u64 > left {
            return Err(FsError::Argument(format!(
                "{zip_path} unzips to more than {MAX_UNZIPPED} bytes"
            )));
        }
        written += bytes.len() as u64;
        write_entry(sandbox, &dest, &bytes).map_err(|e| match e {
            FsError::Io { source, .. } => io(source, "unzip", &name),
            other => other,
        })?;
    }
    Ok(json!({}))
}

/// Writes one entry in place (atomically), its size reserved in the usr quota.
fn write_entry(sandbox: &Sandbox, dest: &Path, bytes: &[u8]) -> Result<(), FsError> {
    let room = sandbox
        .reserve(dest, bytes.len() as u64)
        .map_err(|_| FsError::Quota)?;
    wxdl::store::write_file_atomic(dest, bytes).map_err(|e| io(e, "unzip", ""))?;
    room.settle();
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use crate::fs::call as fs;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        {
            let mut z = zip::ZipWriter::new(&mut out);
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            for (name, data) in entries {
                z.start_file(*name, opts).unwrap();
                z.write_all(data).unwrap();
            }
            z.finish().unwrap();
        }
        out.into_inner()
    }

    #[test]
    fn unzips_inside_usr_only_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let sandbox = wxdl::Sandbox::open(dir.path().join("sb"), 1 << 20).unwrap();
        let usr = sandbox.usr_dir().to_path_buf();
        std::fs::create_dir(usr.join("t")).unwrap();
        std::fs::write(
            usr.join("ok.zip"),
            zip_of(&[("a/b.txt", b"hello"), ("c.txt", b"")]),
        )
        .unwrap();
        let call = |zip: &str| {
            fs(
                &sandbox,
                "unzip",
                &format!(
                    r#"{{"zipFilePath": "wxfile://usr/{zip}", "targetPath": "wxfile://usr/t"}}"#
                ),
            )
        };
        call("ok.zip").unwrap();
        assert_eq!(std::fs::read(usr.join("t/a/b.txt")).unwrap(), b"hello");
        assert!(usr.join("t/c.txt").is_file());
        // `..` out of the target: refused, nothing written beside it.
        std::fs::write(usr.join("evil.zip"), zip_of(&[("../../../evil.txt", b"x")])).unwrap();
        assert!(call("evil.zip")
            .unwrap_err()
            .to_string()
            .starts_with("permission denied"));
        assert!(!dir.path().join("evil.txt").exists());
        // A link in the target directory is not followed.
        let outside = dir.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, usr.join("t/out")).unwrap();
        std::fs::write(usr.join("link.zip"), zip_of(&[("out/x.txt", b"x")])).unwrap();
        assert!(call("link.zip")
            .unwrap_err()
            .to_string()
            .starts_with("permission denied"));
        assert!(!outside.join("x.txt").exists());
        // Two MiB of zeros inflate past the 1 MiB quota: refused with the quota's words.
        let zeros = vec![0u8; 2 << 20];
        std::fs::write(usr.join("bomb.zip"), zip_of(&[("z.bin", &zeros)])).unwrap();
        let e = call("bomb.zip").unwrap_err().to_string();
        assert_eq!(e, "the maximum size of the file storage limit is exceeded");
        assert!(!usr.join("t/z.bin").exists());
    }
}
