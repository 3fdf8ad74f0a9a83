//! `wx.downloadFile` in WeChat's shape: its options from a JavaScript-style object (with
//! WeChat's checks and words) and its `success` result object. No face spells an option name,
//! an errno or an errMsg of its own.

use std::time::Duration;

use serde_json::{json, Value};
use wxdl::{DownloadOptions, Fail, FailReason, Success};

use crate::api::Api;
use crate::value::{js_number_text, timeout_ms, timeout_option, type_fail, type_name, url_option};

/// This API.
pub const API: Api = Api::DownloadFile;

/// The option names [`options`] reads; anything else in the object (callbacks, strays) is
/// ignored.
pub const OPTION_FIELDS: [&str; 17] = [
    "url",
    "header",
    "timeout",
    "filePath",
    "enableProfile",
    "enableHttp2",
    "enableQuic",
    "useHighPerformanceMode",
    "integrity",
    "stallTimeout",
    "rateLimit",
    "retry",
    "retryDelay",
    "retryHttp",
    "resume",
    "split",
    "saveEmpty",
];

/// Parses a `downloadFile` options object with WeChat's semantics. A value of the wrong type
/// fails the call the way WeChat's does (`url is null or nil`, `invalid url: …`, `invalid
/// header: …`, `permission denied: …`); a `timeout` that is not a number is ignored with a
/// warning (a numeric string counts as its number, as WeChat's client parses it). Nothing here
/// reaches the network or the file system; [`DownloadOptions::check`] and the download itself
/// check the rest.
///
/// ```
/// use serde_json::json;
/// use wxdl::FailReason;
/// use wxdl_wx::download;
///
/// let opts = download::options(
///     &json!({"url": "https://example.com/a.mp3", "timeout": "5000", "header": {"X-A": "1"}}),
///     |warning| eprintln!("{warning}"),
/// ).unwrap();
/// assert!(opts.check().is_ok());
/// let fail = download::options(&json!({"url": 42}), |_| {}).unwrap_err();
/// assert_eq!(fail.reason, FailReason::InvalidUrl);
/// assert_eq!(fail.errno(), 600009);
/// assert_eq!(
///     download::API.err_msg(&fail),
///     "downloadFile:fail invalid url: parameter.url should be String instead of Number"
/// );
/// ```
pub fn options(v: &Value, mut warn: impl FnMut(String)) -> Result<DownloadOptions, Fail> {
    let field = |name: &str| v.get(name).filter(|x| !x.is_null());
    let url = url_option(field("url"))?;
    let mut opts = DownloadOptions::new(url);
    for (name, value) in header_pairs(field("header"))? {
        opts = opts.header(name, value);
    }
    match field("filePath") {
        None => {}
        Some(Value::String(s)) => opts = opts.file_path(s.clone()),
        Some(other) => {
            return Err(type_fail(
                FailReason::PermissionDenied,
                "filePath",
                "String",
                other,
            ))
        }
    }
    if let Some(t) = timeout_option(field("timeout"), API, &mut warn) {
        opts = opts.timeout(t);
    }
    let flag = |name: &str| field(name).and_then(Value::as_bool);
    opts = opts
        .enable_profile(flag("enableProfile") != Some(false))
        .enable_http2(flag("enableHttp2") == Some(true))
        .enable_quic(flag("enableQuic") == Some(true))
        .use_high_performance_mode(flag("useHighPerformanceMode") == Some(true));
    // [beyond] options, off unless given.
    if let Some(Value::String(sri)) = field("integrity") {
        opts = opts.integrity(sri.clone());
    }
    if let Some(ms) = field("stallTimeout")
        .and_then(timeout_ms)
        .filter(|ms| *ms > 0.0)
    {
        opts = opts.stall_timeout(Duration::from_secs_f64(ms.min(1e12) / 1000.0));
    }
    if let Some(rate) = field("rateLimit")
        .and_then(Value::as_f64)
        .filter(|r| *r >= 1.0)
    {
        opts = opts.rate_limit(rate.min(u64::MAX as f64) as u64);
    }
    if let Some(n) = field("retry").and_then(Value::as_f64).filter(|n| *n >= 1.0) {
        opts = opts.retry(n.min(100.0) as u32);
    }
    if let Some(ms) = field("retryDelay")
        .and_then(timeout_ms)
        .filter(|ms| *ms > 0.0)
    {
        opts = opts.retry_delay(Duration::from_secs_f64(ms.min(1e9) / 1000.0));
    }
    opts = opts
        .retry_http(flag("retryHttp") == Some(true))
        .resume(flag("resume") == Some(true))
        .save_empty(flag("saveEmpty") == Some(true));
    if let Some(n) = field("split").and_then(Value::as_f64).filter(|n| *n >= 2.0) {
        opts = opts.split(n.min(16.0) as u32);
    }
    Ok(opts)
}

