//! `wxdl run`: Mini Program JavaScript on the JS host, over the same engine as `wxdl get`.

use std::time::Duration;

use wxdl::client::DEFAULT_CONCURRENCY;

use crate::args::RunArgs;
use crate::exit;
use crate::get::{build_client, CliError};
use crate::signals::{self, Interrupt};
use crate::state;

/// Runs the script until nothing is pending; exit status 6 when it failed.
pub async fn run(args: RunArgs) -> Result<u8, CliError> {
    if !args.script.is_file() {
        return Err(CliError::usage(format!(
            "{}: no such script",
            args.script.display()
        )));
    }
    let mut served = Vec::new();
    for spec in &args.serve {
        served.push(crate::serve::start(spec).await?);
    }
    let data_dir = state::data_dir(args.client.data_dir.as_deref());
    // The project's own identity, unless the command line names one.
    let project = wxdl_js::Project::find(&args.script);
    let mut client_args = args.client.clone();
    client_args.appid = client_args.appid.or(project.appid);
    client_args.app_version = client_args.app_version.or(project.version);
    let client = build_client(&client_args, &data_dir, DEFAULT_CONCURRENCY, None)?;
    let interrupt = Interrupt::listen();
    let mut signalled = interrupt.clone();
    let page = wxdl_js::RunOptions {
        appid: args.client.appid.clone(),
        keep_tmp: args.keep_tmp,
        query: args.query.clone().unwrap_or_default(),
        call: args.call.clone(),
        hide_at: args.hide_at.map(Duration::from_millis),
        show_at: args.show_at.map(Duration::from_millis),
        // The first --serve's origin, with the port actually bound (PORT 0 picks a free one).
        serve_origin: served.first().map(|addr| format!("http://{addr}")),
        promise: args.promise,
    };
    let result = wxdl_js::run_file_until(&args.script, client.clone(), &page, async move {
        signalled.wait().await;
    })
    .await;
    state::save_estimator(&data_dir, &client.estimator_state());
    state::save_alt_svc(&data_dir, &client.alt_svc_state());
    if let Some(signo) = interrupt.signal() {
        if let Err(e) = result {
            eprintln!("{e}");
        }
        return Ok(signals::exit_status(signo));
    }
    match result {
        Ok(()) => Ok(exit::OK),
        Err(e) => {
            eprintln!("{e}");
            Ok(exit::SCRIPT_FAILED)
        }
    }
}
