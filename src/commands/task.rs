//! `swarm task claim|update|done|release|show`: what agents call from their worktree.

use super::{Ctx, EXIT_NOT_READY, EXIT_OK};
use crate::cli::{AgentArg, TaskCommand};
use crate::error::usage;
use crate::ids;
use crate::ops::claim::{self, ClaimOutcome, Target};
use crate::ops::list::{self, Filter};
use crate::ops::task::{self, Update};
use crate::store::Actor;
use crate::ui;
use crate::workspace::Workspace;
use anyhow::Result;
use serde::Serialize;

/// `task claim --json`.
#[derive(Debug, Serialize)]
struct ClaimJson<'a> {
    task: Option<&'a str>,
    agent: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

pub fn exec(ctx: &Ctx, cmd: TaskCommand) -> Result<u8> {
    match cmd {
        TaskCommand::Claim {
            id,
            next,
            as_agent,
            wait,
            agent,
            json,
        } => {
            let Some(given) = agent.agent.as_deref().filter(|a| !a.is_empty()) else {
                return Err(usage(
                    "task claim needs an agent id: pass --agent ID or set SWARM_AGENT_ID",
                ));
            };
            let target = match (next, id) {
                (_, Some(id)) => Target::Id(id),
                _ => Target::Next,
            };
            // clap's `requires = "next"` on a flag does not catch `--wait ID`.
            if let (true, Target::Id(id)) = (wait, &target) {
                return Err(usage(format!(
                    "--wait goes with --next (it waits for the next ready task), not with a task id ({id})"
                )));
            }
            let ws = ctx.workspace()?;
            let actor = leased(&ws, given)?;
            // With an integration branch, the agent's worktree takes in what landed before
            // its next task starts: it must be clean.
            let worktree = integrated_worktree(&ws, &actor)?;
            let outcome = if wait {
                claim::claim_waiting(&ws, &actor, as_agent.as_deref(), |why| {
                    ctx.ui
                        .note(&format!("swarm: waiting for a task to become ready: {why}"))
                })?
            } else {
                claim::claim(&ws, &actor, &target, as_agent.as_deref())?
            };
            // A claim served by another process's write comes without its title: read it from
            // the plan (replaced whole by every write, so readable without the lock) when shown.
            let outcome = match outcome {
                ClaimOutcome::Claimed { task, title }
                    if title.is_empty() && (json || !ctx.ui.quiet) =>
                {
                    let title = ws
                        .load_plan()
                        .ok()
                        .and_then(|p| p.find(&task).map(|i| p.tasks[i].title.clone()))
                        .unwrap_or_default();
                    ClaimOutcome::Claimed { task, title }
                }
                other => other,
            };
            if let (Some(w), ClaimOutcome::Claimed { .. }) = (&worktree, &outcome) {
                // The task is claimed: what follows only warns.
                let refreshed = ws
                    .load_plan()
                    .map_err(anyhow::Error::from)
                    .and_then(|plan| crate::ops::land::refresh(&ws, &plan, w));
                match refreshed {
                    Ok(Some(what)) => ctx.ui.note(&format!("swarm: {what}")),
                    Ok(None) => {}
                    Err(e) => ctx.ui.warn(&format!("{e:#}")),
                }
            }
            render_claim(ctx, &actor, &outcome, json)
        }
        TaskCommand::Update {
            id,
            status,
            progress,
            agent,
            force,
        } => {
            if status.is_none() && progress.is_none() {
                return Err(usage("task update needs --status and/or --progress"));
            }
            let ws = ctx.workspace()?;
            let actor = actor(&ws, &agent)?;
            let done = task::update(
                &ws,
                actor.as_ref(),
                &id,
                &Update {
                    status,
                    progress,
                    force,
                },
            )?;
            report(ctx, &done);
            Ok(EXIT_OK)
        }
        TaskCommand::Done {
            id,
            agent,
            force,
            resolve,
        } => {
            let ws = ctx.workspace()?;
            let actor = actor(&ws, &agent)?;
            let opts = crate::ops::land::LandOptions { resolve };
            let mut say = |line: String| ctx.ui.note(&format!("swarm: {line}"));
            let (done, landed) = task::done(&ws, actor.as_ref(), &id, force, opts, &mut say)?;
            if let Some(l) = &landed {
                let verified = match &l.verified {
                    Some(v) => format!(
                        ", verified by {} in {:.1} s",
                        v.command,
                        v.duration.as_secs_f64()
                    ),
                    None => String::new(),
                };
                ctx.ui.note(&format!(
                    "swarm: {} landed on {} at {}{verified}",
                    l.task,
                    l.branch,
                    crate::git::short(l.commit)
                ));
            }
            report(ctx, &done);
            // The last task done: the plan is finished (said once, to --notify's command).
            if let Ok(plan) = ws.load_plan() {
                if plan.tasks.iter().all(|t| t.status.is_done()) {
                    let what = format!("all {} tasks are done", plan.tasks.len());
                    crate::agent::notify::finished_once(&ws, None, &what);
                }
            }
            Ok(EXIT_OK)
        }
        TaskCommand::Release { id, agent, force } => {
            let ws = ctx.workspace()?;
            let actor = actor(&ws, &agent)?;
            let done = task::release(&ws, actor.as_ref(), &id, force)?;
            report(ctx, &done);
            Ok(EXIT_OK)
        }
        TaskCommand::Reopen { id } => {
            let ws = ctx.workspace()?;
            let done = task::reopen(&ws, &id)?;
            report(ctx, &done);
            Ok(EXIT_OK)
        }
        TaskCommand::Show { id, json } => show(ctx, &id, json),
    }
}

