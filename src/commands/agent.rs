//! `swarm agent heartbeat|needs-input|hook`: what an agent (or its CLI's hooks) tells swarm.

use super::{Ctx, EXIT_OK};
use crate::cli::{AgentArg, AgentCommand, HookEvent};
use crate::error::usage;
use crate::registry::model::{format_time, NeedsInput};
use crate::store::Actor;
use crate::workspace::Workspace;
use anyhow::Result;
use serde_json::Value;

pub fn exec(ctx: &Ctx, cmd: AgentCommand) -> Result<u8> {
    match cmd {
        AgentCommand::Heartbeat { agent } => {
            let (ws, actor) = who(ctx, &agent, "agent heartbeat")?;
            ws.begin(Some(&actor))?.commit()?;
            ctx.ui.detail(&format!("swarm: {} is alive", actor.id));
            Ok(EXIT_OK)
        }
        AgentCommand::NeedsInput {
            agent,
            kind,
            message,
        } => {
            let (ws, actor) = who(ctx, &agent, "agent needs-input")?;
            let payload = match &message {
                Some(_) => Value::Null,
                None => read_payload(),
            };
            let kind = kind
                .or_else(|| text(&payload, "notification_type"))
                .unwrap_or_else(|| "needs_input".into());
            let message = message
                .or_else(|| text(&payload, "message"))
                .unwrap_or_default();
            needs_input(&ws, &actor, kind, message)?;
            Ok(EXIT_OK)
        }
        AgentCommand::Hook { event, agent } => {
            let (ws, actor) = who(ctx, &agent, "agent hook")?;
            let payload = read_payload();
            match event {
                HookEvent::Notification => {
                    let kind = text(&payload, "notification_type")
                        .unwrap_or_else(|| "notification".into());
                    let message = text(&payload, "message").unwrap_or_default();
                    needs_input(&ws, &actor, kind, message)?;
                }
                HookEvent::SessionStart => {
                    let mut txn = ws.begin(Some(&actor))?;
                    if let Some(session) = text(&payload, "session_id") {
                        txn.set_session(&actor.id, &session);
                    }
                    txn.commit()?
                }
                HookEvent::Stop => {
                    let continuing = payload["stop_hook_active"].as_bool() == Some(true);
                    if let Some(reason) = stop_check(&ws, &actor)? {
                        // Claude goes on when told to block, once per stop: a stop that is
                        // already a continuation is let through (no endless loop).
                        if !continuing {
                            let reply = serde_json::json!({"decision": "block", "reason": reason});
                            crate::output::lines([reply.to_string()])?;
                        }
                    }
                }
            }
            Ok(EXIT_OK)
        }
    }
}

/// The workspace and the agent acting (by its lease).
fn who(ctx: &Ctx, agent: &AgentArg, what: &str) -> Result<(Workspace, Actor)> {
    let Some(given) = agent.agent.as_deref().filter(|a| !a.is_empty()) else {
        return Err(usage(format!(
            "{what} needs an agent id: pass --agent ID or set SWARM_AGENT_ID"
        )));
    };
    let ws = ctx.workspace()?;
    let actor = super::task::leased(&ws, given)?;
    Ok((ws, actor))
}

/// The hook's JSON on stdin (`null` when there is none, or it is not JSON).
fn read_payload() -> Value {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        return Value::Null;
    }
    std::io::read_to_string(std::io::stdin())
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null)
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

/// Records that `actor` waits for a person, until it acts again, and says so to `--notify`.
fn needs_input(ws: &Workspace, actor: &Actor, kind: String, message: String) -> Result<()> {
    crate::agent::notify::notify(None, "needs-input", &format!("{}: {message}", actor.id));
    let mut txn = ws.begin(Some(actor))?;
    let since = format_time(txn.now());
    txn.set_needs_input(
        &actor.id,
        NeedsInput {
            kind,
            message,
            since,
        },
    );
    txn.commit()
}

/// Why the agent should not stop yet: it still holds a task that is in progress.
fn stop_check(ws: &Workspace, actor: &Actor) -> Result<Option<String>> {
    let txn = ws.begin(Some(actor))?;
    let held = txn.registry.held_by(&actor.id);
    txn.commit()?;
    Ok(held.first().map(|t| {
        let t = crate::agent::prompt::shell_word(t);
        format!(
            "You still hold task {t}, which is in progress. Finish it: commit your work, then run `swarm task done {t}`. If you cannot finish it, run `swarm task release {t}` and say why. Then you may stop."
        )
    }))
}
