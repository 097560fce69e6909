//! `launch -n N --tmux`: one tmux pane per interactive agent, each running this same `swarm
//! launch`. Panes stay open when their command exits (`remain-on-exit`), so a launch that
//! failed keeps its output and exit status on screen, and the report says what really started.

use crate::registry::liveness;
use crate::workspace::Workspace;
use anyhow::{bail, Context, Result};
use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The tmux windows the agents run in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// The session (new, or the one swarm was started in).
    pub session: String,
    /// The window ids (`@3`): one, unless the panes did not fit in it.
    pub ids: Vec<String>,
    /// Whether swarm runs inside that session (`$TMUX`): then the window is switched to, not
    /// attached.
    pub inside: bool,
}

impl Window {
    /// How a person gets to the (first) window.
    pub fn how_to_see(&self) -> String {
        match self.inside {
            true => format!("tmux select-window -t {}", self.ids[0]),
            false => format!("tmux attach -t {}", self.session),
        }
    }
}

/// How one pane's launch went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaneState {
    /// Its `swarm launch` registered an agent that holds a task and runs.
    Started {
        /// The agent.
        agent: String,
    },
    /// Its command exited; the pane stays open with its output.
    Exited {
        /// The exit status, when it could be learnt.
        status: Option<i32>,
        /// The last lines it printed.
        last_lines: String,
    },
    /// Neither yet when the report was made.
    Starting,
}

/// One pane and its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pane {
    /// tmux's pane id (`%5`).
    pub id: String,
    /// What became of it.
    pub state: PaneState,
}

/// Opens `n` panes in a new window, each running `argv` in `cwd` with `env` (tmux gives new
/// panes its server's environment, not ours). Inside tmux the window is added to the current
/// session, else a new detached session named after `name` is made.
pub fn open(
    argv: &[OsString],
    n: u16,
    name: &str,
    cwd: &Path,
    env: &[(OsString, OsString)],
) -> Result<Window> {
    if !crate::agent::on_path("tmux") {
        bail!("--tmux needs tmux on PATH");
    }
    let inside = std::env::var_os("TMUX").is_some();
    let mut pane_args = vec!["-c".into(), cwd.as_os_str().to_owned()];
    for (k, v) in env {
        let mut kv = k.clone();
        kv.push("=");
        kv.push(v);
        pane_args.extend(["-e".into(), kv]);
    }
    pane_args.extend(argv.iter().cloned());
    let session = match inside {
        true => run(["display-message", "-p", "#{session_name}"].map(OsString::from))?,
        false => free_session_name(name)?,
    };
    // `remain-on-exit` is set in the same command sequence that makes a window: tmux runs the
    // sequence before it handles any pane's exit, so even a pane whose command fails at once
    // stays open. A detached session gets a size of its own (tmux's default is 80x24, too
    // small for many panes); one attached later takes the terminal's.
    let new_window = |first: bool| -> Result<String> {
        let mut cmd: Vec<OsString> = match (first, inside) {
            (true, false) => ["new-session", "-d", "-s", &session, "-x", "200", "-y", "60"]
                .map(OsString::from)
                .to_vec(),
            (true, true) => vec!["new-window".into(), "-n".into(), name.into()],
            (false, _) => ["new-window", "-t", &format!("{session}:"), "-n", name]
                .map(OsString::from)
                .to_vec(),
        };
        cmd.extend(["-P".into(), "-F".into(), "#{window_id}".into()]);
        cmd.extend(pane_args.iter().cloned());
        cmd.extend([";", "set-option", "-w", "remain-on-exit", "on"].map(OsString::from));
        // Each pane's title (its agent and task, set by the pane's launch) on its border.
        cmd.extend([";", "set-option", "-w", "pane-border-status", "top"].map(OsString::from));
        run(cmd)
    };
    let mut ids = vec![new_window(true)?];
    for _ in 1..n {
        let id = ids.last().cloned().unwrap_or_default();
        let mut split: Vec<OsString> = vec!["split-window".into(), "-t".into(), (&id).into()];
        split.extend(pane_args.iter().cloned());
        match run(split) {
            // Tiling is cosmetic: a window too small to re-tile keeps its panes as they are.
            Ok(_) => drop(run(
                ["select-layout", "-t", &id, "tiled"].map(OsString::from)
            )),
            // No room left in this window ("no space for new pane"): the next one.
            Err(_) => ids.push(new_window(false)?),
        }
    }
    Ok(Window {
        session,
        ids,
        inside,
    })
}

