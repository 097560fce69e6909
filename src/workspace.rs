//! Where things are: the main worktree, the project, the plan, the coordination dir — found the
//! same way from the main worktree and from every linked worktree.

use crate::plan::{Plan, PlanError};
use crate::registry::{self, Registry};
use anyhow::{bail, Context, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Name of the coordination directory in the main worktree.
pub const COORD_DIR: &str = ".claude-agents";

/// How the user pointed at the workspace, and the tunables every command shares.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `-C DIR`: where to start looking for the repository.
    pub dir: Option<PathBuf>,
    /// `--tasks-dir` / `SWARM_TASKS_DIR`.
    pub tasks_dir: Option<PathBuf>,
    /// `--project` / `SWARM_PROJECT`.
    pub project: Option<String>,
    /// `--lock-timeout`: give up waiting for the lock after this long.
    pub lock_timeout: Option<Duration>,
    /// How long an agent without a live process keeps its claims without a sign of life.
    pub lease: chrono::Duration,
    /// Attempts after which a task whose agents keep dying is marked failed.
    pub max_attempts: u32,
    /// `-q`: no notices on stderr.
    pub quiet: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            dir: None,
            tasks_dir: None,
            project: None,
            lock_timeout: None,
            lease: chrono::Duration::minutes(30),
            max_attempts: 3,
            quiet: false,
        }
    }
}

/// The resolved locations.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// The main worktree (not a linked one).
    pub main_root: PathBuf,
    /// The repository's common git dir.
    pub git_dir: PathBuf,
    /// The project name.
    pub project: String,
    /// The root that holds `<project>/status.json`.
    pub tasks_root: PathBuf,
    /// `<main worktree>/.claude-agents`.
    pub coord_dir: PathBuf,
    /// The settings it was found with.
    pub settings: Settings,
}

impl Workspace {
    /// Finds the repository from `settings.dir` (or the current directory) and resolves the rest.
    pub fn discover(settings: Settings) -> Result<Workspace> {
        let start = match &settings.dir {
            Some(d) => d.clone(),
            None => std::env::current_dir().context("cannot read the current directory")?,
        };
        let (main_root, git_dir) = main_worktree(&start)?;
        let project = match &settings.project {
            Some(p) => p.clone(),
            None => main_root
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .context("the main worktree has no directory name; pass --project")?,
        };
        check_project_name(&project)?;
        let tasks_root = settings
            .tasks_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("/tasks"));
        let coord_dir = main_root.join(COORD_DIR);
        Ok(Workspace {
            main_root,
            git_dir,
            project,
            tasks_root,
            coord_dir,
            settings,
        })
    }

    /// `<tasks-root>/<project>`.
    pub fn plan_dir(&self) -> PathBuf {
        self.tasks_root.join(&self.project)
    }

    /// `<tasks-root>/<project>/status.json`.
    pub fn plan_path(&self) -> PathBuf {
        self.plan_dir().join("status.json")
    }

    /// The human plan beside status.json, when there is one.
    pub fn plan_md(&self) -> Option<PathBuf> {
        Some(self.plan_dir().join("plan.md")).filter(|p| p.is_file())
    }

    /// `.claude-agents/task-registry.json`.
    pub fn registry_path(&self) -> PathBuf {
        self.coord_dir.join("task-registry.json")
    }

    /// `.claude-agents/task-registry.lock`.
    pub fn lock_path(&self) -> PathBuf {
        self.coord_dir.join("task-registry.lock")
    }

    /// `.claude-agents/events.jsonl`.
    pub fn events_path(&self) -> PathBuf {
        self.coord_dir.join("events.jsonl")
    }

    /// Loads and validates the plan.
    pub fn load_plan(&self) -> Result<Plan, PlanError> {
        Plan::load(&self.plan_path())
    }

    /// Loads the registry (empty when there is none yet).
    pub fn load_registry(&self) -> Result<Registry> {
        let path = self.registry_path();
        let reg = registry::load(&path)?;
        match &reg.project {
            Some(p) if *p != self.project => anyhow::bail!(
                "{}: this repository's registry is for project {p:?}, not {:?}: one project per repository (its claims are keyed by task id, and each project's would look like claims on tasks missing from the other's plan); use --project {p} (or SWARM_PROJECT), or give the other project its own repository; nothing was changed",
                path.display(),
                self.project
            ),
            _ => Ok(reg),
        }
    }

    /// The agent id that `given` names: an agent id as it is, or an agent's display name
    /// (`claude-worker-3427`) when exactly one agent has it. An id nobody has yet is returned
    /// as it is (a new agent, for `task claim --agent`).
    pub fn resolve_agent(&self, given: &str) -> Result<String> {
        let registry = self.load_registry()?;
        if registry.agents.contains_key(given) {
            return Ok(given.to_string());
        }
        let named: Vec<&String> = registry
            .agents
            .iter()
            .filter(|(_, a)| a.name.as_deref() == Some(given))
            .map(|(id, _)| id)
            .collect();
        match named.as_slice() {
            [] => Ok(given.to_string()),
            [id] => Ok(id.to_string()),
            many => bail!(
                "{given:?} is the name of several agents ({}); use the agent's id",
                many.iter()
                    .map(|id| id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// The plan's integration branch (`coordination.integration.branch`, by default
    /// `swarm/<project>`), when it declares one.
    pub fn integration_branch(&self, plan: &Plan) -> Option<String> {
        let integration = plan.integration.as_ref()?;
        Some(
            integration
                .branch
                .clone()
                .unwrap_or_else(|| format!("swarm/{}", self.project)),
        )
    }

    /// Whether `setup` (or a first claim) has created the coordination dir.
    pub fn is_set_up(&self) -> bool {
        fs::symlink_metadata(&self.coord_dir).is_ok_and(|m| m.is_dir())
    }

    /// Creates the coordination dir and keeps it out of git (`.git/info/exclude`, or
    /// `.gitignore` when `use_gitignore`). Returns what it did, for people to read. A
    /// coordination dir that is a link, or that the repository tracks, is refused.
    pub fn ensure_coordination_dir(&self, use_gitignore: bool) -> Result<Vec<String>> {
        let mut done = Vec::new();
        self.refuse_tracked_coordination_dir()?;
        crate::coord::check(&self.coord_dir)?;
        if !self.is_set_up() {
            match fs::create_dir(&self.coord_dir) {
                Ok(()) => done.push(format!("created {}", self.coord_dir.display())),
                // Made a moment ago by another swarm (three agents launched at once): what
                // is there now is checked like any coordination dir.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    crate::coord::check(&self.coord_dir)?;
                    if !self.is_set_up() {
                        bail!(
                            "{}: exists and is not a directory",
                            self.coord_dir.display()
                        );
                    }
                }
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("{}: cannot create", self.coord_dir.display()))
                }
            }
        }
        let ignore_file = if use_gitignore {
            self.main_root.join(".gitignore")
        } else {
            self.git_dir.join("info").join("exclude")
        };
        if add_ignore_line(&ignore_file, &format!("/{COORD_DIR}/"))? {
            done.push(format!("added /{COORD_DIR}/ to {}", ignore_file.display()));
        }
        Ok(done)
    }
}

