//! Dead agents: their tasks come back, their work is the next attempt's starting point;
//! `recover` and `log` show it.

use crate::support::{changed, git, stderr, stdout, wait_until, Env};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// An agent that commits its work, says so, then works on (sleeps) until killed.
const COMMIT_THEN_WAIT: &str = r#"#!/bin/sh
echo "half done" > "partial-$SWARM_TASK.txt"
git add . && git -c user.name=a -c user.email=a@example.com commit -q -m "partial $SWARM_TASK"
touch "$MARK"
exec sleep 600
"#;

fn wait_for(path: &Path) {
    wait_until(
        30,
        || path.exists(),
        || format!("{} never appeared", path.display()),
    );
}

#[test]
fn killed_agent_task_returns_and_the_next_launch_continues_its_branch() {
    let env = Env::with_plan(&crate::support::flat_plan(1));
    let root = env.repo.parent().unwrap().to_path_buf();
    let mark = root.join("committed");
    let script = root.join("agent.sh");
    std::fs::write(&script, COMMIT_THEN_WAIT).unwrap();
    let mut agent = env
        .process()
        .env("MARK", &mark)
        .args(["launch", "--agent-cmd"])
        .arg(format!("sh {}", script.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for(&mark);
    let reg = env.registry();
    let (dead_id, dead) = reg["agents"].as_object().unwrap().iter().next().unwrap();
    assert_eq!(
        dead["pid"].as_u64(),
        Some(u64::from(agent.id())),
        "launch became the agent"
    );
    let dead_branch = dead["branch"].as_str().unwrap().to_string();
    let dead_tip = git(&env.repo, &["rev-parse", &dead_branch])
        .trim()
        .to_string();

    agent.kill().unwrap(); // SIGKILL
    agent.wait().unwrap();

    let o = env.run(&["list", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("agent {dead_id} is dead")),
        "{}",
        stderr(&o)
    );
    let rows: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(rows[0]["status"], "pending");
    assert_eq!(rows[0]["attempts"], 1);
    assert_eq!(
        env.plan()["tasks"]["t0000"]["previousBranch"],
        dead_branch.as_str()
    );
    assert_eq!(env.registry()["agents"][dead_id]["state"], "dead");

    let o = env.run(&["launch", "--no-exec", "--json", "--agent-cmd", "true"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("continuing from {dead_branch}")),
        "{}",
        stderr(&o)
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["task"], "t0000");
    let wt = PathBuf::from(v["worktree"].as_str().unwrap());
    assert_eq!(git(&wt, &["rev-parse", "HEAD"]).trim(), dead_tip);
    assert!(wt.join("partial-t0000.txt").is_file());
    assert!(
        v["argv"][1].as_str().unwrap().contains(&dead_branch),
        "the prompt says so"
    );
}

#[test]
fn recover_reports_and_log_filters() {
    let env = Env::with_plan(crate::support::CHAIN);
    assert!(env.run(&["setup"]).status.success());
    assert!(env
        .run(&["task", "claim", "a", "--agent", "x"])
        .status
        .success());
    // Make x an agent whose process is gone: a pid that has exited, on this host.
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let mut reg = env.registry();
    reg["agents"]["x"]["pid"] = pid.into();
    reg["agents"]["x"]["host"] = host.trim().into();
    std::fs::write(
        env.registry_path(),
        serde_json::to_string_pretty(&reg).unwrap(),
    )
    .unwrap();

    let before = env.snapshot();
    let o = env.run(&["recover", "--dry-run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("recover"), "{}", stdout(&o));
    assert!(stderr(&o).contains("would make"), "{}", stderr(&o));
    assert_eq!(changed(&before, &env.snapshot()), Vec::<PathBuf>::new());

    let o = env.run(&["recover"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("process"), "{}", stdout(&o));
    assert_eq!(env.plan()["tasks"]["a"]["status"], "pending");
    assert_eq!(env.plan()["tasks"]["a"]["attempts"], 1);
    let o = env.run(&["recover"]);
    assert!(
        stderr(&o).contains("registry and plan agree"),
        "{}",
        stderr(&o)
    );

    let o = env.run(&["log", "--task", "a", "--json"]);
    let events: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["claim", "release", "recover"]);
    // Like every event, the recovery says the status it found and the one it left.
    assert_eq!(
        (&events[2]["from"], &events[2]["to"]),
        (&Value::from("in-progress"), &Value::from("pending"))
    );
    let o = env.run(&["log", "--agent", "x", "-n", "1"]);
    assert_eq!(stdout(&o).lines().count(), 1);
    assert!(stdout(&o).contains("recover"), "{}", stdout(&o));
    let o = env.run(&["agent", "heartbeat", "--agent", "y"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(env.registry()["agents"]["y"]["state"], "alive");
}

#[test]
fn a_reused_branch_that_lacks_the_previous_attempt_is_said_so_not_continued() {
    let env = Env::with_plan(
        r#"{"tasks": {"a": {"title": "First"}},
            "coordination": {"agents": {"w1": {"worktree": "../proj-w1", "branch": "feature/w1"}}}}"#,
    );
    // w1's worktree and branch exist before any attempt.
    let o = env.run(&["setup"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // A headless attempt by another agent commits, then fails: task a records its branch.
    let cmd = crate::support::script(
        &env,
        "commit-and-fail.sh",
        "#!/bin/sh\necho x > partial.txt\ngit add . && git -c user.name=a -c user.email=a@example.com commit -q -m partial\nexit 1\n",
    );
    let o = env.run(&["launch", "--headless", "--agent-cmd", &cmd]);
    assert!(o.status.success(), "{}", stderr(&o));
    let prev = env.plan()["tasks"]["a"]["previousBranch"]
        .as_str()
        .unwrap()
        .to_string();
    let w1_before = git(&env.repo, &["rev-parse", "feature/w1"]);

    let o = env.run(&[
        "launch",
        "--as",
        "w1",
        "--base",
        "HEAD",
        "--no-exec",
        "--agent-cmd",
        "true",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(!err.contains("continuing from"), "{err}");
    assert!(
        err.contains(&format!(
            "a previous attempt left commits on {prev}, which the existing branch feature/w1 does not have"
        )),
        "{err}"
    );
    assert!(err.contains("--base was not applied"), "{err}");
    // The branch was not moved, and the agent is told where the earlier work is.
    assert_eq!(git(&env.repo, &["rev-parse", "feature/w1"]), w1_before);
    let prompt = std::fs::read_to_string(env.repo.join(".claude-agents/prompts/w1.md")).unwrap();
    assert!(
        prompt.contains(&format!("git merge {prev}")) && prompt.contains("does not have"),
        "{prompt}"
    );
}

#[test]
fn an_agent_that_quits_holding_no_task_has_exited_not_died() {
    let env = Env::with_plan(&crate::support::flat_plan(2));
    let script = env.repo.parent().unwrap().join("finish.sh");
    std::fs::write(&script, "#!/bin/sh\nswarm task done \"$SWARM_TASK\"\n").unwrap();
    let o = env.run(&["launch", "--agent-cmd", &format!("sh {}", script.display())]);
    assert!(o.status.success(), "{}", stderr(&o));
    // A second agent dies holding its task.
    let o = env.run(&["launch", "--agent-cmd", "true"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = env.run(&["recover"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let reg = env.registry();
    let states: Vec<&str> = reg["agents"]
        .as_object()
        .unwrap()
        .values()
        .map(|a| a["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["exited", "dead"], "{reg}");
    let tasks = env.plan()["tasks"].clone();
    assert_eq!(tasks["t0000"]["status"], "completed", "{tasks}");
    assert_eq!(tasks["t0001"]["attempts"], 1, "{tasks}");
}

#[test]
fn agents_retired_over_a_week_ago_with_nothing_left_are_pruned() {
    let env = Env::with_plan(
        r#"{"tasks": {"a": {"status": "completed", "agent": "old-awaiting-complete"}}}"#,
    );
    assert!(env.run(&["setup"]).status.success());
    let kept_dir = env.repo.parent().unwrap().join("still-here");
    std::fs::create_dir_all(&kept_dir).unwrap();
    git(&env.repo, &["branch", "unmerged"]);
    let old = r#""retiredAt": "2020-01-01T00:00:00Z""#;
    let reg = format!(
        r#"{{"version": "1.0", "agents": {{
            "old-gone": {{"state": "done", {old}, "worktree": "/nonexistent/wt"}},
            "old-no-worktree": {{"state": "exited", {old}}},
            "old-with-a-branch": {{"state": "dead", {old}, "branch": "unmerged"}},
            "old-worktree-kept": {{"state": "dead", {old}, "worktree": "{}"}},
            "old-awaiting-complete": {{"state": "done", {old}}},
            "recent": {{"state": "done", "retiredAt": "{}"}},
            "old-without-date": {{"state": "dead"}}
        }}, "claimedTasks": {{}}}}"#,
        kept_dir.display(),
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    std::fs::write(env.registry_path(), reg).unwrap();
    let o = env.run(&["recover"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let reg = env.registry();
    let left: Vec<&String> = reg["agents"].as_object().unwrap().keys().collect();
    assert_eq!(
        left,
        [
            "old-worktree-kept",
            "old-awaiting-complete",
            "recent",
            "old-without-date"
        ],
        "{reg}"
    );
    let log = stdout(&env.run(&["log", "--json"]));
    assert_eq!(log.matches("\"prune\"").count(), 3, "{log}");
    // Forgetting an agent never touches git: its branch stays.
    assert!(!git(&env.repo, &["branch", "--list", "unmerged"]).is_empty());
}

/// `git clean -fdX` removes the coordination dir (git ignores it). The next command rebuilds
/// the registry from the plan, so the live agents keep their tasks and no one is given a task
/// twice; it says so on stderr.
#[test]
fn a_deleted_registry_is_rebuilt_from_the_plan_and_frees_no_live_claim() {
    let env = Env::with_plan(&crate::support::flat_plan(3));
    for agent in ["x", "y"] {
        let o = env.run(&["task", "claim", "--next", "--agent", agent]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    git(&env.repo, &["clean", "-q", "-fdX"]);
    assert!(!env.repo.join(".claude-agents").exists());
    let o = env.run(&["task", "claim", "--next", "--agent", "z"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "t0002", "z gets the free task");
    assert!(
        stderr(&o).contains("rebuilt from the plan"),
        "{}",
        stderr(&o)
    );
    let reg = env.registry();
    let claims = reg["claimedTasks"].as_object().unwrap();
    let holders: Vec<(&str, &str)> = claims
        .iter()
        .map(|(t, c)| (t.as_str(), c["agent"].as_str().unwrap()))
        .collect();
    assert_eq!(
        holders,
        [("t0000", "x"), ("t0001", "y"), ("t0002", "z")],
        "{reg}"
    );
    let plan = env.plan();
    assert_eq!(plan["tasks"]["t0000"]["agent"], "x");
    // x still acts as the holder of its task.
    let o = env.run(&["task", "done", "t0000", "--agent", "x"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // A setup run again after the clean rebuilds too, it does not write an empty registry.
    git(&env.repo, &["clean", "-q", "-fdX"]);
    let o = env.run(&["setup", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(env.registry()["claimedTasks"].as_object().unwrap().len(), 2);
}

/// Launches killed while making their worktrees leave entries under .git/worktrees that made
/// every later launch fail ("already checked out"). Entries git itself counts invalid (no
/// gitdir) are removed by the next launch; swarm's own half-made worktrees of dead agents by
/// recover, with their branches when these hold no work. A person's worktree is never touched.
#[test]
fn interrupted_launches_leave_nothing_that_blocks_later_ones() {
    let env = Env::with_plan(&crate::support::flat_plan(2));
    let admin = env.repo.join(".git/worktrees");
    // Left by launches killed a while ago (an entry being made right now is not touched).
    let backdate = |p: &Path| {
        let o = std::process::Command::new("touch")
            .args(["-d", "1 hour ago"])
            .arg(p)
            .status()
            .unwrap();
        assert!(o.success());
    };
    std::fs::create_dir_all(admin.join("a")).unwrap();
    std::fs::create_dir_all(admin.join("b")).unwrap();
    backdate(&admin.join("a"));
    backdate(&admin.join("b"));
    let o = env.run(&["launch", "--no-exec", "--agent-cmd", "true"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("removed the broken worktree entry"),
        "{}",
        stderr(&o)
    );
    assert!(!admin.join("a").exists() && !admin.join("b").exists());

    // A dead agent's half-made worktree (no index: its checkout never finished), next to a
    // person's worktree in the same state.
    let root = env.repo.parent().unwrap().to_path_buf();
    let half_made = |name: &str| {
        let wt = root.join(format!("wt-{name}"));
        std::fs::create_dir_all(&wt).unwrap();
        std::fs::write(wt.join("half.txt"), "half\n").unwrap();
        std::fs::write(
            wt.join(".git"),
            format!("gitdir: {}\n", admin.join(name).display()),
        )
        .unwrap();
        std::fs::create_dir_all(admin.join(name)).unwrap();
        std::fs::write(
            admin.join(name).join("gitdir"),
            format!("{}\n", wt.join(".git").display()),
        )
        .unwrap();
        std::fs::write(admin.join(name).join("commondir"), "../..\n").unwrap();
        backdate(&admin.join(name));
        wt
    };
    let dead_wt = half_made("agent-1-1");
    let person_wt = half_made("feature");
    git(&env.repo, &["branch", "work/agent-1-1"]);
    let reg_path = env.registry_path();
    let mut reg: Value =
        serde_json::from_str(&std::fs::read_to_string(&reg_path).unwrap()).unwrap();
    reg["agents"]["agent-1-1"] = serde_json::json!({
        "state": "dead", "retiredAt": "2026-01-01T00:00:00Z",
        "worktree": dead_wt.display().to_string(), "branch": "work/agent-1-1"
    });
    std::fs::write(&reg_path, reg.to_string()).unwrap();
    let o = env.run(&["recover"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("removed the half-made worktree"),
        "{}",
        stderr(&o)
    );
    assert!(!dead_wt.exists() && !admin.join("agent-1-1").exists());
    assert!(git(&env.repo, &["branch", "--list", "work/agent-1-1"]).is_empty());
    assert!(person_wt.join("half.txt").exists() && admin.join("feature").exists());
    let o = env.run(&["launch", "--no-exec", "--agent-cmd", "true"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// Times in the future are not signs of life (a heartbeat of 2099 would hold a claim until
/// then), and a pid without its start time proves nothing (pid 1 always runs): both agents
/// are judged by what else there is — here, nothing recent — and their tasks freed.
#[test]
fn a_future_heartbeat_or_a_bare_pid_does_not_keep_a_claim_alive() {
    let env = Env::with_plan(&crate::support::flat_plan(2));
    assert!(env.run(&["setup", "-q"]).status.success());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let reg = format!(
        r#"{{"version": "1.0", "agents": {{
            "future": {{"heartbeat": "2099-01-01T00:00:00Z"}},
            "pid-one": {{"pid": 1, "host": "{}", "heartbeat": "1970-01-01T00:00:00Z"}}
        }}, "claimedTasks": {{
            "t0000": {{"agent": "future"}},
            "t0001": {{"agent": "pid-one", "claimedAt": "1970-01-01T00:00:00Z"}}
        }}}}"#,
        host.trim()
    );
    std::fs::write(env.registry_path(), reg).unwrap();
    let o = env.run(&["recover"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("agent future has a time in the future"),
        "{}",
        stderr(&o)
    );
    let reg = env.registry();
    assert!(reg["claimedTasks"].as_object().unwrap().is_empty(), "{reg}");
    assert_eq!(reg["agents"]["future"]["state"], "dead");
    assert_eq!(reg["agents"]["pid-one"]["state"], "dead");
}

/// Files staged by processes killed before their rename are removed by the next locked
/// command; a live process's are left alone.
#[test]
fn staged_files_of_dead_processes_are_removed() {
    let env = Env::with_plan(crate::support::CHAIN);
    assert!(env.run(&["setup", "-q"]).status.success());
    let coord = env.repo.join(".claude-agents");
    let plan_dir = env.tasks.join("proj");
    let dead = [
        coord.join(".task-registry.json.swarm-tmp-999999"),
        plan_dir.join(".status.json.swarm-tmp-999998"),
    ];
    let live = plan_dir.join(format!(".status.json.swarm-tmp-{}", std::process::id()));
    for f in dead.iter().chain([&live]) {
        std::fs::write(f, "half").unwrap();
    }
    assert!(env.run(&["list", "-q"]).status.success());
    assert!(dead.iter().all(|f| !f.exists()));
    assert!(live.exists());
}
