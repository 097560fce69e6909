//! A launch that claims a task whose last attempt's agent died works on in that agent's
//! worktree when it is still there: what the attempt left (commits and uncommitted changes)
//! stays where it was, and the agent CLI's session, which Claude Code keeps per directory,
//! can be resumed there.

use crate::git;
use crate::store::Txn;
use std::path::PathBuf;

/// A dead agent's worktree that a new launch takes over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Takeover {
    /// The dead agent.
    pub from: String,
    /// Its worktree.
    pub worktree: PathBuf,
    /// Its branch (the task's `previousBranch`).
    pub branch: String,
    /// Its CLI's session, if one was recorded.
    pub session: Option<String>,
    /// Why its attempt ended (the task's `lastFailure`).
    pub why: String,
}

/// What a launch does about task `i`'s last attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// No dead agent's worktree to take over (no failed attempt, or its agent lives on).
    Nothing,
    /// The worktree is there: take it over.
    Take(Takeover),
    /// The dead agent's worktree cannot be taken over: the launch starts fresh. Why.
    Fresh(String),
}

/// Whether the agent's own process on this host is gone (not only its lease).
fn died_for_sure(entry: &crate::registry::AgentEntry) -> bool {
    use crate::registry::liveness::{by_process, host_name, Liveness};
    matches!(by_process(entry, &host_name()), Some(Liveness::Dead(_)))
}

/// Looks, under the lock, at the agent whose attempt at task `i` failed last.
pub fn find(txn: &Txn<'_>, repo: &git2::Repository, i: usize) -> Found {
    let plan = &txn.plan;
    let (Some(branch), Some(from)) = (
        plan.previous_branch(i),
        plan.field(i, "lastFailedAgent")
            .and_then(|v| v.as_str().map(str::to_string)),
    ) else {
        return Found::Nothing;
    };
    let from = from.as_str();
    let Some(entry) = txn.registry.agents.get(from) else {
        return Found::Nothing;
    };
    // An agent that lives on (a supervisor that gave the task up) keeps its worktree; one
    // whose attempt's commits were set aside on another branch left nothing here.
    if !entry.is_retired() || entry.branch.as_deref() != Some(branch.as_str()) {
        return Found::Nothing;
    }
    let Some(worktree) = entry.worktree.as_deref().map(PathBuf::from) else {
        return Found::Nothing;
    };
    let runs = plan.field(i, "runs");
    let session = entry.session_id.clone().or_else(|| {
        runs.as_ref()?.as_array()?.iter().rev().find_map(|r| {
            (r.get("agent")?.as_str()? == from)
                .then(|| r.get("sessionId")?.as_str().map(str::to_string))
                .flatten()
        })
    });
    let shown = worktree.display();
    let fresh = |why: String| {
        Found::Fresh(format!("the worktree {shown} of {from}, whose attempt did not finish, {why}; its commits are kept on {branch}"))
    };
    // Judged dead by its lease alone, the agent may still be working there: two agents in one
    // worktree would undo each other's work.
    if entry.state.as_deref() == Some("dead") && !died_for_sure(entry) {
        return fresh(
            "may still be in use: its agent had no process swarm could check, and was judged dead by its lease".into(),
        );
    }
    if !worktree.is_dir() {
        return fresh("is gone".into());
    }
    if git::worktree::find(repo, &worktree).is_none() {
        return fresh("is no longer a worktree of this repository".into());
    }
    let head = git2::Repository::open(&worktree)
        .ok()
        .and_then(|r| r.head().ok()?.shorthand().ok().map(str::to_string));
    if head.as_deref() != Some(branch.as_str()) {
        return fresh(format!(
            "has {} checked out now",
            head.as_deref().unwrap_or("no branch")
        ));
    }
    let same = |w: &Option<String>| {
        w.as_deref()
            .is_some_and(|w| git::worktree::same_path(std::path::Path::new(w), &worktree))
    };
    if let Some((user, _)) = txn
        .registry
        .agents
        .iter()
        .find(|(id, a)| *id != from && !a.is_retired() && same(&a.worktree))
    {
        return fresh(format!("is used by agent {user}"));
    }
    Found::Take(Takeover {
        from: from.to_string(),
        worktree,
        branch,
        session,
        why: plan
            .field(i, "lastFailure")
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "its agent stopped".into()),
    })
}
