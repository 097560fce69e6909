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
    fn keeps(&self, row: &TaskRow) -> bool {
        (self.statuses.is_empty() || self.statuses.contains(&row.status))
            && (!self.unassigned || row.agent.is_none())
            && (!self.ready || row.ready)
            && self
                .agent
                .as_ref()
                .is_none_or(|a| row.agent.as_ref() == Some(a))
    }
}

/// Builds the rows in plan order, filtered.
pub fn rows(plan: &Plan, registry: &Registry, filter: &Filter) -> Vec<TaskRow> {
    let ready = scheduler::readiness(plan, |id| registry.claimed_tasks.contains_key(id));
    let ids = |v: &mut dyn Iterator<Item = usize>| -> Vec<String> {
        v.map(|b| plan.tasks[b].id.clone()).collect()
    };
    plan.tasks
        .iter()
        .enumerate()
        .map(|(i, t)| TaskRow {
            id: t.id.clone(),
            title: t.title.clone(),
            status: t.status,
            agent: registry
                .claimed_tasks
                .get(&t.id)
                .map(|c| c.agent.clone())
                .or_else(|| t.agent.clone()),
            progress: t.progress,
            blocked_by: ids(&mut t.blocked_by.iter().copied()),
            ready: ready[i],
            waiting_for: ids(&mut plan.waiting_for(i)),
            priority: t.priority.0,
            estimate_hours: t.estimate,
            attempts: t.attempts,
        })
        .filter(|r| filter.keeps(r))
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

/// Summarises rows.
pub fn summary(rows: &[TaskRow]) -> Summary {
    let mut s = Summary {
        total: rows.len(),
        ..Summary::default()
    };
    for r in rows {
        match r.status {
            Status::Pending if r.ready => s.ready += 1,
            Status::Pending => s.waiting += 1,
            Status::InProgress => s.in_progress += 1,
            Status::Completed | Status::Reviewed => s.done += 1,
            Status::Failed => s.failed += 1,
        }
    }
    s
}
