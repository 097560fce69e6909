//! The supervisor's locked steps: settling a run's task, claiming the next, waiting, retiring.

use super::SuperviseOptions;
use crate::ops::launch::LaunchRequest;
use crate::plan::Status;
use crate::scheduler;
use crate::store::Actor;
use crate::workspace::Workspace;
use anyhow::Result;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Whether `task` is completed or reviewed in the plan (false when it cannot be read).
pub(super) fn is_done(ws: &Workspace, task: &str) -> bool {
    ws.snapshot().is_ok_and(|(plan, _)| {
        plan.find(task)
            .is_some_and(|i| plan.tasks[i].status.is_done())
    })
}

/// Whether every task of the plan is done (false when it cannot be read).
pub(super) fn plan_finished(ws: &Workspace) -> bool {
    ws.load_plan()
        .is_ok_and(|p| p.tasks.iter().all(|t| t.status.is_done()))
}

/// Marks the supervised agent as finished in the registry.
pub(super) fn retire(ws: &Workspace, actor: &Actor, why: &str) -> Result<()> {
    let mut txn = ws.begin(Some(actor))?;
    txn.retire(&actor.id, why);
    txn.commit()
}

/// Lands `task` when the plan has an integration branch and the task is still the agent's,
/// not done: what happened, in words (`None`: nothing to land).
pub(super) fn land_if_needed(
    ws: &Workspace,
    actor: &Actor,
    task: &str,
    worktree: &std::path::Path,
) -> Result<Option<String>> {
    let (plan, registry) = ws.snapshot()?;
    let held = registry
        .claimed_tasks
        .get(task)
        .is_some_and(|c| c.agent == actor.id);
    if ws.integration_branch(&plan).is_none() || !held {
        return Ok(None);
    }
    let opts = crate::ops::land::LandOptions::default();
    let landed = crate::ops::land::land(ws, actor, task, worktree, opts, &mut |_| {})?;
    Ok(Some(format!(
        "{task} landed on {} at {}",
        landed.branch,
        crate::git::short(landed.commit)
    )))
}

/// Records what a run reported on its task (`runs`): agent, session, spend, turns, time and
/// how it ended.
pub(super) fn record_run(
    ws: &Workspace,
    actor: &Actor,
    task: &str,
    report: &crate::agent::RunReport,
    outcome: &str,
    took: Duration,
) -> Result<()> {
    // Not as the agent: a supervisor stopped by a signal has retired it already.
    let mut txn = ws.begin(None)?;
    if let Some(i) = txn.plan.find(task) {
        let run = serde_json::json!({
            "agent": actor.id,
            "sessionId": report.session_id,
            "costUsd": report.cost_usd,
            "turns": report.turns,
            "tokens": report.tokens,
            "durationMs": took.as_millis() as u64,
            "outcome": outcome,
        });
        txn.record_run(i, &actor.id, run);
    }
    txn.commit()
}

/// Counts a failed attempt at `task` that the agent tries again at once, in place (resuming
/// its session), keeping the claim: the attempt number, or `None` when the task is no longer
/// the agent's or this was its last attempt (then it is settled as any failure).
pub(super) fn retry_in_place(
    ws: &Workspace,
    actor: &Actor,
    task: &str,
    why: String,
) -> Result<Option<u32>> {
    let mut txn = ws.begin(Some(actor))?;
    let Some(i) = txn.plan.find(task) else {
        txn.commit()?;
        return Ok(None);
    };
    let last = txn.plan.tasks[i].attempts + 1 >= ws.settings.max_attempts;
    if txn.holder(i) != Some(actor.id.as_str()) || txn.plan.tasks[i].status.is_done() || last {
        txn.commit()?;
        return Ok(None);
    }
    let attempt = txn.retry_in_place(i, why);
    txn.commit()?;
    Ok(Some(attempt))
}

pub(super) fn settle_done(
    ws: &Workspace,
    actor: &Actor,
    task: &str,
    say: &mut impl FnMut(String),
) -> Result<()> {
    let mut txn = ws.begin(Some(actor))?;
    let Some(i) = txn.plan.find(task) else {
        return txn.commit();
    };
    if txn.plan.tasks[i].status.is_done() {
        say(format!(
            "{}: {task} is {}",
            actor.id, txn.plan.tasks[i].status
        ));
    } else if txn.holder(i) == Some(actor.id.as_str()) {
        txn.set_status(i, Status::Completed, Some(&actor.id));
        say(format!("{}: {task} done", actor.id));
    } else {
        say(format!(
            "{}: the agent succeeded but {task} is no longer its task ({}); left as it is",
            actor.id, txn.plan.tasks[i].status
        ));
    }
    txn.commit()
}

pub(super) fn settle_failed(
    ws: &Workspace,
    actor: &Actor,
    task: &str,
    branch: Option<&str>,
    why: String,
    say: &mut impl FnMut(String),
) -> Result<()> {
    let mut txn = ws.begin(Some(actor))?;
    if let Some(i) = txn.plan.find(task) {
        // A task the agent finished stays finished, whatever its exit status.
        if txn.holder(i) == Some(actor.id.as_str()) && !txn.plan.tasks[i].status.is_done() {
            let (attempts, failed) = txn.fail_attempt(i, branch, why.clone());
            let state = if failed { "failed" } else { "pending again" };
            say(format!(
                "{}: {task}: {why}; {state} (attempt {attempts})",
                actor.id
            ));
        }
    }
    txn.commit()
}

