//! `join-status`: is a join point reached, and when will it be.

use crate::plan::{graph, JoinPoint, Plan, Status};
use crate::registry::Registry;
use serde::Serialize;

/// One required task of a join point.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct JoinTask {
    /// Task id.
    pub id: String,
    /// Status.
    pub status: Status,
    /// Agent holding or having done it.
    pub agent: Option<String>,
    /// Percent done.
    pub progress: Option<u8>,
    /// Why it failed, for a failed task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

/// The state of one join point.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct JoinReport {
    /// Join point name.
    pub point: String,
    /// Every required task is completed or reviewed.
    pub ready: bool,
    /// Required tasks done.
    pub done: usize,
    /// Required tasks.
    pub total: usize,
    /// Hours until ready at the earliest: the longest chain of remaining work (estimates, 1h
    /// when absent, less progress), or the remaining work spread over the live agents when
    /// that is longer.
    pub estimated_hours: f64,
    /// The required tasks.
    pub tasks: Vec<JoinTask>,
}

/// Reports on `point`, with `agents` agents working (at least one is assumed).
pub fn report(plan: &Plan, registry: &Registry, point: &JoinPoint, agents: usize) -> JoinReport {
    let tasks: Vec<JoinTask> = point
        .tasks
        .iter()
        .map(|&i| {
            let t = &plan.tasks[i];
            JoinTask {
                id: t.id.clone(),
                status: t.status,
                agent: super::list::agent_of(plan, registry, i).map(str::to_string),
                progress: t.progress,
                failure: (t.status == Status::Failed).then(|| {
                    let why = plan
                        .last_failure(i)
                        .unwrap_or_else(|| "no reason recorded".into());
                    format!("failed after {} attempts: {why}", t.attempts)
                }),
            }
        })
        .collect();
    let done = tasks.iter().filter(|t| t.status.is_done()).count();
    let to = graph::critical_path_to(&plan.tasks, &plan.order);
    let chain = point.tasks.iter().map(|&i| to[i]).fold(0.0, f64::max);
    let work: f64 = ancestors(plan, &point.tasks)
        .into_iter()
        .map(|i| graph::remaining_hours(&plan.tasks[i]))
        .sum();
    let estimated_hours = chain.max(work / agents.max(1) as f64);
    JoinReport {
        point: point.name.clone(),
        ready: done == tasks.len(),
        done,
        total: tasks.len(),
        estimated_hours,
        tasks,
    }
}

/// The tasks in `roots` and every task they transitively wait for.
fn ancestors(plan: &Plan, roots: &[usize]) -> Vec<usize> {
    let mut seen = vec![false; plan.tasks.len()];
    let mut stack: Vec<usize> = roots.to_vec();
    let mut out = Vec::new();
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        out.push(i);
        stack.extend(plan.tasks[i].blocked_by.iter().copied());
    }
    out
}
