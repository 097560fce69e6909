//! `launch --notify CMD`: a command run when an agent needs a person, fails, or the plan is
//! finished. Its words come from CMD (split like `--agent-cmd`, never a shell), followed by the
//! event (`needs-input`, `failed`, `finished`) and a one-line message; the same are in
//! `SWARM_EVENT` and `SWARM_MESSAGE`. It reaches the agent's own processes (its CLI's hooks,
//! its `swarm task done`) through `SWARM_NOTIFY`.

use std::process::{Command, Stdio};

/// The environment variable that carries the command to the agent's processes.
pub const ENV: &str = "SWARM_NOTIFY";

/// Runs the notify command `line` (or, when `None`, the one in `SWARM_NOTIFY`) for `event`,
/// without waiting for it; a command that cannot start is said on stderr, never an error.
pub fn notify(line: Option<&str>, event: &str, message: &str) {
    let from_env = std::env::var(ENV).ok();
    let Some(line) = line
        .or(from_env.as_deref())
        .filter(|l| !l.trim().is_empty())
    else {
        return;
    };
    let words = match super::template::split(line) {
        Ok(w) if !w.is_empty() => w,
        _ => {
            eprintln!("swarm: warning: --notify {line:?} is not a command");
            return;
        }
    };
    let spawned = Command::new(&words[0])
        .args(&words[1..])
        .args([event, message])
        .env("SWARM_EVENT", event)
        .env("SWARM_MESSAGE", message)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match spawned {
        // Reaped by a thread of its own, so a long-lived supervisor keeps no zombies.
        Ok(mut child) => {
            std::thread::spawn(move || child.wait());
        }
        Err(e) => eprintln!("swarm: warning: --notify: cannot run {}: {e}", words[0]),
    }
}

/// Says `finished` once for the plan of `ws` (the first process to see it finished says it:
/// a marker in the coordination dir, created exclusively).
pub fn finished_once(ws: &crate::workspace::Workspace, line: Option<&str>, message: &str) {
    let marker = ws.coord_dir.join("finished-notified");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    if crate::coord::open(&marker, &mut opts).is_ok() {
        notify(line, "finished", message);
    }
}
