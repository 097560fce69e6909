//! What a headless run leaves in its worktree, checked before the next task starts there.
//! This goes through the user's own `git` (as pushes do), which reports submodules, nested
//! repositories and renames the way the user sees them.

use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::{Command, Output};

fn git(dir: &Path, args: &[&str]) -> Result<Output> {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .context("cannot run git")
}

/// Runs git in `dir` and returns its output; a failure is an error with git's words.
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
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The commit checked out in the worktree at `dir`.
pub fn head(dir: &Path) -> Result<String> {
    Ok(run(dir, &["rev-parse", "--verify", "HEAD"])?
        .trim()
        .to_string())
}

/// The branch checked out in the worktree at `dir`; `None` on a detached HEAD.
pub fn branch(dir: &Path) -> Result<Option<String>> {
    let out = git(dir, &["symbolic-ref", "--short", "-q", "HEAD"])?;
    match out.status.code() {
        Some(0) => Ok(Some(
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
        )),
        Some(1) if out.stderr.is_empty() => Ok(None),
        _ => bail!(
            "git symbolic-ref failed in {}: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ),
    }
}

/// Whether the worktree's HEAD at `dir` contains commit `start`.
pub fn descends_from(dir: &Path, start: &str) -> Result<bool> {
    let out = git(dir, &["merge-base", "--is-ancestor", start, "HEAD"])?;
    match out.status.code() {
        Some(0) => Ok(true),
        Some(1) => Ok(false),
        _ => bail!(
            "git merge-base failed in {}: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ),
    }
}

/// What `git status` shows as changed in the worktree at `dir` (untracked files included,
/// ignored ones not), one entry per path as git prints it. Not `safety::uncommitted`
/// (libgit2): this guards a `git reset --hard`, so it asks the same git that will reset.
pub fn uncommitted(dir: &Path) -> Result<Vec<String>> {
    Ok(porcelain_paths(&run(
        dir,
        &["status", "--porcelain", "-z"],
    )?))
}

/// The paths of `git status --porcelain -z` output: `XY path` entries, where a rename or copy
/// (R or C in either column) is followed by its original path as a field of its own.
fn porcelain_paths(status: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fields = status.split('\0');
    while let Some(entry) = fields.next() {
        let (Some(xy), Some(path)) = (entry.get(..2), entry.get(3..)) else {
            continue;
        };
        if !path.is_empty() {
            out.push(path.to_string());
        }
        if xy.contains(['R', 'C']) {
            fields.next();
        }
    }
    out
}

/// After a failed attempt that started at commit `start` and left a clean worktree: its
/// commits are kept on a new branch named after `aside` (with `-2`, `-3`… when taken), and
/// the worktree's branch goes back to `start`, so the next task there starts without them.
/// Returns the branch, or `None` when the attempt committed nothing. Refuses a worktree with
/// uncommitted changes: resetting it could lose them.
pub fn set_aside(dir: &Path, start: &str, aside: &str) -> Result<Option<String>> {
    if head(dir)? == start {
        return Ok(None);
    }
    if !uncommitted(dir)?.is_empty() {
        bail!(
            "{}: uncommitted changes; not moving the branch",
            dir.display()
        );
    }
    let mut name = aside.to_string();
    let mut n = 1;
    while git(
        dir,
        &["rev-parse", "--verify", "-q", &format!("refs/heads/{name}")],
    )?
    .status
    .success()
    {
        n += 1;
        name = format!("{aside}-{n}");
    }
    run(dir, &["branch", &name, "HEAD"])?;
    run(dir, &["reset", "-q", "--hard", start]).with_context(|| {
        format!("the attempt's commits are also on branch {name}; the worktree's branch was not moved back")
    })?;
    Ok(Some(name))
}

#[cfg(test)]
mod tests {
    use super::porcelain_paths;

    #[test]
    fn porcelain_paths_skip_the_original_of_a_rename() {
        let status = "R  x.txt\0noé.txt\0 M a b.txt\0?? new/\0C  c2\0c1\0";
        assert_eq!(porcelain_paths(status), ["x.txt", "a b.txt", "new/", "c2"]);
        assert!(porcelain_paths("").is_empty());
    }
}
