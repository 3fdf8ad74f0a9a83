//! The file system manager's file descriptors: `open` (WeChat's flags), `read`, `write`,
//! `fstat`, `ftruncate` and `close`. A descriptor is a string naming an open file of one
//! sandbox; it is confined as [`crate::fs`] paths are: read-only opens read inside the sandbox,
//! any other flag opens under `wxfile://usr` only, never through a link, and every write's
//! growth is in the usr quota. At most [`MAX_OPEN`] descriptors are open at once.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

use serde_json::{json, Value};
use wxdl::Sandbox;

use crate::fs::{data_bytes, io, readable, stat_json, writable, FsError, MAX_READ};

/// The most descriptors open at once (in this process).
pub const MAX_OPEN: usize = 1024;

/// An open file: which sandbox it belongs to, its host and `wxfile://` paths, how it may be used.
struct Open {
    root: PathBuf,
    file: File,
    host: PathBuf,
    path: String,
    writable: bool,
}

static OPEN: Mutex<(u64, Option<HashMap<String, Open>>)> = Mutex::new((0, None));

/// Runs one descriptor operation; an error is WeChat's text after `<op>:fail `.
pub(crate) fn call(sandbox: &Sandbox, op: &str, a: &Value) -> Result<Value, FsError> {
    let mut guard = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
    let (next, table) = &mut *guard;
    let table = table.get_or_insert_with(HashMap::new);
    if op == "open" {
        let p = a
            .get("filePath")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let flag = a.get("flag").and_then(Value::as_str).unwrap_or("r");
        if table.len() >= MAX_OPEN {
            return Err(FsError::Argument(format!(
                "too many open files (at most {MAX_OPEN})"
            )));
        }
        let open = open(sandbox, p, flag)?;
        *next += 1;
        let fd = next.to_string();
        table.insert(fd.clone(), open);
        return Ok(json!({ "fd": fd }));
    }
    let fd = match a.get("fd") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let bad = || FsError::Argument("bad file descriptor".into());
    let entry = table
        .get_mut(&fd)
        .filter(|o| o.root == sandbox.root())
        .ok_or_else(bad)?;
    let num = |k: &str| a.get(k).and_then(Value::as_u64);
    Ok(match op {
        "close" => {
            table.remove(&fd);
            json!({})
        }
        "fstat" => {
            let m = entry.file.metadata().map_err(|e| io(e, "fstat", &fd))?;
            stat_json(&m)
        }
        "read" => {
            let length = num("length").unwrap_or(0).min(MAX_READ);
            if let Some(position) = num("position") {
                entry
                    .file
                    .seek(SeekFrom::Start(position))
                    .map_err(|e| io(e, "read", &entry.path))?;
            }
            let mut bytes = Vec::with_capacity(length as usize);
            (&entry.file)
                .take(length)
                .read_to_end(&mut bytes)
                .map_err(|e| io(e, "read", &entry.path))?;
            json!({ "bytesRead": bytes.len(), "data": crate::fs::base64_encode(&bytes) })
        }
        "write" | "ftruncate" => {
            if !entry.writable {
                return Err(FsError::Argument(
                    "bad file descriptor: open for reading".into(),
                ));
            }
            let size = entry
                .file
                .metadata()
                .map_err(|e| io(e, "write", &entry.path))?
                .len();
            if op == "ftruncate" {
                let length = num("length").unwrap_or(0);
                let room = sandbox
                    .reserve(&entry.host, length)
                    .map_err(|_| FsError::Quota)?;
                entry
                    .file
                    .set_len(length)
                    .map_err(|e| io(e, "ftruncate", &entry.path))?;
                room.settle();
                sandbox.invalidate_usage();
                json!({})
            } else {
                let bytes = data_bytes(a)?;
                let at = match num("position") {
                    Some(p) => p,
                    None => entry
                        .file
                        .stream_position()
                        .map_err(|e| io(e, "write", &entry.path))?,
                };
                let end = (at + bytes.len() as u64).max(size);
                let room = sandbox
                    .reserve(&entry.host, end)
                    .map_err(|_| FsError::Quota)?;
                if num("position").is_some() {
                    entry
                        .file
                        .seek(SeekFrom::Start(at))
                        .map_err(|e| io(e, "write", &entry.path))?;
                }
                entry
                    .file
                    .write_all(&bytes)
                    .map_err(|e| io(e, "write", &entry.path))?;
                room.settle();
                json!({ "bytesWritten": bytes.len() })
            }
        }
        other => return Err(FsError::Unsupported(format!("FileSystemManager.{other}"))),
    })
}

