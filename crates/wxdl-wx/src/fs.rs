//! `wx.getFileSystemManager()` operations, confined to the `wxfile://` sandbox. Each takes and
//! returns JSON; an error is the text WeChat puts after `<op>:fail `.
//!
//! Reads are confined exactly like writes: a path is resolved, every symlink followed, and
//! refused unless its real path is still in the sandbox. `readFile` reads only regular files
//! (a FIFO would hang the run, `/dev/zero` would fill memory) and at most [`MAX_READ`] bytes at
//! once (`position` and `length` read a larger file in parts).

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde_json::{json, Value};
use wxdl::{store::USER_DATA_PATH, Sandbox};

/// Why a file system operation failed. Its text is WeChat's, after `<op>:fail `.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// Outside the sandbox, through a link out, or not a file the sandbox may touch.
    #[error("permission denied, {verb} {path}")]
    Denied { verb: &'static str, path: String },
    /// The path (or its parent) does not exist.
    #[error("no such file or directory, {verb} {path}")]
    NotFound { verb: &'static str, path: String },
    /// A directory where a file was meant.
    #[error("illegal operation on a directory, {verb} {path}")]
    Directory { verb: &'static str, path: String },
    /// The operation is not allowed on this kind of entry.
    #[error("operation not permitted, {verb} {path}")]
    NotPermitted { verb: &'static str, path: String },
    /// The usr quota (or the saved files' limit) cannot take the write.
    #[error("the maximum size of the file storage limit is exceeded")]
    Quota,
    /// A saved file that does not exist.
    #[error("file not exist")]
    NoFile,
    /// `openDocument` of a type it does not open.
    #[error("filetype not supported")]
    FileType,
    /// A bad argument (encoding, JSON).
    #[error("{0}")]
    Argument(String),
    /// An operation wxdl does not provide.
    #[error("not supported by wxdl: {0}")]
    Unsupported(String),
    /// The OS refused, in WeChat's words where it has them.
    #[error("{}", io_words(source, verb, path))]
    Io {
        source: std::io::Error,
        verb: &'static str,
        path: String,
    },
}

impl FsError {
    /// The `errCode` WeChat's `FileError` carries for this failure (miniprogram-api-typings'
    /// table: 1300002 no such file or directory, 1300013 permission denied, …).
    ///
    /// ```
    /// use wxdl_wx::fs::FsError;
    /// assert_eq!(FsError::Quota.err_code(), 1300202);
    /// assert_eq!(FsError::Argument("bad file descriptor".into()).err_code(), 1300009);
    /// ```
    pub fn err_code(&self) -> u32 {
        use std::io::ErrorKind as K;
        match self {
            FsError::Denied { .. } => 1300013,
            FsError::NotFound { .. } | FsError::NoFile => 1300002,
            FsError::Directory { .. } => 1301003,
            FsError::NotPermitted { .. } => 1300001,
            FsError::Quota => 1300202,
            FsError::FileType => 1300301,
            FsError::Unsupported(_) => 1300201,
            FsError::Argument(words) => {
                let table: [(&str, u32); 6] = [
                    ("bad file descriptor", 1300009),
                    ("invalid flag", 1302003),
                    ("invalid base64", 1300203),
                    ("decompress fail", 1301111),
                    ("invalid zip file", 1301104),
                    ("too many open files", 1302002),
                ];
                table
                    .iter()
                    .find(|(start, _)| words.starts_with(start))
                    .map_or(1300022, |&(_, code)| code)
            }
            FsError::Io { source, .. } => match source.kind() {
                K::NotFound => 1300002,
                K::PermissionDenied => 1300013,
                K::AlreadyExists => 1301005,
                K::IsADirectory => 1301003,
                K::NotADirectory => 1300020,
                K::DirectoryNotEmpty => 1300066,
                K::StorageFull => 1300202,
                K::InvalidInput => 1300022,
                _ => 1300201,
            },
        }
    }

    pub(crate) fn denied(verb: &'static str, path: &str) -> FsError {
        FsError::Denied {
            verb,
            path: path.into(),
        }
    }
}

/// WeChat's limit on the saved files of one Mini Program (`wx.saveFile`): 10 MB.
pub const MAX_SAVED: u64 = 10 * 1024 * 1024;

/// The document types `wx.openDocument` opens.
const DOCUMENT_TYPES: [&str; 7] = ["doc", "docx", "xls", "xlsx", "ppt", "pptx", "pdf"];

/// The saved files: `wxfile://store_…` path, size and creation time (s), oldest first.
fn saved_files(sandbox: &Sandbox) -> Vec<(String, u64, u64)> {
    let mut files: Vec<(String, u64, u64)> = std::fs::read_dir(sandbox.store_dir())
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    let meta = e.metadata().ok().filter(|m| m.is_file())?;
                    let name = e.file_name().into_string().ok()?;
                    let created = meta
                        .modified()
                        .ok()
                        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                        .map_or(0, |d| d.as_secs());
                    Some((format!("wxfile://{name}"), meta.len(), created))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort_by(|a, b| (a.2, &a.0).cmp(&(b.2, &b.0)));
    files
}

/// A random id for a saved file's name.
pub(crate) fn rand_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

/// The most one `readFile` returns: 100 MiB.
pub const MAX_READ: u64 = 100 << 20;

/// Runs one operation; `args` is a JSON object with WeChat's parameter names.
pub fn call(sandbox: &Sandbox, op: &str, args: &str) -> Result<String, FsError> {
    let a: Value = serde_json::from_str(args)
        .map_err(|e| FsError::Argument(format!("invalid arguments: {e}")))?;
    let s = |k: &str| a.get(k).and_then(Value::as_str);
    let out = match op {
        "access" => {
            let p = s("path").unwrap_or_default();
            readable(sandbox, p, "access")?;
            json!({})
        }
        "stat" => {
            let p = s("path").unwrap_or_default();
            let real = readable(sandbox, p, "stat")?;
            let m = std::fs::metadata(&real).map_err(|e| io(e, "stat", p))?;
            if a.get("recursive").and_then(Value::as_bool) == Some(true) && m.is_dir() {
                json!({ "recursive": crate::fs_ops::stat_tree(&real, p)? })
            } else {
                stat_json(&m)
            }
        }
        "readFile" => {
            let p = s("filePath").unwrap_or_default();
            let position = a.get("position").and_then(Value::as_u64).unwrap_or(0);
            let length = a.get("length").and_then(Value::as_u64);
            let bytes =
                read_part(&readable(sandbox, p, "open")?, position, length).map_err(|e| match e
                    .kind()
                {
                    std::io::ErrorKind::Other => FsError::Argument(format!("{e}, open {p}")),
                    _ => io(e, "open", p),
                })?;
            let bytes = &bytes[..];
            let data = match s("encoding") {
                None => base64_encode(bytes),
                Some("utf8" | "utf-8") => String::from_utf8_lossy(bytes).into_owned(),
                Some("base64") => base64_encode(bytes),
                Some("hex") => bytes.iter().map(|b| format!("{b:02x}")).collect(),
                Some("binary" | "latin1") => bytes.iter().map(|&b| b as char).collect(),
                Some(other) => return Err(FsError::Argument(format!("invalid encoding: {other}"))),
            };
            json!({ "data": data })
        }
        "writeFile" => {
            let p = s("filePath").unwrap_or_default();
            let target = writable(sandbox, p)?;
            let bytes = data_bytes(&a)?;
            if target.is_dir() {
                return Err(FsError::Directory {
                    verb: "open",
                    path: p.into(),
                });
            }
            // A link is followed only to a regular file inside usr; anything else is refused
            // (a FIFO would hang the run, a device is not a file of the sandbox).
            if let Ok(meta) = std::fs::symlink_metadata(&target) {
                let usr = sandbox
                    .usr_dir()
                    .canonicalize()
                    .map_err(|e| io(e, "open", p))?;
                let real = target.canonicalize();
                let regular_inside = real
                    .as_ref()
                    .is_ok_and(|r| r.starts_with(&usr) && r.is_file());
                if (meta.file_type().is_symlink() || !meta.is_file()) && !regular_inside {
                    return Err(FsError::denied("open", p));
                }
            }
            // Room in the one usr quota first, then the same writer as downloads: readers see
            // the old file or the whole new one.
            let room = sandbox
                .reserve(&target, bytes.len() as u64)
                .map_err(|_| FsError::Quota)?;
            wxdl::store::write_file_atomic(&target, &bytes).map_err(|e| io(e, "open", p))?;
            room.settle();
            json!({})
        }
        "unlink" => {
            let p = s("filePath").unwrap_or_default();
            let target = writable(sandbox, p)?;
            if target.is_dir() {
                return Err(FsError::NotPermitted {
                    verb: "unlink",
                    path: p.into(),
                });
            }
            std::fs::remove_file(&target).map_err(|e| io(e, "unlink", p))?;
            json!({})
        }
        "readdir" => {
            let p = s("dirPath").unwrap_or_default();
            let mut files: Vec<String> = std::fs::read_dir(readable(sandbox, p, "scandir")?)
                .map_err(|e| io(e, "scandir", p))?
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            files.sort();
            json!({ "files": files })
        }
        "mkdir" => {
            let p = s("dirPath").unwrap_or_default();
            let recursive = a.get("recursive").and_then(Value::as_bool).unwrap_or(false);
            if recursive {
                // Every missing parent is made: the nearest one that exists must be in usr.
                let target = crate::fs_ops::writable_tree(sandbox, p)?;
                std::fs::create_dir_all(&target).map_err(|e| io(e, "mkdir", p))?;
            } else {
                let target = writable(sandbox, p)?;
                std::fs::create_dir(&target).map_err(|e| io(e, "mkdir", p))?;
            }
            json!({})
        }
        // FileSystemManager.saveFile: with `filePath`, a temp file moved there (under usr);
        // without, into the saved files, as wx.saveFile.
        "saveFile" if a.get("filePath").is_some_and(|p| !p.is_null()) => {
            let from = s("tempFilePath").unwrap_or_default();
            let src = temp_source(sandbox, from)?;
            let dest_wx = s("filePath").unwrap_or_default();
            let dest = writable(sandbox, dest_wx)?;
            let size = std::fs::metadata(&src)
                .map_err(|e| io(e, "open", from))?
                .len();
            let room = sandbox.reserve(&dest, size).map_err(|_| FsError::Quota)?;
            move_file(&src, &dest).map_err(|e| io(e, "open", from))?;
            room.settle();
            json!({ "savedFilePath": dest_wx })
        }
        // wx.saveFile: a temp file moved into the saved files (`wxfile://store_…`).
        "saveFile" | "saveStore" => {
            let from = s("tempFilePath").unwrap_or_default();
            let src = temp_source(sandbox, from)?;
            let size = std::fs::metadata(&src)
                .map_err(|e| io(e, "open", from))?
                .len();
            if saved_files(sandbox).iter().map(|f| f.1).sum::<u64>() + size > MAX_SAVED {
                return Err(FsError::Quota);
            }
            let ext = src
                .extension()
                .map(|e| format!(".{}", e.to_string_lossy()))
                .unwrap_or_default();
            let name = format!("store_{:016x}{ext}", rand_id());
            move_file(&src, &sandbox.store_dir().join(&name)).map_err(|e| io(e, "open", from))?;
            json!({ "savedFilePath": format!("wxfile://{name}") })
        }
        "savedList" => {
            let list: Vec<Value> = saved_files(sandbox)
                .into_iter()
                .map(|(path, size, created)| {
                    json!({ "filePath": path, "size": size, "createTime": created })
                })
                .collect();
            json!({ "fileList": list })
        }
        "savedInfo" | "removeSaved" => {
            let p = s("filePath").unwrap_or_default();
            let found = p.starts_with(wxdl::store::STORE_PREFIX).then(|| {
                saved_files(sandbox)
                    .into_iter()
                    .find(|(path, ..)| path == p)
            });
            let Some(Some((_, size, created))) = found else {
                return Err(FsError::NoFile);
            };
            if op == "removeSaved" {
                let host = readable(sandbox, p, "unlink")?;
                std::fs::remove_file(host).map_err(|e| io(e, "unlink", p))?;
                json!({})
            } else {
                json!({ "size": size, "createTime": created })
            }
        }
        // wx.openDocument: what would be opened, checked like WeChat checks it.
        "docInfo" => {
            let p = s("filePath").unwrap_or_default();
            let host = readable(sandbox, p, "open").map_err(|_| FsError::NoFile)?;
            let meta = std::fs::metadata(&host).map_err(|_| FsError::NoFile)?;
            if !meta.is_file() {
                return Err(FsError::NoFile);
            }
            let ext = host
                .extension()
                .map(|e| e.to_string_lossy().to_ascii_lowercase())
                .unwrap_or_default();
            let kind = s("fileType").map_or(ext, str::to_ascii_lowercase);
            if !DOCUMENT_TYPES.contains(&kind.as_str()) {
                return Err(FsError::FileType);
            }
            json!({ "filePath": p, "fileType": kind, "size": meta.len() })
        }
        other => match crate::image::call(sandbox, other, &a) {
            Some(result) => result?,
            None => return crate::fs_ops::call(sandbox, other, &a),
        },
    };
    if matches!(op, "unlink" | "removeSaved") {
        sandbox.invalidate_usage();
    }
    Ok(out.to_string())
}

/// [`call`] as one JSON text for a JS face's native: the result object, or on failure
/// `{"$fail": <WeChat's words after <op>:fail>, "errCode": <FileError code>}` (the shared JS
/// throws it as an Error with `errCode`).
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let sandbox = wxdl::Sandbox::open(dir.path(), 1 << 20).unwrap();
/// let out = wxdl_wx::fs::outcome(&sandbox, "readFile", r#"{"filePath":"wxfile://usr/none"}"#);
/// assert_eq!(
///     out,
///     r#"{"$fail":"no such file or directory, open wxfile://usr/none","errCode":1300002}"#
/// );
/// ```
pub fn outcome(sandbox: &Sandbox, op: &str, args: &str) -> String {
    call(sandbox, op, args)
        .unwrap_or_else(|e| json!({ "$fail": e.to_string(), "errCode": e.err_code() }).to_string())
}

/// The host path of the temp file a save moves: only a `wxfile://tmp_…` path.
pub(crate) fn temp_source(sandbox: &Sandbox, from: &str) -> Result<PathBuf, FsError> {
    if !from.starts_with(wxdl::store::TEMP_PREFIX) {
        return Err(FsError::denied("open", from));
    }
    readable(sandbox, from, "open")
}

/// Moves a file (a copy and a removal across file systems).
fn move_file(src: &Path, dest: &Path) -> std::io::Result<()> {
    std::fs::rename(src, dest)
        .or_else(|_| std::fs::copy(src, dest).and_then(|_| std::fs::remove_file(src)))
}

/// A stat result: `{size, mode, lastAccessedTime, lastModifiedTime, isFile, isDirectory}`.
pub(crate) fn stat_json(m: &std::fs::Metadata) -> Value {
    let secs = |t: std::io::Result<std::time::SystemTime>| {
        t.ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs())
    };
    json!({
        "size": m.len(),
        "mode": mode(m),
        "lastAccessedTime": secs(m.accessed()),
        "lastModifiedTime": secs(m.modified()),
        "isFile": m.is_file(),
        "isDirectory": m.is_dir(),
    })
}

/// The bytes of a write's `data` in its `encoding` (utf8 by default, base64, binary/latin1).
pub(crate) fn data_bytes(a: &Value) -> Result<Vec<u8>, FsError> {
    let data = a.get("data").and_then(Value::as_str).unwrap_or_default();
    match a.get("encoding").and_then(Value::as_str).unwrap_or("utf8") {
        "base64" => {
            base64_decode(data).ok_or_else(|| FsError::Argument("invalid base64 data".into()))
        }
        "utf8" | "utf-8" => Ok(data.as_bytes().to_vec()),
        "binary" | "latin1" => Ok(data.chars().map(|c| c as u8).collect()),
        other => Err(FsError::Argument(format!("invalid encoding: {other}"))),
    }
}

/// The real host path of a `wxfile://` path to read: resolved, every symlink followed, and
/// refused unless it is still inside the sandbox (`usr` or `tmp`).
pub(crate) fn readable(sandbox: &Sandbox, p: &str, verb: &'static str) -> Result<PathBuf, FsError> {
    let real = host(sandbox, p)?
        .canonicalize()
        .map_err(|e| io(e, verb, p))?;
    let inside = |dir: &Path| dir.canonicalize().is_ok_and(|d| real.starts_with(d));
    if inside(sandbox.usr_dir()) || inside(sandbox.tmp_dir()) || inside(sandbox.store_dir()) {
        Ok(real)
    } else {
        Err(FsError::denied(verb, p))
    }
}

/// Reads `length` bytes (all when `None`) from `position` of a regular file, at most
/// [`MAX_READ`]; anything but a regular file is refused without blocking on it.
fn read_part(path: &Path, position: u64, length: Option<u64>) -> std::io::Result<Vec<u8>> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(std::io::ErrorKind::IsADirectory.into());
    }
    if !meta.is_file() {
        return Err(std::io::ErrorKind::PermissionDenied.into());
    }
    let start = position.min(meta.len());
    let len = length.unwrap_or(u64::MAX).min(meta.len() - start);
    if len > MAX_READ {
        return Err(std::io::Error::other(format!(
            "file too large to read at once (over {MAX_READ} bytes): read it in parts with position and length"
        )));
    }
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(len).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The host path of a `wxfile://` path, lexically (usr and tmp).
pub(crate) fn host(sandbox: &Sandbox, p: &str) -> Result<std::path::PathBuf, FsError> {
    sandbox.resolve(p).map_err(|_| FsError::denied("open", p))
}

/// The host path of a writable path: only under `wxfile://usr`, never through a symlink out.
pub(crate) fn writable(sandbox: &Sandbox, p: &str) -> Result<std::path::PathBuf, FsError> {
    if !p.starts_with(USER_DATA_PATH) {
        return Err(FsError::denied("open", p));
    }
    let target = host(sandbox, p)?;
    let parent = target.parent().unwrap_or(Path::new("/"));
    let usr = sandbox
        .usr_dir()
        .canonicalize()
        .map_err(|e| io(e, "open", p))?;
    match parent.canonicalize() {
        Ok(real) if real.starts_with(&usr) => Ok(target),
        Ok(_) => Err(FsError::denied("open", p)),
        Err(_) => Err(FsError::NotFound {
            verb: "open",
            path: p.into(),
        }),
    }
}

/// WeChat's words for an OS error.
fn io_words(e: &std::io::Error, verb: &str, p: &str) -> String {
    use std::io::ErrorKind as K;
    let what = match e.kind() {
        K::NotFound => "no such file or directory",
        K::PermissionDenied => "permission denied",
        K::AlreadyExists => "file already exists",
        K::IsADirectory => "illegal operation on a directory",
        K::NotADirectory => "not a directory",
        K::DirectoryNotEmpty => "directory not empty",
        K::StorageFull => "the maximum size of the file storage limit is exceeded",
        _ => return format!("{e}, {verb} {p}"),
    };
    format!("{what}, {verb} {p}")
}

pub(crate) fn io(e: std::io::Error, verb: &'static str, p: &str) -> FsError {
    FsError::Io {
        source: e,
        verb,
        path: p.into(),
    }
}

#[cfg(unix)]
fn mode(m: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    m.permissions().mode()
}

#[cfg(not(unix))]
fn mode(_m: &std::fs::Metadata) -> u32 {
    0
}

/// Standard base64, decoding with or without padding (what scripts hand over varies).
const BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    base64::Engine::encode(&BASE64, bytes)
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::Engine::decode(&BASE64, compact).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        for s in [
            &b""[..],
            b"f",
            b"fo",
            b"foo",
            b"foob",
            b"fooba",
            b"foobar",
            &[0, 255, 7],
        ] {
            assert_eq!(base64_decode(&base64_encode(s)).unwrap(), s);
        }
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_decode("Zm8").unwrap(), b"fo");
        assert_eq!(base64_decode("Zm9v\nYmFy").unwrap(), b"foobar");
        assert!(base64_decode("Zm9v!").is_none());
    }
}
