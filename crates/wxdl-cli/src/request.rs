//! `wxdl request`: one `wx.request`, asked the way curl users ask (`-X`, `-H`, `-d`, `-I`,
//! `-i`, `-o`, `-f`), run through the wx layer so the wire is what a Mini Program's call puts
//! there (WeChat's default `content-type`, GET data as the query), and answered with the body on
//! stdout or, with `--json`, the Mini Program result object.

use std::io::{Read, Write};
use std::path::Path;

use serde_json::{json, Value};
use wxdl::request::Response;
use wxdl_wx::request::{self, Data, Reply};

use crate::args::RequestArgs;
use crate::exit;
use crate::get::{build_client, header_object, with_scheme, CliError};
use crate::har::{Har, PostData};
use crate::render;
use crate::signals::{self, Interrupt};
use crate::state;
use crate::watch::Watch;

/// Runs `wxdl request`; the exit status follows the HTTP status or the failure's reason.
pub async fn run(args: RequestArgs) -> Result<u8, CliError> {
    let (opts, data) = options_object(&args)?;
    let data_sent = data.clone();
    let call = request::options(&opts, data, |w| eprintln!("wxdl: warning: {w}"))
        .map_err(|f| CliError::usage(request::API.describe(&f)));
    let mut call = match call {
        Ok(call) => call,
        // A bad option is the call's failure, reported like any other (with --json, the fail
        // object), before any network.
        Err(e) if args.json => {
            println!("{}", json!({"errMsg": e.message}));
            return Ok(exit::USAGE);
        }
        Err(e) => return Err(e),
    };
    if let Some(max) = args.max_bytes {
        call.options = call.options.max_bytes(max);
    }
    let watch = Watch {
        heads: args.verbose,
        retries: false,
        label: None,
    };
    if let Some(print) = watch.printer(indicatif::ProgressBar::hidden()) {
        call.options = call.options.on_trace(print);
    }
    let data_dir = state::data_dir(args.client.data_dir.as_deref());
    let client = build_client(&args.client, &data_dir, 1, None)?;
    let mut interrupt = Interrupt::listen();
    let outcome = signals::until_interrupted(client.request(call.options), &mut interrupt).await;
    state::save_estimator(&data_dir, &client.estimator_state());
    state::save_alt_svc(&data_dir, &client.alt_svc_state());
    if let (Ok(res), Some(path)) = (&outcome, &args.har) {
        let mut har = Har::default();
        har.add_hops(&res.hops, Some(&post_data(&data_sent)));
        har.save(path)?;
    }
    let code = match &outcome {
        Ok(res) => answer(&args, res, &call.data_type, &call.response_type)?,
        Err(fail) => {
            if args.json {
                println!("{}", request::API.fail_result(fail));
            } else if !args.quiet {
                eprintln!("wxdl: {}", request::API.describe(fail));
            }
            exit::for_reason(fail.reason)
        }
    };
    Ok(interrupt.signal().map_or(code, signals::exit_status))
}

/// The flags as the options object a Mini Program would pass, and its `data`.
/// What `--har` shows of the body `-d` gave (the wx layer sends a string as it is).
fn post_data(data: &Data) -> PostData {
    match data {
        Data::Value(Value::String(text)) => PostData::of_bytes(text.as_bytes()),
        Data::Bytes(bytes) => PostData::of_bytes(bytes),
        _ => PostData::Opaque,
    }
}

fn options_object(args: &RequestArgs) -> Result<(Value, Data), CliError> {
    let header = header_object(&args.headers)?;
    let data = match args.data.as_deref() {
        None => Data::Absent,
        Some("@-") => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .map_err(|e| CliError::usage(format!("-d @-: {e}")))?;
            Data::Bytes(bytes)
        }
        Some(d) if d.starts_with('@') => Data::Bytes(
            std::fs::read(&d[1..]).map_err(|e| CliError::usage(format!("-d {d}: {e}")))?,
        ),
        Some(d) => Data::Value(Value::from(d)),
    };
    let method = match (&args.method, args.head, &data) {
        (Some(m), _, _) => m.clone(),
        (None, true, _) => "HEAD".into(),
        (None, false, Data::Absent) => "GET".into(),
        (None, false, _) => "POST".into(),
    };
    let mut opts = json!({
        "url": with_scheme(&args.url),
        "method": method,
        "header": header,
        "enableHttp2": args.http2,
        "enableQuic": args.http3,
        "redirect": if args.no_follow { "manual" } else { "follow" },
    });
    let o = opts.as_object_mut().expect("object literal");
    if let Some(ms) = args.timeout {
        o.insert("timeout".into(), json!(ms));
    }
    if let Some(t) = &args.data_type {
        o.insert("dataType".into(), json!(t));
    }
    if !args.json {
        // The body goes out as received: nothing to parse.
        o.insert("responseType".into(), json!("arraybuffer"));
    }
    Ok((opts, data))
}

/// Prints the answer as asked and returns the exit status of its HTTP status.
fn answer(
    args: &RequestArgs,
    res: &Response,
    data_type: &str,
    response_type: &str,
) -> Result<u8, CliError> {
    let code = exit::for_http_status(res.status_code);
    if args.json {
        // responseType stays 'text' with --json: `data` is JSON or text, never bytes.
        let Reply { result, .. } = request::success(res, data_type, response_type);
        println!("{result}");
        return Ok(code);
    }
    let refused = args.fail && res.status_code >= 400;
    if refused && !args.quiet {
        eprintln!(
            "wxdl: HTTP {} {} (-f: the body is not printed)",
            res.status_code,
            render::reason_phrase(res.status_code)
        );
    }
    let mut head = Vec::new();
    if args.include || args.head {
        head.extend_from_slice(status_line(res).as_bytes());
        for (k, v) in &res.header_list {
            head.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
        }
        head.extend_from_slice(b"\r\n");
    }
    let body: &[u8] = if refused || args.head { &[] } else { &res.body };
    match &args.output {
        Some(path) if path.as_os_str() != "-" => {
            let mut all = head;
            all.extend_from_slice(body);
            write_file(path, &all)?;
        }
        _ => {
            let mut out = std::io::stdout().lock();
            let written = out
                .write_all(&head)
                .and_then(|()| out.write_all(body))
                .and_then(|()| out.flush());
            // A closed pipe (`| head`) is the reader's choice, not a failure.
            if let Err(e) = written {
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    return Err(CliError::internal(format!("stdout: {e}")));
                }
            }
        }
    }
    Ok(code)
}

/// `HTTP/1.1 200 OK` / `HTTP/2 200`, as curl -i shows it.
fn status_line(res: &Response) -> String {
    let version = match res.profile.as_ref().map(|p| p.protocol) {
        Some("h2") => "HTTP/2",
        Some("quic") => "HTTP/3",
        _ => "HTTP/1.1",
    };
    format!(
        "{version} {} {}\r\n",
        res.status_code,
        render::reason_phrase(res.status_code)
    )
}

/// `-o FILE`: the whole answer put in place atomically.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    wxdl::store::write_file_atomic(path, bytes)
        .map_err(|e| CliError::usage(format!("-o {}: {e}", path.display())))
}
