//! `launch --headless`: instead of becoming the agent, swarm supervises it. For each task it
//! runs the agent non-interactively in the worktree, renews the agent's heartbeat while it
//! runs, settles the task by the outcome (done, or a failed attempt), and claims the next in
//! the same worktree until nothing is ready. SIGINT/SIGTERM stop the agent, give its task
//! back and end the supervisor.

use super::launch::{self, LaunchRequest, Launched, Place};
use crate::agent::{AgentCommand, Verdict};
use crate::plan::Status;
use crate::scheduler;
use crate::store::Actor;
use crate::workspace::Workspace;
use anyhow::{Context, Result};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
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
    let log_path = ws.coord_dir.join("logs").join(format!("{}.log", actor.id));
    let mut task = first.task.clone();
    let mut command = first.command.clone();
    let mut failed_here: Vec<String> = Vec::new();
    let mut continued_from_base = continued_base(ws, req, first);
    let mut out = Supervised::default();
    say(format!(
        "{}: agent output goes to {}",
        actor.id,
        log_path.display()
    ));
    loop {
        say(format!("{}: working on {task}", actor.id));
        // Where a failed attempt sends the branch back to.
        let start_tip = match continued_from_base.take() {
            Some(base) => Some(base),
            None => crate::git::leftovers::head(&place.worktree).ok(),
        };
        let started = Instant::now();
        let ending = run_one(ws, &actor, &command, &task, &log_path, req, opts, signal)?;
        let took = started.elapsed();
        // An agent that marked its task done and then failed or timed out finished it: the
        // task stays done (`settle_failed`), so its commits stay on the branch too.
        let done_anyway =
            matches!(ending, Ending::Failed(_) | Ending::TimedOut) && is_done(ws, &task);
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
                    "; it left uncommitted changes in the worktree ({}), and any commits on {}",
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
                let previous = previous_in_worktree(ws, req, &place, previous.as_deref());
                if let Some(launch::Previous::Apart(prev)) = &previous {
                    say(format!(
                        "{}: a previous attempt at {} left commits on {prev}, which {} does not have; the agent is told to look at them",
                        actor.id, next.id, place.branch
                    ));
                }
                command = launch::agent_command(ws, req, &place, &next, previous.as_ref())?;
                task = next.id;
            }
            Next::Interrupted(sig) => {
                stop_for_signal(ws, &actor, None, sig)?;
                out.signal = Some(sig);
                return Ok(out);
            }
            Next::Stop(why) => {
                retire(ws, &actor, "supervisor finished: nothing ready")?;
                say(format!("{}: nothing more to do: {why}", actor.id));
                out.stopped = why;
                return Ok(out);
            }
        }
    }
}

/// Where the first task of a launch that continued a previous attempt's branch goes back to if
/// it fails: it started on that attempt's commits, so to where they left the base line (their
/// merge base with it). `None` for any other launch: its tasks go back to where they started.
fn continued_base(ws: &Workspace, req: &LaunchRequest, first: &Launched) -> Option<String> {
    if !(first.created_branch && matches!(first.previous, Some(launch::Previous::Continues(_)))) {
        return None;
    }
    let repo = crate::git::open(&ws.main_root).ok()?;
    let base = crate::git::base_commit(&repo, req.base.as_deref()).ok()?;
    let tip = crate::git::branch_tip(&repo, &first.branch)?;
    repo.merge_base(tip, base).ok().map(|oid| oid.to_string())
}

/// What a run left in its worktree, and what was done with it.
enum Tidied {
    /// Nothing to do (or the run was interrupted, and its worktree is left as it is).
    Nothing,
    /// Uncommitted changes, left where they are: the supervisor stops rather than start the
    /// next task on top of them (nothing is committed or thrown away on the agent's behalf).
    Dirty(Vec<String>),
    /// A failed attempt's commits were moved to this branch; the agent's branch went back to
    /// where the task started.
    SetAside(String),
}

