//! Test fixtures: a real temporary git repository, a plan under a temporary tasks dir, and the
//! real `swarm` binary pointed at them.

use assert_cmd::Command;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

/// A temporary repository with a plan beside it.
pub struct Env {
    _root: tempfile::TempDir,
    /// The main worktree.
    pub repo: PathBuf,
    /// The tasks root (`--tasks-dir`).
    pub tasks: PathBuf,
    /// The project name (the repo's directory name).
    pub project: String,
}

impl Env {
    /// A repository named `proj` with one commit and no plan yet.
    pub fn new() -> Env {
        let root = tempfile::tempdir().expect("temp dir");
        let repo = root.path().join("proj");
        let tasks = root.path().join("tasks");
        fs::create_dir_all(tasks.join("proj")).expect("tasks dir");
        git(root.path(), &["init", "-q", "-b", "main", "proj"]);
        fs::write(repo.join("README.md"), "test repo\n").expect("write");
        git(&repo, &["add", "."]);
        git(&repo, &["commit", "-q", "-m", "init"]);
        Env {
            _root: root,
            repo,
            tasks,
            project: "proj".into(),
        }
    }

    /// A repository with `plan` as its status.json.
    pub fn with_plan(plan: &str) -> Env {
        let env = Env::new();
        env.write_plan(plan);
        env
    }

    /// status.json of the project.
    pub fn plan_path(&self) -> PathBuf {
        self.tasks.join(&self.project).join("status.json")
    }

    /// The registry file.
    pub fn registry_path(&self) -> PathBuf {
        self.repo.join(".claude-agents").join("task-registry.json")
    }

    /// Replaces status.json.
    pub fn write_plan(&self, plan: &str) {
        fs::write(self.plan_path(), plan).expect("write plan");
    }

    /// status.json parsed.
    pub fn plan(&self) -> Value {
        serde_json::from_str(&fs::read_to_string(self.plan_path()).expect("read plan"))
            .expect("plan is JSON")
    }

    /// The registry parsed.
    pub fn registry(&self) -> Value {
        serde_json::from_str(&fs::read_to_string(self.registry_path()).expect("read registry"))
            .expect("registry is JSON")
    }

    /// `swarm` run in the main worktree with a clean environment pointing at the plan.
    pub fn swarm(&self) -> Command {
        self.swarm_in(&self.repo)
    }

    /// `swarm` run in `dir`.
    pub fn swarm_in(&self, dir: &Path) -> Command {
        Command::from_std(self.process_in(dir))
    }

    /// `swarm` as a plain process (to spawn and kill), with the same environment as `swarm()`.
    pub fn process(&self) -> std::process::Command {
        self.process_in(&self.repo)
    }

    /// `swarm` run under `strace` with `strace_args` before the program (to inject a fault or
    /// a delay at a system call), in the repository, with the same environment as `swarm()`.
    pub fn strace(&self, strace_args: &[&str]) -> std::process::Command {
        let mut cmd = self.environment(std::process::Command::new("strace"), &self.repo);
        cmd.args(strace_args)
            .arg(assert_cmd::cargo::cargo_bin("swarm"));
        cmd
    }

    fn process_in(&self, dir: &Path) -> std::process::Command {
        let cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("swarm"));
        self.environment(cmd, dir)
    }

    fn environment(&self, mut cmd: std::process::Command, dir: &Path) -> std::process::Command {
        cmd.current_dir(dir)
            .env("SWARM_TASKS_DIR", &self.tasks)
            .env_remove("SWARM_PROJECT")
            .env_remove("SWARM_AGENT_ID")
            .env_remove("SWARM_LEASE")
            // Leases of ports and slots are machine-wide: each test keeps its own.
            .env("SWARM_STATE_DIR", self.state_dir())
            .env("NO_COLOR", "1");
        cmd
    }

    /// Where this test's swarm keeps its machine-wide state (port leases).
    pub fn state_dir(&self) -> PathBuf {
        self.repo.parent().unwrap().join("state")
    }

    /// Runs swarm with `args` and returns its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.swarm().args(args).output().expect("run swarm")
    }

    /// Every file under the tasks dir and the repository (minus .git internals that git itself
    /// rewrites), with its bytes: for "nothing on disk changed" checks.
    pub fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut out = BTreeMap::new();
        for top in [&self.tasks, &self.repo] {
            walk(top, &mut out);
        }
        out
    }
}

