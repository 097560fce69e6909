//! The command-line interface (clap derive) and nothing else.

mod run;
mod task;
mod view;

pub use self::run::{CompleteArgs, DemoAgentArgs, DemoArgs, LaunchArgs, SetupArgs};
pub use self::task::{AgentArg, AgentCommand, HookEvent, PlanCommand, TaskCommand};
pub use self::view::{
    AgentsArgs, AttachArgs, ConflictsArgs, JoinStatusArgs, ListArgs, LogArgs, RecoverArgs,
    WatchArgs,
};
use crate::ui::ColorChoice;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Run many coding agents in parallel on one task graph, safely.
#[derive(Debug, Parser)]
#[command(
    name = "swarm",
    version,
    about,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: Global,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// Run as if started in DIR (any worktree of the repository).
    #[arg(short = 'C', global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Root that holds <project>/status.json.
    #[arg(long, global = true, env = "SWARM_TASKS_DIR", value_name = "DIR")]
    pub tasks_dir: Option<PathBuf>,
    /// Project name (default: the main worktree's directory name).
    #[arg(long, global = true, env = "SWARM_PROJECT")]
    pub project: Option<String>,
    /// When to use colours (NO_COLOR is honoured).
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Say less on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Say more on stderr.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Give up waiting for the registry lock after SECONDS (default: wait).
    #[arg(long, global = true, value_name = "SECONDS")]
    pub lock_timeout: Option<f64>,
    /// Minutes an agent without a live process keeps its claims without a sign of life.
    #[arg(
        long,
        global = true,
        value_name = "MINUTES",
        default_value_t = 30.0,
        env = "SWARM_LEASE"
    )]
    pub lease: f64,
    /// Attempts after which a task whose agents keep dying is marked failed.
    #[arg(long, global = true, value_name = "N", default_value_t = 3)]
    pub max_attempts: u32,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    Setup(SetupArgs),
    Launch(LaunchArgs),
    List(ListArgs),
    JoinStatus(JoinStatusArgs),
    Conflicts(ConflictsArgs),
    #[command(subcommand)]
    Task(TaskCommand),
    Complete(CompleteArgs),
    Agents(AgentsArgs),
    Attach(AttachArgs),
    Watch(WatchArgs),
    #[command(subcommand)]
    Agent(AgentCommand),
    Recover(RecoverArgs),
    Log(LogArgs),
    Demo(DemoArgs),
    #[command(hide = true)]
    DemoAgent(DemoAgentArgs),
    #[command(subcommand)]
    Plan(PlanCommand),
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

pub(crate) fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(at) => (&s[..at], &s[at..]),
        None => (s, "m"),
    };
    let scale = match unit {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err("expected a duration like 90s, 30m or 2h".into()),
    };
    match num.trim().parse::<f64>() {
        Ok(n) if n.is_finite() && n > 0.0 => Ok(std::time::Duration::from_secs_f64(n * scale)),
        _ => Err("expected a duration like 90s, 30m or 2h".into()),
    }
}

pub(crate) fn parse_status(s: &str) -> Result<crate::plan::Status, String> {
    crate::plan::Status::parse(s).ok_or_else(|| {
        let all: Vec<&str> = crate::plan::Status::ALL
            .iter()
            .map(|s| s.as_str())
            .collect();
        format!("expected one of {}", all.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_tree_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
