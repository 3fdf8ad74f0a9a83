//! `wxdl run`: Mini Program JavaScript on the JS host, over the same engine as `wxdl get`.

use wxdl::DEFAULT_CONCURRENCY;

use crate::args::RunArgs;
use crate::exit;
use crate::get::{build_client, CliError};
use crate::state;

/// Runs the script until nothing is pending; exit status 6 when it failed.
pub async fn run(args: RunArgs) -> Result<u8, CliError> {
    let data_dir = state::data_dir(args.client.data_dir.as_deref());
    let client = build_client(&args.client, &data_dir, DEFAULT_CONCURRENCY)?;
    let result = wxdl_js::run_file_with(&args.script, client.clone(), args.call.as_deref()).await;
    state::save_estimator(&data_dir, &client.estimator_state());
    state::save_alt_svc(&data_dir, &client.alt_svc_state());
    match result {
        Ok(()) => Ok(exit::OK),
        Err(e) => {
            eprintln!("{e}");
            Ok(exit::SCRIPT_FAILED)
        }
    }
}
