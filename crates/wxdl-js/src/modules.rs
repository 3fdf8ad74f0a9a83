//! Modules as in a Mini Program project: relative paths, then bare names from
//! `miniprogram_npm/` and `node_modules/` next to the requiring file or in its parents,
//! honouring `package.json` `miniprogram` and `main` (and `module` for ES imports); and the ES
//! module resolver and loader QuickJS calls for `import`.

use std::path::{Path, PathBuf};

use rquickjs::loader::{ImportAttributes, Loader, Resolver};
use rquickjs::module::Declared;
use rquickjs::{Ctx, Function, Module, Object, Value};

/// Which entry fields of `package.json` to try, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `require()`: `miniprogram`, `main`.
    CommonJs,
    /// `import`: `module`, `miniprogram`, `main`.
    Esm,
}

/// The file `spec` names when required from a module in `from`.
pub fn resolve(from: &Path, spec: &str) -> Result<PathBuf, String> {
    resolve_as(from, spec, Kind::CommonJs)
}

/// The file `spec` names from a module in `from`, for `require` or `import`.
pub fn resolve_as(from: &Path, spec: &str, kind: Kind) -> Result<PathBuf, String> {
    let not_found = || format!("Cannot find module '{spec}' from '{}'", from.display());
    if spec.starts_with("./")
        || spec.starts_with("../")
        || spec.starts_with('/')
        || spec == "."
        || spec == ".."
    {
        return file_or_dir(&from.join(spec), kind).ok_or_else(not_found);
    }
    for dir in from.ancestors() {
        for sub in ["miniprogram_npm", "node_modules"] {
            let candidate = dir.join(sub).join(spec);
            if let Some(found) = file_or_dir(&candidate, kind) {
                return Ok(found);
            }
        }
    }
    Err(not_found())
}

fn file_or_dir(p: &Path, kind: Kind) -> Option<PathBuf> {
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
            let fields: &[&str] = match kind {
                Kind::CommonJs => &["miniprogram", "main"],
                Kind::Esm => &["module", "miniprogram", "main"],
            };
            for field in fields {
                if let Some(entry) = pkg.get(field).and_then(|v| v.as_str()) {
                    let target = p.join(entry);
                    if target != p {
                        if let Some(found) = file_or_dir(&target, kind) {
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

/// Whether a file is an ES module: `.mjs`, or (not `.cjs`/`.json`) a top-level `import` or
/// `export` statement.
pub fn is_esm(path: &Path, source: &str) -> bool {
    match path.extension().and_then(|e| e.to_str()) {
        Some("mjs") => return true,
        Some("cjs" | "json") => return false,
        _ => {}
    }
    source.lines().any(|l| {
        let l = l.trim_start();
        [
            "import ", "import{", "import*", "import\"", "import'", "export ", "export{", "export*",
        ]
        .iter()
        .any(|p| l.starts_with(p))
    })
}

/// Resolves `import` specifiers to absolute file paths (the module names).
pub struct EsmResolver;

impl Resolver for EsmResolver {
    fn resolve<'js>(
        &mut self,
        _ctx: &Ctx<'js>,
        base: &str,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<String> {
        let dir = Path::new(base).parent().unwrap_or(Path::new("/"));
        resolve_as(dir, name, Kind::Esm)
            .map(|p| p.to_string_lossy().into_owned())
            .map_err(|msg| rquickjs::Error::new_resolving_message(base, name, msg))
    }
}

/// Loads ES modules from disk; a CommonJS or JSON file imported from ESM becomes a module whose
/// default export is its `module.exports` and whose named exports are its own keys.
pub struct EsmLoader;

impl Loader for EsmLoader {
    fn load<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<Module<'js, Declared>> {
        let source = std::fs::read_to_string(name)
            .map_err(|e| rquickjs::Error::new_loading_message(name, e.to_string()))?;
        if is_esm(Path::new(name), &source) {
            return Module::declare(ctx.clone(), name, source);
        }
        let load: Function = ctx.globals().get("__wxdl_load")?;
        let exports: Value = load.call((name,))?;
        let quoted = serde_json::to_string(name).unwrap_or_default();
        let mut src = format!("const m = globalThis.__wxdl_load({quoted});\nexport default m;\n");
        if let Some(obj) = exports.as_object() {
            for key in Object::keys::<String>(obj).flatten() {
                let ident = key != "default"
                    && key
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
                    && key
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
                if ident {
                    src.push_str(&format!("export const {key} = m.{key};\n"));
                }
            }
        }
        Module::declare(ctx.clone(), name, src)
    }
}
