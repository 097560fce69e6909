//! `swarm plan validate`, `swarm plan simulate`.

use super::{Ctx, EXIT_OK};
use crate::cli::PlanCommand;
use crate::ops::simulate;
use crate::plan::Plan;
use crate::registry::Registry;
use crate::scheduler;
use crate::ui;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

pub fn exec(ctx: &Ctx, cmd: PlanCommand) -> Result<u8> {
    match cmd {
        PlanCommand::Validate { file } => {
            let path = match file {
                Some(f) => f,
                None => ctx.workspace()?.plan_path(),
            };
            let plan = Plan::load(&path)?;
            let edges: usize = plan.tasks.iter().map(|t| t.blocked_by.len()).sum();
            ctx.ui.note(&format!(
                "{}: valid: {} tasks, {} dependencies, {} join points, {} pre-assigned agents",
                path.display(),
                plan.tasks.len(),
                edges,
                plan.join_points.len(),
                plan.agents.len()
            ));
            Ok(EXIT_OK)
        }
        PlanCommand::Simulate { agents, file, json } => simulate(ctx, agents, file, json),
        PlanCommand::Init => init(ctx),
        PlanCommand::Edit => {
            let ws = ctx.workspace()?;
            let editor = ["VISUAL", "EDITOR"]
                .iter()
                .find_map(|v| std::env::var(v).ok().filter(|e| !e.trim().is_empty()))
                .unwrap_or_else(|| "vi".into());
            match crate::ops::plan_edit::edit(&ws, &editor)? {
                crate::ops::plan_edit::Edited::Unchanged => {
                    ctx.ui.note("swarm: no changes: the plan is as it was")
                }
                crate::ops::plan_edit::Edited::Applied { merged } if merged.is_empty() => ctx
                    .ui
                    .note(&format!("swarm: {} updated", ws.plan_path().display())),
                crate::ops::plan_edit::Edited::Applied { merged } => ctx.ui.note(&format!(
                    "swarm: {} updated; what swarm changed meanwhile in {} is kept",
                    ws.plan_path().display(),
                    merged.join(", ")
                )),
            }
            Ok(EXIT_OK)
        }
    }
}

fn simulate(ctx: &Ctx, agents: Option<u16>, file: Option<PathBuf>, json: bool) -> Result<u8> {
    let (plan, registry) = match file {
        Some(f) => (Plan::load(&f)?, Registry::default()),
        None => ctx.workspace()?.snapshot()?,
    };
    let live = registry.live_agents();
    let agents = match agents {
        Some(n) => usize::from(n),
        None if live > 0 => live,
        None if !plan.agents.is_empty() => plan.agents.len(),
        None => 3,
    };
    let r = simulate::report(&plan, agents, scheduler::worked_on(&plan, &registry));
    if json {
        crate::output::json(&r)?;
        return Ok(EXIT_OK);
    }
    let ui = &ctx.ui;
    let left = plan.tasks.iter().filter(|t| !t.status.is_done()).count();
    let mut lines = vec![format!(
        "{}: {left} of {} tasks left, {} of work, critical path {}",
        plan.path().display(),
        plan.tasks.len(),
        ui::hours(r.work),
        ui::hours(r.critical_path)
    )];
    if r.unreachable > 0 {
        lines.push(format!(
            "{} tasks can never be done (failed, or waiting for a failed task); left out",
            r.unreachable
        ));
    }
    lines.push(ui.bold_out(&format!(
        "with {agents} agents: done in {} (lower bound {}; agents busy {:.0}% of the time)",
        ui::hours(r.makespan),
        ui::hours(r.lower_bound),
        r.utilisation * 100.0
    )));
    if !r.overlaps.is_empty() {
        let pairs: Vec<String> = r
            .overlaps
            .iter()
            .map(|(a, b)| format!("{a} & {b}"))
            .collect();
        lines.push(format!(
            "tasks that may touch the same files and can run at the same time (the scheduler keeps them apart when it can): {}",
            pairs.join(", ")
        ));
    }
    lines.push(String::new());
    lines.push(ui.bold_out("AGENTS  DONE IN"));
    for p in &r.sweep {
        let mark = if p.agents == agents { "  <-" } else { "" };
        lines.push(format!("{:>6}  {}{mark}", p.agents, ui::hours(p.makespan)));
    }
    crate::output::lines(lines)?;
    Ok(EXIT_OK)
}

/// The starter plan `plan init` writes.
pub(crate) const STARTER_PLAN: &str = include_str!("../plan/starter/status.json");
const STARTER_MD: &str = include_str!("../plan/starter/plan.md");

fn init(ctx: &Ctx) -> Result<u8> {
    let ws = ctx.workspace()?;
    let path = ws.plan_path();
    if path.exists() || path.is_symlink() {
        bail!(
            "{}: a plan is already there; nothing changed (edit it, or remove it to start over)",
            path.display()
        );
    }
    let dir = ws.plan_dir();
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("{}: cannot create the project directory", dir.display()))?;
    let wrote_md = create_new(&dir.join("plan.md"), STARTER_MD)?;
    if !create_new(&path, STARTER_PLAN)? {
        bail!(
            "{}: a plan appeared while this one was written; nothing replaced",
            path.display()
        );
    }
    ctx.ui.note(&format!(
        "swarm: wrote a starter plan to {}{}",
        path.display(),
        if wrote_md {
            " and plan.md beside it"
        } else {
            ""
        }
    ));
    ctx.ui.note(
        "next: edit the tasks (and plan.md), then `swarm plan validate`, `swarm plan simulate`, `swarm setup`",
    );
    Ok(EXIT_OK)
}

/// Writes `text` to `path` durably unless `path` exists (then returns false and writes
/// nothing): staged in a temp file, then hard-linked into place, which never replaces.
fn create_new(path: &Path, text: &str) -> Result<bool> {
    if path.exists() || path.is_symlink() {
        return Ok(false);
    }
    let staged = crate::atomic::stage(path, |out| out.write_all(text.as_bytes()))
        .with_context(|| format!("{}: cannot write", path.display()))?;
    crate::atomic::sync_all_staged(std::slice::from_ref(&staged))
        .with_context(|| format!("{}: cannot write", path.display()))?;
    let installed = staged
        .link_new()
        .with_context(|| format!("{}: cannot write", path.display()))?;
    Ok(installed)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_starter_plan_is_valid() {
        let plan =
            crate::plan::Plan::parse(std::path::Path::new("status.json"), super::STARTER_PLAN)
                .unwrap();
        assert_eq!(plan.tasks.len(), 4);
        assert_eq!(plan.join_points.len(), 2);
    }
}
