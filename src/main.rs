//! The `swarm` binary: parse, run, print the error chain once, map it to an exit status.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = swarm::cli::Cli::parse();
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
