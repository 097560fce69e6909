//! The plan: status.json loaded, validated and kept byte-faithful for rewrites.

pub mod recipe;
pub use recipe::Recipe;
mod edit;
mod fields;
mod stamp;
pub use stamp::Stamp;
mod error;
mod file;
pub mod glob;
pub mod graph;
mod load;
pub mod status;

pub use error::PlanError;
pub use glob::Glob;
pub use status::{CommandLine, Estimate, Priority, Progress, Status};

use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};

/// One task as swarm reads it; the full entry stays in the document.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// The key in `tasks`.
    pub id: String,
    /// Short title ("" when absent).
    pub title: String,
    /// Longer description ("" when absent).
    pub description: String,
    /// Current status.
    pub status: Status,
    /// Indexes of the tasks this one waits for.
    pub blocked_by: Vec<usize>,
    /// Scheduling priority.
    pub priority: Priority,
    /// Estimate in hours, when given.
    pub estimate: Option<f64>,
    /// Percent done, when reported.
    pub progress: Option<u8>,
    /// Agent recorded in status.json.
    pub agent: Option<String>,
    /// `claimed` flag recorded in status.json.
    pub claimed: bool,
    /// How many attempts died before this one.
    pub attempts: u32,
    /// Its own verify command (`verify`), over the integration's.
    pub verify: Option<CommandLine>,
    /// Globs of the files it will touch (`files`), to keep overlapping tasks apart.
    pub files: Vec<Glob>,
    /// Whether its work landed on the integration branch (`landed` is recorded).
    pub landed: bool,
    /// Hours its verification takes when it lands (`verifyEstimate`, else the
    /// integration's), for `plan simulate`.
    pub verify_estimate: Option<f64>,
    /// What its headless runs reported (`runs`): by whom, what they cost, their turns.
    pub runs: Vec<RunSpend>,
}

/// What one recorded run cost.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunSpend {
    /// The agent that ran.
    pub agent: Option<String>,
    /// Reported spend in US dollars.
    pub cost_usd: Option<f64>,
    /// Reported turns.
    pub turns: Option<u64>,
}

impl Task {
    /// The spend of its runs: dollars and turns (`None` when no run reported any).
    pub fn spend(&self) -> (Option<f64>, Option<u64>) {
        let cost = self.runs.iter().filter_map(|r| r.cost_usd);
        let turns = self.runs.iter().filter_map(|r| r.turns);
        let cost = cost.reduce(|a, b| a + b);
        let turns = turns.reduce(|a, b| a + b);
        (cost, turns)
    }
}

/// `coordination.integration`: the branch finished tasks land on, verified.
#[derive(Debug, Clone, PartialEq)]
pub struct Integration {
    /// Its branch, when given (else `swarm/<project>`).
    pub branch: Option<String>,
    /// What verifies a commit before it lands, when anything does.
    pub verify: Option<CommandLine>,
    /// How long a verification may run.
    pub verify_timeout: std::time::Duration,
    /// Hours a verification usually takes, when the plan says (`verifyEstimate`).
    pub verify_estimate: Option<f64>,
}

/// The spend of one recorded run, as written.
fn run_spend(v: &Value) -> RunSpend {
    RunSpend {
        agent: v.get("agent").and_then(Value::as_str).map(str::to_string),
        cost_usd: v.get("costUsd").and_then(Value::as_f64),
        turns: v.get("turns").and_then(Value::as_u64),
    }
}

/// A named set of tasks that must all be done before integration.
#[derive(Debug, Clone)]
pub struct JoinPoint {
    /// Its key in `joinPoints`.
    pub name: String,
    /// Patterns as written.
    pub requires: Vec<Glob>,
    /// The tasks the patterns match, in plan order.
    pub tasks: Vec<usize>,
}

/// A pre-assigned agent from `coordination.agents`.
#[derive(Debug, Clone)]
pub struct AgentSpec {
    /// Its key.
    pub id: String,
    /// Worktree path as written (relative to the main worktree).
    pub worktree: Option<String>,
    /// Branch name.
    pub branch: Option<String>,
    /// Task patterns it prefers.
    pub tasks: Vec<Glob>,
}

