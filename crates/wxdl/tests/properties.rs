//! Property tests over inputs a caller or server controls: no panic anywhere, and the sandbox
//! never resolves outside its root. `PROPTEST_CASES=100000 cargo test -p wxdl --test
//! properties --release` is the long run; the default suite runs proptest's default count.

use std::path::Component;

use proptest::prelude::*;
use wxdl::{DownloadOptions, Policy, Sandbox};

/// Path-ish strings: segments from a hostile alphabet joined by slashes.
fn wxfile_paths() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        Just("..".to_string()),
        Just(".".to_string()),
        Just("".to_string()),
        Just("usr".to_string()),
        Just("tmp_x".to_string()),
        "[a-z0-9._\\\\\u{0}%/:~ é]{0,8}",
    ];
    (
        prop_oneof![
            Just("wxfile://usr".to_string()),
            Just("wxfile://tmp_".to_string()),
            Just("wxfile://".to_string()),
            Just("/".to_string()),
            Just("".to_string()),
        ],
        prop::collection::vec(segment, 0..8),
    )
        .prop_map(|(prefix, segs)| format!("{prefix}/{}", segs.join("/")))
}

proptest! {
    #[test]
    fn wxfile_paths_never_leave_the_sandbox(path in prop_oneof![wxfile_paths(), any::<String>()]) {
        let dir = tempfile::tempdir().unwrap();
        let sandbox = Sandbox::open(dir.path().join("root"), 1 << 20).unwrap();
        if let Ok(host) = sandbox.resolve(&path) {
            prop_assert!(host.starts_with(sandbox.root()), "{path:?} -> {host:?}");
            prop_assert!(
                !host.components().any(|c| matches!(c, Component::ParentDir)),
                "{path:?} -> {host:?}"
            );
            prop_assert!(host.starts_with(sandbox.usr_dir()) || host.starts_with(sandbox.tmp_dir()));
        }
    }

    #[test]
    fn temp_extensions_are_short_and_plain(path in "[ -~]{0,40}", ct in proptest::option::of("[ -~]{0,40}")) {
        if let Ok(url) = url::Url::parse(&format!("http://h/{path}")) {
            if let Some(ext) = wxdl::store::temp_extension(&url, ct.as_deref()) {
                prop_assert!((1..=8).contains(&ext.len()) || ext.chars().all(|c| c.is_ascii_alphanumeric()));
                prop_assert!(ext.chars().all(|c| c.is_ascii_alphanumeric()));
            }
        }
    }

    #[test]
    fn strict_policy_only_admits_listed_hosts(url in "[ -~]{0,60}", raw in any::<String>()) {
        let policy = Policy::strict(["https://a.example", "https://b.example:8443"]).unwrap();
        for candidate in [url.as_str(), raw.as_str()] {
            if policy.check_str(candidate).is_ok() {
                let parsed = url::Url::parse(candidate).unwrap();
                prop_assert_eq!(parsed.scheme(), "https");
                let host = parsed.host_str().unwrap().trim_end_matches('.').to_ascii_lowercase();
                prop_assert!(host == "a.example" || host == "b.example", "{candidate:?}");
            }
        }
    }

    #[test]
    fn header_checks_never_pass_control_bytes(name in any::<String>(), value in any::<String>()) {
        let opts = DownloadOptions::new("http://127.0.0.1/").header(name.clone(), value.clone());
        if opts.check().is_ok() {
            prop_assert!(!value.contains(['\r', '\n', '\0']));
            prop_assert!(!name.is_empty());
        }
    }
}
