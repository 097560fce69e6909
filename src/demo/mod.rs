//! `swarm demo`: a temporary repository and a sample plan, simulated agents started through
//! the real `launch` path, live progress, then `join-status` and `complete --merge` for each
//! agent. Everything happens under one new directory; nothing of the user's is touched.

pub mod agent;
mod progress;

use crate::git;
use crate::workspace::{Settings, Workspace};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PROJECT: &str = "library-app";
const STATUS_JSON: &str = include_str!("status.json");
const PLAN_MD: &str = include_str!("plan.md");
/// Environment that would point the demo's swarm or git at the user's things.
const SCRUB: &[&str] = &[
    "SWARM_AGENT_ID",
    "SWARM_AGENT_NAME",
    "SWARM_TASK",
    "SWARM_PROJECT",
    "SWARM_TASKS_DIR",
    "SWARM_ROOT",
    "SWARM_AGENT_CMD",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_COMMON_DIR",
    "GIT_INDEX_FILE",
];

/// What to run.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Number of simulated agents.
    pub agents: u8,
    /// Where to run (must not exist or be empty); a new temporary directory otherwise.
    pub dir: Option<PathBuf>,
    /// Seconds a simulated task takes, at most.
    pub pace: f64,
    /// Colour on stderr.
    pub color: bool,
}

/// Where the result is.
#[derive(Debug, Clone)]
pub struct DemoResult {
    /// The directory holding everything.
    pub root: PathBuf,
    /// The demo repository (main worktree).
    pub repo: PathBuf,
    /// Commits on the base branch after the merges.
    pub commits: usize,
    /// Tasks reviewed at the end, of all.
    pub reviewed: (usize, usize),
}

/// Runs the whole flow.
pub fn run(opts: &DemoOptions) -> Result<DemoResult> {
    let root = make_root(opts.dir.as_deref())?;
    let repo_dir = root.join(PROJECT);
    let tasks_dir = root.join("tasks");
    let logs = root.join("logs");
    init_repo(&repo_dir)?;
    let plan_dir = tasks_dir.join(PROJECT);
    std::fs::create_dir_all(&plan_dir)?;
    std::fs::create_dir_all(&logs)?;
    std::fs::write(plan_dir.join("status.json"), STATUS_JSON)?;
    std::fs::write(plan_dir.join("plan.md"), PLAN_MD)?;
    eprintln!("swarm demo: repository {}", repo_dir.display());
    eprintln!(
        "swarm demo: plan {}",
        plan_dir.join("status.json").display()
    );

    let swarm = Swarm {
        exe: std::env::current_exe().context("cannot find the swarm executable")?,
        repo: repo_dir.clone(),
        tasks: tasks_dir.clone(),
        state: root.join("state"),
    };
    swarm.step(&["setup"], "swarm setup")?;
    let template = format!(
        "{} demo-agent --pace {}",
        crate::agent::prompt::shell_word(&swarm.exe.display().to_string()),
        opts.pace
    );
    eprintln!(
        "swarm demo: launching {} simulated agents: swarm launch --agent-cmd '<swarm> demo-agent'",
        opts.agents
    );
    let mut children = Vec::new();
    for n in 1..=opts.agents {
        let log = std::fs::File::create(logs.join(format!("launch-{n}.log")))?;
        let child = swarm
            .command(&["launch", "--agent-cmd", &template])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("cannot start swarm launch")?;
        children.push(child);
    }
    let ws = Workspace::discover(Settings {
        dir: Some(repo_dir.clone()),
        tasks_dir: Some(tasks_dir.clone()),
        project: Some(PROJECT.into()),
        quiet: true,
        ..Settings::default()
    })?;
    watch(&ws, &mut children, opts.color)?;

    eprintln!("\nswarm demo: $ swarm join-status");
    let status = swarm.command(&["join-status"]).status()?;
    if status.code() != Some(0) {
        bail!(
            "the join points are not reached; see the logs in {}",
            logs.display()
        );
    }
    eprintln!("\nswarm demo: $ swarm complete --merge");
    swarm.step(&["complete", "--merge"], "swarm complete")?;
    let (plan, _) = ws.snapshot()?;
    let reviewed = plan
        .tasks
        .iter()
        .filter(|t| t.status == crate::plan::Status::Reviewed)
        .count();
    let repo = git::open(&repo_dir)?;
    let mut walk = repo.revwalk()?;
    walk.push_head()?;
    Ok(DemoResult {
        root,
        repo: repo_dir,
        commits: walk.count(),
        reviewed: (reviewed, plan.tasks.len()),
    })
}

