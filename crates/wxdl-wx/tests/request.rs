//! `wx.request` through the wx layer against the testkit's echo server: what a Mini Program's
//! options object puts on the wire (query, JSON, form, bytes, WeChat's default content-type) and
//! the `success` object it gets back (`data` by dataType/responseType, header, cookies).

use serde_json::{json, Value};
use wxdl_testkit::ca::TestCa;
use wxdl_testkit::echo::Echo;
use wxdl_testkit::engine::Env;
use wxdl_wx::request::{self, Data};

async fn call(client: &wxdl::Client, opts: Value, data: Data) -> request::Reply {
    let call = request::options(&opts, data, |w| panic!("warned: {w}")).expect("options");
    let (data_type, response_type) = (call.data_type.clone(), call.response_type.clone());
    let res = client.request(call.options).await.expect("request");
    request::success(&res, &data_type, &response_type)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_objects_go_on_the_wire_as_wechat_sends_them() {
    let ca = TestCa::new();
    let echo = Echo::start(&ca).await;
    let env = Env::new();
    let client = env.client(&[]);

    // GET: the object becomes the query, after the URL's own; the echo's JSON comes back parsed.
    let r = call(
        &client,
        json!({"url": echo.url("/q?x=1"), "header": {"X-N": 5}}),
        Data::Value(json!({"q": "a b&c", "n": 2})),
    )
    .await;
    assert_eq!(r.result["errMsg"], "request:ok");
    assert_eq!(r.result["statusCode"], 200);
    let got = &r.result["data"];
    assert_eq!(got["method"], "GET");
    assert_eq!(got["path"], "/q?x=1&q=a%20b%26c&n=2");
    assert_eq!(got["headers"]["x-n"], "5");
    assert_eq!(got["headers"]["content-type"], "application/json");
    assert_eq!(got["body_len"], 0);
    assert_eq!(r.result["header"]["content-type"], "application/json");
    assert!(r.bytes.is_none());

    // POST with WeChat's default content-type: the object as JSON.
    let r = call(
        &client,
        json!({"url": echo.url("/p"), "method": "post"}),
        Data::Value(json!({"a": [1, {"b": null}]})),
    )
    .await;
    assert_eq!(r.result["data"]["method"], "POST");
    assert_eq!(r.result["data"]["body_text"], r#"{"a":[1,{"b":null}]}"#);

    // A form when the caller says so (any case of the header name).
    let r = call(
        &client,
        json!({"url": echo.url("/f"), "method": "PUT",
               "header": {"Content-Type": "application/x-www-form-urlencoded"}}),
        Data::Value(json!({"k": "v w", "t": true})),
    )
    .await;
    let got = &r.result["data"];
    assert_eq!(got["body_text"], "k=v%20w&t=true");
    assert_eq!(
        got["headers"]["content-type"],
        "application/x-www-form-urlencoded"
    );

    // An ArrayBuffer goes as its bytes.
    let r = call(
        &client,
        json!({"url": echo.url("/b"), "method": "POST"}),
        Data::Bytes(vec![0, 1, 2, 255]),
    )
    .await;
    assert_eq!(r.result["data"]["body_len"], 4);

    // dataType other than json keeps the text; arraybuffer hands bytes to the face.
    let r = call(
        &client,
        json!({"url": echo.url("/t"), "dataType": "text"}),
        Data::Absent,
    )
    .await;
    assert!(r.result["data"].as_str().unwrap().starts_with('{'));
    let r = call(
        &client,
        json!({"url": echo.url("/bytes/300"), "responseType": "arraybuffer"}),
        Data::Absent,
    )
    .await;
    assert!(r.result.get("data").is_none());
    let bytes = r.bytes.unwrap();
    assert_eq!(bytes.len(), 300);
    assert_eq!(bytes[260], (260 % 251) as u8);

    // Any status is success; a body that is not JSON stays text under dataType json.
    let r = call(&client, json!({"url": echo.url("/bytes/3")}), Data::Absent).await;
    assert_eq!(r.result["data"], "\u{0}\u{1}\u{2}");
    let r = call(
        &client,
        json!({"url": echo.url("/status/404")}),
        Data::Absent,
    )
    .await;
    assert_eq!(r.result["statusCode"], 404);
    assert_eq!(r.result["data"]["path"], "/status/404");
    assert_eq!(r.result["cookies"], json!([]));
    assert!(r.result["profile"]["fetchStart"].as_f64().unwrap() > 0.0);

    // redirect: 'manual' ends with the 3xx and its headers.
    let r = call(
        &client,
        json!({"url": echo.url("/redirect/302?to=/elsewhere"), "redirect": "manual"}),
        Data::Absent,
    )
    .await;
    assert_eq!(r.result["statusCode"], 302);
    assert_eq!(r.result["header"]["location"], "/elsewhere");
    assert_eq!(
        echo.hits(),
        9,
        "one exchange per call, the manual 3xx not followed"
    );
}

#[tokio::test]
async fn bad_options_fail_before_any_connection_in_wechats_words() {
    let fail = |v: Value| {
        let f = request::options(&v, Data::Absent, |_| {}).unwrap_err();
        (request::API.err_msg(&f), f.errno())
    };
    assert_eq!(
        fail(json!({})),
        ("request:fail url is null or nil".to_owned(), 600005)
    );
    let (msg, errno) = fail(json!({"url": "https://a.test/", "method": "FETCH"}));
    assert_eq!(errno, 600005);
    assert!(
        msg.starts_with("request:fail parameter error: parameter.method should be one of"),
        "{msg}"
    );
    let (msg, _) = fail(json!({"url": "https://a.test/", "header": {"X": {"a": 1}}}));
    assert!(msg.starts_with("request:fail invalid header"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_profile_is_there_unless_refused_and_names_the_high_performance_mode() {
    let ca = TestCa::new();
    let echo = Echo::start(&ca).await;
    let env = Env::new();
    let client = env.client(&[]);
    let url = echo.url("/p");
    for (opts, mode) in [
        (
            json!({"url": url, "useHighPerformanceMode": true}),
            Some(true),
        ),
        (
            json!({"url": url, "useHighPerformanceMode": 1}),
            Some(false),
        ),
        (json!({"url": url, "enableProfile": 0}), Some(false)),
        (json!({"url": url, "enableProfile": false}), None),
    ] {
        let r = call(&client, opts.clone(), Data::Absent).await;
        let shown = r
            .result
            .get("profile")
            .map(|p| p["usingHighPerformanceMode"].as_bool());
        assert_eq!(shown, mode.map(Some), "{opts}: {}", r.result);
    }
}