/// The agent acting (`--agent` / `SWARM_AGENT_ID`), if any.
pub(super) fn actor(ws: &Workspace, arg: &AgentArg) -> Result<Option<Actor>> {
    let given = arg.agent.as_deref().filter(|a| !a.is_empty());
    given.map(|g| leased(ws, g)).transpose()
}

/// The worktree of `actor` when the plan has an integration branch and swarm knows the
/// agent's worktree; refused when it has uncommitted changes (what landed could not be
/// brought in before the next task).
fn integrated_worktree(ws: &Workspace, actor: &Actor) -> Result<Option<std::path::PathBuf>> {
    let (plan, registry) = ws.snapshot()?;
    if ws.integration_branch(&plan).is_none() {
        return Ok(None);
    }
    let Some(w) = registry
        .agents
        .get(&actor.id)
        .and_then(|a| a.worktree.as_deref())
        .map(std::path::PathBuf::from)
        .filter(|w| w.is_dir())
    else {
        return Ok(None);
    };
    let dirty = crate::git::safety::uncommitted(&w)?;
    if !dirty.is_empty() {
        anyhow::bail!(
            "{} has uncommitted changes ({}): commit them first, so that what landed can be brought in before the next task",
            w.display(),
            dirty.join(", ")
        );
    }
    Ok(Some(w))
}

/// The agent `given` names (an id or a display name), acting by its lease.
pub(super) fn leased(ws: &Workspace, given: &str) -> Result<Actor> {
    let id = ws.resolve_agent(given)?;
    ids::check_agent_id(&id)?;
    Ok(Actor::leased(&id))
}

fn render_claim(ctx: &Ctx, actor: &Actor, outcome: &ClaimOutcome, json: bool) -> Result<u8> {
    let (task, title, reason) = match outcome {
        ClaimOutcome::Claimed { task, title } | ClaimOutcome::AlreadyHeld { task, title } => {
            (Some(task.as_str()), Some(title.as_str()), None)
        }
        ClaimOutcome::NotReady(why) => (None, None, Some(why.as_str())),
    };
    if json {
        let title = title.filter(|t| !t.is_empty());
        crate::output::json(&ClaimJson {
            task,
            agent: &actor.id,
            title,
            reason,
        })?;
    } else if let Some(task) = task {
        crate::output::lines([task.to_string()])?;
    }
    match outcome {
        ClaimOutcome::Claimed { task, title } => {
            let title = if title.is_empty() {
                String::new()
            } else {
                format!(" ({title})")
            };
            ctx.ui
                .note(&format!("swarm: {} claimed {task}{title}", actor.id));
            Ok(EXIT_OK)
        }
        ClaimOutcome::AlreadyHeld { task, .. } => {
            ctx.ui
                .note(&format!("swarm: {} already holds {task}", actor.id));
            Ok(EXIT_OK)
        }
        ClaimOutcome::NotReady(why) => {
            ctx.ui.note(&format!("swarm: nothing to claim: {why}"));
            Ok(EXIT_NOT_READY)
        }
    }
}