/// Waits (up to `limit`) until every pane of `window` has either started an agent — a live
/// agent in the registry whose pid is the pane's process, holding a task — or exited, and
/// says which.
pub fn watch_start(ws: &Workspace, window: &Window, limit: Duration) -> Result<Vec<Pane>> {
    let deadline = Instant::now() + limit;
    loop {
        let mut listed = String::new();
        for id in &window.ids {
            listed += &run([
                "list-panes",
                "-t",
                id,
                "-F",
                "#{pane_id} #{pane_pid} #{pane_dead} #{pane_dead_status}",
            ]
            .map(OsString::from))?;
            listed.push('\n');
        }
        let reg = ws.load_registry()?;
        let mut panes = Vec::new();
        for line in listed.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (Some(id), Some(pid)) = (f.first(), f.get(1).and_then(|p| p.parse::<u32>().ok()))
            else {
                continue;
            };
            // tmux marks a pane dead when its output ends, and learns the exit status a
            // moment later; it has been seen never to (the process left a zombie), and then
            // the kernel still has it. A dead pane without a status is settling until the end.
            let status = f
                .get(3)
                .and_then(|s| s.parse::<i32>().ok())
                .or_else(|| liveness::zombie_exit_status(pid))
                .or_else(|| recorded_exit(ws, pid));
            let dead = f.get(2) == Some(&"1");
            let state = if dead && (status.is_some() || Instant::now() >= deadline) {
                PaneState::Exited {
                    status,
                    last_lines: last_lines(id),
                }
            } else if dead {
                PaneState::Starting
            } else {
                let agent = reg.agents.iter().find(|(a, e)| {
                    e.pid == Some(pid)
                        && !e.is_retired()
                        && reg.claimed_tasks.values().any(|c| &c.agent == *a)
                });
                match agent {
                    Some((a, _)) => PaneState::Started { agent: a.clone() },
                    None => PaneState::Starting,
                }
            };
            panes.push(Pane {
                id: id.to_string(),
                state,
            });
        }
        let settled = panes.iter().all(|p| p.state != PaneState::Starting);
        if settled || Instant::now() >= deadline {
            return Ok(panes);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Where a pane's `swarm launch` records its exit status: `.claude-agents/panes/<pid>`.
fn exit_record(ws: &Workspace, pid: u32) -> std::path::PathBuf {
    ws.coord_dir.join("panes").join(pid.to_string())
}

/// Records the exit status of this pane's launch (best effort: the pane shows it too).
pub fn record_exit(ws: &Workspace, pid: u32, status: i32) {
    if let Ok(dir) = crate::coord::subdir(&ws.coord_dir, "panes") {
        let _ = crate::coord::write(&dir.join(pid.to_string()), status.to_string().as_bytes());
    }
}

/// The exit status a pane's launch recorded, read once.
fn recorded_exit(ws: &Workspace, pid: u32) -> Option<i32> {
    let path = exit_record(ws, pid);
    let status = std::fs::read_to_string(&path).ok()?.trim().parse().ok();
    let _ = std::fs::remove_file(&path);
    status
}

/// The last few non-empty lines a pane shows.
fn last_lines(pane: &str) -> String {
    let shown = run(["capture-pane", "-p", "-t", pane].map(OsString::from)).unwrap_or_default();
    let lines: Vec<&str> = shown
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty() && !l.starts_with("Pane is dead"))
        .collect();
    lines[lines.len().saturating_sub(3)..].join(" | ")
}

/// `name`, or `name-2`, `name-3`… when a session of that name exists.
fn free_session_name(name: &str) -> Result<String> {
    for n in 1..100 {
        let candidate = match n {
            1 => name.to_string(),
            n => format!("{name}-{n}"),
        };
        let exists = Command::new("tmux")
            .args(["has-session", "-t", &format!("={candidate}")])
            .output()
            .context("cannot run tmux")?
            .status
            .success();
        if !exists {
            return Ok(candidate);
        }
    }
    bail!("no free tmux session name like {name}")
}

/// Runs tmux with `args`; its trimmed stdout.
fn run<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(args: I) -> Result<String> {
    let out = Command::new("tmux")
        .args(args)
        .output()
        .context("cannot run tmux")?;
    if !out.status.success() {
        bail!(
            "tmux failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Names the tmux pane this process runs in (`TMUX_PANE`) after its agent and task, so the
/// window shows who does what; nothing outside tmux.
pub fn title_pane(agent: &str, task: &str) {
    let Ok(pane) = std::env::var("TMUX_PANE") else {
        return;
    };
    let title = format!("{agent}: {task}");
    let _ = run(["select-pane", "-t", &pane, "-T", &title].map(OsString::from));
}

/// The tmux command that shows `pane`: switch to it inside tmux, else attach to its session
/// with the pane selected.
pub fn attach_argv(pane: &str, inside: bool) -> Vec<String> {
    let (go, then): (&[&str], &[&str]) = match inside {
        true => (&["switch-client", "-t", pane], &[]),
        false => (
            &["select-window", "-t", pane],
            &[";", "attach-session", "-t", pane],
        ),
    };
    std::iter::once("tmux")
        .chain(go.iter().copied())
        .chain([";", "select-pane", "-t", pane])
        .chain(then.iter().copied())
        .map(str::to_string)
        .collect()
}
