//! Pure scheduling: which tasks are ready, which one an agent should take next, and why
//! nothing is ready. Plan in, decision out.

use crate::plan::{graph, Glob, Plan, Status};
use crate::registry::Registry;

/// For every task, whether it can be claimed now: pending, unclaimed, every blocker done.
/// `claimed(id)` says whether the registry holds a claim on a task.
pub fn readiness(plan: &Plan, claimed: impl Fn(&str) -> bool) -> Vec<bool> {
    // A plan whose budget is spent hands out nothing more.
    if plan.budget_spent().is_some() {
        return vec![false; plan.tasks.len()];
    }
    plan.tasks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            t.status == Status::Pending && !t.claimed && plan.blockers_done(i) && !claimed(&t.id)
        })
        .collect()
}

/// Picks the task an agent should claim next among the ready ones, by: (1) tasks matching the
/// agent's pre-assigned patterns; (2) priority; (3) longest remaining critical path through
/// the tasks that wait on it; (4) tasks whose `files` overlap no task in progress; (5) plan
/// order.
pub fn pick_next(plan: &Plan, ready: &[bool], preferred: &[Glob]) -> Option<usize> {
    let candidates: Vec<usize> = (0..plan.tasks.len()).filter(|&i| ready[i]).collect();
    if candidates.len() <= 1 {
        return candidates.first().copied();
    }
    let path = graph::critical_path_from(&plan.tasks, &plan.order, &plan.dependents);
    let busy: Vec<&[Glob]> = plan
        .tasks
        .iter()
        .filter(|t| t.status == Status::InProgress && !t.files.is_empty())
        .map(|t| t.files.as_slice())
        .collect();
    let collides = |i: usize| overlaps_any(&plan.tasks[i].files, &busy);
    candidates.into_iter().min_by(|&a, &b| {
        let pref = |i: usize| !preferred.iter().any(|g| g.matches(&plan.tasks[i].id));
        pref(a)
            .cmp(&pref(b))
            .then(plan.tasks[a].priority.cmp(&plan.tasks[b].priority))
            .then(path[b].total_cmp(&path[a]))
            .then_with(|| collides(a).cmp(&collides(b)))
            .then(a.cmp(&b))
    })
}

/// Whether `files` may touch a file that one of `others` touches.
pub fn overlaps_any(files: &[Glob], others: &[&[Glob]]) -> bool {
    !files.is_empty()
        && others
            .iter()
            .any(|o| files.iter().any(|f| o.iter().any(|g| f.may_overlap(g))))
}

/// Whether waiting can help: some task is being worked on, and some unclaimed pending task is
/// not cut off by a failed task anywhere upstream, so finishing work may make it ready.
pub fn may_become_ready(plan: &Plan, claimed: impl Fn(&str) -> bool) -> bool {
    if plan.budget_spent().is_some() {
        return false;
    }
    let working = plan
        .tasks
        .iter()
        .any(|t| t.status == Status::InProgress || claimed(&t.id));
    if !working {
        return false;
    }
    // A pending task is never failed itself, so cut off means waiting for a failed task.
    let cut_off = cut_off(plan);
    plan.tasks
        .iter()
        .enumerate()
        .any(|(i, t)| t.status == Status::Pending && !t.claimed && !claimed(&t.id) && !cut_off[i])
}

/// Whether a supervisor that has finished its work should wait: as `may_become_ready`, or
/// some task is being worked on at all, since a failed attempt or a dead agent gives it back
/// (and the agent that failed it does not take it again). Without this, the last task of a
/// plan, failed once, would be left for nobody.
pub fn may_come_back(plan: &Plan, claimed: impl Fn(&str) -> bool) -> bool {
    plan.budget_spent().is_none()
        && plan
            .tasks
            .iter()
            .any(|t| t.status == Status::InProgress || claimed(&t.id))
}

/// Tasks that can never be done: failed, or waiting (directly or not) for a failed task.
pub fn cut_off(plan: &Plan) -> Vec<bool> {
    let mut cut = vec![false; plan.tasks.len()];
    for &i in &plan.order {
        let t = &plan.tasks[i];
        cut[i] = t.status == Status::Failed || t.blocked_by.iter().any(|&b| cut[b]);
    }
    cut
}

