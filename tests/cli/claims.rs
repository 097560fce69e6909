//! Claiming, finishing and releasing tasks; readiness along dependencies.

use crate::support::{stderr, stdout, wait_until, Env, CHAIN};
use serde_json::Value;

#[test]
fn chain_readiness_follows_completed_blockers() {
    let env = Env::with_plan(CHAIN);
    let ready = |env: &Env| -> Vec<String> {
        let o = env.run(&["list", "--ready", "--json"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let rows: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
        rows.iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ready(&env), ["a"]);

    let deps = env.run(&["list", "--show-dependencies"]);
    let text = stdout(&deps);
    let c_line = text
        .lines()
        .find(|l| l.starts_with("c "))
        .expect("a line for c");
    assert!(c_line.contains("waits for b"), "{text}");

    let done = env.run(&["task", "done", "a"]);
    assert!(done.status.success(), "{}", stderr(&done));
    assert_eq!(ready(&env), ["b"]);
    let text = stdout(&env.run(&["list", "--show-dependencies"]));
    let c_line = text.lines().find(|l| l.starts_with("c ")).unwrap();
    assert!(c_line.contains("waits for b"), "{text}");
    assert!(
        !text
            .lines()
            .find(|l| l.starts_with("b "))
            .unwrap()
            .contains("waits"),
        "{text}"
    );
}

#[test]
fn claim_next_marks_both_files_and_reports_json() {
    let env = Env::with_plan(CHAIN);
    let o = env.run(&["task", "claim", "--next", "--agent", "agent-1", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["task"], "a");
    assert_eq!(v["agent"], "agent-1");
    let plan = env.plan();
    assert_eq!(plan["tasks"]["a"]["status"], "in-progress");
    assert_eq!(plan["tasks"]["a"]["agent"], "agent-1");
    assert_eq!(plan["tasks"]["a"]["claimed"], true);
    let reg = env.registry();
    assert_eq!(reg["claimedTasks"]["a"]["agent"], "agent-1");
    assert_eq!(reg["agents"]["agent-1"]["currentTask"], "a");
    let events = std::fs::read_to_string(env.repo.join(".claude-agents/events.jsonl")).unwrap();
    assert!(
        events
            .lines()
            .any(|l| l.contains("\"claim\"") && l.contains("\"a\"")),
        "{events}"
    );
}

#[test]
fn nothing_ready_exits_3_and_says_why() {
    let env = Env::with_plan(CHAIN);
    assert!(env
        .run(&["task", "claim", "--next", "--agent", "x"])
        .status
        .success());
    let o = env.run(&["task", "claim", "--next", "--agent", "y"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(o.stdout.is_empty(), "no data on stdout: {}", stdout(&o));
    let err = stderr(&o);
    assert!(err.contains("a by x"), "{err}");
    assert!(err.contains("b waits for a"), "{err}");

    assert!(env
        .run(&["task", "done", "a", "--agent", "x"])
        .status
        .success());
    for (agent, id) in [("x", "b"), ("x", "c")] {
        let o = env.run(&["task", "claim", "--next", "--agent", agent]);
        assert_eq!(stdout(&o).trim(), id);
        assert!(env
            .run(&["task", "done", id, "--agent", agent])
            .status
            .success());
    }
    let o = env.run(&["task", "claim", "--next", "--agent", "y"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("all 3 tasks are done"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn claim_by_id_refuses_blocked_and_held_tasks() {
    let env = Env::with_plan(CHAIN);
    let o = env.run(&["task", "claim", "b", "--agent", "x"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("waits for a"), "{}", stderr(&o));
    assert!(env
        .run(&["task", "claim", "a", "--agent", "x"])
        .status
        .success());
    let again = env.run(&["task", "claim", "a", "--agent", "x"]);
    assert!(again.status.success(), "claiming what you hold is harmless");
    let other = env.run(&["task", "claim", "a", "--agent", "y"]);
    assert_eq!(other.status.code(), Some(3));
    assert!(
        stderr(&other).contains("claimed by x"),
        "{}",
        stderr(&other)
    );
}

#[test]
fn only_the_holder_changes_a_claimed_task() {
    let env = Env::with_plan(CHAIN);
    assert!(env
        .run(&["task", "claim", "a", "--agent", "x"])
        .status
        .success());
    let o = env.run(&["task", "done", "a", "--agent", "y"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("claimed by x"), "{}", stderr(&o));
    assert_eq!(env.plan()["tasks"]["a"]["status"], "in-progress");

    let o = env.run(&["task", "update", "a", "--progress", "40", "--agent", "x"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(env.plan()["tasks"]["a"]["progress"], 40);

    // SWARM_AGENT_ID is the same identity as --agent.
    let o = env
        .swarm()
        .env("SWARM_AGENT_ID", "x")
        .args(["task", "release", "a"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(env.plan()["tasks"]["a"]["status"], "pending");
    assert!(env.registry()["claimedTasks"].get("a").is_none());
    let o = env.run(&["task", "claim", "--next", "--agent", "y"]);
    assert_eq!(stdout(&o).trim(), "a", "a released task is ready again");
}

/// An agent cannot complete a task it does not hold — not another agent's, not an unclaimed
/// one — unless it says --force; a person (no agent identity) can. Refusals change nothing.
#[test]
fn an_agent_completes_only_what_it_holds_unless_forced() {
    let env = Env::with_plan(CHAIN);
    assert!(env.run(&["setup", "-q"]).status.success());
    let before = env.snapshot();
    for args in [
        &["task", "done", "a", "--agent", "x"][..],
        &[
            "task",
            "update",
            "a",
            "--status",
            "completed",
            "--agent",
            "x",
        ],
        &["task", "update", "a", "--progress", "10", "--agent", "x"],
    ] {
        let o = env.run(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&o).contains("task a is not claimed by x (it is pending)"),
            "{}",
            stderr(&o)
        );
        assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    }
    assert!(crate::support::changed(&before, &env.snapshot()).is_empty());
    let o = env.run(&["task", "done", "a", "--agent", "x", "--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(env.plan()["tasks"]["a"]["status"], "completed");
    // Reporting again what it finished changes nothing and is not an error — even once the
    // task is reviewed; changing it is refused.
    let o = env.run(&["task", "done", "a", "--agent", "x"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(env
        .run(&["task", "update", "a", "--status", "reviewed"])
        .status
        .success());
    let o = env.run(&["task", "done", "a", "--agent", "x"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(env.plan()["tasks"]["a"]["status"], "reviewed");
    for change in [
        &["--status", "failed"][..],
        &["--status", "pending"],
        &["--progress", "10"],
    ] {
        let o = env.run(&[&["task", "update", "a", "--agent", "x"][..], change].concat());
        assert_eq!(o.status.code(), Some(1), "{change:?}");
    }
    assert_eq!(env.plan()["tasks"]["a"]["status"], "reviewed");
    assert!(env
        .run(&["task", "claim", "b", "--agent", "y"])
        .status
        .success());
    let o = env.run(&["task", "done", "b", "--agent", "x"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("claimed by y"), "{}", stderr(&o));
    // Before setup (no registry), the same refusal, and nothing is created.
    let fresh = Env::with_plan(CHAIN);
    let before = fresh.snapshot();
    let o = fresh.run(&["task", "done", "a", "--agent", "x"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(crate::support::changed(&before, &fresh.snapshot()).is_empty());
    let o = fresh.run(&["task", "done", "a"]);
    assert!(o.status.success(), "a person may: {}", stderr(&o));
    // A claim only an old plan shows, before setup: an agent's done is refused without
    // creating anything; a release gives it back.
    let legacy = Env::with_plan(
        r#"{"tasks": {"a": {"status": "in-progress", "agent": "x", "claimed": true}}}"#,
    );
    let before = legacy.snapshot();
    let o = legacy.run(&["task", "done", "a", "--agent", "x"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(crate::support::changed(&before, &legacy.snapshot()).is_empty());
    let o = legacy.run(&["task", "release", "a"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(legacy.plan()["tasks"]["a"]["status"], "pending");
}

#[test]
fn update_sets_status_and_progress() {
    let env = Env::with_plan(CHAIN);
    assert!(env
        .run(&["task", "claim", "a", "--agent", "x"])
        .status
        .success());
    let o = env.run(&["task", "update", "a", "--status", "failed", "--agent", "x"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(env.plan()["tasks"]["a"]["status"], "failed");
    assert!(
        env.registry()["claimedTasks"].get("a").is_none(),
        "a final status ends the claim"
    );
    let o = env.run(&["task", "update", "a"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "update with nothing to do is a usage error"
    );
    let o = env.run(&["task", "update", "a", "--progress", "101"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn commands_work_from_inside_a_linked_worktree() {
    let env = Env::with_plan(CHAIN);
    let wt = env.repo.parent().unwrap().join("proj-agent");
    crate::support::git(
        &env.repo,
        &[
            "worktree",
            "add",
            "-q",
            "-b",
            "work/x",
            wt.to_str().unwrap(),
        ],
    );
    let o = env
        .swarm_in(&wt)
        .args(["task", "claim", "--next", "--agent", "x"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "a");
    // The coordination dir is the main worktree's, not one inside the linked worktree.
    assert!(env.registry_path().is_file());
    assert!(!wt.join(".claude-agents").exists());
    let o = env
        .swarm_in(&wt.join("."))
        .args(["list", "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn setup_is_idempotent_and_excludes_the_coordination_dir() {
    let env = Env::with_plan(CHAIN);
    let o = env.run(&["setup"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(env.registry_path().is_file());
    assert!(env.repo.join(".claude-agents/task-registry.lock").is_file());
    let exclude = std::fs::read_to_string(env.repo.join(".git/info/exclude")).unwrap();
    assert!(
        exclude.lines().any(|l| l == "/.claude-agents/"),
        "{exclude}"
    );
    let status = crate::support::git(&env.repo, &["status", "--porcelain"]);
    assert!(status.is_empty(), "git sees nothing new: {status}");
    let before = env.snapshot();
    let o = env.run(&["setup"]);
    assert!(o.status.success());
    assert!(stderr(&o).contains("nothing to create"), "{}", stderr(&o));
    assert!(
        crate::support::changed(&before, &env.snapshot()).is_empty(),
        "a second setup changes nothing"
    );
}

#[test]
fn an_agent_past_its_lease_loses_its_claim_and_a_task_fails_after_max_attempts() {
    let env = Env::with_plan(CHAIN);
    // A lease of 0.6 s (0.01 minutes): agents that stay silent longer are dead. Each next
    // agent tries until the previous one's lease has run out and the task is free again.
    let run = |args: &[&str]| {
        env.swarm()
            .args(["--lease", "0.01"])
            .args(args)
            .output()
            .unwrap()
    };
    for agent in ["x1", "x2", "x3"] {
        let claimed = || stdout(&run(&["task", "claim", "--next", "--agent", agent])).trim() == "a";
        wait_until(30, claimed, || {
            format!("{agent} never got a: {}", env.plan())
        });
    }
    let mut o = run(&["list", "--json"]);
    wait_until(
        30,
        || {
            o = run(&["list", "--json"]);
            stderr(&o).contains("agent x3 is dead")
        },
        || "x3 never lost its claim".into(),
    );
    let err = stderr(&o);
    assert!(err.contains("failed after 3 attempts"), "{err}");
    let rows: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(rows[0]["status"], "failed");
    assert_eq!(rows[0]["attempts"], 3);
    let text = stdout(&env.run(&["list"]));
    assert!(
        text.lines().next().is_some() && text.contains("failed after 3 attempts"),
        "{text}"
    );
    let reg = env.registry();
    for agent in ["x1", "x2", "x3"] {
        assert_eq!(reg["agents"][agent]["state"], "dead", "{agent}");
    }
    let events = std::fs::read_to_string(env.repo.join(".claude-agents/events.jsonl")).unwrap();
    assert_eq!(
        events.lines().filter(|l| l.contains("\"recover\"")).count(),
        3,
        "{events}"
    );
}

/// Starts `task claim --next --wait` for `agent` and waits until it says it waits; its stderr
/// goes to the file returned.
fn start_waiting(env: &Env, agent: &str) -> (std::process::Child, std::path::PathBuf) {
    let err = env.repo.parent().unwrap().join(format!("{agent}.err"));
    let waiter = env
        .process()
        .args(["task", "claim", "--next", "--wait", "--agent", agent])
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let said = || std::fs::read_to_string(&err).unwrap_or_default();
    wait_until(60, || said().contains("waiting for a task"), said);
    (waiter, err)
}

#[test]
fn claim_wait_blocks_until_other_work_unblocks_a_task() {
    let env = Env::with_plan(CHAIN);
    assert!(env
        .run(&["task", "claim", "a", "--agent", "x"])
        .status
        .success());
    let (waiter, _) = start_waiting(&env, "y");
    assert!(env
        .run(&["task", "done", "a", "--agent", "x"])
        .status
        .success());
    let o = waiter.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "b");
    // Nothing can unblock c once b failed: --wait does not wait.
    let o = env.run(&["task", "update", "b", "--status", "failed", "--agent", "y"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = env.run(&["task", "claim", "--next", "--wait", "--agent", "z"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
}

#[test]
fn an_event_log_that_cannot_be_written_is_a_warning_not_a_failed_claim() {
    let env = Env::with_plan(&crate::support::flat_plan(1));
    assert!(env.run(&["setup"]).status.success());
    // Something in the way of the log: the claim is made (both files written) regardless.
    let log = env.repo.join(".claude-agents/events.jsonl");
    let _ = std::fs::remove_file(&log);
    std::fs::create_dir(&log).unwrap();
    let o = env.run(&["task", "claim", "--next", "--agent", "me"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cannot append events"),
        "{}",
        stderr(&o)
    );
    assert_eq!(env.registry()["claimedTasks"]["t0000"]["agent"], "me");
    assert_eq!(env.plan()["tasks"]["t0000"]["status"], "in-progress");
}

#[test]
fn wait_goes_with_next_not_with_an_id() {
    let env = Env::with_plan(&crate::support::flat_plan(2));
    for args in [
        &["task", "claim", "--wait", "t0001", "--agent", "y"][..],
        &["task", "claim", "t0001", "--wait", "--agent", "y"][..],
    ] {
        let before = env.snapshot();
        let o = env.run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("--wait goes with --next"),
            "{}",
            stderr(&o)
        );
        assert_eq!(
            crate::support::changed(&before, &env.snapshot()),
            Vec::<std::path::PathBuf>::new()
        );
    }
}

#[test]
fn a_second_project_in_the_same_repository_is_refused_not_merged() {
    let env = Env::with_plan(&crate::support::flat_plan(2));
    let o = env.run(&["task", "claim", "--next", "--agent", "a1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(env.registry()["project"], env.project.as_str());
    // Another plan, another project, same repository: its commands would take this project's
    // claims for claims on tasks missing from their plan and drop them.
    let other = env.tasks.join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(
        other.join("status.json"),
        crate::support::flat_plan(1).replace("t0", "o0"),
    )
    .unwrap();
    for args in [
        &[
            "--project",
            "other",
            "task",
            "claim",
            "--next",
            "--agent",
            "b1",
        ][..],
        &["--project", "other", "list"][..],
    ] {
        let before = env.snapshot();
        let o = env.run(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!(
                "registry is for project \"{}\", not \"other\"",
                env.project
            )),
            "{}",
            stderr(&o)
        );
        assert_eq!(
            crate::support::changed(&before, &env.snapshot()),
            Vec::<std::path::PathBuf>::new()
        );
    }
    assert_eq!(env.registry()["claimedTasks"]["t0000"]["agent"], "a1");
}

#[test]
fn out_of_range_settings_are_usage_errors() {
    let env = Env::with_plan(&crate::support::flat_plan(1));
    for args in [
        &["--lease", "0", "list"][..],
        &["--lock-timeout", "-1", "list"][..],
        &["--max-attempts", "0", "list"][..],
        &["launch", "-n", "2", "--agent-cmd", "true"][..],
    ] {
        let before = env.snapshot();
        let o = env.run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert_eq!(
            crate::support::changed(&before, &env.snapshot()),
            Vec::<std::path::PathBuf>::new()
        );
    }
}

/// A waiting claim on a big plan: its memory stays flat, and while nothing changes it writes
/// nothing (it only reads, and claims once a task is ready).
#[test]
fn a_waiting_claim_keeps_its_memory_flat_and_writes_nothing_while_nothing_changes() {
    let mut tasks = vec![r#""gate": {"status": "pending"}"#.to_string()];
    tasks.extend(
        (0..10_000).map(|i| format!(r#""t{i}": {{"title": "Task {i}", "blockedBy": ["gate"]}}"#)),
    );
    let env = Env::with_plan(&format!("{{\"tasks\": {{{}}}}}", tasks.join(",\n")));
    let o = env.run(&["task", "claim", "gate", "--agent", "x"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (mut waiter, err) = start_waiting(&env, "y");
    let said = || std::fs::read_to_string(&err).unwrap_or_default();
    let files = [
        env.plan_path(),
        env.registry_path(),
        env.repo.join(".claude-agents/events.jsonl"),
    ];
    let state = || {
        files
            .iter()
            .map(|f| {
                let m = std::fs::metadata(f).unwrap();
                (std::fs::read(f).unwrap(), m.modified().unwrap())
            })
            .collect::<Vec<_>>()
    };
    let rss = || {
        let status = std::fs::read_to_string(format!("/proc/{}/status", waiter.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    let before = state();
    let first = rss();
    let mut peak = first;
    // A window of several polls (one a second): memory sampled, files compared after.
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(5) {
        peak = peak.max(rss());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        waiter.try_wait().unwrap().is_none(),
        "still waiting: {}",
        said()
    );
    assert!(
        state() == before,
        "a wait in which nothing changed rewrote the plan, registry or event log"
    );
    assert!(
        peak < first + 16 * 1024,
        "memory grew while waiting: {first} kB, then up to {peak} kB"
    );
    // It still claims once the gate is done.
    assert!(env
        .run(&["task", "done", "gate", "--agent", "x"])
        .status
        .success());
    let o = waiter.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", said());
    assert!(stdout(&o).trim().starts_with('t'), "{}", stdout(&o));
}