/// Opens `p` with one of WeChat's flags (`r`, `r+`, `w`, `wx`, `w+`, `wx+`, `a`, `ax`, `a+`,
/// `ax+`, `as`, `as+`).
fn open(sandbox: &Sandbox, p: &str, flag: &str) -> Result<Open, FsError> {
    let mut o = std::fs::OpenOptions::new();
    o.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_NOFOLLOW);
    let exclusive = flag.contains('x');
    match flag.replace(['x', 's'], "").as_str() {
        "r" => o.read(true),
        "r+" => o.read(true).write(true),
        "w" => o.write(true).create(true).truncate(true),
        "w+" => o.read(true).write(true).create(true).truncate(true),
        "a" => o.append(true).create(true),
        "a+" => o.read(true).append(true).create(true),
        _ => return Err(FsError::Argument(format!("invalid flag: {flag}"))),
    };
    if exclusive {
        o.create_new(true);
    }
    let write = flag != "r";
    let host = if write {
        writable(sandbox, p)?
    } else {
        readable(sandbox, p, "open")?
    };
    let file = o.open(&host).map_err(|e| match e.raw_os_error() {
        Some(libc::ELOOP) => FsError::denied("open", p),
        _ => io(e, "open", p),
    })?;
    let meta = file.metadata().map_err(|e| io(e, "open", p))?;
    crate::fs_ops::regular_file(&meta, p)?;
    if flag.starts_with('w') {
        sandbox.invalidate_usage();
    }
    Ok(Open {
        root: sandbox.root().to_path_buf(),
        file,
        host,
        path: p.into(),
        writable: write,
    })
}

#[cfg(test)]
mod tests {
    use crate::fs::call as fs;

    #[test]
    fn descriptors_are_confined_to_their_sandbox_and_flag() {
        let dir = tempfile::tempdir().unwrap();
        let open = |name: &str| {
            wxdl::Sandbox::open(dir.path().join(name), wxdl::store::DEFAULT_USR_QUOTA).unwrap()
        };
        let (one, two) = (open("one"), open("two"));
        std::fs::write(dir.path().join("theirs.txt"), "theirs").unwrap();
        std::os::unix::fs::symlink(dir.path().join("theirs.txt"), one.usr_dir().join("link"))
            .unwrap();
        let e = fs(
            &one,
            "open",
            r#"{"filePath": "wxfile://usr/link", "flag": "w"}"#,
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("permission denied"), "{e}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("theirs.txt")).unwrap(),
            "theirs"
        );
        std::fs::write(one.usr_dir().join("mine.txt"), "mine").unwrap();
        let fd: serde_json::Value = serde_json::from_str(
            &fs(&one, "open", r#"{"filePath": "wxfile://usr/mine.txt"}"#).unwrap(),
        )
        .unwrap();
        let args = format!(r#"{{"fd": {}, "data": "x"}}"#, fd["fd"]);
        let e = fs(&one, "write", &args).unwrap_err();
        assert_eq!(e.to_string(), "bad file descriptor: open for reading");
        let e = fs(&two, "fstat", &args).unwrap_err();
        assert_eq!(e.to_string(), "bad file descriptor", "another sandbox's");
        fs(&one, "close", &args).unwrap();
        assert!(fs(&one, "fstat", &args).is_err());
    }
}
