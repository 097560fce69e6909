//! Claiming tasks: the next ready one, or a named one.

use crate::scheduler;
use crate::store::{Actor, LockReplaced, Txn};
use crate::workspace::Workspace;
use anyhow::{bail, Result};
use std::time::{Duration, Instant};

/// What to claim.
#[derive(Debug, Clone)]
pub enum Target {
    /// The best ready task for this agent.
    Next,
    /// This task.
    Id(String),
}

/// How a claim ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// The agent now holds the task.
    Claimed {
        /// Task id.
        task: String,
        /// Task title.
        title: String,
    },
    /// The agent already held it (claiming again is harmless).
    AlreadyHeld {
        /// Task id.
        task: String,
        /// Task title.
        title: String,
    },
    /// Nothing can be claimed; why, for people.
    NotReady(String),
}

/// Claims for `actor` in one locked transaction. With `Target::Next`, tasks matching the
/// pre-assigned patterns of `prefer_as` (a `coordination.agents` id) come first.
pub fn claim(
    ws: &Workspace,
    actor: &Actor,
    target: &Target,
    prefer_as: Option<&str>,
) -> Result<ClaimOutcome> {
    // A lock file replaced under this claim: nothing was written; claim again, on the lock
    // at the path now (a few times at most: the file is not replaced in a loop by accident).
    let mut tries = 0;
    loop {
        match claim_once(ws, actor, target, prefer_as) {
            Err(e) if e.is::<LockReplaced>() && tries < 3 => tries += 1,
            done => return done,
        }
    }
}

fn claim_once(
    ws: &Workspace,
    actor: &Actor,
    target: &Target,
    prefer_as: Option<&str>,
) -> Result<ClaimOutcome> {
    let mut txn = ws.begin_checked(Some(actor), |plan| {
        if let Target::Id(id) = target {
            if plan.find(id).is_none() {
                bail!("{}: no task {id:?} in the plan", plan.path().display());
            }
        }
        plan.preferred_tasks(prefer_as).map(drop)
    })?;
    let outcome = claim_in(&mut txn, actor, target, prefer_as)?;
    txn.commit()?;
    Ok(outcome)
}

/// Like `claim --next`, but while nothing is ready and other agents' work may still unblock a
/// task, waits and tries again; `on_wait` hears why, once. Ends with a claim, or with
/// `NotReady` once nothing is left that could become ready.
///
/// While it waits it only reads: it claims again when a task is ready for it, and renews the
/// agent's lease when a third of it has passed. A wait in which nothing changes writes nothing.
pub fn claim_waiting(
    ws: &Workspace,
    actor: &Actor,
    prefer_as: Option<&str>,
    mut on_wait: impl FnMut(&str),
) -> Result<ClaimOutcome> {
    let renew_every = (ws.settings.lease / 3)
        .to_std()
        .unwrap_or(Duration::from_secs(60));
    let mut told = false;
    loop {
        let out = claim(ws, actor, &Target::Next, prefer_as)?;
        let ClaimOutcome::NotReady(why) = &out else {
            return Ok(out);
        };
        let renewed = Instant::now();
        loop {
            let (plan, registry) = ws.snapshot()?;
            let claimed = |id: &str| registry.claimed_tasks.contains_key(id);
            if scheduler::readiness(&plan, claimed).contains(&true)
                || renewed.elapsed() >= renew_every
            {
                break;
            }
            if !scheduler::may_become_ready(&plan, claimed) {
                let holder = |i: usize| {
                    let c = registry.claimed_tasks.get(&plan.tasks[i].id);
                    c.map(|c| c.agent.as_str())
                };
                let why = scheduler::explain_nothing_ready(&plan, holder);
                return Ok(ClaimOutcome::NotReady(why));
            }
            if !told {
                on_wait(why);
                told = true;
            }
            drop((plan, registry));
            std::thread::sleep(Duration::from_secs(1));
        }
    }
}

/// The claim itself, in an open transaction.
fn claim_in(
    txn: &mut Txn<'_>,
    actor: &Actor,
    target: &Target,
    prefer_as: Option<&str>,
) -> Result<ClaimOutcome> {
    let preferred = txn.plan.preferred_tasks(prefer_as)?;
    let ready = scheduler::readiness(&txn.plan, |id| txn.registry.claimed_tasks.contains_key(id));
    let chosen = match target {
        Target::Next => match scheduler::pick_next(&txn.plan, &ready, &preferred) {
            Some(i) => i,
            None => {
                let why = scheduler::explain_nothing_ready(&txn.plan, |i| txn.holder(i));
                return Ok(ClaimOutcome::NotReady(why));
            }
        },
        Target::Id(id) => {
            let Some(i) = txn.plan.find(id) else {
                bail!("{}: no task {id:?} in the plan", txn.plan.path().display());
            };
            if txn.holder(i) == Some(actor.id.as_str()) {
                let t = &txn.plan.tasks[i];
                let out = ClaimOutcome::AlreadyHeld {
                    task: t.id.clone(),
                    title: t.title.clone(),
                };
                return Ok(out);
            }
            if !ready[i] {
                return Ok(ClaimOutcome::NotReady(why_not_ready(txn, i)));
            }
            i
        }
    };
    txn.claim(chosen, &actor.id);
    let t = &txn.plan.tasks[chosen];
    Ok(ClaimOutcome::Claimed {
        task: t.id.clone(),
        title: t.title.clone(),
    })
}

fn why_not_ready(txn: &Txn<'_>, i: usize) -> String {
    if let Some(why) = txn.plan.budget_spent() {
        return why;
    }
    let t = &txn.plan.tasks[i];
    if let Some(holder) = txn.holder(i).or(t.agent.as_deref().filter(|_| t.claimed)) {
        return format!("task {} is claimed by {holder}", t.id);
    }
    if t.status != crate::plan::Status::Pending {
        return format!("task {} is {}", t.id, t.status);
    }
    let waits: Vec<String> = txn
        .plan
        .waiting_for(i)
        .map(|b| {
            let bt = &txn.plan.tasks[b];
            format!("{} ({})", bt.id, bt.status)
        })
        .collect();
    format!("task {} waits for {}", t.id, waits.join(", "))
}
