//! The arguments of the commands that run the swarm: setup, launch, complete, demo.

use super::parse_duration;
use clap::Args;
use std::path::PathBuf;

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
    /// Show what would happen (the task, the worktree, what its recipe does); change nothing.
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
    /// What the agent may do without asking, mapped to its CLI's flags (default: the plan's
    /// coordination.permissions, else edits). swarm's own commands are pre-approved.
    #[arg(long, value_enum, value_name = "POLICY")]
    pub permissions: Option<crate::agent::Permissions>,
    /// Claude: do not install swarm's hooks (needs-input, stop check, heartbeat) in the
    /// worktree's .claude/settings.local.json (its permission rules are still written).
    #[arg(long)]
    pub no_hooks: bool,
    /// Run CMD (split into words, no shell) when an agent needs a person, a run fails, or the
    /// plan is finished; the event and a message are its last two arguments.
    #[arg(long, value_name = "CMD")]
    pub notify: Option<String>,
    /// Headless claude: stop a run after N turns (--max-turns).
    #[arg(long, value_name = "N")]
    pub max_turns: Option<u32>,
    /// Headless claude: stop a run that spends more than this many US dollars
    /// (--max-budget-usd).
    #[arg(long, value_name = "USD")]
    pub max_budget_usd: Option<f64>,
    /// When nothing is ready but other agents' work may make a task ready, wait for it
    /// instead of exiting 3 (the default with -n N).
    #[arg(long, conflicts_with_all = ["no_wait", "no_exec", "dry_run"])]
    pub wait: bool,
    /// With -n N: exit 3 at once when nothing is ready, instead of waiting.
    #[arg(long)]
    pub no_wait: bool,
    /// Headless: retry a failed task in a new session, instead of resuming the failed
    /// attempt's session (claude, codex).
    #[arg(long)]
    pub fresh: bool,
}

/// Finish an agent: deliver its branch (PR, merge or archive), mark its tasks reviewed once
/// their work is in the base branch, remove its worktree when nothing would be lost.
#[derive(Debug, Args)]
pub struct CompleteArgs {
    /// The agent to finish. Without one, on a plan with an integration branch: deliver that
    /// branch (--pr or --merge) and remove the worktrees of agents with nothing unlanded.
    pub agent: Option<String>,
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
