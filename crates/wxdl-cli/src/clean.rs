//! `wxdl clean`: removes the sandbox's temp files past their retention (the CLI keeps the temp
//! files of `wxdl get` until then; `wxdl run` removes its own when it ends) and the unlocked
//! leftovers of downloads that died.

use std::time::Duration;

use wxdl::{store::DEFAULT_USR_QUOTA, Sandbox};

use crate::args::CleanArgs;
use crate::exit;
use crate::get::CliError;
use crate::state;

/// Runs `wxdl clean` and returns the exit status.
pub fn run(args: CleanArgs) -> Result<u8, CliError> {
    let data_dir = state::data_dir(args.data_dir.as_deref());
    let root = args.root.unwrap_or_else(|| data_dir.join("sandbox"));
    let sandbox = Sandbox::open(&root, DEFAULT_USR_QUOTA)
        .map_err(|e| CliError::internal(format!("sandbox {}: {e}", root.display())))?;
    let older_than = if args.all { 0 } else { args.older_than };
    let days = Duration::from_secs(older_than.saturating_mul(86_400));
    let cleaned = sandbox
        .clean(days)
        .map_err(|e| CliError::internal(format!("cleaning {}: {e}", root.display())))?;
    let s = |n: usize| if n == 1 { "" } else { "s" };
    let age = match older_than {
        0 => "of any age".to_owned(),
        1 => "older than 1 day".to_owned(),
        days => format!("older than {days} days"),
    };
    println!(
        "wxdl clean: freed {} bytes: {} temp file{} and {} partial file{} {age}, {} leftover{} of downloads that died",
        cleaned.bytes,
        cleaned.temp_files,
        s(cleaned.temp_files),
        cleaned.partials,
        s(cleaned.partials),
        cleaned.leftovers,
        s(cleaned.leftovers),
    );
    Ok(exit::OK)
}
