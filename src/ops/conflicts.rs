//! `swarm conflicts`: which live agents' branches would conflict with the integration branch
//! (or the base, without one) and with each other, predicted in memory.

use crate::git::{self, conflicts::Side};
use crate::workspace::Workspace;
use anyhow::{bail, Result};

pub use crate::git::conflicts::Conflict;

/// What was compared, and the pairs that conflict.
#[derive(Debug, Clone)]
pub struct Report {
    /// The branches compared: the integration (or base) branch first, then each live agent's.
    pub sides: Vec<Side>,
    /// The pairs that would conflict.
    pub conflicts: Vec<Conflict>,
}

/// Compares the branches of live agents with the integration branch (the base branch when
/// the plan has none) and with each other.
pub fn check(ws: &Workspace) -> Result<Report> {
    let (plan, registry) = ws.snapshot()?;
    let repo = git::open(&ws.main_root)?;
    let target = match ws.integration_branch(&plan) {
        Some(b) => b,
        None => match git::head_branch(&repo) {
            Some(b) => b,
            None => bail!("the main worktree is on no branch and the plan has no integration branch: nothing to compare the agents' branches with"),
        },
    };
    let mut sides = Vec::new();
    if let Some(tip) = git::branch_tip(&repo, &target) {
        sides.push(Side {
            agent: None,
            branch: target.clone(),
            commit: tip,
        });
    }
    for (agent, entry) in &registry.agents {
        if entry.is_retired() {
            continue;
        }
        let Some(branch) = entry.branch.as_deref().filter(|b| *b != target) else {
            continue;
        };
        if let Some(tip) = git::branch_tip(&repo, branch) {
            sides.push(Side {
                agent: Some(agent.clone()),
                branch: branch.to_string(),
                commit: tip,
            });
        }
    }
    let conflicts = git::conflicts::between(&repo, &sides)?;
    Ok(Report { sides, conflicts })
}
