//! `swarm plan validate`, `swarm plan simulate`.

use super::{Ctx, EXIT_OK};
use crate::cli::PlanCommand;
use crate::ops::simulate;
use crate::plan::{Plan, Status};
use crate::registry::Registry;
use crate::ui;
use anyhow::Result;
use std::path::PathBuf;

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
    }
}

fn simulate(ctx: &Ctx, agents: Option<u16>, file: Option<PathBuf>, json: bool) -> Result<u8> {
    let (plan, registry) = match file {
        Some(f) => (Plan::load(&f)?, Registry::default()),
        None => ctx.workspace()?.snapshot()?,
    };
    let live = registry.agents.values().filter(|a| !a.is_retired()).count();
    let agents = match agents {
        Some(n) => usize::from(n),
        None if live > 0 => live,
        None if !plan.agents.is_empty() => plan.agents.len(),
        None => 3,
    };
    let working = |i: usize| {
        let t = &plan.tasks[i];
        t.status == Status::InProgress || t.claimed || registry.claimed_tasks.contains_key(&t.id)
    };
    let r = simulate::report(&plan, agents, working);
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
    lines.push(String::new());
    lines.push(ui.bold_out("AGENTS  DONE IN"));
    for p in &r.sweep {
        let mark = if p.agents == agents { "  <-" } else { "" };
        lines.push(format!("{:>6}  {}{mark}", p.agents, ui::hours(p.makespan)));
    }
    crate::output::lines(lines)?;
    Ok(EXIT_OK)
}
