//! `swarm launch`: claim, make the worktree, then become the agent (or print how to start it).

mod many;

use self::many::many;
use super::{Ctx, EXIT_NOT_READY, EXIT_OK};
use crate::agent::{AgentCommand, CommandSource, Mode};
use crate::cli::LaunchArgs;
use crate::ops::launch::{self, LaunchOutcome, LaunchRequest, Launched, Previous};
use crate::ops::supervise;
use anyhow::Result;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

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
    recipe: &'a crate::ops::recipe::Plan,
}

pub fn exec(ctx: &Ctx, args: &LaunchArgs) -> Result<u8> {
    if !args.fleet_member {
        return exec_one_or_many(ctx, args);
    }
    // One pane of `-n N --tmux`: its exit status, for the launch that watches the panes
    // (tmux does not always learn it).
    let code = exec_one_or_many(ctx, args);
    if let Ok(ws) = ctx.workspace() {
        let shown = match &code {
            Ok(c) => i32::from(*c),
            Err(_) => 1,
        };
        crate::ops::tmux::record_exit(&ws, std::process::id(), shown);
    }
    code
}

fn exec_one_or_many(ctx: &Ctx, args: &LaunchArgs) -> Result<u8> {
    if args.json && !args.no_exec && !args.dry_run {
        return Err(crate::error::usage(
            "--json goes with --no-exec or --dry-run (a launch that starts the agent prints no data)",
        ));
    }
    if let Some(n) = args.count.filter(|_| !args.fleet_member) {
        if n > 1 || args.tmux {
            return many(ctx, args, n);
        }
    }
    let signal = if args.headless {
        Some(watch_signals()?)
    } else {
        None
    };
    let ws = ctx.workspace()?;
    let mut req = LaunchRequest {
        as_agent: args.as_agent.clone(),
        source: match &args.agent_cmd {
            Some(t) => CommandSource::Template(t.clone()),
            None => CommandSource::Preset(args.agent),
        },
        mode: if args.headless {
            Mode::Headless
        } else {
            Mode::Interactive
        },
        base: args.base.clone(),
        worktree_root: args.worktree_root.clone(),
        exec: !args.no_exec,
        fresh: args.fresh,
        agent_id: None,
        options: crate::agent::AgentOptions {
            permissions: match args.permissions {
                Some(p) => p,
                None => ws.load_plan()?.permissions.unwrap_or_default(),
            },
            max_turns: args.max_turns,
            max_budget_usd: args.max_budget_usd,
            // Where `swarm task …` writes, outside the worktree.
            writable: vec![ws.coord_dir.clone(), ws.plan_dir()],
        },
        hooks: !args.no_hooks,
        notify: args.notify.clone(),
    };
    if args.dry_run {
        return preview(ctx, &ws, &req, args.json);
    }
    // --wait (the default for -n N): while nothing is ready but other agents' work may make
    // something ready, wait for it instead of quitting.
    let wait = (args.wait || args.count.is_some()) && !args.no_wait && !args.no_exec;
    let mut told = false;
    let launched = loop {
        match launch::launch(&ws, &req)? {
            LaunchOutcome::Ready(l) => break l,
            LaunchOutcome::NotReady(why) if wait && launch::may_become_ready(&ws)? => {
                if !told {
                    req.agent_id = Some(launch::register_waiting(&ws, &req)?);
                    ctx.ui
                        .note(&format!("swarm: waiting for a task to become ready: {why}"));
                    told = true;
                }
                let until = std::time::Instant::now() + std::time::Duration::from_secs(1);
                while std::time::Instant::now() < until {
                    if let Some(sig) = signal.as_ref().map(|s| s.load(Ordering::SeqCst)) {
                        if sig != 0 {
                            if let Some(id) = &req.agent_id {
                                launch::stop_waiting(&ws, id)?;
                            }
                            ctx.ui.note(&format!(
                                "swarm: stopped by {} while waiting; nothing was claimed",
                                crate::ops::supervise::signal_name(sig as i32)
                            ));
                            return Ok(signal_exit(sig as i32));
                        }
                    }
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
            }
            LaunchOutcome::NotReady(why) => {
                if let Some(id) = &req.agent_id {
                    launch::stop_waiting(&ws, id)?;
                }
                ctx.ui.note(&format!(
                    "swarm: nothing to launch: {why}; no branch or worktree was created"
                ));
                if args.json {
                    crate::output::json(&serde_json::json!({"task": null, "reason": why}))?;
                }
                return Ok(EXIT_NOT_READY);
            }
        }
    };
    crate::ops::tmux::title_pane(&launched.agent, &launched.task);
    let ui = &ctx.ui;
    ui.note(&format!(
        "swarm: {} claimed {}{}",
        launched.agent,
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
    match &launched.previous {
        Some(Previous::Continues(prev)) => ui.note(&format!(
            "swarm: continuing from {prev}: a previous attempt left commits there"
        )),
        Some(Previous::Apart(prev)) => ui.note(&format!(
            "swarm: a previous attempt left commits on {prev}, which the existing branch {} does not have; the agent is told to look at them",
            launched.branch
        )),
        None => {}
    }
    for line in &launched.prepared {
        ui.note(&format!("swarm: {line}"));
    }
    if let Some(line) = launched.takeover.describe(&launched.command) {
        ui.note(&format!("swarm: {line}"));
    }
    if args.base.is_some() && !launched.created_branch {
        ui.note(&format!(
            "swarm: branch {} already existed: --base was not applied to it",
            launched.branch
        ));
    }
    if args.no_exec {
        print_launched(&launched, args.json)?;
        return Ok(EXIT_OK);
    }
    if let Some(signal) = signal {
        return headless(ctx, &ws, &req, &launched, args, &signal);
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
            recipe: &p.recipe,
        })?;
    } else {
        let r = &p.recipe;
        let mut does = Vec::new();
        if !r.include.is_empty() {
            does.push(format!(
                "copies {} file(s) ({})",
                r.include.len(),
                r.include.join(", ")
            ));
        }
        if !r.link.is_empty() {
            does.push(format!("links {}", r.link.join(", ")));
        }
        if !r.copy.is_empty() {
            does.push(format!("copies the folder(s) {}", r.copy.join(", ")));
        }
        if let Some(setup) = &r.setup {
            does.push(format!("runs {setup}"));
        }
        if r.ports > 0 {
            does.push(format!("leases {} port(s)", r.ports));
        }
        if !does.is_empty() {
            ctx.ui.note(&format!(
                "swarm: the new worktree's recipe {}",
                does.join(", ")
            ));
        }
        for problem in &r.problems {
            ctx.ui.note(&format!("swarm: warning: {problem}"));
        }
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

/// SIGINT and SIGTERM store their number in the returned flag instead of killing us.
fn watch_signals() -> Result<Arc<AtomicUsize>> {
    let flag = Arc::new(AtomicUsize::new(0));
    let again = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // A second signal ends the process at once (a supervisor blocked waiting for the lock
        // cannot look at the flag): its agent dies with it, and its task is freed as a dead
        // agent's.
        signal_hook::flag::register_conditional_shutdown(
            sig,
            signal_exit(sig).into(),
            Arc::clone(&again),
        )?;
        signal_hook::flag::register(sig, Arc::clone(&again))?;
        signal_hook::flag::register_usize(sig, Arc::clone(&flag), sig as usize)?;
    }
    Ok(flag)
}

/// Exit status after a signal: 128 + its number (130 for SIGINT, 143 for SIGTERM).
fn signal_exit(sig: i32) -> u8 {
    u8::try_from(128 + sig).unwrap_or(1)
}

fn headless(
    ctx: &Ctx,
    ws: &crate::workspace::Workspace,
    req: &LaunchRequest,
    launched: &Launched,
    args: &LaunchArgs,
    signal: &AtomicUsize,
) -> Result<u8> {
    let lease = ws
        .settings
        .lease
        .to_std()
        .unwrap_or(Duration::from_secs(60));
    let opts = supervise::SuperviseOptions {
        timeout: args.timeout,
        heartbeat: (lease / 3).clamp(Duration::from_secs(1), Duration::from_secs(60)),
        grace: Duration::from_secs(5),
    };
    let done = supervise::supervise(ws, req, launched, &opts, signal, |line| {
        ctx.ui.note(&format!("swarm: {line}"))
    })?;
    if let Some(sig) = done.signal {
        return Ok(signal_exit(sig));
    }
    // Each task by how its last run here ended (a task resumed in place has several runs).
    let mut tasks: Vec<(&str, bool)> = Vec::new();
    for r in &done.runs {
        let ok = r.ending == supervise::Ending::Done;
        match tasks.iter_mut().find(|(t, _)| *t == r.task) {
            Some(entry) => entry.1 = ok,
            None => tasks.push((&r.task, ok)),
        }
    }
    let finished = tasks.iter().filter(|(_, ok)| *ok).count();
    // A task it ran that ended `failed` (no attempts left) is this run's failure; one given
    // back for another agent to try is not, yet.
    let plan = ws.load_plan()?;
    let failed: Vec<&str> = tasks
        .iter()
        .filter(|(t, ok)| {
            !ok && plan
                .find(t)
                .is_some_and(|i| plan.tasks[i].status == crate::plan::Status::Failed)
        })
        .map(|(t, _)| *t)
        .collect();
    ctx.ui.note(&format!(
        "swarm: {}: {} task(s), {finished} done, {} not ({} run(s)){}",
        launched.agent,
        tasks.len(),
        tasks.len() - finished,
        done.runs.len(),
        match failed.as_slice() {
            [] => String::new(),
            f => format!("; failed: {}", f.join(", ")),
        }
    ));
    Ok(if done.needs_a_look || !failed.is_empty() {
        1
    } else {
        EXIT_OK
    })
}
