//! The `bankd` binary: parse the command line, load configuration, start logging, dispatch.

use std::process::ExitCode;

use clap::Parser;

use bankd::cli::{self, Cli};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A misspelt `BANKD_*` variable would otherwise be ignored without a word; start-up goes on,
/// since refusing would turn a harmless leftover variable into an outage.
fn warn_about_unknown_variables() {
    // Names that are not UTF-8 cannot be any of ours.
    let names: Vec<String> = std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .collect();
    let unknown = bankd::config::unknown_environment_variables(names.iter().map(String::as_str));
    if !unknown.is_empty() {
        tracing::warn!(
            variables = %unknown.join(","),
            "ignoring unknown BANKD_* environment variables (misspelt?)"
        );
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match cli.config() {
        Ok(config) => config,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    // Held until the end of main: dropping it flushes the log lines still queued.
    let _log_writer = bankd::telemetry::init(config.log_format, &config.log_level);
    warn_about_unknown_variables();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // One per reader connection and a margin (limits.rs).
        .max_blocking_threads(bankd::limits::blocking_threads(config.database_readers))
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