/// Whether task `i` is being worked on: in progress, or claimed in the plan or the registry.
pub fn worked_on<'a>(plan: &'a Plan, registry: &'a Registry) -> impl Fn(usize) -> bool + 'a {
    move |i| {
        let t = &plan.tasks[i];
        t.status == Status::InProgress || t.claimed || registry.claimed_tasks.contains_key(&t.id)
    }
}

/// Why nothing can be claimed, in one paragraph for people. `holder(i)` names the agent
/// holding task `i`.
pub fn explain_nothing_ready<'a>(
    plan: &'a Plan,
    holder: impl Fn(usize) -> Option<&'a str>,
) -> String {
    let n = plan.tasks.len();
    if n == 0 {
        return "the plan has no tasks".to_string();
    }
    if let Some(why) = plan.budget_spent() {
        return why;
    }
    let done = plan.tasks.iter().filter(|t| t.status.is_done()).count();
    if done == n {
        return format!("all {n} tasks are done");
    }
    let mut claimed = Vec::new();
    let mut blocked = Vec::new();
    let mut failed = Vec::new();
    for (i, t) in plan.tasks.iter().enumerate() {
        match t.status {
            Status::Failed => failed.push(t.id.clone()),
            Status::InProgress => {
                let who = holder(i).or(t.agent.as_deref()).unwrap_or("nobody");
                claimed.push(format!("{} by {who}", t.id));
            }
            Status::Pending => {
                let waits: Vec<String> = plan
                    .waiting_for(i)
                    .map(|b| match plan.tasks[b].status {
                        Status::Failed => format!("{} (failed)", plan.tasks[b].id),
                        _ => plan.tasks[b].id.clone(),
                    })
                    .collect();
                if waits.is_empty() {
                    let who = holder(i).or(t.agent.as_deref()).unwrap_or("another agent");
                    claimed.push(format!("{} by {who}", t.id));
                } else {
                    blocked.push(format!("{} waits for {}", t.id, waits.join(", ")));
                }
            }
            Status::Completed | Status::Reviewed => {}
        }
    }
    let mut parts = vec![format!("{done} of {n} done")];
    for (items, what) in [
        (&claimed, "claimed"),
        (&blocked, "blocked"),
        (&failed, "failed"),
    ] {
        if !items.is_empty() {
            parts.push(format!("{} {what} ({})", items.len(), abbreviate(items, 5)));
        }
    }
    parts.join("; ")
}

