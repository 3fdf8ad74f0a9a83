//! `wx.uploadFile` in WeChat's shape: its options from a JavaScript-style object (`url`,
//! `filePath`, `name`, `header`, `formData`, `timeout`, the protocol switches, with WeChat's
//! checks and words) and its `success` object, whose `data` is the body as text.

use serde_json::{json, Value};
use wxdl::upload::{UploadOptions, Uploaded};
use wxdl::{Fail, FailReason};

use crate::api::Api;
use crate::download::header_pairs;
use crate::value::{js_number_text, timeout_option, type_fail, url_option};

/// This API.
pub const API: Api = Api::UploadFile;

/// The option names [`options`] reads; anything else in the object is ignored.
pub const OPTION_FIELDS: [&str; 10] = [
    "url",
    "filePath",
    "name",
    "header",
    "formData",
    "timeout",
    "enableProfile",
    "enableHttp2",
    "enableQuic",
    "useHighPerformanceMode",
];

/// Parses an `uploadFile` options object with WeChat's semantics: `url` as for every network
/// API; `filePath` and `name` are required strings (`parameter error: parameter.name should be
/// String instead of Undefined`); `formData` values go as JavaScript's `String(v)` (objects as
/// JSON, as WeChat's devtools send them), in the object's order, before the file.
///
/// ```
/// use serde_json::json;
/// use wxdl_wx::upload;
///
/// let opts = upload::options(&json!({
///     "url": "https://up.example.com/p", "filePath": "wxfile://usr/a.jpg", "name": "file",
///     "formData": {"user": 42, "tags": ["a", "b"]}
/// }), |w| eprintln!("{w}")).unwrap();
/// assert!(format!("{opts:?}").contains(r#"("user", "42")"#));
/// let fail = upload::options(&json!({"url": "https://up.example.com/p", "filePath": "wxfile://usr/a"}), |_| {}).unwrap_err();
/// assert_eq!(
///     upload::API.err_msg(&fail),
///     "uploadFile:fail parameter error: parameter.name should be String instead of Undefined"
/// );
/// ```
pub fn options(v: &Value, mut warn: impl FnMut(String)) -> Result<UploadOptions, Fail> {
    let field = |name: &str| v.get(name).filter(|x| !x.is_null());
    let url = url_option(field("url"))?;
    let required = |name: &str| match field(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        None => Err(Fail::with(
            FailReason::ParameterError,
            format_args!("parameter.{name} should be String instead of Undefined"),
        )),
        Some(other) => Err(type_fail(FailReason::ParameterError, name, "String", other)),
    };
    let file_path = required("filePath")?;
    let name = required("name")?;
    let mut opts = UploadOptions::new(url, file_path, name);
    for (n, value) in header_pairs(field("header"))? {
        opts = opts.header(n, value);
    }
    match field("formData") {
        None => {}
        Some(Value::Object(map)) => {
            for (k, value) in map {
                let text = match value {
                    Value::Null => continue,
                    Value::String(s) => s.clone(),
                    Value::Bool(b) => b.to_string(),
                    Value::Number(n) => js_number_text(n),
                    other => other.to_string(),
                };
                opts = opts.form_data(k.clone(), text);
            }
        }
        Some(other) => {
            return Err(type_fail(
                FailReason::ParameterError,
                "formData",
                "Object",
                other,
            ))
        }
    }
    if let Some(t) = timeout_option(field("timeout"), API, &mut warn) {
        opts = opts.timeout(t);
    }
    let flag = |name: &str| field(name).and_then(Value::as_bool);
    Ok(opts
        .enable_profile(flag("enableProfile") != Some(false))
        .enable_http2(flag("enableHttp2") == Some(true))
        .enable_quic(flag("enableQuic") == Some(true))
        .use_high_performance_mode(flag("useHighPerformanceMode") == Some(true)))
}

/// The Mini Program `success` object: `{errMsg: "uploadFile:ok", data, statusCode, header,
/// profile?}`, `data` the body as text (WeChat does not parse it).
pub fn success(done: &Uploaded) -> Value {
    let res = &done.response;
    let mut v = json!({
        "errMsg": API.ok_msg(),
        "data": String::from_utf8_lossy(&res.body),
        "statusCode": res.status_code,
        "header": res.header,
    });
    if let Some(p) = &res.profile {
        v["profile"] = serde_json::to_value(p).unwrap_or(Value::Null);
    }
    v
}

/// The result object of an outcome: [`success`], or the `fail` object.
pub fn result(outcome: &Result<Uploaded, Fail>) -> Value {
    match outcome {
        Ok(done) => success(done),
        Err(f) => API.fail_result(f),
    }
}
