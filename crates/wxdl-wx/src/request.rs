//! `wx.request` in WeChat's shape: its options from a JavaScript-style object (the method as
//! WeChat accepts it, `data` turned into what is sent — a query string for GET, JSON or a form
//! for the rest, as the `content-type` header says — and the rest of WeChat's checks and words),
//! and its `success` object, the body turned into `res.data` as `dataType` and `responseType`
//! ask (`json`: parsed when it parses, otherwise the text). The engine sends bytes and hands
//! bytes back; only this module knows these rules.

use base64::Engine as _;
use serde_json::{json, Map, Value};
use wxdl::request::{Redirect, RequestOptions, Response};
use wxdl::{Fail, FailReason};

use crate::api::Api;
use crate::download::header_pairs;
use crate::value::{js_number_text, timeout_option, url_option};

/// This API.
pub const API: Api = Api::Request;

/// The option names [`options`] reads (`data` comes apart, as the face converts an
/// `ArrayBuffer`); anything else in the object is ignored.
pub const OPTION_FIELDS: [&str; 16] = [
    "url",
    "data",
    "header",
    "timeout",
    "method",
    "dataType",
    "responseType",
    "enableProfile",
    "enableHttp2",
    "enableQuic",
    "enableChunked",
    "enableCache",
    "enableHttpDNS",
    "forceCellularNetwork",
    "useHighPerformanceMode",
    "redirect",
];

/// A parsed call: the engine's options and how the face shapes `res.data` and its events.
#[derive(Debug)]
pub struct Call {
    /// What the engine runs.
    pub options: RequestOptions,
    /// `dataType` (`json` unless given).
    pub data_type: String,
    /// `responseType` (`text` unless given).
    pub response_type: String,
    /// `enableChunked`: the task's `onChunkReceived` hears chunks.
    pub chunked: bool,
}

/// Parses a `request` options object with WeChat's semantics; `data` is what the script passed
/// (see [`Data`]). Bad values fail the way WeChat's do (`url is null or nil`, `invalid url`,
/// `invalid header`, `parameter error: parameter.method should be one of …`); a `timeout` that is
/// not a number is ignored with a warning. WeChat sends `content-type: application/json` unless
/// the header has one.
///
/// ```
/// use serde_json::json;
/// use wxdl_wx::request::{self, Data};
///
/// let call = request::options(
///     &json!({"url": "https://example.com/api", "method": "post", "header": {"X-A": 1}}),
///     Data::Value(json!({"a": 1})),
///     |w| eprintln!("{w}"),
/// ).unwrap();
/// assert!(call.options.check().is_ok());
/// assert_eq!(call.data_type, "json");
/// let bad = request::options(&json!({"url": "https://e.com", "method": "PATCH"}), Data::Absent, |_| {});
/// assert_eq!(
///     request::API.err_msg(&bad.unwrap_err()),
///     "request:fail parameter error: parameter.method should be one of OPTIONS, GET, HEAD, \
///      POST, PUT, DELETE, TRACE, CONNECT instead of \"PATCH\""
/// );
/// ```
pub fn options(v: &Value, data: Data, mut warn: impl FnMut(String)) -> Result<Call, Fail> {
    let field = |name: &str| v.get(name).filter(|x| !x.is_null());
    let url = url_option(field("url"))?;
    let method = method(field("method")).map_err(|e| Fail::with(FailReason::ParameterError, e))?;
    let headers = header_pairs(field("header"))?;
    let content_type = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.clone());
    let encoded = encode(method, &url, &data, content_type.as_deref());
    let mut opts = RequestOptions::new(encoded.url).method(
        http::Method::from_bytes(method.as_bytes()).expect("WeChat's methods are valid tokens"),
    );
    if content_type.is_none() {
        opts = opts.header("content-type", DEFAULT_CONTENT_TYPE);
    }
    for (name, value) in headers {
        opts = opts.header(name, value);
    }
    if let Some(body) = encoded.body {
        opts = opts.body(body);
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
    if field("redirect").and_then(Value::as_str) == Some("manual") {
        opts = opts.redirect(Redirect::Manual);
    }
    let text = |name: &str, default: &str| {
        field(name)
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_owned()
    };
    Ok(Call {
        options: opts,
        data_type: text("dataType", "json"),
        response_type: text("responseType", "text"),
        chunked: flag("enableChunked") == Some(true),
    })
}

