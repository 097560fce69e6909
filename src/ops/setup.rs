//! Setting a repository up for a plan: validate, coordination dir, registry, lock.

use super::place::Place;
use crate::git;
use crate::scheduler;
use crate::workspace::Workspace;
use anyhow::{Context, Result};
use std::fs::OpenOptions;

/// What `setup` found and did.
#[derive(Debug, Clone, Default)]
pub struct SetupReport {
    /// Lines for people: what was created.
    pub done: Vec<String>,
    /// Tasks in the plan.
    pub tasks: usize,
    /// Tasks ready now.
    pub ready: usize,
    /// Join points.
    pub join_points: usize,
    /// Agents in coordination.agents.
    pub preassigned: usize,
    /// What was already there and is kept (existing worktrees).
    pub kept: Vec<String>,
    /// Problems that did not stop setup (a worktree path taken by something else).
    pub warnings: Vec<String>,
    /// The integration branch and where it points, when the plan declares one.
    pub integration: Option<(String, git2::Oid)>,
    /// Tasks with no verify command (their own or the integration's).
    pub unverified: usize,
}

/// What `setup` is asked to do.
#[derive(Debug, Clone, Default)]
pub struct SetupOptions {
    /// Keep the coordination dir out of git with `.gitignore` instead of `.git/info/exclude`.
    pub use_gitignore: bool,
    /// Create the worktrees and branches of `coordination.agents`.
    pub worktrees: bool,
    /// Where new branches start (default: the main worktree's HEAD).
    pub base: Option<String>,
}

/// The wrapper for people used to the old script.
const LAUNCH_SCRIPT: &str = "#!/bin/sh\nexec \"${SWARM_BIN:-swarm}\" launch \"$@\"\n";

/// Validates the plan, then creates what is missing; running it again changes nothing.
pub fn run(ws: &Workspace, opts: &SetupOptions) -> Result<SetupReport> {
    let plan = ws.load_plan()?;
    // A `.worktreeinclude` every launch would refuse is bad input too.
    super::recipe::include_globs(ws, plan.worktree.as_ref())?;
    let branch = ws.integration_branch(&plan);
    if let Some(b) = &branch {
        crate::ids::check_branch_name(b).with_context(|| {
            format!(
                "{}: the integration branch (swarm/<project> by default)",
                plan.path().display()
            )
        })?;
        git::integrate::refuse_checked_out(&git::open(&ws.main_root)?, b)?;
    }
    // Every pre-assigned place (and the base) is checked before anything is created.
    let worktree_plan = match opts.worktrees && !plan.agents.is_empty() {
        true => {
            let repo = git::open(&ws.main_root)?;
            let tip = branch.as_deref().and_then(|b| git::branch_tip(&repo, b));
            let base = match (&opts.base, tip) {
                (None, Some(tip)) => tip,
                _ => git::base_commit(&repo, opts.base.as_deref())?,
            };
            let places = plan
                .agents
                .iter()
                .map(|spec| Place::preassigned(ws, &plan, &spec.id))
                .collect::<Result<Vec<_>>>()?;
            Some((repo, base, places))
        }
        false => None,
    };
    let mut done = ws.ensure_coordination_dir(opts.use_gitignore)?;
    let integration = match &branch {
        Some(b) => {
            let repo = git::open(&ws.main_root)?;
            let base = git::base_commit(&repo, opts.base.as_deref())?;
            if git::integrate::ensure_branch(&repo, b, base)? {
                done.push(format!(
                    "created the integration branch {b} at {}",
                    git::short(base)
                ));
            }
            git::branch_tip(&repo, b).map(|tip| (b.clone(), tip))
        }
        None => None,
    };
    let mut kept = Vec::new();
    let mut warnings = Vec::new();
    if let Some((repo, base, places)) = worktree_plan {
        let mut out = Outcomes {
            done: &mut done,
            kept: &mut kept,
            warnings: &mut warnings,
        };
        worktrees(&repo, base, places, &mut out);
    }
    write_launch_script(ws, &mut done)?;
    let lock_path = ws.lock_path();
    if !lock_path.exists() {
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("{}: cannot create", lock_path.display()))?;
        done.push(format!("created {}", lock_path.display()));
    }
    let registry_path = ws.registry_path();
    // Through a transaction: a registry missing while the plan shows claims is rebuilt from
    // it, not replaced by an empty one.
    let created = !registry_path.exists();
    let mut txn = ws.begin(None)?;
    if created {
        txn.write_registry();
        done.push(format!("created {}", registry_path.display()));
    }
    let now = txn.now();
    let (plan, registry) = txn.finish()?;
    if let Ok(repo) = git::open(&ws.main_root) {
        done.extend(super::cleanup::clean_worktrees(
            &repo,
            &registry,
            now,
            ws.settings.lease,
        ));
    }
    // The worktree recipe, checked now rather than at an agent's launch.
    match super::recipe::check(ws, plan.worktree.as_ref()) {
        Ok(problems) => warnings.extend(
            problems
                .into_iter()
                .map(|p| format!("worktree recipe: {p}")),
        ),
        Err(e) => warnings.push(format!("worktree recipe: {e:#}")),
    }
    let ready = scheduler::readiness(&plan, |id| registry.claimed_tasks.contains_key(id));
    Ok(SetupReport {
        done,
        tasks: plan.tasks.len(),
        ready: ready.iter().filter(|r| **r).count(),
        join_points: plan.join_points.len(),
        preassigned: plan.agents.len(),
        kept,
        warnings,
        integration,
        unverified: (0..plan.tasks.len())
            .filter(|&i| plan.verify_command(i).is_none())
            .count(),
    })
}

/// Where `worktrees` reports.
struct Outcomes<'a> {
    done: &'a mut Vec<String>,
    kept: &'a mut Vec<String>,
    warnings: &'a mut Vec<String>,
}

/// Creates the worktree and branch of every pre-assigned agent; existing ones are kept.
fn worktrees(repo: &git2::Repository, base: git2::Oid, places: Vec<Place>, out: &mut Outcomes<'_>) {
    for place in places {
        let id = &place.agent;
        match git::worktree::add(repo, id, &place.worktree, &place.branch, base) {
            Ok(a) if a.created_worktree => out.done.push(format!(
                "created worktree {} on branch {}{} for {}",
                a.path.display(),
                a.branch,
                if a.created_branch { " (new)" } else { "" },
                id
            )),
            Ok(a) => out.kept.push(format!(
                "kept the existing worktree {} (on {}) for {}",
                a.path.display(),
                a.branch,
                id
            )),
            Err(e) => out.warnings.push(format!("agent {}: {e:#}", id)),
        }
    }
}

/// `.claude-agents/launch-agent.sh`: a two-line wrapper running `swarm launch`.
fn write_launch_script(ws: &Workspace, done: &mut Vec<String>) -> Result<()> {
    let path = ws.coord_dir.join("launch-agent.sh");
    if std::fs::read_to_string(&path).is_ok_and(|t| t == LAUNCH_SCRIPT) {
        return Ok(());
    }
    crate::coord::write(&path, LAUNCH_SCRIPT.as_bytes())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut perm = std::fs::metadata(&path)?.permissions();
        // Executable for whoever may read it (the umask already decided who may).
        let mode = perm.mode();
        perm.set_mode(mode | ((mode & 0o444) >> 2));
        std::fs::set_permissions(&path, perm)
            .with_context(|| format!("{}: cannot make it executable", path.display()))?;
    }
    done.push(format!("wrote {}", path.display()));
    Ok(())
}
