//! The file system manager's operations beyond reading and writing one file: `getFileInfo`
//! (size and md5/sha1 digest), `copyFile`, `rename`, `rmdir` (recursive), `appendFile`,
//! `truncate`, `readCompressedFile` (brotli, bounded as `readFile` is), a recursive `mkdir`'s
//! check and a recursive `stat`'s walk. Each is confined as
//! [`crate::fs`] is: reads inside the sandbox, changes only under `wxfile://usr`, never through
//! a link out, every growth in the usr quota.

#[cfg(feature = "fs-codecs")]
use std::io::Read;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};
use wxdl::{store::USER_DATA_PATH, Sandbox};

use crate::fs::{
    data_bytes, host, io, rand_id, readable, stat_json, temp_source, writable, FsError,
};

/// The most entries a recursive `stat` reports.
pub const MAX_STAT_ENTRIES: usize = 100_000;

/// Runs one of this module's operations (`args` already parsed); an error is WeChat's text
/// after `<op>:fail `.
pub(crate) fn call(sandbox: &Sandbox, op: &str, a: &Value) -> Result<String, FsError> {
    let s = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or_default();
    let out = match op {
        #[cfg(feature = "fs-codecs")]
        "getFileInfo" => {
            let p = s("filePath");
            let real = readable(sandbox, p, "open")?;
            let (size, digest) = digest(&real, a.get("digestAlgorithm").and_then(Value::as_str))
                .map_err(|e| match e.kind() {
                    std::io::ErrorKind::InvalidInput => FsError::Argument(e.to_string()),
                    _ => io(e, "open", p),
                })?;
            json!({ "size": size, "digest": digest })
        }
        "copyFile" => {
            let (from, to) = (s("srcPath"), s("destPath"));
            let src = readable(sandbox, from, "copyfile")?;
            if src.is_dir() {
                return Err(FsError::NotPermitted {
                    verb: "copyfile",
                    path: from.into(),
                });
            }
            let dest = plain_target(sandbox, to, "copyfile")?;
            let size = std::fs::metadata(&src)
                .map_err(|e| io(e, "copyfile", from))?
                .len();
            let room = sandbox.reserve(&dest, size).map_err(|_| FsError::Quota)?;
            copy_into_place(&src, &dest).map_err(|e| io(e, "copyfile", to))?;
            room.settle();
            json!({})
        }
        "rename" => {
            let (from, to) = (s("oldPath"), s("newPath"));
            let src = if from.starts_with(wxdl::store::TEMP_PREFIX) {
                temp_source(sandbox, from)?
            } else {
                writable(sandbox, from)?
            };
            let meta = std::fs::symlink_metadata(&src).map_err(|e| io(e, "rename", from))?;
            let dest = plain_target(sandbox, to, "rename")?;
            let room = sandbox
                .reserve(&dest, if meta.is_file() { meta.len() } else { 0 })
                .map_err(|_| FsError::Quota)?;
            std::fs::rename(&src, &dest).map_err(|e| io(e, "rename", from))?;
            room.settle();
            json!({})
        }
        "rmdir" => {
            let p = s("dirPath");
            let target = writable(sandbox, p)?;
            let meta = std::fs::symlink_metadata(&target).map_err(|e| io(e, "rmdir", p))?;
            if !meta.is_dir() {
                return Err(FsError::Io {
                    source: std::io::ErrorKind::NotADirectory.into(),
                    verb: "rmdir",
                    path: p.into(),
                });
            }
            let r = if a.get("recursive").and_then(Value::as_bool) == Some(true) {
                std::fs::remove_dir_all(&target)
            } else {
                std::fs::remove_dir(&target)
            };
            r.map_err(|e| io(e, "rmdir", p))?;
            json!({})
        }
        "appendFile" | "truncate" => {
            let p = s("filePath");
            let target = existing_file(sandbox, p)?;
            let old = std::fs::metadata(&target)
                .map_err(|e| io(e, "open", p))?
                .len();
            if op == "appendFile" {
                let bytes = data_bytes(a)?;
                let room = sandbox
                    .reserve(&target, old + bytes.len() as u64)
                    .map_err(|_| FsError::Quota)?;
                std::fs::OpenOptions::new()
                    .append(true)
                    .open(&target)
                    .and_then(|mut f| f.write_all(&bytes))
                    .map_err(|e| io(e, "open", p))?;
                room.settle();
            } else {
                let length = a.get("length").and_then(Value::as_u64).unwrap_or(0);
                let room = sandbox
                    .reserve(&target, length)
                    .map_err(|_| FsError::Quota)?;
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&target)
                    .and_then(|f| f.set_len(length))
                    .map_err(|e| io(e, "open", p))?;
                room.settle();
            }
            json!({})
        }
        #[cfg(feature = "fs-codecs")]
        "unzip" => crate::fs_unzip::unzip(sandbox, a)?,
        #[cfg(feature = "fs-codecs")]
        "readCompressedFile" => {
            let p = s("filePath");
            let algorithm = s("compressionAlgorithm");
            if algorithm != "br" {
                return Err(FsError::Argument(format!(
                    "invalid compressionAlgorithm: {algorithm} (only br)"
                )));
            }
            let real = readable(sandbox, p, "open")?;
            let file = std::fs::File::open(&real).map_err(|e| io(e, "open", p))?;
            if !file.metadata().map_err(|e| io(e, "open", p))?.is_file() {
                return Err(FsError::denied("open", p));
            }
            let mut bytes = Vec::new();
            brotli_decompressor::Decompressor::new(file, 64 * 1024)
                .take(crate::fs::MAX_READ + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| FsError::Argument(format!("decompress fail: {e}")))?;
            if bytes.len() as u64 > crate::fs::MAX_READ {
                return Err(FsError::Argument(format!(
                    "{p} decompresses to more than {} bytes",
                    crate::fs::MAX_READ
                )));
            }
            json!({ "data": crate::fs::base64_encode(&bytes) })
        }
        "open" | "close" | "fstat" | "read" | "write" | "ftruncate" => {
            crate::fs_fds::call(sandbox, op, a)?
        }
        other => return Err(FsError::Unsupported(format!("FileSystemManager.{other}"))),
    };
    if matches!(op, "rmdir" | "truncate") {
        sandbox.invalidate_usage();
    }
    Ok(out.to_string())
}

