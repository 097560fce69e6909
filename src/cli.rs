//! The command-line interface (clap derive) and nothing else.

use clap::{Args, Parser, Subcommand, ValueEnum};
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

/// `--color`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ColorChoice {
    /// Colour when writing to a terminal and NO_COLOR is unset.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the plan and create the coordination dir, registry and lock (idempotent).
    Setup(SetupArgs),
    /// Show tasks: status, agent, progress, and what each waiting task waits for.
    List(ListArgs),
    /// Is a join point reached? Exit 0 when ready, 3 when not.
    JoinStatus(JoinStatusArgs),
    /// What agents run from inside their worktree: claim, update, done, release, show.
    #[command(subcommand)]
    Task(TaskCommand),
    /// Show registered agents, their task, heartbeat and liveness.
    Agents(AgentsArgs),
    /// Check a plan.
    #[command(subcommand)]
    Plan(PlanCommand),
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// `setup`.
#[derive(Debug, Args)]
pub struct SetupArgs {
    /// Do not create the worktrees of coordination.agents.
    #[arg(long)]
    pub no_worktrees: bool,
    /// Keep .claude-agents/ out of git with .gitignore instead of .git/info/exclude.
    #[arg(long)]
    pub gitignore: bool,
}

/// `list`.
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

/// `join-status`.
#[derive(Debug, Args)]
pub struct JoinStatusArgs {
    /// The join point (default: every one).
    #[arg(long)]
    pub point: Option<String>,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `agents`.
#[derive(Debug, Args)]
pub struct AgentsArgs {
    /// Also list agents that are dead or done.
    #[arg(long, short)]
    pub all: bool,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Identity of the agent acting.
#[derive(Debug, Args)]
pub struct AgentArg {
    /// Act as this agent (default: $SWARM_AGENT_ID).
    #[arg(long, env = "SWARM_AGENT_ID", value_name = "ID")]
    pub agent: Option<String>,
}

/// `task …`.
#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Claim the next ready task (--next) or a given one. Exit 3 when nothing can be claimed.
    Claim {
        /// The task to claim.
        #[arg(required_unless_present = "next", conflicts_with = "next")]
        id: Option<String>,
        /// Claim the best ready task.
        #[arg(long)]
        next: bool,
        /// Prefer the tasks pre-assigned to this coordination.agents entry.
        #[arg(long = "as", value_name = "AGENT")]
        as_agent: Option<String>,
        #[command(flatten)]
        agent: AgentArg,
        /// Print {"task", "agent"} as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Set a task's status and/or progress.
    Update {
        /// The task.
        id: String,
        /// New status.
        #[arg(long, value_parser = parse_status)]
        status: Option<crate::plan::Status>,
        /// Percent done (0-100).
        #[arg(long, value_parser = clap::value_parser!(u8).range(0..=100))]
        progress: Option<u8>,
        #[command(flatten)]
        agent: AgentArg,
    },
    /// Mark a task completed.
    Done {
        /// The task.
        id: String,
        #[command(flatten)]
        agent: AgentArg,
    },
    /// Give a claimed task back (pending again, no attempt counted).
    Release {
        /// The task.
        id: String,
        #[command(flatten)]
        agent: AgentArg,
    },
    /// Show one task in full.
    Show {
        /// The task.
        id: String,
        /// Print JSON on stdout.
        #[arg(long)]
        json: bool,
    },
}

/// `plan …`.
#[derive(Debug, Subcommand)]
pub enum PlanCommand {
    /// Check the plan (or FILE): JSON, types, blockers, cycles, join points, agents.
    Validate {
        /// A status.json to check instead of the project's.
        file: Option<PathBuf>,
    },
}

fn parse_status(s: &str) -> Result<crate::plan::Status, String> {
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
