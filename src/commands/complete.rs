//! `swarm complete AGENT`: reviewed, delivered (PR / merge / archive), worktree removed safely.

use super::{Ctx, EXIT_OK};
use crate::cli::CompleteArgs;
use crate::ops::complete::{self, CompleteRequest, Delivery};
use anyhow::Result;

pub fn exec(ctx: &Ctx, args: &CompleteArgs) -> Result<u8> {
    let ws = ctx.workspace()?;
    let delivery = if args.pr {
        Some(Delivery::Pr)
    } else if args.merge {
        Some(Delivery::Merge)
    } else if args.archive {
        Some(Delivery::Archive)
    } else {
        None
    };
    let Some(agent) = &args.agent else {
        return deliver(ctx, &ws, args, delivery);
    };
    let agent = ws.resolve_agent(agent)?;
    crate::ids::check_agent_id(&agent)?;
    let req = CompleteRequest {
        agent: agent.clone(),
        delivery,
        base: args.base.clone(),
        force: args.force,
    };
    if args.dry_run {
        let planned = complete::plan(&ws, &req)?;
        ctx.ui.note(&format!(
            "swarm: complete {} would (nothing changed):",
            agent
        ));
        let lines = planned.steps.iter().map(|s| format!("  {s}"));
        crate::output::lines(lines)?;
        if planned.steps.is_empty() {
            ctx.ui.note("  nothing to do");
        }
        return Ok(EXIT_OK);
    }
    let done = complete::complete(&ws, &req)?;
    for note in &done.notes {
        ctx.ui.note(&format!("swarm: {note}"));
    }
    ctx.ui.note(&format!("swarm: agent {} is complete", agent));
    Ok(EXIT_OK)
}

/// `complete` with no agent: the integration branch delivered.
fn deliver(
    ctx: &Ctx,
    ws: &crate::workspace::Workspace,
    args: &CompleteArgs,
    delivery: Option<Delivery>,
) -> Result<u8> {
    let req = complete::DeliverRequest {
        delivery,
        base: args.base.clone(),
    };
    if args.dry_run {
        let planned = complete::plan_delivery(ws, &req)?;
        ctx.ui.note("swarm: complete would (nothing changed):");
        crate::output::lines(planned.steps.iter().map(|s| format!("  {s}")))?;
        if planned.steps.is_empty() {
            ctx.ui.note("  nothing to do");
        }
        for note in &planned.notes {
            ctx.ui.note(&format!("swarm: {note}"));
        }
        return Ok(EXIT_OK);
    }
    let done = complete::deliver(ws, &req)?;
    for note in &done.notes {
        ctx.ui.note(&format!("swarm: {note}"));
    }
    if done.steps.is_empty() {
        ctx.ui
            .note("swarm: nothing delivered (pass --merge or --pr) and no worktree to remove");
    }
    Ok(EXIT_OK)
}
