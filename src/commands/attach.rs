//! `swarm attach AGENT`: show the tmux pane an agent runs in.

use super::{Ctx, EXIT_OK};
use crate::cli::AttachArgs;
use anyhow::{bail, Result};

pub fn exec(ctx: &Ctx, args: &AttachArgs) -> Result<u8> {
    let ws = ctx.workspace()?;
    let agent = ws.resolve_agent(&args.agent)?;
    let (_, registry) = ws.snapshot()?;
    let Some(entry) = registry.agents.get(&agent) else {
        bail!("no agent {agent:?} (see `swarm agents --all`)");
    };
    let Some(pane) = entry.tmux_pane.as_deref() else {
        bail!(
            "agent {agent} does not run in a tmux pane (launch -n N --tmux starts agents in panes)"
        );
    };
    if entry.is_retired() {
        ctx.ui.warn(&format!(
            "agent {agent} is {}; its pane may be gone",
            entry.state.as_deref().unwrap_or("retired")
        ));
    }
    let argv = crate::ops::tmux::attach_argv(pane, std::env::var_os("TMUX").is_some());
    if args.print {
        crate::output::lines([argv
            .iter()
            .map(|w| crate::agent::prompt::shell_word(w))
            .collect::<Vec<_>>()
            .join(" ")])?;
        return Ok(EXIT_OK);
    }
    let err = std::os::unix::process::CommandExt::exec(
        std::process::Command::new(&argv[0]).args(&argv[1..]),
    );
    bail!("cannot run tmux: {err}")
}
