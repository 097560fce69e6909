//! Real concurrent processes: many claimers at once, a lock holder killed with SIGKILL.

use crate::support::{flat_plan, hold_lock, lock_path, stderr, stdout, wait_until, Env};
use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Claims in a loop as `agent` until swarm exits 3; returns the tasks it got.
fn claim_until_empty(env: &Env, agent: &str) -> Vec<String> {
    let mut got = Vec::new();
    loop {
        let o = env.run(&["task", "claim", "--next", "--agent", agent, "-q"]);
        match o.status.code() {
            Some(0) => got.push(String::from_utf8_lossy(&o.stdout).trim().to_string()),
            Some(3) => return got,
            other => panic!("claimer {agent} exited {other:?}: {}", stderr(&o)),
        }
    }
}

#[test]
fn sixteen_concurrent_claimers_claim_every_task_exactly_once() {
    let env = Env::with_plan(&flat_plan(200));
    assert!(env.run(&["setup", "-q"]).status.success());
    let results: Vec<(String, Vec<String>)> = thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let env = &env;
                s.spawn(move || {
                    let agent = format!("agent-{i}");
                    let got = claim_until_empty(env, &agent);
                    (agent, got)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("claimer thread"))
            .collect()
    });
    let mut owner: HashMap<String, String> = HashMap::new();
    for (agent, tasks) in &results {
        for t in tasks {
            if let Some(prev) = owner.insert(t.clone(), agent.clone()) {
                panic!("task {t} claimed twice: by {prev} and {agent}");
            }
        }
    }
    assert_eq!(owner.len(), 200, "every task claimed");
    let reg = env.registry();
    let claims = reg["claimedTasks"].as_object().unwrap();
    assert_eq!(claims.len(), 200);
    let plan = env.plan();
    for (task, agent) in &owner {
        assert_eq!(claims[task]["agent"], agent.as_str());
        assert_eq!(plan["tasks"][task]["agent"], agent.as_str());
        assert_eq!(plan["tasks"][task]["status"], "in-progress");
    }
    assert!(
        results.iter().filter(|(_, t)| !t.is_empty()).count() > 1,
        "work was shared"
    );
}

