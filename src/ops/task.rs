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

/// Applies `update` to task `id`. An agent may change only tasks it holds or unclaimed ones;
/// without an agent identity (a person at the terminal) any task may be changed.
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
        find(plan, id)?;
        // Before setup no registry exists, so no task is claimed: refused before anything is
        // created.
        match update.status == Some(Status::InProgress) && !ws.is_set_up() {
            true => Err(not_claimed()),
            false => Ok(()),
        }
    })?;
    let i = find(&txn.plan, id)?;
    check_may_change(&txn, actor, i)?;
    let from = txn.plan.tasks[i].status;
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

/// Gives a claimed task back to the pool without counting an attempt.
pub fn release(ws: &Workspace, actor: Option<&Actor>, id: &str) -> Result<Updated> {
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
    check_may_change(&txn, actor, i)?;
    let from = txn.plan.tasks[i].status;
    if txn.holder(i).is_none() && from != Status::InProgress {
        return Err(not_claimed(from));
    }
    txn.release(i, Some("released".into()));
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

fn check_may_change(txn: &Txn<'_>, actor: Option<&Actor>, i: usize) -> Result<()> {
    if let (Some(actor), Some(holder)) = (actor, txn.holder(i)) {
        if holder != actor.id {
            bail!(
                "task {} is claimed by {holder}, not by {}; only its holder can change it (a person can, without --agent / SWARM_AGENT_ID)",
                txn.plan.tasks[i].id,
                actor.id
            );
        }
    }
    Ok(())
}
