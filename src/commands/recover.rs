//! `swarm recover [--dry-run]`: reconcile now and say what it found.

use super::{Ctx, EXIT_OK};
use crate::cli::RecoverArgs;
use crate::events::Event;
use anyhow::Result;

pub fn exec(ctx: &Ctx, args: &RecoverArgs) -> Result<u8> {
    let ws = ctx.workspace()?;
    if !ws.is_set_up() {
        ws.load_plan()?;
        ctx.ui
            .note("swarm: not set up yet (no registry): nothing to recover");
        return Ok(EXIT_OK);
    }
    let txn = ws.begin(None)?;
    let events: Vec<Event> = txn.events().to_vec();
    let now = txn.now();
    if args.dry_run {
        // Dropped without committing: nothing is written.
        drop(txn);
    } else {
        let (_, registry) = txn.finish()?;
        let repo = crate::git::open(&ws.main_root)?;
        let lease = ws.settings.lease;
        for line in crate::ops::cleanup::clean_worktrees(&repo, &registry, now, lease) {
            ctx.ui.note(&format!("swarm: {line}"));
        }
    }
    if args.json {
        crate::output::lines(
            events
                .iter()
                .map(serde_json::to_string)
                .collect::<Result<Vec<_>, _>>()?,
        )?;
    } else {
        crate::output::lines(events.iter().map(super::log::render))?;
    }
    let verb = if args.dry_run { "would make" } else { "made" };
    ctx.ui.note(&match events.len() {
        0 => "swarm: registry and plan agree; no dead agents".to_string(),
        n => format!("swarm: recover {verb} {n} change(s)"),
    });
    Ok(EXIT_OK)
}
