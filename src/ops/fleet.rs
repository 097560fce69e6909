//! `launch -n N`: several agents at once — N headless supervisors as child processes, or N
//! interactive agents in the panes of a tmux window.

use anyhow::{bail, Context, Result};
use std::ffi::OsString;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// How the children of a fleet ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetOutcome {
    /// Exit codes of the children, in start order (`None`: killed by a signal).
    pub codes: Vec<Option<i32>>,
    /// The signal that stopped the fleet, if one did.
    pub signal: Option<i32>,
}

/// Starts `n` copies of `swarm <args>` and waits for all. A signal in `signal` is passed on
/// to every child as SIGTERM (each gives its task back and exits).
pub fn run_children(
    exe: &Path,
    args: &[OsString],
    n: u16,
    signal: &AtomicUsize,
) -> Result<FleetOutcome> {
    let mut children: Vec<Child> = Vec::new();
    for _ in 0..n {
        let child = Command::new(exe)
            .args(args)
            .spawn()
            .context("cannot start swarm launch")?;
        children.push(child);
    }
    let mut codes: Vec<Option<Option<i32>>> = vec![None; children.len()];
    let mut forwarded = false;
    while codes.iter().any(Option::is_none) {
        for (i, c) in children.iter_mut().enumerate() {
            if codes[i].is_none() {
                if let Some(status) = c.try_wait()? {
                    codes[i] = Some(status.code());
                }
            }
        }
        let sig = signal.load(Ordering::SeqCst);
        if sig != 0 && !forwarded {
            forwarded = true;
            for (i, c) in children.iter().enumerate() {
                if codes[i].is_none() {
                    terminate(c.id());
                }
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let sig = signal.load(Ordering::SeqCst);
    Ok(FleetOutcome {
        codes: codes.into_iter().map(|c| c.flatten()).collect(),
        signal: (sig != 0).then_some(sig as i32),
    })
}

#[cfg(unix)]
fn terminate(pid: u32) {
    use rustix::process::{kill_process, Pid, Signal};
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        let _ = kill_process(pid, Signal::TERM);
    }
}

#[cfg(not(unix))]
fn terminate(_pid: u32) {}

/// Opens one tmux pane per agent, each running `argv` (no shell: tmux runs a multi-word
/// command directly). Inside tmux a new window is used, else a new detached session.
/// Returns the target to attach to.
pub fn tmux(argv: &[OsString], n: u16, name: &str, cwd: &Path) -> Result<String> {
    if !super::complete::on_path("tmux") {
        bail!("--tmux needs tmux on PATH");
    }
    let inside = std::env::var_os("TMUX").is_some();
    let run = |args: Vec<OsString>| -> Result<()> {
        let out = Command::new("tmux")
            .args(&args)
            .output()
            .context("cannot run tmux")?;
        if !out.status.success() {
            bail!(
                "tmux failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    };
    let mut first: Vec<OsString> = if inside {
        vec!["new-window".into(), "-n".into(), name.into()]
    } else {
        vec!["new-session".into(), "-d".into(), "-s".into(), name.into()]
    };
    first.extend(["-c".into(), cwd.as_os_str().to_owned()]);
    first.extend(argv.iter().cloned());
    run(first)?;
    for _ in 1..n {
        let mut split: Vec<OsString> = vec![
            "split-window".into(),
            "-t".into(),
            name.into(),
            "-c".into(),
            cwd.into(),
        ];
        split.extend(argv.iter().cloned());
        run(split)?;
        run(vec![
            "select-layout".into(),
            "-t".into(),
            name.into(),
            "tiled".into(),
        ])?;
    }
    Ok(name.to_string())
}
