//! `swarm setup`: validate the plan, create the coordination dir, registry and lock.

use super::{Ctx, EXIT_OK};
use crate::cli::SetupArgs;
use anyhow::Result;

pub fn exec(ctx: &Ctx, args: &SetupArgs) -> Result<u8> {
    let ws = ctx.workspace()?;
    let report = crate::setup::run(&ws, args.gitignore)?;
    let ui = &ctx.ui;
    for line in &report.done {
        ui.note(&format!("swarm: {line}"));
    }
    ui.note(&format!(
        "swarm: plan {} is valid: {} tasks, {} ready, {} join points",
        ws.plan_path().display(),
        report.tasks,
        report.ready,
        report.join_points
    ));
    if report.preassigned > 0 && !args.no_worktrees {
        ui.warn(&format!(
            "the plan pre-assigns {} agents (coordination.agents); creating their worktrees is not built yet — make them with `git worktree add`, or run with --no-worktrees to silence this",
            report.preassigned
        ));
    }
    if report.done.is_empty() {
        ui.note("swarm: already set up; nothing changed");
    }
    ui.note("next:\n  swarm list --ready                  # what can start now\n  swarm task claim --next --agent ID  # claim work for an agent\n  swarm join-status                   # is the join point reached?");
    Ok(EXIT_OK)
}
