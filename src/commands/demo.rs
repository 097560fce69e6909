//! `swarm demo`: the whole flow on a sample plan, in a new directory, with simulated agents.

use super::{Ctx, EXIT_OK};
use crate::cli::{DemoAgentArgs, DemoArgs};
use crate::demo::{self, DemoOptions};
use crate::error::usage;
use anyhow::Result;

pub fn exec(ctx: &Ctx, args: &DemoArgs) -> Result<u8> {
    if !(args.pace.is_finite() && (0.0..=60.0).contains(&args.pace)) {
        return Err(usage(format!(
            "invalid --pace {}: expected seconds from 0 to 60",
            args.pace
        )));
    }
    let result = demo::run(&DemoOptions {
        agents: args.agents,
        dir: args.dir.clone(),
        pace: args.pace,
        color: ctx.ui.color_err,
    })?;
    let ui = &ctx.ui;
    ui.note(&format!(
        "\nswarm demo: done — {}/{} tasks reviewed, {} commits on main",
        result.reviewed.0, result.reviewed.1, result.commits
    ));
    ui.note(&format!(
        "swarm demo: the result is in {}\n  git -C {} log --oneline --graph\n  swarm -C {} --tasks-dir {} list\n(remove the directory when you are done with it)",
        result.root.display(),
        result.repo.display(),
        result.repo.display(),
        result.root.join("tasks").display()
    ));
    crate::output::lines([result.repo.display().to_string()])?;
    Ok(EXIT_OK)
}

pub fn exec_agent(args: &DemoAgentArgs) -> Result<u8> {
    demo::agent::run(args.pace)?;
    Ok(EXIT_OK)
}