/// A `header` option as WeChat's devtools send it: a number or boolean value as its JavaScript
/// string, null (and undefined, which JSON carries as null or not at all) not at all; an object
/// or array value, or a `header` that is no object, is `invalid header`.
pub(crate) fn header_pairs(header: Option<&Value>) -> Result<Vec<(String, String)>, Fail> {
    let map = match header {
        None => return Ok(Vec::new()),
        Some(Value::Object(map)) => map,
        Some(other) => {
            return Err(type_fail(
                FailReason::InvalidHeader,
                "header",
                "Object",
                other,
            ))
        }
    };
    let mut pairs = Vec::with_capacity(map.len());
    for (name, value) in map {
        let value = match value {
            Value::Null => continue,
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => js_number_text(n),
            Value::Array(_) | Value::Object(_) => {
                return Err(Fail::with(
                    FailReason::InvalidHeader,
                    format_args!(
                        "value of {name} should be String instead of {}",
                        type_name(value)
                    ),
                ))
            }
        };
        pairs.push((name.clone(), value));
    }
    Ok(pairs)
}

/// The Mini Program `success` result object:
/// `{errMsg: "downloadFile:ok", statusCode, tempFilePath | filePath, header, dataLength,
/// resumedFrom?, profile?}`.
pub fn success(s: &Success) -> Value {
    let mut v = json!({
        "errMsg": API.ok_msg(),
        "statusCode": s.status_code,
    });
    let obj = v.as_object_mut().expect("object literal");
    if let Some(p) = &s.temp_file_path {
        obj.insert("tempFilePath".into(), json!(p));
    }
    if let Some(p) = &s.file_path {
        obj.insert("filePath".into(), json!(p));
    }
    obj.insert("header".into(), json!(s.header));
    obj.insert("dataLength".into(), json!(s.data_length));
    if s.resumed_from > 0 {
        obj.insert("resumedFrom".into(), json!(s.resumed_from));
    }
    if s.unchanged {
        obj.insert("unchanged".into(), json!(true));
    }
    if let Some(p) = &s.profile {
        obj.insert(
            "profile".into(),
            serde_json::to_value(p).unwrap_or(Value::Null),
        );
    }
    v
}

