//! What a run leaves in its worktree, checked before the next task starts there, and where
//! the next attempt of a task starts from.

use super::Ending;
use crate::agent::prompt::Previous;
use crate::ops::launch::{LaunchRequest, Launched};
use crate::ops::place::Place;
use crate::workspace::Workspace;
use anyhow::Result;

/// Where the first task of a launch that continued a previous attempt's branch goes back to if
/// it fails: it started on that attempt's commits, so to where they left the base line (their
/// merge base with it). `None` for any other launch: its tasks go back to where they started.
pub(super) fn continued_base(
    ws: &Workspace,
    req: &LaunchRequest,
    first: &Launched,
) -> Option<String> {
    if !(first.created_branch && matches!(first.previous, Some(Previous::Continues(_)))) {
        return None;
    }
    let repo = crate::git::open(&ws.main_root).ok()?;
    let base = crate::git::base_commit(&repo, req.base.as_deref()).ok()?;
    let tip = crate::git::branch_tip(&repo, &first.branch)?;
    repo.merge_base(tip, base).ok().map(|oid| oid.to_string())
}

/// What a run left in its worktree, and what was done with it.
pub(super) enum Tidied {
    /// Nothing to do (or the run was interrupted, and its worktree is left as it is).
    Nothing,
    /// Uncommitted changes, left where they are: the supervisor stops rather than start the
    /// next task on top of them (nothing is committed or thrown away on the agent's behalf).
    Dirty(Vec<String>),
    /// A failed attempt's commits were moved to this branch; the agent's branch went back to
    /// where the task started.
    SetAside(String),
}

/// Looks at what the run left, so the next task in this worktree starts from the agent's own
/// finished work only. An error leaves the worktree as it is.
pub(super) fn tidy(
    ending: &Ending,
    place: &Place,
    task: &str,
    start: Option<&str>,
) -> Result<Tidied> {
    use crate::git::leftovers;
    if matches!(ending, Ending::Interrupted(_)) {
        return Ok(Tidied::Nothing);
    }
    // Resets act on the checked-out branch: only ever on the agent's own.
    match leftovers::branch(&place.worktree)? {
        Some(b) if b == place.branch => {}
        on => anyhow::bail!(
            "the worktree is on {}, not on the agent's branch {}",
            on.unwrap_or_else(|| "a detached HEAD".into()),
            place.branch
        ),
    }
    // An agent that moved its branch back dropped commits the branch had (earlier tasks'):
    // they are in git's reflog, and a person should see this before anything else happens.
    if let Some(start) = start {
        if !leftovers::descends_from(&place.worktree, start)? {
            anyhow::bail!(
                "the branch no longer contains the commit it was at when {task} started ({}); see git reflog",
                &start[..start.len().min(10)]
            );
        }
    }
    let dirty = leftovers::uncommitted(&place.worktree)?;
    if !dirty.is_empty() {
        return Ok(Tidied::Dirty(dirty));
    }
    match (ending, start) {
        (Ending::Failed(_) | Ending::TimedOut, Some(start)) => {
            let aside = format!(
                "{}-attempt-{}",
                place.branch,
                chrono::Utc::now().timestamp()
            );
            Ok(leftovers::set_aside(&place.worktree, start, &aside)?
                .map_or(Tidied::Nothing, Tidied::SetAside))
        }
        (Ending::Failed(_) | Ending::TimedOut, None) => {
            anyhow::bail!("the worktree's HEAD was unknown when {task} started")
        }
        _ => Ok(Tidied::Nothing),
    }
}

/// A few of `files`, for a message.
pub(super) fn shorten(files: &[String]) -> String {
    let mut s = files.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    if files.len() > 5 {
        s.push_str(&format!(" and {} more", files.len() - 5));
    }
    s
}

/// How the previous attempt at the next task relates to the worktree's branch (which the
/// supervisor keeps: it is not moved to the previous attempt's commits).
pub(super) fn previous_in_worktree(
    ws: &Workspace,
    req: &LaunchRequest,
    place: &Place,
    previous: Option<&str>,
) -> Option<Previous> {
    let prev = previous.filter(|p| *p != place.branch)?;
    let repo = crate::git::open(&ws.main_root).ok()?;
    let base = crate::git::base_commit(&repo, req.base.as_deref()).ok()?;
    let tip = crate::git::branch_tip(&repo, &place.branch)?;
    super::launch::previous_work(&repo, base, Some(prev), tip)
}
