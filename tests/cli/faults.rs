//! Fault injection with real processes: claimers, headless supervisors and their agents are
//! killed with SIGKILL at random moments, 200 times. After every round, the next command must
//! find both files valid, no claim held by a dead agent, no task claimed twice, and no
//! finished task unfinished.

use crate::support::{alive, stderr, Env};
use std::collections::BTreeSet;
use std::process::{Child, Stdio};
use std::time::Duration;

/// A tiny deterministic generator (xorshift), seeded per run and printed on failure.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Works a few milliseconds; half the time marks its task done itself, sometimes fails.
const AGENT: &str = r#"#!/bin/sh
echo $$ >> "$PIDS"
sleep 0.0$(( $$ % 5 ))
case $(( $$ % 4 )) in
  0) swarm task done "$SWARM_TASK" ;;
  1) exit 1 ;;
esac
exit 0
"#;

fn plan(n: usize) -> String {
    let tasks: Vec<String> = (0..n)
        .map(|i| {
            let blockers = if i >= 10 { format!("[\"f{:02}\"]", i - 10) } else { "[]".into() };
            format!("\"f{i:02}\": {{\"title\": \"F{i}\", \"status\": \"pending\", \"blockedBy\": {blockers}}}")
        })
        .collect();
    format!("{{\"tasks\": {{{}}}}}", tasks.join(",\n"))
}

fn check(env: &Env, finished: &mut BTreeSet<String>, round: usize, seed: u64) {
    let o = env.run(&["list", "--json"]);
    assert!(
        o.status.success(),
        "round {round} (seed {seed}): {}",
        stderr(&o)
    );
    let plan = env.plan();
    let reg = env.registry();
    let claims = reg["claimedTasks"].as_object().unwrap();
    let agents = reg["agents"].as_object().unwrap();
    for (task, claim) in claims {
        let agent = claim["agent"].as_str().unwrap();
        let entry = &agents[agent];
        if let Some(pid) = entry["pid"].as_u64() {
            assert!(
                alive(pid),
                "round {round} (seed {seed}): {task} held by dead {agent}"
            );
        }
        let t = &plan["tasks"][task];
        assert_eq!(
            t["status"], "in-progress",
            "round {round} (seed {seed}): {task}"
        );
        assert_eq!(t["agent"], agent, "round {round} (seed {seed}): {task}");
    }
    for (id, t) in plan["tasks"].as_object().unwrap() {
        let status = t["status"].as_str().unwrap();
        if status == "in-progress" {
            assert!(
                claims.contains_key(id),
                "round {round} (seed {seed}): {id} in progress unclaimed"
            );
        }
        if finished.contains(id) {
            assert!(
                status == "completed" || status == "reviewed",
                "round {round} (seed {seed}): {id} went back to {status}"
            );
        }
        if status == "completed" || status == "reviewed" {
            finished.insert(id.clone());
        }
    }
}

fn kill_all(children: &mut Vec<Child>) {
    for c in children.iter_mut() {
        let _ = c.kill();
        let _ = c.wait();
    }
    children.clear();
}

