//! `list`: every task with status, agent, progress, readiness and what it waits for.

use crate::plan::{Plan, Status};
use crate::registry::Registry;
use crate::scheduler;
use serde::Serialize;

/// One task as `list --json` shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TaskRow {
    /// Task id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Status.
    pub status: Status,
    /// The agent holding it (or the one that did it).
    pub agent: Option<String>,
    /// Percent done.
    pub progress: Option<u8>,
    /// Every blocker.
    pub blocked_by: Vec<String>,
    /// Whether it can be claimed now.
    pub ready: bool,
    /// Blockers not done yet.
    pub waiting_for: Vec<String>,
    /// Priority rank (1 = high, 2 = medium, 3 = low).
    pub priority: i64,
    /// Estimate in hours.
    pub estimate_hours: Option<f64>,
    /// Attempts that died before.
    pub attempts: u32,
    /// Why the last failed attempt failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<String>,
    /// What its headless runs reported they cost, in US dollars, summed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// Their turns, summed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub turns: Option<u64>,
}

/// Which rows to keep.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Keep these statuses (all when empty).
    pub statuses: Vec<Status>,
    /// Keep tasks with no agent.
    pub unassigned: bool,
    /// Keep ready tasks.
    pub ready: bool,
    /// Keep this agent's tasks.
    pub agent: Option<String>,
}

impl Filter {
    fn keeps(&self, status: Status, agent: Option<&str>, ready: bool) -> bool {
        (self.statuses.is_empty() || self.statuses.contains(&status))
            && (!self.unassigned || agent.is_none())
            && (!self.ready || ready)
            && self.agent.as_deref().is_none_or(|a| agent == Some(a))
    }
}

/// Readiness of every task given the registry's claims.
pub fn readiness(plan: &Plan, registry: &Registry) -> Vec<bool> {
    scheduler::readiness(plan, |id| registry.claimed_tasks.contains_key(id))
}

/// The agent shown for task `i`: the claim holder, else the agent recorded in the plan.
pub fn agent_of<'a>(plan: &'a Plan, registry: &'a Registry, i: usize) -> Option<&'a str> {
    let t = &plan.tasks[i];
    registry
        .claimed_tasks
        .get(&t.id)
        .map(|c| c.agent.as_str())
        .or(t.agent.as_deref())
}

/// Builds the rows in plan order, filtered; `ready` comes from `readiness`.
pub fn rows(plan: &Plan, registry: &Registry, ready: &[bool], filter: &Filter) -> Vec<TaskRow> {
    let ids = |v: &mut dyn Iterator<Item = usize>| -> Vec<String> {
        v.map(|b| plan.tasks[b].id.clone()).collect()
    };
    plan.tasks
        .iter()
        .enumerate()
        .filter(|&(i, t)| filter.keeps(t.status, agent_of(plan, registry, i), ready[i]))
        .map(|(i, t)| TaskRow {
            id: t.id.clone(),
            title: t.title.clone(),
            status: t.status,
            agent: agent_of(plan, registry, i).map(str::to_string),
            progress: t.progress,
            blocked_by: ids(&mut t.blocked_by.iter().copied()),
            ready: ready[i],
            waiting_for: ids(&mut plan.waiting_for(i)),
            priority: t.priority.0,
            estimate_hours: t.estimate,
            attempts: t.attempts,
            last_failure: plan.last_failure(i),
            cost_usd: t.spend().0,
            turns: t.spend().1,
        })
        .collect()
}

/// Counts by state for the summary line.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    /// All tasks.
    pub total: usize,
    /// Ready to claim.
    pub ready: usize,
    /// Being worked on.
    pub in_progress: usize,
    /// Pending and waiting for blockers (or claimed in status.json only).
    pub waiting: usize,
    /// Completed or reviewed.
    pub done: usize,
    /// Failed.
    pub failed: usize,
}

/// Counts every task of the plan by state.
pub fn summary(plan: &Plan, ready: &[bool]) -> Summary {
    let mut s = Summary {
        total: plan.tasks.len(),
        ..Summary::default()
    };
    for (t, &ready) in plan.tasks.iter().zip(ready) {
        match t.status {
            Status::Pending if ready => s.ready += 1,
            Status::Pending => s.waiting += 1,
            Status::InProgress => s.in_progress += 1,
            Status::Completed | Status::Reviewed => s.done += 1,
            Status::Failed => s.failed += 1,
        }
    }
    s
}