#[test]
fn first_claims_made_at_once_before_setup_all_succeed() {
    // No setup: each claimer creates the coordination dir on first use. strace holds every
    // mkdir for 0.3 s, so that all of them find it missing before any has made it.
    let env = Env::with_plan(&flat_plan(16));
    let codes: Vec<(Option<i32>, String)> = thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let env = &env;
                s.spawn(move || {
                    let agent = format!("agent-{i}");
                    let o = env
                        .strace(&[
                            "-f",
                            "-o",
                            "/dev/null",
                            "-e",
                            "inject=mkdir,mkdirat:delay_enter=300000",
                        ])
                        .args(["task", "claim", "--next", "--agent", &agent, "-q"])
                        .output()
                        .unwrap();
                    (o.status.code(), stderr(&o))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (code, err) in &codes {
        assert_eq!(*code, Some(0), "{err}");
    }
    assert_eq!(env.registry()["claimedTasks"].as_object().unwrap().len(), 4);
}

/// `task claim --next` for agent x that gives up after `seconds` of waiting for the lock.
fn claim_waiting_at_most(env: &Env, seconds: &str) -> std::process::Output {
    env.run(&[
        "task",
        "claim",
        "--next",
        "--agent",
        "x",
        "--lock-timeout",
        seconds,
    ])
}

#[test]
fn lock_holder_killed_with_sigkill_does_not_block_the_next_claim() {
    let env = Env::with_plan(&flat_plan(3));
    assert!(env.run(&["setup", "-q"]).status.success());
    let mut holder = hold_lock(&env);
    // While it lives, the lock is really held: a claim with a short timeout gives up.
    let o = claim_waiting_at_most(&env, "0.5");
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("still locked"), "{err}");
    assert_eq!(
        err.matches("waiting for lock").count(),
        1,
        "said once: {err}"
    );
    // SIGKILL: no cleanup runs, yet the kernel drops the lock.
    holder.kill().unwrap();
    holder.wait().unwrap();
    let o = claim_waiting_at_most(&env, "5");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(env.registry()["claimedTasks"].as_object().unwrap().len(), 1);
}

/// Without `--lock-timeout` a claim waits as long as it takes: it says once who holds the
/// lock, blocks, and claims when the lock is free.
#[test]
fn a_claim_without_a_timeout_says_once_who_holds_the_lock_then_claims() {
    let env = Env::with_plan(&flat_plan(3));
    assert!(env.run(&["setup", "-q"]).status.success());
    let mut holder = hold_lock(&env);
    let err_path = env.repo.parent().unwrap().join("claim.err");
    let mut claimer = env
        .process()
        .args(["task", "claim", "--next", "--agent", "x"])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    wait_until(
        30,
        || {
            assert!(claimer.try_wait().unwrap().is_none(), "gave up waiting");
            std::fs::read_to_string(&err_path)
                .unwrap()
                .contains("waiting for lock")
        },
        || "no notice while the lock is held".into(),
    );
    // Blocked in the kernel's lock queue: /proc/locks lists it as a waiter ("->").
    let pid = claimer.id();
    wait_until(
        10,
        || {
            std::fs::read_to_string("/proc/locks")
                .unwrap()
                .lines()
                .any(|l| l.contains("->") && l.split_whitespace().nth(5) == Some(&pid.to_string()))
        },
        || "the claim is not blocked on the lock".into(),
    );
    assert!(env.registry()["claimedTasks"]
        .as_object()
        .unwrap()
        .is_empty());
    holder.kill().unwrap();
    holder.wait().unwrap();
    let out = claimer.wait_with_output().unwrap();
    let err = std::fs::read_to_string(&err_path).unwrap();
    assert!(out.status.success(), "{err}");
    assert_eq!(
        err.matches("waiting for lock").count(),
        1,
        "said once: {err}"
    );
    assert!(err.contains("held by pid"), "names the holder: {err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "t0000");
    assert_eq!(env.registry()["claimedTasks"].as_object().unwrap().len(), 1);
}

#[test]
fn claimers_killed_mid_operation_leave_valid_consistent_files() {
    let env = Env::with_plan(&flat_plan(60));
    assert!(env.run(&["setup", "-q"]).status.success());
    for round in 0..6u64 {
        let mut children: Vec<_> = (0..6)
            .map(|i| {
                env.process()
                    .args([
                        "task",
                        "claim",
                        "--next",
                        "-q",
                        "--agent",
                        &format!("r{round}-{i}"),
                    ])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        thread::sleep(Duration::from_millis(2 + round * 3));
        for c in &mut children {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Whatever instant they died at, both files parse and agree after the next command.
        let o = env.run(&["list", "--json", "-q"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let plan = env.plan();
        let reg = env.registry();
        let claims = reg["claimedTasks"].as_object().unwrap();
        for (id, t) in plan["tasks"].as_object().unwrap() {
            let claimed = claims.contains_key(id);
            assert_eq!(
                claimed,
                t["status"] == "in-progress",
                "task {id}: {t} vs claim {claimed}"
            );
        }
    }
}

#[test]
fn a_swarm_process_killed_while_holding_the_lock_does_not_block_the_next_claim() {
    // A plan big enough that a debug-build `list` holds the lock for a while.
    let env = Env::with_plan(&flat_plan(20_000));
    assert!(env.run(&["setup", "-q"]).status.success());
    for attempt in 0..20 {
        let mut holder = env
            .process()
            .args(["list", "--json", "-q"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut held = false;
        while Instant::now() < deadline && !held {
            let probe = Command::new("flock")
                .arg("-n")
                .arg(lock_path(&env))
                .arg("true")
                .status()
                .unwrap();
            held = !probe.success();
        }
        holder.kill().unwrap();
        holder.wait().unwrap();
        if !held {
            assert!(
                attempt < 19,
                "never caught the swarm process holding the lock"
            );
            continue;
        }
        let o = claim_waiting_at_most(&env, "5");
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(env.registry()["claimedTasks"]["t0000"]["agent"] == "x");
        return;
    }
}

/// The lock file deleted while a claim holds it: the next claimer locks a new file, and the
/// first claim, finding its lock gone before it writes, writes nothing and claims again on the
/// new lock. No task is held by two agents.
#[test]
fn a_lock_file_deleted_under_a_claim_never_gives_a_task_twice() {
    let env = Env::with_plan(&flat_plan(3));
    assert!(env.run(&["setup", "-q"]).status.success());
    // Claimer a stops for two seconds at its first fdatasync: it has read the files and
    // staged its claim, and holds the lock.
    let coord = env.repo.join(".claude-agents");
    let a = env
        .strace(&[
            "-f",
            "-o",
            "/dev/null",
            "-e",
            "inject=fdatasync:delay_enter=2000000:when=1",
        ])
        .args(["task", "claim", "--next", "--agent", "a"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("strace is needed for this test (.ci/run installs it)");
    let staged = || {
        std::fs::read_dir(&coord)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().contains("swarm-tmp"))
    };
    wait_until(30, staged, || "claimer a never staged its claim".into());
    std::fs::remove_file(lock_path(&env)).unwrap();
    let b = env.run(&["task", "claim", "--next", "--agent", "b"]);
    assert!(b.status.success(), "{}", stderr(&b));
    let a = a.wait_with_output().unwrap();
    assert!(a.status.success(), "{}", stderr(&a));
    let (a_task, b_task) = (stdout(&a), stdout(&b));
    assert_ne!(a_task.trim(), b_task.trim(), "both got the same task");
    let reg = env.registry();
    let claims = reg["claimedTasks"].as_object().unwrap();
    assert_eq!(claims[a_task.trim()]["agent"], "a", "{reg}");
    assert_eq!(claims[b_task.trim()]["agent"], "b", "{reg}");
}
