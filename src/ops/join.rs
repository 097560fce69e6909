//! `join-status`: is a join point reached, and when will it be.

use super::simulate::{self, Schedule};
use crate::plan::{JoinPoint, Plan, Status};
use crate::registry::Registry;
use crate::scheduler;
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
    /// Where it landed on the integration branch, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub landed: Option<String>,
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
    /// Hours until ready: when the last required task is done in the simulation of the
    /// remaining work with the live agents (`plan simulate`); 0 when ready; `None` when a
    /// required task failed or waits (directly or not) for a failed task.
    pub estimated_hours: Option<f64>,
    /// The required tasks.
    pub tasks: Vec<JoinTask>,
    /// With an integration branch: the first commit of it where every required task had
    /// landed (`null` until then).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<Option<String>>,
}

impl JoinReport {
    /// For people: "" when ready, "estimated ready in 3h", or why it cannot be ready.
    pub fn eta(&self) -> String {
        match (self.ready, self.estimated_hours) {
            (true, _) => String::new(),
            (false, Some(h)) => format!("estimated ready in {}", crate::ui::hours(h)),
            (false, None) => {
                "cannot be ready: a required task failed or waits for one that did".to_string()
            }
        }
    }
}

/// Reports on `point`; `schedule` is the simulation of the remaining work (see `schedule`).
pub fn report(
    plan: &Plan,
    registry: &Registry,
    point: &JoinPoint,
    schedule: &Schedule,
) -> JoinReport {
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
                landed: landed_commit(plan, i),
            }
        })
        .collect();
    let done = tasks.iter().filter(|t| t.status.is_done()).count();
    let estimated_hours = point
        .tasks
        .iter()
        .try_fold(0.0, |latest: f64, &i| Some(latest.max(schedule.finish[i]?)));
    JoinReport {
        point: point.name.clone(),
        ready: done == tasks.len(),
        done,
        total: tasks.len(),
        estimated_hours,
        tasks,
        commit: None,
    }
}

/// The commit task `i` landed at, when it did.
pub fn landed_commit(plan: &Plan, i: usize) -> Option<String> {
    let landed = plan.field(i, "landed")?;
    landed.get("commit")?.as_str().map(str::to_string)
}

/// The commit of the integration branch at which every required task of `report` had
/// landed: the one of their landing commits that contains all the others (landings move the
/// branch forward, one after the other). `None` while one has not landed.
pub fn join_commit(repo: &git2::Repository, report: &JoinReport) -> Option<String> {
    if !report.ready {
        return None;
    }
    let commits: Vec<git2::Oid> = report
        .tasks
        .iter()
        .filter_map(|t| git2::Oid::from_str(t.landed.as_deref()?).ok())
        .collect();
    let contains =
        |c: git2::Oid, d: git2::Oid| c == d || repo.graph_descendant_of(c, d).unwrap_or(false);
    commits
        .iter()
        .copied()
        .find(|&c| commits.iter().all(|&d| contains(c, d)))
        .map(|c| c.to_string())
}

/// The remaining work played out with the live agents (at least one), tasks being worked on
/// first: what join-status's estimates come from.
pub fn schedule(plan: &Plan, registry: &Registry, live_agents: usize) -> Schedule {
    simulate::run(plan, live_agents, scheduler::worked_on(plan, registry))
}
