//! The command-line interface (clap derive) and nothing else.

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
    #[command(subcommand)]
    Task(TaskCommand),
    Complete(CompleteArgs),
    Agents(AgentsArgs),
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

/// Validate the plan and create the coordination dir, registry and lock (idempotent).
#[derive(Debug, Args)]
pub struct SetupArgs {
    /// Do not create the worktrees of coordination.agents.
    #[arg(long)]
    pub no_worktrees: bool,
    /// Keep .claude-agents/ out of git with .gitignore instead of .git/info/exclude.
    #[arg(long)]
    pub gitignore: bool,
    /// Where new branches of pre-assigned agents start (default: the main worktree's HEAD).
    #[arg(long, value_name = "REF")]
    pub base: Option<String>,
}

/// Start an agent: claim the next ready task, make its worktree, run the agent there.
#[derive(Debug, Args)]
pub struct LaunchArgs {
    /// Be this pre-assigned agent of coordination.agents: its worktree, branch and tasks first.
    #[arg(long = "as", value_name = "AGENT")]
    pub as_agent: Option<String>,
    /// Which coding agent to start.
    #[arg(long, value_enum, default_value_t = crate::agent::Preset::Claude)]
    pub agent: crate::agent::Preset,
    /// Command to start instead of a preset, split into words without a shell; {prompt},
    /// {task} and {worktree} are filled in (without {prompt}, the prompt goes last).
    #[arg(
        long,
        env = "SWARM_AGENT_CMD",
        value_name = "TEMPLATE",
        conflicts_with = "agent"
    )]
    pub agent_cmd: Option<String>,
    /// Where new branches start (default: the main worktree's HEAD).
    #[arg(long, value_name = "REF")]
    pub base: Option<String>,
    /// Directory for new worktrees (default: beside the main worktree).
    #[arg(long, value_name = "DIR")]
    pub worktree_root: Option<PathBuf>,
    /// Claim and make the worktree, then print the worktree, branch, task and argv instead of
    /// starting the agent.
    #[arg(long)]
    pub no_exec: bool,
    /// Show what would happen; change nothing.
    #[arg(long, conflicts_with = "no_exec")]
    pub dry_run: bool,
    /// With --no-exec or --dry-run: print JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Supervise instead of exec: run the agent non-interactively per task, mark each task done
    /// or failed by the outcome, claim the next in the same worktree until nothing is ready.
    #[arg(long, conflicts_with_all = ["no_exec", "dry_run"])]
    pub headless: bool,
    /// Start N agents (headless, or each in a tmux pane with --tmux).
    #[arg(short = 'n', long = "count", value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub count: Option<u16>,
    /// With -n: one tmux pane per agent (interactive agents).
    #[arg(long, requires = "count", conflicts_with_all = ["no_exec", "dry_run"])]
    pub tmux: bool,
    /// One agent of `-n N`: the command line it was started with names N (not for people).
    #[arg(long, hide = true)]
    pub fleet_member: bool,
    /// With --headless: stop an agent that works longer than this on one task (90s, 30m, 2h;
    /// a bare number is minutes); the task counts a failed attempt.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<std::time::Duration>,
}

/// Finish an agent: deliver its branch (PR, merge or archive), mark its tasks reviewed once
/// their work is in the base branch, remove its worktree when nothing would be lost.
#[derive(Debug, Args)]
pub struct CompleteArgs {
    /// The agent to finish.
    pub agent: String,
    /// Push the branch and open a pull request with gh (default when gh and a remote exist).
    #[arg(long, group = "delivery")]
    pub pr: bool,
    /// Merge the branch into the base branch locally (a conflict changes nothing).
    #[arg(long, group = "delivery")]
    pub merge: bool,
    /// Rename the branch to archive/<branch>.
    #[arg(long, group = "delivery")]
    pub archive: bool,
    /// Branch to merge into / open the PR against (default: the main worktree's branch).
    #[arg(long, value_name = "BRANCH")]
    pub base: Option<String>,
    /// Remove the worktree even if uncommitted or unmerged work would be lost; release tasks
    /// the agent still holds. Branches are never deleted.
    #[arg(long)]
    pub force: bool,
    /// Show the steps; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// What an agent runs to say it is alive (renews its lease).
#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Renew the agent's lease (for agents swarm did not start, or long silent work).
    Heartbeat {
        #[command(flatten)]
        agent: AgentArg,
    },
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

/// Run a whole swarm end to end in a temporary repository, with simulated agents.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Number of simulated agents.
    #[arg(long, short = 'n', default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=8))]
    pub agents: u8,
    /// Directory to run in (must not exist yet; default: a new temporary directory).
    // Its own id: `dir` is the global `-C`'s.
    #[arg(id = "demo_dir", long = "dir", value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Seconds each simulated task takes, at most.
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
    pub pace: f64,
}

/// The simulated agent `demo` launches (not for people).
#[derive(Debug, Args)]
pub struct DemoAgentArgs {
    /// Seconds each task takes, at most.
    #[arg(long, default_value_t = 1.0)]
    pub pace: f64,
    /// The prompt `launch` passes (the simulation does not read it).
    pub prompt: Option<String>,
}

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

/// Identity of the agent acting.
#[derive(Debug, Args)]
pub struct AgentArg {
    /// Act as this agent (default: $SWARM_AGENT_ID).
    #[arg(long, env = "SWARM_AGENT_ID", value_name = "ID")]
    pub agent: Option<String>,
}

/// What agents run from inside their worktree: claim, update, done, release, show.
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
        /// With --next: while nothing is ready but other agents' work may unblock a task, wait
        /// for it (exit 3 only when nothing is left that could become ready).
        #[arg(long, requires = "next")]
        wait: bool,
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
        /// Change it even though the agent does not hold it.
        #[arg(long)]
        force: bool,
    },
    /// Mark a task completed.
    Done {
        /// The task.
        id: String,
        #[command(flatten)]
        agent: AgentArg,
        /// Complete it even though the agent does not hold it.
        #[arg(long)]
        force: bool,
    },
    /// Give a claimed task back (pending again, no attempt counted).
    Release {
        /// The task.
        id: String,
        #[command(flatten)]
        agent: AgentArg,
        /// Release it even though the agent does not hold it.
        #[arg(long)]
        force: bool,
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

/// Work on the plan itself: start one, check it, simulate it with N agents.
#[derive(Debug, Subcommand)]
pub enum PlanCommand {
    /// Start a plan: write a starter status.json (and plan.md) for this project; never
    /// replaces an existing plan.
    Init,
    /// Check the plan (or FILE): JSON, types, blockers, cycles, join points, agents.
    Validate {
        /// A status.json to check instead of the project's.
        file: Option<PathBuf>,
    },
    /// What-if: how long the remaining work takes with N agents, against the lower bound
    /// max(critical path, work / N), with a sweep over other numbers of agents.
    Simulate {
        /// Agents to simulate (default: the live agents, else the pre-assigned ones, else 3).
        #[arg(short = 'n', long = "agents", value_parser = clap::value_parser!(u16).range(1..=1000))]
        agents: Option<u16>,
        /// A status.json to simulate instead of the project's (its claims come from the file
        /// only).
        file: Option<PathBuf>,
        /// Print JSON on stdout.
        #[arg(long)]
        json: bool,
    },
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
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
