//! `swarm launch`: claim, make the worktree, then become the agent (or print how to start it).

use super::{Ctx, EXIT_NOT_READY, EXIT_OK};
use crate::agent::{AgentCommand, CommandSource, Mode};
use crate::cli::LaunchArgs;
use crate::ops::launch::{self, LaunchOutcome, LaunchRequest, Launched};
use anyhow::Result;
use serde::Serialize;

/// `launch --no-exec --json`.
#[derive(Debug, Serialize)]
struct LaunchJson<'a> {
    agent: &'a str,
    name: &'a str,
    task: &'a str,
    worktree: String,
    branch: &'a str,
    argv: &'a [String],
    env: std::collections::BTreeMap<&'a str, String>,
}

/// `launch --dry-run --json`.
#[derive(Debug, Serialize)]
struct PreviewJson<'a> {
    agent: &'a str,
    task: Option<&'a str>,
    reason: Option<&'a str>,
    worktree: String,
    branch: &'a str,
}

pub fn exec(ctx: &Ctx, args: &LaunchArgs) -> Result<u8> {
    let ws = ctx.workspace()?;
    let req = LaunchRequest {
        as_agent: args.as_agent.clone(),
        source: match &args.agent_cmd {
            Some(t) => CommandSource::Template(t.clone()),
            None => CommandSource::Preset(args.agent),
        },
        mode: Mode::Interactive,
        base: args.base.clone(),
        worktree_root: args.worktree_root.clone(),
        exec: !args.no_exec,
    };
    if args.dry_run {
        return preview(ctx, &ws, &req, args.json);
    }
    let launched = match launch::launch(&ws, &req)? {
        LaunchOutcome::NotReady(why) => {
            ctx.ui.note(&format!(
                "swarm: nothing to launch: {why}; no branch or worktree was created"
            ));
            return Ok(EXIT_NOT_READY);
        }
        LaunchOutcome::Ready(l) => l,
    };
    let ui = &ctx.ui;
    ui.note(&format!(
        "swarm: {} ({}) claimed {}{}",
        launched.agent,
        launched.name,
        launched.task,
        if launched.title.is_empty() {
            String::new()
        } else {
            format!(" — {}", launched.title)
        }
    ));
    let made = if launched.created_worktree {
        "created"
    } else {
        "using existing"
    };
    ui.note(&format!(
        "swarm: {made} worktree {} on branch {}",
        launched.worktree.display(),
        launched.branch
    ));
    if let Some(prev) = &launched.continues {
        ui.note(&format!(
            "swarm: continuing from {prev}: a previous attempt left commits there"
        ));
    }
    if args.no_exec {
        print_launched(&launched, args.json)?;
        return Ok(EXIT_OK);
    }
    ui.note(&format!("swarm: starting {}", launched.command.argv[0]));
    let err = become_agent(&launched.command);
    let actor = crate::store::Actor {
        id: launched.agent.clone(),
        pid: Some(std::process::id()),
    };
    launch::give_back(&ws, &actor, &launched.task);
    Err(err.context(format!("task {} was given back", launched.task)))
}

fn print_launched(l: &Launched, json: bool) -> Result<()> {
    if json {
        let env = l
            .command
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.to_string_lossy().into_owned()))
            .collect();
        return crate::output::json(&LaunchJson {
            agent: &l.agent,
            name: &l.name,
            task: &l.task,
            worktree: l.worktree.display().to_string(),
            branch: &l.branch,
            argv: &l.command.argv,
            env,
        });
    }
    crate::output::lines([
        format!("agent {}", l.agent),
        format!("task {}", l.task),
        format!("worktree {}", l.worktree.display()),
        format!("branch {}", l.branch),
        format!("argv {}", serde_json::to_string(&l.command.argv)?),
    ])
}

fn preview(
    ctx: &Ctx,
    ws: &crate::workspace::Workspace,
    req: &LaunchRequest,
    json: bool,
) -> Result<u8> {
    let p = launch::preview(ws, req)?;
    let (task, reason) = match &p.task {
        Ok(t) => (Some(t.as_str()), None),
        Err(why) => (None, Some(why.as_str())),
    };
    if json {
        crate::output::json(&PreviewJson {
            agent: &p.agent,
            task,
            reason,
            worktree: p.worktree.display().to_string(),
            branch: &p.branch,
        })?;
    } else {
        match &p.task {
            Ok(t) => ctx.ui.note(&format!(
                "swarm: would claim {t} as {}, make worktree {} on branch {}, and start the agent there (nothing changed)",
                p.agent,
                p.worktree.display(),
                p.branch
            )),
            Err(why) => ctx
                .ui
                .note(&format!("swarm: nothing to launch: {why} (nothing changed)")),
        }
    }
    Ok(if p.task.is_ok() {
        EXIT_OK
    } else {
        EXIT_NOT_READY
    })
}

/// Replaces this process with the agent: its pid is the one registered, so liveness follows
/// the agent itself. Returns only on failure.
#[cfg(unix)]
fn become_agent(cmd: &AgentCommand) -> anyhow::Error {
    use std::os::unix::process::CommandExt;
    let err = std::process::Command::new(&cmd.argv[0])
        .args(&cmd.argv[1..])
        .current_dir(&cmd.cwd)
        .envs(cmd.env.iter().map(|(k, v)| (k, v)))
        .exec();
    anyhow::Error::new(err).context(format!(
        "cannot start {} in {}",
        cmd.argv[0],
        cmd.cwd.display()
    ))
}

/// Without exec, run the agent as a child and wait: the registered pid is this process.
#[cfg(not(unix))]
fn become_agent(cmd: &AgentCommand) -> anyhow::Error {
    let status = std::process::Command::new(&cmd.argv[0])
        .args(&cmd.argv[1..])
        .current_dir(&cmd.cwd)
        .envs(cmd.env.iter().map(|(k, v)| (k, v)))
        .status();
    match status {
        Ok(s) => std::process::exit(s.code().unwrap_or(1)),
        Err(e) => anyhow::Error::new(e).context(format!("cannot start {}", cmd.argv[0])),
    }
}
