//! The `bankd` binary: parse the command line, load configuration, start logging, dispatch.

use std::process::ExitCode;

use clap::Parser;

use bankd::cli::{self, Cli};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Blocking threads: enough for every reader connection, the password hashers and a margin.
/// Tokio's default (512) lets a burst of reads park hundreds of threads on an 8-connection pool.
const BLOCKING_THREADS_MAX: usize = 32;

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
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS_MAX)
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