fn abbreviate(items: &[String], keep: usize) -> String {
    let shown = items
        .iter()
        .take(keep)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if items.len() > keep {
        format!("{shown}; and {} more", items.len() - keep)
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn plan(json: &str) -> Plan {
        Plan::parse(Path::new("status.json"), json).unwrap()
    }

    #[test]
    fn chain_only_head_is_ready() {
        let p = plan(r#"{"tasks":{"a":{},"b":{"blockedBy":["a"]},"c":{"blockedBy":["b"]}}}"#);
        assert_eq!(readiness(&p, |_| false), vec![true, false, false]);
        assert_eq!(readiness(&p, |id| id == "a"), vec![false, false, false]);
    }

    #[test]
    fn priority_beats_plan_order_and_critical_path_breaks_ties() {
        let p = plan(
            r#"{"tasks":{
            "low":{"priority":"low"},
            "short":{},
            "long":{},
            "after-long":{"blockedBy":["long"],"estimate":"5h"},
            "urgent":{"priority":1}}}"#,
        );
        let ready = readiness(&p, |_| false);
        assert_eq!(pick_next(&p, &ready, &[]), Some(4), "priority 1 first");
        let mut r = ready.clone();
        r[4] = false;
        assert_eq!(
            pick_next(&p, &r, &[]),
            Some(2),
            "longest path among equal priority"
        );
        r[2] = false;
        assert_eq!(pick_next(&p, &r, &[]), Some(1), "plan order");
    }

    #[test]
    fn a_spent_budget_stops_every_claim_and_says_why() {
        let p = plan(
            r#"{"coordination":{"budgetUsd":1},"tasks":{
            "a":{"status":"completed","runs":[{"agent":"x","costUsd":0.6},{"agent":"x","costUsd":0.5}]},
            "b":{}}}"#,
        );
        assert_eq!(readiness(&p, |_| false), vec![false, false]);
        let why = explain_nothing_ready(&p, |_| None);
        assert!(
            why.contains("budget is spent: $1.10 recorded of $1"),
            "{why}"
        );
        let under =
            plan(r#"{"coordination":{"budgetUsd":2},"tasks":{"a":{"runs":[{"costUsd":1.5}]}}}"#);
        assert_eq!(readiness(&under, |_| false), vec![true]);
    }

    #[test]
    fn a_task_touching_files_in_progress_waits_behind_one_that_does_not() {
        let p = plan(
            r#"{"tasks":{
            "busy":{"status":"in-progress","agent":"x","claimed":true,"files":["src/db/**"]},
            "db-too":{"files":["src/db/schema.rs"]},
            "api":{"files":["src/api/**"]},
            "urgent-db":{"priority":"high","files":["src/db/**"]}}}"#,
        );
        let mut ready = readiness(&p, |_| false);
        ready[3] = false;
        assert_eq!(
            pick_next(&p, &ready, &[]),
            Some(2),
            "api overlaps nothing in progress"
        );
        ready[3] = true;
        assert_eq!(
            pick_next(&p, &ready, &[]),
            Some(3),
            "priority still comes first"
        );
        ready[2] = false;
        ready[3] = false;
        assert_eq!(
            pick_next(&p, &ready, &[]),
            Some(1),
            "an overlapping task is not refused"
        );
    }

    #[test]
    fn preassigned_patterns_come_first() {
        let p = plan(r#"{"tasks":{"core/a":{"priority":"high"},"ui/b":{"priority":"low"}}}"#);
        let ready = readiness(&p, |_| false);
        assert_eq!(
            pick_next(&p, &ready, &[Glob::new("ui/*").unwrap()]),
            Some(1)
        );
        assert_eq!(pick_next(&p, &ready, &[]), Some(0));
    }

    #[test]
    fn waiting_helps_only_while_work_can_unblock_something() {
        let p = plan(
            r#"{"tasks":{"a":{"status":"in-progress","agent":"x","claimed":true},"b":{"blockedBy":["a"]}}}"#,
        );
        assert!(may_become_ready(&p, |_| false));
        let failed = plan(
            r#"{"tasks":{"a":{"status":"failed"},"b":{"blockedBy":["a"]},"c":{"blockedBy":["b"]},"d":{"status":"in-progress","agent":"x","claimed":true}}}"#,
        );
        assert!(!may_become_ready(&failed, |_| false), "b and c are cut off");
        assert!(may_come_back(&failed, |_| false), "d may come back");
        let idle = plan(r#"{"tasks":{"a":{"status":"completed"},"b":{}}}"#);
        assert!(!may_become_ready(&idle, |_| false), "nobody works");
        assert!(!may_come_back(&idle, |_| false), "nobody works");
        let last = plan(
            r#"{"tasks":{"a":{"status":"completed"},"b":{"status":"in-progress","agent":"x","claimed":true}}}"#,
        );
        assert!(!may_become_ready(&last, |_| false));
        assert!(may_come_back(&last, |_| false), "the last task may fail");
    }

    #[test]
    fn explains_blocked_and_claimed() {
        let p = plan(
            r#"{"tasks":{"a":{"status":"in-progress","agent":"x","claimed":true},"b":{"blockedBy":["a"]}}}"#,
        );
        let why = explain_nothing_ready(&p, |_| None);
        assert!(why.contains("a by x"), "{why}");
        assert!(why.contains("b waits for a"), "{why}");
        let failed = plan(r#"{"tasks":{"a":{"status":"failed"},"b":{"blockedBy":["a"]}}}"#);
        let why = explain_nothing_ready(&failed, |_| None);
        assert!(why.contains("b waits for a (failed)"), "{why}");
        let done = plan(r#"{"tasks":{"a":{"status":"completed"}}}"#);
        assert_eq!(
            explain_nothing_ready(&done, |_| None),
            "all 1 tasks are done"
        );
    }
}
