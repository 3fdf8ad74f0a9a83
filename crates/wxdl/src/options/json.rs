//! Options from a JavaScript-style object (`wx.downloadFile({...})` as JSON): the one parser the
//! JS host, the Node binding and any other face call, with WeChat's checks and messages. No
//! face spells an errno or an errMsg of its own.

use std::time::Duration;

use serde_json::Value;

use super::DownloadOptions;
use crate::error::{Fail, FailReason};

impl DownloadOptions {
    /// The option names [`DownloadOptions::from_json`] reads; anything else in the object
    /// (callbacks, strays) is ignored.
    pub const JSON_FIELDS: [&'static str; 17] = [
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

    /// Parses a `downloadFile` options object with WeChat's semantics. A value of the wrong
    /// type fails the call the way WeChat's does (`url is null or nil`, `invalid url: …`,
    /// `invalid header: …`, `permission denied: …`); a `timeout` that is not a number is
    /// ignored with a warning (a numeric string counts as its number, as WeChat's client parses
    /// it). Nothing here reaches the network or the file system; [`DownloadOptions::check`]
    /// and the download itself check the rest.
    ///
    /// ```
    /// use serde_json::json;
    /// use wxdl::{DownloadOptions, FailReason};
    ///
    /// let opts = DownloadOptions::from_json(
    ///     &json!({"url": "https://example.com/a.mp3", "timeout": "5000", "header": {"X-A": "1"}}),
    ///     |warning| eprintln!("{warning}"),
    /// ).unwrap();
    /// assert!(opts.check().is_ok());
    /// let fail = DownloadOptions::from_json(&json!({"url": 42}), |_| {}).unwrap_err();
    /// assert_eq!(fail.reason, FailReason::InvalidUrl);
    /// assert_eq!(fail.errno(), 600009);
    /// ```
    pub fn from_json(v: &Value, mut warn: impl FnMut(String)) -> Result<DownloadOptions, Fail> {
        let field = |name: &str| v.get(name).filter(|x| !x.is_null());
        let url = match field("url") {
            None => return Err(Fail::new(FailReason::UrlNull)),
            Some(Value::String(s)) if s.is_empty() => return Err(Fail::new(FailReason::UrlNull)),
            Some(Value::String(s)) => s.clone(),
            Some(other) => return Err(type_fail(FailReason::InvalidUrl, "url", "String", other)),
        };
        let mut opts = DownloadOptions::new(url);
        match field("header") {
            None => {}
            Some(Value::Object(map)) => {
                for (name, value) in map {
                    let Value::String(value) = value else {
                        return Err(Fail::with(
                            FailReason::InvalidHeader,
                            format_args!(
                                "value of {name} should be String instead of {}",
                                type_name(value)
                            ),
                        ));
                    };
                    opts.header.push((name.clone(), value.clone()));
                }
            }
            Some(other) => {
                return Err(type_fail(
                    FailReason::InvalidHeader,
                    "header",
                    "Object",
                    other,
                ))
            }
        }
        match field("filePath") {
            None => {}
            Some(Value::String(s)) => opts.file_path = Some(s.clone()),
            Some(other) => {
                return Err(type_fail(
                    FailReason::PermissionDenied,
                    "filePath",
                    "String",
                    other,
                ))
            }
        }
        opts.timeout = match field("timeout") {
            None => None,
            Some(t) => match timeout_ms(t) {
                Some(ms) if ms > 0.0 => Some(Duration::from_secs_f64(ms.min(1e12) / 1000.0)),
                Some(_) => None,
                None => {
                    warn(format!(
                        "wx.downloadFile: parameter.timeout should be Number instead of {}; \
                         using the default",
                        type_name(t)
                    ));
                    None
                }
            },
        };
        let flag = |name: &str| field(name).and_then(Value::as_bool);
        opts.enable_profile = flag("enableProfile") != Some(false);
        opts.enable_http2 = flag("enableHttp2") == Some(true);
        opts.enable_quic = flag("enableQuic") == Some(true);
        opts.use_high_performance_mode = flag("useHighPerformanceMode") == Some(true);
        // [beyond] options, off unless given.
        if let Some(Value::String(sri)) = field("integrity") {
            opts.integrity = Some(sri.clone());
        }
        if let Some(ms) = field("stallTimeout")
            .and_then(timeout_ms)
            .filter(|ms| *ms > 0.0)
        {
            opts.stall_timeout = Some(Duration::from_secs_f64(ms.min(1e12) / 1000.0));
        }
        if let Some(rate) = field("rateLimit")
            .and_then(Value::as_f64)
            .filter(|r| *r >= 1.0)
        {
            opts.rate_limit = Some(rate.min(u64::MAX as f64) as u64);
        }
        if let Some(n) = field("retry").and_then(Value::as_f64).filter(|n| *n >= 1.0) {
            opts.retry = n.min(100.0) as u32;
        }
        if let Some(ms) = field("retryDelay")
            .and_then(timeout_ms)
            .filter(|ms| *ms > 0.0)
        {
            opts.retry_delay = Some(Duration::from_secs_f64(ms.min(1e9) / 1000.0));
        }
        opts.retry_http = flag("retryHttp") == Some(true);
        opts.resume = flag("resume") == Some(true);
        opts.save_empty = flag("saveEmpty") == Some(true);
        if let Some(n) = field("split").and_then(Value::as_f64).filter(|n| *n >= 2.0) {
            opts.split = n.min(16.0) as u32;
        }
        Ok(opts)
    }
}

/// A timeout in ms from a number or a numeric string (WeChat's client parses it as a number);
/// `None` when it is neither.
fn timeout_ms(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|ms| ms.is_finite()),
        _ => None,
    }
}

