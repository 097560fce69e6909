//! What interrupted launches leave in git: worktree entries without a `gitdir` (which make
//! libgit2 refuse every new worktree), and swarm's own half-made or vanished worktrees. Run by
//! `launch`, `setup` and `recover`; a person's worktrees are never touched.

use crate::git::{self, worktree};
use crate::registry::liveness::{self, Liveness};
use crate::registry::Registry;
use chrono::{DateTime, Utc};
use git2::Repository;
use std::path::Path;

/// Removes what is broken and safe to remove; returns one line per thing removed or kept
/// with the reason, for people.
pub fn clean_worktrees(
    repo: &Repository,
    registry: &Registry,
    now: DateTime<Utc>,
    lease: chrono::Duration,
) -> Vec<String> {
    let host = liveness::host_name();
    let mut said = Vec::new();
    for entry in worktree::broken_entries(repo) {
        let owner = swarm_agent(registry, &entry.name).or_else(|| {
            // Made with git, the entry is named after the folder: the agent whose worktree
            // it is.
            let path = entry.path.as_deref()?;
            registry.agents.iter().find(|(_, a)| {
                a.worktree
                    .as_deref()
                    .is_some_and(|w| worktree::same_path(Path::new(w), path))
            })
        });
        let ours_and_dead = owner.is_some_and(|(_, a)| {
            a.is_retired()
                || matches!(
                    liveness::judge(a, None, &host, now, lease),
                    Liveness::Dead(_)
                )
        });
        // An entry being made right now (a launch or a `git worktree add` running beside this
        // one writes its gitdir a moment after the folder) is not broken yet.
        let young = std::fs::metadata(&entry.admin)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_none_or(|age| age < std::time::Duration::from_secs(30));
        if young || owner.is_some_and(|_| !ours_and_dead) {
            continue;
        }
        let what = match entry.kind {
            // Invalid for git itself (`git worktree prune` removes it), whoever made it.
            worktree::BrokenKind::NoGitdir => "the broken worktree entry",
            worktree::BrokenKind::Gone if ours_and_dead => "the entry of the vanished worktree",
            worktree::BrokenKind::HalfMade if ours_and_dead => "the half-made worktree",
            _ => continue,
        };
        let shown = entry.path.as_deref().map_or_else(
            || entry.admin.display().to_string(),
            |p| p.display().to_string(),
        );
        match worktree::remove_broken(&entry) {
            Ok(()) => said.push(format!("removed {what} {shown}")),
            Err(e) => said.push(format!("could not remove {what} {shown}: {e:#}")),
        }
        // A half-made worktree's branch holds no work when all of it is in HEAD.
        if let (worktree::BrokenKind::HalfMade, Some((_, agent))) = (entry.kind, owner) {
            let head = repo.head().ok().and_then(|h| h.target());
            if let (Some(branch), Some(head)) = (agent.branch.as_deref(), head) {
                let merged = git::branch_tip(repo, branch)
                    .is_some_and(|tip| git::safety::is_merged(repo, tip, head));
                if merged && git::worktree::delete_branch(repo, branch) {
                    said.push(format!("deleted its branch {branch}, which held no work"));
                }
            }
        }
    }
    said
}

/// The registry's agent whose worktree entry is named `name` (its id, or its id with the
/// `-N` that keeps worktree names unique).
fn swarm_agent<'r>(
    registry: &'r Registry,
    name: &str,
) -> Option<(&'r String, &'r crate::registry::AgentEntry)> {
    let base = match name.rsplit_once('-') {
        Some((base, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => Some(base),
        _ => None,
    };
    registry
        .agents
        .get_key_value(name)
        .or_else(|| base.and_then(|b| registry.agents.get_key_value(b)))
}