/// A `success` object and, for `responseType: 'arraybuffer'`, the bytes the face puts in
/// `res.data` as an `ArrayBuffer` (JSON cannot carry one; `result.data` is then absent).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// `{errMsg: "request:ok", data?, statusCode, header, cookies, profile?}`.
    pub result: Value,
    /// `res.data` as bytes, when the face must make an `ArrayBuffer` of them.
    pub bytes: Option<Vec<u8>>,
}

/// The Mini Program `success` object of a finished request, for any HTTP status.
pub fn success(res: &Response, data_type: &str, response_type: &str) -> Reply {
    let mut result = json!({
        "errMsg": API.ok_msg(),
        "statusCode": res.status_code,
        "header": res.header,
        "cookies": cookies(res.header_list.iter().map(|(n, v)| (n.as_str(), v.as_str()))),
    });
    let obj = result.as_object_mut().expect("object literal");
    let mut bytes = None;
    match payload(&res.body, Some(data_type), Some(response_type)) {
        Payload::Json(v) => {
            obj.insert("data".into(), v);
        }
        Payload::Text(t) => {
            obj.insert("data".into(), Value::String(t));
        }
        Payload::Bytes(b) => bytes = Some(b),
    }
    if let Some(p) = &res.profile {
        obj.insert(
            "profile".into(),
            serde_json::to_value(p).unwrap_or(Value::Null),
        );
    }
    Reply { result, bytes }
}

/// The methods `wx.request` accepts (WeChat's list, in its order).
pub const METHODS: [&str; 8] = [
    "OPTIONS", "GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "CONNECT",
];

/// The `content-type` WeChat sends when the caller sets none.
pub const DEFAULT_CONTENT_TYPE: &str = "application/json";

/// `method` as WeChat reads it: absent (or null) is `GET`; any case of a listed name is that
/// name; anything else is refused with the detail WeChat's message carries.
///
/// ```
/// use serde_json::json;
/// use wxdl_wx::request::method;
/// assert_eq!(method(None).unwrap(), "GET");
/// assert_eq!(method(Some(&json!("post"))).unwrap(), "POST");
/// assert!(method(Some(&json!("PATCH"))).unwrap_err().contains("should be one of"));
/// ```
pub fn method(v: Option<&Value>) -> Result<&'static str, String> {
    let given = match v {
        None | Some(Value::Null) => return Ok("GET"),
        Some(Value::String(s)) => s,
        Some(other) => {
            return Err(format!(
                "parameter.method should be String instead of {}",
                crate::value::type_name(other)
            ))
        }
    };
    METHODS
        .iter()
        .find(|m| m.eq_ignore_ascii_case(given.trim()))
        .copied()
        .ok_or_else(|| {
            format!(
                "parameter.method should be one of {} instead of {given:?}",
                METHODS.join(", ")
            )
        })
}

/// `data` as a face hands it over: what the script passed.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    /// No `data` (or `undefined` / `null`).
    Absent,
    /// An `ArrayBuffer` (or typed array): sent as its bytes.
    Bytes(Vec<u8>),
    /// Any other JavaScript value, as JSON.
    Value(Value),
}

impl Data {
    /// `data` from JSON, as a face that cannot pass an `ArrayBuffer` hands it over: absent or
    /// null is [`Data::Absent`]; `{"base64": "…"}` (exactly that, valid base64) is the bytes
    /// (see [`bytes_json`]); anything else is the value.
    pub fn from_json(v: Option<&Value>) -> Data {
        match v {
            None | Some(Value::Null) => Data::Absent,
            Some(Value::Object(o)) if o.len() == 1 => match o.get("base64").and_then(Value::as_str)
            {
                Some(text) => match base64::engine::general_purpose::STANDARD.decode(text) {
                    Ok(bytes) => Data::Bytes(bytes),
                    Err(_) => Data::Value(Value::Object(o.clone())),
                },
                None => Data::Value(Value::Object(o.clone())),
            },
            Some(v) => Data::Value(v.clone()),
        }
    }
}

