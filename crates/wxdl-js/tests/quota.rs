//! The JS host's file system writes go through the same usr quota as downloads.

use std::path::Path;

fn run(script: &Path, quota: u64, root: &Path) -> Result<(), wxdl_js::ScriptError> {
    let client = wxdl::Client::builder()
        .sandbox_root(root)
        .usr_quota(quota)
        .build()
        .unwrap();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(wxdl_js::run_file(script, client))
}

#[test]
fn write_file_and_save_file_respect_the_usr_quota() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("q.js");
    std::fs::write(
        &script,
        r#"
const fs = wx.getFileSystemManager();
const usr = wx.env.USER_DATA_PATH;
const kib = (n) => 'x'.repeat(n * 1024);
fs.writeFileSync(usr + '/a.txt', kib(600), 'utf8');
try { fs.writeFileSync(usr + '/b.txt', kib(600), 'utf8'); console.log('b written'); }
catch (e) { console.log('b', e.message); }
// Replacing a file credits its own size.
fs.writeFileSync(usr + '/a.txt', kib(900), 'utf8');
console.log('a replaced', fs.statSync(usr + '/a.txt').size);
"#,
    )
    .unwrap();
    let root = dir.path().join("sandbox");
    run(&script, 1024 * 1024, &root).unwrap();
    let usr = root.join("usr");
    assert!(!usr.join("b.txt").exists(), "b.txt passed the quota");
    assert_eq!(
        std::fs::metadata(usr.join("a.txt")).unwrap().len(),
        900 * 1024
    );
}
