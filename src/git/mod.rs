//! Git work through libgit2: worktrees and branches, safety checks before removal, local merges.

pub mod conflicts;
pub mod integrate;
pub mod leftovers;
pub mod merge;
pub mod safety;
pub mod worktree;

use anyhow::{anyhow, bail, Context, Result};
use git2::{Oid, Repository, Signature};
use std::path::Path;

/// Opens the repository whose main worktree is `main_root`.
pub fn open(main_root: &Path) -> Result<Repository> {
    Repository::open(main_root)
        .with_context(|| format!("{}: cannot open the git repository", main_root.display()))
}

/// The commit a revision (branch, tag, `HEAD`, hash) names.
pub fn resolve(repo: &Repository, rev: &str) -> Result<Oid> {
    let obj = repo
        .revparse_single(rev)
        .map_err(|e| anyhow!("cannot resolve {rev:?} to a commit: {}", e.message()))?;
    let commit = obj
        .peel_to_commit()
        .map_err(|_| anyhow!("{rev:?} does not name a commit"))?;
    Ok(commit.id())
}

/// The branch checked out in the main worktree (`main`), or `None` when HEAD is detached or
/// the repository has no commit yet.
pub fn head_branch(repo: &Repository) -> Option<String> {
    let head = repo.head().ok()?;
    if !head.is_branch() {
        return None;
    }
    head.shorthand().ok().map(str::to_string)
}

/// The tip of local branch `name`, when it exists.
pub fn branch_tip(repo: &Repository, name: &str) -> Option<Oid> {
    let branch = repo.find_branch(name, git2::BranchType::Local).ok()?;
    branch.get().target()
}

/// The base a new branch starts from: `base` when given, else the main worktree's HEAD.
pub fn base_commit(repo: &Repository, base: Option<&str>) -> Result<Oid> {
    match base {
        Some(rev) => resolve(repo, rev),
        None => match repo.head() {
            Ok(head) => Ok(head.peel_to_commit()?.id()),
            Err(_) => bail!(
                "{}: the repository has no commit yet; commit something first (new branches start from HEAD)",
                repo.path().display()
            ),
        },
    }
}

/// Who signs the commits swarm itself makes (merges): git's `user.name`/`user.email`, else
/// `GIT_COMMITTER_*`, else a plain "swarm".
pub fn signature(repo: &Repository) -> Result<Signature<'static>> {
    if let Ok(sig) = repo.signature() {
        return Ok(sig);
    }
    let name = std::env::var("GIT_COMMITTER_NAME").unwrap_or_else(|_| "swarm".into());
    let email = std::env::var("GIT_COMMITTER_EMAIL").unwrap_or_else(|_| "swarm@localhost".into());
    Ok(Signature::now(&name, &email)?)
}

/// The strings of a libgit2 string array (worktree names, remote names).
pub fn strings(arr: &git2::string_array::StringArray) -> Vec<String> {
    arr.iter()
        .filter_map(|r| r.ok().flatten().map(str::to_string))
        .collect()
}

/// Short form of a commit id, for messages.
pub fn short(oid: Oid) -> String {
    let s = oid.to_string();
    s[..s.len().min(9)].to_string()
}
