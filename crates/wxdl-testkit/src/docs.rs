//! The repository's docs as tests read them: the "Every `wx` API" table of `docs/js-host.md`
//! and `docs/node.md`, checked against the keys of `wx` in each JS face.

use std::path::Path;

/// One row of an "Every `wx` API" table: the API's name (`downloadFile` for `` `wx.downloadFile` ``),
/// what it does here, and its sync/async column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRow {
    pub name: String,
    pub what: String,
    pub kind: String,
}

/// The rows of the `## Every \`wx\` API` section of the markdown file `doc` (relative to the
/// repository root), in order. Panics when the file or the section is missing.
pub fn wx_api_table(doc: &str) -> Vec<ApiRow> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(doc);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let start = text
        .find("\n## Every `wx` API\n")
        .unwrap_or_else(|| panic!("{doc} has no \"## Every `wx` API\" section"));
    let section = &text[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    section
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("| `wx.")?;
            let (name, rest) = rest.split_once('`')?;
            let cells: Vec<&str> = rest.split(" | ").collect();
            Some(ApiRow {
                name: name.to_string(),
                what: cells.get(1)?.trim().to_string(),
                kind: cells.last()?.trim_end_matches('|').trim().to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_tables_have_one_row_per_api_and_a_known_kind() {
        for doc in ["docs/js-host.md", "docs/node.md"] {
            let rows = wx_api_table(doc);
            assert!(rows.len() > 40, "{doc}: {}", rows.len());
            let mut names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
            names.sort();
            let before = names.len();
            names.dedup();
            assert_eq!(names.len(), before, "{doc}: a row twice");
            for row in &rows {
                assert!(
                    ["async", "async (task)", "sync", "listener", "value"]
                        .contains(&row.kind.as_str()),
                    "{doc}: {row:?}"
                );
                assert!(!row.what.is_empty(), "{doc}: {row:?}");
            }
        }
    }
}
