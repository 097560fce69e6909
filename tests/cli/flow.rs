//! The whole flow on real repositories: setup, concurrent launches with a scripted agent that
//! commits and steals tasks, join-status, complete --merge.

use crate::support::{git, stderr, stdout, Env};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Nine tasks in three layers, with two join points.
const LAYERED: &str = r#"{
  "tasks": {
    "a1": {"title": "A1", "status": "pending", "blockedBy": []},
    "a2": {"title": "A2", "status": "pending", "blockedBy": []},
    "a3": {"title": "A3", "status": "pending", "blockedBy": []},
    "b1": {"title": "B1", "status": "pending", "blockedBy": ["a1"]},
    "b2": {"title": "B2", "status": "pending", "blockedBy": ["a2", "a3"]},
    "b3": {"title": "B3", "status": "pending", "blockedBy": ["a1"]},
    "c1": {"title": "C1", "status": "pending", "blockedBy": ["b1", "b2"]},
    "c2": {"title": "C2", "status": "pending", "blockedBy": ["b3"]},
    "c3": {"title": "C3", "status": "pending", "blockedBy": ["c1", "c2"]}
  },
  "joinPoints": {"mid": {"requires": ["a*", "b*"]}, "all": {"requires": ["*"]}}
}"#;

/// An agent as a shell script: commit a file for the task, report, finish, claim the next,
/// stop on exit 3 — the commands the prompt gives a real agent, run from its worktree.
const AGENT: &str = r#"#!/bin/sh
task="$SWARM_TASK"
while :; do
  f="done-$task.txt"
  echo "$task by $SWARM_AGENT_ID" > "$f"
  git add "$f" || exit 10
  git -c user.name=agent -c user.email=agent@example.com commit -q -m "work on $task" || exit 11
  swarm task update "$task" --progress 50 || exit 12
  swarm task done "$task" || exit 13
  next=$(swarm task claim --next)
  rc=$?
  [ $rc -eq 3 ] && exit 0
  [ $rc -eq 0 ] || exit $rc
  task="$next"
done
"#;

/// Writes the scripted agent beside the repository; returns the `--agent-cmd` template.
pub fn agent_script(env: &Env, body: &str) -> String {
    let path = env.repo.parent().unwrap().join("agent.sh");
    std::fs::write(&path, body).unwrap();
    format!("sh {}", path.display())
}

/// Linked worktrees of the repository (`git worktree list`, main excluded).
pub fn linked_worktrees(repo: &Path) -> Vec<PathBuf> {
    let out = git(repo, &["worktree", "list", "--porcelain"]);
    out.lines()
        .filter_map(|l| l.strip_prefix("worktree "))
        .map(PathBuf::from)
        .filter(|p| p.file_name() != repo.file_name())
        .collect()
}