/// The Mini Program result object of an outcome: [`success`], or the `fail` object
/// (`{errMsg, errno}`).
pub fn result(outcome: &Result<Success, Fail>) -> Value {
    match outcome {
        Ok(s) => success(s),
        Err(f) => API.fail_result(f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{json, Map};

    /// Any JSON value, a few levels deep.
    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            any::<String>().prop_map(Value::String),
            "(https?|ftp|wxfile)://[ -~]{0,20}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-z]{0,6}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Option objects: the real keys (and one stray) with values of any type.
    fn option_objects() -> impl Strategy<Value = Value> {
        let keys: Vec<&'static str> = OPTION_FIELDS.into_iter().chain(["stray"]).collect();
        prop::collection::vec((prop::sample::select(keys), any_json()), 0..8).prop_map(|pairs| {
            let mut m = Map::new();
            for (k, v) in pairs {
                m.insert(k.to_string(), v);
            }
            Value::Object(m)
        })
    }

    proptest! {
        /// Whatever a script passes: no panic, never a host path or stream, `filePath` echoed,
        /// and a URL that passes the checks is http(s).
        #[test]
        fn option_json_never_panics_and_never_reaches_host_paths(
            v in prop_oneof![option_objects(), any_json()],
            raw in any::<String>(),
        ) {
            for text in [v.to_string(), raw] {
                let Ok(parsed) = serde_json::from_str::<Value>(&text) else { continue };
                if let Ok(opts) = options(&parsed, |_| {}) {
                    prop_assert!(has(&opts, "host_path: None") && has(&opts, "output_file: None"));
                    if opts.check().is_ok() {
                        let given = parsed["url"].as_str().unwrap_or_default();
                        let url = url::Url::parse(given);
                        prop_assert!(matches!(url.map(|u| u.scheme().to_owned()).as_deref(), Ok("http" | "https")));
                    }
                    if let Some(fp) = parsed.get("filePath").and_then(Value::as_str) {
                        let echoed = format!("file_path: Some({fp:?})");
                        prop_assert!(has(&opts, &echoed));
                    }
                }
            }
        }
    }

    #[test]
    fn a_hosts_default_timeout_applies_only_without_one() {
        let t = |v: Value| {
            options(&v, |_| {})
                .unwrap()
                .default_timeout(Duration::from_millis(1234))
        };
        let app = "timeout: Some(1.234s)";
        assert!(has(
            &t(json!({"url": "http://h/", "timeout": 50})),
            "timeout: Some(50ms)"
        ));
        assert!(has(&t(json!({"url": "http://h/", "timeout": 0})), app));
        assert!(has(&t(json!({"url": "http://h/", "timeout": "x"})), app));
        assert!(has(&t(json!({"url": "http://h/"})), app));
    }

    fn parse(v: Value) -> Result<DownloadOptions, Fail> {
        options(&v, |_| {})
    }

    /// Whether the options hold `field: value` (as `Debug` shows them: the engine keeps its
    /// fields private).
    fn has(o: &DownloadOptions, field_value: &str) -> bool {
        // Each field follows a space and is followed by ", " (the list ends with `..`).
        format!("{o:?}").contains(&format!(" {field_value}, "))
    }

    #[test]
    fn wrong_types_fail_with_wechats_rows_and_words() {
        for (v, reason, msg) in [
            (json!({}), FailReason::UrlNull, "downloadFile:fail url is null or nil"),
            (json!({"url": ""}), FailReason::UrlNull, "downloadFile:fail url is null or nil"),
            (json!({"url": null}), FailReason::UrlNull, "downloadFile:fail url is null or nil"),
            (
                json!({"url": 1}),
                FailReason::InvalidUrl,
                "downloadFile:fail invalid url: parameter.url should be String instead of Number",
            ),
            (
                json!({"url": "http://h/", "header": []}),
                FailReason::InvalidHeader,
                "downloadFile:fail invalid header: parameter.header should be Object instead of Array",
            ),
            (
                json!({"url": "http://h/", "header": {"X": {"a": 1}}}),
                FailReason::InvalidHeader,
                "downloadFile:fail invalid header: value of X should be String instead of Object",
            ),
            (
                json!({"url": "http://h/", "header": {"X": [1]}}),
                FailReason::InvalidHeader,
                "downloadFile:fail invalid header: value of X should be String instead of Array",
            ),
            (
                json!({"url": "http://h/", "filePath": true}),
                FailReason::PermissionDenied,
                "downloadFile:fail permission denied: parameter.filePath should be String instead of Boolean",
            ),
        ] {
            let f = parse(v.clone()).unwrap_err();
            assert_eq!((f.reason, API.err_msg(&f).as_str()), (reason, msg), "{v}");
        }
        assert_eq!(parse(json!({"header": []})).unwrap_err().errno(), 600005);
    }

    #[test]
    fn timeouts_numbers_numeric_strings_and_the_rest() {
        let mut warnings = Vec::new();
        let mut t = |v: Value| {
            let o = options(&json!({"url": "http://h/", "timeout": v}), |w| {
                warnings.push(w)
            });
            format!("{:?}", o.unwrap())
        };
        let timeout = |shown: String| {
            let at = shown.find(", timeout: ").unwrap() + ", timeout: ".len();
            shown[at..].split(", ").next().unwrap().to_owned()
        };
        assert_eq!(timeout(t(json!(50))), "Some(50ms)");
        assert_eq!(timeout(t(json!("5000"))), "Some(5s)");
        assert_eq!(timeout(t(json!(0))), "None");
        assert_eq!(timeout(t(json!(-5))), "None");
        assert_eq!(timeout(t(json!(null))), "None");
        assert_eq!(timeout(t(json!("soon"))), "None");
        assert_eq!(timeout(t(json!(true))), "None");
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[1].contains("instead of Boolean"));
    }

    #[test]
    fn flags_follow_javascripts_defaults() {
        let o = parse(json!({"url": "http://h/", "enableHttp2": 1, "enableProfile": 0})).unwrap();
        assert!(has(&o, "enable_profile: true"));
        assert!(has(&o, "enable_http2: false") && has(&o, "enable_quic: false"));
        let o = parse(json!({
            "url": "http://h/", "enableProfile": false, "enableQuic": true,
            "header": {"A": "1", "B": "2"}, "filePath": "wxfile://usr/a", "success": null
        }))
        .unwrap();
        assert!(has(&o, "enable_profile: false") && has(&o, "enable_quic: true"));
        assert!(has(&o, r#"header: [("A", "1"), ("B", "2")]"#));
        assert!(has(&o, r#"file_path: Some("wxfile://usr/a")"#));
        assert!(has(&o, "host_path: None") && has(&o, "output_file: None"));
    }

    #[test]
    fn header_numbers_and_booleans_go_as_their_strings_null_not_at_all() {
        let o = parse(json!({"url": "http://h/", "header": {
            "A": 1, "B": 1.5, "C": true, "D": false, "E": null, "F": "x", "G": -0.0,
            "H": 1e21, "I": 1e-7, "J": 0.000001, "K": -2.5e-8, "L": 123456789012345678u64
        }}))
        .unwrap();
        assert!(
            has(
                &o,
                r#"header: [("A", "1"), ("B", "1.5"), ("C", "true"), ("D", "false"), ("F", "x"), ("G", "0"), ("H", "1e+21"), ("I", "1e-7"), ("J", "0.000001"), ("K", "-2.5e-8"), ("L", "123456789012345678")]"#
            ),
            "{o:?}"
        );
    }

    #[test]
    fn beyond_options_resume_and_split() {
        let o = parse(json!({"url": "http://h/", "resume": true, "split": 4})).unwrap();
        assert!(has(&o, "resume: true") && has(&o, "split: 4"));
        assert!(has(&o, "save_empty: false"));
        let o = parse(json!({"url": "http://h/", "saveEmpty": true})).unwrap();
        assert!(has(&o, "save_empty: true"));
        let o = parse(json!({"url": "http://h/", "resume": 1, "split": 99})).unwrap();
        assert!(has(&o, "resume: false"), "only true turns it on");
        assert!(has(&o, "split: 16"), "at most 16");
        let o = parse(json!({"url": "http://h/", "split": "4"})).unwrap();
        assert!(has(&o, "split: 0"), "not a number: one stream");
    }

    #[test]
    fn beyond_options_read_as_docs_contract_says() {
        // docs/contract.md: stallTimeout and retryDelay in ms (a numeric string counts), a
        // rateLimit of at least 1 byte/s, retry N (at most 100), split N (2 to 16), integrity a
        // string; 0, negatives and other types leave each off.
        let o = parse(json!({
            "url": "http://h/", "stallTimeout": 1500, "rateLimit": 1, "retry": 1,
            "retryDelay": "250", "retryHttp": true, "integrity": "sha256-x", "split": 2,
            "useHighPerformanceMode": true
        }))
        .unwrap();
        for shown in [
            "stall_timeout: Some(1.5s)",
            "rate_limit: Some(1)",
            "retry: 1",
            "retry_delay: Some(250ms)",
            "retry_http: true",
            r#"integrity: Some("sha256-x")"#,
            "split: 2",
            "use_high_performance_mode: true",
        ] {
            assert!(has(&o, shown), "{shown} in {o:?}");
        }
        let o = parse(json!({
            "url": "http://h/", "stallTimeout": 0, "rateLimit": 0.5, "retry": 0.5,
            "retryDelay": 0, "retryHttp": 1, "integrity": 5, "split": 1,
            "useHighPerformanceMode": "yes"
        }))
        .unwrap();
        for shown in [
            "stall_timeout: None",
            "rate_limit: None",
            "retry: 0",
            "retry_delay: None",
            "retry_http: false",
            "integrity: None",
            "split: 0",
            "use_high_performance_mode: false",
        ] {
            assert!(has(&o, shown), "{shown} in {o:?}");
        }
        let o = parse(json!({
            "url": "http://h/", "stallTimeout": 1e300, "rateLimit": 2.5e30, "retry": 1000,
            "retryDelay": 1e300
        }))
        .unwrap();
        for shown in [
            "stall_timeout: Some(1000000000s)",
            &format!("rate_limit: Some({})", u64::MAX),
            "retry: 100",
            "retry_delay: Some(1000000s)",
        ] {
            assert!(has(&o, shown), "{shown} in {o:?}");
        }
    }
}
