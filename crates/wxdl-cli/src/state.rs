//! What the CLI keeps between runs in its data directory: the network-quality estimator's
//! observations (versioned JSON; a corrupt or foreign file is ignored with a warning).

use std::path::{Path, PathBuf};

use wxdl::EstimatorState;

/// The estimator state file inside the data directory.
const NQE_FILE: &str = "network-quality.json";

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

/// Loads the estimator state; `None` when absent, or (with a warning) when unusable.
pub fn load_estimator(dir: &Path) -> Option<EstimatorState> {
    let path = dir.join(NQE_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            eprintln!("wxdl: warning: ignoring {}: {e}", path.display());
            return None;
        }
    };
    match serde_json::from_str::<EstimatorState>(&text) {
        Ok(s) if s.version == wxdl::ESTIMATOR_STATE_VERSION => Some(s),
        Ok(s) => {
            eprintln!(
                "wxdl: warning: ignoring {}: version {} (expected {})",
                path.display(),
                s.version,
                wxdl::ESTIMATOR_STATE_VERSION
            );
            None
        }
        Err(e) => {
            eprintln!("wxdl: warning: ignoring corrupt {}: {e}", path.display());
            None
        }
    }
}

/// Saves the estimator state (atomically). Failure is reported, never fatal.
pub fn save_estimator(dir: &Path, state: &EstimatorState) {
    let path = dir.join(NQE_FILE);
    let result = (|| {
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!("{NQE_FILE}.part"));
        std::fs::write(
            &tmp,
            serde_json::to_vec(state).map_err(std::io::Error::other)?,
        )?;
        std::fs::rename(&tmp, &path)
    })();
    if let Err(e) = result {
        eprintln!("wxdl: warning: could not save {}: {e}", path.display());
    }
}