/// Looks at what the run left, so the next task in this worktree starts from the agent's own
/// finished work only. An error leaves the worktree as it is.
fn tidy(ending: &Ending, place: &Place, task: &str, start: Option<&str>) -> Result<Tidied> {
    use crate::git::leftovers;
    if matches!(ending, Ending::Interrupted(_)) {
        return Ok(Tidied::Nothing);
    }
    // Resets act on the checked-out branch: only ever on the agent's own.
    match leftovers::branch(&place.worktree)? {
        Some(b) if b == place.branch => {}
        on => anyhow::bail!(
            "the worktree is on {}, not on the agent's branch {}",
            on.unwrap_or_else(|| "a detached HEAD".into()),
            place.branch
        ),
    }
    // An agent that moved its branch back dropped commits the branch had (earlier tasks'):
    // they are in git's reflog, and a person should see this before anything else happens.
    if let Some(start) = start {
        if !leftovers::descends_from(&place.worktree, start)? {
            anyhow::bail!(
                "the branch no longer contains the commit it was at when {task} started ({}); see git reflog",
                &start[..start.len().min(10)]
            );
        }
    }
    let dirty = leftovers::uncommitted(&place.worktree)?;
    if !dirty.is_empty() {
        return Ok(Tidied::Dirty(dirty));
    }
    match (ending, start) {
        (Ending::Failed(_) | Ending::TimedOut, Some(start)) => {
            let aside = format!(
                "{}-attempt-{}",
                place.branch,
                chrono::Utc::now().timestamp()
            );
            Ok(leftovers::set_aside(&place.worktree, start, &aside)?
                .map_or(Tidied::Nothing, Tidied::SetAside))
        }
        (Ending::Failed(_) | Ending::TimedOut, None) => {
            anyhow::bail!("the worktree's HEAD was unknown when {task} started")
        }
        _ => Ok(Tidied::Nothing),
    }
}

/// Whether `task` is completed or reviewed in the plan (false when it cannot be read).
fn is_done(ws: &Workspace, task: &str) -> bool {
    ws.snapshot().is_ok_and(|(plan, _)| {
        plan.find(task)
            .is_some_and(|i| plan.tasks[i].status.is_done())
    })
}

/// A few of `files`, for a message.
fn shorten(files: &[String]) -> String {
    let mut s = files.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    if files.len() > 5 {
        s.push_str(&format!(" and {} more", files.len() - 5));
    }
    s
}

/// Marks the supervised agent as finished in the registry.
fn retire(ws: &Workspace, actor: &Actor, why: &str) -> Result<()> {
    let mut txn = ws.begin(Some(actor))?;
    txn.retire(&actor.id, why);
    txn.commit()
}

/// Runs the agent on one task and judges the outcome (the files are not changed here).
#[allow(clippy::too_many_arguments)]
fn run_one(
    ws: &Workspace,
    actor: &Actor,
    command: &AgentCommand,
    task: &str,
    log_path: &Path,
    req: &LaunchRequest,
    opts: &SuperviseOptions,
    signal: &AtomicUsize,
) -> Result<Ending> {
    let sig = signal.load(Ordering::SeqCst);
    if sig != 0 {
        return Ok(Ending::Interrupted(sig as i32));
    }
    if let Some(dir) = log_path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create", dir.display()))?;
    }
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .with_context(|| format!("{}: cannot open", log_path.display()))?;
    writeln!(
        log,
        "=== {} {task}: {}",
        crate::registry::model::format_time(chrono::Utc::now()),
        command.argv[0]
    )?;
    let start = log.metadata()?.len();
    let mut cmd = Command::new(&command.argv[0]);
    cmd.args(&command.argv[1..])
        .current_dir(&command.cwd)
        .envs(command.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log.try_clone()?);
    // Its own process group: stopping it stops everything it started.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    // If the supervisor dies (even by SIGKILL), the agent dies with it: its task is released by
    // the next reconcile, and an orphan working on after that would work it twice.
    #[cfg(target_os = "linux")]
    // SAFETY: the closure runs between fork and exec and makes one async-signal-safe system
    // call (prctl), touching no memory shared with the parent.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
                .map_err(std::io::Error::from)
        });
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start {}", command.argv[0]))?;
    let guard = Guard::watch(child.id());
    let started = Instant::now();
    let mut beat = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => {
                stop(&mut child, opts.grace);
                return Err(e.into());
            }
        }
        let sig = signal.load(Ordering::SeqCst);
        if sig != 0 {
            stop(&mut child, opts.grace);
            return Ok(Ending::Interrupted(sig as i32));
        }
        if opts.timeout.is_some_and(|t| started.elapsed() >= t) {
            stop(&mut child, opts.grace);
            return Ok(Ending::TimedOut);
        }
        if beat.elapsed() >= opts.heartbeat {
            if let Err(e) = ws.begin(Some(actor)).and_then(|t| t.commit()) {
                // Without its heartbeat the agent's claim would lapse while it works on.
                stop(&mut child, opts.grace);
                return Err(e);
            }
            beat = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    if end_leftovers(child.id(), opts.grace) {
        let _ = writeln!(
            log,
            "swarm: the agent left processes running after it exited; they were stopped"
        );
    }
    drop(guard);
    judge(ws, status, req.source.verdict(), task, &mut log, start)
}

