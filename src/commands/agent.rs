//! `swarm agent heartbeat`: renew an agent's lease.

use super::{Ctx, EXIT_OK};
use crate::cli::AgentCommand;
use crate::error::usage;
use anyhow::Result;

pub fn exec(ctx: &Ctx, cmd: AgentCommand) -> Result<u8> {
    match cmd {
        AgentCommand::Heartbeat { agent } => {
            let Some(given) = agent.agent.as_deref().filter(|a| !a.is_empty()) else {
                return Err(usage(
                    "agent heartbeat needs an agent id: pass --agent ID or set SWARM_AGENT_ID",
                ));
            };
            let ws = ctx.workspace()?;
            let actor = super::task::leased(&ws, given)?;
            let txn = ws.begin(Some(&actor))?;
            txn.commit()?;
            ctx.ui.detail(&format!("swarm: {} is alive", actor.id));
            Ok(EXIT_OK)
        }
    }
}
