//! Looking before acting: what `complete` finds (`Situation`), and the steps it would take,
//! refused before anything changes when work would be lost.

use super::{CompleteRequest, Delivery, Step};
use crate::git::{self, safety, worktree};
use crate::plan::Status;
use crate::workspace::Workspace;
use anyhow::{anyhow, bail, Result};
use git2::Repository;
use std::path::{Path, PathBuf};

/// Everything `complete` needs to know before acting.
pub(super) struct Situation {
    pub repo: Repository,
    pub running: Option<u32>,
    pub worktree: Option<PathBuf>,
    /// The worktree as recorded, whether or not its folder is still there (a vanished one's
    /// entry under `.git/worktrees` is pruned).
    pub recorded_worktree: Option<PathBuf>,
    pub branch: Option<String>,
    /// The recorded branch, when no such branch exists (renamed or deleted).
    pub missing_branch: Option<String>,
    pub base: Option<String>,
    pub held: Vec<String>,
    /// The agent's tasks that are completed (not yet reviewed).
    pub completed: Vec<String>,
    pub titles: Vec<(String, String)>,
    /// The plan's integration branch: what landed there is not lost with a worktree.
    pub integration: Option<String>,
}

/// Refuses when the worktree is locked (`git worktree lock`), or has something other than the
/// recorded branch checked out (a detached HEAD, another branch): the checks of what would be
/// lost look at the recorded branch, so commits made elsewhere would go with the worktree.
pub(super) fn checked_out_as_recorded(
    repo: &Repository,
    path: &Path,
    branch: Option<&str>,
) -> Result<()> {
    if let Some(name) = worktree::find(repo, path) {
        if let Ok(wt) = repo.find_worktree(&name) {
            if let Ok(git2::WorktreeLockStatus::Locked(reason)) = wt.is_locked() {
                bail!(
                    "{}: the worktree is locked{}; unlock it (git worktree unlock) or pass --force; nothing was changed",
                    path.display(),
                    reason.map(|r| format!(" ({})", r.trim())).unwrap_or_default()
                );
            }
        }
    }
    let Ok(wt_repo) = Repository::open(path) else {
        return Ok(());
    };
    let head = git::head_branch(&wt_repo);
    match (head.as_deref(), branch) {
        (None, _) => bail!(
            "{}: HEAD is detached; commits made there are on no branch and would be lost with the worktree; check out a branch (or pass --force); nothing was changed",
            path.display()
        ),
        (Some(h), Some(b)) if h != b => bail!(
            "{}: branch {h} is checked out, not the agent's branch {b}; complete looks after {b} only; switch back (or pass --force); nothing was changed",
            path.display()
        ),
        _ => Ok(()),
    }
}

pub(super) fn situation(ws: &Workspace, req: &CompleteRequest) -> Result<Situation> {
    let (plan, registry) = ws.snapshot()?;
    let entry = registry.agents.get(&req.agent);
    let (worktree, branch) = match (entry, plan.agent_spec(&req.agent)) {
        (Some(e), _) if e.worktree.is_some() || e.branch.is_some() => {
            (e.worktree.as_ref().map(PathBuf::from), e.branch.clone())
        }
        (_, Some(_)) => {
            let place = crate::ops::place::Place::preassigned(ws, &plan, &req.agent)?;
            (Some(place.worktree), Some(place.branch))
        }
        (Some(_), None) => (None, None),
        (None, None) => bail!(
            "no agent {:?} in {} or in the plan's coordination.agents (see `swarm agents --all`)",
            req.agent,
            ws.registry_path().display()
        ),
    };
    // A process of the agent still running in the worktree (a pid on this host that is alive).
    let host = crate::registry::liveness::host_name();
    let running = entry.filter(|e| !e.is_retired()).and_then(|e| {
        let pid = e.pid?;
        let here = e.host.as_deref() == Some(host.as_str());
        let verdict =
            crate::registry::liveness::judge(e, None, &host, chrono::Utc::now(), ws.settings.lease);
        (here && verdict == crate::registry::liveness::Liveness::Alive).then_some(pid)
    });
    let held = registry.held_by(&req.agent);
    let mine = |t: &&crate::plan::Task| t.agent.as_deref() == Some(req.agent.as_str());
    let completed = plan
        .tasks
        .iter()
        .filter(mine)
        .filter(|t| t.status == Status::Completed)
        .map(|t| t.id.clone())
        .collect();
    let titles = plan
        .tasks
        .iter()
        .filter(mine)
        .filter(|t| t.status.is_done())
        .map(|t| (t.id.clone(), t.title.clone()))
        .collect();
    let repo = git::open(&ws.main_root)?;
    let base = req.base.clone().or_else(|| git::head_branch(&repo));
    let integration = ws.integration_branch(&plan);
    let (branch, missing_branch) = match branch {
        Some(b) if git::branch_tip(&repo, &b).is_none() => (None, Some(b)),
        b => (b, None),
    };
    Ok(Situation {
        repo,
        running,
        recorded_worktree: worktree.clone(),
        worktree: worktree.filter(|p| p.exists()),
        branch,
        missing_branch,
        base,
        held,
        completed,
        titles,
        integration,
    })
}