/// After the agent exited by itself: stops what it left running in its process group (a dev
/// server, a watcher), as `stop` would, so nothing keeps writing in the worktree while it is
/// checked and the next task starts there. Returns whether anything was left.
fn end_leftovers(pgid: u32, grace: Duration) -> bool {
    #[cfg(unix)]
    {
        use rustix::process::{kill_process_group, test_kill_process_group, Pid, Signal};
        let Some(pgid) = i32::try_from(pgid).ok().and_then(Pid::from_raw) else {
            return false;
        };
        if test_kill_process_group(pgid).is_err() {
            return false;
        }
        let _ = kill_process_group(pgid, Signal::TERM);
        let until = Instant::now() + grace;
        while Instant::now() < until && test_kill_process_group(pgid).is_ok() {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = kill_process_group(pgid, Signal::KILL);
        true
    }
    #[cfg(not(unix))]
    {
        let _ = (pgid, grace);
        false
    }
}

/// A watchdog outside the supervisor for what PDEATHSIG cannot reach: the processes the agent
/// started. It waits on a pipe from the supervisor; when the supervisor dies (even by SIGKILL)
/// the pipe closes and the watchdog kills the agent's whole process group, so nothing keeps
/// working on a task that the next reconcile gives back. Dropped (the watchdog killed
/// quietly) once the supervisor has dealt with the agent itself.
struct Guard(Option<Child>);

impl Guard {
    fn watch(pgid: u32) -> Guard {
        let mut cmd = Command::new("sh");
        // `kill -KILL -PGID`: the form dash, bash and busybox all read as a process group.
        cmd.args(["-c", "read -r _; kill -KILL -\"$1\" 2>/dev/null", "sh"])
            .arg(pgid.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Its own group: a Ctrl-C at the terminal is the supervisor's to handle, not its.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        // Without sh the agent still dies with the supervisor (PDEATHSIG); only its own
        // children would not.
        Guard(cmd.spawn().ok())
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(mut watchdog) = self.0.take() {
            let _ = watchdog.kill(); // SIGKILL: it never gets to kill the group
            let _ = watchdog.wait();
        }
    }
}

/// Decides whether a finished run succeeded.
fn judge(
    ws: &Workspace,
    status: ExitStatus,
    verdict: Verdict,
    task: &str,
    log: &mut File,
    start: u64,
) -> Result<Ending> {
    if !status.success() {
        return Ok(Ending::Failed(format!("the agent exited with {status}")));
    }
    match verdict {
        Verdict::ExitStatus => Ok(Ending::Done),
        Verdict::ClaudeJson => {
            let mut text = String::new();
            log.seek(SeekFrom::Start(start))?;
            log.read_to_string(&mut text)?;
            Ok(claude_result(&text))
        }
        Verdict::TaskState => {
            let plan = ws.load_plan()?;
            let done = plan
                .find(task)
                .is_some_and(|i| plan.tasks[i].status.is_done());
            Ok(if done {
                Ending::Done
            } else {
                Ending::Failed("the agent exited 0 without marking the task done".into())
            })
        }
    }
}

/// Reads `claude -p --output-format json`'s result object: exit 0 is not enough.
pub fn claude_result(output: &str) -> Ending {
    let parsed = serde_json::from_str::<serde_json::Value>(output.trim())
        .ok()
        .or_else(|| {
            output
                .lines()
                .rev()
                .find_map(|l| serde_json::from_str::<serde_json::Value>(l.trim()).ok())
        });
    match parsed {
        Some(v) if v.get("is_error") == Some(&serde_json::Value::Bool(true)) => {
            let what = v.get("subtype").and_then(|s| s.as_str()).unwrap_or("error");
            Ending::Failed(format!("claude reported an error ({what})"))
        }
        Some(v) if v.get("is_error").is_some() => Ending::Done,
        _ => Ending::Failed("claude printed no JSON result".into()),
    }
}

/// SIGTERM to the agent's process group, SIGKILL after `grace`.
fn stop(child: &mut Child, grace: Duration) {
    #[cfg(unix)]
    {
        use rustix::process::{kill_process_group, Pid, Signal};
        let pgid = i32::try_from(child.id()).ok().and_then(Pid::from_raw);
        if let Some(pgid) = pgid {
            let _ = kill_process_group(pgid, Signal::TERM);
            let until = Instant::now() + grace;
            while Instant::now() < until {
                if let Ok(Some(_)) = child.try_wait() {
                    // The leader is gone; make sure nothing it started lingers.
                    let _ = kill_process_group(pgid, Signal::KILL);
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = kill_process_group(pgid, Signal::KILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn settle_done(
    ws: &Workspace,
    actor: &Actor,
    task: &str,
    say: &mut impl FnMut(String),
) -> Result<()> {
    let mut txn = ws.begin(Some(actor))?;
    let Some(i) = txn.plan.find(task) else {
        return txn.commit();
    };
    if txn.plan.tasks[i].status.is_done() {
        say(format!(
            "{}: {task} is {}",
            actor.id, txn.plan.tasks[i].status
        ));
    } else if txn.holder(i) == Some(actor.id.as_str()) {
        txn.set_status(i, Status::Completed, Some(&actor.id));
        say(format!("{}: {task} done", actor.id));
    } else {
        say(format!(
            "{}: the agent succeeded but {task} is no longer its task ({}); left as it is",
            actor.id, txn.plan.tasks[i].status
        ));
    }
    txn.commit()
}

fn settle_failed(
    ws: &Workspace,
    actor: &Actor,
    task: &str,
    branch: Option<&str>,
    why: String,
    say: &mut impl FnMut(String),
) -> Result<()> {
    let mut txn = ws.begin(Some(actor))?;
    if let Some(i) = txn.plan.find(task) {
        // A task the agent finished stays finished, whatever its exit status.
        if txn.holder(i) == Some(actor.id.as_str()) && !txn.plan.tasks[i].status.is_done() {
            let (attempts, failed) = txn.fail_attempt(i, branch, why.clone());
            let state = if failed { "failed" } else { "pending again" };
            say(format!(
                "{}: {task}: {why}; {state} (attempt {attempts})",
                actor.id
            ));
        }
    }
    txn.commit()
}

fn stop_for_signal(ws: &Workspace, actor: &Actor, task: Option<&str>, sig: i32) -> Result<()> {
    let mut txn = ws.begin(Some(actor))?;
    if let Some(i) = task.and_then(|t| txn.plan.find(t)) {
        if txn.holder(i) == Some(actor.id.as_str()) {
            txn.release(
                i,
                Some(format!("supervisor stopped by {}", signal_name(sig))),
            );
        }
    }
    txn.retire(&actor.id, &format!("stopped by {}", signal_name(sig)));
    txn.commit()
}

/// What comes after a task.
enum Next {
    /// This task was claimed; its previous attempt's branch, if it has one.
    Task(Box<crate::plan::Task>, Option<String>),
    /// Nothing is ready and nothing can become ready: why.
    Stop(String),
    /// A signal arrived while waiting.
    Interrupted(i32),
}

/// Claims the next task; while none is ready but other agents' work may unblock one, waits
/// (renewing the heartbeat, watching for signals) and tries again.
fn wait_for_next(
    ws: &Workspace,
    actor: &Actor,
    req: &LaunchRequest,
    skip: &[String],
    opts: &SuperviseOptions,
    signal: &AtomicUsize,
    say: &mut impl FnMut(String),
) -> Result<Next> {
    let mut told = false;
    let mut beat = Instant::now();
    loop {
        match claim_next(ws, actor, req, skip)? {
            Ok((task, previous)) => return Ok(Next::Task(Box::new(task), previous)),
            Err((why, false)) => return Ok(Next::Stop(why)),
            Err((why, true)) => {
                if !told {
                    say(format!(
                        "{}: waiting for a task to become ready: {why}",
                        actor.id
                    ));
                    told = true;
                }
            }
        }
        let until = Instant::now() + Duration::from_secs(1);
        while Instant::now() < until {
            let sig = signal.load(Ordering::SeqCst);
            if sig != 0 {
                return Ok(Next::Interrupted(sig as i32));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if beat.elapsed() >= opts.heartbeat {
            ws.begin(Some(actor))?.commit()?;
            beat = Instant::now();
        }
    }
}

/// A task claimed, with its previous attempt's branch if it has one.
type Claimed = (crate::plan::Task, Option<String>);

/// Claims the next ready task for the supervised agent, skipping tasks it already failed.
/// When there is none: why, and whether waiting may help.
fn claim_next(
    ws: &Workspace,
    actor: &Actor,
    req: &LaunchRequest,
    skip: &[String],
) -> Result<Result<Claimed, (String, bool)>> {
    let mut txn = ws.begin(Some(actor))?;
    let preferred = txn.plan.preferred_tasks(req.as_agent.as_deref())?;
    let mut ready =
        scheduler::readiness(&txn.plan, |id| txn.registry.claimed_tasks.contains_key(id));
    let mut skipped = Vec::new();
    for id in skip {
        if let Some(i) = txn.plan.find(id) {
            if ready[i] {
                skipped.push(id.as_str());
            }
            ready[i] = false;
        }
    }
    let Some(i) = scheduler::pick_next(&txn.plan, &ready, &preferred) else {
        let why = if skipped.is_empty() {
            scheduler::explain_nothing_ready(&txn.plan, |i| txn.holder(i))
        } else {
            format!(
                "the only ready tasks are ones this agent failed ({}); another agent may try them",
                skipped.join(", ")
            )
        };
        let may = skipped.is_empty()
            && scheduler::may_become_ready(&txn.plan, |id| {
                txn.registry.claimed_tasks.contains_key(id)
            });
        txn.commit()?;
        return Ok(Err((why, may)));
    };
    txn.claim(i, &actor.id);
    let task = txn.plan.tasks[i].clone();
    let previous = txn.plan.previous_branch(i);
    txn.commit()?;
    Ok(Ok((task, previous)))
}

/// How the previous attempt at the next task relates to the worktree's branch (which the
/// supervisor keeps: it is not moved to the previous attempt's commits).
fn previous_in_worktree(
    ws: &Workspace,
    req: &LaunchRequest,
    place: &Place,
    previous: Option<&str>,
) -> Option<launch::Previous> {
    let prev = previous.filter(|p| *p != place.branch)?;
    let repo = crate::git::open(&ws.main_root).ok()?;
    let base = crate::git::base_commit(&repo, req.base.as_deref()).ok()?;
    let tip = crate::git::branch_tip(&repo, &place.branch)?;
    launch::previous_work(&repo, base, Some(prev), tip)
}

/// "SIGINT", "SIGTERM", or "signal N".
pub fn signal_name(sig: i32) -> String {
    match sig {
        2 => "SIGINT".into(),
        15 => "SIGTERM".into(),
        n => format!("signal {n}"),
    }
}

fn human(d: Duration) -> String {
    crate::registry::liveness::human_duration(chrono::Duration::milliseconds(
        d.as_millis().min(i64::MAX as u128) as i64,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claude_results_are_read_not_trusted() {
        let ok = r#"{"type":"result","subtype":"success","is_error":false,"result":"done"}"#;
        assert_eq!(claude_result(ok), Ending::Done);
        let err = r#"{"type":"result","subtype":"error_during_execution","is_error":true}"#;
        assert!(
            matches!(claude_result(err), Ending::Failed(w) if w.contains("error_during_execution"))
        );
        assert!(matches!(
            claude_result("API Error: 529 overloaded"),
            Ending::Failed(_)
        ));
        let noisy = format!("warning: something\n{ok}\n");
        assert_eq!(claude_result(&noisy), Ending::Done);
    }
}
