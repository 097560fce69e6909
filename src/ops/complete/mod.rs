//! `complete AGENT`: deliver the agent's branch (PR, merge or archive), mark its tasks
//! reviewed only when their work reached the base branch, and remove its worktree only when
//! no work would be lost. Each step is recorded as soon as it is done, so a failure half-way
//! leaves an honest record.

mod deliver;
mod plan;

pub use self::deliver::{deliver, DeliverRequest};
use crate::git::{self, merge::Merged, worktree};
use crate::plan::Status;
use crate::store::Txn;
use crate::workspace::Workspace;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// How the agent's branch is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Push the branch and open a pull request with `gh`.
    Pr,
    /// Merge it into the base branch locally.
    Merge,
    /// Rename it to `archive/<branch>`.
    Archive,
    /// Nothing: only remove the worktree when that loses nothing.
    Keep,
}

/// What `complete` is asked to do.
#[derive(Debug, Clone)]
pub struct CompleteRequest {
    /// The agent.
    pub agent: String,
    /// `--pr`/`--merge`/`--archive`; `None` picks a PR when `gh` and a remote exist.
    pub delivery: Option<Delivery>,
    /// `--base`: the branch to merge into or open the PR against (default: the main
    /// worktree's branch).
    pub base: Option<String>,
    /// `--force`: remove the worktree even when work would be lost, release held tasks.
    pub force: bool,
}

/// One step, for `--dry-run` and for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Give back tasks the agent still holds (`--force`).
    Release(Vec<String>),
    /// Merge the branch into the base.
    Merge { branch: String, base: String },
    /// Mark tasks reviewed: their work is in the base branch.
    Review(Vec<String>),
    /// `git push -u REMOTE BRANCH`.
    Push { remote: String, branch: String },
    /// `gh pr create`; its URL is recorded on the agent's completed tasks.
    OpenPr {
        branch: String,
        base: String,
        title: String,
        body: String,
    },
    /// Remove the worktree.
    Remove(PathBuf),
    /// Rename the branch; the new name is recorded on the agent's completed tasks.
    Archive { from: String, to: String },
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Release(t) => write!(f, "release {} (still claimed)", t.join(", ")),
            Step::Merge { branch, base } => write!(f, "merge {branch} into {base}"),
            Step::Review(t) => write!(f, "mark reviewed (in the base branch): {}", t.join(", ")),
            Step::Push { remote, branch } => write!(f, "git push -u {remote} {branch}"),
            Step::OpenPr {
                branch,
                base,
                title,
                ..
            } => write!(
                f,
                "gh pr create --head {branch} --base {base} --title {title:?}"
            ),
            Step::Remove(p) => write!(f, "remove worktree {}", p.display()),
            Step::Archive { from, to } => write!(f, "rename branch {from} to {to}"),
        }
    }
}

/// What was (or would be) done.
#[derive(Debug, Clone, Default)]
pub struct Completed {
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Lines for people about what happened, one a step, in order (merge commit, PR URL).
    pub notes: Vec<String>,
}

/// The steps `complete` with no agent would take (see `deliver`).
pub fn plan_delivery(ws: &Workspace, req: &DeliverRequest) -> Result<Completed> {
    deliver::plan(ws, req)
}

/// Plans the steps and refuses, before changing anything, when work would be lost.
pub fn plan(ws: &Workspace, req: &CompleteRequest) -> Result<Completed> {
    let sit = plan::situation(ws, req)?;
    Ok(Completed {
        steps: plan::steps(req, &sit)?,
        notes: Vec::new(),
    })
}

/// Plans, then carries the steps out one by one, recording each as soon as it is done.
pub fn complete(ws: &Workspace, req: &CompleteRequest) -> Result<Completed> {
    let sit = plan::situation(ws, req)?;
    let steps = plan::steps(req, &sit)?;
    let mut notes = Vec::new();
    for (n, step) in steps.iter().enumerate() {
        let note = match carry_out(ws, &sit.repo, step) {
            Ok(note) => note,
            Err(e) if n == 0 => return Err(e),
            Err(e) => {
                // What was done so far is recorded; say where it stopped (a failure to say so
                // must not hide why it stopped).
                let _ = ws.begin(None).and_then(|mut txn| {
                    txn.record(
                        "complete",
                        Some(&req.agent),
                        format!("stopped at \"{step}\": {e:#}"),
                    );
                    txn.commit()
                });
                return Err(e.context(format!(
                    "complete {} stopped at \"{step}\"; the steps before it are done and recorded",
                    req.agent
                )));
            }
        };
        record(ws, req, &sit.completed, step, note.as_deref()).with_context(|| {
            format!(
                "complete {}: \"{step}\" was done, but it could not be recorded in the plan and registry",
                req.agent
            )
        })?;
        notes.extend(note);
    }
    // A worktree folder deleted by hand before `complete`: its entry goes too (only its own).
    if let Some(path) = &sit.recorded_worktree {
        worktree::prune_stale_at(&sit.repo, path);
    }
    let mut txn = ws.begin(None)?;
    txn.retire(&req.agent, "completed");
    txn.commit()?;
    Ok(Completed { steps, notes })
}

