//! The simulated agent `swarm demo` launches through the real `launch` path: for each task it
//! works a moment, commits a file in its worktree, and reports with the same `swarm task …`
//! commands the prompt gives a real agent, until nothing is ready.

use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The task whose first version does not pass verification.
const CARELESS: &str = "build/storage";

/// Works through tasks from `$SWARM_TASK` on, in the current directory (the worktree).
pub fn run(pace: f64) -> Result<()> {
    let mut task = std::env::var("SWARM_TASK")
        .context("SWARM_TASK is not set: demo-agent runs under `swarm launch`")?;
    let agent = std::env::var("SWARM_AGENT_ID").context("SWARM_AGENT_ID is not set")?;
    let worktree = std::env::current_dir()?;
    let mut seed = u64::from(std::process::id()) ^ nanos();
    loop {
        let work = Duration::from_secs_f64(pace.max(0.05) * (0.4 + 0.6 * jitter(&mut seed)));
        std::thread::sleep(work / 2);
        swarm(&["task", "update", &task, "--progress", "50"])?;
        std::thread::sleep(work / 2);
        // One task's first version leaves a TODO, which the plan's verify command refuses:
        // the agent reads the failure, fixes it and lands again, as a real agent would.
        let careless = task == CARELESS;
        commit_note(&worktree, &task, &agent, careless, "simulated work")?;
        if let Err(e) = swarm(&["task", "done", &task]) {
            if !careless {
                return Err(e);
            }
            let fix = "handle what verification found";
            commit_note(&worktree, &task, &agent, false, fix)?;
            swarm(&["task", "done", &task])?;
        }
        let out = Command::new(std::env::current_exe()?)
            .args(["-q", "task", "claim", "--next"])
            .output()
            .context("cannot run swarm task claim --next")?;
        match out.status.code() {
            Some(0) => task = String::from_utf8_lossy(&out.stdout).trim().to_string(),
            Some(3) => return Ok(()),
            _ => bail!(
                "swarm task claim --next failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        }
    }
}

/// Runs `swarm ARGS` quietly (the agent's environment says who it is and where the plan is).
fn swarm(args: &[&str]) -> Result<()> {
    let out = Command::new(std::env::current_exe()?)
        .arg("-q")
        .args(args)
        .output()
        .with_context(|| format!("cannot run swarm {}", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "swarm {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Writes `notes/<task>.md` (with a TODO left in it when `careless`) and commits it on the
/// worktree's branch.
fn commit_note(
    worktree: &Path,
    task: &str,
    agent: &str,
    careless: bool,
    message: &str,
) -> Result<()> {
    let rel = Path::new("notes").join(format!("{}.md", task.replace('/', "--")));
    let file = worktree.join(&rel);
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let todo = match careless {
        true => "\nTODO: handle overdue loans\n",
        false => "",
    };
    std::fs::write(&file, format!("# {task}\n\nDone by {agent}.\n{todo}"))?;
    let repo = git2::Repository::open(worktree)?;
    let mut index = repo.index()?;
    index.add_path(&rel)?;
    index.write()?;
    let tree = repo.find_tree(index.write_tree()?)?;
    let sig = crate::git::signature(&repo)?;
    let parent = repo.head()?.peel_to_commit()?;
    repo.commit(
        Some("HEAD"),
        &sig,
        &sig,
        &format!("{task}: {message}\n"),
        &tree,
        &[&parent],
    )?;
    Ok(())
}

fn nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos().into())
        .unwrap_or(0)
}

/// A number in [0, 1) from a xorshift step: enough to make agents' pace differ.
fn jitter(state: &mut u64) -> f64 {
    let mut x = (*state).max(1);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    (x >> 11) as f64 / (1u64 << 53) as f64
}
