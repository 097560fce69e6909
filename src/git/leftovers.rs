//! What a headless run leaves in its worktree, put where it belongs before the next task
//! starts there. This goes through the user's own `git` (as pushes do): it knows to leave a
//! repository cloned inside the worktree alone, where libgit2's stash would delete it.

use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Result<std::process::Output> {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .context("cannot run git")
}

/// Runs git in `dir` and returns its trimmed output; a failure is an error with git's words.
fn run(dir: &Path, args: &[&str]) -> Result<String> {
    let out = git(dir, args)?;
    if !out.status.success() {
        bail!(
            "git {} failed in {}: {}",
            args.first().copied().unwrap_or_default(),
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The commit checked out in the worktree at `dir`.
pub fn head(dir: &Path) -> Result<String> {
    run(dir, &["rev-parse", "--verify", "HEAD"])
}

/// The branch checked out in the worktree at `dir` (an error on a detached HEAD).
pub fn branch(dir: &Path) -> Result<String> {
    run(dir, &["symbolic-ref", "--short", "-q", "HEAD"])
}

/// Commits everything the worktree at `dir` has uncommitted — untracked files too; ignored
/// files and repositories cloned inside it not — on its branch, with `message`. Returns the
/// new commit (short), or `None` when there was nothing to commit.
pub fn commit(dir: &Path, message: &str) -> Result<Option<String>> {
    // Every untracked file by name; a repository inside shows as its directory ("lib/").
    let status = run(
        dir,
        &["status", "--porcelain", "-z", "--untracked-files=all"],
    )?;
    if status.is_empty() {
        return Ok(None);
    }
    // An untracked directory with its own .git is another repository: leave it out (git would
    // add it as a bare gitlink, and its files would not be in the commit anyway).
    let mut args = vec!["add".to_string(), "-A".into(), "--".into(), ".".into()];
    for entry in status.split('\0') {
        if let Some(path) = entry.strip_prefix("?? ") {
            if path.ends_with('/') && dir.join(path).join(".git").exists() {
                args.push(format!(":(exclude,literal){}", path.trim_end_matches('/')));
            }
        }
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(dir, &args)?;
    if git(dir, &["diff", "--cached", "--quiet"])?.status.success() {
        return Ok(None); // nothing that git would commit (a dirty submodule's insides, say)
    }
    let mut commit: Vec<&str> = Vec::new();
    // Without an identity git refuses to commit; swarm then signs as itself.
    if run(dir, &["config", "user.email"]).is_err() {
        commit.extend(["-c", "user.name=swarm", "-c", "user.email=swarm@localhost"]);
    }
    commit.extend(["commit", "-q", "--no-verify", "-m", message]);
    run(dir, &commit)?;
    run(dir, &["rev-parse", "--short", "HEAD"]).map(Some)
}

/// After a failed attempt that started at commit `start`: what it committed and what it left
/// uncommitted go to a new branch `aside`, and the worktree's branch goes back to `start`, so
/// the next task there starts without them. Returns the branch, or `None` when the attempt
/// left nothing.
pub fn set_aside(dir: &Path, start: &str, aside: &str, message: &str) -> Result<Option<String>> {
    commit(dir, message)?;
    if head(dir)? == start {
        return Ok(None);
    }
    run(dir, &["branch", aside, "HEAD"])?;
    run(dir, &["reset", "-q", "--hard", start])?;
    Ok(Some(aside.to_string()))
}
