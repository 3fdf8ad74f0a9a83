//! Modules as in a Mini Program project: relative paths, then bare names from
//! `miniprogram_npm/` and `node_modules/` next to the requiring file or in its parents up to the
//! project root, honouring `package.json` `miniprogram` and `main` (and `module` for ES
//! imports); and the ES module resolver and loader QuickJS calls for `import`.
//!
//! Everything is confined to the project root ([`Confinement`]): no absolute paths, no `..` out,
//! no symlink out (each candidate's real path is checked), no package entry pointing out, and a
//! script cannot read a host file through the loader. A refusal names the request, never a
//! file's content.

use std::io::Read;
use std::path::{Path, PathBuf};

/// The largest module source the loader reads.
const MAX_SOURCE: u64 = 16 << 20;

/// Where modules may come from: the project root, by its real path.
#[derive(Debug, Clone)]
pub struct Confinement {
    root: PathBuf,
}

impl Confinement {
    /// Confines modules to `root` (resolved to its real path).
    pub fn new(root: &Path) -> Confinement {
        Confinement {
            root: root.canonicalize().unwrap_or_else(|_| root.to_path_buf()),
        }
    }

    /// The project root (its real path).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file of the page at `route` (`pages/x/x` is `<root>/pages/x/x.js`), inside the root.
    pub fn page(&self, route: &str) -> Option<PathBuf> {
        if route.starts_with('/') || route.split('/').any(|c| c == ".." || c.is_empty()) {
            return None;
        }
        self.admit(&self.root.join(format!("{route}.js")))
    }

    /// The real path of `p` when it is a regular file inside the root.
    fn admit(&self, p: &Path) -> Option<PathBuf> {
        let real = p.canonicalize().ok()?;
        (real.starts_with(&self.root) && real.is_file()).then_some(real)
    }

    /// Whether `p` (an existing directory) is inside the root, by its real path.
    fn holds_dir(&self, p: &Path) -> bool {
        p.canonicalize()
            .is_ok_and(|real| real.starts_with(&self.root) && real.is_dir())
    }

    /// A module's source, read only from a regular file inside the root, bounded in size.
    pub fn read(&self, path: &str) -> Result<String, String> {
        let refused = || format!("module file '{path}' is not in the project");
        let real = self.admit(Path::new(path)).ok_or_else(refused)?;
        let file = std::fs::File::open(&real).map_err(|e| format!("{path}: {}", e.kind()))?;
        let mut text = String::new();
        file.take(MAX_SOURCE + 1)
            .read_to_string(&mut text)
            .map_err(|e| format!("{path}: {}", e.kind()))?;
        if text.len() as u64 > MAX_SOURCE {
            return Err(format!("{path}: larger than {MAX_SOURCE} bytes"));
        }
        Ok(text)
    }
}

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

/// The file `spec` names when required from the module file `file`.
pub fn resolve(file: &Path, spec: &str, within: &Confinement) -> Result<PathBuf, String> {
    resolve_as(file, spec, Kind::CommonJs, within)
}

/// The file `spec` names from the module file `file`, for `require` or `import`, inside the
/// project. As WeChat's build resolves it: a path without `./` (`require('api.js')`) is first
/// relative to the requiring file, then a package; a path without an extension tries `.js`
/// and `.json`, then a directory's `package.json` and `index.js`. A refusal names the request
/// and the requiring module by its whole path in the project.
pub fn resolve_as(
    file: &Path,
    spec: &str,
    kind: Kind,
    within: &Confinement,
) -> Result<PathBuf, String> {
    let from = file.parent().unwrap_or(Path::new("/"));
    let not_found = || {
        let requirer = file
            .strip_prefix(&within.root)
            .map_or_else(|_| file.display().to_string(), |p| p.display().to_string());
        format!("Cannot find module '{spec}' in the project (required from '{requirer}')")
    };
    if spec.starts_with('/') || spec.contains('\0') {
        return Err(not_found());
    }
    if spec.starts_with("./") || spec.starts_with("../") || spec == "." || spec == ".." {
        return file_or_dir(&from.join(spec), kind, within).ok_or_else(not_found);
    }
    if let Some(found) = file_or_dir(&from.join(spec), kind, within) {
        return Ok(found);
    }
    let inside = |d: &&Path| within.holds_dir(d);
    for dir in from.ancestors().take_while(inside) {
        for sub in ["miniprogram_npm", "node_modules"] {
            let candidate = dir.join(sub).join(spec);
            if let Some(found) = file_or_dir(&candidate, kind, within) {
                return Ok(found);
            }
        }
    }
    Err(not_found())
}

