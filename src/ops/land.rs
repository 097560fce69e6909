//! Landing a finished task on the integration branch: the agent's branch takes in what landed
//! meanwhile, the verify command passes on exactly that commit, and only then the integration
//! branch moves to it, with a compare-and-swap. The integration branch only ever points at
//! verified commits.

use super::verify::{self, Verified};
use crate::git::{self, integrate, integrate::BroughtIn, short};
use crate::plan::{Plan, Status};
use crate::store::Actor;
use crate::workspace::Workspace;
use anyhow::{anyhow, bail, Context, Result};
use serde_json::json;
use std::path::{Path, PathBuf};

/// How many times a landing merges and verifies again when other agents land first.
const ROUNDS: u32 = 5;

/// `task done --resolve`: leave a conflicting merge in progress for the agent to resolve.
#[derive(Debug, Clone, Copy, Default)]
pub struct LandOptions {
    /// Leave a conflicting merge in progress.
    pub resolve: bool,
}

/// A task that landed.
#[derive(Debug, Clone)]
pub struct Landed {
    /// Task id.
    pub task: String,
    /// The integration branch.
    pub branch: String,
    /// The commit it now points at (the one verified).
    pub commit: git2::Oid,
    /// The verification, when the plan or task has a verify command.
    pub verified: Option<Verified>,
    /// How many merge-and-verify rounds it took.
    pub rounds: u32,
}

/// Lands task `id`, held by the agent whose worktree is at `worktree`, on the integration
/// branch of the plan, then completes it with the evidence (`landed`). `say` gets progress
/// lines (another agent landed first, a merge was made). On failure nothing moved: the task
/// stays in progress.
pub fn land(
    ws: &Workspace,
    actor: &Actor,
    id: &str,
    worktree: &Path,
    opts: LandOptions,
    say: &mut dyn FnMut(String),
) -> Result<Landed> {
    let plan = ws.load_plan()?;
    let branch = ws
        .integration_branch(&plan)
        .ok_or_else(|| anyhow!("the plan has no integration branch"))?;
    let i = plan
        .find(id)
        .ok_or_else(|| anyhow!("{}: no task {id:?} in the plan", plan.path().display()))?;
    let verify = plan.verify_command(i).cloned();
    let timeout = plan
        .integration
        .as_ref()
        .map(|x| x.verify_timeout)
        .unwrap_or_default();
    let repo = git::open(&ws.main_root)?;
    integrate::refuse_checked_out(&repo, &branch)?;
    check_worktree(worktree, &branch, id)?;
    let mut round = 0;
    let (commit, verified) = loop {
        round += 1;
        let tip = git::branch_tip(&repo, &branch).ok_or_else(|| {
            anyhow!("the integration branch {branch} does not exist; `swarm setup` creates it")
        })?;
        match integrate::bring_in(worktree, tip, &branch, opts.resolve)? {
            BroughtIn::Already => {}
            BroughtIn::FastForward => {}
            BroughtIn::Merged(m) => say(format!(
                "merged {branch} ({}) into this branch: {}",
                short(tip),
                short(m)
            )),
            BroughtIn::Conflict(files) => {
                return Err(conflict(id, &branch, tip, &files, opts, round))
            }
        }
        let head = git::leftovers::head(worktree)?;
        let head = git2::Oid::from_str(&head)?;
        let verified = match &verify {
            Some(cmd) => {
                let log = log_path(ws, id)?;
                let env = [("SWARM_TASK_ID", id), ("SWARM_AGENT_ID", actor.id.as_str())];
                say(format!("verifying {} with {}", short(head), cmd.shown()));
                // A long verification keeps the agent's claim alive.
                let mut beat = || {
                    let _ = ws.begin(Some(actor)).and_then(|txn| txn.commit());
                };
                let v = verify::run(
                    "verify command",
                    cmd,
                    worktree,
                    &env,
                    &log,
                    timeout,
                    &mut beat,
                )?;
                if !v.passed() {
                    // Logged, so that people watching see it; the error says it all anyway.
                    let _ = ws.begin(Some(actor)).and_then(|mut txn| {
                        let what =
                            format!("verification {}; log: {}", v.outcome(), v.log.display());
                        txn.record_task("verify-failed", Some(&actor.id), id, what);
                        txn.commit()
                    });
                    return Err(verify_failed(id, &branch, &v));
                }
                Some(v)
            }
            None => None,
        };
        // What lands is the commit verified, with nothing else in the tree.
        let changed = git::safety::uncommitted(worktree)?;
        if !changed.is_empty() {
            bail!(
                "task {id} did not land: the verify command changed files in {} ({}); {branch} did not move. Commit them if they belong to the work, or make the verify command leave the tree as it found it, then run `swarm task done {id}` again",
                worktree.display(),
                changed.join(", ")
            );
        }
        let why = format!("swarm: land {id}");
        if integrate::compare_and_swap(&repo, &branch, head, tip, &why)? {
            break (head, verified);
        }
        if round >= ROUNDS {
            bail!(
                "{branch} kept moving while task {id} was verified ({ROUNDS} rounds); nothing landed, the task stays in progress: run `swarm task done {id}` again"
            );
        }
        say(format!(
            "another agent landed on {branch} meanwhile: merging and verifying again (round {})",
            round + 1
        ));
    };
    record(ws, actor, id, &branch, commit, verified.as_ref())?;
    Ok(Landed {
        task: id.to_string(),
        branch,
        commit,
        verified,
        rounds: round,
    })
}

