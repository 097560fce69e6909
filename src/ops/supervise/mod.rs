//! `launch --headless`: instead of becoming the agent, swarm supervises it. For each task it
//! runs the agent non-interactively in the worktree, renews the agent's heartbeat while it
//! runs, settles the task by the outcome (done, or a failed attempt), and claims the next in
//! the same worktree until nothing is ready. SIGINT/SIGTERM stop the agent, give its task
//! back and end the supervisor.

mod run;
mod settle;
mod tidy;

pub use self::settle::signal_name;
use self::settle::{
    human, retire, settle_done, settle_failed, stop_for_signal, wait_for_next, Next,
};
use self::tidy::{continued_base, previous_in_worktree, shorten, tidy, Tidied};
use super::launch::{self, LaunchRequest, Launched};
use super::place::Place;
use crate::agent::prompt::Previous;
use crate::store::Actor;
use crate::workspace::Workspace;
use anyhow::{Context, Result};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How to supervise.
#[derive(Debug, Clone)]
pub struct SuperviseOptions {
    /// Stop an agent that works longer than this on one task (a failed attempt).
    pub timeout: Option<Duration>,
    /// How often to renew the heartbeat while an agent runs.
    pub heartbeat: Duration,
    /// How long an agent may take to exit after SIGTERM before it gets SIGKILL.
    pub grace: Duration,
}

/// How one task's run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The agent succeeded; the task is completed.
    Done,
    /// The agent failed; a failed attempt was recorded. Why.
    Failed(String),
    /// The agent ran past `--timeout` and was stopped; a failed attempt was recorded.
    TimedOut,
    /// A signal stopped the supervisor; the task was given back. The signal number.
    Interrupted(i32),
}

/// One task run.
#[derive(Debug, Clone)]
pub struct Run {
    /// The task.
    pub task: String,
    /// How it ended.
    pub ending: Ending,
    /// How long the agent ran.
    pub took: Duration,
}

/// What the supervisor did.
#[derive(Debug, Clone, Default)]
pub struct Supervised {
    /// Every task run, in order.
    pub runs: Vec<Run>,
    /// The signal that stopped it, if one did.
    pub signal: Option<i32>,
    /// Why it stopped claiming (nothing ready: the reasons).
    pub stopped: String,
    /// Whether it stopped early because its worktree needs a person's look.
    pub needs_a_look: bool,
}