fn file_or_dir(p: &Path, kind: Kind, within: &Confinement) -> Option<PathBuf> {
    if let Some(found) = within.admit(p) {
        return Some(found);
    }
    for ext in ["js", "json"] {
        let mut with = p.as_os_str().to_owned();
        with.push(".");
        with.push(ext);
        if let Some(found) = within.admit(Path::new(&with)) {
            return Some(found);
        }
    }
    if !within.holds_dir(p) {
        return None;
    }
    let package = within.admit(&p.join("package.json"));
    if let Some(text) = package.and_then(|pkg| within.read(&pkg.to_string_lossy()).ok()) {
        if let Ok(pkg) = serde_json::from_str::<serde_json::Value>(&text) {
            let fields: &[&str] = match kind {
                Kind::CommonJs => &["miniprogram", "main"],
                Kind::Esm => &["module", "miniprogram", "main"],
            };
            for field in fields {
                if let Some(entry) = pkg.get(field).and_then(|v| v.as_str()) {
                    let target = p.join(entry);
                    if target != p {
                        if let Some(found) = file_or_dir(&target, kind, within) {
                            return Some(found);
                        }
                    }
                }
            }
        }
    }
    ["index.js", "index.json"]
        .iter()
        .find_map(|i| within.admit(&p.join(i)))
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

/// What the host's `require` of an ES module imports it as: this prefix and the module's path
/// (the path alone from a script is resolved as any other specifier).
pub const REQUIRE_PREFIX: &str = "wxdl:require:";

/// An ES module that also uses CommonJS (`require`, `module.exports`, `exports.x`), as WeChat's
/// compiler accepts: it gets `require`, `module`, `exports`, `__filename` and `__dirname` (on
/// its first line, so every line keeps its number), and, without an `export default` of its
/// own, `module.exports` as its default export.
pub fn with_commonjs(path: &str, source: &str) -> Option<String> {
    let uses = ["require(", "module.exports", "exports."]
        .iter()
        .any(|w| source.contains(w));
    if !uses {
        return None;
    }
    let quoted = serde_json::to_string(path).unwrap_or_default();
    let mut out = format!(
        "const {{ require, module, exports, __filename, __dirname }} = globalThis.__wxdl_cjs({quoted}); {source}"
    );
    let has_default = source
        .lines()
        .any(|l| l.trim_start().starts_with("export default"));
    if !has_default {
        out.push_str("\nexport default module.exports;\n");
    }
    Some(out)
}

/// Resolves `import` specifiers to absolute file paths (the module names), in the project.
pub struct EsmResolver(pub Confinement);

impl Resolver for EsmResolver {
    fn resolve<'js>(
        &mut self,
        _ctx: &Ctx<'js>,
        base: &str,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<String> {
        // The host imports the entry module by its path (no base), and a required ES module
        // with the prefix; scripts import by specifier.
        if let Some(path) = name.strip_prefix(REQUIRE_PREFIX) {
            return self
                .0
                .admit(Path::new(path))
                .map(|p| p.to_string_lossy().into_owned())
                .ok_or_else(|| {
                    rquickjs::Error::new_resolving_message(base, name, "not in the project")
                });
        }
        if base.is_empty() {
            return self
                .0
                .admit(Path::new(name))
                .map(|p| p.to_string_lossy().into_owned())
                .ok_or_else(|| {
                    rquickjs::Error::new_resolving_message(base, name, "not in the project")
                });
        }
        resolve_as(Path::new(base), name, Kind::Esm, &self.0)
            .map(|p| p.to_string_lossy().into_owned())
            .map_err(|msg| rquickjs::Error::new_resolving_message(base, name, msg))
    }
}

/// Loads ES modules from the project; a CommonJS or JSON file imported from ESM becomes a module
/// whose default export is its `module.exports` and whose named exports are its own keys.
pub struct EsmLoader(pub Confinement);

impl Loader for EsmLoader {
    fn load<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<Module<'js, Declared>> {
        let source = self
            .0
            .read(name)
            .map_err(|e| rquickjs::Error::new_loading_message(name, e))?;
        if is_esm(Path::new(name), &source) {
            let source = with_commonjs(name, &source).unwrap_or(source);
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
