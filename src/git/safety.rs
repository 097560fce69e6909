//! What removing a worktree would lose: uncommitted files, and commits no other ref keeps.

use super::short;
use anyhow::{Context, Result};
use git2::{Oid, Repository, StatusOptions};
use std::path::Path;

/// Files in the worktree at `path` that differ from its HEAD, untracked ones included and
/// ignored ones not (a build directory must not make every worktree look dirty).
pub fn uncommitted(path: &Path) -> Result<Vec<String>> {
    let repo = Repository::open(path)
        .with_context(|| format!("{}: cannot open the worktree", path.display()))?;
    let mut opts = StatusOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false)
        .exclude_submodules(false);
    let statuses = repo
        .statuses(Some(&mut opts))
        .with_context(|| format!("{}: cannot read the worktree's status", path.display()))?;
    Ok(statuses
        .iter()
        .map(|e| {
            let what = if e.status().is_wt_new() {
                "untracked"
            } else if e.status().is_wt_deleted() || e.status().is_index_deleted() {
                "deleted"
            } else if e.status().is_index_new() {
                "added"
            } else {
                "modified"
            };
            format!("{} ({what})", e.path().unwrap_or("?"))
        })
        .collect())
}

/// Submodules checked out in the linked worktree at `path` whose repositories live in the
/// worktree's own git dir (`.git/worktrees/<name>/modules/<submodule>`): removing the worktree
/// deletes them, with any commit made only there. (`git worktree remove` refuses such
/// worktrees outright.)
pub fn submodule_repos(path: &Path) -> Result<Vec<String>> {
    let repo = Repository::open(path)
        .with_context(|| format!("{}: cannot open the worktree", path.display()))?;
    if !repo.is_worktree() {
        return Ok(Vec::new());
    }
    let Ok(entries) = std::fs::read_dir(repo.path().join("modules")) else {
        return Ok(Vec::new());
    };
    let mut names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names)
}

/// Commits reachable from `tip` but from none of `kept` ("<hash> <subject>", newest first).
pub fn commits_only_in(repo: &Repository, tip: Oid, kept: &[Oid]) -> Result<Vec<String>> {
    let mut walk = repo.revwalk()?;
    walk.push(tip)?;
    for k in kept {
        walk.hide(*k)?;
    }
    let mut out = Vec::new();
    for oid in walk {
        let oid = oid?;
        let commit = repo.find_commit(oid)?;
        out.push(format!(
            "{} {}",
            short(oid),
            commit.summary().ok().flatten().unwrap_or("")
        ));
    }
    Ok(out)
}

/// The tips of `refs/remotes/<remote>/<branch>` for every remote: where the branch was pushed.
pub fn pushed_tips(repo: &Repository, branch: &str) -> Vec<Oid> {
    let Ok(remotes) = repo.remotes() else {
        return Vec::new();
    };
    super::strings(&remotes)
        .into_iter()
        .filter_map(|r| {
            repo.find_reference(&format!("refs/remotes/{r}/{branch}"))
                .ok()?
                .target()
        })
        .collect()
}

/// Whether `tip` is contained in `base` (equal, or an ancestor of it).
pub fn is_merged(repo: &Repository, tip: Oid, base: Oid) -> bool {
    tip == base || repo.graph_descendant_of(base, tip).unwrap_or(false)
}
