//! The commands agents run (task, agent) and the plan's own commands.

use super::parse_status;
use clap::{Args, Subcommand};
use std::path::PathBuf;

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
    /// Mark a task completed (with an integration branch: land it there, verified).
    Done {
        /// The task.
        id: String,
        #[command(flatten)]
        agent: AgentArg,
        /// Complete it even though the agent does not hold it.
        #[arg(long)]
        force: bool,
        /// When landing conflicts, leave the merge in progress to resolve it here.
        #[arg(long)]
        resolve: bool,
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
    /// Reopen a finished or failed task on purpose: pending again, attempts reset.
    Reopen {
        /// The task.
        id: String,
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
    /// Edit the plan in $VISUAL / $EDITOR while agents run: the edit is checked, then merged
    /// with what swarm changed meanwhile; an invalid edit or a conflict changes nothing.
    Edit,
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

/// What an agent runs to say it is alive (renews its lease).
#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Renew the agent's lease (for agents swarm did not start, or long silent work).
    Heartbeat {
        #[command(flatten)]
        agent: AgentArg,
    },
    /// Record that the agent waits for a person (shown by agents, watch) until it acts again.
    /// Without --message, reads a Claude Code Notification hook's JSON on stdin.
    NeedsInput {
        #[command(flatten)]
        agent: AgentArg,
        /// What it waits for (permission_prompt, idle_prompt, …).
        #[arg(long = "type", value_name = "TYPE")]
        kind: Option<String>,
        /// The message to show.
        #[arg(long)]
        message: Option<String>,
    },
    /// Claude Code hooks (installed by launch): EVENT is notification, stop or session-start;
    /// the hook's JSON comes on stdin.
    Hook {
        /// The hook event.
        #[arg(value_enum)]
        event: HookEvent,
        #[command(flatten)]
        agent: AgentArg,
    },
}

/// The Claude Code hook events swarm handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HookEvent {
    /// The agent waits for a person (Notification).
    Notification,
    /// The agent is about to stop (Stop): blocked while its task is still in progress.
    Stop,
    /// A session starts (SessionStart): a heartbeat.
    SessionStart,
}