pub(super) fn stop_for_signal(
    ws: &Workspace,
    actor: &Actor,
    task: Option<&str>,
    sig: i32,
) -> Result<()> {
    let mut txn = ws.begin(Some(actor))?;
    if let Some(i) = task.and_then(|t| txn.plan.find(t)) {
        if txn.holder(i) == Some(actor.id.as_str()) {
            txn.release(
                i,
                Some(format!("supervisor stopped by {}", signal_name(sig))),
            );
        }
    }
    txn.retire(&actor.id, &format!("stopped by {}", signal_name(sig)));
    txn.commit()
}

/// What comes after a task.
pub(super) enum Next {
    /// This task was claimed; its previous attempt's branch, if it has one.
    Task(Box<crate::plan::Task>, Option<String>),
    /// Nothing is ready and nothing can become ready: why.
    Stop(String),
    /// A signal arrived while waiting.
    Interrupted(i32),
}

/// Claims the next task; while none is ready but other agents' work may unblock one, waits
/// (renewing the heartbeat, watching for signals) and tries again.
pub(super) fn wait_for_next(
    ws: &Workspace,
    actor: &Actor,
    req: &LaunchRequest,
    skip: &[String],
    opts: &SuperviseOptions,
    signal: &AtomicUsize,
    say: &mut impl FnMut(String),
) -> Result<Next> {
    let mut told = false;
    let mut beat = Instant::now();
    loop {
        match claim_next(ws, actor, req, skip)? {
            Ok((task, previous)) => return Ok(Next::Task(Box::new(task), previous)),
            Err((why, false)) => return Ok(Next::Stop(why)),
            Err((why, true)) => {
                if !told {
                    say(format!(
                        "{}: waiting for a task to become ready: {why}",
                        actor.id
                    ));
                    told = true;
                }
            }
        }
        let until = Instant::now() + Duration::from_secs(1);
        while Instant::now() < until {
            let sig = signal.load(Ordering::SeqCst);
            if sig != 0 {
                return Ok(Next::Interrupted(sig as i32));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if beat.elapsed() >= opts.heartbeat {
            ws.begin(Some(actor))?.commit()?;
            beat = Instant::now();
        }
    }
}

/// A task claimed, with its previous attempt's branch if it has one.
pub(super) type Claimed = (crate::plan::Task, Option<String>);

/// Claims the next ready task for the supervised agent, skipping tasks it already failed.
/// When there is none: why, and whether waiting may help.
pub(super) fn claim_next(
    ws: &Workspace,
    actor: &Actor,
    req: &LaunchRequest,
    skip: &[String],
) -> Result<Result<Claimed, (String, bool)>> {
    let mut txn = ws.begin(Some(actor))?;
    let preferred = txn.plan.preferred_tasks(req.as_agent.as_deref())?;
    let mut ready =
        scheduler::readiness(&txn.plan, |id| txn.registry.claimed_tasks.contains_key(id));
    let mut skipped = Vec::new();
    for id in skip {
        if let Some(i) = txn.plan.find(id) {
            if ready[i] {
                skipped.push(id.as_str());
            }
            ready[i] = false;
        }
    }
    // Agents launched to wait for work get what became ready first: one that just finished
    // a task takes one only when there are more ready tasks than agents waiting.
    let waiting = txn
        .registry
        .agents
        .iter()
        .filter(|(id, a)| **id != actor.id && a.state.as_deref() == Some("waiting"))
        .count();
    let ready_now = ready.iter().filter(|r| **r).count();
    if waiting > 0 && ready_now > 0 && ready_now <= waiting {
        txn.commit()?;
        let why = format!(
            "{ready_now} ready task(s) left to {waiting} agent(s) that were waiting for work"
        );
        return Ok(Err((why, true)));
    }
    let Some(i) = scheduler::pick_next(&txn.plan, &ready, &preferred) else {
        let why = if skipped.is_empty() {
            scheduler::explain_nothing_ready(&txn.plan, |i| txn.holder(i))
        } else {
            format!(
                "the only ready tasks are ones this agent failed ({}); another agent may try them",
                skipped.join(", ")
            )
        };
        let may = skipped.is_empty()
            && scheduler::may_come_back(&txn.plan, |id| {
                txn.registry.claimed_tasks.contains_key(id)
            });
        txn.commit()?;
        return Ok(Err((why, may)));
    };
    txn.claim(i, &actor.id);
    let task = txn.plan.tasks[i].clone();
    let previous = txn.plan.previous_branch(i);
    txn.commit()?;
    Ok(Ok((task, previous)))
}

/// "SIGINT", "SIGTERM", or "signal N".
pub fn signal_name(sig: i32) -> String {
    match sig {
        2 => "SIGINT".into(),
        15 => "SIGTERM".into(),
        n => format!("signal {n}"),
    }
}

pub(super) fn human(d: Duration) -> String {
    crate::registry::liveness::human_duration(chrono::Duration::milliseconds(
        d.as_millis().min(i64::MAX as u128) as i64,
    ))
}
