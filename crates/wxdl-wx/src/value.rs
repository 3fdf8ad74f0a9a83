//! JavaScript values as WeChat's client reads them from an options object: numbers that may be
//! numeric strings, JavaScript's `String(n)` for numbers, the type names of its messages.

use serde_json::Value;
use wxdl::{Fail, FailReason};

/// A timeout in ms from a number or a numeric string (WeChat's client parses it as a number);
/// `None` when it is neither.
pub(crate) fn timeout_ms(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|ms| ms.is_finite()),
        _ => None,
    }
}

/// `parameter.<name> should be <want> instead of <Type>`, WeChat's wording for a wrong type.
pub(crate) fn type_fail(reason: FailReason, name: &str, want: &str, got: &Value) -> Fail {
    Fail::with(
        reason,
        format_args!(
            "parameter.{name} should be {want} instead of {}",
            type_name(got)
        ),
    )
}

/// A number as JavaScript's `String(n)` writes it: `5`, `1.5`, `0.000001`, `1e-7`, `1e+21`.
pub(crate) fn js_number_text(n: &serde_json::Number) -> String {
    let Some(f) = n.as_f64().filter(|_| n.is_f64()) else {
        return n.to_string(); // an integer
    };
    if f == 0.0 {
        return "0".into(); // -0 too
    }
    // Both write the shortest digits that read back the same; JavaScript switches to an
    // exponent below 1e-6 and from 1e21 on, and signs a positive exponent.
    if (1e-6..1e21).contains(&f.abs()) {
        return f.to_string();
    }
    let text = format!("{f:e}");
    match text.split_once('e') {
        Some((digits, exp)) if !exp.starts_with('-') => format!("{digits}e+{exp}"),
        _ => text,
    }
}

/// The JavaScript type name WeChat's messages use.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "Null",
        Value::Bool(_) => "Boolean",
        Value::Number(_) => "Number",
        Value::String(_) => "String",
        Value::Array(_) => "Array",
        Value::Object(_) => "Object",
    }
}

/// The `url` option every network API has: missing, null or empty is `url is null or nil`; not a
/// string is `invalid url` with WeChat's type words.
pub(crate) fn url_option(v: Option<&Value>) -> Result<String, Fail> {
    match v {
        None | Some(Value::Null) => Err(Fail::new(FailReason::UrlNull)),
        Some(Value::String(s)) if s.is_empty() => Err(Fail::new(FailReason::UrlNull)),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(type_fail(FailReason::InvalidUrl, "url", "String", other)),
    }
}

/// The `timeout` option as WeChat's client reads it: a number of ms above 0 (a numeric string
/// counts as its number); 0 or less is the default; anything else is the default with a
/// warning in `api`'s words.
pub(crate) fn timeout_option(
    v: Option<&Value>,
    api: crate::Api,
    warn: &mut impl FnMut(String),
) -> Option<std::time::Duration> {
    let t = v?;
    match timeout_ms(t) {
        Some(ms) if ms > 0.0 => Some(std::time::Duration::from_secs_f64(ms.min(1e12) / 1000.0)),
        Some(_) => None,
        None => {
            warn(format!(
                "wx.{}: parameter.timeout should be Number instead of {}; using the default",
                api.name(),
                type_name(t)
            ));
            None
        }
    }
}
