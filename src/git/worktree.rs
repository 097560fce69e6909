//! Linked worktrees: find, add (with their branch), undo an add, remove.

use super::short;
use crate::ids;
use anyhow::{anyhow, bail, Context, Result};
use git2::{BranchType, Oid, Repository, WorktreeAddOptions, WorktreePruneOptions};
use std::path::{Path, PathBuf};

/// A worktree that `add` made or found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    /// Where it is.
    pub path: PathBuf,
    /// The branch checked out in it.
    pub branch: String,
    /// Whether the branch was created (else it existed and was reused).
    pub created_branch: bool,
    /// Whether the worktree was created (else one was already there and is kept).
    pub created_worktree: bool,
    /// The commit the branch pointed at when the worktree was made.
    pub tip: Oid,
}

/// The name under `.git/worktrees/` of the linked worktree at `path`, if there is one.
pub fn find(repo: &Repository, path: &Path) -> Option<String> {
    let want = normalize(path);
    let names = repo.worktrees().ok()?;
    super::strings(&names).into_iter().find(|name| {
        repo.find_worktree(name)
            .is_ok_and(|wt| normalize(wt.path()) == want)
    })
}

/// The path of every linked worktree, by name.
pub fn list(repo: &Repository) -> Vec<(String, PathBuf)> {
    let Ok(names) = repo.worktrees() else {
        return Vec::new();
    };
    super::strings(&names)
        .into_iter()
        .filter_map(|n| {
            let path = repo.find_worktree(&n).ok()?.path().to_path_buf();
            Some((n, path))
        })
        .collect()
}

/// Makes a worktree at `path` on `branch` (created at `base` when it does not exist). A
/// worktree of this repository already at `path` is kept as it is.
pub fn add(repo: &Repository, name: &str, path: &Path, branch: &str, base: Oid) -> Result<Added> {
    ids::check_branch_name(branch)?;
    ids::check_agent_id(name).context("the worktree name")?;
    // A worktree folder deleted by hand leaves an entry in .git/worktrees that git itself
    // would prune: prune it (a locked one is kept) and make the worktree anew.
    if !path.exists() {
        prune_stale_at(repo, path);
    }
    if find(repo, path).is_some() {
        let wt_repo = Repository::open(path)
            .with_context(|| format!("{}: cannot open the existing worktree", path.display()))?;
        let head = wt_repo.head().ok();
        let on = head
            .as_ref()
            .and_then(|h| h.shorthand().ok())
            .unwrap_or("HEAD");
        let tip = head.as_ref().and_then(|h| h.target()).unwrap_or(base);
        return Ok(Added {
            path: path.to_path_buf(),
            branch: on.to_string(),
            created_branch: false,
            created_worktree: false,
            tip,
        });
    }
    if path.exists() {
        bail!(
            "{}: already exists and is not a worktree of this repository; move it away or choose another path",
            path.display()
        );
    }
    if !path.parent().is_some_and(Path::is_dir) {
        bail!("{}: its parent directory does not exist", path.display());
    }
    let (reference, created_branch, tip) = match repo.find_branch(branch, BranchType::Local) {
        Ok(b) => {
            let tip = b
                .get()
                .target()
                .ok_or_else(|| anyhow!("branch {branch} points at no commit"))?;
            if let Some(elsewhere) = checked_out_at(repo, branch) {
                bail!(
                    "branch {branch} is already checked out in {}; a branch can be checked out in one worktree only",
                    elsewhere.display()
                );
            }
            if tip != base && super::safety::is_merged(repo, tip, base) {
                // Every commit of it is in the base already (an earlier `complete --merge`):
                // it starts again from the base, which has what the new work builds on, and
                // loses nothing.
                let b = repo
                    .branch(branch, &repo.find_commit(base)?, true)
                    .with_context(|| format!("cannot move branch {branch} to {}", short(base)))?;
                (b.into_reference(), false, base)
            } else {
                (b.into_reference(), false, tip)
            }
        }
        Err(_) => {
            let commit = repo.find_commit(base)?;
            let b = repo
                .branch(branch, &commit, false)
                .with_context(|| format!("cannot create branch {branch}"))?;
            (b.into_reference(), true, base)
        }
    };
    let wt_name = free_name(repo, name)?;
    // libgit2 makes `.git/worktrees` with a plain mkdir and fails when another launch made it
    // a moment before (the first worktrees of a repository, launched together): make it here,
    // where "already there" is fine.
    let admin = repo.commondir().join("worktrees");
    std::fs::create_dir_all(&admin)
        .with_context(|| format!("{}: cannot create", admin.display()))?;
    if let Err(e) = make(repo, &wt_name, path, branch, &reference) {
        // Leave nothing behind (the path did not exist, and the branch and the entry were
        // made for this worktree only), and say what could not be removed.
        let made_as = find(repo, path).unwrap_or(wt_name);
        let mut left = Vec::new();
        if path.exists() && std::fs::remove_dir_all(path).is_err() {
            left.push(format!("the half-made worktree {}", path.display()));
        }
        let entry = admin.join(&made_as);
        if entry.exists() && std::fs::remove_dir_all(&entry).is_err() {
            left.push(format!("its entry {}", entry.display()));
        }
        if created_branch && !delete_branch(repo, branch) {
            left.push(format!("the new branch {branch}"));
        }
        let left = match left.is_empty() {
            true => "nothing was left behind".to_string(),
            false => format!("left behind: {}", left.join(", ")),
        };
        bail!(
            "{}: cannot create the worktree (branch {branch} at {}): {}; {left}",
            path.display(),
            short(tip),
            e
        );
    }
    Ok(Added {
        path: path.to_path_buf(),
        branch: branch.to_string(),
        created_branch,
        created_worktree: true,
        tip,
    })
}