/// Does one step's work in git or gh; returns what people should hear about it.
fn carry_out(ws: &Workspace, repo: &git2::Repository, step: &Step) -> Result<Option<String>> {
    Ok(match step {
        Step::Release(tasks) => Some(format!("released {}", tasks.join(", "))),
        Step::Review(tasks) => Some(format!("reviewed {}", tasks.join(", "))),
        Step::Merge { branch, base } => Some(
            match git::merge::merge_into(
                repo,
                branch,
                base,
                &ws.coord_dir.join("merge-in-progress.json"),
            )? {
                Merged::UpToDate => format!("{base} already contains {branch}"),
                Merged::FastForward(o) => {
                    format!("{base} fast-forwarded to {branch} ({})", git::short(o))
                }
                Merged::Commit(o) => {
                    format!("merged {branch} into {base}: commit {}", git::short(o))
                }
            },
        ),
        Step::Push { remote, branch } => {
            run_tool(
                ws,
                "git",
                &["push", "-u", remote, branch],
                &format!("cannot push {branch} to {remote}"),
            )?;
            Some(format!("pushed {branch} to {remote}"))
        }
        Step::OpenPr {
            branch,
            base,
            title,
            body,
        } => {
            let out = run_tool(
                ws,
                "gh",
                &[
                    "pr", "create", "--head", branch, "--base", base, "--title", title, "--body",
                    body,
                ],
                "gh pr create failed",
            )?;
            Some(format!("pull request: {}", out.trim()))
        }
        Step::Remove(path) => {
            let torn = teardown(ws, path);
            let leases: Vec<crate::lease::Lease> = crate::lease::of_plan(ws)
                .into_iter()
                .filter(|l| worktree::same_path(&l.worktree, path))
                .collect();
            worktree::remove(repo, path)?;
            let freed = free_leases(ws, &leases);
            Some(
                torn.into_iter()
                    .chain([format!("removed worktree {}", path.display())])
                    .chain(freed)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        }
        Step::Archive { from, to } => {
            let mut b = repo
                .find_branch(from, git2::BranchType::Local)
                .with_context(|| format!("no branch {from}"))?;
            b.rename(to, false)
                .with_context(|| format!("cannot rename {from} to {to}"))?;
            Some(format!("branch {from} is now {to}"))
        }
    })
}

/// Runs the plan's `teardown` in the worktree at `path` before it is removed, with the
/// environment its setup ran with (lease included): how it went, in words. A worktree that
/// was never set up (no record of it) has nothing to tear down.
fn teardown(ws: &Workspace, path: &Path) -> Option<String> {
    let plan = ws.load_plan().ok()?;
    let recipe = plan.worktree.as_ref()?;
    let record = crate::lease::record_of(path)?;
    let logs = crate::coord::subdir(&ws.coord_dir, "logs").ok()?;
    let name = path.file_name()?.to_string_lossy().into_owned();
    super::recipe::teardown(
        recipe,
        path,
        &record.env(),
        &logs.join(format!("{name}-teardown.log")),
    )
}

/// Frees `leases` (those of a worktree just removed): what was freed, in words.
fn free_leases(ws: &Workspace, leases: &[crate::lease::Lease]) -> Option<String> {
    let mut freed = Vec::new();
    for lease in leases {
        if crate::lease::release(ws, &lease.agent).unwrap_or(false) {
            freed.push(format!("{} freed", lease.shown()));
        }
    }
    (!freed.is_empty()).then(|| freed.join(", "))
}

/// Records a step that was just done: its event, and what it means for the agent's tasks.
fn record(
    ws: &Workspace,
    req: &CompleteRequest,
    completed: &[String],
    step: &Step,
    note: Option<&str>,
) -> Result<()> {
    let mut txn = ws.begin(None)?;
    let agent = req.agent.as_str();
    match step {
        Step::Release(tasks) => {
            for t in tasks {
                let Some(i) = txn.plan.find(t) else { continue };
                if txn.holder(i) == Some(agent) {
                    txn.release(i, Some(format!("complete --force on {agent}")));
                }
            }
        }
        Step::Review(tasks) => {
            for t in tasks {
                let Some(i) = txn.plan.find(t) else { continue };
                if txn.plan.tasks[i].status == Status::Completed {
                    txn.set_status(i, Status::Reviewed, Some(agent));
                }
            }
        }
        Step::OpenPr { .. } => {
            let url = note
                .unwrap_or_default()
                .trim_start_matches("pull request: ");
            set_on(&mut txn, completed, "pullRequest", url);
        }
        Step::Archive { to, .. } => {
            set_on(&mut txn, completed, "archivedBranch", to);
            txn.set_agent_branch(agent, to);
        }
        Step::Merge { .. } | Step::Push { .. } | Step::Remove(_) => {}
    }
    // Releases and reviews are logged as the status changes they are.
    let logged = matches!(step, Step::Release(_) | Step::Review(_));
    if let Some(note) = note.filter(|_| !logged) {
        txn.record("complete", Some(agent), note.to_string());
    }
    txn.commit()
}

/// Sets `key` to `value` on those of `tasks` that are still completed.
fn set_on(txn: &mut Txn<'_>, tasks: &[String], key: &str, value: &str) {
    for t in tasks {
        if let Some(i) = txn.plan.find(t) {
            if txn.plan.tasks[i].status == Status::Completed {
                txn.set_task_field(i, key, value.into());
            }
        }
    }
}

/// Runs the user's own `git`/`gh` (their credentials) in the main worktree; stdout on success.
fn run_tool(ws: &Workspace, program: &str, args: &[&str], what: &str) -> Result<String> {
    let out = Command::new(program)
        .args(args)
        .current_dir(&ws.main_root)
        .output()
        .with_context(|| format!("{what}: cannot run {program}"))?;
    if !out.status.success() {
        bail!(
            "{what}: {program} {} exited with {}: {}",
            args.first().copied().unwrap_or(""),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
