//! `swarm agents`: registered agents, their task, heartbeat and liveness.

use super::{Ctx, EXIT_OK};
use crate::cli::AgentsArgs;
use anyhow::Result;
use serde::Serialize;

/// One agent as `agents --json` shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AgentRow {
    id: String,
    name: Option<String>,
    state: String,
    current_task: Option<String>,
    claims: Vec<String>,
    pid: Option<u32>,
    host: Option<String>,
    heartbeat: Option<String>,
    worktree: Option<String>,
    branch: Option<String>,
    /// What its headless runs reported they cost, in US dollars, summed.
    #[serde(skip_serializing_if = "Option::is_none")]
    cost_usd: Option<f64>,
    /// Their turns, summed.
    #[serde(skip_serializing_if = "Option::is_none")]
    turns: Option<u64>,
    /// What it waits for a person to answer, since when.
    #[serde(skip_serializing_if = "Option::is_none")]
    needs_input: Option<crate::registry::model::NeedsInput>,
    /// Minutes without a heartbeat or a new commit, when that is more than 15.
    #[serde(skip_serializing_if = "Option::is_none")]
    stalled_minutes: Option<i64>,
    /// Its leased slot (`SWARM_SLOT`), when the plan has a worktree recipe.
    #[serde(skip_serializing_if = "Option::is_none")]
    slot: Option<u32>,
    /// Its leased ports (`SWARM_PORT_0..`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ports: Vec<u16>,
    /// Its agent CLI's session, when swarm learnt it (to resume it after a crash).
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: Option<String>,
}

pub fn exec(ctx: &Ctx, args: &AgentsArgs) -> Result<u8> {
    let ws = ctx.workspace()?;
    let (plan, registry) = ws.snapshot()?;
    let runs_of = |id: &str| -> Vec<&crate::plan::RunSpend> {
        plan.tasks
            .iter()
            .flat_map(|t| &t.runs)
            .filter(|r| r.agent.as_deref() == Some(id))
            .collect()
    };
    let repo = crate::git::open(&ws.main_root).ok();
    let leases = crate::lease::of_plan(&ws);
    let lease_of = |id: &str| leases.iter().find(|l| l.agent == id);
    let rows: Vec<AgentRow> = registry
        .agents
        .iter()
        .filter(|(_, a)| args.all || !a.is_retired())
        .map(|(id, a)| AgentRow {
            id: id.clone(),
            name: a.name.clone(),
            state: a.state.clone().unwrap_or_else(|| "alive".into()),
            current_task: a.current_task.clone(),
            claims: registry.held_by(id),
            pid: a.pid,
            host: a.host.clone(),
            heartbeat: a.heartbeat.clone(),
            worktree: a.worktree.clone(),
            branch: a.branch.clone(),
            cost_usd: runs_of(id)
                .iter()
                .filter_map(|r| r.cost_usd)
                .reduce(|x, y| x + y),
            turns: runs_of(id)
                .iter()
                .filter_map(|r| r.turns)
                .reduce(|x, y| x + y),
            needs_input: a.needs_input.clone(),
            stalled_minutes: crate::ops::activity::stalled_minutes(
                repo.as_ref(),
                a,
                chrono::Utc::now(),
                crate::ops::activity::STALLED_AFTER,
            ),
            // Held by the agent, or by the worktree it set up.
            slot: lease_of(id).map(|l| l.slot),
            ports: lease_of(id).map(|l| l.port_list()).unwrap_or_default(),
            session_id: a.session_id.clone(),
        })
        .collect();
    if args.json {
        crate::output::json(&rows)?;
        return Ok(EXIT_OK);
    }
    let ui = &ctx.ui;
    let id_w = rows.iter().map(|r| r.id.len()).max().unwrap_or(5).max(5);
    let mut lines = vec![ui.bold_out(&format!(
        "{:id_w$}  {:7}  {:8}  {:20}  CLAIMS",
        "AGENT", "STATE", "PID", "HEARTBEAT"
    ))];
    for r in &rows {
        let claims = if r.claims.is_empty() {
            "-".to_string()
        } else {
            r.claims.join(", ")
        };
        lines.push(format!(
            "{:id_w$}  {:7}  {:8}  {:20}  {claims}",
            r.id,
            r.state,
            r.pid.map_or("-".into(), |p| p.to_string()),
            r.heartbeat.as_deref().unwrap_or("-"),
        ));
    }
    let now = chrono::Utc::now();
    for r in &rows {
        if let Some(slot) = r.slot {
            let held = crate::lease::shown(slot, &r.ports);
            lines.push(format!("  {} holds {held}", r.id));
        }
        if let Some(m) = r.stalled_minutes {
            lines.push(format!(
                "  {} looks stalled: no heartbeat and no new commit for {m} minutes",
                r.id
            ));
        }
        if let Some(n) = &r.needs_input {
            let since = crate::registry::model::parse_time(&n.since)
                .map(|t| crate::ui::ago(now, t))
                .unwrap_or_else(|| n.since.clone());
            lines.push(format!(
                "  {} waits for you ({}, {since}): {}",
                r.id, n.kind, n.message
            ));
        }
    }
    crate::output::lines(lines)?;
    let hidden = registry.agents.len() - rows.len();
    if hidden > 0 {
        ui.note(&format!(
            "{} agents shown; {hidden} dead, exited or done (--all shows them)",
            rows.len()
        ));
    }
    Ok(EXIT_OK)
}
