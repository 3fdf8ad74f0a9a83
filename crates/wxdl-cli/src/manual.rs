//! `wxdl completions SHELL` and `wxdl man`: shell completion scripts and the roff man page,
//! both generated from the same clap definition as `--help`, so they never drift from it.

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::args::Cli;
use crate::exit;

/// Prints the completion script for `shell` on stdout.
pub fn completions(shell: Shell) -> u8 {
    let mut cmd = Cli::command();
    // Generated into memory first: clap_complete panics on a write error (`| head`).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "wxdl", &mut script);
    let mut out = std::io::stdout().lock();
    flushed(out.write_all(&script).and_then(|()| out.flush()))
}

/// Prints the man page (`wxdl.1`, roff) on stdout: the top-level page with each
/// subcommand's options and help after it.
pub fn man_page() -> u8 {
    let cmd = Cli::command();
    let mut page = Vec::new();
    let man = clap_mangen::Man::new(cmd.clone());
    let rendered = man.render(&mut page).and_then(|()| {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let name = sub.get_name();
            writeln!(page, ".SH \"WXDL {}\"", name.to_uppercase())?;
            let sub = sub.clone().bin_name(format!("wxdl {name}"));
            let sub_man = clap_mangen::Man::new(sub);
            sub_man.render_description_section(&mut page)?;
            sub_man.render_synopsis_section(&mut page)?;
            sub_man.render_options_section(&mut page)?;
            sub_man.render_extra_section(&mut page)?;
        }
        Ok(())
    });
    if let Err(e) = rendered {
        eprintln!("wxdl man: {e}");
        return exit::INTERNAL;
    }
    // roff reads its input as Latin-1 on many systems: the help's ellipses go as dots.
    let page = String::from_utf8_lossy(&page).replace('…', "...");
    let mut out = std::io::stdout().lock();
    flushed(out.write_all(page.as_bytes()).and_then(|()| out.flush()))
}

/// Exit status of writing to stdout: a closed pipe (`| head`) is not an error worth a message.
fn flushed(result: std::io::Result<()>) -> u8 {
    match result {
        Ok(()) => exit::OK,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => exit::OK,
        Err(e) => {
            eprintln!("wxdl: stdout: {e}");
            exit::INTERNAL
        }
    }
}
