//! `complete` with no agent: deliver the plan's integration branch (a pull request, or a merge
//! into the base), then remove the worktrees of agents that have nothing unlanded.

use super::plan::{check_mergeable, checked_out_as_recorded, default_remote, unsaved};
use super::{carry_out, Completed, Delivery, Step};
use crate::git::{self, safety};
use crate::plan::{Plan, Status};
use crate::workspace::Workspace;
use anyhow::{anyhow, bail, Context, Result};
use std::path::PathBuf;

/// What `complete` (no agent) is asked to do.
#[derive(Debug, Clone)]
pub struct DeliverRequest {
    /// `--pr` / `--merge`; `None` picks a PR when `gh` and a remote exist, else delivers
    /// nothing and only removes finished worktrees.
    pub delivery: Option<Delivery>,
    /// `--base`: the branch to merge into or open the PR against.
    pub base: Option<String>,
}

/// Everything delivering needs to know, looked at before anything changes.
struct Look {
    repo: git2::Repository,
    branch: String,
    base: Option<String>,
    /// Landed tasks not yet reviewed: (id, title, commit, verified by).
    landed: Vec<(String, String, String, Option<String>)>,
    /// Tasks not finished yet.
    unfinished: usize,
    /// Worktrees that can go, by agent, and those kept with why.
    removable: Vec<(String, PathBuf)>,
    kept: Vec<String>,
    title: String,
}

/// The steps `deliver` would take, and lines about what it leaves (kept worktrees, tasks not
/// finished).
pub fn plan(ws: &Workspace, req: &DeliverRequest) -> Result<Completed> {
    let look = look(ws)?;
    let steps = steps(req, &look)?;
    Ok(Completed {
        steps,
        notes: notes(&look),
    })
}

/// Delivers the integration branch and removes finished worktrees, recording each step as it
/// is done.
pub fn deliver(ws: &Workspace, req: &DeliverRequest) -> Result<Completed> {
    let look = look(ws)?;
    let steps = steps(req, &look)?;
    let mut notes = Vec::new();
    for step in &steps {
        let note = carry_out(ws, &look.repo, step).with_context(|| {
            format!("complete stopped at \"{step}\"; the steps before it are done and recorded")
        })?;
        record(ws, &look, step, note.as_deref())?;
        notes.extend(note);
    }
    notes.extend(self::notes(&look));
    Ok(Completed { steps, notes })
}

fn look(ws: &Workspace) -> Result<Look> {
    let (plan, registry) = ws.snapshot()?;
    let Some(branch) = ws.integration_branch(&plan) else {
        return Err(crate::error::usage(format!(
            "complete needs an AGENT: {} has no integration branch (coordination.integration) to deliver as a whole",
            plan.path().display()
        )));
    };
    let repo = git::open(&ws.main_root)?;
    if git::branch_tip(&repo, &branch).is_none() {
        bail!("the integration branch {branch} does not exist; `swarm setup` creates it");
    }
    let base = git::head_branch(&repo);
    let landed = plan
        .tasks
        .iter()
        .enumerate()
        .filter(|(_, t)| t.status == Status::Completed && t.landed)
        .map(|(i, t)| {
            let landed = plan.field(i, "landed").unwrap_or_default();
            let commit = landed["commit"].as_str().unwrap_or_default().to_string();
            let by = landed["verifiedBy"].as_str().map(str::to_string);
            (t.id.clone(), t.title.clone(), commit, by)
        })
        .collect();
    let unfinished = plan.tasks.iter().filter(|t| !t.status.is_done()).count();
    let (mut removable, mut kept) = (Vec::new(), Vec::new());
    for (agent, entry) in &registry.agents {
        let Some(path) = entry.worktree.as_deref().map(PathBuf::from) else {
            continue;
        };
        if !path.is_dir() {
            continue;
        }
        let why = if registry.claimed_tasks.values().any(|c| &c.agent == agent) {
            Some("it holds a task".to_string())
        } else if !entry.is_retired() {
            Some("it is still running".to_string())
        } else {
            unlanded(
                &repo,
                &path,
                entry.branch.as_deref(),
                &branch,
                base.as_deref(),
            )?
        };
        match why {
            None => removable.push((agent.clone(), path)),
            Some(why) => kept.push(format!(
                "kept the worktree {} of {agent}: {why}",
                path.display()
            )),
        }
    }
    Ok(Look {
        repo,
        branch,
        base,
        landed,
        unfinished,
        removable,
        kept,
        title: title(ws, &plan),
    })
}

