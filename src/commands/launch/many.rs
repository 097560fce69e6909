//! `launch -n N`: N headless supervisors as child processes, or N interactive agents in tmux
//! panes, each running this very command line as one agent.

use super::{signal_exit, watch_signals};
use crate::cli::LaunchArgs;
use crate::commands::{Ctx, EXIT_NOT_READY, EXIT_OK};
use crate::ops::tmux::PaneState;
use crate::ops::{fleet, launch};
use anyhow::Result;
use std::ffi::OsString;
use std::time::Duration;

/// `-n N`: N headless supervisors as child processes, or N interactive agents in tmux panes.
/// Each runs this very command line (`--fleet-member` makes it one agent), from this directory.
pub(super) fn many(ctx: &Ctx, args: &LaunchArgs, n: u16) -> Result<u8> {
    use crate::error::usage;
    if args.as_agent.is_some() {
        return Err(usage(format!(
            "--as names one agent; it cannot be combined with -n {n}"
        )));
    }
    if !args.headless && !args.tmux {
        return Err(usage(format!("-n {n} needs --headless (supervised agents) or --tmux (one pane per interactive agent)")));
    }
    if args.no_exec || args.dry_run {
        return Err(usage("-n cannot be combined with --no-exec or --dry-run"));
    }
    if args.headless && args.tmux {
        return Err(usage(format!(
            "-n {n}: --headless (supervised agents) or --tmux (interactive agents in panes), not both"
        )));
    }
    let exe = std::env::current_exe()?;
    let mut member: Vec<OsString> = std::env::args_os().skip(1).collect();
    member.push("--fleet-member".into());
    if args.tmux {
        return tmux(ctx, n, exe.into_os_string(), member);
    }
    let signal = watch_signals()?;
    let out = fleet::run_children(&exe, &member, n, &signal)?;
    if let Some(sig) = out.signal {
        return Ok(signal_exit(sig));
    }
    let codes: Vec<i32> = out.codes.iter().map(|c| c.unwrap_or(1)).collect();
    let started = codes.iter().filter(|c| **c != 3).count();
    let killed = out.codes.iter().filter(|c| c.is_none()).count();
    let failed = codes.iter().filter(|c| **c == 1).count() - killed;
    let mut why = Vec::new();
    if killed > 0 {
        why.push(format!(
            "{killed} killed by a signal (its task goes back to the plan; `swarm launch` takes its worktree over)"
        ));
    }
    if failed > 0 {
        why.push(format!(
            "{failed} ended with a failed task or a worktree to look at (see above)"
        ));
    }
    ctx.ui.note(&format!(
        "swarm: {n} supervisors ended ({started} found work){}",
        match why.is_empty() {
            true => String::new(),
            false => format!("; {}", why.join("; ")),
        }
    ));
    Ok(if codes.iter().any(|c| *c != 0 && *c != 3) {
        1
    } else if codes.iter().all(|c| *c == 3) {
        EXIT_NOT_READY
    } else {
        EXIT_OK
    })
}

/// `-n N --tmux`: the panes, then what really started in them.
fn tmux(ctx: &Ctx, n: u16, exe: OsString, member: Vec<OsString>) -> Result<u8> {
    let ws = ctx.workspace()?;
    // A pane whose launch finds nothing exits at once: say why here instead (each pane still
    // claims for itself, under the lock).
    let (plan, registry) = ws.snapshot()?;
    if let Err(why) = launch::next_ready(&plan, &registry, &[]) {
        ctx.ui.note(&format!(
            "swarm: nothing to launch: {why}; no tmux window was opened"
        ));
        return Ok(EXIT_NOT_READY);
    }
    drop((plan, registry));
    let mut argv = vec![exe];
    argv.extend(member);
    // tmux starts panes with its server's environment: ours goes with them.
    let env: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(k, _)| {
            let k = k.to_string_lossy();
            k.starts_with("SWARM_") || k == "PATH" || k == "NO_COLOR"
        })
        .collect();
    let name = format!("swarm-{}", ws.project.replace(['.', ':'], "-"));
    let cwd = std::env::current_dir()?;
    let window = crate::ops::tmux::open(&argv, n, &name, &cwd, &env)?;
    let panes = crate::ops::tmux::watch_start(&ws, &window, Duration::from_secs(30))?;
    let started = panes
        .iter()
        .filter(|p| matches!(p.state, PaneState::Started { .. }))
        .count();
    let mut failures = Vec::new();
    for p in &panes {
        match &p.state {
            PaneState::Started { .. } => {}
            PaneState::Starting => ctx.ui.note(&format!(
                "swarm: pane {} has not started an agent yet",
                p.id
            )),
            PaneState::Exited { status, last_lines } => {
                let said = match last_lines.is_empty() {
                    true => String::new(),
                    false => format!(": {last_lines}"),
                };
                let how = status.map_or("exited (tmux did not learn its status)".into(), |s| {
                    format!("exited with status {s}")
                });
                let why = format!("pane {} {how}{said}", p.id);
                ctx.ui
                    .note(&format!("swarm: {why} (the pane stays open to read)"));
                failures.push((*status, why));
            }
        }
    }
    if !failures.is_empty() {
        let mut txn = ws.begin(None)?;
        for (_, why) in &failures {
            txn.record("launch-failed", None, why.clone());
        }
        txn.commit()?;
    }
    ctx.ui.note(&format!(
        "swarm: started {started} of {n} agents in tmux window {} of session {}; see them with: {}",
        window.ids.join(", "),
        window.session,
        window.how_to_see()
    ));
    Ok(if started > 0 {
        EXIT_OK
    } else if !failures.is_empty()
        && failures.len() == panes.len()
        && failures.iter().all(|(status, _)| *status == Some(3))
    {
        EXIT_NOT_READY
    } else {
        1
    })
}
