//! `wxdl`: the command-line face of the wx.downloadFile engine.

mod args;
mod clean;
mod demo;
mod exit;
mod get;
mod habits;
mod har;
mod manual;
mod render;
mod request;
mod run;
mod serve;
mod signals;
mod state;
mod upload;
mod urls;
mod watch;
mod waterfall;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};

fn main() -> ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match habits::normalize(argv.clone()).map(Cli::try_parse_from) {
        Ok(Ok(cli)) => cli,
        Ok(Err(e)) => return ExitCode::from(habits::explain(e, &argv)),
        Err(sentence) => {
            eprintln!("wxdl: {sentence}");
            return ExitCode::from(exit::USAGE);
        }
    };
    match cli.command {
        Command::Completions(a) => return ExitCode::from(manual::completions(a.shell)),
        Command::Man => return ExitCode::from(manual::man_page()),
        _ => {}
    }
    // One thread drives every download (the blocking pool takes fsync and rename). Measured
    // with bench/run.sh: a multi-threaded runtime bought no throughput on one 200 MiB stream
    // (TLS included) and cost ~30 % wall time on 1000 small files in cross-thread wakeups.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("wxdl: cannot start the runtime: {e}");
            return ExitCode::from(exit::INTERNAL);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Get(a) => get::run(*a).await,
            Command::Request(a) => request::run(*a).await,
            Command::Upload(a) => upload::run(*a).await,
            Command::Run(a) => run::run(*a).await,
            Command::Demo(a) => demo::run(a).await,
            Command::Clean(a) => clean::run(a),
            Command::Completions(_) | Command::Man => Ok(exit::OK),
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("wxdl: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}