#[test]
fn two_hundred_rounds_of_sigkill_leave_consistent_files() {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut rng = Rng(seed);
    let env = Env::with_plan(&plan(30));
    assert!(env.run(&["setup"]).status.success());
    let root = env.repo.parent().unwrap().to_path_buf();
    let script = root.join("agent.sh");
    std::fs::write(&script, AGENT).unwrap();
    let pids = root.join("agent-pids");
    let agent_cmd = format!("sh {}", script.display());
    let mut finished = BTreeSet::new();
    for round in 0..200 {
        if finished.len() == 30 {
            // Start over on a fresh plan (the registry is kept: dead agents pile up as they would).
            env.write_plan(&plan(30));
            finished.clear();
        }
        let mut children = Vec::new();
        for _ in 0..1 + rng.below(4) {
            let mut cmd = env.process();
            cmd.stdout(Stdio::null())
                .stderr(Stdio::null())
                .env("PIDS", &pids);
            match rng.below(3) {
                0 => cmd.args([
                    "task",
                    "claim",
                    "--next",
                    "--agent",
                    &format!("c{}", rng.below(5)),
                ]),
                1 => cmd.args([
                    "task",
                    "done",
                    &format!("f{:02}", rng.below(30)),
                    "--agent",
                    &format!("c{}", rng.below(5)),
                ]),
                _ => cmd.args(["launch", "--headless", "--agent-cmd", &agent_cmd]),
            };
            children.push(cmd.spawn().unwrap());
        }
        std::thread::sleep(Duration::from_millis(rng.below(60)));
        // Kill some (or all) of them, and some agents, at this random moment.
        for c in children.iter_mut() {
            if rng.below(2) == 0 {
                let _ = c.kill();
            }
        }
        if let Ok(text) = std::fs::read_to_string(&pids) {
            for pid in text.lines().filter(|_| rng.below(3) == 0) {
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", pid])
                    .status();
            }
        }
        std::thread::sleep(Duration::from_millis(rng.below(30)));
        kill_all(&mut children);
        // Agents orphaned by a killed supervisor are killed too (as their terminal would be).
        if let Ok(text) = std::fs::read_to_string(&pids) {
            for pid in text.lines() {
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", pid])
                    .status();
            }
            let _ = std::fs::remove_file(&pids);
        }
        check(&env, &mut finished, round, seed);
    }
}

/// Every write is durable before the lock is released (DESIGN invariant 2): the renamed
/// files' directories are synced while the lock is still held, so no other process can read
/// and report a state that a crash would then undo. Checked in the system calls themselves.
#[test]
fn directories_are_synced_before_the_lock_is_released() {
    let env = Env::with_plan(crate::support::CHAIN);
    assert!(env.run(&["setup", "-q"]).status.success());
    let trace_path = env.repo.parent().unwrap().join("trace");
    let o = env
        .strace(&[
            "-f",
            "-y",
            "-e",
            "trace=flock,fsync,close,/^rename",
            "-o",
            trace_path.to_str().unwrap(),
        ])
        .args(["task", "claim", "--next", "--agent", "x"])
        .output()
        .expect("strace is needed for this test (.ci/run installs it)");
    assert!(o.status.success(), "{}", stderr(&o));
    let trace = std::fs::read_to_string(&trace_path).unwrap();
    let lines: Vec<&str> = trace.lines().collect();
    let at = |what: &dyn Fn(&str) -> bool| lines.iter().rposition(|l| what(l));
    let unlocked = at(&|l| l.contains("close(") && l.contains("task-registry.lock>"))
        .expect("the lock file is closed");
    let coord = env.repo.join(".claude-agents");
    let plan_dir = env.tasks.join("proj");
    for dir in [&coord, &plan_dir] {
        let synced = at(&|l| l.contains("fsync(") && l.contains(&format!("<{}>", dir.display())))
            .unwrap_or_else(|| panic!("{} is never synced:\n{trace}", dir.display()));
        let renamed = at(&|l| l.contains("rename") && l.contains(&dir.display().to_string()))
            .unwrap_or_else(|| panic!("nothing renamed in {}:\n{trace}", dir.display()));
        assert!(
            renamed < synced && synced < unlocked,
            "{} synced after the lock was released:\n{trace}",
            dir.display()
        );
    }
}