/// `(size, hex digest)` of a regular file, md5 by default or sha1.
#[cfg(feature = "fs-codecs")]
fn digest(path: &Path, algorithm: Option<&str>) -> std::io::Result<(u64, String)> {
    use md5::Digest;
    enum Hasher {
        Md5(md5::Md5),
        Sha1(sha1::Sha1),
    }
    let mut hasher = match algorithm.unwrap_or("md5") {
        "md5" => Hasher::Md5(md5::Md5::new()),
        "sha1" => Hasher::Sha1(sha1::Sha1::new()),
        other => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("invalid digestAlgorithm: {other}"),
            ))
        }
    };
    let mut file = std::fs::File::open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::ErrorKind::IsADirectory.into());
    }
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        match &mut hasher {
            Hasher::Md5(h) => h.update(&buf[..n]),
            Hasher::Sha1(h) => h.update(&buf[..n]),
        }
    }
    let bytes = match hasher {
        Hasher::Md5(h) => h.finalize().to_vec(),
        Hasher::Sha1(h) => h.finalize().to_vec(),
    };
    Ok((size, bytes.iter().map(|b| format!("{b:02x}")).collect()))
}

/// A destination under usr that is not a directory, a link or anything but a regular file.
fn plain_target(sandbox: &Sandbox, p: &str, verb: &'static str) -> Result<PathBuf, FsError> {
    let dest = writable(sandbox, p)?;
    if let Ok(meta) = std::fs::symlink_metadata(&dest) {
        if meta.is_dir() {
            return Err(FsError::Directory {
                verb,
                path: p.into(),
            });
        }
        if !meta.is_file() {
            return Err(FsError::denied(verb, p));
        }
    }
    Ok(dest)
}

/// An existing regular file under usr (not through a link).
fn existing_file(sandbox: &Sandbox, p: &str) -> Result<PathBuf, FsError> {
    let target = writable(sandbox, p)?;
    let meta = std::fs::symlink_metadata(&target).map_err(|e| io(e, "open", p))?;
    regular_file(&meta, p)?;
    Ok(target)
}

/// `illegal operation on a directory` for a directory, `permission denied` for anything but a
/// regular file (a link, a FIFO, a device).
pub(crate) fn regular_file(meta: &std::fs::Metadata, p: &str) -> Result<(), FsError> {
    if meta.is_dir() {
        return Err(FsError::Directory {
            verb: "open",
            path: p.into(),
        });
    }
    if !meta.is_file() {
        return Err(FsError::denied("open", p));
    }
    Ok(())
}

/// Copies `src` to a private file beside `dest`, then renames it into place: readers see the
/// old file or the whole copy.
fn copy_into_place(src: &Path, dest: &Path) -> std::io::Result<()> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    // Named as the engine names its private files (`.wxdl-…tmp`): no wxfile path reaches it.
    let private = dir.join(format!(".wxdl-copy-{:016x}.tmp", rand_id()));
    let copied = std::fs::copy(src, &private).and_then(|_| std::fs::rename(&private, dest));
    if copied.is_err() {
        let _ = std::fs::remove_file(&private);
    }
    copied.map(|_| ())
}

