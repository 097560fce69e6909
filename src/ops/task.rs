//! Changing one task: status, progress, done, release.

use crate::plan::{Plan, Status};
use crate::store::{Actor, Txn};
use crate::workspace::Workspace;
use anyhow::{bail, Result};

/// What `task update` asks for.
#[derive(Debug, Clone, Default)]
pub struct Update {
    /// New status.
    pub status: Option<Status>,
    /// New progress, 0–100.
    pub progress: Option<u8>,
    /// `--force`: an agent may change a task it does not hold.
    pub force: bool,
}

impl Update {
    /// Whether this only repeats what finished task `t` already says: no progress, and its
    /// status, or `completed` for a task that is done.
    fn repeats(&self, t: &crate::plan::Task) -> bool {
        t.status.is_done()
            && self.progress.is_none()
            && self
                .status
                .is_none_or(|s| s == t.status || s == Status::Completed)
    }
}

/// The task after a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Updated {
    /// Task id.
    pub task: String,
    /// Status before.
    pub from: Status,
    /// Status after.
    pub to: Status,
    /// Progress after.
    pub progress: Option<u8>,
}

/// Applies `update` to task `id`. An agent may change only a task it holds (or, changing
/// nothing, one it finished), unless `force`; without an agent identity (a person at the
/// terminal) any task may be changed.
pub fn update(ws: &Workspace, actor: Option<&Actor>, id: &str, update: &Update) -> Result<Updated> {
    if let Some(p) = update.progress {
        if p > 100 {
            bail!("invalid progress {p}: expected a percentage from 0 to 100");
        }
    }
    let not_claimed = || {
        anyhow::anyhow!(
            "task {id} is not claimed; claim it with `swarm task claim {id}` to start it"
        )
    };
    let mut txn = ws.begin_checked(actor, |plan| {
        let i = find(plan, id)?;
        // Before setup no registry exists, so no task is claimed (a claim the plan alone
        // shows is an orphan, released by reconcile): refused before anything is created.
        if ws.is_set_up() {
            return Ok(());
        }
        let t = &plan.tasks[i];
        check_may_change(t, None, actor, update.force, update.repeats(t))?;
        match update.status == Some(Status::InProgress) {
            true => Err(not_claimed()),
            false => Ok(()),
        }
    })?;
    let i = find(&txn.plan, id)?;
    let t = &txn.plan.tasks[i];
    let (from, repeats) = (t.status, update.repeats(t));
    check_may_change(t, txn.holder(i), actor, update.force, repeats)?;
    if repeats && txn.holder(i).is_none() {
        // A finished task reported again (`task done` twice): nothing changes, not even a
        // reviewed task back to completed.
        return commit_updated(txn, i, from);
    }
    // With an integration branch, a held task is completed by landing it (`task done`), so
    // that completed always means landed.
    if update.status == Some(Status::Completed)
        && txn.holder(i).is_some()
        && ws.integration_branch(&txn.plan).is_some()
    {
        bail!(
            "task {id} is completed by landing it on the integration branch: run `swarm task done {}`",
            crate::agent::prompt::shell_word(id)
        );
    }
    if let Some(status) = update.status {
        match status {
            Status::InProgress if txn.holder(i).is_none() => return Err(not_claimed()),
            Status::InProgress => {}
            _ if status == from && txn.holder(i).is_none() => {}
            _ => txn.set_status(i, status, actor.map(|a| a.id.as_str())),
        }
    }
    if let Some(p) = update.progress {
        txn.set_progress(i, p);
    }
    commit_updated(txn, i, from)
}

/// Marks task `id` completed. On a plan with an integration branch, a claimed task lands
/// first (see `land`): from its holder's worktree, or else the one this command runs in.
/// Returns the change and, when it landed, where.
pub fn done(
    ws: &Workspace,
    actor: Option<&Actor>,
    id: &str,
    force: bool,
    opts: super::land::LandOptions,
    say: &mut dyn FnMut(String),
) -> Result<(Updated, Option<super::land::Landed>)> {
    let completed = Update {
        status: Some(Status::Completed),
        progress: None,
        force,
    };
    let (plan, registry) = ws.snapshot()?;
    let i = find(&plan, id)?;
    let t = &plan.tasks[i];
    let holder = registry.claimed_tasks.get(id).map(|c| c.agent.clone());
    let holder = match holder {
        Some(h) if ws.integration_branch(&plan).is_some() && !t.status.is_done() => h,
        // Nothing to land: a finished task reported again, an unclaimed task (refused for
        // an agent, completed for a person), or a plan without an integration branch.
        _ => return Ok((update(ws, actor, id, &completed)?, None)),
    };
    check_may_change(t, Some(&holder), actor, force, false)?;
    let entry = registry.agents.get(&holder);
    let recorded = entry
        .and_then(|a| a.worktree.clone())
        .map(std::path::PathBuf::from)
        .filter(|w| w.is_dir());
    let worktree = match recorded {
        Some(w) => w,
        None => {
            let here = current_worktree(ws).ok_or_else(|| {
                anyhow::anyhow!(
                    "task {id} cannot land: agent {holder} has no worktree recorded; run `swarm task done {id}` in the worktree that holds its work"
                )
            })?;
            // Only the agent's own branch, when swarm knows it: never someone else's work.
            let on = crate::git::leftovers::branch(&here)?;
            if let Some(b) = entry.and_then(|a| a.branch.as_deref()) {
                if on.as_deref() != Some(b) {
                    bail!(
                        "task {id} cannot land from {}: it is on {}, not on {b}, the branch of agent {holder}",
                        here.display(),
                        on.as_deref().unwrap_or("a detached HEAD")
                    );
                }
            }
            here
        }
    };
    let as_holder = match actor {
        Some(a) if a.id == holder => a.clone(),
        _ => Actor::leased(&holder),
    };
    let landed = super::land::land(ws, &as_holder, id, &worktree, opts, say)?;
    let (plan, _) = ws.snapshot()?;
    let now = &plan.tasks[find(&plan, id)?];
    let out = Updated {
        task: id.to_string(),
        from: t.status,
        to: now.status,
        progress: now.progress,
    };
    Ok((out, Some(landed)))
}

