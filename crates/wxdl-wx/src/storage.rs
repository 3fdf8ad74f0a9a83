//! `wx.setStorage` and friends: a Mini Program's key-value storage, persisted per appid in a
//! JSON file beside the sandbox, with WeChat's limits (1 MB per key, 10 MB in all) and its
//! error texts. Values are kept as their JSON text; each change is written atomically.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::json;

/// WeChat's limit on one key's data.
pub const MAX_ITEM: usize = 1024 * 1024;
/// WeChat's limit on one Mini Program's storage.
pub const MAX_TOTAL: usize = 10 * 1024 * 1024;

/// One Mini Program's storage.
#[derive(Debug)]
pub struct Storage {
    path: PathBuf,
    items: BTreeMap<String, String>,
}

impl Storage {
    /// The storage of `appid` under `dir` (read now; an unreadable file starts empty).
    pub fn open(dir: PathBuf, appid: &str) -> Storage {
        let safe: String = appid
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = dir.join(format!("{safe}.json"));
        let items = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        Storage { path, items }
    }

    fn size(&self) -> usize {
        self.items.iter().map(|(k, v)| k.len() + v.len()).sum()
    }

    fn save(&self) -> Result<(), String> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        let text = serde_json::to_vec(&self.items).map_err(|e| e.to_string())?;
        wxdl::store::write_file_atomic(&self.path, &text).map_err(|e| e.to_string())
    }

    /// Runs one operation (`set`, `get`, `remove`, `clear`, `info`) with JSON arguments; an
    /// error is the text WeChat puts after `<api>:fail `.
    pub fn call(&mut self, op: &str, key: &str, data: &str) -> Result<String, String> {
        let out = match op {
            "set" => {
                if key.is_empty() {
                    return Err(
                        "parameter error: parameter.key should be String instead of Undefined;"
                            .into(),
                    );
                }
                if key.len() + data.len() > MAX_ITEM {
                    return Err("exceed storage item max length".into());
                }
                let replaced = self.items.get(key).map_or(0, |v| key.len() + v.len());
                if self.size() - replaced + key.len() + data.len() > MAX_TOTAL {
                    return Err("exceed storage max size 10Mb".into());
                }
                self.items.insert(key.to_owned(), data.to_owned());
                self.save()?;
                json!({})
            }
            "get" => match self.items.get(key) {
                Some(text) => json!({ "data": text }),
                None => return Err("data not found".into()),
            },
            "remove" => {
                self.items.remove(key);
                self.save()?;
                json!({})
            }
            "clear" => {
                self.items.clear();
                self.save()?;
                json!({})
            }
            "info" => json!({
                "keys": self.items.keys().collect::<Vec<_>>(),
                "currentSize": self.size().div_ceil(1024),
                "limitSize": MAX_TOTAL / 1024,
            }),
            other => return Err(format!("not supported by wxdl: storage {other}")),
        };
        Ok(out.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_persistence_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Storage::open(dir.path().to_path_buf(), "wx1");
        s.call("set", "a", "{\"n\":1}").unwrap();
        assert_eq!(
            s.call("get", "a", "").unwrap(),
            json!({"data": "{\"n\":1}"}).to_string()
        );
        assert_eq!(s.call("get", "nope", "").unwrap_err(), "data not found");
        let big = "x".repeat(MAX_ITEM);
        assert_eq!(
            s.call("set", "big", &big).unwrap_err(),
            "exceed storage item max length"
        );
        // Ten items of (almost) 1 MB fit beside the small one; the eleventh does not.
        let item = "y".repeat(MAX_ITEM - 10);
        for i in 0..10 {
            s.call("set", &format!("k{i}"), &item).unwrap();
        }
        assert_eq!(
            s.call("set", "k10", &item).unwrap_err(),
            "exceed storage max size 10Mb"
        );
        // Another client of the same appid sees what was stored.
        let again = Storage::open(dir.path().to_path_buf(), "wx1");
        assert_eq!(again.items.len(), 11);
        assert!(Storage::open(dir.path().to_path_buf(), "wx2")
            .items
            .is_empty());
    }
}
