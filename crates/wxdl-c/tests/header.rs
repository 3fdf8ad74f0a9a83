//! The committed header is what cbindgen makes of the crate today (`WXDL_BLESS=1` rewrites it).

use std::path::Path;

#[test]
fn the_committed_header_is_the_generated_one() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen reads the crate")
        .write(&mut generated);
    let committed_path = crate_dir.join("include/wxdl.h");
    if std::env::var_os("WXDL_BLESS").is_some() {
        std::fs::write(&committed_path, &generated).expect("write include/wxdl.h");
    }
    let committed = std::fs::read(&committed_path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/wxdl.h differs from what cbindgen makes; run WXDL_BLESS=1 cargo test -p wxdl-c --test header and commit it\n{}",
        String::from_utf8_lossy(&generated)
    );
}