fn report(ctx: &Ctx, u: &task::Updated) {
    let status = ctx.ui.status_err(u.to, u.to.as_str());
    let progress = u.progress.map(|p| format!(", {p}%")).unwrap_or_default();
    let change = if u.from == u.to {
        status
    } else {
        format!("{} -> {status}", u.from)
    };
    ctx.ui
        .note(&format!("swarm: {}: {change}{progress}", u.task));
}

/// `task show --json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TaskDetail {
    #[serde(flatten)]
    row: list::TaskRow,
    description: String,
    blocks: Vec<String>,
    claimed_at: Option<String>,
    previous_branch: Option<String>,
    /// Every recorded run of an agent on it (`runs` in the plan).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    runs: Vec<serde_json::Value>,
}

fn show(ctx: &Ctx, id: &str, json: bool) -> Result<u8> {
    let ws = ctx.workspace()?;
    let (plan, registry) = ws.snapshot()?;
    let Some(i) = plan.find(id) else {
        anyhow::bail!("{}: no task {id:?} in the plan", plan.path().display());
    };
    let ready = list::readiness(&plan, &registry);
    let rows = list::rows(&plan, &registry, &ready, &Filter::default());
    let row = rows[i].clone();
    let detail = TaskDetail {
        description: plan.tasks[i].description.clone(),
        blocks: plan
            .tasks
            .iter()
            .filter(|t| t.blocked_by.contains(&i))
            .map(|t| t.id.clone())
            .collect(),
        claimed_at: registry
            .claimed_tasks
            .get(id)
            .and_then(|c| c.claimed_at.clone()),
        previous_branch: plan.previous_branch(i),
        runs: plan
            .field(i, "runs")
            .and_then(|r| r.as_array().cloned())
            .unwrap_or_default(),
        row,
    };
    if json {
        crate::output::json(&detail)?;
        return Ok(EXIT_OK);
    }
    let ui = &ctx.ui;
    let r = &detail.row;
    let mut out = vec![format!(
        "{}  {}  {}",
        ui.bold_out(&r.id),
        ui.status_out(r.status, r.status.as_str()),
        r.title
    )];
    out.push(format!(
        "  agent: {}   progress: {}   attempts: {}   priority: {}   estimate: {}",
        r.agent.as_deref().unwrap_or("-"),
        ui::percent(r.progress),
        r.attempts,
        r.priority,
        r.estimate_hours.map_or("-".into(), ui::hours)
    ));
    if r.cost_usd.is_some() || r.turns.is_some() {
        out.push(format!(
            "  spent: {}   turns: {}",
            r.cost_usd.map_or("-".into(), |c| format!("${c:.2}")),
            r.turns.map_or("-".into(), |t| t.to_string())
        ));
    }
    let blockers: Vec<String> = r
        .blocked_by
        .iter()
        .filter_map(|b| rows.iter().find(|x| &x.id == b))
        .map(|b| format!("{} ({})", b.id, b.status))
        .collect();
    out.push(format!(
        "  blocked by: {}",
        if blockers.is_empty() {
            "-".into()
        } else {
            blockers.join(", ")
        }
    ));
    out.push(format!(
        "  blocks: {}",
        if detail.blocks.is_empty() {
            "-".into()
        } else {
            detail.blocks.join(", ")
        }
    ));
    let readiness = if r.ready {
        "ready".to_string()
    } else if !r.waiting_for.is_empty() {
        format!("waits for {}", r.waiting_for.join(", "))
    } else {
        format!("not ready ({})", r.status)
    };
    out.push(format!("  {readiness}"));
    if let Some(at) = &detail.claimed_at {
        out.push(format!("  claimed at: {at}"));
    }
    if let Some(b) = &detail.previous_branch {
        out.push(format!("  previous attempt: {b}"));
    }
    if !detail.description.is_empty() {
        out.push(String::new());
        out.extend(detail.description.lines().map(|l| format!("  {l}")));
    }
    crate::output::lines(out)?;
    Ok(EXIT_OK)
}
