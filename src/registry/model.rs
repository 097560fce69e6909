//! task-registry.json: the old scripts' shape plus swarm's fields; unknown fields survive.

use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The whole registry file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", expecting = "a registry object")]
pub struct Registry {
    /// Format version (the old scripts wrote "1.0").
    #[serde(default = "default_version")]
    pub version: Value,
    /// When it was last written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated: Option<String>,
    /// The project whose plan its claims are for (one per repository: claims are keyed by
    /// task id, and another project's would look like claims on tasks gone from the plan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// The plan file as swarm last wrote it: a plan that differs was written by someone else
    /// since (a person's stale copy can undo swarm's changes; see reconcile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_stamp: Option<crate::plan::Stamp>,
    /// Every agent ever registered, by id.
    #[serde(default)]
    pub agents: IndexMap<String, AgentEntry>,
    /// Live claims, by task id.
    #[serde(default)]
    pub claimed_tasks: IndexMap<String, ClaimEntry>,
    /// Fields swarm does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn default_version() -> Value {
    Value::from("1.0")
}

impl Registry {
    /// How many agents are not retired (the live ones, as far as the registry knows).
    pub fn live_agents(&self) -> usize {
        self.agents.values().filter(|a| !a.is_retired()).count()
    }

    /// The tasks `agent` holds a claim on.
    pub fn held_by(&self, agent: &str) -> Vec<String> {
        self.claimed_tasks
            .iter()
            .filter(|(_, c)| c.agent == agent)
            .map(|(t, _)| t.clone())
            .collect()
    }
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            version: default_version(),
            last_updated: None,
            project: None,
            plan_stamp: None,
            agents: IndexMap::new(),
            claimed_tasks: IndexMap::new(),
            extra: Map::new(),
        }
    }
}

/// What the registry knows about one agent.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", expecting = "an agent object")]
pub struct AgentEntry {
    /// Human-friendly name (`claude-worker-NNNN`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// When it registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// The task it works on now.
    #[serde(default)]
    pub current_task: Option<String>,
    /// Its process, when swarm started it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// The start time of that process (clock ticks since boot), to detect pid reuse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_start: Option<u64>,
    /// Host name where it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Its worktree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worktree: Option<String>,
    /// Its branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Last sign of life.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat: Option<String>,
    /// `alive`; or retired: `dead` (its process ended while it held a task), `exited` (its
    /// process ended holding none) or `done` (its supervisor or `complete` finished it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// When it was retired (marked dead, exited or done).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_at: Option<String>,
    /// What it waits for a person to answer, until it acts again (Claude Code's
    /// `Notification` hook).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needs_input: Option<NeedsInput>,
    /// The tmux pane it runs in (`%N`), when launched in one: for `swarm attach`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmux_pane: Option<String>,
    /// Its agent CLI's session in its worktree (from Claude Code's `SessionStart` hook, or the
    /// first event of a headless run): a launch that takes the worktree over after the agent
    /// died resumes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Fields swarm does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl AgentEntry {
    /// The newest sign of life among heartbeat and start time.
    pub fn last_seen(&self) -> Option<DateTime<Utc>> {
        self.last_seen_all().into_iter().max()
    }

    /// Every sign of life recorded: heartbeat and start time.
    pub fn last_seen_all(&self) -> Vec<DateTime<Utc>> {
        [&self.heartbeat, &self.start_time]
            .into_iter()
            .filter_map(|t| parse_time(t.as_deref()?))
            .collect()
    }

    /// Whether the agent has been marked dead, exited or finished.
    pub fn is_retired(&self) -> bool {
        matches!(self.state.as_deref(), Some("dead" | "exited" | "done"))
    }
}

/// An agent waiting for a person: what its CLI said, and since when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeedsInput {
    /// The kind (`permission_prompt`, `idle_prompt`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// The message the CLI showed.
    pub message: String,
    /// When it started waiting.
    pub since: String,
}

/// One live claim.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", expecting = "a claim object")]
pub struct ClaimEntry {
    /// The agent holding it.
    pub agent: String,
    /// When it was claimed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_at: Option<String>,
    /// Fields swarm does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The time format of both files: RFC 3339 in UTC, to the second (what `jq todate` writes).
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Reads a time written by swarm or the old scripts.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}