/// A loaded plan: the file as read, the fields changed since, and the typed view. Saving
/// rewrites only the changed values (see `edit`); every other byte stays as it was.
#[derive(Debug, Clone)]
pub struct Plan {
    path: PathBuf,
    /// What the file was when it was read (`None`: parsed from text).
    stamp: Option<Stamp>,
    /// When it was read, in nanoseconds since the epoch.
    read_at: Option<u128>,
    /// What the file held when read, when that is not `text` (a person's edit that replaces
    /// the plan read: see `stamp_as`).
    read_as: Option<String>,
    text: String,
    /// Byte range of each task's object in `text`, in plan (= file) order.
    spans: Vec<(usize, usize)>,
    /// Fields set since loading, by task index, in the order they were first set.
    edited: BTreeMap<usize, Vec<(String, Value)>>,
    /// Tasks in plan order.
    pub tasks: Vec<Task>,
    /// Task index by id.
    index: HashMap<String, usize>,
    /// Blockers before the tasks they block.
    pub order: Vec<usize>,
    /// For each task, the tasks waiting on it.
    pub dependents: graph::Adjacency,
    /// Join points in plan order.
    pub join_points: Vec<JoinPoint>,
    /// Pre-assigned agents in plan order.
    pub agents: Vec<AgentSpec>,
    /// The integration branch, when the plan declares one.
    pub integration: Option<Integration>,
    /// `coordination.budgetUsd`: no claims once the recorded spend reaches it.
    pub budget_usd: Option<f64>,
    /// `coordination.maxAgents`: how many agents `launch` lets be alive at once.
    pub max_agents: Option<u32>,
    /// `coordination.permissions`: the default permission policy of `launch`.
    pub permissions: Option<crate::agent::Permissions>,
    /// `coordination.worktree`: how new worktrees are made ready to work.
    pub worktree: Option<Recipe>,
}

impl Plan {
    /// Reads and validates the plan at `path`.
    pub fn load(path: &Path) -> Result<Plan, PlanError> {
        load::load(path)
    }

    /// Validates `text` as the plan at `path` (which is only used in messages and for saving).
    pub fn parse(path: &Path, text: &str) -> Result<Plan, PlanError> {
        load::parse(path, text.to_owned())
    }

    /// The task patterns of pre-assigned agent `agent` (none without one): they come first
    /// when that agent claims. An agent `coordination.agents` does not list is an error.
    pub fn preferred_tasks(&self, agent: Option<&str>) -> anyhow::Result<Vec<Glob>> {
        let Some(a) = agent else {
            return Ok(Vec::new());
        };
        match self.agent_spec(a) {
            Some(spec) => Ok(spec.tasks.clone()),
            None => anyhow::bail!(
                "{}: coordination.agents has no agent {a:?}",
                self.path().display()
            ),
        }
    }

    /// Why the last attempt at task `i` failed, when one did (`lastFailure`).
    pub fn last_failure(&self, i: usize) -> Option<String> {
        let t = &self.tasks[i];
        if t.attempts == 0 && t.status != Status::Failed {
            return None;
        }
        self.field(i, "lastFailure")
            .and_then(|v| v.as_str().map(str::to_string))
    }

    /// The branch of task `i`'s last failed attempt (`previousBranch`), where its next
    /// attempt starts, if it has one.
    pub fn previous_branch(&self, i: usize) -> Option<String> {
        self.field(i, "previousBranch")
            .and_then(|v| v.as_str().map(str::to_string))
    }

    /// Where the plan lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the file was when this plan was read from it.
    pub fn stamp(&self) -> Option<Stamp> {
        self.stamp
    }

    /// What the file held when this plan was read (before the changes made since): what must
    /// still be there when it is written back.
    pub fn read_text(&self) -> &str {
        self.read_as.as_deref().unwrap_or(&self.text)
    }

    /// Whether anything was changed since loading.
    pub fn is_edited(&self) -> bool {
        !self.edited.is_empty()
    }

