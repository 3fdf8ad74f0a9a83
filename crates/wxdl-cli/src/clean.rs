//! `wxdl clean`: removes the sandbox's temp files past their retention (the CLI keeps the temp
//! files of `wxdl get` until then; `wxdl run` removes its own when it ends) and the unlocked
//! leftovers of downloads that died.

use std::time::Duration;

use wxdl::{Sandbox, DEFAULT_USR_QUOTA};

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
    let days = Duration::from_secs(args.older_than.saturating_mul(86_400));
    let cleaned = sandbox
        .clean(days)
        .map_err(|e| CliError::internal(format!("cleaning {}: {e}", root.display())))?;
    println!(
        "wxdl clean: {} temp file{} ({} bytes) older than {} day{}, {} leftover{} of downloads that died",
        cleaned.temp_files,
        if cleaned.temp_files == 1 { "" } else { "s" },
        cleaned.bytes,
        args.older_than,
        if args.older_than == 1 { "" } else { "s" },
        cleaned.leftovers,
        if cleaned.leftovers == 1 { "" } else { "s" },
    );
    Ok(exit::OK)
}