/// Bytes in JSON, for faces and sinks that carry JSON only (an `ArrayBuffer`'s content):
/// `{"base64": "…"}`.
pub fn bytes_json(bytes: &[u8]) -> Value {
    json!({ "base64": base64::engine::general_purpose::STANDARD.encode(bytes) })
}

/// What goes on the wire for one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The URL, with `data`'s query string appended for GET.
    pub url: String,
    /// The body (none for GET and when there is no `data`).
    pub body: Option<Vec<u8>>,
}

/// Encodes `data` for `method` as WeChat does: for GET, an object becomes
/// `encodeURIComponent(k)=encodeURIComponent(v)&…` appended to the URL (`?` or `&`) and a string
/// is appended as it is; for other methods a string or an `ArrayBuffer` is sent as it is, and an
/// object (or array, number, boolean) is JSON unless `content_type` is
/// `application/x-www-form-urlencoded`, which makes it the query-string form.
///
/// ```
/// use serde_json::json;
/// use wxdl_wx::request::{encode, Data};
/// let get = encode("GET", "https://a.test/s?x=1", &Data::Value(json!({"q": "a b", "n": 2})), None);
/// assert_eq!(get.url, "https://a.test/s?x=1&q=a%20b&n=2");
/// assert_eq!(get.body, None);
/// let post = encode("POST", "https://a.test/s", &Data::Value(json!({"q": "a b"})), None);
/// assert_eq!(post.body.as_deref(), Some(&br#"{"q":"a b"}"#[..]));
/// let form = encode("POST", "https://a.test/s", &Data::Value(json!({"q": "a b"})),
///     Some("application/x-www-form-urlencoded; charset=utf-8"));
/// assert_eq!(form.body.as_deref(), Some(&b"q=a%20b"[..]));
/// ```
pub fn encode(method: &str, url: &str, data: &Data, content_type: Option<&str>) -> Encoded {
    let form = content_type.is_some_and(|ct| {
        ct.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded")
    });
    if method == "GET" {
        let query = match data {
            Data::Value(Value::Object(map)) => query_string(map),
            Data::Value(Value::String(s)) => s.clone(),
            _ => String::new(),
        };
        let url = if query.is_empty() {
            url.to_owned()
        } else {
            let (base, fragment) = url
                .split_once('#')
                .map_or((url, None), |(b, f)| (b, Some(f)));
            let sep = if !base.contains('?') {
                "?"
            } else if base.ends_with('?') || base.ends_with('&') {
                ""
            } else {
                "&"
            };
            match fragment {
                Some(f) => format!("{base}{sep}{query}#{f}"),
                None => format!("{base}{sep}{query}"),
            }
        };
        return Encoded { url, body: None };
    }
    let body = match data {
        Data::Absent | Data::Value(Value::Null) => None,
        Data::Bytes(b) => Some(b.clone()),
        Data::Value(Value::String(s)) => Some(s.clone().into_bytes()),
        Data::Value(Value::Object(map)) if form => Some(query_string(map).into_bytes()),
        Data::Value(v) => Some(v.to_string().into_bytes()),
    };
    Encoded {
        url: url.to_owned(),
        body,
    }
}

/// `k=v&…` with JavaScript's `encodeURIComponent` on both sides and `String(v)` for values
/// (`null` → `null`, an array → its items joined by `,`, an object → `[object Object]`).
fn query_string(map: &Map<String, Value>) -> String {
    map.iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                encode_uri_component(k),
                encode_uri_component(&js_string(v))
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// JavaScript's `String(v)` of a JSON value.
fn js_string(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => js_number_text(n),
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                if i.is_null() {
                    String::new()
                } else {
                    js_string(i)
                }
            })
            .collect::<Vec<_>>()
            .join(","),
        Value::Object(_) => "[object Object]".into(),
    }
}

