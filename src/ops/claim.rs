//! Claiming tasks: the next ready one, or a named one.

use super::queue;
use crate::registry::{LockFile, Registry, RegistryLock};
use crate::scheduler;
use crate::store::{Actor, Txn};
use crate::workspace::Workspace;
use anyhow::{bail, Result};

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

/// Claims for `actor` under the lock. With `Target::Next`, tasks matching the pre-assigned
/// patterns of `prefer_as` (a `coordination.agents` id) come first. A plain `--next` claim
/// that finds the lock busy posts a request that the holder, or whoever takes the lock next,
/// may serve in its own write (see `queue`).
pub fn claim(
    ws: &Workspace,
    actor: &Actor,
    target: &Target,
    prefer_as: Option<&str>,
) -> Result<ClaimOutcome> {
    // With `--lock-timeout` a claimer may give up waiting while its request is being served:
    // it would then hold a task it was told it did not get. It claims alone.
    let combinable = matches!(target, Target::Next)
        && prefer_as.is_none()
        && ws.settings.lock_timeout.is_none()
        && ws.is_set_up();
    if !combinable {
        return claim_alone(ws, actor, target, prefer_as, None);
    }
    let busy = match LockFile::open(&ws.lock_path())?.try_lock()? {
        // No one to wait for: no request to post either.
        Ok(lock) => return claim_alone(ws, actor, target, None, Some((lock, None))),
        Err(busy) => busy,
    };
    let request = queue::Request::post(ws, actor, None)?;
    match request.collect(ws, busy)? {
        Ok(task) => Ok(ClaimOutcome::Claimed {
            task,
            title: String::new(),
        }),
        Err((lock, registry)) => claim_alone(ws, actor, target, None, Some((lock, Some(registry)))),
    }
}

/// Like `claim --next`, but while nothing is ready and other agents' work may still unblock a
/// task, waits and tries again; `on_wait` hears why, once. Ends with a claim, or with
/// `NotReady` once nothing is left that could become ready.
pub fn claim_waiting(
    ws: &Workspace,
    actor: &Actor,
    prefer_as: Option<&str>,
    mut on_wait: impl FnMut(&str),
) -> Result<ClaimOutcome> {
    let mut told = false;
    loop {
        let out = claim(ws, actor, &Target::Next, prefer_as)?;
        let ClaimOutcome::NotReady(why) = &out else {
            return Ok(out);
        };
        let (plan, registry) = ws.snapshot()?;
        if !scheduler::may_become_ready(&plan, |id| registry.claimed_tasks.contains_key(id)) {
            return Ok(out);
        }
        if !told {
            on_wait(why);
            told = true;
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

fn claim_alone(
    ws: &Workspace,
    actor: &Actor,
    target: &Target,
    prefer_as: Option<&str>,
    held: Option<(RegistryLock, Option<Registry>)>,
) -> Result<ClaimOutcome> {
    let check = |plan: &crate::plan::Plan| {
        if let Target::Id(id) = target {
            if plan.find(id).is_none() {
                bail!("{}: no task {id:?} in the plan", plan.path().display());
            }
        }
        if let Some(a) = prefer_as {
            if plan.agent_spec(a).is_none() {
                bail!(
                    "{}: coordination.agents has no agent {a:?}",
                    plan.path().display()
                );
            }
        }
        Ok(())
    };
    let mut txn = match held {
        Some((lock, registry)) => ws.begin_with(lock, registry, Some(actor), check)?,
        None => ws.begin_checked(Some(actor), check)?,
    };
    // Its own claim first: a named task (or a pre-assigned agent's) is never given away to
    // a posted request.
    let (outcome, served) = crate::alloc::bulk_if_started(|| -> Result<_> {
        let outcome = claim_in(&mut txn, actor, target, prefer_as)?;
        let served = serve_queue(&mut txn);
        txn.commit()?;
        Ok((outcome, served))
    })?;
    for path in served {
        let _ = std::fs::remove_file(path);
    }
    Ok(outcome)
}

/// Serves the requests other claimers posted, each with the plain `--next` choice.
fn serve_queue(txn: &mut Txn<'_>) -> Vec<std::path::PathBuf> {
    // Computed on the first request only: most claims find none posted.
    let mut ready: Option<Vec<bool>> = None;
    queue::serve_posted(txn, |txn, _| {
        let ready = ready.get_or_insert_with(|| {
            scheduler::readiness(&txn.plan, |id| txn.registry.claimed_tasks.contains_key(id))
        });
        let i = scheduler::pick_next(&txn.plan, ready, &[])?;
        ready[i] = false;
        Some(i)
    })
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
