//! `wxdl upload`: one `wx.uploadFile` — a local file (or a sandbox file) as the multipart body
//! WeChat sends, fields first — through the wx layer, with a progress bar of the bytes sent and
//! the answer's body (or, with `--json`, the Mini Program result) on stdout.

use std::io::Write;
use std::path::Path;

use serde_json::{json, Map, Value};
use wxdl_wx::upload;

use crate::args::UploadArgs;
use crate::exit;
use crate::get::{build_client, header_object, with_scheme, CliError};
use crate::har::{Har, PostData};
use crate::render;
use crate::signals::{self, Interrupt};
use crate::state;
use crate::watch::Watch;

/// Runs `wxdl upload`; the exit status follows the HTTP status or the failure's reason.
pub async fn run(args: UploadArgs) -> Result<u8, CliError> {
    let (host_file, url) = match (&args.file_path, &args.file, &args.url) {
        (None, Some(file), Some(url)) => (Some(file.clone()), url.clone()),
        (Some(_), Some(url), None) => (None, url.to_string_lossy().into_owned()),
        (Some(_), None, Some(url)) => (None, url.clone()),
        _ => {
            return Err(CliError::usage(
                "give FILE URL, or --file-path WXFILE URL (the file to send, then where)",
            ))
        }
    };
    let file_path = match (&args.file_path, &host_file) {
        (Some(wx), _) => wx.clone(),
        // A host file has no wxfile:// name; its own name stands in for messages.
        (None, Some(f)) => f.display().to_string(),
        (None, None) => unreachable!("matched above"),
    };
    let header = header_object(&args.headers)?;
    let mut form = Map::new();
    for f in &args.form {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| CliError::usage(format!("-F {f:?}: expected 'key=value'")))?;
        form.insert(k.to_owned(), Value::from(v));
    }
    let mut object = json!({
        "url": with_scheme(&url), "filePath": file_path, "name": args.name,
        "header": header, "formData": form.clone(),
        "enableHttp2": args.http2, "enableQuic": args.http3,
    });
    if let Some(ms) = args.timeout {
        object["timeout"] = json!(ms);
    }
    let mut opts = match upload::options(&object, |w| eprintln!("wxdl: warning: {w}")) {
        Ok(o) => o,
        Err(f) if args.json => {
            println!("{}", upload::API.fail_result(&f));
            return Ok(exit::USAGE);
        }
        Err(f) => return Err(CliError::usage(upload::API.describe(&f))),
    };
    if let Some(f) = host_file {
        opts = opts.host_path(f);
    }
    let bar = render::byte_bar(args.quiet || args.json);
    let b = bar.clone();
    opts = opts.on_progress_update(move |p| {
        b.set_length(p.total_bytes_expected_to_send);
        b.set_position(p.total_bytes_sent);
    });
    let watch = Watch {
        heads: args.verbose,
        retries: false,
        label: None,
    };
    if let Some(print) = watch.printer(bar.clone()) {
        opts = opts.on_trace(print);
    }
    let data_dir = state::data_dir(args.client.data_dir.as_deref());
    let client = build_client(&args.client, &data_dir, 1, None)?;
    let mut interrupt = Interrupt::listen();
    let outcome = signals::until_interrupted(client.upload(opts), &mut interrupt).await;
    bar.finish_and_clear();
    state::save_estimator(&data_dir, &client.estimator_state());
    state::save_alt_svc(&data_dir, &client.alt_svc_state());
    if let (Ok(done), Some(path)) = (&outcome, &args.har) {
        let fields = form
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect();
        let shown = Path::new(&file_path)
            .file_name()
            .map_or_else(|| file_path.clone(), |n| n.to_string_lossy().into_owned());
        let post = PostData::Form {
            fields,
            file: (args.name.clone(), shown),
        };
        let mut har = Har::default();
        har.add_hops(&done.response.hops, Some(&post));
        har.save(path)?;
    }
    let code = match &outcome {
        Ok(done) => {
            if args.json {
                println!("{}", upload::success(done));
            } else {
                let mut out = std::io::stdout().lock();
                let _ = out
                    .write_all(&done.response.body)
                    .and_then(|()| out.flush());
            }
            exit::for_http_status(done.response.status_code)
        }
        Err(fail) => {
            if args.json {
                println!("{}", upload::API.fail_result(fail));
            } else if !args.quiet {
                eprintln!("wxdl: {}", upload::API.describe(fail));
            }
            exit::for_reason(fail.reason)
        }
    };
    Ok(interrupt.signal().map_or(code, signals::exit_status))
}
