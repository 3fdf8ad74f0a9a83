//! Module resolution as in a Mini Program project: relative paths, then bare names from
//! `miniprogram_npm/` and `node_modules/` next to the requiring file or in its parents,
//! honouring `package.json` `miniprogram` and `main`.

use std::path::{Path, PathBuf};

/// The file `spec` names when required from a module in `from`.
pub fn resolve(from: &Path, spec: &str) -> Result<PathBuf, String> {
    let not_found = || format!("Cannot find module '{spec}' from '{}'", from.display());
    if spec.starts_with("./")
        || spec.starts_with("../")
        || spec.starts_with('/')
        || spec == "."
        || spec == ".."
    {
        return file_or_dir(&from.join(spec)).ok_or_else(not_found);
    }
    for dir in from.ancestors() {
        for sub in ["miniprogram_npm", "node_modules"] {
            let candidate = dir.join(sub).join(spec);
            if let Some(found) = file_or_dir(&candidate) {
                return Ok(found);
            }
        }
    }
    Err(not_found())
}

fn file_or_dir(p: &Path) -> Option<PathBuf> {
    if p.is_file() {
        return p.canonicalize().ok();
    }
    for ext in ["js", "json"] {
        let mut with = p.as_os_str().to_owned();
        with.push(".");
        with.push(ext);
        let with = PathBuf::from(with);
        if with.is_file() {
            return with.canonicalize().ok();
        }
    }
    if !p.is_dir() {
        return None;
    }
    if let Ok(text) = std::fs::read_to_string(p.join("package.json")) {
        if let Ok(pkg) = serde_json::from_str::<serde_json::Value>(&text) {
            for field in ["miniprogram", "main"] {
                if let Some(entry) = pkg.get(field).and_then(|v| v.as_str()) {
                    let target = p.join(entry);
                    if target != p {
                        if let Some(found) = file_or_dir(&target) {
                            return Some(found);
                        }
                    }
                }
            }
        }
    }
    ["index.js", "index.json"]
        .iter()
        .map(|i| p.join(i))
        .find(|f| f.is_file())
        .and_then(|f| f.canonicalize().ok())
}