/// The linked worktree this command runs in (never the main one, whose branch is the base).
fn current_worktree(ws: &Workspace) -> Option<std::path::PathBuf> {
    let repo = git2::Repository::discover(std::env::current_dir().ok()?).ok()?;
    let dir = repo.workdir()?.to_path_buf();
    let main = std::fs::canonicalize(&ws.main_root).ok()?;
    (repo.is_worktree() && std::fs::canonicalize(&dir).ok()? != main).then_some(dir)
}

/// Gives a claimed task back to the pool without counting an attempt. An agent may release
/// only a task it holds, unless `force`.
pub fn release(ws: &Workspace, actor: Option<&Actor>, id: &str, force: bool) -> Result<Updated> {
    let not_claimed = |status: Status| {
        anyhow::anyhow!("task {id} is not claimed (it is {status}); nothing to release")
    };
    let mut txn = ws.begin_checked(actor, |plan| {
        let t = &plan.tasks[find(plan, id)?];
        // Before setup no registry exists, so only the plan can show a claim.
        match t.status == Status::InProgress || t.claimed {
            true => Ok(()),
            false if ws.is_set_up() => Ok(()),
            false => Err(not_claimed(t.status)),
        }
    })?;
    let i = find(&txn.plan, id)?;
    // A claim only the plan showed (no registry claim: an old script's, or from before
    // setup) was just released by reconcile: that is the release asked for.
    let orphan = |e: &crate::events::Event| e.event == "orphan" && e.task.as_deref() == Some(id);
    if txn.events().iter().any(orphan) {
        return commit_updated(txn, i, Status::InProgress);
    }
    let from = txn.plan.tasks[i].status;
    if txn.holder(i).is_some() || from == Status::InProgress {
        let t = &txn.plan.tasks[i];
        check_may_change(t, txn.holder(i), actor, force, false)?;
    }
    if txn.holder(i).is_none() && from != Status::InProgress {
        return Err(not_claimed(from));
    }
    txn.release(i, Some("released".into()));
    commit_updated(txn, i, from)
}

/// Reopens a finished or failed task on purpose: pending, no agent, attempts reset. (A task
/// set back by hand in status.json is restored by swarm: this is the way to mean it.)
pub fn reopen(ws: &Workspace, id: &str) -> Result<Updated> {
    let mut txn = ws.begin_checked(None, |plan| find(plan, id).map(drop))?;
    let i = find(&txn.plan, id)?;
    let from = txn.plan.tasks[i].status;
    if !(from.is_done() || from == Status::Failed) {
        bail!("task {id} is {from}: only a completed, reviewed or failed task can be reopened");
    }
    txn.reopen(i);
    commit_updated(txn, i, from)
}

/// Writes the transaction and reports task `i` as it now is.
fn commit_updated(txn: Txn<'_>, i: usize, from: Status) -> Result<Updated> {
    let t = &txn.plan.tasks[i];
    let out = Updated {
        task: t.id.clone(),
        from,
        to: t.status,
        progress: t.progress,
    };
    txn.commit()?;
    Ok(out)
}

fn find(plan: &Plan, id: &str) -> Result<usize> {
    match plan.find(id) {
        Some(i) => Ok(i),
        None => bail!("{}: no task {id:?} in the plan", plan.path().display()),
    }
}

/// An agent changes only what it holds (`holder`): another agent's task, or one nobody
/// claimed, is refused unless `force`. A task the agent finished may be reported again when
/// that `repeats` what it says (a repeated `task done` changes nothing).
fn check_may_change(
    t: &crate::plan::Task,
    holder: Option<&str>,
    actor: Option<&Actor>,
    force: bool,
    repeats: bool,
) -> Result<()> {
    let Some(actor) = actor else {
        return Ok(());
    };
    match holder {
        Some(holder) if holder == actor.id => Ok(()),
        _ if force => Ok(()),
        Some(holder) => bail!(
            "task {} is claimed by {holder}, not by {}; only its holder can change it (a person can, without --agent / SWARM_AGENT_ID; or pass --force)",
            t.id,
            actor.id
        ),
        None if repeats && t.agent.as_deref() == Some(actor.id.as_str()) => Ok(()),
        None => bail!(
            "task {} is not claimed by {} (it is {}{}); claim it first (swarm task claim {}), or pass --force",
            t.id,
            actor.id,
            t.status,
            t.agent
                .as_deref()
                .map(|a| format!(", last worked on by {a}"))
                .unwrap_or_default(),
            crate::agent::prompt::shell_word(&t.id)
        ),
    }
}
