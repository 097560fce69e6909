//! Merging a branch into another locally, all or nothing: a conflict changes nothing.

use super::{signature, worktree};
use anyhow::{anyhow, bail, Context, Result};
use git2::{build::CheckoutBuilder, BranchType, Oid, Repository};

/// How a merge went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Merged {
    /// The base already contained the branch.
    UpToDate,
    /// The base was moved forward to the branch's tip.
    FastForward(Oid),
    /// A merge commit was made on the base.
    Commit(Oid),
}

/// Merges local branch `branch` into local branch `base`. When `base` is checked out in a
/// worktree, that checkout is updated too, refusing (before changing anything) when local
/// changes there would be overwritten. A conflict is reported with its files and changes
/// nothing.
pub fn merge_into(repo: &Repository, branch: &str, base: &str) -> Result<Merged> {
    let tip = tip_of(repo, branch)?;
    let base_tip = tip_of(repo, base)?;
    if super::safety::is_merged(repo, tip, base_tip) {
        return Ok(Merged::UpToDate);
    }
    let fast_forward = repo.graph_descendant_of(tip, base_tip)?;
    let new = if fast_forward {
        tip
    } else {
        merge_commit(repo, branch, base, tip, base_tip)?
    };
    // The base's ref is locked first and seen unchanged, so that once its checkout is updated
    // the ref cannot fail to follow (a stale lock, a commit made meanwhile): either both
    // change or neither.
    let refname = format!("refs/heads/{base}");
    let mut tx = repo.transaction()?;
    tx.lock_ref(&refname).with_context(|| {
        format!("cannot lock {base} (is another git command running? a stale {refname}.lock?); nothing was changed")
    })?;
    if tip_of(repo, base)? != base_tip {
        bail!("{base} changed while merging; run complete again — nothing was changed");
    }
    let checked_out = worktree::checked_out_at(repo, base);
    if let Some(path) = &checked_out {
        let wt = Repository::open(path)
            .with_context(|| format!("{}: cannot open the worktree", path.display()))?;
        // The tree must come from the repository object that checks it out.
        let tree = wt.find_commit(new)?.tree()?;
        wt.checkout_tree(tree.as_object(), Some(CheckoutBuilder::new().safe()))
            .map_err(|e| {
                anyhow!(
                    "{}: local changes there would be overwritten by merging {branch} into {base} ({}); commit or stash them first — nothing was changed",
                    path.display(),
                    e.message()
                )
            })?;
    }
    let msg = format!("swarm: merge {branch} into {base}");
    tx.set_target(&refname, new, Some(&signature(repo)?), &msg)
        .and_then(|()| tx.commit())
        .with_context(|| format!("cannot move {base} to the merge"))?;
    Ok(if fast_forward {
        Merged::FastForward(new)
    } else {
        Merged::Commit(new)
    })
}

fn merge_commit(
    repo: &Repository,
    branch: &str,
    base: &str,
    tip: Oid,
    base_tip: Oid,
) -> Result<Oid> {
    let ours = repo.find_commit(base_tip)?;
    let theirs = repo.find_commit(tip)?;
    let mut index = repo
        .merge_commits(&ours, &theirs, None)
        .with_context(|| format!("cannot merge {branch} into {base}"))?;
    if index.has_conflicts() {
        let files: Vec<String> = index
            .conflicts()?
            .filter_map(|c| c.ok())
            .filter_map(|c| {
                let entry = c.our.or(c.their).or(c.ancestor)?;
                Some(String::from_utf8_lossy(&entry.path).into_owned())
            })
            .collect();
        bail!(
            "merging {branch} into {base} conflicts in {}; nothing was changed — merge it by hand (git merge {branch}) or open a PR with --pr",
            files.join(", ")
        );
    }
    let tree_id = index.write_tree_to(repo)?;
    let tree = repo.find_tree(tree_id)?;
    let sig = signature(repo)?;
    let message = format!("Merge branch '{branch}' into {base}\n");
    let oid = repo.commit(None, &sig, &sig, &message, &tree, &[&ours, &theirs])?;
    Ok(oid)
}

fn tip_of(repo: &Repository, branch: &str) -> Result<Oid> {
    repo.find_branch(branch, BranchType::Local)
        .ok()
        .and_then(|b| b.get().target())
        .ok_or_else(|| anyhow!("no local branch {branch}"))
}
