//! The integration branch: creating it, bringing it into an agent's worktree (through the
//! user's own `git merge`, with its hooks and settings), and moving it with a compare-and-swap.

use super::short;
use anyhow::{anyhow, bail, Context, Result};
use git2::{ErrorCode, Oid, Repository};
use std::path::Path;
use std::process::Command;

/// Creates branch `name` at `base` when it does not exist; true when it was created.
pub fn ensure_branch(repo: &Repository, name: &str, base: Oid) -> Result<bool> {
    crate::ids::check_branch_name(name)?;
    if super::branch_tip(repo, name).is_some() {
        return Ok(false);
    }
    let commit = repo.find_commit(base)?;
    match repo.branch(name, &commit, false) {
        Ok(_) => Ok(true),
        // Made by another setup a moment ago.
        Err(e) if e.code() == ErrorCode::Exists => Ok(false),
        Err(e) => Err(anyhow!("cannot create branch {name}: {}", e.message())),
    }
}

/// Refuses an integration branch that some worktree has checked out: landing moves the ref,
/// and that worktree's index would then show the landed work as undone.
pub fn refuse_checked_out(repo: &Repository, name: &str) -> Result<()> {
    if let Some(at) = super::worktree::checked_out_at(repo, name) {
        bail!(
            "the integration branch {name} is checked out in {}; landing moves it, which would leave that worktree showing the landed work as undone: check out another branch there (or name another integration branch in coordination.integration.branch; the default is swarm/<project>)",
            at.display()
        );
    }
    Ok(())
}

/// What bringing the integration branch into a worktree did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BroughtIn {
    /// The worktree's branch already contained it.
    Already,
    /// Its branch was moved forward to the integration tip.
    FastForward,
    /// A merge commit was made.
    Merged(Oid),
    /// The merge conflicts in these files; with `keep`, it is left in progress, else undone.
    Conflict(Vec<String>),
}

/// Brings commit `tip` (the integration branch's) into the branch checked out at `worktree`:
/// nothing when it is there already, a fast-forward when possible, else a merge. A merge that
/// conflicts is undone (the worktree as it was) unless `keep`, which leaves it in progress for
/// the agent to resolve. The worktree must be clean (checked by the caller).
pub fn bring_in(worktree: &Path, tip: Oid, label: &str, keep: bool) -> Result<BroughtIn> {
    let wt = Repository::open(worktree)
        .with_context(|| format!("{}: cannot open the worktree", worktree.display()))?;
    let head = wt
        .head()
        .ok()
        .and_then(|h| h.target())
        .ok_or_else(|| anyhow!("{}: HEAD names no commit", worktree.display()))?;
    if head == tip || wt.graph_descendant_of(head, tip)? {
        return Ok(BroughtIn::Already);
    }
    let fast_forward = wt.graph_descendant_of(tip, head)?;
    let message = format!("Merge {label} ({}) into this branch", short(tip));
    let out = git(worktree)
        .args(["merge", "--no-edit", "--quiet", "-m", &message])
        .arg(tip.to_string())
        .output()
        .context("cannot run git merge (is git on PATH?)")?;
    if out.status.success() {
        let now = Repository::open(worktree)?
            .head()?
            .target()
            .ok_or_else(|| anyhow!("HEAD names no commit after the merge"))?;
        return Ok(match fast_forward && now == tip {
            true => BroughtIn::FastForward,
            false => BroughtIn::Merged(now),
        });
    }
    let files = conflicted(worktree)?;
    let in_progress = wt.path().join("MERGE_HEAD").exists();
    if !files.is_empty() {
        if !keep && in_progress {
            abort_merge(worktree)?;
        }
        return Ok(BroughtIn::Conflict(files));
    }
    if in_progress {
        abort_merge(worktree)?;
    }
    bail!(
        "git merge of {label} ({}) in {} failed: {}",
        short(tip),
        worktree.display(),
        String::from_utf8_lossy(&out.stderr).trim()
    )
}

/// Moves branch `name` from `expected` to `new`, only if it still points at `expected` (the
/// reference is locked while it is compared). False when it moved meanwhile.
pub fn compare_and_swap(
    repo: &Repository,
    name: &str,
    new: Oid,
    expected: Oid,
    why: &str,
) -> Result<bool> {
    if new == expected {
        return Ok(super::branch_tip(repo, name) == Some(expected));
    }
    let refname = format!("refs/heads/{name}");
    match repo.reference_matching(&refname, new, true, expected, why) {
        Ok(_) => Ok(true),
        Err(e) if matches!(e.code(), ErrorCode::Modified | ErrorCode::Locked) => Ok(false),
        Err(e) => Err(anyhow!(
            "cannot move {name} to {}: {}",
            short(new),
            e.message()
        )),
    }
}

/// The files with unresolved conflicts in the worktree at `worktree`.
fn conflicted(worktree: &Path) -> Result<Vec<String>> {
    let out = git(worktree)
        .args(["diff", "--name-only", "--diff-filter=U", "-z"])
        .output()
        .context("cannot run git diff")?;
    Ok(out
        .stdout
        .split(|&b| b == 0)
        .filter(|f| !f.is_empty())
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect())
}

fn abort_merge(worktree: &Path) -> Result<()> {
    let out = git(worktree).args(["merge", "--abort"]).output()?;
    if !out.status.success() {
        bail!(
            "the merge in {} could not be undone: {}; run `git -C {} merge --abort`",
            worktree.display(),
            String::from_utf8_lossy(&out.stderr).trim(),
            worktree.display()
        );
    }
    Ok(())
}

/// `git -C worktree` with no editor and no environment that points git elsewhere.
fn git(worktree: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("-C")
        .arg(worktree)
        .env("GIT_MERGE_AUTOEDIT", "no")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .stdin(std::process::Stdio::null());
    // A merge commit needs an identity: the one swarm signs its own merges with when git
    // has none configured.
    let configured = Repository::open(worktree).is_ok_and(|r| r.signature().is_ok());
    if !configured {
        let name = std::env::var("GIT_COMMITTER_NAME").unwrap_or_else(|_| "swarm".into());
        let email =
            std::env::var("GIT_COMMITTER_EMAIL").unwrap_or_else(|_| "swarm@localhost".into());
        for (key, value) in [
            ("GIT_AUTHOR_NAME", &name),
            ("GIT_AUTHOR_EMAIL", &email),
            ("GIT_COMMITTER_NAME", &name),
            ("GIT_COMMITTER_EMAIL", &email),
        ] {
            if std::env::var_os(key).is_none() {
                cmd.env(key, value);
            }
        }
    }
    cmd
}