/// Makes the worktree at `path` with `branch` checked out: with the user's `git` (`git
/// worktree add`, which checks out a big tree faster than libgit2 — no attribute lookup per
/// file — and runs the repository's filters and `post-checkout` hook as a person's own
/// `git worktree add` would), or with libgit2 under the name `name` where there is no git.
/// Git names the entry under `.git/worktrees` after the folder.
fn make(
    repo: &Repository,
    name: &str,
    path: &Path,
    branch: &str,
    reference: &git2::Reference<'_>,
) -> std::result::Result<(), String> {
    // `git worktree add` reads every entry under .git/worktrees and fails on one that another
    // add is still writing ("failed to read .git/worktrees/…/commondir"): swarm's adds in one
    // repository go one at a time, under a lock beside those entries.
    let lock_path = repo.commondir().join("swarm-worktree-add.lock");
    let _lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .and_then(|f| f.lock().map(|()| f))
        .map_err(|e| format!("{}: cannot lock: {e}", lock_path.display()))?;
    let mut git = std::process::Command::new("git");
    match repo.workdir() {
        Some(dir) => git.arg("-C").arg(dir),
        None => git.arg("--git-dir").arg(repo.commondir()),
    };
    let out = git
        .args(["worktree", "add", "--quiet", "--"])
        .arg(path)
        .arg(branch)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .stdin(std::process::Stdio::null())
        .output();
    match out {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "git worktree add: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut opts = WorktreeAddOptions::new();
            opts.reference(Some(reference));
            repo.worktree(name, path, Some(&opts))
                .map(drop)
                .map_err(|e| e.message().to_string())
        }
        Err(e) => Err(format!("cannot run git: {e}")),
    }
}

/// Removes what `add` made, and only that (a worktree or branch that was already there
/// stays), when what it was made for failed before any work was done in it. Says what went,
/// one phrase each.
pub fn undo(repo: &Repository, added: &Added) -> Vec<String> {
    let mut undone = Vec::new();
    if added.created_worktree && remove(repo, &added.path).is_ok() {
        undone.push(format!(
            "the new worktree {} was removed",
            added.path.display()
        ));
    }
    if added.created_branch && delete_branch(repo, &added.branch) {
        undone.push(format!("the new branch {} was deleted", added.branch));
    }
    undone
}

/// Deletes local branch `branch`; whether it did.
pub fn delete_branch(repo: &Repository, branch: &str) -> bool {
    repo.find_branch(branch, BranchType::Local)
        .and_then(|mut b| b.delete())
        .is_ok()
}

/// Removes the linked worktree at `path` (its files and its entry under `.git/worktrees`).
/// Callers check first that nothing would be lost; this does not.
pub fn remove(repo: &Repository, path: &Path) -> Result<()> {
    let Some(name) = find(repo, path) else {
        bail!("{}: not a worktree of this repository", path.display());
    };
    let wt = repo.find_worktree(&name)?;
    let mut opts = WorktreePruneOptions::new();
    opts.valid(true).working_tree(true).locked(true);
    wt.prune(Some(&mut opts))
        .with_context(|| format!("{}: cannot remove the worktree", path.display()))?;
    if path.exists() {
        std::fs::remove_dir_all(path)
            .with_context(|| format!("{}: cannot remove the directory", path.display()))?;
    }
    Ok(())
}

/// Drops the entry of the worktree recorded at `path` when its directory is gone, as
/// `git worktree prune` would (a locked one is kept). Only that one: other worktrees whose
/// directory is missing may be on a drive that is not mounted, and are the user's to prune.
/// Returns whether an entry was dropped.
pub fn prune_stale_at(repo: &Repository, path: &Path) -> bool {
    if path.exists() {
        return false;
    }
    let Some(name) = find(repo, path) else {
        return false;
    };
    repo.find_worktree(&name)
        .is_ok_and(|wt| wt.prune(None).is_ok())
}