pub(super) fn steps(req: &CompleteRequest, sit: &Situation) -> Result<Vec<Step>> {
    let mut steps = Vec::new();
    if let (Some(pid), false) = (sit.running, req.force) {
        bail!(
            "agent {} is still running (pid {pid}); stop it first, or pass --force to clean up under it",
            req.agent
        );
    }
    if !sit.held.is_empty() {
        if !req.force {
            bail!(
                "agent {} still holds {} (in progress); let it finish, release with `swarm task release ID`, or pass --force to release and clean up",
                req.agent,
                sit.held.join(", ")
            );
        }
        steps.push(Step::Release(sit.held.clone()));
    }
    if let Some(path) = &sit.worktree {
        let dirty = safety::uncommitted(path)?;
        if !dirty.is_empty() && !req.force {
            bail!(
                "{}: the worktree has uncommitted changes that removing it would lose:\n  {}\ncommit them (or pass --force to throw them away); nothing was changed",
                path.display(),
                dirty.join("\n  ")
            );
        }
    }
    if let (Some(path), false) = (&sit.worktree, req.force) {
        checked_out_as_recorded(&sit.repo, path, sit.branch.as_deref())?;
        let modules = safety::submodule_repos(path)?;
        if !modules.is_empty() {
            bail!(
                "{}: submodules are checked out in the worktree ({}); their repositories live in the worktree's own git dir and would be deleted with it, with any commit made only there; push what they hold, then pass --force (git worktree remove refuses such worktrees too); nothing was changed",
                path.display(),
                modules.join(", ")
            );
        }
    }
    let remote = default_remote(&sit.repo);
    // A pull request by default, when one can be opened and the branch has something for it
    // (a branch with nothing new, merged by hand, say, would push a stray branch and make
    // `gh pr create` fail).
    let has_new_work = || {
        sit.branch.as_deref().is_some_and(|b| {
            unsaved(
                &sit.repo,
                b,
                sit.base.as_deref(),
                sit.integration.as_deref(),
            )
            .is_ok_and(|l| !l.is_empty())
        })
    };
    let delivery = match req.delivery {
        Some(d) => d,
        None if remote.is_some() && crate::agent::on_path("gh") && has_new_work() => Delivery::Pr,
        None => Delivery::Keep,
    };
    let base = || {
        sit.base
            .clone()
            .ok_or_else(|| anyhow!("the main worktree is not on a branch; pass --base BRANCH"))
    };
    let Some(branch) = &sit.branch else {
        if let (Some(_), Some(missing)) = (req.delivery, &sit.missing_branch) {
            bail!(
                "agent {}'s branch {missing} does not exist (renamed or deleted?), so there is nothing to deliver; find the work (git branch, git -C WORKTREE status), or complete without --pr/--merge/--archive to only remove the worktree; nothing was changed",
                req.agent
            );
        }
        if let Some(path) = &sit.worktree {
            steps.push(Step::Remove(path.clone()));
        }
        return Ok(steps);
    };
    let mut kept = false;
    match delivery {
        Delivery::Merge => {
            let base = base()?;
            check_mergeable(&sit.repo, branch, &base)?;
            steps.push(Step::Merge {
                branch: branch.clone(),
                base,
            });
            // Once merged, the agent's finished work is in the base branch.
            if !sit.completed.is_empty() {
                steps.push(Step::Review(sit.completed.clone()));
            }
            kept = true;
        }
        Delivery::Pr => {
            let Some(remote) = remote else {
                bail!("--pr needs a git remote to push {branch} to; add one with `git remote add`, or use --merge / --archive");
            };
            if !crate::agent::on_path("gh") {
                bail!("--pr needs GitHub's `gh` on PATH; install it, or use --merge / --archive");
            }
            let base = base()?;
            steps.push(Step::Push {
                remote,
                branch: branch.clone(),
            });
            steps.push(Step::OpenPr {
                branch: branch.clone(),
                base,
                title: pr_title(&req.agent, &sit.titles),
                body: pr_body(&req.agent, &sit.titles),
            });
            kept = true;
        }
        Delivery::Archive => kept = true,
        Delivery::Keep => {
            // Nothing to deliver: the finished work counts as reviewed only when it is in
            // the base branch already (merged by hand, or a merged PR pulled).
            let in_base = sit
                .base
                .as_deref()
                .and_then(|b| git::branch_tip(&sit.repo, b));
            let tip = git::branch_tip(&sit.repo, branch);
            let merged =
                matches!((tip, in_base), (Some(t), Some(b)) if safety::is_merged(&sit.repo, t, b));
            if merged && !sit.completed.is_empty() {
                steps.push(Step::Review(sit.completed.clone()));
            }
        }
    }
    if let Some(path) = &sit.worktree {
        let lost = if kept || req.force {
            Vec::new()
        } else {
            unsaved(
                &sit.repo,
                branch,
                sit.base.as_deref(),
                sit.integration.as_deref(),
            )?
        };
        if lost.is_empty() {
            steps.push(Step::Remove(path.clone()));
        } else {
            bail!(
                "{}: branch {branch} has {} commit(s) that are neither merged into {}{} nor pushed:\n  {}\nchoose --merge, --pr or --archive (or --force to remove the worktree anyway; the branch stays); nothing was changed",
                path.display(),
                lost.len(),
                sit.base
                    .as_deref()
                    .unwrap_or("HEAD (the main worktree is on no branch; pass --base BRANCH to compare with one)"),
                sit.integration
                    .as_deref()
                    .map(|i| format!(", landed on {i}"))
                    .unwrap_or_default(),
                lost.join("\n  ")
            );
        }
    }
    if delivery == Delivery::Archive {
        steps.push(Step::Archive {
            from: branch.clone(),
            to: archive_name(&sit.repo, branch),
        });
    }
    Ok(steps)
}

