//! `wx.getImageInfo` and the photo album, headless: an image's width, height and type read from
//! its header only (the `imagesize` crate: no pixel is decoded), and `saveImageToPhotosAlbum` /
//! `saveVideoToPhotosAlbum` as a copy into the data directory's `album/`.

use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use wxdl::Sandbox;

use crate::fs::{readable, FsError};

/// The folder of the data directory (the sandbox root) the photo album saves copy into.
pub const ALBUM_DIR: &str = "album";

/// How much of a file is read to tell its format.
const SNIFF: u64 = 64;

/// Why an image could not be read. Its text is WeChat's, after `getImageInfo:fail `.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// No such file in the sandbox, or not a regular file there.
    #[error("file not found")]
    NotFound,
    /// A file whose header is no image format wxdl reads (png, jpeg, gif, webp, bmp, tiff).
    #[error("invalid image")]
    Invalid,
}

/// `getImageInfo`'s success fields for the sandbox file at `src` (a `wxfile://` path):
/// `{width, height, type, orientation: 'up', path}`. The type is `png`, `jpeg`, `gif`, `webp`,
/// `bmp` or `tiff`; the orientation is always `up` (EXIF is not read).
pub fn image_info(sandbox: &Sandbox, src: &str) -> Result<Value, ImageError> {
    let mut file = regular_file(sandbox, src).ok_or(ImageError::NotFound)?;
    let mut head = Vec::with_capacity(SNIFF as usize);
    (&mut file)
        .take(SNIFF)
        .read_to_end(&mut head)
        .map_err(|_| ImageError::Invalid)?;
    let kind = imagesize::image_type(&head).map_err(|_| ImageError::Invalid)?;
    let name = type_name(kind).ok_or(ImageError::Invalid)?;
    file.seek(SeekFrom::Start(0))
        .map_err(|_| ImageError::Invalid)?;
    let size = kind
        .reader_size(&mut BufReader::new(file))
        .map_err(|_| ImageError::Invalid)?;
    Ok(json!({
        "width": size.width,
        "height": size.height,
        "type": name,
        "orientation": "up",
        "path": src,
    }))
}

/// WeChat's name of an image type wxdl reads.
fn type_name(kind: imagesize::ImageType) -> Option<&'static str> {
    use imagesize::ImageType as T;
    Some(match kind {
        T::Png => "png",
        T::Jpeg => "jpeg",
        T::Gif => "gif",
        T::Webp => "webp",
        T::Bmp => "bmp",
        T::Tiff => "tiff",
        _ => return None,
    })
}

/// The regular file at a readable `wxfile://` path, opened without blocking on anything else.
fn regular_file(sandbox: &Sandbox, src: &str) -> Option<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let real = readable(sandbox, src, "open").ok()?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(real)
        .ok()?;
    file.metadata().ok().filter(|m| m.is_file()).map(|_| file)
}

/// `saveImageToPhotosAlbum` / `saveVideoToPhotosAlbum`: copies the sandbox file at `file_path`
/// into `album/` of the data directory (a name already there gets a number); the copy's host
/// path. An image must be one [`image_info`] reads.
pub fn save_to_album(sandbox: &Sandbox, file_path: &str, image: bool) -> Result<PathBuf, FsError> {
    let missing = || FsError::NotFound {
        verb: "open",
        path: file_path.into(),
    };
    let mut src = regular_file(sandbox, file_path).ok_or_else(missing)?;
    if image && image_info(sandbox, file_path).is_err() {
        return Err(FsError::Argument("invalid file type".into()));
    }
    let album = sandbox.root().join(ALBUM_DIR);
    std::fs::create_dir_all(&album).map_err(|e| crate::fs::io(e, "mkdir", ALBUM_DIR))?;
    let name = file_path.rsplit('/').next().unwrap_or("file");
    let dest = free_name(&album, name);
    let mut out = std::fs::File::create_new(&dest).map_err(|e| crate::fs::io(e, "open", name))?;
    std::io::copy(&mut src, &mut out).map_err(|e| crate::fs::io(e, "open", file_path))?;
    Ok(dest)
}

/// `dir/name`, or `dir/stem-2.ext`, `-3`, … when taken (at most 10 000 tries, then a random
/// name).
fn free_name(dir: &Path, name: &str) -> PathBuf {
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name, ""),
    };
    std::iter::once(dir.join(name))
        .chain((2..10_000).map(|n| dir.join(format!("{stem}-{n}{ext}"))))
        .find(|p| !p.exists())
        .unwrap_or_else(|| dir.join(format!("{stem}-{:016x}{ext}", crate::fs::rand_id())))
}

/// The JSON results of the image operations the file system native runs (`imageInfo`,
/// `saveToAlbum`); `None` for another operation.
pub(crate) fn call(sandbox: &Sandbox, op: &str, a: &Value) -> Option<Result<Value, FsError>> {
    let s = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or_default();
    Some(match op {
        "imageInfo" => image_info(sandbox, s("src")).map_err(|e| FsError::Argument(e.to_string())),
        "saveToAlbum" => {
            save_to_album(sandbox, s("filePath"), a.get("image") == Some(&json!(true)))
                .map(|p| json!({ "album": p.to_string_lossy() }))
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3×2 PNG's first bytes: the signature and the IHDR chunk.
    const PNG_3X2: &[u8] = &[
        0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, b'I', b'H', b'D', b'R', 0, 0,
        0, 3, 0, 0, 0, 2, 8, 2, 0, 0, 0, 0, 0, 0, 0,
    ];

    fn sandbox() -> (tempfile::TempDir, Sandbox) {
        let dir = tempfile::tempdir().unwrap();
        let sandbox = Sandbox::open(dir.path(), 1 << 20).unwrap();
        (dir, sandbox)
    }

    #[test]
    fn reads_a_header_and_names_failures_as_wechat() {
        let (_dir, sandbox) = sandbox();
        std::fs::write(sandbox.usr_dir().join("a.png"), PNG_3X2).unwrap();
        std::fs::write(sandbox.usr_dir().join("a.txt"), "not an image at all").unwrap();
        let info = image_info(&sandbox, "wxfile://usr/a.png").unwrap();
        assert_eq!(
            info,
            json!({"width": 3, "height": 2, "type": "png", "orientation": "up", "path": "wxfile://usr/a.png"})
        );
        let words = |p: &str| image_info(&sandbox, p).unwrap_err().to_string();
        assert_eq!(words("wxfile://usr/a.txt"), "invalid image");
        assert_eq!(words("wxfile://usr/none.png"), "file not found");
        assert_eq!(words("wxfile://usr"), "file not found");
        assert_eq!(words("wxfile://usr/../../etc/passwd"), "file not found");
    }

    #[test]
    fn album_copies_get_free_names() {
        let (_dir, sandbox) = sandbox();
        std::fs::write(sandbox.usr_dir().join("a.png"), PNG_3X2).unwrap();
        let first = save_to_album(&sandbox, "wxfile://usr/a.png", true).unwrap();
        let second = save_to_album(&sandbox, "wxfile://usr/a.png", true).unwrap();
        assert_eq!(first, sandbox.root().join("album/a.png"));
        assert_eq!(second, sandbox.root().join("album/a-2.png"));
        assert_eq!(std::fs::read(second).unwrap(), PNG_3X2);
        std::fs::write(sandbox.usr_dir().join("v.mp4"), "not checked").unwrap();
        assert!(save_to_album(&sandbox, "wxfile://usr/v.mp4", false).is_ok());
        assert!(save_to_album(&sandbox, "wxfile://usr/v.mp4", true).is_err());
    }
}