impl Workspace {
    /// Refuses a coordination dir that the repository tracks: its files would come from
    /// whoever committed them (a link to `~/.bashrc` as the event log, a registry of made-up
    /// claims), and swarm's writes would show up as changes to commit.
    pub fn refuse_tracked_coordination_dir(&self) -> Result<()> {
        let Ok(repo) = git2::Repository::open(&self.main_root) else {
            return Ok(());
        };
        let Ok(index) = repo.index() else {
            return Ok(());
        };
        // The index is sorted: the tracked entries under the dir, if any, start here.
        let prefix = format!("{COORD_DIR}/");
        let tracked: Vec<String> = match index.find_prefix(prefix.as_str()) {
            Ok(at) => (at..index.len())
                .map_while(|i| index.get(i))
                .map(|e| String::from_utf8_lossy(&e.path).into_owned())
                .take_while(|p| p.starts_with(&prefix))
                .take(3)
                .collect(),
            Err(_) => Vec::new(),
        };
        if tracked.is_empty() {
            return Ok(());
        }
        bail!(
            "{}: the repository tracks files in swarm's coordination directory ({}); swarm keeps its own state there and never uses files a repository brings — remove them from git (git rm -r --cached {COORD_DIR}, then delete the directory), and swarm will make its own",
            self.coord_dir.display(),
            tracked.join(", ")
        )
    }
}

/// Finds the main worktree and the common git dir from any directory of the repository.
fn main_worktree(start: &Path) -> Result<(PathBuf, PathBuf)> {
    let repo = git2::Repository::discover(start).map_err(|e| git_open_error(start, e))?;
    let common = repo.commondir().to_path_buf();
    let main = if repo.is_worktree() {
        git2::Repository::open(&common).map_err(|e| git_open_error(&common, e))?
    } else {
        repo
    };
    let Some(root) = main.workdir() else {
        bail!(
            "{}: a bare repository has no main worktree; run swarm inside a checkout",
            common.display()
        );
    };
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let root = root.components().collect::<PathBuf>();
    Ok((root, common))
}

fn git_open_error(at: &Path, e: git2::Error) -> anyhow::Error {
    if e.message().contains("unsupported extension") {
        return anyhow::anyhow!(
            "{}: {} — this repository uses a git extension (likely extensions.relativeWorktrees from git >= 2.48) that swarm's libgit2 cannot read yet",
            at.display(),
            e.message()
        );
    }
    if e.code() == git2::ErrorCode::NotFound {
        return anyhow::anyhow!(
            "{}: not inside a git repository (swarm works in a repository; use -C DIR to point at one)",
            at.display()
        );
    }
    anyhow::anyhow!(
        "{}: cannot open the git repository: {}",
        at.display(),
        e.message()
    )
}

fn check_project_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name == "."
        || name == ".."
        || name.contains(['/', '\\'])
        || name.chars().any(char::is_control)
    {
        bail!("invalid project name {name:?}: it must be a single directory name");
    }
    Ok(())
}

/// Appends `line` to an ignore file unless it is already there. True when it wrote.
pub(crate) fn add_ignore_line(file: &Path, line: &str) -> Result<bool> {
    let current = match fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("{}: cannot read", file.display())),
    };
    let bare = line.trim_matches('/');
    if current.lines().any(|l| l.trim().trim_matches('/') == bare) {
        return Ok(false);
    }
    if let Some(dir) = file.parent() {
        fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    }
    let mut text = current;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(line);
    text.push('\n');
    fs::write(file, text).with_context(|| format!("{}: cannot write", file.display()))?;
    Ok(true)
}
