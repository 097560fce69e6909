//! The `swarm` binary: parse, run, print the error chain once, map it to an exit status.

use clap::Parser;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

/// Big plans loaded by one-shot commands in huge pages (see `swarm::alloc`).
#[global_allocator]
static ALLOCATOR: swarm::alloc::Allocator = swarm::alloc::Allocator;

fn main() -> ExitCode {
    // `task claim`, the command run most, is read without building clap's tree when it can be.
    let cli = swarm::cli::quick::parse(std::env::args_os().skip(1), |v| std::env::var_os(v))
        .unwrap_or_else(swarm::cli::Cli::parse);
    // Every command runs on one thread: lock waits may announce themselves with a timer.
    swarm::registry::lock::single_threaded();
    if cli.command.exits_soon() {
        // The process ends right after the command: skip freeing big plans, and load them
        // into the huge-page region.
        swarm::plan::LEAK_ON_DROP.store(true, Ordering::Relaxed);
        swarm::alloc::enable();
    }
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