/// Brings the integration branch into the worktree at `worktree` before its agent starts a
/// new task there. Only a clean worktree is touched; a merge that conflicts is undone (the
/// agent meets it again when its task lands). What happened, in words, or `None` for nothing.
pub fn refresh(ws: &Workspace, plan: &Plan, worktree: &Path) -> Result<Option<String>> {
    let Some(branch) = ws.integration_branch(plan) else {
        return Ok(None);
    };
    let repo = git::open(&ws.main_root)?;
    let Some(tip) = git::branch_tip(&repo, &branch) else {
        return Ok(None);
    };
    let dirty = git::safety::uncommitted(worktree)?;
    if !dirty.is_empty() {
        bail!(
            "{} has uncommitted changes ({}): commit them (or stash them) first, so that what landed on {branch} can be brought in before the next task",
            worktree.display(),
            dirty.join(", ")
        );
    }
    Ok(match integrate::bring_in(worktree, tip, &branch, false)? {
        BroughtIn::Already => None,
        BroughtIn::FastForward => Some(format!("moved up to {branch} ({})", short(tip))),
        BroughtIn::Merged(m) => Some(format!("merged {branch} ({}): {}", short(tip), short(m))),
        BroughtIn::Conflict(files) => Some(format!(
            "{branch} ({}) conflicts with this branch in {}; not merged now: the conflict comes back when the task lands",
            short(tip),
            files.join(", ")
        )),
    })
}

/// A worktree that can land: on a branch that is not the integration branch, nothing
/// uncommitted.
fn check_worktree(worktree: &Path, branch: &str, id: &str) -> Result<()> {
    match git::leftovers::branch(worktree)? {
        Some(b) if b == branch => bail!(
            "{} has the integration branch {branch} checked out; land from the agent's own branch",
            worktree.display()
        ),
        Some(_) => {}
        None => bail!(
            "{} is on a detached HEAD; check out the agent's branch before `swarm task done {id}`",
            worktree.display()
        ),
    }
    let dirty = git::safety::uncommitted(worktree)?;
    if !dirty.is_empty() {
        bail!(
            "task {id} cannot land: {} has uncommitted changes: {}; commit them (git add … && git commit), then run `swarm task done {id}` again",
            worktree.display(),
            dirty.join(", ")
        );
    }
    Ok(())
}

fn conflict(
    id: &str,
    branch: &str,
    tip: git2::Oid,
    files: &[String],
    opts: LandOptions,
    round: u32,
) -> anyhow::Error {
    let files = files.join(", ");
    // A later round conflicts with what another agent landed meanwhile; the earlier round's
    // merge stays on the branch (it was a clean merge of what had landed then).
    let was = match round {
        1 => "the worktree is as it was",
        _ => "the worktree is as it was after merging the earlier tip of the branch",
    };
    match opts.resolve {
        true => anyhow!(
            "task {id} did not land: merging {branch} ({}) conflicts in {files}; the merge is left in progress: resolve those files, `git add` them, `git commit --no-edit`, then run `swarm task done {id}` again",
            short(tip)
        ),
        false => anyhow!(
            "task {id} did not land: merging {branch} ({}) conflicts in {files}; the merge was undone ({was}). To resolve: run `swarm task done {id} --resolve` (or `git merge {branch}`), fix those files, `git add` them, `git commit --no-edit`, then `swarm task done {id}` again",
            short(tip)
        ),
    }
}

fn verify_failed(id: &str, branch: &str, v: &Verified) -> anyhow::Error {
    anyhow!(
        "task {id} did not land: verification {} ({}); {branch} did not move and the task stays in progress. Last lines of the output:\n{}\nFull output: {}\nFix it, commit, and run `swarm task done {id}` again",
        v.outcome(),
        v.command,
        v.tail(20),
        v.log.display()
    )
}

/// `.claude-agents/logs/verify-<task>-<time>.log`.
fn log_path(ws: &Workspace, id: &str) -> Result<PathBuf> {
    let safe: String = id
        .chars()
        .map(
            |c| match c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                true => c,
                false => '-',
            },
        )
        .collect();
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f");
    Ok(crate::coord::subdir(&ws.coord_dir, "logs")?.join(format!("verify-{safe}-{stamp}.log")))
}

/// Completes the task with its landing record, under the lock.
fn record(
    ws: &Workspace,
    actor: &Actor,
    id: &str,
    branch: &str,
    commit: git2::Oid,
    verified: Option<&Verified>,
) -> Result<()> {
    let mut txn = ws.begin(Some(actor))?;
    let i = txn
        .plan
        .find(id)
        .ok_or_else(|| anyhow!("task {id} left the plan while it landed on {branch}"))?;
    let landed = json!({
        "commit": commit.to_string(),
        "branch": branch,
        "verifiedBy": verified.map(|v| v.command.clone()),
        "exitCode": verified.and_then(|v| v.exit_code),
        "durationMs": verified.map(|v| v.duration.as_millis() as u64),
        "log": verified.map(|v| v.log.display().to_string()),
        "at": crate::registry::model::format_time(txn.now()),
    });
    match txn.holder(i) {
        Some(h) if h != actor.id => {
            let h = h.to_string();
            txn.commit()?;
            bail!(
                "task {id} landed on {branch} at {}, but it is now claimed by {h}; it was left to them",
                short(commit)
            );
        }
        _ => {}
    }
    if txn.plan.tasks[i].status == Status::Reviewed {
        return txn.commit();
    }
    txn.land(
        i,
        landed,
        Some(&actor.id),
        format!("landed on {branch} at {}", commit),
    );
    txn.commit()
        .context("the task landed, but the plan could not record it")
}
