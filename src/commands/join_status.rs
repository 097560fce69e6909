//! `swarm join-status`: is the join point reached? Exit 0 when ready, 3 when not.

use super::{Ctx, EXIT_NOT_READY, EXIT_OK};
use crate::cli::JoinStatusArgs;
use crate::ops::join::{self, JoinReport};
use crate::ui;
use anyhow::{bail, Result};

pub fn exec(ctx: &Ctx, args: &JoinStatusArgs) -> Result<u8> {
    let ws = ctx.workspace()?;
    let (plan, registry) = ws.snapshot()?;
    let points: Vec<_> = match &args.point {
        Some(name) => match plan.join_points.iter().find(|p| &p.name == name) {
            Some(p) => vec![p],
            None => {
                let known: Vec<&str> = plan.join_points.iter().map(|p| p.name.as_str()).collect();
                bail!(
                    "{}: no join point {name:?} (the plan has: {})",
                    plan.path().display(),
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                );
            }
        },
        None => plan.join_points.iter().collect(),
    };
    if points.is_empty() {
        bail!("{}: the plan defines no joinPoints", plan.path().display());
    }
    let live = registry.live_agents();
    let schedule = join::schedule(&plan, &registry, live);
    let mut reports: Vec<JoinReport> = points
        .iter()
        .map(|p| join::report(&plan, &registry, p, &schedule))
        .collect();
    if ws.integration_branch(&plan).is_some() {
        let repo = crate::git::open(&ws.main_root)?;
        for r in &mut reports {
            r.commit = Some(join::join_commit(&repo, r));
        }
    }
    let all_ready = reports.iter().all(|r| r.ready);
    if args.json {
        match reports.as_slice() {
            [one] => crate::output::json(one)?,
            many => crate::output::json(many)?,
        }
    } else {
        let mut lines = Vec::new();
        for r in &reports {
            render(ctx, r, &mut lines);
        }
        crate::output::lines(lines)?;
    }
    Ok(if all_ready { EXIT_OK } else { EXIT_NOT_READY })
}

fn render(ctx: &Ctx, r: &JoinReport, out: &mut Vec<String>) {
    let ui = &ctx.ui;
    let verdict = if r.ready { "Ready" } else { "Not Ready" };
    let eta = match r.eta() {
        e if e.is_empty() => e,
        e => format!("; {e}"),
    };
    let at = match &r.commit {
        Some(Some(c)) => format!(" at {}", &c[..c.len().min(9)]),
        _ => String::new(),
    };
    out.push(format!(
        "{}: {}{at} ({}/{} done{eta})",
        ui.bold_out(&r.point),
        ui.verdict_out(r.ready, verdict),
        r.done,
        r.total
    ));
    let id_w = r
        .tasks
        .iter()
        .map(|t| t.id.chars().count())
        .max()
        .unwrap_or(0);
    for t in &r.tasks {
        let line = format!(
            "  {}  {}  {:>4}  {}",
            ui::pad(&t.id, t.id.chars().count(), id_w),
            ui::pad(
                &ui.status_out(t.status, t.status.as_str()),
                t.status.as_str().len(),
                11
            ),
            ui::percent(t.progress),
            t.agent.as_deref().unwrap_or("-")
        );
        let line = match &t.failure {
            Some(f) => format!("{line}  ({f})"),
            None => line,
        };
        out.push(line.trim_end().to_string());
    }
}