/// Runs `swarm` against the demo repository and plan only.
struct Swarm {
    exe: PathBuf,
    repo: PathBuf,
    tasks: PathBuf,
    /// The demo's own port and slot leases, apart from the user's.
    state: PathBuf,
}

impl Swarm {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.exe);
        cmd.arg("-C")
            .arg(&self.repo)
            .arg("--tasks-dir")
            .arg(&self.tasks)
            .args(args)
            .current_dir(&self.repo)
            .env("SWARM_STATE_DIR", &self.state)
            // The demo's stdout carries only where the result is; the steps talk on stderr.
            .stdout(Stdio::from(std::io::stderr()));
        for v in SCRUB {
            cmd.env_remove(v);
        }
        cmd
    }

    /// Runs a step with its messages shown; fails when it fails.
    fn step(&self, args: &[&str], what: &str) -> Result<()> {
        let status = self.command(args).stdin(Stdio::null()).status()?;
        if !status.success() {
            bail!("{what} failed ({status})");
        }
        Ok(())
    }
}

/// Shows progress until every launched agent has finished.
fn watch(ws: &Workspace, children: &mut [Child], color: bool) -> Result<()> {
    let started = Instant::now();
    let mut view = progress::Progress::new(ws, color);
    let mut failed = Vec::new();
    let mut running: Vec<bool> = vec![true; children.len()];
    while running.iter().any(|r| *r) {
        for (n, child) in children.iter_mut().enumerate() {
            if running[n] {
                if let Some(status) = child.try_wait()? {
                    running[n] = false;
                    if !status.success() {
                        failed.push((n + 1, status));
                    }
                }
            }
        }
        view.tick()?;
        if started.elapsed() > Duration::from_secs(300) {
            for c in children.iter_mut() {
                let _ = c.kill();
            }
            bail!("the demo's agents did not finish within 5 minutes");
        }
        std::thread::sleep(Duration::from_millis(150));
    }
    view.finish()?;
    for (n, status) in failed {
        // An agent that found nothing ready exits 3: that is not a failure.
        if status.code() != Some(3) {
            bail!(
                "simulated agent {n} failed ({status}); see {}",
                ws.main_root
                    .parent()
                    .unwrap_or(&ws.main_root)
                    .join("logs")
                    .join(format!("launch-{n}.log"))
                    .display()
            );
        }
    }
    Ok(())
}

fn make_root(dir: Option<&Path>) -> Result<PathBuf> {
    let root = match dir {
        Some(d) => {
            if d.exists() && std::fs::read_dir(d)?.next().is_some() {
                bail!(
                    "{}: exists and is not empty; give a new directory",
                    d.display()
                );
            }
            std::fs::create_dir_all(d)
                .with_context(|| format!("{}: cannot create", d.display()))?;
            d.to_path_buf()
        }
        None => tempfile::Builder::new()
            .prefix("swarm-demo-")
            .tempdir()
            .context("cannot create a temporary directory")?
            .keep(),
    };
    Ok(root.canonicalize()?)
}

/// A new repository on `main` with one commit, and a committer of its own.
fn init_repo(dir: &Path) -> Result<()> {
    let mut opts = git2::RepositoryInitOptions::new();
    opts.initial_head("main");
    let repo = git2::Repository::init_opts(dir, &opts)
        .with_context(|| format!("{}: cannot create the demo repository", dir.display()))?;
    let mut config = repo.config()?;
    config.set_str("user.name", "swarm demo")?;
    config.set_str("user.email", "demo@swarm.invalid")?;
    std::fs::write(
        dir.join("README.md"),
        "# Library lending app\n\nBuilt by simulated agents of `swarm demo`.\n",
    )?;
    // Local settings git does not track, which the plan's worktree recipe copies into each
    // agent's worktree.
    std::fs::write(dir.join(".gitignore"), ".env\n.env.local\n")?;
    std::fs::write(dir.join(".env"), "LIBRARY_DB=library-demo.sqlite\n")?;
    let mut index = repo.index()?;
    index.add_path(Path::new("README.md"))?;
    index.add_path(Path::new(".gitignore"))?;
    index.write()?;
    let tree = repo.find_tree(index.write_tree()?)?;
    let sig = repo.signature()?;
    repo.commit(
        Some("HEAD"),
        &sig,
        &sig,
        "Start the library app\n",
        &tree,
        &[],
    )?;
    Ok(())
}