/// Supervises the agent `first` was launched for, until nothing is ready or a signal (its
/// number stored in `signal` by the handler) arrives. `say` gets one line per event.
pub fn supervise(
    ws: &Workspace,
    req: &LaunchRequest,
    first: &Launched,
    opts: &SuperviseOptions,
    signal: &AtomicUsize,
    mut say: impl FnMut(String),
) -> Result<Supervised> {
    let actor = Actor {
        id: first.agent.clone(),
        pid: Some(std::process::id()),
    };
    let place = Place {
        agent: first.agent.clone(),
        name: first.name.clone(),
        worktree: first.worktree.clone(),
        branch: first.branch.clone(),
    };
    let log_path = crate::coord::subdir(&ws.coord_dir, "logs")?.join(format!("{}.log", actor.id));
    let mut task = first.task.clone();
    let mut command = first.command.clone();
    let mut failed_here: Vec<String> = Vec::new();
    let mut out = Supervised::default();
    say(format!(
        "{}: agent output goes to {}",
        actor.id,
        log_path.display()
    ));
    // Where a failed attempt sends the branch back to: where the task started, set when a task
    // starts, so the attempts resumed in place have their commits set aside together.
    let mut start_tip = continued_base(ws, req, first)
        .or_else(|| crate::git::leftovers::head(&place.worktree).ok());
    loop {
        say(format!("{}: working on {task}", actor.id));
        crate::ops::tmux::title_pane(&actor.id, &task);
        let started = Instant::now();
        let (ending, report) = run::run_one(
            ws,
            &actor,
            &command,
            (&task, req.source.verdict()),
            &log_path,
            opts,
            signal,
        )?;
        let took = started.elapsed();
        // With an integration branch, a task is done when it landed: a run that succeeded
        // without landing it lands it now, and fails if that does not pass.
        let ending = match ending {
            Ending::Done => match settle::land_if_needed(ws, &actor, &task, &place.worktree) {
                Ok(Some(line)) => {
                    say(format!("{}: {line}", actor.id));
                    Ending::Done
                }
                Ok(None) => Ending::Done,
                // Stopped by a signal while it verified: the task is given back, no attempt
                // counted.
                Err(_) if signal.load(Ordering::SeqCst) != 0 => {
                    Ending::Interrupted(signal.load(Ordering::SeqCst) as i32)
                }
                Err(e) => Ending::Failed(format!("{e:#}")),
            },
            other => other,
        };
        // An agent that marked its task done and then failed or timed out finished it: the
        // task stays done (`settle_failed`), so its commits stay on the branch too.
        let done_anyway =
            matches!(ending, Ending::Failed(_) | Ending::TimedOut) && settle::is_done(ws, &task);
        let why = match &ending {
            Ending::Failed(why) => why.clone(),
            _ => format!("timed out after {}", human(took)),
        };
        // A failed run that left a session is tried again at once, here, resuming that
        // session (Claude Code keeps sessions per directory), with what happened: the work so
        // far stays in the worktree. `--fresh`, or the last attempt, settles it as before.
        let session = report
            .session_id
            .as_deref()
            .filter(|_| !req.fresh && !done_anyway);
        if let (Ending::Failed(_) | Ending::TimedOut, Some(session)) = (&ending, session) {
            let prompt = crate::agent::prompt::resume(&task, &why);
            if let Some(argv) = req
                .source
                .resume_argv(session, &prompt, req.mode, &req.options)?
            {
                if let Some(n) = settle::retry_in_place(ws, &actor, &task, why.clone())? {
                    settle::record_run(
                        ws,
                        &actor,
                        &task,
                        &report,
                        &format!("failed: {why}"),
                        took,
                    )?;
                    say(format!(
                        "{}: {task}: {why}; trying again (attempt {}), resuming session {session}",
                        actor.id,
                        n + 1
                    ));
                    out.runs.push(Run {
                        task: task.clone(),
                        ending: ending.clone(),
                        took,
                    });
                    command = crate::agent::AgentCommand {
                        argv,
                        ..command.clone()
                    };
                    continue;
                }
            }
        }
        // The next task in this worktree starts from the agent's finished work only (see
        // `tidy`); uncommitted leftovers or a surprise in git stop the supervisor below.
        let tidy_as = if done_anyway { &Ending::Done } else { &ending };
        let tidied = tidy(tidy_as, &place, &task, start_tip.as_deref());
        // What the settled task says about it, its next attempt's start, and why the
        // supervisor stops here, if it does.
        let (kept, previous, stop) = match &tidied {
            Ok(Tidied::Nothing) => (String::new(), None, None),
            // Not a `previousBranch`: the agent's branch holds its earlier tasks too, and the
            // next attempt must not start from their unreviewed work (the stop message says
            // where this attempt's work is).
            Ok(Tidied::Dirty(files)) => (
                format!(
                    "; its uncommitted changes ({}) and any commits on {} stay in the worktree",
                    shorten(files),
                    place.branch
                ),
                None,
                Some(format!(
                    "the worktree {} has uncommitted changes after {task} ({}); nothing was committed or thrown away: look at them (git -C {} status), commit or discard them, then launch again",
                    place.worktree.display(),
                    shorten(files),
                    place.worktree.display()
                )),
            ),
            Ok(Tidied::SetAside(b)) => (
                format!("; its commits are kept on branch {b}"),
                Some(b.clone()),
                None,
            ),
            Err(e) => (
                format!("; the worktree is left as it is ({e:#})"),
                None,
                Some(format!(
                    "the worktree {} could not be checked after {task} ({e:#}); it is left as it is",
                    place.worktree.display()
                )),
            ),
        };
        match &ending {
            Ending::Done => {
                settle_done(ws, &actor, &task, &mut say)?;
                if !kept.is_empty() {
                    say(format!("{}: {task} was done{kept}", actor.id));
                }
            }
            Ending::Failed(_) | Ending::TimedOut => {
                let what = match &ending {
                    Ending::Failed(why) => why.clone(),
                    _ => format!("timed out after {}", human(took)),
                };
                if done_anyway {
                    say(format!(
                        "{}: {task} was already marked done when {what}; it stays done, with its commits on {}{kept}",
                        actor.id, place.branch
                    ));
                } else {
                    let why = format!("{what}{kept}");
                    settle_failed(ws, &actor, &task, previous.as_deref(), why, &mut say)
                        .with_context(|| match &tidied {
                            Ok(Tidied::SetAside(b)) => format!("{task} failed and its commits were moved to branch {b}, but the plan could not record it"),
                            _ => format!("{task} failed, but the plan could not record it"),
                        })?;
                    failed_here.push(task.clone());
                    crate::agent::notify::notify(
                        req.notify.as_deref(),
                        "failed",
                        &format!("{}: {task}: {what}", actor.id),
                    );
                }
            }
            Ending::Interrupted(sig) => {
                stop_for_signal(ws, &actor, Some(&task), *sig)?;
                say(format!(
                    "{}: stopped by {}; {task} was given back",
                    actor.id,
                    signal_name(*sig)
                ));
                out.signal = Some(*sig);
            }
        }
        let outcome = match &ending {
            _ if done_anyway => "done".to_string(),
            Ending::Done => "done".to_string(),
            Ending::Failed(_) | Ending::TimedOut => format!("failed: {why}"),
            Ending::Interrupted(sig) => format!("interrupted by {}", signal_name(*sig)),
        };
        settle::record_run(ws, &actor, &task, &report, &outcome, took)?;
        out.runs.push(Run {
            task: task.clone(),
            ending: ending.clone(),
            took,
        });
        if out.signal.is_some() {
            return Ok(out);
        }
        if let Some(why) = stop {
            retire(ws, &actor, "supervisor stopped: the worktree needs a look")?;
            say(format!("{}: stopping: {why}", actor.id));
            out.stopped = why;
            out.needs_a_look = true;
            return Ok(out);
        }
        let sig = signal.load(Ordering::SeqCst);
        if sig != 0 {
            stop_for_signal(ws, &actor, None, sig as i32)?;
            out.signal = Some(sig as i32);
            return Ok(out);
        }
        match wait_for_next(ws, &actor, req, &failed_here, opts, signal, &mut say)? {
            Next::Task(next, previous) => {
                say(format!("{}: claimed {}", actor.id, next.id));
                // The next task starts from what landed meanwhile (tidy left it clean).
                let refreshed = ws
                    .load_plan()
                    .map_err(anyhow::Error::from)
                    .and_then(|plan| crate::ops::land::refresh(ws, &plan, &place.worktree));
                match refreshed {
                    Ok(Some(what)) => say(format!("{}: {what}", actor.id)),
                    Ok(None) => {}
                    Err(e) => say(format!("{}: {e:#}", actor.id)),
                }
                let previous = previous_in_worktree(ws, req, &place, previous.as_deref());
                if let Some(Previous::Apart(prev)) = &previous {
                    say(format!(
                        "{}: a previous attempt at {} left commits on {prev}, which {} does not have; the agent is told to look at them",
                        actor.id, next.id, place.branch
                    ));
                }
                command = launch::agent_command(ws, req, &place, &next, previous.as_ref())?;
                task = next.id;
                start_tip = crate::git::leftovers::head(&place.worktree).ok();
            }
            Next::Interrupted(sig) => {
                stop_for_signal(ws, &actor, None, sig)?;
                out.signal = Some(sig);
                return Ok(out);
            }
            Next::Stop(why) => {
                retire(ws, &actor, "supervisor finished: nothing ready")?;
                if settle::plan_finished(ws) {
                    crate::agent::notify::finished_once(ws, req.notify.as_deref(), &why);
                }
                say(format!("{}: nothing more to do: {why}", actor.id));
                out.stopped = why;
                return Ok(out);
            }
        }
    }
}