/// The host path of a directory a recursive `mkdir` makes: under usr, its nearest existing
/// ancestor's real path inside usr.
pub(crate) fn writable_tree(sandbox: &Sandbox, p: &str) -> Result<PathBuf, FsError> {
    if !p.starts_with(USER_DATA_PATH) {
        return Err(FsError::denied("mkdir", p));
    }
    let target = host(sandbox, p)?;
    let usr = sandbox
        .usr_dir()
        .canonicalize()
        .map_err(|e| io(e, "mkdir", p))?;
    let existing = target
        .ancestors()
        .find(|a| std::fs::symlink_metadata(a).is_ok())
        .unwrap_or(Path::new("/"));
    match existing.canonicalize() {
        Ok(real) if real.starts_with(&usr) => Ok(target),
        _ => Err(FsError::denied("mkdir", p)),
    }
}

/// A recursive `stat` of the directory `real` (`wxfile` path `p`): `{"/": stats, "/a.txt":
/// stats, "/sub/b": stats, …}` keyed by the path below `p`, links not followed, at most
/// [`MAX_STAT_ENTRIES`] entries.
pub(crate) fn stat_tree(real: &Path, p: &str) -> Result<Value, FsError> {
    let mut out = Map::new();
    let mut pending = vec![(real.to_path_buf(), String::new())];
    while let Some((dir, rel)) = pending.pop() {
        let meta = std::fs::symlink_metadata(&dir).map_err(|e| io(e, "stat", p))?;
        out.insert(
            if rel.is_empty() {
                "/".into()
            } else {
                rel.clone()
            },
            stat_json(&meta),
        );
        if !meta.is_dir() {
            continue;
        }
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .map_err(|e| io(e, "stat", p))?
            .flatten()
            .map(|e| (e.path(), e.file_name().to_string_lossy().into_owned()))
            .collect();
        entries.sort();
        for (path, name) in entries.into_iter().rev() {
            if out.len() + pending.len() >= MAX_STAT_ENTRIES {
                return Err(FsError::Argument(format!(
                    "more than {MAX_STAT_ENTRIES} entries under {p}"
                )));
            }
            pending.push((path, format!("{rel}/{name}")));
        }
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use crate::fs::call as fs;

    #[test]
    fn changes_stay_in_usr_and_never_go_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("f.txt"), "theirs").unwrap();
        let sandbox =
            wxdl::Sandbox::open(dir.path().join("sb"), wxdl::store::DEFAULT_USR_QUOTA).unwrap();
        std::os::unix::fs::symlink(&outside, sandbox.usr_dir().join("out")).unwrap();
        std::os::unix::fs::symlink(outside.join("f.txt"), sandbox.usr_dir().join("f.txt")).unwrap();
        let refused = |op: &str, args: &str| {
            let e = fs(&sandbox, op, args).unwrap_err().to_string();
            assert!(e.starts_with("permission denied"), "{op} {args}: {e}");
        };
        refused(
            "mkdir",
            r#"{"dirPath": "wxfile://usr/out/a/b", "recursive": true}"#,
        );
        refused("rmdir", r#"{"dirPath": "wxfile://usr", "recursive": true}"#);
        refused(
            "appendFile",
            r#"{"filePath": "wxfile://usr/f.txt", "data": "x"}"#,
        );
        refused("truncate", r#"{"filePath": "wxfile://usr/f.txt"}"#);
        std::fs::write(sandbox.usr_dir().join("mine.txt"), "mine").unwrap();
        refused(
            "copyFile",
            r#"{"srcPath": "wxfile://usr/mine.txt", "destPath": "wxfile://usr/f.txt"}"#,
        );
        // rmdir of the link removes nothing behind it.
        let e = fs(
            &sandbox,
            "rmdir",
            r#"{"dirPath": "wxfile://usr/out", "recursive": true}"#,
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("not a directory"), "{e}");
        assert_eq!(
            std::fs::read_to_string(outside.join("f.txt")).unwrap(),
            "theirs"
        );
        assert!(!outside.join("a").exists());
    }

    #[test]
    fn read_compressed_file_takes_brotli_only() {
        let dir = tempfile::tempdir().unwrap();
        let sandbox =
            wxdl::Sandbox::open(dir.path().join("sb"), wxdl::store::DEFAULT_USR_QUOTA).unwrap();
        std::fs::write(sandbox.usr_dir().join("plain.txt"), "not brotli at all").unwrap();
        let call = |algorithm: &str| {
            fs(
                &sandbox,
                "readCompressedFile",
                &format!(
                    r#"{{"filePath": "wxfile://usr/plain.txt", "compressionAlgorithm": "{algorithm}"}}"#
                ),
            )
            .unwrap_err()
            .to_string()
        };
        assert_eq!(call("gzip"), "invalid compressionAlgorithm: gzip (only br)");
        assert!(call("br").starts_with("decompress fail"), "{}", call("br"));
    }
}
