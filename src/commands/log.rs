//! `swarm log [--task T] [--agent A]`: the event log, filtered.

use super::{Ctx, EXIT_OK};
use crate::cli::LogArgs;
use crate::events::{self, Event};
use anyhow::{Context, Result};

pub fn exec(ctx: &Ctx, args: &LogArgs) -> Result<u8> {
    let ws = ctx.workspace()?;
    let path = ws.events_path();
    let agent = args
        .agent
        .as_deref()
        .map(|a| ws.resolve_agent(a))
        .transpose()?;
    let all = events::read(&path).with_context(|| format!("{}: cannot read", path.display()))?;
    let mut shown: Vec<&Event> = all
        .iter()
        .filter(|e| {
            args.task
                .as_ref()
                .is_none_or(|t| e.task.as_ref() == Some(t))
        })
        .filter(|e| agent.as_ref().is_none_or(|a| e.agent.as_ref() == Some(a)))
        .collect();
    if let Some(n) = args.last {
        shown.drain(..shown.len().saturating_sub(n));
    }
    if args.json {
        let lines = shown
            .iter()
            .map(serde_json::to_string)
            .collect::<Result<Vec<_>, _>>()?;
        crate::output::lines(lines)?;
    } else {
        crate::output::lines(shown.iter().map(|e| render(e)))?;
    }
    if shown.is_empty() {
        ctx.ui
            .note(&format!("swarm: no events in {}", path.display()));
    }
    Ok(EXIT_OK)
}

/// One event on one line: time, what, agent, task, transition, why.
pub fn render(e: &Event) -> String {
    let mut line = format!(
        "{}  {:<10} {:<24} {}",
        e.time,
        e.event,
        e.agent.as_deref().unwrap_or("-"),
        e.task.as_deref().unwrap_or("-")
    );
    if let (Some(from), Some(to)) = (&e.from, &e.to) {
        line.push_str(&format!("  {from} -> {to}"));
    }
    if let Some(d) = &e.detail {
        line.push_str(&format!("  ({d})"));
    }
    line.trim_end().to_string()
}