/// JavaScript's `encodeURIComponent`: UTF-8 percent-encoded except `A–Z a–z 0–9 - _ . ! ~ * ' ( )`.
fn encode_uri_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `res.data` before it becomes a JavaScript value.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// `dataType: 'json'` and the text parsed.
    Json(Value),
    /// The body as text (UTF-8, invalid sequences replaced, a leading BOM dropped).
    Text(String),
    /// `responseType: 'arraybuffer'`: the bytes.
    Bytes(Vec<u8>),
}

/// `res.data` from the body: `responseType: 'arraybuffer'` gives the bytes; otherwise the text,
/// parsed as JSON when `dataType` is `json` (the default) and it parses — as WeChat does, a body
/// that does not parse stays text and is no failure.
///
/// ```
/// use serde_json::json;
/// use wxdl_wx::request::{payload, Payload};
/// assert_eq!(payload(br#"{"a":1}"#, None, None), Payload::Json(json!({"a": 1})));
/// assert_eq!(payload(b"<html>", None, None), Payload::Text("<html>".into()));
/// assert_eq!(payload(br#"{"a":1}"#, Some("text"), None), Payload::Text(r#"{"a":1}"#.into()));
/// assert_eq!(payload(b"\x00\x01", None, Some("arraybuffer")), Payload::Bytes(vec![0, 1]));
/// ```
pub fn payload(body: &[u8], data_type: Option<&str>, response_type: Option<&str>) -> Payload {
    if response_type == Some("arraybuffer") {
        return Payload::Bytes(body.to_vec());
    }
    let text = String::from_utf8_lossy(body);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    if data_type.unwrap_or("json") == "json" {
        if let Ok(v) = serde_json::from_str::<Value>(text) {
            return Payload::Json(v);
        }
    }
    Payload::Text(text.to_owned())
}