/// An entry under `.git/worktrees/` that is not a usable worktree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// Its name (for swarm's worktrees, the agent id).
    pub name: String,
    /// The entry's folder.
    pub admin: PathBuf,
    /// The worktree it points at, if it says.
    pub path: Option<PathBuf>,
    /// What is wrong with it.
    pub kind: BrokenKind,
}

/// What is wrong with a worktree entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokenKind {
    /// No `gitdir` file: git itself counts it invalid, and libgit2 then refuses to make any
    /// worktree ("already checked out").
    NoGitdir,
    /// Its worktree folder is gone (or on a drive that is not mounted).
    Gone,
    /// Its worktree was never finished: no `HEAD` or no `index` in the entry (a launch killed
    /// or out of disk while making it).
    HalfMade,
}

/// The entries under `.git/worktrees/` that are not usable worktrees (locked ones are left
/// out: someone said to keep them).
pub fn broken_entries(repo: &Repository) -> Vec<Broken> {
    let dir = repo.commondir().join("worktrees");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for admin in entries.flatten().map(|e| e.path()) {
        let name = admin
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !admin.is_dir() || admin.join("locked").exists() {
            continue;
        }
        let gitdir = std::fs::read_to_string(admin.join("gitdir")).ok();
        let path = gitdir
            .as_deref()
            .map(|g| PathBuf::from(g.trim()))
            .and_then(|dotgit| dotgit.parent().map(Path::to_path_buf));
        let kind = match &path {
            None => BrokenKind::NoGitdir,
            Some(p) if !p.exists() => BrokenKind::Gone,
            Some(_) if !admin.join("HEAD").is_file() || !admin.join("index").is_file() => {
                BrokenKind::HalfMade
            }
            Some(_) => continue,
        };
        out.push(Broken {
            name,
            admin,
            path,
            kind,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Removes a broken entry, and for a half-made worktree its folder too. Callers decide whose
/// entries may go (see `ops::cleanup`).
pub fn remove_broken(entry: &Broken) -> Result<()> {
    if entry.kind == BrokenKind::HalfMade {
        if let Some(path) = &entry.path {
            std::fs::remove_dir_all(path)
                .with_context(|| format!("{}: cannot remove", path.display()))?;
        }
    }
    std::fs::remove_dir_all(&entry.admin)
        .with_context(|| format!("{}: cannot remove", entry.admin.display()))
}

/// Where `branch` is checked out (main worktree or a linked one), if anywhere.
pub fn checked_out_at(repo: &Repository, branch: &str) -> Option<PathBuf> {
    let full = format!("refs/heads/{branch}");
    let head_of = |r: &Repository| -> Option<String> {
        let head = r.find_reference("HEAD").ok()?;
        head.symbolic_target().ok().flatten().map(str::to_string)
    };
    let main = if repo.is_worktree() {
        Repository::open(repo.commondir()).ok()
    } else {
        Repository::open(repo.path()).ok()
    };
    if let Some(main) = &main {
        if head_of(main).as_deref() == Some(full.as_str()) {
            return main.workdir().map(Path::to_path_buf);
        }
    }
    for (name, path) in list(main.as_ref().unwrap_or(repo)) {
        let Ok(wt) = repo.find_worktree(&name) else {
            continue;
        };
        let Ok(r) = Repository::open_from_worktree(&wt) else {
            continue;
        };
        if head_of(&r).as_deref() == Some(full.as_str()) {
            return Some(path);
        }
    }
    None
}

/// A worktree name not yet used under `.git/worktrees/` (a stale entry still takes its name).
fn free_name(repo: &Repository, name: &str) -> Result<String> {
    let taken: Vec<String> = list(repo).into_iter().map(|(n, _)| n).collect();
    let taken_dir = |n: &str| repo.commondir().join("worktrees").join(n).exists();
    (0..1000)
        .map(|i| match i {
            0 => name.to_string(),
            _ => format!("{name}-{i}"),
        })
        .find(|n| !taken.contains(n) && !taken_dir(n))
        .ok_or_else(|| anyhow!("no free worktree name for {name}"))
}

/// The worktree's own git folder (`.git/worktrees/<name>/` for a linked one), where swarm keeps
/// what it knows about that worktree.
pub fn own_git_dir(worktree: &Path) -> Result<PathBuf> {
    Repository::open(worktree)
        .map(|r| r.path().to_path_buf())
        .with_context(|| format!("{}: cannot open the worktree", worktree.display()))
}

/// Whether two paths name the same place (links resolved where they exist).
pub fn same_path(a: &Path, b: &Path) -> bool {
    normalize(a) == normalize(b)
}

fn normalize(path: &Path) -> PathBuf {
    let p = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    p.components().collect()
}
