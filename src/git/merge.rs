//! Merging a branch into another locally, all or nothing: a conflict changes nothing.

use super::{signature, worktree};
use anyhow::{anyhow, bail, Context, Result};
use git2::{build::CheckoutBuilder, BranchType, Oid, Repository};
use std::path::{Path, PathBuf};

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
///
/// `intent` is a file where the merge says it is under way (which process, which ref) while
/// it holds the base's ref lock: a merge killed with the lock held leaves `<ref>.lock` behind,
/// and the next merge, finding the intent of a process that is gone, knows that lock for its
/// own and removes it. (Any other stale lock is a person's to remove, and the error says how.)
pub fn merge_into(repo: &Repository, branch: &str, base: &str, intent: &Path) -> Result<Merged> {
    let refname = format!("refs/heads/{base}");
    clear_dead_intent(repo, intent)?;
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
    // the ref cannot fail to follow (a commit made meanwhile): either both change or neither.
    // The locks this merge takes: the base's ref, and the index of the worktree where the base
    // is checked out (its checkout writes it).
    let checked_out = worktree::checked_out_at(repo, base);
    let ref_lock = repo.path().join(format!("{refname}.lock"));
    let mut locks = vec![ref_lock.clone()];
    if let Some(path) = &checked_out {
        if let Ok(wt) = Repository::open(path) {
            locks.push(wt.path().join("index.lock"));
        }
    }
    let intended = Intent {
        pid: std::process::id(),
        pid_start: crate::registry::liveness::process_start(std::process::id()),
        locks,
    };
    crate::atomic::write_json(intent, &intended)
        .with_context(|| format!("{}: cannot record the merge", intent.display()))?;
    let mut tx = repo.transaction()?;
    tx.lock_ref(&refname).map_err(|e| {
        let _ = std::fs::remove_file(intent);
        anyhow!(
            "cannot lock {base}: {}; if no git command is running, {} is stale: remove it (rm {}) and run this again — nothing was changed",
            e.message(),
            ref_lock.display(),
            ref_lock.display()
        )
    })?;
    // Whatever happens now, the lock goes with `tx`, which the closure owns (a commit renames
    // it into place, a drop unlocks); only a killed process leaves it, and the intent with it.
    let moved = (move || -> Result<()> {
        if tip_of(repo, base)? != base_tip {
            bail!("{base} changed while merging; run complete again — nothing was changed");
        }
        if let Some(path) = checked_out {
            let wt = Repository::open(&path)
                .with_context(|| format!("{}: cannot open the worktree", path.display()))?;
            // The tree must come from the repository object that checks it out.
            let tree = wt.find_commit(new)?.tree()?;
            checkout_losing_nothing(&wt, &tree).map_err(|e| {
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
            .with_context(|| format!("cannot move {base} to the merge"))
    })();
    let _ = std::fs::remove_file(intent);
    moved?;
    Ok(if fast_forward {
        Merged::FastForward(new)
    } else {
        Merged::Commit(new)
    })
}

/// Checks `tree` out in `wt` safely: local changes that would be overwritten stop it, unless
/// a file already is what the tree has (what a merge cut short leaves): those are taken as
/// they are, and the rest is checked out safely, so running the merge again finishes it.
fn checkout_losing_nothing(wt: &Repository, tree: &git2::Tree<'_>) -> Result<(), git2::Error> {
    let mut conflicts: Vec<PathBuf> = Vec::new();
    let first = {
        let mut safe = CheckoutBuilder::new();
        safe.safe()
            .notify_on(git2::CheckoutNotificationType::CONFLICT)
            .notify(|_, path, _, _, _| {
                conflicts.extend(path.map(Path::to_path_buf));
                true
            });
        wt.checkout_tree(tree.as_object(), Some(&mut safe))
    };
    let Some(workdir) = wt.workdir() else {
        return first;
    };
    if first.is_ok() || conflicts.is_empty() {
        return first;
    }
    let as_in_tree = |path: &Path| -> bool {
        let blob = tree
            .get_path(path)
            .and_then(|e| e.to_object(wt))
            .and_then(|o| o.peel_to_blob());
        matches!((blob, std::fs::read(workdir.join(path))), (Ok(b), Ok(bytes)) if b.content() == bytes)
    };
    if !conflicts.iter().all(|p| as_in_tree(p)) {
        return first;
    }
    // Every path the checkout changes, but those already as the tree has them, safely; then
    // those, as they are (their content is the tree's: nothing is lost).
    let head = wt.head()?.peel_to_tree()?;
    let diff = wt.diff_tree_to_tree(Some(&head), Some(tree), None)?;
    let rest: Vec<PathBuf> = diff
        .deltas()
        .filter_map(|d| {
            d.new_file()
                .path()
                .or(d.old_file().path())
                .map(Path::to_path_buf)
        })
        .filter(|p| !conflicts.contains(p))
        .collect();
    if !rest.is_empty() {
        let mut safe = CheckoutBuilder::new();
        safe.safe().disable_pathspec_match(true);
        rest.iter().for_each(|p| {
            safe.path(p);
        });
        wt.checkout_tree(tree.as_object(), Some(&mut safe))?;
    }
    let mut take = CheckoutBuilder::new();
    take.force().disable_pathspec_match(true);
    conflicts.iter().for_each(|p| {
        take.path(p);
    });
    wt.checkout_tree(tree.as_object(), Some(&mut take))
}

/// A merge under way: its process, and the lock files it takes.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Intent {
    pid: u32,
    pid_start: Option<u64>,
    locks: Vec<PathBuf>,
}

/// Removes the intent of a merge whose process is gone, and the ref lock it left (only a lock
/// under this repository's git dir).
fn clear_dead_intent(repo: &Repository, intent: &Path) -> Result<()> {
    let Ok(text) = std::fs::read_to_string(intent) else {
        return Ok(());
    };
    let Ok(found) = serde_json::from_str::<Intent>(&text) else {
        return Ok(std::fs::remove_file(intent)?);
    };
    let now = crate::registry::liveness::process_start(found.pid);
    let alive = now.is_some() && (found.pid_start.is_none() || now == found.pid_start);
    if alive {
        bail!(
            "another merge is under way (pid {}); wait for it, then run this again",
            found.pid
        );
    }
    // Only lock files in git dirs of this repository, made since the merge began (one that
    // was there before would have stopped it): a killed merge leaves them, and while they are
    // there no other git command can take them.
    let since = std::fs::metadata(intent).and_then(|m| m.modified()).ok();
    let common = repo.commondir().to_path_buf();
    for lock in &found.locks {
        let ours = lock.starts_with(&common) && lock.extension().is_some_and(|x| x == "lock");
        let made = std::fs::metadata(lock).and_then(|m| m.modified()).ok();
        if !ours || made.is_none() || made < since {
            continue;
        }
        std::fs::remove_file(lock)
            .with_context(|| format!("{}: cannot remove the stale lock", lock.display()))?;
        eprintln!(
            "swarm: removed {}, left by an interrupted merge (pid {})",
            lock.display(),
            found.pid
        );
    }
    Ok(std::fs::remove_file(intent)?)
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
