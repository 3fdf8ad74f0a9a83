//! What the CLI keeps between runs in its data directory: the network-quality estimator's
//! observations and the HTTP/3 advertisements learned (versioned JSON; a corrupt or foreign
//! file is ignored with a warning, never a crash).

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use wxdl::quality::{AltSvcEntry, EstimatorState};

/// The estimator state file inside the data directory.
const NQE_FILE: &str = "network-quality.json";
/// The learned Alt-Svc file inside the data directory.
const ALT_SVC_FILE: &str = "alt-svc.json";
/// Version of the Alt-Svc file format.
const ALT_SVC_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct AltSvcFile {
    version: u32,
    entries: Vec<AltSvcEntry>,
}

/// The data directory: `--data-dir`, else `$WXDL_DATA_DIR`, else `wxdl` under the user's data
/// directory.
pub fn data_dir(flag: Option<&Path>) -> PathBuf {
    if let Some(dir) = flag {
        return dir.to_path_buf();
    }
    if let Some(dir) = std::env::var_os("WXDL_DATA_DIR") {
        return PathBuf::from(dir);
    }
    dirs::data_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("wxdl")
}

/// Reads and parses a state file; `None` when absent, or (with a warning) when unreadable,
/// corrupt, or of another version.
fn load<T: DeserializeOwned>(
    dir: &Path,
    name: &str,
    version_of: impl Fn(&T) -> u32,
    want: u32,
) -> Option<T> {
    let path = dir.join(name);
    let text = match read_regular(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            eprintln!("wxdl: warning: ignoring {}: {e}", path.display());
            return None;
        }
    };
    match serde_json::from_str::<T>(&text) {
        Ok(v) if version_of(&v) == want => Some(v),
        Ok(v) => {
            eprintln!(
                "wxdl: warning: ignoring {}: version {} (expected {want})",
                path.display(),
                version_of(&v)
            );
            None
        }
        Err(e) => {
            eprintln!("wxdl: warning: ignoring corrupt {}: {e}", path.display());
            None
        }
    }
}

/// A state file's text, read only from a regular file of a sane size: opened without blocking
/// (a FIFO there must not hang the run) and checked before reading (nor a device fill memory).
fn read_regular(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    const MAX_STATE_BYTES: u64 = 16 << 20;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    if meta.len() > MAX_STATE_BYTES {
        return Err(std::io::Error::other(
            "larger than any state file wxdl writes",
        ));
    }
    let mut text = String::new();
    file.take(MAX_STATE_BYTES).read_to_string(&mut text)?;
    Ok(text)
}

/// Writes a state file atomically. Failure is reported, never fatal.
fn save<T: Serialize>(dir: &Path, name: &str, value: &T) {
    let path = dir.join(name);
    let result = (|| {
        std::fs::create_dir_all(dir)?;
        if std::fs::metadata(&path).is_ok_and(|m| !m.is_file()) {
            return Err(std::io::Error::other("not a regular file; left alone"));
        }
        let text = serde_json::to_vec(value).map_err(std::io::Error::other)?;
        wxdl::store::write_file_atomic(&path, &text)
    })();
    if let Err(e) = result {
        eprintln!("wxdl: warning: could not save {}: {e}", path.display());
    }
}

/// Loads the estimator state.
pub fn load_estimator(dir: &Path) -> Option<EstimatorState> {
    load(
        dir,
        NQE_FILE,
        |s: &EstimatorState| s.version,
        wxdl::quality::ESTIMATOR_STATE_VERSION,
    )
}

/// Saves the estimator state.
pub fn save_estimator(dir: &Path, state: &EstimatorState) {
    save(dir, NQE_FILE, state);
}

/// Loads the learned HTTP/3 advertisements.
pub fn load_alt_svc(dir: &Path) -> Option<Vec<AltSvcEntry>> {
    load(
        dir,
        ALT_SVC_FILE,
        |f: &AltSvcFile| f.version,
        ALT_SVC_VERSION,
    )
    .map(|f| f.entries)
}

/// Saves the learned HTTP/3 advertisements.
pub fn save_alt_svc(dir: &Path, entries: &[AltSvcEntry]) {
    save(
        dir,
        ALT_SVC_FILE,
        &AltSvcFile {
            version: ALT_SVC_VERSION,
            entries: entries.to_vec(),
        },
    );
}