/// Why the worktree at `path` cannot go without losing work: uncommitted files, or commits
/// that neither the integration branch nor the base holds.
fn unlanded(
    repo: &git2::Repository,
    path: &std::path::Path,
    branch: Option<&str>,
    integration: &str,
    base: Option<&str>,
) -> Result<Option<String>> {
    let dirty = safety::uncommitted(path)?;
    if !dirty.is_empty() {
        return Ok(Some(format!("uncommitted changes ({})", dirty.join(", "))));
    }
    let Some(branch) = branch else {
        return Ok(Some("no branch recorded".into()));
    };
    // Locked, on a detached HEAD or another branch: commits there are not the recorded
    // branch's, and would go with the worktree.
    if let Err(e) = checked_out_as_recorded(repo, path, Some(branch)) {
        return Ok(Some(format!("{e:#}")));
    }
    let modules = safety::submodule_repos(path)?;
    if !modules.is_empty() {
        return Ok(Some(format!(
            "submodules checked out in it ({}) would be deleted with it",
            modules.join(", ")
        )));
    }
    let lost = unsaved(repo, branch, base, Some(integration))?;
    Ok(match lost.is_empty() {
        true => None,
        false => Some(format!(
            "{} commit(s) on {branch} have not landed (swarm complete AGENT looks after them)",
            lost.len()
        )),
    })
}

fn steps(req: &DeliverRequest, look: &Look) -> Result<Vec<Step>> {
    let base = || {
        req.base
            .clone()
            .or_else(|| look.base.clone())
            .ok_or_else(|| anyhow!("the main worktree is not on a branch; pass --base BRANCH"))
    };
    let remote = default_remote(&look.repo);
    let delivery = match req.delivery {
        Some(d) => d,
        None if remote.is_some() && crate::agent::on_path("gh") && !look.landed.is_empty() => {
            Delivery::Pr
        }
        None => Delivery::Keep,
    };
    let mut steps = Vec::new();
    match delivery {
        Delivery::Merge => {
            let base = base()?;
            check_mergeable(&look.repo, &look.branch, &base)?;
            steps.push(Step::Merge {
                branch: look.branch.clone(),
                base,
            });
            if !look.landed.is_empty() {
                steps.push(Step::Review(
                    look.landed.iter().map(|l| l.0.clone()).collect(),
                ));
            }
        }
        Delivery::Pr => {
            let Some(remote) = remote else {
                bail!("--pr needs a git remote to push {} to; add one with `git remote add`, or use --merge", look.branch);
            };
            if !crate::agent::on_path("gh") {
                bail!("--pr needs GitHub's `gh` on PATH; install it, or use --merge");
            }
            steps.push(Step::Push {
                remote,
                branch: look.branch.clone(),
            });
            steps.push(Step::OpenPr {
                branch: look.branch.clone(),
                base: base()?,
                title: look.title.clone(),
                body: body(look),
            });
        }
        Delivery::Archive => bail!(
            "--archive renames one agent's branch: swarm complete AGENT --archive; the integration branch is delivered with --pr or --merge"
        ),
        Delivery::Keep => {}
    }
    steps.extend(look.removable.iter().map(|(_, p)| Step::Remove(p.clone())));
    Ok(steps)
}

fn notes(look: &Look) -> Vec<String> {
    let mut notes = look.kept.clone();
    if look.unfinished > 0 {
        notes.push(format!(
            "{} task(s) of the plan are not finished; what they do later lands on {} too",
            look.unfinished, look.branch
        ));
    }
    notes
}

/// Records a step: the merge, the reviews (the work is in the base), the PR URL on the
/// landed tasks, a removed worktree (its agent completed).
fn record(ws: &Workspace, look: &Look, step: &Step, note: Option<&str>) -> Result<()> {
    let mut txn = ws.begin(None)?;
    match step {
        Step::Review(tasks) => {
            for t in tasks {
                let Some(i) = txn.plan.find(t) else { continue };
                if txn.plan.tasks[i].status == Status::Completed {
                    txn.set_status(i, Status::Reviewed, None);
                }
            }
        }
        Step::OpenPr { .. } => {
            let url = note
                .unwrap_or_default()
                .trim_start_matches("pull request: ")
                .to_string();
            for (t, ..) in &look.landed {
                if let Some(i) = txn.plan.find(t) {
                    txn.set_task_field(i, "pullRequest", url.clone().into());
                }
            }
        }
        Step::Remove(path) => {
            if let Some((agent, _)) = look.removable.iter().find(|(_, p)| p == path) {
                txn.retire(agent, "completed");
            }
        }
        _ => {}
    }
    if let Some(note) = note.filter(|_| !matches!(step, Step::Review(_))) {
        txn.record("complete", None, note.to_string());
    }
    txn.commit()
}

/// The plan's `title` (top level), else "swarm: <project>".
fn title(ws: &Workspace, plan: &Plan) -> String {
    serde_json::from_str::<serde_json::Value>(plan.read_text())
        .ok()
        .and_then(|v| v.get("title")?.as_str().map(str::to_string))
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| format!("swarm: {}", ws.project))
}

/// The PR body: each landed task with its commit and how it was verified.
fn body(look: &Look) -> String {
    let mut body = format!(
        "Tasks landed on `{}` by swarm, each verified before it landed.\n\n",
        look.branch
    );
    for (id, title, commit, by) in &look.landed {
        let short = &commit[..commit.len().min(9)];
        let verified = by
            .as_deref()
            .map(|b| format!("verified by `{b}`"))
            .unwrap_or_else(|| "no verify command".into());
        body.push_str(&format!("- `{id}` {title} ({short}, {verified})\n"));
    }
    body
}
