//! The `swarm` binary: parse, run, print the error chain once, map it to an exit status.

use clap::Parser;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

fn main() -> ExitCode {
    // The process ends right after the command: skip freeing big plans.
    swarm::plan::LEAK_ON_DROP.store(true, Ordering::Relaxed);
    // `task claim`, the command run most, is read without building clap's tree when it can be.
    let cli = swarm::cli::quick::parse(std::env::args_os().skip(1), |v| std::env::var_os(v))
        .unwrap_or_else(swarm::cli::Cli::parse);
    match swarm::commands::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) if swarm::error::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let mut msg = format!("swarm: error: {err}");
            for cause in err.chain().skip(1) {
                msg.push_str(&format!("\n  caused by: {cause}"));
            }
            eprintln!("{msg}");
            ExitCode::from(swarm::error::exit_code(&err))
        }
    }
}
