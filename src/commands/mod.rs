//! One file per subcommand: convert arguments, call the library, render the result.

mod agent;
mod agents;
mod attach;
mod complete;
mod conflicts;
mod demo;
mod join_status;
mod launch;
mod list;
mod log;
mod plan;
mod recover;
mod setup;
mod task;
mod watch;

use crate::cli::{Cli, Command, Global};
use crate::ui::Ui;
use crate::workspace::{Settings, Workspace};
use anyhow::Result;
use std::time::Duration;

/// Exit status: success.
pub const EXIT_OK: u8 = 0;
/// Exit status: nothing to claim / not ready.
pub const EXIT_NOT_READY: u8 = 3;

/// What every command gets: how to talk, and where things are.
pub struct Ctx {
    /// Output for people.
    pub ui: Ui,
    /// The global settings.
    pub settings: Settings,
}

impl Ctx {
    /// Finds the workspace (and with -v says where everything is).
    pub fn workspace(&self) -> Result<Workspace> {
        let ws = Workspace::discover(self.settings.clone())?;
        self.ui.detail(&format!(
            "swarm: project {}, plan {}, coordination dir {}",
            ws.project,
            ws.plan_path().display(),
            ws.coord_dir.display()
        ));
        Ok(ws)
    }
}

/// Runs the parsed command line; returns the exit status.
pub fn run(cli: Cli) -> Result<u8> {
    let ctx = Ctx {
        ui: Ui::new(cli.global.color, cli.global.quiet, cli.global.verbose),
        settings: settings(&cli.global)?,
    };
    match cli.command {
        Command::Setup(args) => setup::exec(&ctx, &args),
        Command::Launch(args) => launch::exec(&ctx, &args),
        Command::List(args) => list::exec(&ctx, &args),
        Command::JoinStatus(args) => join_status::exec(&ctx, &args),
        Command::Conflicts(args) => conflicts::exec(&ctx, &args),
        Command::Task(cmd) => task::exec(&ctx, cmd),
        Command::Complete(args) => complete::exec(&ctx, &args),
        Command::Agents(args) => agents::exec(&ctx, &args),
        Command::Attach(args) => attach::exec(&ctx, &args),
        Command::Watch(args) => watch::exec(&ctx, &args),
        Command::Agent(cmd) => agent::exec(&ctx, cmd),
        Command::Recover(args) => recover::exec(&ctx, &args),
        Command::Log(args) => log::exec(&ctx, &args),
        Command::Demo(args) => demo::exec(&ctx, &args),
        Command::DemoAgent(args) => demo::exec_agent(&args),
        Command::Plan(cmd) => plan::exec(&ctx, cmd),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            // Into memory first: clap_complete panics when stdout closes under it.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "swarm", &mut script);
            std::io::Write::write_all(&mut std::io::stdout(), &script)?;
            Ok(EXIT_OK)
        }
    }
}

fn settings(g: &Global) -> Result<Settings> {
    use crate::error::usage;
    let lock_timeout = match g.lock_timeout {
        Some(s) if s.is_finite() && s >= 0.0 => Some(Duration::from_secs_f64(s)),
        Some(s) => {
            return Err(usage(format!(
                "invalid --lock-timeout {s}: expected a number of seconds >= 0"
            )))
        }
        None => None,
    };
    if !(g.lease.is_finite() && g.lease > 0.0) {
        return Err(usage(format!(
            "invalid --lease {}: expected a number of minutes > 0",
            g.lease
        )));
    }
    if g.max_attempts == 0 {
        return Err(usage("invalid --max-attempts 0: expected at least 1"));
    }
    Ok(Settings {
        dir: g.dir.clone(),
        tasks_dir: g.tasks_dir.clone(),
        project: g.project.clone(),
        lock_timeout,
        lease: chrono::Duration::milliseconds((g.lease * 60_000.0) as i64),
        max_attempts: g.max_attempts,
        quiet: g.quiet,
    })
}