/// `res.cookies`: each `Set-Cookie` value as sent, in order.
pub fn cookies<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<String> {
    headers
        .into_iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, value)| value.to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn get_queries_follow_encode_uri_component_and_string() {
        let data = Data::Value(json!({
            "a": "é&=/?", "n": 1.5, "big": 1e21, "t": true, "z": null, "arr": [1, "x", null],
            "o": {"k": 1}, "sp": "-_.!~*'()"
        }));
        let e = encode("GET", "https://h.test/p", &data, None);
        // In the script's key order (serde_json keeps insertion order here), as JavaScript does.
        assert_eq!(
            e.url,
            "https://h.test/p?a=%C3%A9%26%3D%2F%3F&n=1.5&big=1e%2B21&t=true&z=null&arr=1%2Cx%2C&o=%5Bobject%20Object%5D&sp=-_.!~*'()"
        );
        assert_eq!(
            encode(
                "GET",
                "https://h.test/p?x#frag",
                &Data::Value(json!({"a": 1})),
                None
            )
            .url,
            "https://h.test/p?x&a=1#frag"
        );
        assert_eq!(
            encode(
                "GET",
                "https://h.test/p?",
                &Data::Value(json!("raw=1")),
                None
            )
            .url,
            "https://h.test/p?raw=1"
        );
        assert_eq!(
            encode("GET", "https://h.test/p", &Data::Value(json!({})), None).url,
            "https://h.test/p"
        );
    }

    #[test]
    fn bodies_by_method_and_content_type() {
        let obj = Data::Value(json!({"a": [1, 2]}));
        assert_eq!(
            encode("PUT", "u", &obj, Some("application/json"))
                .body
                .unwrap(),
            br#"{"a":[1,2]}"#
        );
        assert_eq!(
            encode("POST", "u", &obj, Some("Application/X-WWW-Form-Urlencoded"))
                .body
                .unwrap(),
            b"a=1%2C2"
        );
        assert_eq!(
            encode("POST", "u", &Data::Value(json!("x=1")), None)
                .body
                .unwrap(),
            b"x=1"
        );
        assert_eq!(
            encode("POST", "u", &Data::Bytes(vec![0, 255]), None)
                .body
                .unwrap(),
            [0, 255]
        );
        assert_eq!(
            encode("POST", "u", &Data::Value(json!(7)), None)
                .body
                .unwrap(),
            b"7"
        );
        assert_eq!(encode("DELETE", "u", &Data::Absent, None).body, None);
        assert_eq!(encode("GET", "u", &Data::Bytes(vec![1]), None).body, None);
    }

    #[test]
    fn methods_and_payloads() {
        for m in METHODS {
            assert_eq!(method(Some(&json!(m.to_lowercase()))).unwrap(), m);
        }
        assert!(method(Some(&json!(5)))
            .unwrap_err()
            .contains("instead of Number"));
        assert_eq!(
            payload(b"\xef\xbb\xbf[1]", None, None),
            Payload::Json(json!([1]))
        );
        assert_eq!(payload(b"", None, None), Payload::Text(String::new()));
        assert_eq!(
            payload(b"12", Some("other"), Some("text")),
            Payload::Text("12".into())
        );
        assert_eq!(
            cookies([
                ("Set-Cookie", "a=1; Path=/"),
                ("x", "y"),
                ("set-cookie", "b=2")
            ]),
            ["a=1; Path=/", "b=2"]
        );
    }

    #[test]
    fn switches_texts_and_data_as_wechat_reads_them() {
        let parse = |v: Value| options(&v, Data::Absent, |_| {}).unwrap();
        let shown = |c: &Call, field_value: &str| {
            format!("{:?}", c.options).contains(&format!(" {field_value},"))
        };
        let c = parse(json!({"url": "https://h.test/", "enableChunked": 1, "redirect": "follow"}));
        assert_eq!(
            (c.data_type.as_str(), c.response_type.as_str()),
            ("json", "text")
        );
        assert!(!c.chunked);
        assert!(shown(&c, "redirect: Follow"), "{:?}", c.options);
        assert!(shown(&c, "enable_http2: false") && shown(&c, "enable_quic: false"));
        assert!(shown(&c, "method: GET"));
        let c = parse(json!({
            "url": "https://h.test/", "enableChunked": true, "redirect": "manual",
            "dataType": "text", "responseType": "arraybuffer", "enableHttp2": true,
            "enableQuic": true, "method": " put "
        }));
        assert_eq!(
            (c.data_type.as_str(), c.response_type.as_str()),
            ("text", "arraybuffer")
        );
        assert!(c.chunked);
        assert!(shown(&c, "redirect: Manual") && shown(&c, "method: PUT"));
        assert!(shown(&c, "enable_http2: true") && shown(&c, "enable_quic: true"));
        // WeChat's content-type only when the caller gives none, in any case of its name.
        let c = parse(json!({"url": "https://h.test/", "header": {"Content-Type": "text/plain"}}));
        assert!(
            shown(&c, r#"header: [("Content-Type", "text/plain")]"#),
            "{:?}",
            c.options
        );
        // A URL ending in `&` takes the query without another separator.
        assert_eq!(
            encode(
                "GET",
                "https://h.test/p?x=1&",
                &Data::Value(json!({"a": 1})),
                None
            )
            .url,
            "https://h.test/p?x=1&a=1"
        );
        // `{"base64": …}` alone and valid is bytes; anything else is the value.
        assert_eq!(
            Data::from_json(Some(&json!({"base64": "AAH/"}))),
            Data::Bytes(vec![0, 1, 255])
        );
        for v in [
            json!({"base64": "AAH/", "x": 1}),
            json!({"base64": "not base64!"}),
            json!({"base64": 5}),
            json!({"other": "AAH/"}),
        ] {
            assert_eq!(Data::from_json(Some(&v)), Data::Value(v.clone()), "{v}");
        }
        assert_eq!(Data::from_json(Some(&Value::Null)), Data::Absent);
        assert_eq!(Data::from_json(None), Data::Absent);
        assert_eq!(
            bytes_json(&[0, 1, 255]),
            json!({"base64": "AAH/"}),
            "the form from_json reads back"
        );
    }
}
