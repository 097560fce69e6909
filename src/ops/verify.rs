//! Running a verify command in a worktree: no shell, a timeout, output kept in a log file.

use crate::plan::CommandLine;
use anyhow::{Context, Result};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Removes the signal handlers `run` installed, however it returns.
struct Unhook(Vec<signal_hook::SigId>);

impl Drop for Unhook {
    fn drop(&mut self) {
        for id in self.0.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}

/// What a verification run did.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The command, as one line.
    pub command: String,
    /// Its exit code (`None`: killed by a signal, or timed out).
    pub exit_code: Option<i32>,
    /// Whether it ran out of time (and was stopped).
    pub timed_out: bool,
    /// How long it ran.
    pub duration: Duration,
    /// Where its output is.
    pub log: PathBuf,
}

impl Verified {
    /// Whether the command passed.
    pub fn passed(&self) -> bool {
        self.exit_code == Some(0)
    }

    /// How it ended, in words.
    pub fn outcome(&self) -> String {
        match (self.timed_out, self.exit_code) {
            (true, _) => format!("timed out after {} s", self.duration.as_secs()),
            (false, Some(0)) => "passed".into(),
            (false, Some(code)) => format!("failed (exit code {code})"),
            (false, None) => "was killed by a signal".into(),
        }
    }

    /// The last `n` lines of its output.
    pub fn tail(&self, n: usize) -> String {
        let text = std::fs::read(&self.log).unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

/// How often `run` calls its `tick` while the command runs (the agent's heartbeat).
const TICK: Duration = Duration::from_secs(30);

/// Runs `command` in `dir` with `env` added, its output (stdout and stderr) going to `log`,
/// stopped (its whole process group) after `timeout`. `tick` is called every 30 s while it
/// runs. `what` names the command in messages ("verify command", "setup command").
pub fn run(
    what: &str,
    command: &CommandLine,
    dir: &Path,
    env: &[(&str, &str)],
    log: &Path,
    timeout: Duration,
    tick: &mut dyn FnMut(),
) -> Result<Verified> {
    let out = crate::coord::open(
        log,
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true),
    )?;
    let err = out.try_clone()?;
    let (program, args) = command
        .0
        .split_first()
        .with_context(|| format!("the {what} is empty"))?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .envs(env.iter().copied());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let started = Instant::now();
    let mut child = cmd.spawn().with_context(|| {
        format!(
            "cannot start the {what} {} in {}",
            command.shown(),
            dir.display()
        )
    })?;
    // The command runs in a process group of its own (so that a timeout stops all of it);
    // a signal to swarm (Ctrl-C, a supervisor stopped) must stop it too, not leave it running
    // in the worktree.
    let signal = Arc::new(AtomicUsize::new(0));
    let mut hooks = Vec::new();
    for sig in [SIGINT, SIGTERM, SIGHUP] {
        hooks.push(signal_hook::flag::register_usize(
            sig,
            Arc::clone(&signal),
            sig as usize,
        )?);
    }
    let _unhook = Unhook(hooks);
    let mut timed_out = false;
    let mut ticked = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        let sig = signal.load(Ordering::SeqCst);
        if sig != 0 {
            stop(&mut child);
            let _ = child.wait();
            anyhow::bail!(
                "the {what} {} was stopped: swarm got {}",
                command.shown(),
                crate::ops::supervise::signal_name(sig as i32)
            );
        }
        if ticked.elapsed() >= TICK {
            tick();
            ticked = Instant::now();
        }
        if started.elapsed() >= timeout {
            timed_out = true;
            stop(&mut child);
            break child.wait()?;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ok(Verified {
        command: command.shown(),
        exit_code: if timed_out { None } else { status.code() },
        timed_out,
        duration: started.elapsed(),
        log: log.to_path_buf(),
    })
}

/// Stops the command's process group: SIGTERM, then SIGKILL after a moment.
fn stop(child: &mut std::process::Child) {
    #[cfg(unix)]
    {
        use rustix::process::{kill_process_group, Pid, Signal};
        if let Some(pgid) = Pid::from_raw(child.id() as i32) {
            let _ = kill_process_group(pgid, Signal::TERM);
            let until = Instant::now() + Duration::from_secs(2);
            while Instant::now() < until {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    let _ = kill_process_group(pgid, Signal::KILL);
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = kill_process_group(pgid, Signal::KILL);
        }
    }
    let _ = child.kill();
}
