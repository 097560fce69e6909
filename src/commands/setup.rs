//! `swarm setup`: validate the plan, create the coordination dir, registry and lock.

use super::{Ctx, EXIT_OK};
use crate::cli::SetupArgs;
use anyhow::Result;

pub fn exec(ctx: &Ctx, args: &SetupArgs) -> Result<u8> {
    let ws = ctx.workspace()?;
    let opts = crate::ops::setup::SetupOptions {
        use_gitignore: args.gitignore,
        worktrees: !args.no_worktrees,
        base: args.base.clone(),
    };
    let report = crate::ops::setup::run(&ws, &opts)?;
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
    match &report.integration {
        Some((branch, tip)) if report.unverified > 0 => ui.warn(&format!(
            "finished tasks land on {branch} (now at {}), but {} of {} tasks have no verify command: set coordination.integration.verify (or a task's verify) to your test command, or they land unverified",
            crate::git::short(*tip),
            report.unverified,
            report.tasks
        )),
        Some((branch, tip)) => ui.note(&format!(
            "swarm: finished tasks land on {branch} (now at {}), verified; `swarm complete` delivers it",
            crate::git::short(*tip)
        )),
        None => ui.note(
            "swarm: no integration branch: each agent's work stays on its own branch until `swarm complete AGENT` (add coordination.integration to the plan to land finished tasks, verified, as they finish)",
        ),
    }
    for k in &report.kept {
        ui.note(&format!("swarm: {k}"));
    }
    for w in &report.warnings {
        ui.warn(w);
    }
    if report.done.is_empty() {
        ui.note("swarm: already set up: nothing to create");
    }
    let mut next = String::from("next:\n  swarm list --ready        # what can start now\n  swarm launch              # in each terminal: claim a task, make a worktree, start claude\n");
    if report.preassigned > 0 {
        next.push_str(
            "  swarm launch --as AGENT   # start a pre-assigned agent of coordination.agents\n",
        );
    }
    next.push_str("  swarm join-status         # is the join point reached?\n");
    next.push_str(match report.integration {
        Some(_) => "  swarm complete --pr       # deliver the integration branch (or --merge)",
        None => "  swarm complete AGENT      # deliver an agent's branch and remove its worktree",
    });
    ui.note(&next);
    Ok(EXIT_OK)
}
