//! `launch -n N --headless`: N headless supervisors as child processes.

use anyhow::{Context, Result};
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