/// `parameter.<name> should be <want> instead of <Type>`, WeChat's wording for a wrong type.
fn type_fail(reason: FailReason, name: &str, want: &str, got: &Value) -> Fail {
    Fail::with(
        reason,
        format_args!(
            "parameter.{name} should be {want} instead of {}",
            type_name(got)
        ),
    )
}

/// The JavaScript type name WeChat's messages use.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "Null",
        Value::Bool(_) => "Boolean",
        Value::Number(_) => "Number",
        Value::String(_) => "String",
        Value::Array(_) => "Array",
        Value::Object(_) => "Object",
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
        let keys: Vec<&'static str> = DownloadOptions::JSON_FIELDS
            .into_iter()
            .chain(["stray"])
            .collect();
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
                if let Ok(opts) = DownloadOptions::from_json(&parsed, |_| {}) {
                    prop_assert!(opts.host_path.is_none() && opts.output_file.is_none());
                    if opts.check().is_ok() {
                        let url = url::Url::parse(&opts.url);
                        prop_assert!(matches!(url.map(|u| u.scheme().to_owned()).as_deref(), Ok("http" | "https")));
                    }
                    if let Some(fp) = parsed.get("filePath").and_then(Value::as_str) {
                        prop_assert_eq!(opts.file_path.as_deref(), Some(fp));
                    }
                }
            }
        }
    }

    #[test]
    fn a_hosts_default_timeout_applies_only_without_one() {
        let t = |v: Value| {
            DownloadOptions::from_json(&v, |_| {})
                .unwrap()
                .default_timeout(Duration::from_millis(1234))
                .timeout
        };
        let app = Some(Duration::from_millis(1234));
        assert_eq!(
            t(json!({"url": "http://h/", "timeout": 50})),
            Some(Duration::from_millis(50))
        );
        assert_eq!(t(json!({"url": "http://h/", "timeout": 0})), app);
        assert_eq!(t(json!({"url": "http://h/", "timeout": "x"})), app);
        assert_eq!(t(json!({"url": "http://h/"})), app);
    }

    fn parse(v: Value) -> Result<DownloadOptions, Fail> {
        DownloadOptions::from_json(&v, |_| {})
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
                json!({"url": "http://h/", "header": {"X": 1}}),
                FailReason::InvalidHeader,
                "downloadFile:fail invalid header: value of X should be String instead of Number",
            ),
            (
                json!({"url": "http://h/", "filePath": true}),
                FailReason::PermissionDenied,
                "downloadFile:fail permission denied: parameter.filePath should be String instead of Boolean",
            ),
        ] {
            let f = parse(v.clone()).unwrap_err();
            assert_eq!((f.reason, f.err_msg().as_str()), (reason, msg), "{v}");
        }
        assert_eq!(parse(json!({"header": []})).unwrap_err().errno(), 600005);
    }

    #[test]
    fn timeouts_numbers_numeric_strings_and_the_rest() {
        let mut warnings = Vec::new();
        let mut t = |v: Value| {
            DownloadOptions::from_json(&json!({"url": "http://h/", "timeout": v}), |w| {
                warnings.push(w)
            })
            .unwrap()
            .timeout
        };
        assert_eq!(t(json!(50)), Some(Duration::from_millis(50)));
        assert_eq!(t(json!("5000")), Some(Duration::from_millis(5000)));
        assert_eq!(t(json!(0)), None);
        assert_eq!(t(json!(-5)), None);
        assert_eq!(t(json!(null)), None);
        assert_eq!(t(json!("soon")), None);
        assert_eq!(t(json!(true)), None);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[1].contains("instead of Boolean"));
    }

    #[test]
    fn flags_follow_javascripts_defaults() {
        let o = parse(json!({"url": "http://h/", "enableHttp2": 1, "enableProfile": 0})).unwrap();
        assert!(o.enable_profile && !o.enable_http2 && !o.enable_quic);
        let o = parse(json!({
            "url": "http://h/", "enableProfile": false, "enableQuic": true,
            "header": {"A": "1", "B": "2"}, "filePath": "wxfile://usr/a", "success": null
        }))
        .unwrap();
        assert!(!o.enable_profile && o.enable_quic);
        assert_eq!(o.header.len(), 2);
        assert_eq!(o.file_path.as_deref(), Some("wxfile://usr/a"));
        assert!(o.host_path.is_none() && o.output_file.is_none());
    }

    #[test]
    fn beyond_options_resume_and_split() {
        let o = parse(json!({"url": "http://h/", "resume": true, "split": 4})).unwrap();
        assert!(o.resume);
        assert_eq!(o.split, 4);
        assert!(!o.save_empty);
        let o = parse(json!({"url": "http://h/", "saveEmpty": true})).unwrap();
        assert!(o.save_empty);
        let o = parse(json!({"url": "http://h/", "resume": 1, "split": 99})).unwrap();
        assert!(!o.resume, "only true turns it on");
        assert_eq!(o.split, 16, "at most 16");
        let o = parse(json!({"url": "http://h/", "split": "4"})).unwrap();
        assert_eq!(o.split, 0, "not a number: one stream");
    }
}