/// `recover` killed at each of its writes (SIGKILL injected at the first and the second
/// rename): the next command reaches the same outcome as a recovery that was not interrupted —
/// the dead agent's attempt counted once, its failure and branch recorded, its claim gone.
#[test]
fn a_recovery_killed_at_any_write_ends_as_an_uninterrupted_one() {
    let plan =
        r#"{"tasks": {"a": {"status": "in-progress", "agent": "x", "claimed": true}, "b": {}}}"#;
    let registry = r#"{"version": "1.0", "agents": {"x": {"heartbeat": "2020-01-01T00:00:00Z", "branch": "work/x"}},
      "claimedTasks": {"a": {"agent": "x", "claimedAt": "2020-01-01T00:00:00Z"}}}"#;
    let fixture = || {
        let env = Env::with_plan(plan);
        assert!(env.run(&["setup", "-q"]).status.success());
        std::fs::write(env.registry_path(), registry).unwrap();
        env
    };
    let outcome = |env: &Env| {
        let plan = env.plan();
        let a = &plan["tasks"]["a"];
        let reg = env.registry();
        (
            a["status"].clone(),
            a["attempts"].clone(),
            a["previousBranch"].clone(),
            a["lastFailedAgent"].clone(),
            a["lastFailure"]
                .as_str()
                .is_some_and(|w| w.contains("agent x is dead")),
            reg["claimedTasks"].as_object().unwrap().len(),
            reg["agents"]["x"]["state"].clone(),
        )
    };
    let clean = fixture();
    assert!(clean.run(&["recover", "-q"]).status.success());
    let expected = outcome(&clean);
    assert_eq!(expected.1, 1, "{expected:?}");
    // The registry is renamed into place, the plan exchanged (renameat2): each is killed.
    for syscall in ["rename", "renameat2"] {
        let when = 1;
        let env = fixture();
        let killed = env
            .strace(&[
                "-f",
                "-o",
                "/dev/null",
                "-e",
                &format!("inject={syscall}:signal=SIGKILL:when={when}"),
            ])
            .args(["recover", "-q"])
            .output()
            .expect("strace is needed for this test (.ci/run installs it)");
        assert!(!killed.status.success(), "{syscall} {when} was not reached");
        let o = env.run(&["recover", "-q"]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(outcome(&env), expected, "killed at {syscall} {when}");
    }
}

/// `complete --merge` killed at each of its renames (the ref update, the plan and registry
/// writes): running it again ends as an uninterrupted run — the work on main, the task
/// reviewed, the worktree gone, no stale ref lock, a clean main worktree.
#[test]
fn a_complete_merge_killed_at_any_write_finishes_when_run_again() {
    let fixture = || {
        let env = Env::with_plan(&crate::support::flat_plan(1));
        let o = env.run(&["launch", "--no-exec", "--json", "--agent-cmd", "true"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let agent = v["agent"].as_str().unwrap().to_string();
        let wt = std::path::PathBuf::from(v["worktree"].as_str().unwrap());
        std::fs::write(wt.join("feature.txt"), "feature\n").unwrap();
        crate::support::git(&wt, &["add", "feature.txt"]);
        crate::support::git(&wt, &["commit", "-q", "-m", "feature"]);
        assert!(env
            .run(&["task", "done", "t0000", "--agent", &agent])
            .status
            .success());
        (env, agent, wt)
    };
    let outcome = |env: &Env, agent: &str, wt: &std::path::Path| {
        let status = crate::support::git(&env.repo, &["status", "--porcelain"]);
        (
            env.repo.join("feature.txt").is_file(),
            status
                .lines()
                .filter(|l| !l.contains(".claude-agents"))
                .count(),
            env.repo.join(".git/refs/heads/main.lock").exists(),
            env.plan()["tasks"]["t0000"]["status"].clone(),
            env.registry()["agents"][agent]["state"].clone(),
            wt.exists(),
        )
    };
    let (env, agent, wt) = fixture();
    let o = env.run(&["complete", &agent, "--merge"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let expected = outcome(&env, &agent, &wt);
    assert!(expected.0, "the clean run merged");
    let mut interrupted = 0;
    let tries = (1..=12)
        .map(|n| ("rename", n))
        .chain((1..=6).map(|n| ("renameat2", n)));
    let mut done_with = "";
    for (syscall, when) in tries {
        if syscall == done_with {
            continue;
        }
        let (env, agent, wt) = fixture();
        let killed = env
            .strace(&[
                "-f",
                "-o",
                "/dev/null",
                "-e",
                &format!("inject={syscall}:signal=SIGKILL:when={when}"),
            ])
            .args(["complete", &agent, "--merge"])
            .output()
            .expect("strace is needed for this test (.ci/run installs it)");
        if killed.status.success() {
            done_with = syscall; // fewer calls than `when`: every one has been tried
            continue;
        }
        interrupted += 1;
        let o = env.run(&["complete", &agent, "--merge"]);
        assert!(
            o.status.success(),
            "killed at {syscall} {when}, then: {}",
            stderr(&o)
        );
        assert_eq!(
            outcome(&env, &agent, &wt),
            expected,
            "killed at {syscall} {when}"
        );
    }
    assert!(
        interrupted >= 3,
        "only {interrupted} renames were interrupted"
    );
}
