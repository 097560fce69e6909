//! Where an agent lives: its id, display name, worktree and branch — decided in one place for
//! `launch`, `setup` and `complete`, before anything is created.

use crate::plan::Plan;
use crate::workspace::Workspace;
use anyhow::{bail, Context, Result};
use std::path::{Component, Path, PathBuf};

/// An agent's id, name, worktree and branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// Agent id.
    pub agent: String,
    /// Display name (`claude-worker-NNNN`).
    pub name: String,
    /// Worktree path.
    pub worktree: PathBuf,
    /// Branch.
    pub branch: String,
}

impl Place {
    /// The place of a new agent of this process: `agent-<unix>-<pid>` beside the main worktree
    /// (or under `worktree_root`), or, with `as_agent`, the pre-assigned agent's place.
    /// `kind` names the program in the display name (`claude-worker-NNNN`).
    pub fn for_launch(
        ws: &Workspace,
        plan: &Plan,
        as_agent: Option<&str>,
        kind: &str,
        worktree_root: Option<&Path>,
    ) -> Result<Place> {
        let pid = std::process::id();
        let name = format!("{kind}-worker-{:04}", pid % 10_000);
        let root = root(ws, worktree_root)?;
        let place = match as_agent {
            Some(agent) => Place::assigned(ws, plan, agent, &root)?,
            None => {
                let agent = format!("agent-{}-{pid}", chrono::Utc::now().timestamp());
                Place {
                    worktree: root.join(format!("{}-{agent}", ws.project)),
                    branch: format!("work/{agent}"),
                    agent,
                    name: String::new(),
                }
            }
        };
        Ok(Place { name, ..place })
    }

    /// The place of pre-assigned agent `agent` (`coordination.agents`), as `setup` makes it
    /// and `complete` finds it.
    pub fn preassigned(ws: &Workspace, plan: &Plan, agent: &str) -> Result<Place> {
        Place::assigned(ws, plan, agent, &root(ws, None)?)
    }

    fn assigned(ws: &Workspace, plan: &Plan, agent: &str, root: &Path) -> Result<Place> {
        let Some(spec) = plan.agent_spec(agent) else {
            bail!(
                "{}: coordination.agents has no agent {agent:?}",
                plan.path().display()
            );
        };
        crate::ids::check_agent_id(agent)?;
        let worktree = match &spec.worktree {
            Some(w) => lexical(&ws.main_root.join(w)),
            None => root.join(format!("{}-{agent}", ws.project)),
        };
        if worktree.starts_with(&ws.git_dir)
            || worktree.components().any(|c| c.as_os_str() == ".git")
        {
            bail!(
                "{}: the worktree of agent {agent} ({}) is inside a git directory; give it a path of its own",
                plan.path().display(),
                worktree.display()
            );
        }
        if !worktree.starts_with(root) || worktree == root {
            bail!(
                "{}: the worktree of agent {agent} ({}) is outside the worktree root {}; to allow it, launch the agent with `swarm launch --as {agent} --worktree-root DIR` (DIR holding its worktree)",
                plan.path().display(),
                worktree.display(),
                root.display()
            );
        }
        Ok(Place {
            agent: agent.to_string(),
            name: agent.to_string(),
            worktree,
            branch: spec
                .branch
                .clone()
                .unwrap_or_else(|| format!("work/{agent}")),
        })
    }
}

/// Where worktrees go: `worktree_root`, or the main worktree's parent directory.
fn root(ws: &Workspace, worktree_root: Option<&Path>) -> Result<PathBuf> {
    match worktree_root {
        Some(r) => Ok(absolute(r)),
        None => ws
            .main_root
            .parent()
            .map(Path::to_path_buf)
            .context("the main worktree has no parent directory; pass --worktree-root"),
    }
}

/// `p` made absolute against the current directory, `.` and `..` resolved.
pub fn absolute(p: &Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    };
    lexical(&joined)
}

/// Resolves `.` and `..` without touching the file system (the path may not exist yet).
fn lexical(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}