/// Commits on `branch` that neither the base, the integration branch, nor any pushed copy of
/// the branch holds.
pub(super) fn unsaved(
    repo: &Repository,
    branch: &str,
    base: Option<&str>,
    integration: Option<&str>,
) -> Result<Vec<String>> {
    let Some(tip) = git::branch_tip(repo, branch) else {
        return Ok(Vec::new());
    };
    let mut kept = safety::pushed_tips(repo, branch);
    kept.extend(integration.and_then(|i| git::branch_tip(repo, i)));
    match base {
        Some(b) => kept.extend(git::branch_tip(repo, b)),
        // The main worktree on a detached HEAD: what HEAD has is not lost either.
        None => kept.extend(repo.head().ok().and_then(|h| h.target())),
    }
    safety::commits_only_in(repo, tip, &kept)
}

/// Refuses a merge that would conflict, before anything is changed.
pub(super) fn check_mergeable(repo: &Repository, branch: &str, base: &str) -> Result<()> {
    let (Some(tip), Some(base_tip)) = (git::branch_tip(repo, branch), git::branch_tip(repo, base))
    else {
        bail!("cannot merge {branch} into {base}: no local branch {base}");
    };
    if safety::is_merged(repo, tip, base_tip) || repo.graph_descendant_of(tip, base_tip)? {
        return Ok(());
    }
    let files = git::conflicts::conflicting_files(repo, base_tip, tip)?;
    if !files.is_empty() {
        bail!(
            "merging {branch} into {base} conflicts in {}; nothing was changed — merge it by hand, or use --pr / --archive",
            files.join(", ")
        );
    }
    Ok(())
}

/// `archive/<branch>`, or `archive/<branch>-N` when that exists already.
fn archive_name(repo: &Repository, branch: &str) -> String {
    let base = format!("archive/{branch}");
    (1..)
        .map(|i| match i {
            1 => base.clone(),
            n => format!("{base}-{n}"),
        })
        .find(|n| git::branch_tip(repo, n).is_none())
        .unwrap_or(base)
}

pub(super) fn default_remote(repo: &Repository) -> Option<String> {
    let remotes = repo.remotes().ok()?;
    let names = git::strings(&remotes);
    names
        .iter()
        .find(|n| *n == "origin")
        .or(names.first())
        .cloned()
}

pub(super) fn pr_title(agent: &str, titles: &[(String, String)]) -> String {
    match titles {
        [(id, title)] if !title.is_empty() => format!("{title} ({id})"),
        [(id, _)] => id.clone(),
        _ => format!("{agent}: {} tasks", titles.len()),
    }
}

fn pr_body(agent: &str, titles: &[(String, String)]) -> String {
    let mut body = format!("Work of swarm agent `{agent}`.\n\nTasks:\n");
    for (id, title) in titles {
        body.push_str(&format!("- `{id}` {title}\n"));
    }
    body
}