#[test]
fn three_agents_run_the_plan_and_complete_merges_everything() {
    let env = Env::with_plan(LAYERED);
    let o = env.run(&["setup"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let cmd = agent_script(&env, AGENT);
    let children: Vec<_> = (0..3)
        .map(|_| {
            env.process()
                .args(["launch", "--agent-cmd", &cmd])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        // A launch that comes after the other agents took every ready task finds nothing
        // (exit 3, nothing created); any other failure is one.
        let nothing = o.status.code() == Some(3) && stderr(&o).contains("nothing to launch");
        assert!(
            o.status.success() || nothing,
            "launch/agent failed: {}",
            stderr(&o)
        );
    }

    // Every task completed, each claimed exactly once.
    let plan = env.plan();
    let tasks = plan["tasks"].as_object().unwrap();
    for (id, t) in tasks {
        assert_eq!(t["status"], "completed", "{id}: {t}");
    }
    let events = std::fs::read_to_string(env.repo.join(".claude-agents/events.jsonl")).unwrap();
    let mut claims: BTreeMap<String, usize> = BTreeMap::new();
    for line in events.lines() {
        let e: Value = serde_json::from_str(line).unwrap();
        if e["event"] == "claim" {
            *claims
                .entry(e["task"].as_str().unwrap().into())
                .or_default() += 1;
        }
    }
    assert_eq!(claims.len(), 9, "{claims:?}");
    assert!(claims.values().all(|n| *n == 1), "{claims:?}");

    let js = env.run(&["join-status"]);
    assert_eq!(js.status.code(), Some(0), "{}", stderr(&js));

    // Each agent worked in its own worktree on its own branch.
    let reg = env.registry();
    let agents: Vec<String> = reg["agents"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, a)| a["worktree"].is_string())
        .map(|(id, _)| id.clone())
        .collect();
    assert_eq!(agents.len(), 3, "{reg}");
    assert_eq!(linked_worktrees(&env.repo).len(), 3);
    for id in &agents {
        let o = env.run(&["complete", id, "--merge"]);
        assert!(o.status.success(), "complete {id}: {}", stderr(&o));
    }
    assert!(linked_worktrees(&env.repo).is_empty());
    for id in &agents {
        let wt = reg["agents"][id]["worktree"].as_str().unwrap();
        assert!(!Path::new(wt).exists(), "{wt} still exists");
    }
    // main holds one commit per task, and every task's file.
    let log = git(&env.repo, &["log", "--format=%s", "main"]);
    for id in tasks.keys() {
        let n = log
            .lines()
            .filter(|l| *l == format!("work on {id}"))
            .count();
        assert_eq!(n, 1, "{id} in\n{log}");
        assert!(env.repo.join(format!("done-{id}.txt")).is_file(), "{id}");
    }
    let plan = env.plan();
    for (id, t) in plan["tasks"].as_object().unwrap() {
        assert_eq!(t["status"], "reviewed", "{id}");
    }
    assert!(git(&env.repo, &["status", "--porcelain"]).is_empty());
}

#[test]
fn launch_with_nothing_ready_creates_nothing() {
    let env = Env::with_plan(crate::support::CHAIN);
    assert!(env.run(&["setup"]).status.success());
    let o = env.run(&["task", "claim", "a", "--agent", "busy"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let before = env.snapshot();
    let o = env.run(&["launch", "--agent-cmd", "true"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("a by busy"), "{err}");
    assert!(err.contains("no branch or worktree was created"), "{err}");
    assert_eq!(
        crate::support::changed(&before, &env.snapshot()),
        Vec::<PathBuf>::new()
    );
    assert!(git(&env.repo, &["branch", "--list", "work/*"]).is_empty());
    assert!(linked_worktrees(&env.repo).is_empty());
    let siblings: Vec<_> = std::fs::read_dir(env.repo.parent().unwrap())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("proj-"))
        .collect();
    assert!(siblings.is_empty());
    // Scripts get the reason as data too.
    let o = env.run(&["launch", "--no-exec", "--json", "--agent-cmd", "true"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["task"].is_null(), "{v}");
    assert!(v["reason"].as_str().unwrap().contains("a by busy"), "{v}");
    // --json without --no-exec or --dry-run would print nothing: a usage error.
    let o = env.run(&["launch", "--json", "--agent-cmd", "true"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--json goes with --no-exec or --dry-run"));
}

/// Fake agent programs on PATH, so that presets can be launched with --no-exec.
fn fake_agents(env: &Env) -> std::ffi::OsString {
    let bin = env.repo.parent().unwrap().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for p in ["claude", "codex", "gemini", "aider", "opencode"] {
        let path = bin.join(p);
        std::fs::write(&path, "#!/bin/sh\nexit 0\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    crate::support::path_with(&bin)
}

#[test]
fn no_exec_prints_the_exact_argv_of_every_preset() {
    let env = Env::with_plan(&crate::support::flat_plan(8));
    let path = fake_agents(&env);
    let expect: [(&str, &[&str]); 5] = [
        ("claude", &["claude", "--permission-mode", "acceptEdits"]),
        (
            "codex",
            &[
                "codex",
                "-s",
                "workspace-write",
                "-c",
                "approval_policy=on-request",
            ],
        ),
        (
            "gemini",
            &[
                "gemini",
                "--approval-mode",
                "auto_edit",
                "--skip-trust",
                "-i",
            ],
        ),
        ("aider", &["aider", "--yes-always", "--read"]),
        ("opencode", &["opencode", "--prompt"]),
    ];
    for (preset, head) in expect {
        let o = env
            .swarm()
            .env("PATH", &path)
            .args(["launch", "--no-exec", "--json", "--agent", preset])
            .output()
            .unwrap();
        assert!(o.status.success(), "{preset}: {}", stderr(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        let mut argv: Vec<&str> = v["argv"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        // Codex's writable directories (the coordination dir and the plan's), checked apart.
        while let Some(at) = argv.iter().position(|a| *a == "--add-dir") {
            let dir = argv.remove(at + 1);
            argv.remove(at);
            assert!(
                dir.ends_with(".claude-agents") || dir.ends_with("proj"),
                "{dir}"
            );
        }
        let task = v["task"].as_str().unwrap();
        assert_eq!(&argv[..head.len()], head, "{preset}: {argv:?}");
        assert_eq!(argv.len(), head.len() + 1, "{preset}: {argv:?}");
        let last = argv[head.len()];
        if preset == "aider" {
            // Aider reads the prompt from a file in its chat.
            let text = std::fs::read_to_string(last).unwrap();
            assert!(text.contains(&format!("swarm task done {task}")), "{text}");
        } else {
            assert!(last.contains(&format!("swarm task done {task}")), "{last}");
        }
        let wt = Path::new(v["worktree"].as_str().unwrap());
        assert!(wt.is_dir(), "{}", wt.display());
        assert_eq!(
            v["branch"],
            format!("work/{}", v["agent"].as_str().unwrap())
        );
        assert_eq!(v["env"]["SWARM_TASK"], task);
        assert_eq!(v["env"]["SWARM_AGENT_ID"], v["agent"]);
        assert_eq!(
            git(wt, &["rev-parse", "--abbrev-ref", "HEAD"]).trim(),
            v["branch"].as_str().unwrap()
        );
    }
    // Without --json: one "key value" line each, argv as a JSON array.
    let with_template = |template: &str| {
        env.swarm()
            .env("PATH", &path)
            .args(["launch", "--no-exec", "--agent-cmd", template])
            .output()
            .unwrap()
    };
    // my-agent is not on PATH: refused before anything is claimed.
    let o = with_template("my-agent --task {task} --msg {prompt}");
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("\"my-agent\" is not on PATH"), "{err}");
    let o = with_template("claude --task {task} --msg {prompt}");
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k} ")))
            .unwrap_or_else(|| panic!("no {k} in {text}"))
            .to_string()
    };
    let argv: Vec<String> = serde_json::from_str(&field("argv")).unwrap();
    assert_eq!(argv[..3], ["claude", "--task", &field("task")]);
    assert_eq!(argv[3], "--msg");
    assert!(argv[4].contains("You are"), "{}", argv[4]);
    assert!(Path::new(&field("worktree")).is_dir());
}

/// `launch --as agent-a --no-exec --json`, with the stand-in agent CLIs on `path`.
fn launch_as_a(env: &Env, path: &std::ffi::OsStr) -> std::process::Output {
    env.swarm()
        .env("PATH", path)
        .args(["launch", "--as", "agent-a", "--no-exec", "--json"])
        .output()
        .unwrap()
}

/// Two tasks; agent-a is pre-assigned `y`, with its own worktree and branch.
const PREASSIGNED: &str = r#"{
  "tasks": {
    "x": {"title": "X", "status": "pending", "blockedBy": []},
    "y": {"title": "Y", "status": "pending", "blockedBy": []}
  },
  "coordination": {"agents": {"agent-a": {"worktree": "../proj-a", "branch": "feature/a", "tasks": ["y"]}}}
}"#;

#[test]
fn setup_makes_preassigned_worktrees_once_and_launch_as_uses_them() {
    let env = Env::with_plan(PREASSIGNED);
    let o = env.run(&["setup"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let wt = env.repo.parent().unwrap().join("proj-a");
    assert!(wt.is_dir());
    assert_eq!(
        git(&wt, &["rev-parse", "--abbrev-ref", "HEAD"]).trim(),
        "feature/a"
    );
    let script = env.repo.join(".claude-agents/launch-agent.sh");
    assert!(std::fs::read_to_string(&script)
        .unwrap()
        .contains("launch \"$@\""));

    let before = env.snapshot();
    let worktrees = git(&env.repo, &["worktree", "list"]);
    let o = env.run(&["setup"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("kept the existing worktree"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        crate::support::changed(&before, &env.snapshot()),
        Vec::<PathBuf>::new()
    );
    assert_eq!(git(&env.repo, &["worktree", "list"]), worktrees);

    let path = fake_agents(&env);
    let o = launch_as_a(&env, &path);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["agent"], "agent-a");
    assert_eq!(v["task"], "y", "the pre-assigned task comes first");
    assert_eq!(v["branch"], "feature/a");
    assert_eq!(
        Path::new(v["worktree"].as_str().unwrap()),
        wt.canonicalize().unwrap()
    );
    assert!(v["argv"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_str()
        .unwrap()
        .contains("--as agent-a"));

    // A second launch as the same agent while it works (alive by its lease, holding y) would
    // share its worktree: refused, until the task is given back.
    let o = launch_as_a(&env, &path);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("agent-a holds y and is alive by its lease"),
        "{}",
        stderr(&o)
    );
    let o = env.run(&["task", "release", "y", "--agent", "agent-a"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = launch_as_a(&env, &path);
    assert!(o.status.success(), "{}", stderr(&o));

    // A worktree of the user's own whose folder is away (a drive not mounted, say): it is
    // theirs to prune, and swarm leaves its entry alone.
    let mine = env.repo.parent().unwrap().join("mine");
    let away = env.repo.parent().unwrap().join("mine-away");
    git(
        &env.repo,
        &[
            "worktree",
            "add",
            "-q",
            "-b",
            "mine",
            mine.to_str().unwrap(),
        ],
    );
    std::fs::rename(&mine, &away).unwrap();

    // A worktree folder deleted by hand (its branch keeps the work): setup makes it anew.
    let o = env.run(&["task", "release", "y", "--agent", "agent-a"]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::remove_dir_all(&wt).unwrap();
    let o = env.run(&["setup"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        git(&wt, &["rev-parse", "--abbrev-ref", "HEAD"]).trim(),
        "feature/a"
    );
    let o = launch_as_a(&env, &path);
    assert!(o.status.success(), "{}", stderr(&o));

    // The user's worktree came through: back in place, git knows it as before.
    assert!(env.repo.join(".git/worktrees/mine").is_dir());
    std::fs::rename(&away, &mine).unwrap();
    assert_eq!(
        git(&mine, &["rev-parse", "--abbrev-ref", "HEAD"]).trim(),
        "mine"
    );
}

#[test]
fn demo_runs_the_whole_flow_in_its_own_directory() {
    // Started from inside a user's repository with a tasks dir set: neither may change.
    let env = Env::with_plan(crate::support::CHAIN);
    let before = env.snapshot();
    let dir = env.repo.parent().unwrap().join("demo-run");
    let o = env
        .swarm()
        .args(["demo", "--pace", "0.1", "-n", "3", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        crate::support::changed(&before, &env.snapshot()),
        Vec::<PathBuf>::new()
    );
    let repo = PathBuf::from(stdout(&o).trim());
    assert!(
        repo.starts_with(dir.canonicalize().unwrap()),
        "{}",
        repo.display()
    );
    let err = stderr(&o);
    assert!(err.contains("claimed"), "{err}");
    assert!(err.contains("12/12 tasks reviewed"), "{err}");
    // Landing shows: one task fails verification, is fixed, and lands; join points are commits.
    assert!(err.contains("verify ✗  build/storage"), "{err}");
    assert!(err.contains("landed    build/storage at "), "{err}");
    assert!(err.contains("release: Ready at "), "{err}");
    let log = git(&repo, &["log", "--format=%s", "main"]);
    assert_eq!(
        log.lines()
            .filter(|l| l.ends_with(": simulated work"))
            .count(),
        12,
        "{log}"
    );
    assert!(
        log.contains("build/storage: handle what verification found"),
        "{log}"
    );
    assert_eq!(
        git(&repo, &["rev-parse", "main"]),
        git(&repo, &["rev-parse", "swarm/library-app"])
    );
    assert!(linked_worktrees(&repo).is_empty());
    let plan: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("tasks/library-app/status.json")).unwrap(),
    )
    .unwrap();
    assert!(plan["tasks"]
        .as_object()
        .unwrap()
        .values()
        .all(|t| t["status"] == "reviewed"));
}

#[test]
fn plan_init_starts_a_valid_plan_and_never_replaces_one() {
    let env = Env::new();
    std::fs::remove_dir(env.tasks.join("proj")).unwrap();
    let o = env.run(&["plan", "init"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(env.tasks.join("proj").join("plan.md").is_file());
    let o = env.run(&["plan", "validate"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The starter plan is usable as it is: a first claim takes its first task.
    let o = env.run(&["task", "claim", "--next", "--agent", "a"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "design/outline");

    let before = env.snapshot();
    let o = env.run(&["plan", "init"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("already there"), "{}", stderr(&o));
    assert!(crate::support::changed(&before, &env.snapshot()).is_empty());
}

/// A tmux server of the test's own (its socket under `dir`), killed when dropped.
struct Tmux {
    dir: PathBuf,
}

impl Tmux {
    fn new(env: &Env) -> Tmux {
        let dir = env.repo.parent().unwrap().join("tmux");
        std::fs::create_dir_all(&dir).unwrap();
        Tmux { dir }
    }

    /// `swarm` run from `cwd` with this server's socket and not inside tmux.
    fn swarm(&self, env: &Env, cwd: &Path) -> assert_cmd::Command {
        let mut cmd = env.swarm_in(cwd);
        cmd.env("TMUX_TMPDIR", &self.dir).env_remove("TMUX");
        cmd
    }

    /// tmux's own answer to `args`, or None when it fails (no server).
    fn query(&self, args: &[&str]) -> Option<String> {
        let o = std::process::Command::new("tmux")
            .env("TMUX_TMPDIR", &self.dir)
            .env_remove("TMUX")
            .args(args)
            .output()
            .unwrap();
        o.status
            .success()
            .then(|| String::from_utf8_lossy(&o.stdout).into_owned())
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.query(&["kill-server"]);
    }
}

#[test]
fn tmux_with_nothing_ready_exits_3_and_opens_no_window() {
    let env = Env::with_plan(r#"{"tasks": {"a": {"status": "completed"}}}"#);
    let tmux = Tmux::new(&env);
    let o = tmux
        .swarm(&env, &env.repo)
        .args(["launch", "-n", "2", "--tmux", "--agent-cmd", "true"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("nothing to launch: all 1 tasks are done"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        tmux.query(&["list-sessions"]),
        None,
        "a tmux session was started"
    );
    let o = tmux
        .swarm(&env, &env.repo)
        .args([
            "launch",
            "-n",
            "2",
            "--tmux",
            "--headless",
            "--agent-cmd",
            "true",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

/// Two panes for one ready task: one pane's launch starts the agent, the other finds nothing
/// and exits 3. The report says so, and the failed pane stays open with its status. The
/// panes run this command line from this directory (relative paths work).
#[test]
fn tmux_reports_what_really_started_and_keeps_a_failed_pane_open() {
    let env = Env::with_plan(&crate::support::flat_plan(1));
    let tmux = Tmux::new(&env);
    let root = env.repo.parent().unwrap().to_path_buf();
    let agent = root.join("work.sh");
    std::fs::write(&agent, "#!/bin/sh\nexec sleep 60\n").unwrap();
    let o = tmux
        .swarm(&env, &root)
        .env_remove("SWARM_TASKS_DIR")
        .args([
            "-C",
            "proj",
            "--tasks-dir",
            "tasks",
            "launch",
            "-n",
            "2",
            "--tmux",
        ])
        .arg("--agent-cmd")
        .arg(format!("sh {}", agent.display()))
        .output()
        .unwrap();
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("started 1 of 2 agents in tmux window @"),
        "{err}"
    );
    assert!(err.contains("tmux attach -t swarm-proj"), "{err}");
    assert!(err.contains("exited with status 3"), "{err}");
    // The failed pane is still there, dead (tmux itself does not always learn its status;
    // swarm reads it from the kernel).
    let panes = tmux
        .query(&["list-panes", "-a", "-F", "#{session_name} #{pane_dead}"])
        .unwrap();
    let mut states: Vec<&str> = panes.lines().collect();
    states.sort();
    assert_eq!(states, ["swarm-proj 0", "swarm-proj 1"], "{panes}");
    let claims = env.registry()["claimedTasks"].as_object().unwrap().len();
    assert_eq!(claims, 1);
    let log = stdout(&env.run(&["log"]));
    assert!(
        log.contains("launch-failed") && log.contains("status 3"),
        "{log}"
    );
}

/// Inside tmux the agents get a window in the current session, and the hint switches to it.
#[test]
fn inside_tmux_the_agents_get_a_window_of_the_current_session() {
    inside_tmux(1, &[]);
}

/// Panes that do not fit in a small terminal go to another window.
#[test]
fn panes_that_do_not_fit_go_to_another_window() {
    inside_tmux(6, &["-x", "20", "-y", "8"]);
}

/// Runs `launch -n N --tmux` in a tmux session of its own (made with `size`), on a plan of N
/// ready tasks: every agent starts, in windows named swarm-proj, and the hint switches there.
fn inside_tmux(n: usize, size: &[&str]) {
    let env = Env::with_plan(&crate::support::flat_plan(n));
    let tmux = Tmux::new(&env);
    let root = env.repo.parent().unwrap().to_path_buf();
    std::fs::write(root.join("work.sh"), "#!/bin/sh\nexec sleep 60\n").unwrap();
    let swarm = assert_cmd::cargo::cargo_bin("swarm");
    let script = format!(
        "cd '{}' && '{}' launch -n {n} --tmux --agent-cmd 'sh {}' > '{}' 2>&1; echo $? > '{}'",
        env.repo.display(),
        swarm.display(),
        root.join("work.sh").display(),
        root.join("out").display(),
        root.join("code").display()
    );
    let started = std::process::Command::new("tmux")
        .env("TMUX_TMPDIR", &tmux.dir)
        .env_remove("TMUX")
        .args(["new-session", "-d", "-s", "mine"])
        .args(size)
        .arg("-e")
        .arg(format!("SWARM_TASKS_DIR={}", env.tasks.display()))
        .args(["sh", "-c", &script])
        .status()
        .unwrap();
    assert!(started.success());
    let code = root.join("code");
    crate::support::wait_until(
        30,
        || code.exists(),
        || "the launch inside tmux never ended".into(),
    );
    let out = std::fs::read_to_string(root.join("out")).unwrap();
    assert_eq!(std::fs::read_to_string(&code).unwrap().trim(), "0", "{out}");
    assert!(out.contains(&format!("started {n} of {n} agents")), "{out}");
    assert!(out.contains("of session mine"), "{out}");
    assert!(out.contains("tmux select-window -t @"), "{out}");
    let windows = tmux
        .query(&["list-windows", "-t", "mine", "-F", "#{window_name}"])
        .unwrap();
    let ours = windows.lines().filter(|w| *w == "swarm-proj").count();
    assert!(ours >= 1 && (n == 1) == (ours == 1), "{windows}");
}

/// Every pane fails (the agent program does not exist): nothing started, exit 1, each
/// pane's status said and kept.
#[test]
fn tmux_with_every_pane_failing_exits_1_and_says_why() {
    let env = Env::with_plan(&crate::support::flat_plan(2));
    let tmux = Tmux::new(&env);
    let o = tmux
        .swarm(&env, &env.repo)
        .args([
            "launch",
            "-n",
            "2",
            "--tmux",
            "--agent-cmd",
            "no-such-agent-program",
        ])
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("started 0 of 2 agents"), "{err}");
    assert_eq!(err.matches("exited with status 1").count(), 2, "{err}");
    let dead = tmux
        .query(&["list-panes", "-a", "-F", "#{pane_dead}"])
        .unwrap();
    assert_eq!(dead.lines().collect::<Vec<_>>(), ["1", "1"], "{dead}");
    let plan = env.plan();
    assert_eq!(
        crate::support::count_tasks(&plan, "status", "pending"),
        2,
        "{plan}"
    );
}

#[test]
fn a_preassigned_branch_merged_earlier_starts_again_from_the_base() {
    let env = Env::with_plan(PREASSIGNED);
    let path = fake_agents(&env);
    let launch = |env: &Env| {
        let o = launch_as_a(env, &path);
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_slice::<Value>(&o.stdout).unwrap()
    };
    let v = launch(&env);
    let wt = PathBuf::from(v["worktree"].as_str().unwrap());
    std::fs::write(wt.join("y.txt"), "y\n").unwrap();
    git(&wt, &["add", "y.txt"]);
    git(&wt, &["commit", "-q", "-m", "y done"]);
    assert!(env
        .run(&["task", "done", "y", "--agent", "agent-a"])
        .status
        .success());
    let o = env.run(&["complete", "agent-a", "--merge"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The base moves on; the agent comes back for its next task.
    std::fs::write(env.repo.join("later.txt"), "later\n").unwrap();
    git(&env.repo, &["add", "later.txt"]);
    git(&env.repo, &["commit", "-q", "-m", "later on main"]);
    let v = launch(&env);
    assert_eq!(v["branch"], "feature/a");
    assert_eq!(
        git(&env.repo, &["rev-parse", "feature/a"]),
        git(&env.repo, &["rev-parse", "main"]),
        "the merged branch starts from main again"
    );
    let wt = PathBuf::from(v["worktree"].as_str().unwrap());
    assert!(wt.join("later.txt").is_file() && wt.join("y.txt").is_file());
}

/// A launch that fails after making its worktree (here the prompt cannot be written) gives the
/// task back and removes the worktree and the branch it made: nothing is left half-made.
#[test]
fn a_launch_that_fails_after_making_its_worktree_leaves_nothing_behind() {
    let env = Env::with_plan(&crate::support::flat_plan(1));
    assert!(env.run(&["setup", "-q"]).status.success());
    let prompts = env.repo.join(".claude-agents/prompts");
    std::fs::write(&prompts, "a file where the prompts directory goes").unwrap();
    let beside = |dir: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    };
    let parent = env.repo.parent().unwrap().to_path_buf();
    let (folders, worktrees) = (beside(&parent), git(&env.repo, &["worktree", "list"]));
    let branches = git(&env.repo, &["branch", "--list"]);
    let o = env.run(&["launch", "--no-exec", "--json", "--agent-cmd", "true"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("was given back"), "{err}");
    assert!(
        err.contains("the new worktree") && err.contains("was removed"),
        "{err}"
    );
    assert!(
        err.contains("the new branch") && err.contains("was deleted"),
        "{err}"
    );
    assert_eq!(beside(&parent), folders);
    assert_eq!(git(&env.repo, &["worktree", "list"]), worktrees);
    assert_eq!(git(&env.repo, &["branch", "--list"]), branches);
    assert!(env.registry()["claimedTasks"]
        .as_object()
        .unwrap()
        .is_empty());
    // Once the cause is gone, the next launch gets the task.
    std::fs::remove_file(&prompts).unwrap();
    let o = env.run(&["launch", "--no-exec", "--json", "--agent-cmd", "true"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// Panes are named after their agent and task, and `attach` finds an agent's pane.
#[test]
fn tmux_panes_carry_their_agent_and_task_and_attach_finds_them() {
    let env = Env::with_plan(&crate::support::flat_plan(2));
    let tmux = Tmux::new(&env);
    let agent = env.repo.parent().unwrap().join("work.sh");
    std::fs::write(&agent, "#!/bin/sh\nexec sleep 60\n").unwrap();
    let o = tmux
        .swarm(&env, &env.repo)
        .args(["launch", "-n", "2", "--tmux", "--agent-cmd"])
        .arg(format!("sh {}", agent.display()))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let reg = env.registry();
    let agents = reg["agents"].as_object().unwrap();
    assert_eq!(agents.len(), 2, "{reg}");
    // Each pane's launch names its pane right after its claim: a moment after it is seen.
    let titles = || {
        tmux.query(&["list-panes", "-a", "-F", "#{pane_id} #{pane_title}"])
            .unwrap_or_default()
    };
    crate::support::wait_until(
        10,
        || titles().lines().filter(|l| l.contains(": t000")).count() == 2,
        || format!("pane titles: {}", titles()),
    );
    let titles = titles();
    for (id, entry) in agents {
        let pane = entry["tmuxPane"].as_str().expect("its pane is recorded");
        let task = entry["currentTask"].as_str().unwrap();
        assert!(titles.contains(&format!("{pane} {id}: {task}")), "{titles}");
        let o = tmux
            .swarm(&env, &env.repo)
            .args(["attach", id, "--print"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            stdout(&o).contains(&format!("attach-session -t '{pane}'"))
                || stdout(&o).contains(&format!("attach-session -t {pane}")),
            "{}",
            stdout(&o)
        );
    }
    let o = env.run(&["attach", "nobody-here"]);
    assert_eq!(o.status.code(), Some(1));
}
