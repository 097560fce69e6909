//! Running the agent on one task: its own process group, dying with the supervisor, stdout
//! read as it comes (into the agent's log, its tail kept to judge the run), heartbeats while
//! it works, stopped on a signal or a timeout.

use super::{Ending, SuperviseOptions};
use crate::agent::{outcome, AgentCommand, Outcome, RunReport, Verdict};
use crate::store::Actor;
use crate::workspace::Workspace;
use anyhow::{Context, Result};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// About how much of the end of the agent's stdout is kept to judge the run: the verdicts read
/// the last events (Claude's result, Codex's last turn) or one JSON object (Gemini). Whole
/// lines are kept, the last one always.
const TAIL: usize = 1 << 20;

/// Runs the agent on one task and judges the outcome (the files are not changed here), with
/// what the run reported about itself (its session, spend and turns).
pub(super) fn run_one(
    ws: &Workspace,
    actor: &Actor,
    command: &AgentCommand,
    (task, verdict): (&str, Verdict),
    log_path: &Path,
    opts: &SuperviseOptions,
    signal: &AtomicUsize,
) -> Result<(Ending, RunReport)> {
    let sig = signal.load(Ordering::SeqCst);
    if sig != 0 {
        return Ok((Ending::Interrupted(sig as i32), RunReport::default()));
    }
    let mut log = crate::coord::append(log_path)?;
    writeln!(
        log,
        "=== {} {task}: {}",
        crate::registry::model::format_time(chrono::Utc::now()),
        command.argv[0]
    )?;
    // Shared with the output reader; made before the agent starts, so that no error can leave
    // it running unwatched.
    let output_log = log
        .try_clone()
        .context("cannot share the agent's log with its output reader")?;
    let mut cmd = Command::new(&command.argv[0]);
    cmd.args(&command.argv[1..])
        .current_dir(&command.cwd)
        .envs(command.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
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
    let errors_log = log
        .try_clone()
        .context("cannot share the agent's log with its error reader")?;
    let output = child
        .stdout
        .take()
        .map(|out| Output::read(out, output_log, verdict));
    // Its stderr goes to the log too; its end is kept for CLIs that report there (gemini's
    // JSON error object).
    let errors = child
        .stderr
        .take()
        .map(|err| Output::read(err, errors_log, Verdict::ExitStatus));
    let mut session_recorded = false;
    let started = Instant::now();
    let mut beat = Instant::now();
    // Stopped before it ended: how, and what it said about itself so far (its session).
    let cut_short = |ending: Ending, output: Option<Output>, errors: Option<Output>| {
        let tail = output.map(|o| o.finish(opts.grace)).unwrap_or_default();
        let err = errors.map(|o| o.finish(opts.grace)).unwrap_or_default();
        Ok((ending, outcome::report(verdict, &tail, &err)))
    };
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
            return cut_short(Ending::Interrupted(sig as i32), output, errors);
        }
        if opts.timeout.is_some_and(|t| started.elapsed() >= t) {
            stop(&mut child, opts.grace);
            return cut_short(Ending::TimedOut, output, errors);
        }
        // The session, recorded as soon as the CLI names it: if the supervisor is killed, a
        // later launch that takes over the worktree resumes it.
        if !session_recorded {
            if let Some(session) = output.as_ref().and_then(Output::session) {
                session_recorded = true;
                let recorded = ws.begin(Some(actor)).and_then(|mut t| {
                    t.set_session(&actor.id, &session);
                    t.commit()
                });
                if let Err(e) = recorded {
                    let _ = writeln!(log, "swarm: cannot record the session {session}: {e:#}");
                }
            }
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
    let tail = output.map(|o| o.finish(opts.grace)).unwrap_or_default();
    let err = errors.map(|o| o.finish(opts.grace)).unwrap_or_default();
    let ending = match outcome::judge(verdict, status.code(), &tail, &err) {
        Outcome::Succeeded => Ending::Done,
        Outcome::Failed(why) => Ending::Failed(why),
        Outcome::AskTheTask if super::settle::is_done(ws, task) => Ending::Done,
        Outcome::AskTheTask => {
            Ending::Failed("the agent exited 0 without marking the task done".into())
        }
    };
    Ok((ending, outcome::report(verdict, &tail, &err)))
}

/// The agent's stdout, copied line by line into its log by a thread as it comes; the end of
/// it is kept.
struct Output {
    tail: Arc<Mutex<Vec<u8>>>,
    /// The session the output named first, once it has.
    session: Arc<Mutex<Option<String>>>,
    done: mpsc::Receiver<()>,
}

impl Output {
    fn read(
        out: impl std::io::Read + Send + 'static,
        mut log: std::fs::File,
        verdict: Verdict,
    ) -> Output {
        let tail = Arc::new(Mutex::new(Vec::new()));
        let session = Arc::new(Mutex::new(None));
        let (tx, done) = mpsc::channel();
        let kept = Arc::clone(&tail);
        let named = Arc::clone(&session);
        std::thread::spawn(move || {
            let mut looking = true;
            let mut reader = BufReader::new(out);
            let mut line = Vec::new();
            while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                // The log is the agent's record for people; a full disk must not stop the run.
                let _ = log.write_all(&line);
                if looking {
                    if let Some(s) =
                        outcome::session_in_line(verdict, &String::from_utf8_lossy(&line))
                    {
                        looking = false;
                        if let Ok(mut named) = named.lock() {
                            *named = Some(s);
                        }
                    }
                }
                if let Ok(mut tail) = kept.lock() {
                    // Whole lines only, and always the last one, however long (a verdict
                    // reads the last event).
                    tail.extend_from_slice(&line);
                    if tail.len() > TAIL {
                        let last = tail.len() - line.len();
                        let excess = tail.len() - TAIL;
                        let cut = tail[excess..]
                            .iter()
                            .position(|&b| b == b'\n')
                            .map_or(last, |p| (excess + p + 1).min(last));
                        tail.drain(..cut);
                    }
                }
                line.clear();
            }
            let _ = tx.send(());
        });
        Output {
            tail,
            session,
            done,
        }
    }

    /// The session the output has named so far.
    fn session(&self) -> Option<String> {
        self.session.lock().ok()?.clone()
    }

    /// The kept end of the output, once it has ended (or after `grace`, if something the
    /// agent started outside its process group still holds it open).
    fn finish(self, grace: Duration) -> String {
        let _ = self.done.recv_timeout(grace);
        let tail = self.tail.lock().map(|t| t.clone()).unwrap_or_default();
        String::from_utf8_lossy(&tail).into_owned()
    }
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
