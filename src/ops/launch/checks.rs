//! What a launch checks before anything changes: the agent's program, its permissions, and
//! that the agent is not running already.

use super::LaunchRequest;
use crate::agent::{self, CommandSource};
use crate::registry::liveness::{self, Liveness};
use crate::store::{Actor, Txn};
use anyhow::{bail, Result};

/// Claude Code refuses `bypassPermissions` as root outside a sandbox it recognises: said
/// before anything changes, instead of a failed run.
pub(super) fn check_permissions(req: &LaunchRequest) -> Result<()> {
    let claude = matches!(
        req.source,
        CommandSource::Preset(crate::agent::Preset::Claude)
    );
    let bypass = req.options.permissions == crate::agent::Permissions::Bypass;
    let sandbox = std::env::var_os("IS_SANDBOX").is_some_and(|v| v == "1");
    if claude && bypass && rustix::process::geteuid().is_root() && !sandbox {
        bail!(
            "--permissions bypass: Claude Code refuses to skip permissions as root outside a sandbox it recognises; run swarm as a normal user, choose --permissions auto, or set IS_SANDBOX=1 if this machine really is a disposable sandbox"
        );
    }
    Ok(())
}

/// Fails early, before anything changes, when the agent's program is not on PATH.
pub(super) fn check_program(source: &CommandSource) -> Result<()> {
    let program = match source {
        CommandSource::Preset(p) => p.program().to_string(),
        CommandSource::Template(t) => match agent::template::split(t)
            .map_err(|e| anyhow::anyhow!("--agent-cmd: {e}"))?
            .into_iter()
            .next()
        {
            Some(p) => p,
            None => bail!("--agent-cmd is empty: give the program to run"),
        },
    };
    if agent::on_path(&program) {
        return Ok(());
    }
    if program.contains('/') {
        bail!("agent program {program} does not exist");
    }
    bail!("agent program {program:?} is not on PATH; install it, or choose another with --agent / --agent-cmd")
}

/// A second process acting as the same live agent would share its worktree: refuse. An agent
/// without a process of its own (`--no-exec`, scripts) is taken as running while it is alive
/// by its lease and holds a task.
pub(super) fn refuse_running_twice(txn: &Txn<'_>, actor: &Actor) -> Result<()> {
    let Some(entry) = txn.registry.agents.get(&actor.id) else {
        return Ok(());
    };
    if entry.is_retired() {
        return Ok(());
    }
    let held = txn.registry.held_by(&actor.id);
    // No process of its own and nothing held, or this very process (registered while it
    // waited for a task).
    if entry.pid.is_none() && held.is_empty() || entry.pid == Some(std::process::id()) {
        return Ok(());
    }
    let verdict = liveness::judge(
        entry,
        None,
        &liveness::host_name(),
        txn.now(),
        txn.workspace().settings.lease,
    );
    match (verdict, entry.pid) {
        (Liveness::Alive, Some(pid)) => bail!(
            "agent {} is already running (pid {pid}); one process per agent",
            actor.id
        ),
        (Liveness::Alive, None) => bail!(
            "agent {} holds {} and is alive by its lease (no process of its own to check); one process per agent: if the one working as {} has stopped, give the task back (swarm task release ID --agent {}), then launch again",
            actor.id,
            held.join(", "),
            actor.id,
            actor.id
        ),
        _ => Ok(()),
    }
}
