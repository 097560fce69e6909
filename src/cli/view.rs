//! The arguments of the commands that show and repair state: list, join-status, agents,
//! watch, log, recover.

use super::parse_status;
use clap::Args;

/// Show tasks: status, agent, progress, and what each waiting task waits for.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only tasks with this status (repeat or separate with commas).
    #[arg(long, value_delimiter = ',', value_parser = parse_status)]
    pub status: Vec<crate::plan::Status>,
    /// Only tasks no agent holds or did.
    #[arg(long)]
    pub unassigned: bool,
    /// Only tasks that can be claimed now.
    #[arg(long)]
    pub ready: bool,
    /// Only this agent's tasks.
    #[arg(long)]
    pub agent: Option<String>,
    /// Say what every waiting task waits for, with the blockers' status.
    #[arg(long)]
    pub show_dependencies: bool,
    /// Show the tasks as a tree of phases (id prefixes before '/').
    #[arg(long)]
    pub show_structure: bool,
    /// Print JSON (an array of tasks) on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Is a join point reached? Exit 0 when ready, 3 when not.
#[derive(Debug, Args)]
pub struct JoinStatusArgs {
    /// The join point (default: every one).
    #[arg(long)]
    pub point: Option<String>,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Predict merge conflicts between live agents' branches and the integration branch.
#[derive(Debug, Args)]
pub struct ConflictsArgs {
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Jump to an agent's tmux pane (agents launched with --tmux).
#[derive(Debug, Args)]
pub struct AttachArgs {
    /// The agent (its id or display name).
    pub agent: String,
    /// Print the tmux command instead of running it.
    #[arg(long)]
    pub print: bool,
}

/// Show registered agents, their task, heartbeat and liveness.
#[derive(Debug, Args)]
pub struct AgentsArgs {
    /// Also list agents that are dead, exited or done.
    #[arg(long, short)]
    pub all: bool,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// A dashboard of tasks, agents, join points and the latest events, redrawn every few seconds.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Seconds between redraws.
    #[arg(long, short = 'i', default_value_t = 2.0, value_name = "SECONDS")]
    pub interval: f64,
    /// Draw once and exit.
    #[arg(long)]
    pub once: bool,
    /// Exit (0) once every task is done or failed.
    #[arg(long)]
    pub exit_when_done: bool,
}

/// Free dead agents' tasks and bring registry and plan into agreement now; report it.
#[derive(Debug, Args)]
pub struct RecoverArgs {
    /// Say what would be done; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the events as JSON lines on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Show the event log: claims, releases, status changes, recoveries, completions.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// Only events about this task.
    #[arg(long)]
    pub task: Option<String>,
    /// Only events about this agent.
    #[arg(long)]
    pub agent: Option<String>,
    /// Only the last N events (after filtering).
    #[arg(long, short = 'n', value_name = "N")]
    pub last: Option<usize>,
    /// Print JSON lines (the log's own format) on stdout.
    #[arg(long)]
    pub json: bool,
}