    /// Applies the changes made to `older` (a copy of this plan read earlier) to this one, task
    /// by task id: what swarm set wins over what someone wrote to the same fields meanwhile;
    /// everything else they wrote stays. Changes to tasks they removed are dropped (returned).
    pub fn apply_changes_of(&mut self, older: &Plan) -> Vec<String> {
        let mut dropped = Vec::new();
        for (&i, fields) in &older.edited {
            let t = &older.tasks[i];
            let Some(j) = self.find(&t.id) else {
                dropped.push(t.id.clone());
                continue;
            };
            for (key, value) in fields {
                self.set_field(j, key, value.clone());
            }
            let mine = &mut self.tasks[j];
            mine.status = t.status;
            mine.agent = t.agent.clone();
            mine.claimed = t.claimed;
            mine.progress = t.progress;
            mine.attempts = t.attempts;
            mine.landed = t.landed;
            mine.runs = t.runs.clone();
        }
        dropped
    }

    /// The index of task `id`.
    pub fn find(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// The pre-assigned agent `id`, if the plan has one.
    pub fn agent_spec(&self, id: &str) -> Option<&AgentSpec> {
        self.agents.iter().find(|a| a.id == id)
    }

    /// Whether every blocker of task `i` is completed or reviewed. (On a plan with an
    /// integration branch, swarm completes a task only by landing it, so completed means
    /// landed; a task completed by hand counts as the person says.)
    pub fn blockers_done(&self, i: usize) -> bool {
        self.tasks[i]
            .blocked_by
            .iter()
            .all(|&b| self.tasks[b].status.is_done())
    }

    /// The blockers of task `i` that are not done yet.
    pub fn waiting_for(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        self.tasks[i]
            .blocked_by
            .iter()
            .copied()
            .filter(|&b| !self.tasks[b].status.is_done())
    }

    /// What every run of the plan reported it cost, in US dollars.
    pub fn spent_usd(&self) -> f64 {
        self.tasks.iter().filter_map(|t| t.spend().0).sum()
    }

    /// Why no task may be claimed because the plan's budget is spent, if it is.
    pub fn budget_spent(&self) -> Option<String> {
        let budget = self.budget_usd?;
        let spent = self.spent_usd();
        (spent >= budget).then(|| {
            format!(
                "the plan's budget is spent: ${spent:.2} recorded of ${budget} (coordination.budgetUsd); raise it to go on"
            )
        })
    }

    /// Whether the file at `at` still holds what this plan was read from. Its stamp says so
    /// when the file was last written well before it was read: any later write then has a
    /// later time. A file written just before it was read (within a clock tick, when times
    /// alone cannot tell two writes of one size apart) is compared by content. A plan not read
    /// from a file holds nothing to compare: true.
    pub fn holds_as_read(&self, at: &Path) -> bool {
        let Some(read) = self.stamp else {
            return true;
        };
        if Stamp::at(at) != Some(read) {
            return false;
        }
        let settled = self
            .read_at
            .map(|t| (t as i128) - read.mtime_ns > 20_000_000)
            .unwrap_or(false);
        settled && self.read_as.is_none()
            || std::fs::read(at).is_ok_and(|b| b == self.read_text().as_bytes())
    }

    /// Whether this plan replaces the one read (a person's edit): it cannot be merged with a
    /// newer file the way swarm's own changes can.
    pub fn is_replacement(&self) -> bool {
        self.read_as.is_some()
    }

    /// Takes `other`'s place: this plan is what will be written over the file `other` was
    /// read from, and only over that.
    pub fn stamp_as(&mut self, other: &Plan) {
        self.stamp = other.stamp;
        self.read_as = Some(other.read_text().to_string());
    }

    /// Stages the rewritten file: in each changed task only the changed values are replaced
    /// (new fields are added at its end, in its layout); every other byte is kept.
    pub fn stage(&self) -> io::Result<crate::atomic::Staged> {
        crate::atomic::stage(&self.path, |out| {
            let mut pos = 0;
            for (&i, fields) in &self.edited {
                let (start, end) = self.spans[i];
                out.write_all(&self.text.as_bytes()[pos..start])?;
                edit::write_task(out, &self.text, (start, end), fields)?;
                pos = end;
            }
            out.write_all(&self.text.as_bytes()[pos..])
        })
    }
}