/// The paths whose content differs between two snapshots (added, removed or changed).
pub fn changed(a: &BTreeMap<PathBuf, Vec<u8>>, b: &BTreeMap<PathBuf, Vec<u8>>) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = a
        .iter()
        .filter(|(p, bytes)| b.get(*p) != Some(bytes))
        .map(|(p, _)| p.clone())
        .collect();
    out.extend(b.keys().filter(|p| !a.contains_key(*p)).cloned());
    out
}

fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "objects" || n == "logs") {
                continue;
            }
            out.insert(p.clone(), b"<dir>".to_vec());
            walk(&p, out);
        } else {
            out.insert(
                p.clone(),
                fs::read(&p).unwrap_or_else(|_| b"<unreadable>".to_vec()),
            );
        }
    }
}

/// Runs git in `dir`, panicking on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// stdout as text.
/// How many tasks of `plan` (status.json as JSON) have `field` equal to `value`.
pub fn count_tasks(plan: &Value, field: &str, value: impl Into<Value>) -> usize {
    let value = value.into();
    let tasks = plan["tasks"].as_object().expect("a plan with tasks");
    tasks.values().filter(|t| t[field] == value).count()
}

/// Whether process `pid` runs (exists and is not a zombie waiting to be reaped).
pub fn alive(pid: u64) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| s.contains(") Z "))
            .unwrap_or(true)
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A flat plan of `n` tasks named `t0000`…, no dependencies.
pub fn flat_plan(n: usize) -> String {
    let tasks: Vec<String> = (0..n)
        .map(|i| format!("\"t{i:04}\": {{\"title\": \"Task {i}\", \"status\": \"pending\", \"blockedBy\": []}}"))
        .collect();
    format!("{{\"tasks\": {{{}}}}}", tasks.join(",\n"))
}

/// The chain a -> b -> c with a join point on all three.
pub const CHAIN: &str = r#"{
  "tasks": {
    "a": {"title": "First", "status": "pending", "blockedBy": []},
    "b": {"title": "Second", "status": "pending", "blockedBy": ["a"]},
    "c": {"title": "Third", "status": "pending", "blockedBy": ["b"]}
  },
  "joinPoints": {"all": {"requires": ["a", "b", "c"]}}
}"#;

/// Writes an agent script `name` beside the repository; the `--agent-cmd` that runs it.
pub fn script(env: &Env, name: &str, body: &str) -> String {
    let path = env.repo.parent().unwrap().join(name);
    std::fs::write(&path, body).unwrap();
    format!("sh {}", path.display())
}

/// `PATH` with `bin` first: for stand-ins of gh, tmux and the agent programs.
pub fn path_with(bin: &Path) -> std::ffi::OsString {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(std::iter::once(bin.to_path_buf()).chain(std::env::split_paths(&path)))
        .unwrap()
}

/// Polls `ready` every 20 ms until it holds; after `limit` seconds the test fails with `what()`.
pub fn wait_until(limit: u64, mut ready: impl FnMut() -> bool, what: impl FnOnce() -> String) {
    let start = std::time::Instant::now();
    while !ready() {
        if start.elapsed() >= std::time::Duration::from_secs(limit) {
            panic!("{}", what());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The registry lock file.
pub fn lock_path(env: &Env) -> PathBuf {
    env.repo.join(".claude-agents/task-registry.lock")
}

/// Starts `flock` holding the registry lock (its child does not inherit it: -o), and waits
/// until the lock is really held. The caller kills and waits for it.
#[allow(clippy::zombie_processes)]
pub fn hold_lock(env: &Env) -> std::process::Child {
    let child = std::process::Command::new("flock")
        .arg("-o")
        .arg(lock_path(env))
        .args(["sleep", "60"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("flock(1) is installed");
    let held = || {
        let probe = std::process::Command::new("flock")
            .arg("-n")
            .arg(lock_path(env))
            .arg("true")
            .status()
            .unwrap();
        !probe.success()
    };
    wait_until(10, held, || "flock never took the lock".into());
    child
}
